"""The import steps, in dependency order. Each reads one WHMCS table (or a few that make one
hostdesk table), maps each row or names why it is skipped, and writes in batched
transactions through `writer.sync`."""

from collections import defaultdict, namedtuple
from dataclasses import dataclass, field

from automation.whmcs import values as v
from automation.whmcs.source import Source
from automation.whmcs.values import Unmappable
from automation.whmcs.writer import BATCH, IdMap, sync
from models.cycles import Cycle, add_months_anchored
from models.db import database, ids_in
from models.schema import (
    CancellationRequest,
    CatalogAddon,
    CatalogAddonPrice,
    CatalogAddonProduct,
    Client,
    ClientGroup,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionPrice,
    CreditEntry,
    Domain,
    Invoice,
    InvoiceLine,
    ItemType,
    LineKind,
    Order,
    Payment,
    Product,
    ProductPrice,
    Promotion,
    PromotionProduct,
    Server,
    Service,
    ServiceAddon,
    ServiceConfigOption,
    Tld,
)


class ReconciliationError(Exception):
    """A batch does not add up to its source: it is rolled back and the import stops."""


@dataclass
class Context:
    source: Source
    report: object
    idmap: IdMap
    currency_id: int
    client_ids: set
    progress: object = None
    now: str = ""
    # what the reconciliation must leave out of the source's figures: figure -> cents
    excluded: dict = field(default_factory=lambda: defaultdict(int))
    # billable items as read: (item type, whmcs id) -> (cycle months, anchor day, next due)
    items: dict = field(default_factory=dict)
    service_products: dict = field(default_factory=dict)  # whmcs service id -> whmcs product id
    net_paid: dict = field(default_factory=dict)  # whmcs invoice id -> cents received - refunded
    accounts: list = field(default_factory=list)
    other_clients: set = field(default_factory=set)  # clients of other currencies: left out
    all_services: set = field(default_factory=set)  # every tblhosting id, any currency
    skipped_invoices: set = field(default_factory=set)
    skipped_clients: set = field(default_factory=set)  # of the chosen currency, not imported
    invoice_dates: dict = field(default_factory=dict)  # whmcs invoice id -> ISO date
    duplicate_accounts: set = field(default_factory=set)  # tblaccounts ids recorded twice
    read_cache: dict = field(default_factory=dict)
    # pending services whose unpaid order invoice bills their first period: service id ->
    # (first period start, end) as ISO dates
    first_periods: dict = field(default_factory=dict)

    def show(self, task: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(task, done, total)


# The large tables, read through `Source.select` (name -> source, columns, where, order);
# `prefetch` reads them all in the background while the first steps write.
READS = {
    "tblclients": ("tblclients", "id:i firstname lastname companyname email phonenumber "
                   "address1 address2 state city postcode country status credit groupid:i "
                   "separateinvoices defaultgateway notes cardlastfour created_at datecreated",
                   "WHERE currency = %s", "id"),
    "tblorders": ("tblorders", "id:i ordernum userid:i status paymentmethod promocode amount "
                  "notes date", "", "id"),
    "tblhosting": ("tblhosting", "id:i userid:i orderid:i packageid:i server:i regdate "
                   "created_at updated_at domain dedicatedip username "
                   "has_password=(password<>''):i domainstatus qty:i firstpaymentamount amount "
                   "billingcycle nextduedate paymentmethod promoid:i promocount:i subscriptionid "
                   "overideautosuspend overidesuspenduntil suspendreason termination_date notes",
                   "", "id"),
    "tblhostingconfigoptions": ("tblhostingconfigoptions", "id:i relid:i configid:i optionid:i "
                                "qty:i", "", "id"),
    "tblhostingaddons": ("tblhostingaddons", "id:i hostingid:i addonid:i name setupfee recurring "
                         "billingcycle status regdate created_at nextduedate termination_date "
                         "notes", "", "id"),
    "tbldomains": ("tbldomains", "id:i userid:i orderid:i type registrationdate created_at domain "
                   "firstpaymentamount recurringamount registrationperiod:i expirydate status "
                   "nextduedate paymentmethod dnsmanagement emailforwarding idprotection "
                   "donotrenew promoid:i additionalnotes", "", "id"),
    "tblhosting.status": ("tblhosting", "id:i domainstatus", "", "id"),
    "tblaccounts": ("tblaccounts a JOIN tblinvoices i ON i.id = a.invoiceid "
                    "JOIN tblclients c ON c.id = i.userid",
                    "a.id:i a.invoiceid:i a.amountin a.amountout a.fees a.gateway a.transid a.date",
                    "WHERE c.currency = %s", "a.id"),
    "tblinvoices": ("tblinvoices", "id:i userid:i invoicenum date duedate datepaid total tax tax2 "
                    "credit taxrate taxrate2 status paymentmethod notes created_at", "", "id"),
    "tblinvoiceitems": ("tblinvoiceitems it JOIN tblinvoices i ON i.id = it.invoiceid "
                        "JOIN tblclients c ON c.id = i.userid",
                        "it.id:i it.invoiceid:i it.type it.relid:i it.description it.amount "
                        "it.duedate", "WHERE c.currency = %s", "it.id"),
    "tblcredit": ("tblcredit", "id:i clientid:i amount description relid:i date", "", "id"),
}


def _read_call(ctx: Context, name: str) -> tuple:
    source, columns, where, order = READS[name]
    return source, columns, where, (ctx.currency_id,) if "%s" in where else None, order


def read(ctx: Context, name: str) -> list[dict]:
    """The rows of a large table (read once per import: two steps may ask)."""
    if name not in ctx.read_cache:
        ctx.read_cache[name] = ctx.source.select(*_read_call(ctx, name))
    return ctx.read_cache[name]


def prefetch(ctx: Context) -> None:
    """Read the large tables on a second thread while the steps write (the database driver
    waits on the network and SQLite writes without holding Python's lock)."""
    ctx.source.prefetch([_read_call(ctx, name) for name in READS])


def _write(ctx: Context, table: str, model, columns, rows, **options) -> dict:
    """sync() in transactions of BATCH rows; returns source id -> hostdesk id."""
    counts = ctx.report.table(table)
    if options.get("delete_missing"):  # small catalog tables: one batch sees every row
        with database.atomic():
            return sync(ctx.idmap, counts, table, model, columns, rows, **options)
    result = {}
    for start in range(0, len(rows), BATCH):
        with database.atomic():
            result.update(sync(ctx.idmap, counts, table, model, columns, rows[start:start + BATCH],
                               **options))
        ctx.show(table, min(start + BATCH, len(rows)), len(rows))
    return result


def _in_scope(ctx: Context, table: str, rows: list[dict], column: str) -> list[dict]:
    """The rows of the chosen currency's clients; others are skipped as orphans."""
    kept = []
    for row in rows:
        owner = row[column]
        if owner in ctx.client_ids:
            kept.append(row)
        elif owner in ctx.skipped_clients:
            ctx.report.skip(table, row["id"], f"orphan: client #{owner} was skipped")
            if table == "tblinvoices":
                _exclude_invoice(ctx, row)
            elif table == "tblcredit":
                ctx.excluded["credit movements"] += v.cents(row["amount"])
        elif owner not in ctx.other_clients:
            ctx.report.skip(table, row["id"], f"orphan: client #{owner} does not exist")
    return kept


# --- clients -------------------------------------------------------------------------------


def client_groups(ctx: Context) -> None:
    rows = ctx.source.table("tblclientgroups")
    ctx.report.table("tblclientgroups").read = len(rows)
    seen, out = set(), []
    for row in rows:
        name = v.text(row["groupname"], 90) or f"Group {row['id']}"
        if name.lower() in seen:
            name = f"{name} (#{row['id']})"
        seen.add(name.lower())
        out.append((str(row["id"]), (name, v.flag(row["separateinvoices"]), 1)))
    _write(ctx, "tblclientgroups", ClientGroup, ("name", "separate_invoices", "version"), out)


def clients(ctx: Context) -> None:
    rows = read(ctx, "tblclients")
    counts = ctx.report.table("tblclients")
    counts.read = len(rows)
    groups = ctx.idmap.ids("tblclientgroups")
    out = []
    for row in rows:
        try:
            status = v.client_status(row["status"])
        except Unmappable as exc:
            ctx.report.skip("tblclients", row["id"], str(exc))
            ctx.client_ids.discard(row["id"])
            ctx.skipped_clients.add(row["id"])
            ctx.excluded["client credit"] += v.cents(row["credit"])
            continue
        credit = v.cents(row["credit"])
        if credit < 0:
            ctx.report.skip("tblclients.credit", row["id"],
                            f"negative amount: credit {credit / 100:.2f} imported as 0.00")
            ctx.excluded["client credit"] += credit
            credit = 0
        created = v.moment(row.get("created_at")) or v.moment(row["datecreated"]) or ctx.now
        address = ", ".join(p for p in (v.text(row["address1"]), v.text(row["address2"]),
                                        v.text(row["state"])) if p)
        notes = v.text(row["notes"])
        if v.text(row.get("cardlastfour")):
            notes = (notes + "\n" if notes else "") + \
                f"WHMCS stored card ending {v.text(row['cardlastfour'])}: not imported"
        out.append((str(row["id"]), (
            v.text(row["firstname"], 100), v.text(row["lastname"], 100),
            v.text(row["companyname"], 200), v.text(row["email"], 254),
            v.text(row["phonenumber"], 50), v.text(address, 300), v.text(row["city"], 100),
            v.text(row["postcode"], 20), v.text(row["country"], 2).upper(), status,
            groups.get(str(row["groupid"])), v.flag(row["separateinvoices"]), credit,
            v.payment_method(row["defaultgateway"]), notes, created, 1)))
    _write(ctx, "tblclients", Client,
           ("first_name", "last_name", "company", "email", "phone", "address", "city", "postcode",
            "country", "status", "group", "separate_invoices", "credit",
            "default_payment_method", "notes", "created_at", "version"), out)
    cards = sum(1 for row in rows if v.text(row.get("cardlastfour")))
    if cards:
        ctx.report.note(f"{cards} clients had a card stored in WHMCS: cards are not imported "
                        "(WHMCS encrypts them with its own key); ask those clients to add their "
                        "card again, or keep charging them through the gateway's own tokens")


def payment_gateways(ctx: Context) -> list[str]:
    """The gateways in use (clients, services, invoices, payments) as hostdesk payment methods."""
    used = ctx.source.rows(
        "SELECT gateway AS g FROM tblaccounts UNION SELECT paymentmethod FROM tblhosting "
        "UNION SELECT paymentmethod FROM tblinvoices UNION SELECT defaultgateway FROM tblclients "
        "UNION SELECT paymentmethod FROM tbldomains")
    configured = ctx.source.rows("SELECT DISTINCT gateway AS g FROM tblpaymentgateways")
    names = sorted({v.payment_method(row["g"]) for row in used + configured if v.text(row["g"])})
    counts = ctx.report.table("tblpaymentgateways")
    counts.read = len(names)
    counts.unchanged = len(names)
    return names


# --- catalog -------------------------------------------------------------------------------


def servers(ctx: Context) -> None:
    rows = ctx.source.table("tblservers")
    ctx.report.table("tblservers").read = len(rows)
    seen, out, rekey = set(), [], []
    for row in rows:
        name = v.text(row["name"], 90) or f"Server {row['id']}"
        if name.lower() in seen:
            name = f"{name} (#{row['id']})"
        seen.add(name.lower())
        if v.text(row["password"]) or v.text(row["accesshash"]):
            rekey.append(name)
        out.append((str(row["id"]), (
            name, v.text(row["hostname"], 253), v.text(row["ipaddress"], 45),
            v.text(row["type"], 50) or "none", "{}", int(row["maxaccounts"] or 0),
            not v.flag(row["disabled"]), 1)))
    _write(ctx, "tblservers", Server, ("name", "hostname", "ip_address", "module", "settings",
                                       "max_accounts", "active", "version"), out)
    if rekey:
        ctx.report.note("servers to re-key (WHMCS encrypts their passwords and API tokens with "
                        "its own key; enter them again on each server): " + ", ".join(rekey))
    ctx.report.servers_to_rekey = rekey


def _pricing(ctx: Context, kind: str) -> dict[int, dict]:
    rows = ctx.source.rows("SELECT * FROM tblpricing WHERE type = %s AND currency = %s ORDER BY id",
                           (kind, ctx.currency_id))
    ctx.report.table("tblpricing").read += len(rows)
    return {row["relid"]: row for row in rows}


def _cycle_prices(pricing: dict | None, paytype: str) -> list[tuple[str, int, int]]:
    """(cycle, price cents, setup fee cents) offered by one tblpricing row; -1 = not offered."""
    if pricing is None:
        return []
    paytype = v.text(paytype).lower()
    if paytype == "free":
        return [(Cycle.FREE.value, 0, 0)]
    if paytype == "onetime":
        price = v.price_cents(pricing["monthly"])
        return [] if price is None else [(Cycle.ONE_TIME.value, price,
                                          v.price_cents(pricing["msetupfee"]) or 0)]
    offered = []
    for cycle, (price_column, setup_column) in v.PRICE_COLUMNS.items():
        price = v.price_cents(pricing[price_column])
        if price is not None:
            offered.append((cycle.value, price, v.price_cents(pricing[setup_column]) or 0))
    return offered


def products(ctx: Context) -> None:
    groups = {row["id"]: v.text(row["name"], 100) for row in ctx.source.table("tblproductgroups")}
    ctx.report.table("tblproductgroups").read = len(groups)
    # kept as the products' group names
    ctx.report.table("tblproductgroups").unchanged = len(groups)
    rows = ctx.source.table("tblproducts")
    ctx.report.table("tblproducts").read = len(rows)
    out, modules = [], set()
    for row in rows:
        module = v.text(row["servertype"], 50) or "none"
        if module != "none":
            modules.add(module)
        out.append((str(row["id"]), (
            v.text(row["name"], 200) or f"Product {row['id']}", groups.get(row["gid"], ""),
            v.product_type(row["type"]), v.text(row["description"]), module, None, "{}",
            v.auto_setup(row["autosetup"]), "", "", "", max(0, int(row["autoterminatedays"] or 0)),
            int(row["allowqty"] or 0) > 0, v.flag(row["hidden"]), v.flag(row["retired"]), 1)))
    ids = _write(ctx, "tblproducts", Product,
                 ("name", "group_name", "type", "description", "module", "server",
                  "module_settings", "auto_setup", "welcome_email", "upgrade_email",
                  "termination_email", "auto_terminate_days", "allows_quantity", "hidden",
                  "retired", "version"), out)
    if modules:
        ctx.report.note("provisioning modules used by WHMCS products: " + ", ".join(sorted(modules))
                        + " — install the matching hostdesk module (or set the products' module "
                          "to none) before the first daily run")
    emails = sum(1 for row in rows if int(row["welcomeemail"] or 0))
    if emails:
        ctx.report.note(f"{emails} products had a WHMCS welcome email: choose the hostdesk "
                        "template on each product")
    pricing = _pricing(ctx, "product")
    prices = []
    for row in rows:
        offered = _cycle_prices(pricing.get(row["id"]), row["paytype"])
        if not offered:
            ctx.report.skip("tblpricing", f"product {row['id']}",
                            f"product without price: '{v.text(row['name'])}' has no price in "
                            f"{ctx.report.currency}; it is imported, but cannot be ordered")
        for cycle, price, setup in offered:
            prices.append((f"{row['id']}:{cycle}", (ids[str(row["id"])], cycle, price, setup)))
    _write(ctx, "tblpricing", ProductPrice, ("product", "cycle", "price", "setup_fee"), prices,
           delete_missing=True)


OPTION_TYPES = {1: "dropdown", 2: "dropdown", 3: "yesno", 4: "quantity"}


def config_options(ctx: Context) -> None:
    links = ctx.source.table("tblproductconfiglinks")
    options = ctx.source.table("tblproductconfigoptions")
    subs = ctx.source.table("tblproductconfigoptionssub")
    ctx.report.table("tblproductconfigoptions").read = len(options)
    ctx.report.table("tblproductconfigoptionssub").read = len(subs)
    products = ctx.idmap.ids("tblproducts")
    by_group = defaultdict(list)
    for option in options:
        by_group[option["gid"]].append(option)
    subs_of = defaultdict(list)
    for sub in subs:
        subs_of[sub["configid"]].append(sub)
    option_rows, choice_keys = [], []
    for link in links:
        product = products.get(str(link["pid"]))
        if product is None:
            continue
        for option in by_group[link["gid"]]:
            kind = OPTION_TYPES.get(int(v.text(option["optiontype"]) or 1), "dropdown")
            option_rows.append((f"{link['pid']}:{option['id']}", (
                product, v.text(option["optionname"], 100), kind, int(option["order"] or 0))))
            choice_keys.append((link["pid"], option["id"]))
    option_ids = _write(ctx, "tblproductconfigoptions", ConfigOption,
                        ("product", "name", "option_type", "sort_order"), option_rows)
    choice_rows = []
    for pid, option_id in choice_keys:
        for sub in subs_of[option_id]:
            choice_rows.append((f"{pid}:{sub['id']}", (option_ids[f"{pid}:{option_id}"],
                                                      v.text(sub["optionname"], 100),
                                                      int(sub["sortorder"] or 0))))
    choice_ids = _write(ctx, "tblproductconfigoptionssub", ConfigOptionChoice,
                        ("option", "name", "sort_order"), choice_rows)
    pricing = _pricing(ctx, "configoptions")
    price_rows = []
    for key, choice in choice_ids.items():
        sub_id = int(key.split(":")[1])
        for cycle, price, setup in _cycle_prices(pricing.get(sub_id), "recurring"):
            price_rows.append((f"{key}:{cycle}", (choice, cycle, price, setup)))
    _write(ctx, "tblpricing.configoptions", ConfigOptionPrice,
           ("choice", "cycle", "price", "setup_fee"), price_rows, delete_missing=True)


def catalog_addons(ctx: Context) -> None:
    rows = ctx.source.table("tbladdons")
    ctx.report.table("tbladdons").read = len(rows)
    out = [(str(row["id"]), (v.text(row["name"], 200) or f"Addon {row['id']}",
                             v.text(row["description"]), v.text(row["module"], 50) or "none",
                             v.auto_setup(row["autoactivate"]), "", 1)) for row in rows]
    ids = _write(ctx, "tbladdons", CatalogAddon,
                 ("name", "description", "module", "auto_setup", "welcome_email", "version"), out)
    pricing = _pricing(ctx, "addon")
    products = ctx.idmap.ids("tblproducts")
    prices, links = [], []
    for row in rows:
        paytype = {"free": "free", "freeaccount": "free", "onetime": "onetime"}.get(
            v._squash(row["billingcycle"]), "recurring")
        for cycle, price, setup in _cycle_prices(pricing.get(row["id"]), paytype):
            prices.append((f"{row['id']}:{cycle}", (ids[str(row["id"])], cycle, price, setup)))
        for pid in {p.strip() for p in v.text(row["packages"]).split(",") if p.strip().isdigit()}:
            if pid in products:
                links.append((f"{row['id']}:{pid}", (ids[str(row["id"])], products[pid])))
    _write(ctx, "tblpricing.addon", CatalogAddonPrice, ("addon", "cycle", "price", "setup_fee"),
           prices, delete_missing=True)
    _write(ctx, "tbladdons.packages", CatalogAddonProduct, ("addon", "product"), links,
           delete_missing=True)


def promotions(ctx: Context) -> None:
    rows = ctx.source.table("tblpromotions")
    ctx.report.table("tblpromotions").read = len(rows)
    out, seen, products, links = [], set(), ctx.idmap.ids("tblproducts"), []
    for row in rows:
        code = v.text(row["code"], 50)
        try:
            kind = v.promotion_type(row["type"])
            if not code:
                raise Unmappable("promotion without a code")
            if code.lower() in seen:
                raise Unmappable(f"duplicate code '{code}'")
            value = v.cents(row["value"])
            if value < 0:
                raise Unmappable(f"negative amount {value / 100:.2f}")
            cycles = []
            for name in v.text(row["cycles"]).split(","):
                if name.strip():
                    try:
                        cycles.append(v.cycle(name).value)
                    except Unmappable:
                        pass  # domain terms ("1Years") have no service cycle
        except Unmappable as exc:
            ctx.report.skip("tblpromotions", row["id"], str(exc))
            continue
        seen.add(code.lower())
        out.append((str(row["id"]), (code, kind, value, v.flag(row["recurring"]),
                                     int(row["recurfor"] or 0), ",".join(cycles),
                                     v.iso(row["startdate"]), v.iso(row["expirationdate"]),
                                     int(row["maxuses"] or 0), int(row["uses"] or 0),
                                     v.text(row["notes"]), 1)))
        for pid in {p.strip() for p in v.text(row["appliesto"]).split(",") if p.strip().isdigit()}:
            if pid in products:
                links.append((f"{row['id']}:{pid}", (row["id"], products[pid])))
    ids = _write(ctx, "tblpromotions", Promotion,
                 ("code", "type", "value", "recurring", "recur_for", "cycles", "start_date",
                  "expiry_date", "max_uses", "uses", "notes", "version"), out)
    _write(ctx, "tblpromotions.appliesto", PromotionProduct, ("promotion", "product"),
           [(key, (ids[str(promo)], product)) for key, (promo, product) in links],
           delete_missing=True)


def tlds(ctx: Context) -> None:
    rows = ctx.source.table("tbldomainpricing")
    ctx.report.table("tbldomainpricing").read = len(rows)
    register, transfer, renew = (_pricing(ctx, kind) for kind in
                                 ("domainregister", "domaintransfer", "domainrenew"))
    out, seen = [], set()
    for row in rows:
        name = v.text(row["extension"]).lstrip(".").lower()[:63]
        # msetupfee holds the 1-year price; -1 = not offered for 1 year
        prices = [v.price_cents(p[row["id"]]["msetupfee"]) if row["id"] in p else None
                  for p in (register, transfer, renew)]
        if not name or name in seen:
            ctx.report.skip("tbldomainpricing", row["id"], f"duplicate extension '.{name}'")
            continue
        if None in prices:
            ctx.report.skip("tbldomainpricing", row["id"],
                            f"product without price: .{name} has no 1-year register, transfer "
                            f"and renew price in {ctx.report.currency}")
            continue
        seen.add(name)
        out.append((str(row["id"]), (name, *prices, 1, 10, 0, 0, 0, v.flag(row["eppcode"]))))
    _write(ctx, "tbldomainpricing", Tld,
           ("name", "register_price", "transfer_price", "renew_price", "min_years", "max_years",
            "dns_management_price", "email_forwarding_price", "id_protection_price",
            "epp_required"), out)


# --- orders, services, addons, domains ---------------------------------------------------------


def orders(ctx: Context) -> None:
    rows = _in_scope(ctx, "tblorders", read(ctx, "tblorders"), "userid")
    ctx.report.table("tblorders").read = len(rows) + len(ctx.report.table("tblorders").skipped)
    clients, out, seen = ctx.idmap.ids("tblclients"), [], set()
    for row in rows:
        number = str(row["ordernum"])[:10]
        if number in seen:
            ctx.report.skip("tblorders", row["id"], f"duplicate order number {number}")
            continue
        seen.add(number)
        out.append((str(row["id"]), (
            number, clients[str(row["userid"])], v.order_status(row["status"]),
            v.payment_method(row["paymentmethod"]), v.text(row["promocode"], 50),
            v.cents(row["amount"]), v.text(row["notes"]), v.moment(row["date"]) or ctx.now, 1)))
    _write(ctx, "tblorders", Order, ("number", "client", "status", "payment_method", "promo_code",
                                     "amount", "notes", "created_at", "version"), out)


def _registered(row, *columns):
    for column in columns:
        day = v.date(row.get(column))
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
    rows = _in_scope(ctx, "tblhosting", read(ctx, "tblhosting"), "userid")
    counts = ctx.report.table("tblhosting")
    counts.read = len(rows) + len(counts.skipped)
    clients, products = ctx.idmap.ids("tblclients"), ctx.idmap.ids("tblproducts")
    servers_, orders_ = ctx.idmap.ids("tblservers"), ctx.idmap.ids("tblorders")
    promos = ctx.idmap.ids("tblpromotions")
    unpaid_first = _unpaid_hosting_items(ctx)
    out = []
    for row in rows:
        try:
            product = products.get(str(row["packageid"]))
            if product is None:
                raise Unmappable(f"product #{row['packageid']} does not exist")
            status = v.service_status(row["domainstatus"])
            cycle = v.cycle(row["billingcycle"])
            amount, first = v.cents(row["amount"]), v.cents(row["firstpaymentamount"])
            if amount < 0 or first < 0:
                raise Unmappable(f"negative amount {min(amount, first) / 100:.2f}")
            next_due = v.date(row["nextduedate"]) if cycle.is_recurring else None
            registered = _registered(row, "regdate", "created_at") or next_due
            if registered is None:
                raise Unmappable("no registration date")
        except Unmappable as exc:
            ctx.report.skip("tblhosting", row["id"], str(exc))
            continue
        anchor = v.anchor_day(next_due, registered)
        if status == "pending" and next_due is not None \
                and (row["id"], next_due.isoformat()) in unpaid_first:
            # An order WHMCS has not been paid for yet: as hostdesk's own orders, the order
            # invoice's line is the first payment (provisions on payment) and the next due
            # date is the end of the first period.
            first_end = add_months_anchored(next_due, cycle.months, anchor)
            ctx.first_periods[row["id"]] = (next_due.isoformat(), first_end.isoformat())
            next_due = first_end
        if cycle.is_recurring:
            ctx.items[(ItemType.SERVICE, row["id"])] = (cycle.months, anchor, next_due)
        ctx.service_products[row["id"]] = row["packageid"]
        override = v.flag(row["overideautosuspend"])
        created = v.moment(row.get("created_at")) or f"{registered.isoformat()} 00:00:00.000000"
        out.append((str(row["id"]), (
            clients[str(row["userid"])], orders_.get(str(row["orderid"])), product,
            servers_.get(str(row["server"])), v.text(row["domain"], 253),
            v.text(row["dedicatedip"], 45), v.text(row["username"], 100), "", status,
            registered.isoformat(), max(1, int(row["qty"] or 1)), first, amount, cycle.value,
            next_due.isoformat() if next_due else None, anchor,
            v.payment_method(row["paymentmethod"]), promos.get(str(row["promoid"])),
            int(row.get("promocount") or 0), v.text(row["subscriptionid"], 100), override,
            v.iso(row["overidesuspenduntil"]) if override else None, False, "",
            v.text(row["suspendreason"], 500), v.iso(row["termination_date"]),
            v.text(row["notes"]), created, v.moment(row.get("updated_at")) or created, 1)))
    _write(ctx, "tblhosting", Service, SERVICE_COLUMNS, out)
    if any(row["has_password"] for row in rows):
        ctx.report.note("service passwords are not imported (WHMCS encrypts them with its own "
                        "key): set them again from the server (module 'change password') when "
                        "a client or a module needs them")


def _unpaid_hosting_items(ctx: Context) -> set:
    """(service id, due date) of the Hosting items on unpaid WHMCS invoices."""
    unpaid = {row["id"] for row in read(ctx, "tblinvoices")
              if v._squash(row["status"]) in ("unpaid", "draft", "collections", "paymentpending")}
    return {(item["relid"], item["duedate"]) for item in read(ctx, "tblinvoiceitems")
            if item["invoiceid"] in unpaid and v._squash(item["type"]) == "hosting"}


def service_config_options(ctx: Context) -> None:
    rows = read(ctx, "tblhostingconfigoptions")
    counts = ctx.report.table("tblhostingconfigoptions")
    services_ = ctx.idmap.ids("tblhosting")
    options = ctx.idmap.ids("tblproductconfigoptions")
    choices = ctx.idmap.ids("tblproductconfigoptionssub")
    out, seen = [], set()
    for row in rows:
        service = services_.get(str(row["relid"]))
        pid = ctx.service_products.get(row["relid"])
        if service is None or pid is None:
            continue  # the service is another currency's or skipped (named under tblhosting)
        counts.read += 1
        option = options.get(f"{pid}:{row['configid']}")
        if option is None or (service, option) in seen:
            ctx.report.skip("tblhostingconfigoptions", row["id"],
                            f"option #{row['configid']} is not linked to product #{pid}")
            continue
        seen.add((service, option))
        out.append((str(row["id"]), (service, option, choices.get(f"{pid}:{row['optionid']}"),
                                     int(row["qty"] or 0))))
    _write(ctx, "tblhostingconfigoptions", ServiceConfigOption,
           ("service", "option", "choice", "quantity"), out)


def service_addons(ctx: Context) -> None:
    rows = read(ctx, "tblhostingaddons")
    counts = ctx.report.table("tblhostingaddons")
    services_, catalog = ctx.idmap.ids("tblhosting"), ctx.idmap.ids("tbladdons")
    names = {row["id"]: v.text(row["name"]) for row in ctx.source.table("tbladdons", "id, name")}
    skipped_services = {s["id"] for s in ctx.report.table("tblhosting").skipped}
    out = []
    for row in rows:
        service = services_.get(str(row["hostingid"]))
        if row["hostingid"] in ctx.all_services and row["hostingid"] not in skipped_services \
                and row["hostingid"] not in ctx.service_products:
            continue  # another currency's service: left out with it
        counts.read += 1
        try:
            if row["hostingid"] not in ctx.all_services:
                raise Unmappable(f"orphan: service #{row['hostingid']} does not exist")
            if service is None:
                raise Unmappable(f"orphan: service #{row['hostingid']} was skipped")
            status = v.service_status(row["status"])
            cycle = v.cycle(row["billingcycle"])
            recurring, setup = v.cents(row["recurring"]), v.cents(row["setupfee"])
            if recurring < 0 or setup < 0:
                raise Unmappable(f"negative amount {min(recurring, setup) / 100:.2f}")
            next_due = v.date(row["nextduedate"]) if cycle.is_recurring else None
            registered = _registered(row, "regdate", "created_at") or next_due
            if registered is None:
                raise Unmappable("no registration date")
        except Unmappable as exc:
            ctx.report.skip("tblhostingaddons", row["id"], str(exc))
            continue
        anchor = v.anchor_day(next_due, registered)
        if cycle.is_recurring:
            ctx.items[(ItemType.ADDON, row["id"])] = (cycle.months, anchor, next_due)
        name = v.text(row["name"], 200) or names.get(row["addonid"], "") or f"Addon {row['id']}"
        out.append((str(row["id"]), (
            service, catalog.get(str(row["addonid"])), name[:200], setup, recurring, cycle.value,
            status, registered.isoformat(), next_due.isoformat() if next_due else None, anchor,
            v.iso(row["termination_date"]), v.text(row["notes"]), 1)))
    _write(ctx, "tblhostingaddons", ServiceAddon,
           ("service", "catalog_addon", "name", "setup_fee", "recurring_amount", "billing_cycle",
            "status", "registration_date", "next_due_date", "anchor_day", "termination_date",
            "notes", "version"), out)


def domains(ctx: Context) -> None:
    rows = _in_scope(ctx, "tbldomains", read(ctx, "tbldomains"), "userid")
    counts = ctx.report.table("tbldomains")
    counts.read = len(rows) + len(counts.skipped)
    clients, orders_ = ctx.idmap.ids("tblclients"), ctx.idmap.ids("tblorders")
    promos = ctx.idmap.ids("tblpromotions")
    out = []
    for row in rows:
        try:
            status = v.domain_status(row["status"])
            recurring, first = v.cents(row["recurringamount"]), v.cents(row["firstpaymentamount"])
            if recurring < 0:
                raise Unmappable(f"negative amount {recurring / 100:.2f}")
            if not v.text(row["domain"]):
                raise Unmappable("domain without a name")
            next_due = v.date(row["nextduedate"])
            registered = _registered(row, "registrationdate", "created_at") or next_due
            if registered is None:
                raise Unmappable("no registration date")
        except Unmappable as exc:
            ctx.report.skip("tbldomains", row["id"], str(exc))
            continue
        years = max(1, int(row["registrationperiod"] or 1))
        anchor = v.anchor_day(next_due, registered)
        ctx.items[(ItemType.DOMAIN, row["id"])] = (12 * years, anchor, next_due)
        out.append((str(row["id"]), (
            clients[str(row["userid"])], orders_.get(str(row["orderid"])),
            v.text(row["domain"], 253).lower(),
            "transfer" if v._squash(row["type"]) == "transfer" else "register", status,
            registered.isoformat(), years, first, recurring,
            next_due.isoformat() if next_due else None, anchor, v.iso(row["expirydate"]),
            v.payment_method(row["paymentmethod"]), not v.flag(row["donotrenew"]), "",
            v.flag(row["dnsmanagement"]), v.flag(row["emailforwarding"]),
            v.flag(row["idprotection"]), promos.get(str(row["promoid"])),
            v.text(row["additionalnotes"]), 1)))
    _write(ctx, "tbldomains", Domain,
           ("client", "order", "name", "kind", "status", "registration_date", "years",
            "first_payment_amount", "recurring_amount", "next_due_date", "anchor_day",
            "expiry_date", "payment_method", "auto_renew", "epp_code", "dns_management",
            "email_forwarding", "id_protection", "promotion", "notes", "version"), out)


def cancellation_requests(ctx: Context) -> None:
    rows = ctx.source.table("tblcancelrequests")
    counts = ctx.report.table("tblcancelrequests")
    services_ = ctx.idmap.ids("tblhosting")
    statuses = {row["id"]: v._squash(row["domainstatus"])
                for row in read(ctx, "tblhosting.status")}
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
    _write(ctx, "tblcancelrequests", CancellationRequest,
           ("service", "type", "reason", "status", "disable_domain_auto_renew",
            "cancelled_line_ids", "requested_by", "created_at", "completed_at"), out)
    if any(r[1][3] == "open" for r in out):
        ctx.report.note("open cancellation requests were imported: with process_cancellations "
                        "on, the next daily run terminates immediate ones and end-of-period ones "
                        "whose due date has come")


# --- invoices, payments, credit ----------------------------------------------------------------

RENEWAL_TYPES = {"hosting": ItemType.SERVICE, "addon": ItemType.ADDON, "domain": ItemType.DOMAIN,
                 "domainregister": ItemType.DOMAIN, "domaintransfer": ItemType.DOMAIN}
ITEM_TABLES = {ItemType.SERVICE: "tblhosting", ItemType.ADDON: "tblhostingaddons",
               ItemType.DOMAIN: "tbldomains"}
LIVE_ORDER = {"paid": 0, "refunded": 1, "unpaid": 2, "draft": 3}
INVOICE_COLUMNS = ("client", "order", "status", "date", "due_date", "paid_date", "payment_method",
                   "total", "amount_paid", "notes", "created_at", "version")
LINE_COLUMNS = ("invoice", "kind", "item_type", "item_id", "period_start", "period_end",
                "description", "amount", "cancelled", "applied_at", "upgrade", "sort_order")


def read_accounts(ctx: Context) -> None:
    """tblaccounts of the chosen currency's invoices: read before invoices, whose amount paid
    is the money received less refunds."""
    rows = read(ctx, "tblaccounts")
    loose = ctx.source.rows("SELECT a.id, a.amountin FROM tblaccounts a LEFT JOIN tblclients c "
                            "ON c.id = a.userid WHERE a.invoiceid = 0 AND c.currency = %s",
                            (ctx.currency_id,))
    seen = set()
    for row in rows:
        received = v.cents(row["amountin"])
        ref = v.text(row["transid"], 200)
        key = (row["invoiceid"], v.payment_method(row["gateway"]), ref)
        if received > 0 and ref and key in seen:  # one gateway transaction recorded twice:
            ctx.duplicate_accounts.add(row["id"])  # stored once (rules §5)
            ctx.excluded["net amount paid"] += received
            received = 0
        seen.add(key)
        ctx.net_paid[row["invoiceid"]] = ctx.net_paid.get(row["invoiceid"], 0) + \
            received - v.cents(row["amountout"])
    ctx.accounts = rows
    counts = ctx.report.table("tblaccounts")
    counts.read = len(rows) + len(loose)
    for row in loose:
        ctx.report.skip("tblaccounts", row["id"],
                        "payment not attached to an invoice (a deposit: the client's credit "
                        "balance is imported from tblclients)")


def _periods(ctx: Context, items: list[dict], statuses: dict) -> dict:
    """item id -> (period start, period end) for the WHMCS items that become renewal lines.

    Each renews (item, due date) for one cycle, ended early where the item's next billed
    period or its next due date begins, so live periods of one item never overlap and the
    next daily run starts where WHMCS stopped. A second live line for the same period (WHMCS
    billed it twice) stays a plain line."""
    by_item = defaultdict(list)
    for item in items:
        kind = RENEWAL_TYPES.get(v._squash(item["type"]))
        start = v.date(item["duedate"])
        if kind is None or start is None or (kind, item["relid"]) not in ctx.items \
                or _first_period(ctx, kind, item) is not None:
            continue
        status = statuses[item["invoiceid"]]
        if status == "cancelled":
            by_item[(kind, item["relid"])].append((start, 9, item["id"]))
        else:
            by_item[(kind, item["relid"])].append((start, LIVE_ORDER.get(status, 5), item["id"]))
    periods = {}
    for key, lines in by_item.items():
        months, anchor, next_due = ctx.items[key]
        live = sorted(line for line in lines if line[1] != 9)
        starts, kept = [], set()
        for start, _, item_id in live:
            if starts and starts[-1] == start:
                ctx.report.table("tblinvoiceitems").duplicates += 1
                continue  # billed twice in WHMCS: the first stays the renewal line
            starts.append(start)
            kept.add(item_id)
        for start, rank, item_id in lines:
            end = add_months_anchored(start, months, anchor)
            if item_id in kept:
                later = [s for s in starts if s > start]
                if later and later[0] < end:
                    end = later[0]
                if next_due is not None and start < next_due < end:
                    end = next_due
            elif rank != 9:
                continue
            periods[item_id] = (start.isoformat(), end.isoformat())
    return periods


def invoices(ctx: Context) -> None:
    rows = _in_scope(ctx, "tblinvoices", read(ctx, "tblinvoices"), "userid")
    counts = ctx.report.table("tblinvoices")
    counts.read = len(rows) + len(counts.skipped)
    items = read(ctx, "tblinvoiceitems")
    item_counts = ctx.report.table("tblinvoiceitems")
    item_counts.read = len(items)
    items_of = defaultdict(list)
    for item in items:
        items_of[item["invoiceid"]].append(item)
    clients = ctx.idmap.ids("tblclients")
    order_of = {row["invoiceid"]: row["id"] for row in ctx.source.rows(
        "SELECT id, invoiceid FROM tblorders WHERE invoiceid > 0")}
    orders_ = ctx.idmap.ids("tblorders")
    accepted, statuses = [], {}
    for row in rows:
        try:
            status = v.invoice_status(row["status"])
            day = v.iso(row["date"]) or v.iso(row["duedate"])
            if day is None:
                raise Unmappable("invoice without a date")
            total, tax, tax2, credit = (v.cents(row["total"]), v.cents(row["tax"]),
                                        v.cents(row["tax2"]), v.cents(row["credit"]))
            lines_sum = sum(v.cents(i["amount"]) for i in items_of[row["id"]])
            if lines_sum + tax + tax2 - credit != total:
                raise Unmappable(f"broken invoice: items {lines_sum / 100:.2f} + tax - credit = "
                                 f"{(lines_sum + tax + tax2 - credit) / 100:.2f}, but its "
                                 f"total is {total / 100:.2f}")
        except Unmappable as exc:
            ctx.report.skip("tblinvoices", row["id"], str(exc))
            _exclude_invoice(ctx, row)
            continue
        statuses[row["id"]] = status
        ctx.invoice_dates[row["id"]] = day
        paid = status in ("paid", "refunded")
        accepted.append(_Accepted(
            row, status, day, v.iso(row["duedate"]) or day, total, tax, tax2, credit,
            v.iso(row["datepaid"]) if paid else None,
            (v.moment(row["datepaid"]) or f"{day} 00:00:00.000000") if paid else None))
    periods = _periods(ctx, [i for i in items if i["invoiceid"] in statuses], statuses)
    if item_counts.duplicates:
        ctx.report.note(f"{item_counts.duplicates} WHMCS invoice items renewed a period already "
                        "on another live invoice: kept as plain lines, so no period is billed "
                        "twice")
    item_maps = {kind: ctx.idmap.ids(table) for kind, table in ITEM_TABLES.items()}
    done = 0
    for start in range(0, len(accepted), BATCH // 2):
        batch = accepted[start:start + BATCH // 2]
        with database.atomic():
            _invoice_batch(ctx, batch, items_of, periods, clients, orders_, order_of, item_maps)
        done += len(batch)
        ctx.show("tblinvoices", done, len(accepted))


_Accepted = namedtuple("_Accepted", "row status day due total tax tax2 credit paid applied")


def _exclude_invoice(ctx: Context, row) -> None:
    status = _status_or_text(row["status"])
    ctx.excluded[f"invoices {status}"] += v.cents(row["total"])
    ctx.excluded[f"invoices {status} count"] += 1
    ctx.excluded["net amount paid"] += ctx.net_paid.get(row["id"], 0)
    ctx.skipped_invoices.add(row["id"])


def _status_or_text(value) -> str:
    try:
        return v.invoice_status(value)
    except Unmappable:
        return v.text(value).lower() or "?"


def _invoice_batch(ctx, batch, items_of, periods, clients, orders_, order_of, item_maps) -> None:
    invoice_rows, expected_total = [], 0
    for a in batch:
        row = a.row
        expected_total += a.total
        number = v.text(row["invoicenum"])
        notes = f"WHMCS invoice #{row['id']}" + (f" ({number})" if number else "")
        if row["notes"]:
            notes = "\n".join(p for p in (notes, v.text(row["notes"])) if p)
        invoice_rows.append((str(row["id"]), (
            clients[str(row["userid"])], orders_.get(str(order_of.get(row["id"])), None),
            a.status, a.day, a.due, a.paid, v.payment_method(row["paymentmethod"]), a.total,
            ctx.net_paid.get(row["id"], 0), notes,
            v.moment(row.get("created_at")) or f"{a.day} 00:00:00.000000", 1)))
    ids = sync(ctx.idmap, ctx.report.table("tblinvoices"), "tblinvoices", Invoice,
               INVOICE_COLUMNS, invoice_rows)
    line_rows, extra_rows = [], []
    for a in batch:
        row, applied = a.row, a.applied
        invoice = ids[str(row["id"])]
        cancelled = a.status == "cancelled"
        order = 0
        for item in items_of[row["id"]]:
            line_rows.append((str(item["id"]), _line(ctx, invoice, item, order, cancelled, applied,
                                                     periods, item_maps)))
            order += 1
        if not (a.tax or a.tax2 or a.credit):
            continue
        for key, amount, label, kind in (
                ("tax", a.tax, f"Tax {row['taxrate']}%", LineKind.CUSTOM),
                ("tax2", a.tax2, f"Tax {row['taxrate2']}%", LineKind.CUSTOM),
                ("credit", -a.credit, "Credit applied", LineKind.CREDIT)):
            if amount:
                extra_rows.append((f"{row['id']}:{key}", (invoice, kind, None, None, None, None,
                                                          label, amount, cancelled, applied,
                                                          None, order)))
                order += 1
    sync(ctx.idmap, ctx.report.table("tblinvoiceitems"), "tblinvoiceitems", InvoiceLine,
         LINE_COLUMNS, line_rows)
    sync(ctx.idmap, ctx.report.table("tblinvoices.tax_credit"), "tblinvoices.tax_credit",
         InvoiceLine, LINE_COLUMNS, extra_rows)
    _check_batch(list(ids.values()), expected_total,
                 f"invoices #{batch[0].row['id']}–#{batch[-1].row['id']}")


def _line(ctx, invoice, item, order, cancelled, applied, periods, item_maps) -> tuple:
    squashed = v._squash(item["type"])
    amount = v.cents(item["amount"])
    description = v.text(item["description"], 500) or v.text(item["type"]) or "Item"
    kind, item_type, item_id, start, end = LineKind.CUSTOM, None, None, None, None
    renewal_kind = RENEWAL_TYPES.get(squashed)
    if renewal_kind is not None:
        item_type, item_id = renewal_kind, item_maps[renewal_kind].get(str(item["relid"]))
        if item_id is None:
            item_type = None
        elif _first_period(ctx, renewal_kind, item) is not None:
            kind = LineKind.FIRST
            start, end = _first_period(ctx, renewal_kind, item)
        elif item["id"] in periods:
            kind = LineKind.RENEWAL
            start, end = periods[item["id"]]
    elif squashed == "setup":
        kind = LineKind.SETUP
    elif squashed.startswith("promo"):
        kind = LineKind.DISCOUNT
    if amount < 0 and kind not in (LineKind.DISCOUNT, LineKind.CREDIT):
        kind, item_type, item_id, start, end = LineKind.DISCOUNT, None, None, None, None
    # a paid invoice's lines have taken effect in WHMCS already (the due date moved on)
    return (invoice, kind, item_type, item_id, start, end, description, amount, cancelled,
            applied, None, order)


def _first_period(ctx: Context, kind: str, item) -> tuple | None:
    if kind != ItemType.SERVICE:
        return None
    found = ctx.first_periods.get(item["relid"])
    return found if found is not None and found[0] == v.iso(item["duedate"]) else None


def _check_batch(invoice_ids: list[int], expected_total: int, what: str) -> None:
    """Inside the batch's transaction: the invoices and their lines add up to the source."""
    cursor = database.execute(Invoice.select(Invoice.id, Invoice.total).where(
        ids_in(Invoice.id, invoice_ids)))
    totals = {row[0]: int(row[1]) for row in cursor}
    sums = defaultdict(int)
    for invoice_id, amount in database.execute(InvoiceLine.select(InvoiceLine.invoice,
                                                                  InvoiceLine.amount).where(
            ids_in(InvoiceLine.invoice, invoice_ids))):
        sums[invoice_id] += int(amount)
    if sum(totals.values()) != expected_total:
        raise ReconciliationError(f"{what}: hostdesk totals {sum(totals.values()) / 100:.2f}, "
                                  f"WHMCS {expected_total / 100:.2f}")
    for invoice_id, total in totals.items():
        if sums[invoice_id] != total:
            raise ReconciliationError(f"{what}: invoice {invoice_id}'s lines add up to "
                                      f"{sums[invoice_id] / 100:.2f}, its total is "
                                      f"{total / 100:.2f}")


def payments(ctx: Context) -> None:
    invoices_ = ctx.idmap.ids("tblinvoices")
    out = []
    refunds = fees = 0
    for row in ctx.accounts:
        amount = v.cents(row["amountin"])
        fees += v.cents(row["fees"])
        if v.cents(row["amountout"]) > 0:
            refunds += 1
        if amount <= 0:
            continue  # a refund: the invoice's amount paid is net of it
        invoice = invoices_.get(str(row["invoiceid"]))
        if invoice is None:
            ctx.report.skip("tblaccounts", row["id"],
                            f"invoice #{row['invoiceid']} was not imported")
            ctx.excluded["payments"] += amount
            continue
        method, ref = v.payment_method(row["gateway"]), v.text(row["transid"], 200)
        if row["id"] in ctx.duplicate_accounts:
            ctx.report.skip("tblaccounts", row["id"],
                            f"duplicate: transaction {ref} recorded twice on invoice "
                            f"#{row['invoiceid']}")
            ctx.excluded["payments"] += amount
            continue
        day = v.iso(row["date"]) or ctx.invoice_dates.get(row["invoiceid"]) or ctx.now[:10]
        out.append((str(row["id"]), (invoice, amount, day, method, ref, "whmcs",
                                     v.moment(row["date"]) or ctx.now)))
    _write(ctx, "tblaccounts", Payment, ("invoice", "amount", "date", "method", "transaction_ref",
                                         "admin_login", "created_at"), out)
    if refunds:
        ctx.report.note(f"{refunds} WHMCS refunds are kept as each invoice's net amount paid "
                        "(hostdesk has no refund record)")
    if fees:
        ctx.report.note(f"gateway fees ({fees / 100:.2f}) are not kept: hostdesk records the "
                        "amount received only")


def credit_movements(ctx: Context) -> None:
    rows = _in_scope(ctx, "tblcredit", read(ctx, "tblcredit"), "clientid")
    counts = ctx.report.table("tblcredit")
    counts.read = len(rows) + len(counts.skipped)
    clients, invoices_ = ctx.idmap.ids("tblclients"), ctx.idmap.ids("tblinvoices")
    out = []
    for row in rows:
        when = v.moment(row["date"]) or ctx.now
        out.append((str(row["id"]), (clients[str(row["clientid"])], v.cents(row["amount"]),
                                     v.text(row["description"], 500) or "WHMCS credit",
                                     invoices_.get(str(row["relid"])), when)))
    _write(ctx, "tblcredit", CreditEntry, ("client", "amount", "description", "invoice",
                                           "created_at"), out)

