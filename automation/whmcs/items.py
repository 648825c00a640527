"""Import steps for what clients hold: orders, services (and their configurable options),
service addons, domains and cancellation requests."""

from hostdesk.automation.whmcs import values as v
from hostdesk.automation.whmcs.catalog import ADDON_NAMES
from hostdesk.automation.whmcs.context import (
    UNPAID_HOSTING_ITEMS,
    Context,
    in_scope,
    read,
    stream_rows,
    write_rows,
)
from hostdesk.automation.whmcs.values import Unmappable
from hostdesk.models.cycles import add_months_anchored
from hostdesk.models.schema import (
    CancellationRequest,
    Domain,
    ItemType,
    Order,
    Service,
    ServiceAddon,
    ServiceConfigOption,
)



def orders(ctx: Context) -> None:
    rows = in_scope(ctx, "tblorders", read(ctx, "tblorders"), "userid")
    ctx.report.table("tblorders").read = len(rows) + len(ctx.report.table("tblorders").skipped)
    clients, seen = ctx.ids("tblclients"), set()

    def mapped():  # rows mapped batch by batch, as the writer takes them
        for row in rows:
            number = str(row.ordernum)[:10]
            if number in seen:
                ctx.report.skip("tblorders", row.id, f"duplicate order number {number}")
                continue
            seen.add(number)
            yield (str(row.id), (
                number, clients[str(row.userid)], v.order_status(row.status),
                v.payment_method(row.paymentmethod), row.promocode[:50],
                v.read_cents(row.amount), row.notes, v.moment(row.date) or ctx.now, 1))

    stream_rows(ctx, "tblorders", Order,
                ("number", "client", "status", "payment_method", "promo_code", "amount", "notes",
                 "created_at", "version"), mapped(), len(rows))


def _registered(row, *columns):
    for column in columns:
        day = v.date(getattr(row, column))
        if day is not None:
            return day
    return None


SERVICE_COLUMNS = (
    "client", "order", "product", "server", "domain", "dedicated_ip", "username", "password",
    "status", "registration_date", "quantity", "first_payment_amount", "recurring_amount",
    "billing_cycle", "next_due_date", "anchor_day", "payment_method", "promotion",
    "promotion_uses", "subscription_id", "override_suspend", "override_suspend_until",
    "auto_terminate_end_of_cycle", "auto_terminate_reason", "suspension_reason",
    "termination_date", "admin_notes", "created_at", "updated_at", "version")


def services(ctx: Context) -> None:
    rows = in_scope(ctx, "tblhosting", read(ctx, "tblhosting"), "userid")
    counts = ctx.report.table("tblhosting")
    counts.read = len(rows) + len(counts.skipped)
    clients, products = ctx.ids("tblclients"), ctx.ids("tblproducts")
    servers_, orders_ = ctx.ids("tblservers"), ctx.ids("tblorders")
    promos = ctx.ids("tblpromotions")
    unpaid_first = _unpaid_hosting_items(ctx)

    def mapped():  # rows mapped batch by batch, as the writer takes them
        date, moment, iso = v.date, v.moment, v.iso
        billable, first_periods = ctx.items, ctx.first_periods
        for row in rows:
            try:
                product = products.get(str(row.packageid))
                if product is None:
                    raise Unmappable(f"product #{row.packageid} does not exist")
                status = v.service_status(row.domainstatus)
                _, months, cycle_value = v.cycle_terms(row.billingcycle)
                amount = v.read_cents(row.amount)
                first = v.read_cents(row.firstpaymentamount)
                if amount < 0 or first < 0:
                    raise Unmappable(f"negative amount {min(amount, first) / 100:.2f}")
                next_due = date(row.nextduedate) if months is not None else None
                registered = date(row.regdate) or date(row.created_at) or next_due
                if registered is None:
                    raise Unmappable("no registration date")
            except Unmappable as exc:
                ctx.report.skip("tblhosting", row.id, str(exc))
                continue
            anchor = v.anchor_day(next_due, registered)
            if status == "pending" and next_due is not None \
                    and (row.id, next_due.isoformat()) in unpaid_first:
                # An order WHMCS has not been paid for yet: as hostdesk's own orders, the order
                # invoice's line is the first payment (provisions on payment) and the next due
                # date is the end of the first period.
                first_end = add_months_anchored(next_due, months, anchor)
                first_periods[row.id] = (next_due.isoformat(), first_end.isoformat())
                next_due = first_end
            if months is not None:
                billable[(ItemType.SERVICE, row.id)] = (months, anchor, next_due)
            ctx.service_products[row.id] = row.packageid
            override = v.flag(row.overideautosuspend)
            registered = registered.isoformat()
            created = moment(row.created_at) or f"{registered} 00:00:00.000000"
            yield (str(row.id), (
                clients[str(row.userid)], orders_.get(str(row.orderid)), product,
                servers_.get(str(row.server)), row.domain[:253],
                row.dedicatedip[:45], row.username[:100], "", status,
                registered, row.qty if row.qty > 1 else 1, first, amount, cycle_value,
                next_due.isoformat() if next_due else None, anchor,
                v.payment_method(row.paymentmethod), promos.get(str(row.promoid)),
                row.promocount, row.subscriptionid[:100], override,
                iso(row.overidesuspenduntil) if override else None, False, "",
                row.suspendreason[:500], iso(row.termination_date),
                row.notes, created, moment(row.updated_at) or created, 1))

    stream_rows(ctx, "tblhosting", Service, SERVICE_COLUMNS, mapped(), len(rows))
    if any(row.has_password for row in rows):
        ctx.report.note("service passwords are not imported (WHMCS encrypts them with its own "
                        "key): set them again from the server (module 'change password') when "
                        "a client or a module needs them")


