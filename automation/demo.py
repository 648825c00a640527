"""Demo data: a small, realistic hosting company, built from a seed and a day.

`build_demo` fills a freshly migrated database with admins, servers, a product catalog,
promotions, TLDs, clients with services, addons and domains, their invoice history and a
little of everything the screens show (cancellation requests, module queue, outbox, log).

Everything comes from `random.Random(seed)` and `today`: no wall clock is read, so the
same seed and day give the same rows, ids and timestamps included, on either engine.

The billing history is what the order, renewal and payment code would have written: an
item's periods run from its registration date in whole cycles from its anchor day; every
period before the NDD is on a paid invoice; an unpaid renewal line starts at the NDD
(paying it advances the NDD, rules §5). Services suspended for non-payment are exactly the
ones with lines overdue by `suspend_days`, so a daily run on `today` finds no billing,
suspension or termination left to do. Prices come from the catalog through the
promotion and domain pricing rules of `models/`.

The catalog (servers, products with prices and options, catalog addons, promotions, TLDs),
the client groups and the clients go in through the same functions an admin's screens and
the CLI call (`models.products`, `models.clients`, ...), acting as the `system` login, with
their moments given so that no wall clock is read. The billing history is what the order,
renewal and payment code would have written: its rows are collected in memory with their
ids chosen here, then written table by table in batched multi-row INSERTs, all in one
transaction; on PostgreSQL the id sequences are then moved past them. Client emails use
reserved `.example` domains, so nothing queued here can reach a real mailbox. Service passwords and EPP codes are encrypted (`models.secrets`).
"""

from __future__ import annotations

import json
import logging
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import pendulum
from peewee import fn

from hostdesk.models import (
    catalog,
    catalog_addons,
    clients,
    payment_methods,
    products,
    promotion_setup,
    promotions,
    secrets,
    tlds,
)
from hostdesk.models.cycles import Cycle, add_months_anchored
from hostdesk.models.db import database, is_postgres, is_sqlite
from hostdesk.models.domains import DomainAddons, domain_price
from hostdesk.models.errors import ValidationError
from hostdesk.models.invoicing import OVERDUE_REASON
from hostdesk.models.money import installation_currency, round_money
from hostdesk.models.permissions import SYSTEM_ADMIN, SYSTEM_LOGIN
from hostdesk.models.schema import (
    ALL_TABLES,
    ActivityLog,
    Admin,
    CancellationRequest,
    CatalogAddon,
    Client,
    CreditEntry,
    Domain,
    EmailLog,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    ItemType,
    LineKind,
    ModuleJob,
    Order,
    Payment,
    Product,
    Promotion,
    Server,
    Service,
    ServiceAddon,
    ServiceConfigOption,
    ServiceStatus,
    Tld,
)
from hostdesk.models.settings import Settings

Date = pendulum.Date
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
AUTO_TERMINATE_REASON = "Client is moving the server in-house"
RULES = Settings()  # the rulebook defaults: the data looks right to a default daily run
MODULES = ("none",)  # the demo catalog provisions with the built-in module that records only

# --- the catalog -------------------------------------------------------------------------

SIX_CYCLES = ("monthly", "quarterly", "semiannually", "annually", "biennially", "triennially")
CYCLE_DISCOUNT = {
    "monthly": Decimal(1), "quarterly": Decimal("0.97"), "semiannually": Decimal("0.94"),
    "annually": Decimal("0.85"), "biennially": Decimal("0.80"), "triennially": Decimal("0.75"),
}


@dataclass(frozen=True)
class ProductSpec:
    name: str
    group: str
    type: str
    kind: str  # how the demo uses it: shared, reseller, vps, dedicated, free, trial, one_time
    monthly: str  # monthly price; the one price for free and one_time products
    cycles: tuple
    servers: tuple
    auto_setup: str
    welcome_email: str
    weight: int  # how often clients buy it
    setup_fees: tuple = ()  # (cycle, fee) pairs
    allows_quantity: bool = False
    auto_terminate_days: int = 0
    termination_email: str = ""
    description: str = ""


PRODUCTS = (
    ProductSpec("Starter Hosting", "Shared Hosting", "shared", "shared", "3.99", SIX_CYCLES,
                ("web01", "web02"), "on_payment", "welcome_shared", 18,
                setup_fees=(("monthly", "5.00"),), description="1 website, 10 GB SSD, free SSL"),
    ProductSpec("Business Hosting", "Shared Hosting", "shared", "shared", "7.99", SIX_CYCLES,
                ("web01", "web02"), "on_payment", "welcome_shared", 20,
                setup_fees=(("monthly", "5.00"),), description="10 websites, 50 GB SSD, daily backups"),
    ProductSpec("Pro Hosting", "Shared Hosting", "shared", "shared", "14.99", SIX_CYCLES,
                ("web02",), "on_payment", "welcome_shared", 12,
                description="Unlimited websites, 100 GB NVMe, staging"),
    ProductSpec("Reseller Bronze", "Reseller Hosting", "reseller", "reseller", "24.99",
                ("monthly", "annually"), ("reseller01",), "on_order", "welcome_reseller", 4,
                setup_fees=(("monthly", "15.00"),), description="25 cPanel accounts, 100 GB"),
    ProductSpec("Reseller Silver", "Reseller Hosting", "reseller", "reseller", "44.99",
                ("monthly", "annually"), ("reseller01",), "on_order", "welcome_reseller", 2,
                setup_fees=(("monthly", "15.00"),), description="60 cPanel accounts, 250 GB"),
    ProductSpec("VPS Small", "VPS", "vps", "vps", "12.00",
                ("monthly", "quarterly", "semiannually", "annually"), ("vps-node01", "vps-node02"),
                "on_accept", "welcome_vps", 9, allows_quantity=True, description="2 vCPU, 2 GB RAM"),
    ProductSpec("VPS Medium", "VPS", "vps", "vps", "24.00",
                ("monthly", "quarterly", "semiannually", "annually"), ("vps-node01", "vps-node02"),
                "on_accept", "welcome_vps", 7, allows_quantity=True, description="4 vCPU, 4 GB RAM"),
    ProductSpec("VPS Large", "VPS", "vps", "vps", "48.00",
                ("monthly", "quarterly", "semiannually", "annually"), ("vps-node02",),
                "on_accept", "welcome_vps", 4, allows_quantity=True, description="8 vCPU, 8 GB RAM"),
    ProductSpec("Dedicated E-2388G", "Dedicated Servers", "dedicated", "dedicated", "129.00",
                ("monthly", "annually"), ("dedicated-pool",), "never", "welcome_dedicated", 3,
                setup_fees=(("monthly", "99.00"),), allows_quantity=True,
                description="8 cores, 64 GB ECC, 2 x 960 GB NVMe"),
    ProductSpec("Dedicated EPYC 7443P", "Dedicated Servers", "server", "dedicated", "249.00",
                ("monthly", "annually"), ("dedicated-pool",), "never", "welcome_dedicated", 1,
                setup_fees=(("monthly", "149.00"),), description="24 cores, 256 GB ECC"),
    ProductSpec("Free Starter Site", "Free & Trials", "shared", "free", "0.00", ("free",),
                ("web02",), "on_order", "welcome_shared", 6, description="1 website, 1 GB"),
    ProductSpec("Hosting Trial (30 days)", "Free & Trials", "shared", "trial", "1.00", ("monthly",),
                ("web01",), "on_order", "welcome_shared", 3, auto_terminate_days=30,
                termination_email="service_terminated", description="Business Hosting for 30 days"),
    ProductSpec("Website Migration", "Professional Services", "other", "one_time", "49.00",
                ("one_time",), (), "never", "", 4, allows_quantity=True,
                description="We move one website for you"),
)

SERVERS = (  # name, hostname, ip, max accounts
    ("web01", "web01.hostdesk-demo.example", "192.0.2.10", 800),
    ("web02", "web02.hostdesk-demo.example", "192.0.2.11", 800),
    ("reseller01", "res01.hostdesk-demo.example", "192.0.2.20", 300),
    ("vps-node01", "kvm01.hostdesk-demo.example", "192.0.2.30", 120),
    ("vps-node02", "kvm02.hostdesk-demo.example", "192.0.2.31", 120),
    ("dedicated-pool", "ipmi.hostdesk-demo.example", "192.0.2.40", 0),
)

VPS_OPTIONS = (  # name, type, ((choice, monthly price), ...), weights
    ("Memory", "dropdown", (("Standard", "0.00"), ("+2 GB RAM", "4.00"), ("+6 GB RAM", "10.00")),
     (60, 30, 10)),
    ("Extra IPv4 Addresses", "quantity", (("IPv4 address", "2.50"),), None),
)

CATALOG_ADDONS = (  # name, ((cycle, price, setup), ...), product kinds, welcome email
    ("Daily Backups", (("monthly", "2.00", "0"), ("quarterly", "5.70", "0"), ("annually", "20.00", "0")),
     ("shared", "reseller", "vps"), ""),
    ("Dedicated IP", (("monthly", "3.00", "2.00"), ("annually", "30.00", "0")), ("shared", "reseller"), ""),
    ("SSL Certificate", (("annually", "49.00", "0"),), ("shared", "reseller", "vps", "dedicated"),
     ""),
    ("Priority Support",
     (("monthly", "15.00", "0"), ("quarterly", "42.00", "0"), ("annually", "150.00", "0")),
     ("vps", "dedicated"), ""),
)
CUSTOM_ADDONS = (("Extra 10 GB Storage", "2.50"), ("Managed WordPress Updates", "9.00"))

