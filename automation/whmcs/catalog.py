"""Import steps for clients and the catalog: client groups, clients, payment gateways,
servers, products and their prices, configurable options, catalog addons, promotions, TLDs."""

from collections import defaultdict
from functools import partial

from hostdesk.automation.whmcs import values as v
from hostdesk.automation.whmcs.context import (
    GATEWAYS_CONFIGURED,
    GATEWAYS_USED,
    Context,
    read,
    stream_rows,
    write_rows,
)
from hostdesk.automation.whmcs.source import Source
from hostdesk.automation.whmcs.values import Unmappable
from hostdesk.models.cycles import Cycle
from hostdesk.models.errors import ValidationError
from hostdesk.models.payment_methods import add_payment_method
from hostdesk.models.schema import (
    CatalogAddon,
    CatalogAddonPrice,
    CatalogAddonProduct,
    Client,
    ClientGroup,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionPrice,
    PaymentMethod,
    Product,
    ProductPrice,
    Promotion,
    PromotionProduct,
    Server,
    Tld,
)


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
    write_rows(ctx, "tblclientgroups", ClientGroup, ("name", "separate_invoices", "version"), out)


def clients(ctx: Context) -> None:
    rows = read(ctx, "tblclients")
    counts = ctx.report.table("tblclients")
    counts.read = len(rows)
    groups = ctx.ids("tblclientgroups")

    def mapped():  # rows mapped batch by batch, as the writer takes them
        now, client_status, payment_method = ctx.now, v.client_status, v.payment_method
        for row in rows:  # text columns come stripped (read as :t), amounts as cents
            try:
                status = client_status(row.status)
            except Unmappable as exc:
                ctx.report.skip("tblclients", row.id, str(exc))
                ctx.client_ids.discard(row.id)
                ctx.skipped_clients.add(row.id)
                ctx.excluded["client credit"] += v.read_cents(row.credit)
                continue
            credit = v.read_cents(row.credit)
            if credit < 0:
                ctx.report.skip("tblclients.credit", row.id,
                                f"negative amount: credit {credit / 100:.2f} imported as 0.00")
                ctx.excluded["client credit"] += credit
                credit = 0
            created = v.moment(row.created_at) or v.moment(row.datecreated) or now
            address = ", ".join(p for p in (row.address1, row.address2, row.state) if p)
            notes = row.notes
            if row.cardlastfour:
                notes = (notes + "\n" if notes else "") + \
                    f"WHMCS stored card ending {row.cardlastfour}: not imported"
            yield (str(row.id), (
                row.firstname[:100], row.lastname[:100], row.companyname[:200],
                row.email[:254], row.phonenumber[:50], address.strip()[:300],
                row.city[:100], row.postcode[:20], row.country[:2].upper(), status,
                groups.get(str(row.groupid)), v.flag(row.separateinvoices), credit,
                payment_method(row.defaultgateway), notes, created, 1))

    stream_rows(ctx, "tblclients", Client,
                ("first_name", "last_name", "company", "email", "phone", "address", "city",
                 "postcode", "country", "status", "group", "separate_invoices", "credit",
                 "default_payment_method", "notes", "created_at", "version"), mapped(), len(rows))
    cards = sum(1 for row in rows if row.cardlastfour)
    if cards:
        ctx.report.note(f"{cards} clients had a card stored in WHMCS: cards are not imported "
                        "(WHMCS encrypts them with its own key); ask those clients to add their "
                        "card again, or keep charging them through the gateway's own tokens")


def payment_gateways(ctx: Context) -> list[str]:
    """The gateways in use (clients, services, invoices, payments) as hostdesk payment methods,
    added to the managed list by the one function that adds a method (checked and logged)."""
    used = ctx.source.rows(GATEWAYS_USED)
    configured = ctx.source.rows(GATEWAYS_CONFIGURED)
    names = sorted({v.payment_method(row["g"]) for row in used + configured if v.text(row["g"])})
    counts = ctx.report.table("tblpaymentgateways")
    counts.read = len(names)
    added, refused = ctx.writer.call(partial(_add_payment_methods, ctx.admin, names))
    counts.imported += len(added)
    counts.unchanged += len(names) - len(added) - len(refused)
    for name, reason in refused:
        ctx.report.skip("tblpaymentgateways", name, reason)
    return names