def _unpaid_hosting_items(ctx: Context) -> set:
    """(service id, due date) of the Hosting items on unpaid WHMCS invoices (read by the
    server, early: the services need not wait for the invoices to be read)."""
    return {(row["relid"], row["duedate"]) for row in ctx.source.rows(UNPAID_HOSTING_ITEMS)}


def service_config_options(ctx: Context) -> None:
    rows = read(ctx, "tblhostingconfigoptions")
    counts = ctx.report.table("tblhostingconfigoptions")
    services_ = ctx.ids("tblhosting")
    options = ctx.ids("tblproductconfigoptions")
    choices = ctx.ids("tblproductconfigoptionssub")
    seen = set()

    def mapped():  # rows mapped batch by batch, as the writer takes them
        for row in rows:
            service = services_.get(str(row.relid))
            pid = ctx.service_products.get(row.relid)
            if service is None or pid is None:
                continue  # the service is another currency's or skipped (named under tblhosting)
            counts.read += 1
            option = options.get(f"{pid}:{row.configid}")
            if option is None or (service, option) in seen:
                ctx.report.skip("tblhostingconfigoptions", row.id,
                                f"option #{row.configid} is not linked to product #{pid}")
                continue
            seen.add((service, option))
            yield (str(row.id), (service, option, choices.get(f"{pid}:{row.optionid}"),
                                         int(row.qty or 0)))

    stream_rows(ctx, "tblhostingconfigoptions", ServiceConfigOption,
                ("service", "option", "choice", "quantity"), mapped(), len(rows))


def service_addons(ctx: Context) -> None:
    rows = read(ctx, "tblhostingaddons")
    counts = ctx.report.table("tblhostingaddons")
    services_, catalog = ctx.ids("tblhosting"), ctx.ids("tbladdons")
    names = {row["id"]: v.text(row["name"]) for row in ctx.source.table(*ADDON_NAMES)}
    skipped_services = {s["id"] for s in ctx.report.table("tblhosting").skipped}
    all_services = {row.id for row in read(ctx, "tblhosting")}  # any currency

    def mapped():  # rows mapped batch by batch, as the writer takes them
        for row in rows:
            service = services_.get(str(row.hostingid))
            if row.hostingid in all_services and row.hostingid not in skipped_services \
                    and row.hostingid not in ctx.service_products:
                continue  # another currency's service: left out with it
            counts.read += 1
            try:
                if row.hostingid not in all_services:
                    raise Unmappable(f"orphan: service #{row.hostingid} does not exist")
                if service is None:
                    raise Unmappable(f"orphan: service #{row.hostingid} was skipped")
                status = v.service_status(row.status)
                cycle = v.cycle(row.billingcycle)
                recurring, setup = v.read_cents(row.recurring), v.read_cents(row.setupfee)
                if recurring < 0 or setup < 0:
                    raise Unmappable(f"negative amount {min(recurring, setup) / 100:.2f}")
                next_due = v.date(row.nextduedate) if cycle.is_recurring else None
                registered = _registered(row, "regdate", "created_at") or next_due
                if registered is None:
                    raise Unmappable("no registration date")
            except Unmappable as exc:
                ctx.report.skip("tblhostingaddons", row.id, str(exc))
                continue
            anchor = v.anchor_day(next_due, registered)
            if cycle.is_recurring:
                ctx.items[(ItemType.ADDON, row.id)] = (cycle.months, anchor, next_due)
            name = row.name[:200] or names.get(row.addonid, "") or f"Addon {row.id}"
            yield (str(row.id), (
                service, catalog.get(str(row.addonid)), name[:200], setup, recurring,
                cycle.value, status, registered.isoformat(),
                next_due.isoformat() if next_due else None, anchor,
                v.iso(row.termination_date), row.notes, 1))

    stream_rows(ctx, "tblhostingaddons", ServiceAddon,
                ("service", "catalog_addon", "name", "setup_fee", "recurring_amount",
                 "billing_cycle", "status", "registration_date", "next_due_date", "anchor_day",
                 "termination_date", "notes", "version"), mapped(), len(rows))


