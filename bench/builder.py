"""Deterministic benchmark databases, written with plain bulk SQL.

`build(db, spec)` fills a freshly migrated database with clients, a product catalog,
services, addons, domains and their paid invoice history in realistic proportions. The
same spec and seed always give the same rows. Rows go in with `executemany` on SQLite and
`COPY` on PostgreSQL, with the secondary indexes dropped during the load and rebuilt after
(and on PostgreSQL the foreign-key triggers paused), so a million services take well under
two minutes to build.

Proportions (per service): 1/3 client, 1/5 addon, 1/4 domain; 86 % active, 3 % suspended,
2 % pending, the rest ended; 60 % monthly, 22 % annually, the rest quarterly to triennially,
free or one-time. Every billable item has its previous `history_periods` periods invoiced
and paid; 1 % have their current period already invoiced and unpaid; a few have an open
cancellation request or auto-terminate at the end of the cycle (the daily run must skip
them).

Next due dates: `spread_days` 30 spreads them over a month from `first_due` (a normal
month: a day's run bills about 1/30 of them); 1 puts every one on `first_due` (hosts that
bill everyone on the 1st).
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import json
import random
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain

from peewee import AutoField

from hostdesk.models import listing, search
from hostdesk.models.db import is_postgres
from hostdesk.models.schema import (
    Admin,
    CancellationRequest,
    CatalogAddon,
    CatalogAddonPrice,
    Client,
    Domain,
    Invoice,
    InvoiceLine,
    Payment,
    Product,
    ProductPrice,
    Server,
    Service,
    ServiceAddon,
    Tld,
)

BUILDER_VERSION = 2  # bump when the rows built change: cached databases are rebuilt
FIRST_DUE = dt.date(2025, 6, 1)
CREATED_AT = "2025-05-01 08:00:00.000000"
BENCH_ADMIN = "bench"
CHUNK = 50_000  # rows per executemany / COPY

CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "semiannually": 6, "annually": 12,
                "biennially": 24, "triennially": 36}
CYCLE_PRICE_FACTOR = {"monthly": 1.0, "quarterly": 2.94, "semiannually": 5.7, "annually": 10.8,
                      "biennially": 20.4, "triennially": 28.8}
CYCLE_WEIGHTS = {"monthly": 60, "quarterly": 8, "semiannually": 5, "annually": 22,
                 "biennially": 2, "triennially": 1, "free": 1, "one_time": 1}
STATUS_WEIGHTS = {"active": 86, "suspended": 3, "pending": 2, "terminated": 5, "cancelled": 3,
                  "fraud": 0.5, "completed": 0.5}
BILLABLE = ("active", "suspended")
DOMAIN_STATUS_WEIGHTS = {"active": 92, "expired": 4, "cancelled": 4}

FIRST_NAMES = ("Ada", "Alan", "Barbara", "Claude", "Dennis", "Donald", "Edsger", "Frances",
               "Grace", "Guido", "Hedy", "Ivan", "John", "Ken", "Linus", "Margaret", "Niklaus",
               "Radia", "Richard", "Sophie", "Tim", "Vint", "Whitfield", "Yukihiro")
LAST_NAMES = ("Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Knuth", "Dijkstra", "Allen",
              "Hopper", "Rossum", "Lamarr", "Sutherland", "McCarthy", "Thompson", "Torvalds",
              "Hamilton", "Wirth", "Perlman", "Stallman", "Wilson", "Berners-Lee", "Cerf",
              "Diffie", "Matsumoto", "Kay", "Backus", "Hoare", "Lamport", "Milner", "Naur")
WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo",
         "juniper", "kestrel", "lumen", "maple", "nimbus", "orchid", "pixel", "quartz", "river",
         "summit", "tundra", "umber", "vertex", "willow", "xenon", "yonder", "zephyr")
TLDS = (("com", 1299), ("net", 1499), ("org", 1399), ("io", 3999), ("co.uk", 899), ("de", 799))
PRODUCT_TIERS = (("shared", "Shared", 499), ("reseller", "Reseller", 1999),
                 ("vps", "VPS", 1499), ("dedicated", "Dedicated", 8999))
TIER_NAMES = ("Starter", "Basic", "Plus", "Pro", "Business", "Premium", "Ultimate", "Max",
              "Elite", "Titan")
ADDONS = (("Daily backups", 200), ("Dedicated IP", 300), ("SSL certificate", 500),
          ("Extra storage", 400), ("Priority support", 900), ("Malware scan", 250),
          ("CDN", 350), ("Email pro", 150))


@dataclass(frozen=True)
class BuildSpec:
    services: int
    spread_days: int = 30
    seed: int = 8
    first_due: dt.date = FIRST_DUE
    history_periods: int = 1

    @property
    def clients(self) -> int:
        return max(1, self.services // 3)

    @property
    def domains(self) -> int:
        return self.services // 4

    @property
    def run_date(self) -> dt.date:
        """The daily run's date that bills the items due on `first_due` (invoice_days 14)."""
        return self.first_due - dt.timedelta(days=14)