TLDS = (  # name, register, transfer, renew, min, max, dns, email fwd, id protection, epp
    ("com", "12.99", "12.99", "14.99", 1, 10, "2.00", "1.50", "4.99", True),
    ("net", "14.99", "14.99", "16.99", 1, 10, "2.00", "1.50", "4.99", True),
    ("org", "13.99", "13.99", "15.99", 1, 10, "2.00", "1.50", "4.99", True),
    ("io", "39.00", "39.00", "45.00", 1, 5, "2.00", "1.50", "0.00", True),
    ("co.uk", "8.99", "0.00", "8.99", 1, 10, "2.00", "1.50", "0.00", False),
    ("de", "7.99", "7.99", "7.99", 1, 1, "2.00", "1.50", "0.00", True),
    ("nl", "8.49", "8.49", "8.49", 1, 1, "2.00", "1.50", "0.00", True),
    ("fr", "9.99", "9.99", "9.99", 1, 10, "2.00", "1.50", "0.00", True),
    ("eu", "6.99", "6.99", "8.99", 1, 10, "2.00", "1.50", "0.00", True),
    ("dev", "15.99", "15.99", "15.99", 1, 10, "2.00", "1.50", "4.99", True),
)
COUNTRY_TLD = {"GB": "co.uk", "DE": "de", "NL": "nl", "FR": "fr", "IE": "eu", "ES": "eu", "SE": "eu"}

# --- people --------------------------------------------------------------------------------

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Sophie", "Lucas", "Mia", "Elias", "Hannah", "Mateo",
    "Zoë", "José", "Amelia", "Finn", "Chloé", "Jonas", "Isabella", "Leon", "Aisha", "Omar",
    "Priya", "Arjun", "Yuki", "Haruto", "Fatima", "Mehmet", "Elena", "Marco", "Ingrid", "Lars",
    "Siobhan", "Cian", "Ana", "João", "Renée", "Thomas", "Grace", "Daniel", "Chen", "Wei",
    "Nadia", "Ivan", "Camille", "Hugo", "Lena", "Felix", "Maya", "Samuel", "Clara", "Theo",
)
LAST_NAMES = (
    "Smith", "Johnson", "Müller", "Schmidt", "García", "Martínez", "Rossi", "Bianchi", "Dubois",
    "Lefèvre", "Jansen", "de Vries", "O'Brien", "Murphy", "Nguyen", "Kim", "Tanaka", "Sato",
    "Patel", "Sharma", "Silva", "Santos", "Andersson", "Johansson", "Kowalski", "Novak", "Brown",
    "Taylor", "Wilson", "Evans", "Walker", "Hughes", "Fischer", "Weber", "Moreau", "Laurent",
    "Bakker", "Visser", "Costa", "Ferreira", "Okafor", "Mensah", "Haddad", "Cohen", "Lindqvist",
    "Berg", "Clarke", "Wright", "Hall", "Young",
)
COMPANY_WORDS = (
    "Northwind", "Bluebird", "Evergreen", "Silverline", "Redwood", "Brightside", "Harbor",
    "Summit", "Maple", "Cobalt", "Juniper", "Lighthouse", "Foxglove", "Granite", "Willow",
    "Aurora", "Riverbend", "Ironclad", "Sunflower", "Pinecrest", "Oakridge", "Starling",
    "Copperleaf", "Meadow",
)
COMPANY_TRADES = (
    "Bakery", "Studio", "Consulting", "Media", "Labs", "Design", "Legal", "Dental", "Architects",
    "Travel", "Fitness", "Coffee", "Robotics", "Photography", "Logistics", "Garden Centre",
    "Accounting", "Books", "Veterinary", "Events",
)
COUNTRIES = (  # code, weight, phone prefix, company suffixes, ((city, postcode), ...)
    ("US", 24, "+1", ("LLC", "Inc."), (("New York", "10001"), ("Austin", "73301"), ("Seattle", "98101"))),
    ("GB", 14, "+44", ("Ltd",), (("London", "EC1A 1BB"), ("Manchester", "M1 1AE"), ("Leeds", "LS1 4AP"))),
    ("DE", 12, "+49", ("GmbH",), (("Berlin", "10115"), ("München", "80331"), ("Hamburg", "20095"))),
    ("FR", 7, "+33", ("SARL", "SAS"), (("Paris", "75001"), ("Lyon", "69001"))),
    ("NL", 7, "+31", ("B.V.",), (("Amsterdam", "1012 AB"), ("Utrecht", "3511 AD"))),
    ("CA", 6, "+1", ("Inc.", "Ltd"), (("Toronto", "M5H 2N2"), ("Vancouver", "V6B 1A1"))),
    ("AU", 5, "+61", ("Pty Ltd",), (("Sydney", "2000"), ("Melbourne", "3000"))),
    ("ES", 5, "+34", ("S.L.",), (("Madrid", "28001"), ("Barcelona", "08001"))),
    ("IE", 4, "+353", ("Ltd",), (("Dublin", "D02 X285"), ("Cork", "T12 RC3K"))),
    ("SE", 4, "+46", ("AB",), (("Stockholm", "111 20"), ("Göteborg", "411 03"))),
    ("IN", 5, "+91", ("Pvt Ltd",), (("Bengaluru", "560001"), ("Pune", "411001"))),
    ("BR", 4, "+55", ("Ltda",), (("São Paulo", "01000-000"), ("Curitiba", "80010-000"))),
)
STREETS = ("High Street", "Station Road", "Main Street", "Church Lane", "Mill Road", "Park Avenue",
           "Oak Street", "Market Square", "Harbour Way", "Elm Grove")
PAYMENT_METHODS = ("banktransfer", "card", "paypal")

SUSPENSION_REASONS = ("Abuse report: phishing page", "Resource abuse: sustained 100% CPU",
                      "Requested by the client while travelling", "Outgoing spam detected")
CANCEL_REASONS = ("Moving to another provider", "Project finished", "Too expensive",
                  "Merged into our main account", "No longer needed")

# Service behaviours (what the billing history looks like) and the status each leaves.
BEHAVIOUR_STATUS = {
    "current": "active", "legacy_price": "active", "promoted": "active", "month_end": "active",
    "grace": "active", "override": "active", "auto_terminate": "active",
    "overdue_suspended": "suspended", "custom_suspended": "suspended", "pending": "pending",
    "terminated": "terminated", "trial_ended": "terminated", "cancelled": "cancelled",
    "completed": "completed", "fraud": "fraud",
}
RECURRING_BEHAVIOURS = (  # weights for a recurring service of an active client
    ("current", 70), ("grace", 3), ("override", 1), ("overdue_suspended", 4),
    ("custom_suspended", 1), ("pending", 3), ("terminated", 6), ("cancelled", 7), ("fraud", 1),
    ("auto_terminate", 1),
)
CYCLE_WEIGHTS = {"monthly": 45, "quarterly": 8, "semiannually": 7, "annually": 30, "biennially": 5,
                 "triennially": 5, "free": 1, "one_time": 1}
MAX_HISTORY_MONTHS = 42  # how far back registrations go

# --- small helpers --------------------------------------------------------------------------


def _money(text: str) -> Decimal:
    return Decimal(text).quantize(CENT)


def _cycle_price(monthly: Decimal, cycle: str) -> Decimal:
    """A price point for the cycle: the monthly price with the cycle's discount, ending in .99."""
    if cycle == "monthly":
        return monthly
    raw = monthly * Cycle(cycle).months * CYCLE_DISCOUNT[cycle]
    return Decimal(int(raw)) - CENT


def _option_price(monthly: Decimal, cycle: str) -> Decimal:
    return round_money(monthly * Cycle(cycle).months * CYCLE_DISCOUNT[cycle])


def _ascii_slug(text: str, sep: str = "") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", sep, plain).strip(sep)


def _period_label(start: Date, end: Date | None) -> str:
    """` (2026-01-05 - 2026-02-04)`: the days a line pays for, the last one included."""
    if end is None:
        return ""
    return f" ({start.isoformat()} - {end.subtract(days=1).isoformat()})"


def _months(cycle: str) -> int | None:
    return Cycle(cycle).months


@dataclass
class Period:
    start: Date
    end: Date | None
    paid: bool


@dataclass(frozen=True)
class Pricing:
    first_amount: Decimal  # the first period's line: price (or promotion price) and options
    setup_fee: Decimal
    discount: Decimal  # the promotion discount on the first invoice (positive)
    recurring: Decimal
    promo: dict | None
    options: list  # (option id, choice id, quantity)
    option_label: str
    notes: str


@dataclass
class Catalog:
    products: list = field(default_factory=list)  # of dict: spec, id, prices, options, addons
    addons: dict = field(default_factory=dict)  # id -> (name, {cycle: (price, setup)})
    promotions: dict = field(default_factory=dict)  # code -> row dict, with "model": Promotion
    tlds: dict = field(default_factory=dict)  # name -> Tld (unsaved: for the pricing rules)
    servers: dict = field(default_factory=dict)  # name -> id


# --- rows and ids --------------------------------------------------------------------------


class Rows:
    """Rows per table with ids chosen in advance, written in dependency order.

    A row must name every column whose default is computed (timestamps), so no wall clock
    ever reaches the demo data."""

    def __init__(self):
        self.tables = {model: [] for model in ALL_TABLES}
        self.next_id = {}
        self.created_elsewhere: set = set()  # kept here for the summary, written by a function

    def start_ids(self) -> None:
        for model in ALL_TABLES:
            if model._meta.primary_key.name == "id":
                self.next_id[model] = (model.select(fn.MAX(model.id)).scalar() or 0) + 1

    def reserve(self, model) -> int:
        row_id = self.next_id[model]
        self.next_id[model] = row_id + 1
        return row_id

    def add(self, model, row_id: int | None = None, **values) -> int:
        values["id"] = self.reserve(model) if row_id is None else row_id
        self.tables[model].append(values)
        return values["id"]

    def count(self, model) -> int:
        return len(self.tables[model])

    def write(self) -> None:
        for model in ALL_TABLES:
            rows = self.tables[model]
            if not rows or model in self.created_elsewhere:
                continue
            if model is ActivityLog:  # nothing refers to these ids; functions wrote log rows too
                first = (model.select(fn.MAX(model.id)).scalar() or 0) + 1
                for offset, row in enumerate(rows):
                    row["id"] = first + offset
            fields = model._meta.sorted_fields
            defaults = [_static_default(f) for f in fields]
            names = [f.name for f in fields]
            required = [n for n, d in zip(names, defaults) if d is _MISSING]
            for row in rows:
                if any(n not in row for n in required):
                    raise ValueError(f"demo rows for {model.__name__} must set {', '.join(required)}")
            tuples = [tuple(row[n] if n in row else d for n, d in zip(names, defaults)) for row in rows]
            _insert_batches(model, fields, tuples)
            if is_postgres():
                table = model._meta.table_name
                database.execute_sql(
                    f'SELECT setval(pg_get_serial_sequence(%s, %s), (SELECT MAX(id) FROM "{table}"))',
                    (f'"{table}"', "id"))