def domains(ctx: Context) -> None:
    rows = in_scope(ctx, "tbldomains", read(ctx, "tbldomains"), "userid")
    counts = ctx.report.table("tbldomains")
    counts.read = len(rows) + len(counts.skipped)
    clients, orders_ = ctx.ids("tblclients"), ctx.ids("tblorders")
    promos = ctx.ids("tblpromotions")

    def mapped():  # rows mapped batch by batch, as the writer takes them
        for row in rows:
            try:
                status = v.domain_status(row.status)
                recurring = v.read_cents(row.recurringamount)
                first = v.read_cents(row.firstpaymentamount)
                if recurring < 0:
                    raise Unmappable(f"negative amount {recurring / 100:.2f}")
                if not row.domain:
                    raise Unmappable("domain without a name")
                next_due = v.date(row.nextduedate)
                registered = _registered(row, "registrationdate", "created_at") or next_due
                if registered is None:
                    raise Unmappable("no registration date")
            except Unmappable as exc:
                ctx.report.skip("tbldomains", row.id, str(exc))
                continue
            years = max(1, int(row.registrationperiod or 1))
            anchor = v.anchor_day(next_due, registered)
            ctx.items[(ItemType.DOMAIN, row.id)] = (12 * years, anchor, next_due)
            yield (str(row.id), (
                clients[str(row.userid)], orders_.get(str(row.orderid)),
                row.domain[:253].lower(),
                "transfer" if v._squash(row.type) == "transfer" else "register", status,
                registered.isoformat(), years, first, recurring,
                next_due.isoformat() if next_due else None, anchor, v.iso(row.expirydate),
                v.payment_method(row.paymentmethod), not v.flag(row.donotrenew), "",
                v.flag(row.dnsmanagement), v.flag(row.emailforwarding),
                v.flag(row.idprotection), promos.get(str(row.promoid)),
                row.additionalnotes, 1))

    stream_rows(ctx, "tbldomains", Domain,
                ("client", "order", "name", "kind", "status", "registration_date", "years",
                 "first_payment_amount", "recurring_amount", "next_due_date", "anchor_day",
                 "expiry_date", "payment_method", "auto_renew", "epp_code", "dns_management",
                 "email_forwarding", "id_protection", "promotion", "notes", "version"),
                mapped(), len(rows))


def cancellation_requests(ctx: Context) -> None:
    rows = ctx.source.table("tblcancelrequests")
    counts = ctx.report.table("tblcancelrequests")
    services_ = ctx.ids("tblhosting")
    statuses = {row.id: v._squash(row.domainstatus) for row in read(ctx, "tblhosting")}
    latest = {}
    for row in rows:  # one open request per service: the latest
        latest[row["relid"]] = row["id"]
    out = []
    for row in rows:
        if row["relid"] not in ctx.service_products and row["relid"] in statuses:
            continue  # another currency's service, or one skipped (named under tblhosting)
        counts.read += 1
        service = services_.get(str(row["relid"]))
        if service is None:
            ctx.report.skip("tblcancelrequests", row["id"],
                            f"orphan: service #{row['relid']} does not exist")
            continue
        still_running = statuses.get(row["relid"]) in ("active", "suspended", "pending")
        if not still_running:
            status = "completed"
        elif latest[row["relid"]] == row["id"]:
            status = "open"
        else:
            status = "deleted"
        kind = "immediate" if v._squash(row["type"]) == "immediate" else "end_of_period"
        when = v.moment(row["date"])
        out.append((str(row["id"]), (service, kind, v.text(row["reason"]), status, False, "[]",
                                     "whmcs", when or ctx.now,
                                     None if status == "open" else when)))
    write_rows(ctx, "tblcancelrequests", CancellationRequest,
           ("service", "type", "reason", "status", "disable_domain_auto_renew",
            "cancelled_line_ids", "requested_by", "created_at", "completed_at"), out)
    if any(r[1][3] == "open" for r in out):
        ctx.report.note("open cancellation requests were imported: with process_cancellations "
                        "on, the next daily run terminates immediate ones and end-of-period ones "
                        "whose due date has come")