@dataclass
class BuildSummary:
    rows: dict = field(default_factory=dict)  # table -> rows written
    seconds: float = 0.0


# --- dates, cached: a few hundred distinct values cover millions of rows -----------------


@lru_cache(maxsize=None)
def add_months(day: dt.date, months: int, anchor: int) -> dt.date:
    """The same calendar move as hostdesk.models.cycles.add_months_anchored, on plain dates."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month0 + 1
    return dt.date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


@lru_cache(maxsize=None)
def iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


@lru_cache(maxsize=None)
def iso_minus_day(day: dt.date) -> str:
    return (day - dt.timedelta(days=1)).isoformat()


def renewal_description(label: str, start: dt.date, end: dt.date) -> str:
    """The text the daily run writes on a renewal line (hostdesk.models.invoicing.renewal_line_spec)."""
    return f"{label} ({iso(start)} - {iso_minus_day(end)})"


# --- the bulk writer ------------------------------------------------------------------------


class BulkWriter:
    """Insert rows already in database form: multi-row INSERTs on SQLite, COPY on PostgreSQL.

    Columns not given take the model's default, computed once per table; a required column
    with no default and no value is an error naming it (the schema moved on: update the
    builder)."""

    def __init__(self, db):
        self.db = db
        self.postgres = is_postgres(db)
        self.counts: dict[str, int] = {}

    def write(self, model, columns: tuple[str, ...], rows) -> int:
        table = model._meta.table_name
        fields = {f.column_name: f for f in model._meta.sorted_fields}
        unknown = [c for c in columns if c not in fields]
        if unknown:
            raise ValueError(f"{table}: no column {unknown}")
        tail_columns, tail = [], []
        for name, fld in fields.items():
            if name in columns or isinstance(fld, AutoField):
                continue
            default = fld.default() if callable(fld.default) else fld.default
            if default is None and not fld.null:
                raise ValueError(f"{table}.{name} needs a value: it has no default")
            tail_columns.append(name)
            tail.append(self._db_value(fld, default))
        all_columns = (*columns, *tail_columns)
        tail = tuple(tail)
        written = 0
        chunk = []
        for row in rows:
            chunk.append(row + tail if tail else row)
            if len(chunk) >= CHUNK:
                self._flush(table, all_columns, chunk)
                written += len(chunk)
                chunk = []
        if chunk:
            self._flush(table, all_columns, chunk)
            written += len(chunk)
        self.counts[table] = self.counts.get(table, 0) + written
        return written

    def _db_value(self, fld, value):
        value = fld.db_value(value)
        if isinstance(value, bool):
            return int(value)
        return value

    def _flush(self, table: str, columns, rows: list[tuple]) -> None:
        cursor = self.db.cursor()
        names = ", ".join(f'"{c}"' for c in columns)
        if self.postgres:
            buffer = io.StringIO()
            buffer.writelines("\t".join(_copy_text(v) for v in row) + "\n" for row in rows)
            buffer.seek(0)
            cursor.copy_expert(f'COPY "{table}" ({names}) FROM STDIN', buffer)
        else:
            # Multi-row INSERTs, as the daily run writes: one statement per row made each
            # full-text trigger flush its index per row (about 55 µs an activity row).
            one_row = "(" + ", ".join("?" for _ in columns) + ")"
            per = max(1, min(500, 30000 // len(columns)))
            head = f'INSERT INTO "{table}" ({names}) VALUES '
            for start in range(0, len(rows), per):
                part = rows[start:start + per]
                cursor.execute(head + ", ".join([one_row] * len(part)),
                               list(chain.from_iterable(part)))


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        return value
    return str(value)


# --- loading mode: indexes off, then back on ---------------------------------------------


LOADED_TABLES = ("admin", "server", "client", "product", "product_price", "catalog_addon",
                 "catalog_addon_price", "tld", "service", "service_addon", "domain", "invoice",
                 "invoice_line", "payment", "cancellation_request")


def _secondary_indexes(db) -> list[tuple[str, str]]:
    tables = ", ".join(f"'{t}'" for t in LOADED_TABLES)
    if is_postgres(db):
        return db.execute_sql(
            f"SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            f"AND tablename IN ({tables}) AND indexname NOT IN "
            f"(SELECT conname FROM pg_constraint)").fetchall()
    return db.execute_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({tables})").fetchall()


def _overlap_checks(db) -> list[tuple[str, str, str]]:
    """The overlapping-renewal checks on invoice lines (migration 0011) as (name, drop,
    create): dropped for the load like the indexes they read, and made again after it.
    PostgreSQL checks with statement triggers since migration 0026 (none is listed here):
    `DISABLE TRIGGER ALL` holds them off during the load."""
    if is_postgres(db):
        rows = db.execute_sql("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                              "WHERE contype = 'x' AND conrelid = 'invoice_line'::regclass")
        return [(name, f'ALTER TABLE invoice_line DROP CONSTRAINT "{name}"',
                 f'ALTER TABLE invoice_line ADD CONSTRAINT "{name}" {definition}')
                for name, definition in rows.fetchall()]
    rows = db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                          "AND tbl_name = 'invoice_line'")
    return [(name, f'DROP TRIGGER "{name}"', sql) for name, sql in rows.fetchall()]


def _begin_load(db) -> list[tuple[str, str]]:
    checks = _overlap_checks(db)
    for _, drop, _ in checks:
        db.execute_sql(drop)
    indexes = _secondary_indexes(db)
    if is_postgres(db):
        for name, _ in indexes:
            db.execute_sql(f'DROP INDEX "{name}"')
        for table in LOADED_TABLES:
            db.execute_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER ALL')
    else:
        db.execute_sql("PRAGMA foreign_keys = OFF")
        db.execute_sql("PRAGMA synchronous = OFF")
        # One big load: a WAL as large as the database would slow every later page read.
        db.execute_sql("PRAGMA journal_mode = MEMORY")
        db.execute_sql("PRAGMA cache_size = -1000000")
        for name, _ in indexes:
            db.execute_sql(f'DROP INDEX "{name}"')
    return indexes + [(name, create) for name, _, create in checks]  # checks after indexes


def _end_load(db, indexes) -> None:
    for _, sql in indexes:
        db.execute_sql(sql)
    if is_postgres(db):
        for table in LOADED_TABLES:
            db.execute_sql(f'ALTER TABLE "{table}" ENABLE TRIGGER ALL')
            db.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                           f"COALESCE((SELECT MAX(id) FROM \"{table}\"), 0) + 1, false)")
    else:
        db.execute_sql("PRAGMA foreign_keys = ON")
        db.execute_sql("PRAGMA synchronous = NORMAL")
        db.execute_sql("PRAGMA journal_mode = WAL")
        db.execute_sql("PRAGMA cache_size = -64000")


# --- the build --------------------------------------------------------------------------------


def build(db, spec: BuildSpec) -> BuildSummary:
    """Fill the (migrated, empty) database bound as `db` with the rows `spec` describes."""
    import time

    started = time.perf_counter()
    writer = BulkWriter(db)
    with db.connection_context() if db.is_closed() else _nothing():
        indexes = _begin_load(db)
        with db.atomic():
            _Build(spec, writer).run()
        _end_load(db, indexes)
        listing.recount_services()  # its triggers were off for the load on PostgreSQL
        if is_postgres(db):
            # What autovacuum does to freshly inserted tables: statistics, and the visibility
            # map that lets counts and id lookups read the indexes alone.
            db.execute_sql("VACUUM ANALYZE")
        else:
            # As after any bulk load, and as the weekly maintenance of a live database keeps
            # them: the search indexes merged, not one segment per loading statement.
            search.tidy_index()
            search.tidy_activity_index()
            db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return BuildSummary(rows=dict(writer.counts), seconds=time.perf_counter() - started)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _weighted(rng: random.Random, weights: dict, k: int) -> list:
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


class _Build:
    def __init__(self, spec: BuildSpec, writer: BulkWriter):
        self.spec = spec
        self.w = writer
        self.rng = random.Random(spec.seed)
        self.invoice_totals: dict[tuple, list] = {}  # key -> [invoice id, total cents, paid?]
        self.next_line_id = 1
        self.lines: list[tuple] = []

    def run(self) -> None:
        self.catalog()
        self.clients()
        self.services()
        self.addons()
        self.domains()
        self.flush_lines()
        self.invoices()

    # --- catalog ---------------------------------------------------------------------

    def catalog(self) -> None:
        self.w.write(Admin, ("id", "login", "name", "role", "created_at"),
                     [(1, BENCH_ADMIN, "Benchmark admin", "full", CREATED_AT)])
        self.w.write(Server, ("id", "name", "hostname", "module"),
                     [(1, "bench1", "bench1.example.net", "none")])
        products, prices = [], []
        self.product_names = {}
        self.product_prices = {}  # (product id, cycle) -> cents
        product_id = 0
        for type_, label, base in PRODUCT_TIERS:
            for tier_index, tier in enumerate(TIER_NAMES):
                product_id += 1
                name = f"{label} {tier}"
                # The last product is fixed-term (ten years), like a prepaid plan.
                term = 3650 if product_id == len(PRODUCT_TIERS) * len(TIER_NAMES) else 0
                products.append((product_id, name, label, type_, "none", 1, term))
                self.product_names[product_id] = name
                monthly = base * (tier_index + 1)
                for cycle, factor in CYCLE_PRICE_FACTOR.items():
                    cents = int(monthly * factor)
                    prices.append((len(prices) + 1, product_id, cycle, cents))
                    self.product_prices[(product_id, cycle)] = cents
        self.w.write(Product, ("id", "name", "group_name", "type", "module", "server_id",
                               "auto_terminate_days"), products)
        self.w.write(ProductPrice, ("id", "product_id", "cycle", "price"), prices)
        self.product_ids = list(self.product_names)
        # Cheaper plans sell more.
        self.product_weights = [1.0 / (1 + (pid - 1) % len(TIER_NAMES)) for pid in self.product_ids]
        addon_rows, addon_prices = [], []
        for addon_id, (name, cents) in enumerate(ADDONS, start=1):
            addon_rows.append((addon_id, name))
            for cycle, factor in CYCLE_PRICE_FACTOR.items():
                addon_prices.append((len(addon_prices) + 1, addon_id, cycle, int(cents * factor)))
        self.w.write(CatalogAddon, ("id", "name"), addon_rows)
        self.w.write(CatalogAddonPrice, ("id", "addon_id", "cycle", "price"), addon_prices)
        self.w.write(Tld, ("id", "name", "register_price", "transfer_price", "renew_price"),
                     [(i, name, cents, cents, cents) for i, (name, cents) in enumerate(TLDS, 1)])

    # --- clients ---------------------------------------------------------------------

    def clients(self) -> None:
        count = self.spec.clients
        rng = self.rng
        methods = ["paypal" if x < 0.2 else "banktransfer" for x in
                   (rng.random() for _ in range(count))]
        self.client_methods = methods  # index = client id - 1

        def rows():
            for i in range(1, count + 1):
                first = FIRST_NAMES[i % len(FIRST_NAMES)]
                last = LAST_NAMES[(i * 7) % len(LAST_NAMES)]
                company = f"{WORDS[i % len(WORDS)].title()} {last} Ltd" if i % 10 < 3 else ""
                yield (i, first, last, company,
                       f"{first.lower()}.{last.lower()}{i}@mail{i % 20}.test",
                       "GB" if i % 4 == 0 else "US", methods[i - 1], CREATED_AT)

        self.w.write(Client, ("id", "first_name", "last_name", "company", "email", "country",
                              "default_payment_method", "created_at"), rows())

    # --- billable items ------------------------------------------------------------------

    def due_date(self) -> dt.date:
        return self.spec.first_due + dt.timedelta(days=self.rng.randrange(self.spec.spread_days))

    def services(self) -> None:
        spec, rng = self.spec, self.rng
        n = spec.services
        clients = [rng.randrange(spec.clients) + 1 for _ in range(n)]
        products = rng.choices(self.product_ids, weights=self.product_weights, k=n)
        statuses = _weighted(rng, STATUS_WEIGHTS, n)
        cycles = _weighted(rng, CYCLE_WEIGHTS, n)
        self.service_info = {}  # id -> (client, method, ndd, anchor, cycle, status)
        rows = []
        cancel_requests = []
        for j in range(1, n + 1):
            client, product = clients[j - 1], products[j - 1]
            status, cycle = statuses[j - 1], cycles[j - 1]
            method = self.client_methods[client - 1]
            if rng.random() < 0.05:
                method = "paypal" if method == "banktransfer" else "banktransfer"
            recurring = cycle in CYCLE_MONTHS
            ndd = self.due_date()
            anchor = ndd.day
            if status not in BILLABLE and status != "pending":
                ndd = add_months(ndd, -CYCLE_MONTHS.get(cycle, 1) * 3, anchor)  # ended long ago
            amount = self.product_prices[(product, cycle)] if recurring else 0
            first_payment = amount if recurring else self.product_prices[(product, "monthly")]
            registered = add_months(ndd, -CYCLE_MONTHS.get(cycle, 12) * (spec.history_periods + 1),
                                    anchor)
            auto_terminate = 1 if status in BILLABLE and rng.random() < 0.002 else 0
            domain = f"{WORDS[j % len(WORDS)]}{j}.{TLDS[j % len(TLDS)][0]}"
            rows.append((j, client, product, 1, domain, f"u{j}", status, iso(registered),
                         first_payment, amount, cycle, iso(ndd) if recurring else None, anchor,
                         method, auto_terminate,
                         iso(add_months(ndd, -1, anchor)) if status in ("terminated", "cancelled")
                         else None, CREATED_AT, CREATED_AT))
            if status in BILLABLE and recurring and not auto_terminate and rng.random() < 0.003:
                cancel_requests.append((len(cancel_requests) + 1, j, "end_of_period",
                                        "Moving to another provider", "open", BENCH_ADMIN,
                                        CREATED_AT))
            self.service_info[j] = (client, method, ndd, anchor, cycle, status)
            if status in BILLABLE and recurring and amount > 0:
                label = self.product_names[product] + f" - {domain}"
                self.bill_history("service", j, client, method, ndd, anchor,
                                  CYCLE_MONTHS[cycle], amount, label)
            if len(rows) >= CHUNK:
                self._write_services(rows)
                rows = []
        self._write_services(rows)
        self.w.write(CancellationRequest, ("id", "service_id", "type", "reason", "status",
                                           "requested_by", "created_at"), cancel_requests)

    def _write_services(self, rows) -> None:
        self.w.write(Service, ("id", "client_id", "product_id", "server_id", "domain", "username",
                               "status", "registration_date", "first_payment_amount",
                               "recurring_amount", "billing_cycle", "next_due_date", "anchor_day",
                               "payment_method", "auto_terminate_end_of_cycle", "termination_date",
                               "created_at", "updated_at"), rows)

    def addons(self) -> None:
        rng = self.rng
        rows = []
        addon_id = 0
        for service_id, (client, method, ndd, anchor, cycle, status) in self.service_info.items():
            if rng.random() >= 0.2:
                continue
            addon_id += 1
            catalog = rng.randrange(len(ADDONS)) + 1
            name, cents = ADDONS[catalog - 1]
            addon_cycle = cycle if cycle in CYCLE_MONTHS else "monthly"
            amount = int(cents * CYCLE_PRICE_FACTOR[addon_cycle])
            rows.append((addon_id, service_id, catalog, name, amount, addon_cycle, status,
                         iso(add_months(ndd, -CYCLE_MONTHS[addon_cycle] * 2, anchor)),
                         iso(ndd), anchor))
            if status in BILLABLE:
                self.bill_history("addon", addon_id, client, method, ndd, anchor,
                                  CYCLE_MONTHS[addon_cycle], amount, f"Addon: {name}")
        self.w.write(ServiceAddon, ("id", "service_id", "catalog_addon_id", "name",
                                    "recurring_amount", "billing_cycle", "status",
                                    "registration_date", "next_due_date", "anchor_day"), rows)
        del self.service_info

    def domains(self) -> None:
        spec, rng = self.spec, self.rng
        n = spec.domains
        statuses = _weighted(rng, DOMAIN_STATUS_WEIGHTS, n)
        rows = []
        for k in range(1, n + 1):
            client = rng.randrange(spec.clients) + 1
            method = self.client_methods[client - 1]
            tld, cents = TLDS[rng.randrange(len(TLDS))]
            years = 2 if rng.random() < 0.1 else 1
            name = f"{WORDS[(k * 3) % len(WORDS)]}-{k}.{tld}"
            ndd = self.due_date()
            anchor = ndd.day
            status = statuses[k - 1]
            auto_renew = 0 if rng.random() < 0.05 else 1
            amount = cents * years
            if status != "active":
                ndd = add_months(ndd, -12, anchor)
            rows.append((k, client, name, status, iso(add_months(ndd, -12 * years, anchor)), years,
                         amount, amount, iso(ndd), anchor, iso(ndd), method, auto_renew))
            if status == "active" and auto_renew:
                label = f"Domain renewal - {name} - {years} year{'s' if years > 1 else ''}"
                self.bill_history("domain", k, client, method, ndd, anchor, 12 * years, amount,
                                  label)
            if len(rows) >= CHUNK:
                self._write_domains(rows)
                rows = []
        self._write_domains(rows)

    def _write_domains(self, rows) -> None:
        self.w.write(Domain, ("id", "client_id", "name", "status", "registration_date", "years",
                              "first_payment_amount", "recurring_amount", "next_due_date",
                              "anchor_day", "expiry_date", "payment_method", "auto_renew"), rows)

    # --- invoice history ---------------------------------------------------------------------

    def bill_history(self, item_type, item_id, client, method, ndd, anchor, months, amount,
                     label) -> None:
        """Paid lines for the previous periods; 1 % also have the current period unpaid."""
        for back in range(self.spec.history_periods, 0, -1):
            start = add_months(ndd, -months * back, anchor)
            end = add_months(ndd, -months * (back - 1), anchor)
            self._line(("paid", client, start, method), item_type, item_id, start, end, amount,
                       label)
        if self.rng.random() < 0.01:
            end = add_months(ndd, months, anchor)
            self._line(("unpaid", client, ndd, method), item_type, item_id, ndd, end, amount,
                       label)

    def _line(self, key, item_type, item_id, start, end, amount, label) -> None:
        invoice = self.invoice_totals.get(key)
        if invoice is None:
            invoice = self.invoice_totals[key] = [len(self.invoice_totals) + 1, 0, 0]
        invoice[1] += amount
        sort_order = invoice[2]
        invoice[2] += 1
        paid = key[0] == "paid"
        self.lines.append((self.next_line_id, invoice[0], "renewal", item_type, item_id,
                           iso(start), iso(end), renewal_description(label, start, end), amount,
                           0, CREATED_AT if paid else None, sort_order))
        self.next_line_id += 1
        if len(self.lines) >= CHUNK:
            self.flush_lines()

    def flush_lines(self) -> None:
        self.w.write(InvoiceLine, ("id", "invoice_id", "kind", "item_type", "item_id",
                                   "period_start", "period_end", "description", "amount",
                                   "cancelled", "applied_at", "sort_order"), self.lines)
        self.lines = []

    def invoices(self) -> None:
        def rows():
            for (state, client, due, method), (invoice_id, total, _) in self.invoice_totals.items():
                paid = state == "paid"
                yield (invoice_id, client, "paid" if paid else "unpaid",
                       iso(due - dt.timedelta(days=14)), iso(due),
                       iso(due - dt.timedelta(days=3)) if paid else None, method, total,
                       total if paid else 0, CREATED_AT)

        self.w.write(Invoice, ("id", "client_id", "status", "date", "due_date", "paid_date",
                               "payment_method", "total", "amount_paid", "created_at"), rows())

        def payments():
            payment_id = 0
            for (state, client, due, method), (invoice_id, total, _) in self.invoice_totals.items():
                if state == "paid":
                    payment_id += 1
                    yield (payment_id, invoice_id, total, iso(due - dt.timedelta(days=3)), method,
                           f"TX{invoice_id:09d}", CREATED_AT)

        self.w.write(Payment, ("id", "invoice_id", "amount", "date", "method", "transaction_ref",
                               "created_at"), payments())


def summary_json(summary: BuildSummary) -> str:
    return json.dumps({"rows": summary.rows, "seconds": round(summary.seconds, 2)})