_MISSING = object()


def _insert_batches(model, fields, tuples) -> None:
    """Multi-row INSERTs of up to ~30,000 parameters (SQLite's and PostgreSQL's limits).

    The statement `insert_many` would build, written once per batch size: peewee's query
    builder costs more per value than the database does (two thirds of a 2,000-client
    build). Values still go through each field's `db_value`, so money is cents and dates
    are stored exactly as the models store them."""
    real = database.obj
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    converters = [f.db_value for f in fields]
    one_row = "(" + ", ".join([real.param] * len(fields)) + ")"
    batch = max(1, min(1000, 30000 // len(fields)))
    head = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES '
    for start in range(0, len(tuples), batch):
        chunk = tuples[start:start + batch]
        params = [convert(value) for row in chunk for convert, value in zip(converters, row)]
        database.execute_sql(head + ", ".join([one_row] * len(chunk)), params)


def restart_sequences() -> None:
    """On PostgreSQL, each id sequence restarts after the table's largest id, so a rebuild
    in an emptied database gives the same ids (SQLite does this by itself)."""
    if not is_postgres():
        return
    for model in ALL_TABLES:
        if model._meta.primary_key.name != "id":
            continue
        table = model._meta.table_name
        database.execute_sql(
            f'SELECT setval(pg_get_serial_sequence(%s, %s), '
            f'COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)', (f'"{table}"', "id"))


def _static_default(field_):
    """A column's default when it is a constant; _MISSING when the row must give a value."""
    if field_.default is None:
        if field_.null or field_.name == "id":
            return None
        return _MISSING
    if callable(field_.default):
        return _MISSING
    return field_.default


# --- the builder ---------------------------------------------------------------------------


class DemoBuilder:
    def __init__(self, seed: int, clients: int, today: Date, owner_login: str):
        self.rng = random.Random(seed)
        self.seed = seed
        self.client_count = clients
        self.today = today
        self.owner_login = owner_login
        self.rows = Rows()
        self.catalog = Catalog()
        self.domain_names: set[str] = set()
        self.usernames: set[str] = set()
        self.order_numbers: set[str] = set()
        self.ip_counter = 0
        self.staff = [owner_login]
        # per client, reset for each: invoices by grouping key, the early-payment choice per due date
        self.open_invoices: dict = {}
        self.pays_early: dict = {}
        # services the finishing touches pick from, by behaviour
        self.by_behaviour: dict[str, list] = {}
        self.cancellable: list = []

    # -- helpers

    def moment(self, day: Date, start_hour: int = 8, end_hour: int = 19) -> pendulum.DateTime:
        return pendulum.datetime(day.year, day.month, day.day, self.rng.randint(start_hour, end_hour),
                                 self.rng.randint(0, 59), self.rng.randint(0, 59), tz="UTC")

    def days_ago(self, low: int, high: int) -> Date:
        return self.today.subtract(days=self.rng.randint(low, high))

    def early_day(self, low: int, high: int) -> Date:
        """A day `low`..`high` days before today whose day of month is at most 28, so that a
        due date there is exactly on its anchor day."""
        while True:
            day = self.days_ago(low, high)
            if day.day <= 28:
                return day

    def weighted(self, pairs):
        values, weights = zip(*pairs)
        return self.rng.choices(values, weights=weights)[0]

    def next_ip(self) -> str:
        self.ip_counter += 1
        n = self.ip_counter
        if n <= 250:
            return f"198.51.100.{n + 2}"
        if n <= 500:
            return f"203.0.113.{n - 248}"
        n -= 500
        return f"198.18.{n // 250}.{n % 250 + 2}"

    def unique_domain(self, base: str, tld: str) -> str:
        candidates = [base, f"{base}-online", f"my{base}", f"{base}hq", f"get{base}"]
        for name in candidates:
            if f"{name}.{tld}" not in self.domain_names:
                break
        else:
            counter = 2
            while f"{base}{counter}.{tld}" in self.domain_names:
                counter += 1
            name = f"{base}{counter}"
        domain = f"{name}.{tld}"
        self.domain_names.add(domain)
        return domain

    def unique_username(self, domain: str) -> str:
        base = re.sub(r"[^a-z]", "", domain.split(".")[0])[:8] or "user"
        name, counter = base, 1
        while name in self.usernames:
            counter += 1
            name = f"{base[:7]}{counter}"
        self.usernames.add(name)
        return name

    def order_number(self) -> str:
        while True:
            number = str(self.rng.randrange(10**9, 10**10))
            if number not in self.order_numbers:
                self.order_numbers.add(number)
                return number

    def log(self, day: Date, action: str, object_type: str, object_id, client_id, description: str,
            login: str | None = None, before=None, after=None) -> None:
        self.rows.add(ActivityLog, at=self.moment(day), admin_login=login or self.owner_login,
                      action=action, object_type=object_type, object_id=object_id,
                      client_id=client_id, description=description,
                      before=json.dumps(before, sort_keys=True) if before is not None else "",
                      after=json.dumps(after, sort_keys=True) if after is not None else "")

    # -- the whole build

    def build(self) -> str:
        restart_sequences()
        # The catalog and the client groups go in through the functions an admin uses, so
        # the demo is what a host setting up from zero gets; the billing history after them
        # is rows (see the module docstring). Their ids are taken first.
        self.build_catalog()
        groups = self.build_client_groups()
        self.rows.start_ids()
        self.build_admins()
        plans = self.coverage_plans()
        per_client = max(2, -(-len(plans) // self.client_count))
        for index in range(self.client_count):
            forced = [plans.pop(0) for _ in range(min(per_client, len(plans)))]
            self.build_client(index, groups, forced)
        self.count_promotion_uses()
        self.renumber_invoices()
        self.build_payments()
        self.build_cancellation_requests()
        self.build_module_jobs()
        self.build_emails()
        self.log(self.today, "demo.build", "system", None, None,
                 f"demo data built with seed {self.seed} for {self.client_count} clients")
        self.add_clients()
        self.rows.write()
        return self.summary()

    # -- admins and catalog

    def build_admins(self) -> None:
        wanted = ((self.owner_login, self.owner_login, "full"), ("sales", "Nora Patel", "sales"),
                  ("support", "Tomás Reyes", "support"))
        existing = {a.login for a in Admin.select(Admin.login)}
        for login, name, role in wanted:
            if login in existing:
                continue
            existing.add(login)
            day = self.days_ago(1200, 1400)
            admin_id = self.rows.add(Admin, login=login, name=name, role=role, active=True,
                                     email=f"{_ascii_slug(login, '.') or 'admin'}@hostdesk-demo.example",
                                     created_at=self.moment(day))
            self.log(day, "admin.create", "admin", admin_id, None, f"admin {login} ({role})",
                     login=SYSTEM_LOGIN, after={"login": login, "role": role})
        self.staff = [self.owner_login, "sales", "support"]

    def setup_moment(self) -> pendulum.DateTime:
        """When the host set its catalog up: before any client."""
        return self.moment(self.today.subtract(days=MAX_HISTORY_MONTHS * 31 + 30))

    def build_catalog(self) -> None:
        listed = {m.name for m in payment_methods.list_payment_methods()}
        for order, name in enumerate(PAYMENT_METHODS):
            if name not in listed:
                payment_methods.add_payment_method({"name": name, "sort_order": order},
                                                   admin=SYSTEM_ADMIN,
                                                   at=self.setup_moment())
        for name, hostname, ip, max_accounts in SERVERS:
            self.catalog.servers[name] = catalog.add_server(
                {"name": name, "hostname": hostname, "ip_address": ip, "module": "none",
                 "max_accounts": max_accounts}, admin=SYSTEM_ADMIN, modules=MODULES,
                at=self.setup_moment()).id
        for spec in PRODUCTS:
            self.build_product(spec)
        self.build_catalog_addons()
        self.build_promotions()
        for name, reg, transfer, renew, low, high, dns, email, idp, epp in TLDS:
            view = tlds.add_tld(
                {"name": f".{name}", "register_price": reg, "transfer_price": transfer,
                 "renew_price": renew, "min_years": low, "max_years": high,
                 "dns_management_price": dns, "email_forwarding_price": email,
                 "id_protection_price": idp, "epp_required": epp},
                admin=SYSTEM_ADMIN, at=self.setup_moment())
            self.catalog.tlds[name] = Tld.get_by_id(view.id)

    def build_product(self, spec: ProductSpec) -> None:
        monthly, setup_fees = _money(spec.monthly), dict(spec.setup_fees)
        prices = {}
        for cycle in spec.cycles:
            price = monthly if cycle in ("free", "one_time") else _cycle_price(monthly, cycle)
            prices[cycle] = (price, _money(setup_fees.get(cycle, "0")))
        detail = products.add_product({
            "name": spec.name, "group_name": spec.group, "type": spec.type,
            "description": spec.description, "module": "none",
            "server": spec.servers[0] if spec.servers else "",
            "module_settings": {"plan": _ascii_slug(spec.name, "_")},
            "auto_setup": spec.auto_setup, "welcome_email": spec.welcome_email,
            "upgrade_email": "upgrade_confirmation" if spec.kind in ("shared", "vps", "reseller")
            else "", "termination_email": spec.termination_email,
            "auto_terminate_days": spec.auto_terminate_days,
            "allows_quantity": spec.allows_quantity,
            "prices": {cycle: (str(price), str(fee)) for cycle, (price, fee) in prices.items()}},
            admin=SYSTEM_ADMIN, modules=MODULES, at=self.setup_moment())
        servers = [self.catalog.servers[s] for s in spec.servers]
        options = self.build_vps_options(detail, spec.cycles) if spec.kind == "vps" else []
        self.catalog.products.append(dict(spec=spec, id=detail.id, prices=prices, servers=servers,
                                          options=options, addons=[]))

    def build_vps_options(self, detail, cycles) -> list:
        version = detail.version
        for order, (name, option_type, choices, _) in enumerate(VPS_OPTIONS):
            detail = products.add_config_option(detail.id, version, {
                "name": name, "option_type": option_type, "sort_order": order,
                "choices": [{"name": choice_name, "sort_order": choice_order,
                             "prices": {c: str(_option_price(_money(monthly), c)) for c in cycles}}
                            for choice_order, (choice_name, monthly) in enumerate(choices)]},
                admin=SYSTEM_ADMIN, at=self.setup_moment())
            version = detail.version
        options = []
        for option, (_, _, _, weights) in zip(detail.options, VPS_OPTIONS):
            built = [(choice.id, choice.name, {c: _money(p["price"]) for c, p in choice.prices.items()})
                     for choice in option.choices]
            options.append(dict(id=option.id, name=option.name, type=option.option_type,
                                choices=built, weights=weights))
        return options

    def build_catalog_addons(self) -> None:
        for name, prices, kinds, welcome in CATALOG_ADDONS:
            fitting = [p for p in self.catalog.products if p["spec"].kind in kinds]
            view = catalog_addons.add_catalog_addon(
                {"name": name, "module": "none", "auto_setup": "on_payment",
                 "welcome_email": welcome,
                 "prices": {cycle: (price, setup) for cycle, price, setup in prices},
                 "products": [f"#{p['id']}" for p in fitting]},
                admin=SYSTEM_ADMIN, modules=MODULES, at=self.setup_moment())
            self.catalog.addons[view.id] = (name, {cycle: (_money(price), _money(setup))
                                                   for cycle, price, setup in prices})
            for product in fitting:
                product["addons"].append(view.id)

    def build_promotions(self) -> None:
        by_kind = {}
        for product in self.catalog.products:
            by_kind.setdefault(product["spec"].kind, []).append(product["id"])
        vps_large = [p["id"] for p in self.catalog.products if p["spec"].name == "VPS Large"]
        today = self.today
        promotions = (
            dict(code="WELCOME10", type="percentage", value="10", notes="10% off the first invoice",
                 products=by_kind["shared"] + by_kind["reseller"]),
            dict(code="ANNUAL15", type="percentage", value="15", recurring=True,
                 cycles="annually,biennially,triennially", notes="15% off for life on yearly plans",
                 products=by_kind["shared"]),
            dict(code="SAVE5", type="fixed", value="5.00", notes="5.00 off the first VPS invoice",
                 products=by_kind["vps"]),
            dict(code="VPSL2999", type="price_override", value="29.99", recurring=True, cycles="monthly",
                 notes="VPS Large for 29.99 a month", products=vps_large),
            dict(code="FREESETUP", type="free_setup", value="0", cycles="monthly",
                 notes="No setup fee on monthly plans", products=by_kind["dedicated"] + by_kind["reseller"]),
            dict(code="LOYAL2", type="fixed", value="2.00", recurring=True, recur_for=3,
                 notes="2.00 off the first three renewals", products=[]),
            dict(code="SPRING20", type="percentage", value="20", start_date=today.subtract(days=130),
                 expiry_date=today.subtract(days=70), notes="Spring sale (over)", products=[]),
            dict(code="LAUNCH50", type="fixed", value="50.00", max_uses=25, uses=25,
                 notes="Launch offer, first 25 orders", products=by_kind["dedicated"]),
        )
        for promo in promotions:
            row = {"recurring": False, "recur_for": 0, "cycles": "", "start_date": None,
                   "expiry_date": None, "max_uses": 0, "uses": 0, **promo}
            recurring = (str(row["recur_for"]) if row["recur_for"] else "always") \
                if row["recurring"] else "first"
            view = promotion_setup.add_promotion(
                {"code": row["code"], "type": row["type"], "value": row["value"],
                 "recurring": recurring, "cycles": row["cycles"],
                 "products": [f"#{pid}" for pid in row["products"]],
                 "start_date": row["start_date"].isoformat() if row["start_date"] else "",
                 "expiry_date": row["expiry_date"].isoformat() if row["expiry_date"] else "",
                 "max_uses": row["max_uses"], "notes": row["notes"]},
                admin=SYSTEM_ADMIN, at=self.setup_moment())
            row["id"], row["value"] = view.id, _money(row["value"])
            row["model"] = Promotion.get_by_id(view.id)
            self.catalog.promotions[row["code"]] = row

    def build_client_groups(self) -> list:
        groups = []
        for name, separate in (("Agencies", True), ("Resellers", False), ("Non-profit", False)):
            view = clients.add_client_group({"name": name, "separate_invoices": separate},
                                            admin=SYSTEM_ADMIN, at=self.setup_moment())
            groups.append((view.id, separate))
        return groups

    # -- which services exist

    def product(self, name: str) -> dict:
        return next(p for p in self.catalog.products if p["spec"].name == name)

    def coverage_plans(self) -> list:
        """Services that make every status, cycle and special case appear, whatever the seed."""
        shared = self.product("Business Hosting")
        vps = self.product("VPS Medium")
        plans = [(shared, cycle, "current") for cycle in SIX_CYCLES]
        plans += [
            (self.product("Starter Hosting"), "annually", "legacy_price"),
            (self.product("Business Hosting"), "annually", "promoted"),
            (self.product("Starter Hosting"), "monthly", "month_end"),
            (self.product("Free Starter Site"), "free", "current"),
            (self.product("Website Migration"), "one_time", "completed"),
            (self.product("Website Migration"), "one_time", "pending"),
            (self.product("Starter Hosting"), "monthly", "grace"),
            (vps, "monthly", "override"),
            (shared, "monthly", "overdue_suspended"),
            (vps, "quarterly", "overdue_suspended"),
            (self.product("Pro Hosting"), "annually", "custom_suspended"),
            (shared, "annually", "pending"),
            (self.product("Starter Hosting"), "monthly", "terminated"),
            (self.product("Hosting Trial (30 days)"), "monthly", "trial_ended"),
            (self.product("Hosting Trial (30 days)"), "monthly", "current"),
            (self.product("Reseller Bronze"), "annually", "cancelled"),
            (shared, "monthly", "fraud"),
            (self.product("Dedicated E-2388G"), "monthly", "auto_terminate"),
        ]
        return plans

    def random_plan(self, closed: bool):
        product = self.rng.choices(self.catalog.products,
                                   weights=[p["spec"].weight for p in self.catalog.products])[0]
        kind = product["spec"].kind
        cycles = list(product["prices"])
        cycle = self.rng.choices(cycles, weights=[CYCLE_WEIGHTS[c] for c in cycles])[0]
        if kind == "free":
            behaviour = "cancelled" if closed else self.weighted((("current", 9), ("cancelled", 1)))
        elif kind == "one_time":
            behaviour = "completed" if closed else self.weighted(
                (("completed", 6), ("current", 2), ("pending", 1)))
        elif kind == "trial":
            behaviour = "trial_ended" if closed else self.weighted((("current", 1), ("trial_ended", 3)))
        elif closed:
            behaviour = self.weighted((("terminated", 1), ("cancelled", 1)))
        else:
            behaviour = self.weighted(RECURRING_BEHAVIOURS)
        return product, cycle, behaviour

    # -- clients

    def build_client(self, index: int, groups: list, forced: list) -> None:
        rng = self.rng
        self.open_invoices, self.pays_early = {}, {}
        status = "active"
        if not forced:
            status = self.weighted((("active", 92), ("inactive", 5), ("closed", 3)))
        country = rng.choices(COUNTRIES, weights=[c[1] for c in COUNTRIES])[0]
        code, _, phone_prefix, suffixes, cities = country
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = ""
        if rng.random() < 0.55:
            trading_name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_TRADES)}"
            company = f"{trading_name} {rng.choice(suffixes)}"
        person = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
        if company:
            site = _ascii_slug(trading_name, "-")
            email = f"{person}@{site}.example"
        else:
            site = _ascii_slug(first + last)
            email = f"{person}{index}@{rng.choice(('example.com', 'example.net', 'example.org'))}"
        city, postcode = rng.choice(cities)
        group_id, separate = None, False
        roll = rng.random()
        if roll < 0.06:
            group_id = groups[0][0]
        elif roll < 0.10:
            group_id = groups[1][0]
        elif roll < 0.14:
            group_id = groups[2][0]
        separate = rng.random() < 0.03
        client_id = self.rows.reserve(Client)
        client = dict(id=client_id, status=status, method=self.weighted(
            (("banktransfer", 35), ("card", 45), ("paypal", 20))),
            separate=separate or (group_id is not None and group_id == groups[0][0]),
            tld=COUNTRY_TLD.get(code, "com"), site=site, earliest=self.today)

        plans = list(forced)
        count = self.weighted(((1, 45), (2, 30), (3, 15), (4, 7), (6, 3)))
        while len(plans) < count:
            plans.append(self.random_plan(closed=status != "active"))
        for product, cycle, behaviour in plans:
            self.build_service(client, product, cycle, behaviour)
        if status == "active" and rng.random() < 0.2:
            self.build_domain(client, None, None)
        if index == 0:  # a transfer under way and a lapsed domain, whatever the seed
            for state in ("pending_transfer", "expired"):
                self.build_domain(client, None, None, forced=state)

        since = client["earliest"].subtract(days=rng.randint(0, 3))
        credit = ZERO
        if status == "active" and rng.random() < 0.08:
            credit = Decimal(rng.randint(5, 150)).quantize(CENT)
            self.rows.add(CreditEntry, client=client_id, amount=credit, invoice=None,
                          description="Goodwill credit after the web02 outage",
                          created_at=self.moment(self.days_ago(1, 60)))
        self.rows.add(
            Client, row_id=client_id, first_name=first, last_name=last, company=company, email=email,
            phone=f"{phone_prefix} {rng.randint(200, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            address=f"{rng.randint(1, 240)} {rng.choice(STREETS)}", city=city, postcode=postcode,
            country=code, status=status, group=group_id, separate_invoices=separate, credit=credit,
            default_payment_method=client["method"],
            notes="Prefers contact by email" if rng.random() < 0.05 else "",
            created_at=self.moment(since), version=1)

    # -- services

    def service_dates(self, behaviour: str, cycle: str, kind: str):
        """(registration, stop, unpaid_from, termination_date) for a behaviour.

        Periods start at the registration date; billing stops before `stop` (the service
        ended) and the period starting at `unpaid_from` is the one left unpaid. Windows that
        matter (overdue by 1-4 days, by 6-28 days) use a target due date on day 1-28, so the
        anchored NDD lands exactly on it."""
        months = _months(cycle)
        today = self.today
        if behaviour == "pending":
            registration = self.days_ago(0, 6)
            return registration, None, registration, None
        if behaviour == "fraud":
            registration = self.days_ago(1, 90)
            return registration, registration, None, None
        if behaviour == "trial_ended":
            registration = self.days_ago(31, 300)
            return (registration, add_months_anchored(registration, 1, registration.day), None,
                    registration.add(days=30))
        if kind == "trial":  # a running trial: registered within the last 12 days
            return self.days_ago(0, 12), None, None, None
        if months is None:  # free and one_time
            registration = self.days_ago(14, MAX_HISTORY_MONTHS * 30)
            ended = None
            if behaviour == "cancelled":
                ended = registration.add(days=self.rng.randint(14, (today - registration).days))
            return registration, None, None, ended
        if behaviour == "month_end":  # registered on a 31st: due on the last day of short months
            day = today.subtract(days=40)
            while day.days_in_month != 31:
                day = day.subtract(months=1)
            return pendulum.date(day.year, day.month, 31), None, None, None
        if behaviour in ("current", "legacy_price", "promoted", "custom_suspended"):
            return self.days_ago(1, MAX_HISTORY_MONTHS * 30), None, None, None
        low, high = {
            "grace": (1, RULES.suspend_days - 1), "override": (6, 45),
            "overdue_suspended": (RULES.suspend_days + 1, RULES.terminate_days - 2),
            "terminated": (RULES.terminate_days + 2, 700), "cancelled": (1, 700),
            "auto_terminate": (-min(60, 28 * months), -(RULES.invoice_days_for(cycle) + 1)),
        }[behaviour]
        target = self.early_day(low, high)
        periods = self.rng.randint(1, max(1, MAX_HISTORY_MONTHS // months))
        registration = add_months_anchored(target, -periods * months, target.day)
        if behaviour in ("grace", "override", "overdue_suspended"):
            return registration, None, target, None
        if behaviour == "terminated":
            ended = min(today, target.add(days=self.rng.randint(RULES.terminate_days, 35)))
            return registration, target, None, ended
        if behaviour == "cancelled":
            return registration, target, None, target
        return registration, None, None, None  # auto_terminate: paid up to a due date after the window

    def billing_periods(self, client: dict, registration: Date, months: int | None, anchor: int, *,
                        stop: Date | None, unpaid_from: Date | None, invoice_days: int,
                        ordered: bool) -> tuple[list, Date | None]:
        """The periods invoiced so far and the NDD after them.

        Every period that started by today is invoiced; the next one once it is within
        `invoice_days`; the period at `unpaid_from` and nothing after it is left unpaid
        (standard invoicing). A period inside the invoice window is paid early by some
        clients, the same choice for every item of that client due that day.

        The NDD follows what paying does (rules §5, models/invoicing.py): a renewal line
        moves it to its period's end when paid, so an unpaid renewal leaves it at the
        period's start. An `ordered` item's first period is on the order's first-payment
        line, and an order sets the NDD to the end of that period at once."""
        if months is None:  # one_time: one payment, no NDD once it is paid
            paid = unpaid_from is None or registration < unpaid_from
            return [Period(registration, None, paid)], None if paid else registration
        periods, start = [], registration
        horizon = self.today.add(days=invoice_days)
        while (stop is None or start < stop) and start <= horizon:
            if unpaid_from is not None and start >= unpaid_from:
                paid = False
            elif start > self.today:
                key = (client["id"], start)
                if key not in self.pays_early:
                    self.pays_early[key] = self.rng.random() < 0.35
                paid = self.pays_early[key]
            else:
                paid = True
            end = add_months_anchored(registration, months * (len(periods) + 1), anchor)
            periods.append(Period(start, end, paid))
            if not paid:
                return periods, end if ordered and len(periods) == 1 else start
            start = end
        if ordered and not periods:  # ordered, never invoiced (fraud): as the order left it
            return periods, add_months_anchored(registration, months, anchor)
        return periods, start

    def build_service(self, client: dict, product: dict, cycle: str, behaviour: str) -> None:
        rng, spec = self.rng, product["spec"]
        registration, stop, unpaid_from, terminated_on = self.service_dates(behaviour, cycle, spec.kind)
        client["earliest"] = min(client["earliest"], registration)
        months = _months(cycle)
        service = dict(
            id=self.rows.reserve(Service), client=client, product=product, cycle=cycle,
            anchor=registration.day, registration=registration, status=BEHAVIOUR_STATUS[behaviour],
            behaviour=behaviour, stop=stop, unpaid_from=unpaid_from, terminated_on=terminated_on,
            domain=self.service_domain(client, spec.kind), order=self.rows.reserve(Order),
            method=client["method"] if rng.random() < 0.9 else rng.choice(PAYMENT_METHODS),
            addon_ids=set())
        service["group"] = service["id"] if client["separate"] else None
        pricing = self.service_pricing(product, cycle, behaviour)
        periods, ndd = [], None
        if cycle != "free":
            periods, ndd = self.billing_periods(
                client, registration, months, service["anchor"], stop=stop, unpaid_from=unpaid_from,
                invoice_days=RULES.invoice_days_for(cycle) if months else 0, ordered=True)
        service.update(periods=periods, ndd=ndd, has_unpaid=any(not p.paid for p in periods))
        order_amount, renewals = self.service_lines(service, pricing)
        self.add_order(service, pricing.promo, order_amount)
        self.add_service_row(service, pricing, renewals)
        self.service_events(client, service["id"], behaviour, registration, unpaid_from, terminated_on,
                            service["domain"])
        if months and behaviour in ("current", "grace", "override", "overdue_suspended", "custom_suspended",
                                    "terminated", "cancelled") and rng.random() < 0.25:
            for _ in range(rng.choice((1, 1, 2))):
                self.build_addon(service)
        if spec.kind in ("shared", "reseller", "free") and rng.random() < 0.45:
            self.build_domain(client, service, service["order"])
        self.by_behaviour.setdefault(behaviour, []).append(service)
        if (behaviour == "current" and months and not service["has_unpaid"] and spec.kind != "trial"
                and ndd > self.today.add(days=RULES.invoice_days_for(cycle))):
            self.cancellable.append(service)

    def service_pricing(self, product: dict, cycle: str, behaviour: str) -> "Pricing":
        """The first invoice's amounts and the recurring amount: catalog price and options,
        less a promotion, or now and then a custom (legacy) price."""
        rng = self.rng
        price, setup_fee = product["prices"][cycle]
        options, option_total, option_label = self.pick_options(product, cycle)
        promo = self.pick_promotion(product, cycle, setup_fee, behaviour)
        first_amount = price + option_total
        discount = promotions.discount_for(promo["model"] if promo else None, first_amount, setup_fee)
        recurring = first_amount - discount.recurring
        notes = ""
        if not _months(cycle):
            recurring = ZERO
        elif behaviour == "legacy_price" or (not promo and behaviour == "current"
                                             and product["spec"].kind != "trial" and rng.random() < 0.08):
            recurring = round_money(recurring * Decimal(rng.choice(("0.80", "0.90"))))
            notes = "Legacy price kept after the price change, agreed by sales"
        if promo:
            promo["demo_uses"] = promo.get("demo_uses", 0) + 1
        return Pricing(first_amount, setup_fee, discount.first, recurring, promo, options, option_label,
                       notes)

    def service_lines(self, service: dict, pricing: "Pricing") -> tuple[Decimal, int]:
        """Invoice lines of every period billed so far: the order's first invoice (price, setup
        fee, promotion discount), then one renewal line per period. Returns (order amount,
        renewals). Descriptions read as the order and renewal code writes them."""
        spec, cycle = service["product"]["spec"], service["cycle"]
        name = f"{spec.name} - {service['domain']}" if service["domain"] else spec.name
        order_amount, renewals = ZERO, 0
        for index, period in enumerate(service["periods"]):
            label = f"{name}{_period_label(period.start, period.end)}{pricing.option_label}"
            if index == 0:
                lines = [(LineKind.FIRST, label, pricing.first_amount, period)]
                if pricing.setup_fee:
                    lines.append((LineKind.SETUP, f"Setup fee: {name}", pricing.setup_fee, None))
                if pricing.discount:
                    model = pricing.promo["model"]
                    lines.append((LineKind.DISCOUNT, f"Promotion {model.code} "
                                  f"({promotions.describe(model, RULES.currency)}): {name}",
                                  -pricing.discount, None))
                invoice_day = service["registration"]
            else:
                renewals += 1
                lines = [(LineKind.RENEWAL, label, pricing.recurring, period)]
                invoice_day = max(service["registration"],
                                  period.start.subtract(days=RULES.invoice_days_for(cycle)))
            for kind, text, amount, line_period in lines:
                self.add_line(service["client"], due=period.start, invoice_day=invoice_day,
                              paid=period.paid, method=service["method"], group=service["group"],
                              order_id=service["order"] if index == 0 else None, kind=kind,
                              description=text, amount=amount, item_type=ItemType.SERVICE,
                              item_id=service["id"], period=line_period)
                if index == 0:
                    order_amount += amount
        return order_amount, renewals

    def add_order(self, service: dict, promo: dict | None, amount: Decimal) -> None:
        status = {"pending": "pending", "fraud": "fraud"}.get(service["status"], "active")
        self.rows.add(
            Order, row_id=service["order"], number=self.order_number(), client=service["client"]["id"],
            status=status, payment_method=service["method"], promotion=promo["id"] if promo else None,
            promo_code=promo["code"] if promo else "", amount=amount,
            admin_login=self.rng.choice(("", "", "sales", self.owner_login)),
            notes="Flagged by fraud check: card country mismatch" if status == "fraud" else "",
            created_at=self.moment(service["registration"]), version=1)

    def add_service_row(self, service: dict, pricing: "Pricing", renewals: int) -> None:
        rng, product, behaviour = self.rng, service["product"], service["behaviour"]
        kind, cycle = product["spec"].kind, service["cycle"]
        override_until = None
        if behaviour == "override" and rng.random() < 0.6:
            override_until = self.today.add(days=rng.randint(5, 30))
        reason, changed_on = "", service["terminated_on"] or service["registration"]
        if behaviour == "overdue_suspended":
            reason = OVERDUE_REASON if rng.random() < 0.6 else ""
            changed_on = service["unpaid_from"].add(days=RULES.suspend_days)
        elif behaviour == "custom_suspended":
            reason = rng.choice(SUSPENSION_REASONS)
        if kind in ("vps", "dedicated"):
            username, ip = "root", self.next_ip()
        else:
            username, ip = "" if kind == "one_time" else self.unique_username(service["domain"]), ""
        servers, promo = product["servers"], pricing.promo
        subscription = ""
        if service["method"] == "paypal" and _months(cycle) and rng.random() < 0.4:
            subscription = f"I-{rng.randrange(16**10):010X}"
        self.rows.add(
            Service, row_id=service["id"], client=service["client"]["id"], order=service["order"],
            product=product["id"], server=servers[service["id"] % len(servers)] if servers else None,
            domain=service["domain"], dedicated_ip=ip, username=username,
            password=secrets.encrypt(self.secret(14)) if username else "",
            status=service["status"], registration_date=service["registration"], quantity=1,
            first_payment_amount=pricing.first_amount + pricing.setup_fee - pricing.discount
            if cycle != "free" else ZERO,
            recurring_amount=pricing.recurring, billing_cycle=cycle,
            next_due_date=service["ndd"],
            anchor_day=service["anchor"], payment_method=service["method"],
            promotion=promo["id"] if promo else None,
            promotion_uses=renewals if promo and promo["recurring"] else 0, subscription_id=subscription,
            override_suspend=behaviour == "override", override_suspend_until=override_until,
            auto_terminate_end_of_cycle=behaviour == "auto_terminate",
            auto_terminate_reason=AUTO_TERMINATE_REASON if behaviour == "auto_terminate" else "",
            suspension_reason=reason, termination_date=service["terminated_on"], admin_notes=pricing.notes,
            created_at=self.moment(service["registration"]), updated_at=self.moment(changed_on), version=1)
        for option_id, choice_id, quantity in pricing.options:
            self.rows.add(ServiceConfigOption, service=service["id"], option=option_id, choice=choice_id,
                          quantity=quantity)

    def service_domain(self, client: dict, kind: str) -> str:
        if kind in ("vps", "dedicated"):
            prefix = "vps" if kind == "vps" else "srv"
            return self.unique_domain(f"{prefix}{self.rng.randint(1, 9)}.{client['site']}", client["tld"])
        if kind == "one_time":
            return client.get("main_domain") or self.unique_domain(client["site"], client["tld"])
        tld = client["tld"]
        if self.rng.random() < 0.4:
            tld = self.rng.choice(("com", "net", "org", "io", "dev"))
        domain = self.unique_domain(client["site"], tld)
        client.setdefault("main_domain", domain)
        return domain

    def pick_options(self, product: dict, cycle: str):
        """Configurable options of a VPS: (rows, price per cycle, label for invoice lines)."""
        if not product["options"]:
            return [], ZERO, ""
        rows, total, parts = [], ZERO, []
        for option in product["options"]:
            if option["type"] == "dropdown":
                choice = self.rng.choices(option["choices"], weights=option["weights"])[0]
                rows.append((option["id"], choice[0], 0))
                total += choice[2][cycle]
                if choice[2][cycle]:
                    parts.append(f"{option['name']}: {choice[1]}")
            else:
                choice = option["choices"][0]
                quantity = self.weighted(((0, 70), (1, 15), (2, 10), (4, 5)))
                rows.append((option["id"], choice[0], quantity))
                total += choice[2][cycle] * quantity
                if quantity:
                    parts.append(f"{option['name']}: {quantity}")
        return rows, total, f" [{', '.join(parts)}]" if parts else ""

    def pick_promotion(self, product: dict, cycle: str, setup_fee: Decimal, behaviour: str):
        if behaviour in ("fraud", "legacy_price"):
            return None
        if behaviour != "promoted" and self.rng.random() > 0.15:
            return None
        fitting = []
        for code in ("WELCOME10", "ANNUAL15", "SAVE5", "VPSL2999", "FREESETUP"):
            promo = self.catalog.promotions[code]
            if product["id"] not in promo["products"]:
                continue
            if promo["cycles"] and cycle not in promo["cycles"].split(","):
                continue
            if promo["type"] == "free_setup" and not setup_fee:
                continue
            if promo["type"] == "price_override" and promo["value"] >= product["prices"][cycle][0]:
                continue
            fitting.append(promo)
        return self.rng.choice(fitting) if fitting else None

    def service_events(self, client, service_id, behaviour, registration, unpaid_from, terminated_on,
                       domain) -> None:
        client_id = client["id"]
        self.log(registration, "service.create", "service", service_id, client_id,
                 f"order accepted: {domain or 'service'} #{service_id}", login=self.rng.choice(self.staff))
        if behaviour == "overdue_suspended":
            day = unpaid_from.add(days=RULES.suspend_days)
            self.log(day, "service.suspend", "service", service_id, client_id,
                     f"suspended for non-payment: {domain}", login=SYSTEM_LOGIN,
                     before={"status": "active"}, after={"status": "suspended"})
        elif behaviour == "custom_suspended":
            self.log(self.days_ago(1, 20), "service.suspend", "service", service_id, client_id,
                     f"suspended by an admin: {domain}", login="support",
                     before={"status": "active"}, after={"status": "suspended"})
        elif behaviour in ("terminated", "trial_ended", "cancelled"):
            status = BEHAVIOUR_STATUS[behaviour]
            login = SYSTEM_LOGIN if behaviour != "cancelled" else self.rng.choice(self.staff)
            self.log(terminated_on, f"service.{'cancel' if status == 'cancelled' else 'terminate'}",
                     "service", service_id, client_id, f"{status}: {domain}", login=login,
                     before={"status": "active"}, after={"status": status})
            if behaviour == "cancelled":
                requested = terminated_on.subtract(days=self.rng.randint(3, 25))
                self.rows.add(CancellationRequest, service=service_id, type="end_of_period",
                              reason=self.rng.choice(CANCEL_REASONS), status="completed",
                              disable_domain_auto_renew=False, cancelled_line_ids="[]",
                              requested_by="client", created_at=self.moment(requested),
                              completed_at=pendulum.datetime(terminated_on.year, terminated_on.month,
                                                             terminated_on.day, 3, 0, 0, tz="UTC"))

    # -- addons and domains

    def build_addon(self, service: dict) -> None:
        rng, product, client = self.rng, service["product"], service["client"]
        paid_starts = [p.start for p in service["periods"]
                       if p.paid and p.start <= self.today and p.start.day == service["anchor"]]
        if not paid_starts:
            return
        registration = rng.choice(paid_starts)
        catalog_id, setup = None, ZERO
        available = [a for a in product["addons"] if a not in service["addon_ids"]]
        if available and rng.random() < 0.85:
            catalog_id = rng.choice(available)
            service["addon_ids"].add(catalog_id)
            name, prices = self.catalog.addons[catalog_id]
            cycle = next((c for c in (service["cycle"], "annually", "monthly") if c in prices), None)
            if cycle is None:
                return
            price, setup = prices[cycle]
        else:
            name, price_text = rng.choice(CUSTOM_ADDONS)
            if name in service["addon_ids"]:
                return
            service["addon_ids"].add(name)
            cycle, price = "monthly", _money(price_text)
        months, anchor = _months(cycle), service["anchor"]
        status = service["status"]
        periods, ndd = self.billing_periods(
            client, registration, months, anchor, stop=service["stop"], unpaid_from=service["unpaid_from"],
            invoice_days=RULES.invoice_days_for(cycle), ordered=False)
        addon_id = self.rows.add(
            ServiceAddon, service=service["id"], catalog_addon=catalog_id, name=name, setup_fee=setup,
            recurring_amount=price, billing_cycle=cycle, status=status, registration_date=registration,
            next_due_date=ndd, anchor_day=anchor, termination_date=service["terminated_on"],
            notes="" if catalog_id else "Custom addon agreed with the client", version=1)
        # As adding an addon bills it (models/services.py): every period, the first included, is a
        # renewal line, so the NDD moves only when a period is paid.
        for index, period in enumerate(periods):
            invoice_day = registration if index == 0 else max(
                registration, period.start.subtract(days=RULES.invoice_days_for(cycle)))
            label = f"Addon: {name}{_period_label(period.start, period.end)}"
            lines = [(LineKind.RENEWAL, label, price, period)]
            if index == 0 and setup:
                lines.append((LineKind.SETUP, f"Setup fee: {name}", setup, None))
            for kind, text, amount, line_period in lines:
                self.add_line(client, due=period.start, invoice_day=invoice_day, paid=period.paid,
                              method=service["method"], group=service["group"], order_id=None, kind=kind,
                              description=text, amount=amount, item_type=ItemType.ADDON, item_id=addon_id,
                              period=line_period)
        if any(not p.paid for p in periods):
            service["has_unpaid"] = True

    def build_domain(self, client: dict, service: dict | None, order_id: int | None,
                     forced: str | None = None) -> None:
        """A domain ordered with a hosting service (same day, same order and invoice) or on its
        own; `forced` picks the state of a standalone one (`pending_transfer`, `expired`)."""
        rng = self.rng
        name, registration, behaviour = self.domain_plan(client, service, forced)
        method = service["method"] if service else client["method"]
        tld = self.catalog.tlds[name.split(".", 1)[1]]
        kind = "transfer" if behaviour == "pending_transfer" or (
            tld.transfer_price and behaviour != "pending" and rng.random() < 0.12) else "register"
        years = 1 if kind == "transfer" else rng.randint(tld.min_years, min(tld.max_years, 3))
        if forced == "expired":
            years = 2  # a two-year registration that lapsed
        addons = DomainAddons(*(rng.random() < chance and price > 0 for chance, price in (
            (0.3, tld.dns_management_price), (0.15, tld.email_forwarding_price),
            (0.25, tld.id_protection_price))))
        price = domain_price(tld, kind, years, addons)
        months, anchor = 12 * years, registration.day
        client["earliest"] = min(client["earliest"], registration)
        stop, unpaid_from, auto_renew, status = None, None, True, behaviour
        if behaviour in ("expired", "cancelled", "transferred_away"):
            # Lapsed at one of its past due dates, renewals switched off.
            due_dates, due = [], add_months_anchored(registration, months, anchor)
            while due <= self.today:
                due_dates.append(due)
                due = add_months_anchored(due, months, anchor)
            if due_dates:
                stop, auto_renew = rng.choice(due_dates[-2:]), False
            else:
                status = "active"
        if status == "active" and rng.random() < 0.1:
            auto_renew, stop = False, self.today.add(days=1)  # renewals switched off, not yet due
        if behaviour == "pending":
            unpaid_from = registration
        if behaviour == "fraud":
            stop = registration
        periods, ndd = self.billing_periods(client, registration, months, anchor, stop=stop,
                                            unpaid_from=unpaid_from, invoice_days=RULES.invoice_days,
                                            ordered=True)
        domain_id = self.rows.reserve(Domain)
        if service is None and behaviour != "fraud":
            order_id = self.rows.add(
                Order, number=self.order_number(), client=client["id"],
                status="pending" if behaviour in ("pending", "pending_transfer") else "active",
                payment_method=method, promotion=None, promo_code="", amount=price.first,
                admin_login="", notes="", created_at=self.moment(registration), version=1)
        elif order_id is not None and periods:
            self.order_row(order_id)["amount"] += price.first
        self.rows.add(
            Domain, row_id=domain_id, client=client["id"], order=order_id, name=name, kind=kind,
            status=status, registration_date=registration, years=years, first_payment_amount=price.first,
            recurring_amount=price.recurring, next_due_date=ndd, anchor_day=anchor,
            expiry_date=None if status in ("pending", "fraud") else ndd, payment_method=method,
            auto_renew=auto_renew, epp_code=secrets.encrypt(self.secret(12)) if kind == "transfer" else "",
            promotion=None, notes="", version=1, dns_management=addons.dns_management,
            email_forwarding=addons.email_forwarding, id_protection=addons.id_protection)
        group = service["group"] if service else (("domain", domain_id) if client["separate"] else None)
        self.domain_lines(client, domain_id, name, kind, price, periods, method, group, order_id)

    def domain_plan(self, client: dict, service: dict | None, forced: str | None):
        """(name, registration date, state) of a new domain."""
        rng = self.rng
        if forced is not None:
            name = self.unique_domain(client["site"] + "shop", "com")
            registration = self.days_ago(0, 6) if forced == "pending_transfer" else self.days_ago(1200, 1400)
            return name, registration, forced
        if service is not None:  # ordered with the service: same day, same fate while new
            name, registration = service["domain"], service["registration"]
            behaviour = {"pending": "pending", "fraud": "fraud"}.get(service["behaviour"])
            if behaviour is None and client["status"] != "active":
                behaviour = self.weighted((("expired", 2), ("cancelled", 1), ("transferred_away", 1)))
            elif behaviour is None:
                behaviour = self.weighted((("active", 85), ("expired", 8), ("cancelled", 4),
                                           ("transferred_away", 3)))
            return name, registration, behaviour
        tld = rng.choice(("com", "net", "org", "io", "eu", "dev", client["tld"]))
        name = self.unique_domain(client["site"] + rng.choice(("", "shop", "blog", "app")), tld)
        behaviour = self.weighted((("active", 78), ("expired", 8), ("cancelled", 4), ("transferred_away", 3),
                                   ("pending_transfer", 4), ("pending", 3)))
        if behaviour == "pending_transfer" and not self.catalog.tlds[tld].transfer_price:
            behaviour = "pending"  # this registry has no paid transfers
        if behaviour in ("pending_transfer", "pending"):
            return name, self.days_ago(0, 6), behaviour
        return name, self.days_ago(0, MAX_HISTORY_MONTHS * 30), behaviour

    def domain_lines(self, client: dict, domain_id: int, name: str, kind: str, price, periods: list,
                     method: str, group, order_id) -> None:
        """The registration (or transfer) on the order's invoice, its addons as their own lines,
        then one renewal line per period of `years` years, as orders and renewals write them."""
        years = f"{price.years} year" + ("s" if price.years > 1 else "")
        what = "Domain Transfer" if kind == "transfer" else "Domain Registration"
        for index, period in enumerate(periods):
            label = _period_label(period.start, period.end)
            if index == 0:
                lines = [(LineKind.FIRST, f"{what} - {name} - {years}{label}", price.base_first, period)]
                lines += [(LineKind.CUSTOM, f"{addon} - {name} - {years}", amount, None)
                          for addon, amount in price.addons]
                invoice_day = period.start
            else:
                lines = [(LineKind.RENEWAL, f"Domain renewal - {name} - {years}{label}", price.recurring,
                          period)]
                invoice_day = period.start.subtract(days=RULES.invoice_days)
            for line_kind, text, amount, line_period in lines:
                self.add_line(client, due=period.start, invoice_day=invoice_day, paid=period.paid,
                              method=method, group=group, order_id=order_id if index == 0 else None,
                              kind=line_kind, description=text, amount=amount, item_type=ItemType.DOMAIN,
                              item_id=domain_id, period=line_period)

    def order_row(self, order_id: int) -> dict:
        return next(row for row in reversed(self.rows.tables[Order]) if row["id"] == order_id)

    def secret(self, length: int) -> str:
        alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%+-"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    # -- invoices

    def add_line(self, client: dict, *, due: Date, invoice_day: Date, paid: bool, method: str, group,
                 order_id, kind: str, description: str, amount: Decimal, item_type: str, item_id: int,
                 period: Period | None) -> None:
        """One invoice line, on the client's invoice for that due date, method and payment state
        (and service, for clients with separate invoices)."""
        key = (due, method, group, paid)
        invoice = self.open_invoices.get(key)
        if invoice is None:
            paid_on = None
            if paid:
                latest = min(self.today, due.add(days=3))
                paid_on = invoice_day.add(days=self.rng.randint(0, max(0, (latest - invoice_day).days)))
            self.rows.add(Invoice, client=client["id"], order=order_id, status="paid" if paid else "unpaid",
                          date=invoice_day, due_date=due, paid_date=paid_on, payment_method=method,
                          total=ZERO, amount_paid=ZERO, notes="", version=1, lines=0,
                          currency=installation_currency())
            invoice = self.rows.tables[Invoice][-1]
            self.open_invoices[key] = invoice
        invoice["date"] = min(invoice["date"], invoice_day)
        if invoice["order"] is None:
            invoice["order"] = order_id
        invoice["total"] += amount
        invoice["lines"] += 1
        self.rows.add(InvoiceLine, invoice=invoice["id"], kind=kind, item_type=item_type, item_id=item_id,
                      period_start=period.start if period else None,
                      period_end=period.end if period else None, description=description[:500],
                      amount=amount, cancelled=False,
                      applied_at=self.moment(invoice["paid_date"], 0, 6) if paid else None,
                      upgrade=None, sort_order=invoice["lines"])

    def renumber_invoices(self) -> None:
        """Invoice numbers follow their dates, as they would have been issued."""
        invoices = self.rows.tables[Invoice]
        first_id = invoices[0]["id"] if invoices else 1
        invoices.sort(key=lambda row: (row["date"], row["id"]))
        new_ids = {}
        for offset, row in enumerate(invoices):
            new_ids[row["id"]] = first_id + offset
            row["id"] = first_id + offset
            row["created_at"] = pendulum.datetime(row["date"].year, row["date"].month, row["date"].day,
                                                  2, 0, offset % 60, tz="UTC")
            del row["lines"]
        lines = self.rows.tables[InvoiceLine]
        first_line = lines[0]["id"] if lines else 1
        for row in lines:
            row["invoice"] = new_ids[row["invoice"]]
        lines.sort(key=lambda row: (row["invoice"], row["sort_order"]))
        for offset, row in enumerate(lines):
            row["id"] = first_line + offset

    def build_payments(self) -> None:
        """Paid invoices are paid in full; a few unpaid ones carry a partial payment."""
        rng = self.rng
        for invoice in self.rows.tables[Invoice]:
            if invoice["status"] == "paid":
                invoice["amount_paid"] = invoice["total"]
                if invoice["total"] > 0:
                    self.add_payment(invoice, invoice["total"], invoice["paid_date"],
                                     invoice["payment_method"])
        candidates = [row for row in self.rows.tables[Invoice]
                      if row["status"] == "unpaid" and row["total"] >= 20 and row["date"] < self.today]
        for invoice in rng.sample(candidates, min(len(candidates), max(1, self.client_count // 30))):
            part = round_money(invoice["total"] / 2)
            day = invoice["date"].add(days=rng.randint(0, (self.today - invoice["date"]).days))
            invoice["amount_paid"] = part
            invoice["notes"] = "Client paid half by bank transfer, the rest to follow"
            self.add_payment(invoice, part, day, "banktransfer")

    def add_payment(self, invoice: dict, amount: Decimal, day: Date, method: str) -> None:
        rng = self.rng
        if method == "card":
            reference = f"ch_{rng.randrange(16**16):016x}"
        elif method == "paypal":
            reference = f"{rng.randrange(36**17):017X}"[-17:]
        else:
            reference = f"BT-{day.format('YYYYMMDD')}-{rng.randint(1000, 9999)}"
        self.rows.add(Payment, invoice=invoice["id"], amount=amount, date=day, method=method,
                      transaction_ref=reference,
                      admin_login=rng.choice(("sales", self.owner_login)) if method == "banktransfer" else "",
                      created_at=self.moment(day))

    # -- the queues

    def count_promotion_uses(self) -> None:
        """The uses counter the demo's orders (written as rows) would have moved."""
        for promo in self.catalog.promotions.values():
            uses = promo["uses"] if promo["max_uses"] else promo.get("demo_uses", 0)
            if uses:
                Promotion.update(uses=uses, version=Promotion.version + 1).where(
                    Promotion.id == promo["id"]).execute()

    def add_clients(self) -> None:
        """The clients through `add_clients` (the import's bulk path), in the order their ids
        were taken, so the ids the billing rows name are theirs; the credit balance is the
        sum of the credit rows written with the history."""
        rows = self.rows.tables[Client]
        fields = ("first_name", "last_name", "company", "email", "phone", "address", "city",
                  "postcode", "country", "status", "separate_invoices",
                  "default_payment_method", "notes")
        report = clients.add_clients(
            [{**{name: row[name] for name in fields},
              "group": f"#{row['group']}" if row["group"] else ""} for row in rows],
            admin=SYSTEM_ADMIN, allow_duplicate_email=True,
            created_at=[row["created_at"] for row in rows])
        if report.refused or report.ids != [row["id"] for row in rows]:
            raise RuntimeError(f"demo clients refused or renumbered: {report.refused[:3]}")
        self.rows.created_elsewhere.add(Client)
        by_client = {}
        for entry in self.rows.tables[CreditEntry]:
            by_client[entry["client"]] = by_client.get(entry["client"], ZERO) + entry["amount"]
        for client_id, amount in by_client.items():
            Client.update(credit=amount).where(Client.id == client_id).execute()

    def build_cancellation_requests(self) -> None:
        wanted = min(len(self.cancellable), max(4, self.client_count // 50))
        for index, service in enumerate(self.rng.sample(self.cancellable, wanted)):
            kind = "immediate" if index % 2 == 0 else "end_of_period"
            day = self.days_ago(0, 6)
            by_client = self.rng.random() < 0.6
            self.rows.add(CancellationRequest, service=service["id"], type=kind,
                          reason=self.rng.choice(CANCEL_REASONS), status="open",
                          disable_domain_auto_renew=False, cancelled_line_ids="[]",
                          requested_by="client" if by_client else "support",
                          created_at=self.moment(day), completed_at=None)
            self.log(day, "cancellation.request", "service", service["id"], service["client"]["id"],
                     f"{kind.replace('_', ' ')} cancellation requested for {service['domain']}",
                     login=SYSTEM_LOGIN if by_client else "support")

    def build_module_jobs(self) -> None:
        jobs = (
            ("pending", "create", "queued", 0, ""),
            ("overdue_suspended", "suspend", "failed", 3,
             "kvm02.hostdesk-demo.example: connection timed out after 30 s"),
            ("terminated", "terminate", "done", 1, ""),
            ("custom_suspended", "unsuspend", "dismissed", 2, "account is locked by an abuse hold"),
        )
        for behaviour, command, status, attempts, error in jobs:
            services = self.by_behaviour.get(behaviour, [])
            if not services:
                continue
            service = services[0]
            day = self.days_ago(0, 3)
            self.rows.add(ModuleJob, service=service["id"], addon=None, command=command, arguments="{}",
                          status=status, attempts=attempts, last_error=error, source="cron",
                          created_at=self.moment(day, 0, 2), updated_at=self.moment(day, 3, 5))

    def build_emails(self) -> None:
        """The outbox of the last ten days: invoice, payment, welcome and suspension emails.

        Delivered ones are `sent` with a log row; today's (or, on a quiet day, the last three)
        are still `queued`; the oldest bounced and is `failed` after every attempt."""
        clients = {row["id"]: row for row in self.rows.tables[Client]}
        recent = self.today.subtract(days=10)
        emails = []  # (day, client id, template, subject, body, related type, related id)
        for invoice in self.rows.tables[Invoice]:
            if invoice["date"] < recent:
                continue
            client_id, number = invoice["client"], invoice["id"]
            emails.append((invoice["date"], client_id, "invoice_created", f"Customer Invoice #{number}",
                           f"Invoice #{number} for {invoice['total']} is due on "
                           f"{invoice['due_date'].isoformat()}.", "invoice", number))
            if invoice["status"] == "paid" and invoice["paid_date"] >= recent and invoice["total"] > 0:
                emails.append((invoice["paid_date"], client_id, "invoice_payment_confirmation",
                               f"Invoice Payment Confirmation #{number}",
                               f"Thank you: we received {invoice['total']} for invoice #{number}.",
                               "invoice", number))
        for service in self.by_behaviour.get("current", []):
            template = service["product"]["spec"].welcome_email
            if template and service["registration"] >= recent:
                emails.append((service["registration"], service["client"]["id"], template,
                               f"Welcome: {service['product']['spec'].name} for {service['domain']}",
                               f"Your {service['product']['spec'].name} is ready.", "service", service["id"]))
        for service in self.by_behaviour.get("overdue_suspended", []):
            day = service["unpaid_from"].add(days=RULES.suspend_days)
            if day >= recent:
                emails.append((day, service["client"]["id"], "service_suspended",
                               "Service Suspension Notification",
                               f"{service['domain']} is suspended: an invoice is overdue.", "service",
                               service["id"]))
        emails.sort(key=lambda email: (email[0], email[1], email[2], email[6]))
        queued = sum(1 for email in emails if email[0] == self.today) or min(3, len(emails))
        for index, (day, client_id, template, subject, body, related_type, related_id) in enumerate(emails):
            client = clients[client_id]
            state = "queued" if index >= len(emails) - queued else "failed" if index == 0 else "sent"
            self.add_email(client, template, subject, f"Dear {client['first_name']},\n\n{body}\n",
                           related_type, related_id, day, state)

    def add_email(self, client: dict, template: str, subject: str, body: str, related_type: str,
                  related_id: int, day: Date, state: str) -> None:
        created = self.moment(day, 2, 6)
        attempts = {"queued": 0, "sent": 1, "failed": RULES.email_max_attempts}[state]
        error = "550 5.1.1 mailbox unavailable" if state == "failed" else ""
        email_id = self.rows.add(
            EmailOutbox, to_address=client["email"], subject=subject, body=body, template=template,
            client=client["id"], related_type=related_type, related_id=related_id, status=state,
            attempts=attempts, last_error=error, created_at=created,
            sent_at=created.add(minutes=5) if state == "sent" else None)
        for attempt in range(attempts):
            self.rows.add(EmailLog, email=email_id, at=created.add(minutes=5 + 30 * attempt),
                          success=state == "sent", detail=error or "250 2.0.0 accepted")

    # -- the report

    def summary(self) -> str:
        tables = self.rows.tables
        statuses = Counter(row["status"] for row in tables[Service])
        clients = Counter(row["status"] for row in tables[Client])
        invoices = Counter(row["status"] for row in tables[Invoice])
        overdue = sum(1 for row in tables[Invoice]
                      if row["status"] == "unpaid" and row["due_date"] < self.today)
        open_requests = sum(1 for row in tables[CancellationRequest] if row["status"] == "open")
        by_status = ", ".join(f"{status} {statuses[status]}" for status in ServiceStatus.ALL)
        return "\n".join((
            f"demo data for {self.today.isoformat()} (seed {self.seed})",
            f"  admins {Admin.select().count()}, servers {Server.select().count()}, "
            f"products {Product.select().count()}, catalog addons {CatalogAddon.select().count()}, "
            f"promotions {Promotion.select().count()}, TLDs {Tld.select().count()}",
            f"  clients {sum(clients.values())} (active {clients['active']}, inactive {clients['inactive']}, "
            f"closed {clients['closed']})",
            f"  services {sum(statuses.values())} ({by_status})",
            f"  service addons {self.rows.count(ServiceAddon)}, domains {self.rows.count(Domain)}, "
            f"orders {self.rows.count(Order)}",
            f"  invoices {sum(invoices.values())} (paid {invoices['paid']}, unpaid {invoices['unpaid']}, "
            f"overdue {overdue}), payments {self.rows.count(Payment)}",
            f"  open cancellation requests {open_requests}, module jobs {self.rows.count(ModuleJob)}, "
            f"emails {self.rows.count(EmailOutbox)}, activity log {self.rows.count(ActivityLog)}",
        ))


def build_demo(seed: int, clients: int, today: pendulum.Date, owner_login: str) -> str:
    """Fill the bound, freshly migrated database with demo data; returns a printable summary.
    `owner_login` becomes a full admin of it; the rows are written by `SYSTEM_ADMIN`.

    The same seed and day always give the same rows. Refused (nothing written) when the
    database already holds clients, products or services, or `clients` is below 1."""
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise ValidationError("clients", "must be a whole number of at least 1")
    if not owner_login or not owner_login.strip():
        raise ValidationError("login", "name the admin the demo data is built for")
    if not secrets.is_configured():
        raise secrets.MissingSecretKey()  # service passwords and EPP codes are stored encrypted
    builder = DemoBuilder(seed, clients, today, owner_login.strip())
    with database.atomic():
        if Client.select().exists() or Product.select().exists() or Service.select().exists():
            raise ValidationError("database", "already holds clients or products; demo data goes into "
                                              "a new, empty database")
        summary = builder.build()
    if is_sqlite():
        database.execute_sql("PRAGMA optimize")
    logging.getLogger("hostdesk.demo").info("demo data imported (seed %s): %s", seed, summary)
    return summary