def _add_payment_methods(admin, names: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """A writer job: the methods hostdesk lacks added; returns those added and those the
    list refused (name, reason)."""
    known = {name.lower() for (name,) in PaymentMethod.select(PaymentMethod.name).tuples()}
    order = len(known)
    added, refused = [], []
    for name in names:
        if name.lower() in known:
            continue
        try:
            add_payment_method({"name": name, "enabled": "yes", "sort_order": str(order)},
                               admin=admin)
        except ValidationError as exc:
            refused.append((name, f"{exc.field}: {exc.message}; add the method by hand under "
                                  "another name"))
            continue
        known.add(name.lower())
        added.append(name)
        order += 1
    return added, refused


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
    write_rows(ctx, "tblservers", Server, ("name", "hostname", "ip_address", "module", "settings",
                                       "max_accounts", "active", "version"), out)
    if rekey:
        ctx.report.note("servers to re-key (WHMCS encrypts their passwords and API tokens with "
                        "its own key; enter them again on each server): " + ", ".join(rekey))
    ctx.report.servers_to_rekey = rekey


# What the import reads of the small tables (catalog, cancellation requests), read ahead of
# the large tables (`reads`).
SMALL_TABLES = ("tblclientgroups", "tblservers", "tblproductgroups", "tblproducts",
                "tblproductconfiglinks", "tblproductconfigoptions", "tblproductconfigoptionssub",
                "tbladdons", "tblpromotions", "tbldomainpricing", "tblcancelrequests")
ADDON_NAMES = ("tbladdons", "id, name")
PRICING = "SELECT * FROM tblpricing WHERE type = %s AND currency = %s ORDER BY id"
PRICING_TYPES = ("product", "configoptions", "addon", "domainregister", "domaintransfer",
                 "domainrenew")


def reads(ctx: Context) -> list[tuple]:
    """(sql, args) of the small tables' queries, for the prefetch to read first."""
    return ([(Source.table_sql(name), None) for name in SMALL_TABLES]
            + [(Source.table_sql(*ADDON_NAMES), None)]
            + [(PRICING, (kind, ctx.currency_id)) for kind in PRICING_TYPES])


def _pricing(ctx: Context, kind: str) -> dict[int, dict]:
    rows = ctx.source.rows(PRICING, (kind, ctx.currency_id))
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
    ids = write_rows(ctx, "tblproducts", Product,
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
    write_rows(ctx, "tblpricing", ProductPrice, ("product", "cycle", "price", "setup_fee"), prices,
           delete_missing=True)


OPTION_TYPES = {1: "dropdown", 2: "dropdown", 3: "yesno", 4: "quantity"}


def config_options(ctx: Context) -> None:
    links = ctx.source.table("tblproductconfiglinks")
    options = ctx.source.table("tblproductconfigoptions")
    subs = ctx.source.table("tblproductconfigoptionssub")
    ctx.report.table("tblproductconfigoptions").read = len(options)
    ctx.report.table("tblproductconfigoptionssub").read = len(subs)
    products = ctx.ids("tblproducts")
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
    option_ids = write_rows(ctx, "tblproductconfigoptions", ConfigOption,
                        ("product", "name", "option_type", "sort_order"), option_rows)
    choice_rows = []
    for pid, option_id in choice_keys:
        for sub in subs_of[option_id]:
            choice_rows.append((f"{pid}:{sub['id']}", (option_ids[f"{pid}:{option_id}"],
                                                      v.text(sub["optionname"], 100),
                                                      int(sub["sortorder"] or 0))))
    choice_ids = write_rows(ctx, "tblproductconfigoptionssub", ConfigOptionChoice,
                        ("option", "name", "sort_order"), choice_rows)
    pricing = _pricing(ctx, "configoptions")
    price_rows = []
    for key, choice in choice_ids.items():
        sub_id = int(key.split(":")[1])
        for cycle, price, setup in _cycle_prices(pricing.get(sub_id), "recurring"):
            price_rows.append((f"{key}:{cycle}", (choice, cycle, price, setup)))
    write_rows(ctx, "tblpricing.configoptions", ConfigOptionPrice,
           ("choice", "cycle", "price", "setup_fee"), price_rows, delete_missing=True)


def catalog_addons(ctx: Context) -> None:
    rows = ctx.source.table("tbladdons")
    ctx.report.table("tbladdons").read = len(rows)
    out = [(str(row["id"]), (v.text(row["name"], 200) or f"Addon {row['id']}",
                             v.text(row["description"]), v.text(row["module"], 50) or "none",
                             v.auto_setup(row["autoactivate"]), "", 1)) for row in rows]
    ids = write_rows(ctx, "tbladdons", CatalogAddon,
                 ("name", "description", "module", "auto_setup", "welcome_email", "version"), out)
    pricing = _pricing(ctx, "addon")
    products = ctx.ids("tblproducts")
    prices, links = [], []
    for row in rows:
        paytype = {"free": "free", "freeaccount": "free", "onetime": "onetime"}.get(
            v._squash(row["billingcycle"]), "recurring")
        for cycle, price, setup in _cycle_prices(pricing.get(row["id"]), paytype):
            prices.append((f"{row['id']}:{cycle}", (ids[str(row["id"])], cycle, price, setup)))
        for pid in {p.strip() for p in v.text(row["packages"]).split(",") if p.strip().isdigit()}:
            if pid in products:
                links.append((f"{row['id']}:{pid}", (ids[str(row["id"])], products[pid])))
    write_rows(ctx, "tblpricing.addon", CatalogAddonPrice, ("addon", "cycle", "price", "setup_fee"),
           prices, delete_missing=True)
    write_rows(ctx, "tbladdons.packages", CatalogAddonProduct, ("addon", "product"), links,
           delete_missing=True)


def promotions(ctx: Context) -> None:
    rows = ctx.source.table("tblpromotions")
    ctx.report.table("tblpromotions").read = len(rows)
    out, seen, products, links = [], set(), ctx.ids("tblproducts"), []
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
    ids = write_rows(ctx, "tblpromotions", Promotion,
                 ("code", "type", "value", "recurring", "recur_for", "cycles", "start_date",
                  "expiry_date", "max_uses", "uses", "notes", "version"), out)
    write_rows(ctx, "tblpromotions.appliesto", PromotionProduct, ("promotion", "product"),
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
    write_rows(ctx, "tbldomainpricing", Tld,
           ("name", "register_price", "transfer_price", "renew_price", "min_years", "max_years",
            "dns_management_price", "email_forwarding_price", "id_protection_price",
            "epp_required"), out)
