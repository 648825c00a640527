"""Every table of hostdesk. Rules that act on these rows live in the other `models` modules.

Money columns hold integer cents (`MoneyField`), dates are `pendulum.Date`, moments are UTC.
Records an admin edits carry `version` for optimistic locking: an UPDATE names the version
it read, and zero rows updated means someone else saved first.
"""

import pendulum
from peewee import (
    SQL,
    BlobField,
    BooleanField,
    CharField,
    Check,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from hostdesk.models.db import BaseModel
from hostdesk.models.fields import MoneyField, PendulumDateField, UTCDateTimeField
from hostdesk.models.money import installation_currency


def utcnow():
    return pendulum.now("UTC")


class ServiceStatus:
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FRAUD = "fraud"
    ALL = (PENDING, ACTIVE, SUSPENDED, TERMINATED, CANCELLED, COMPLETED, FRAUD)
    BILLABLE = (ACTIVE, SUSPENDED)


class DomainStatus:
    PENDING = "pending"
    PENDING_TRANSFER = "pending_transfer"
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FRAUD = "fraud"
    TRANSFERRED_AWAY = "transferred_away"
    ALL = (PENDING, PENDING_TRANSFER, ACTIVE, EXPIRED, CANCELLED, FRAUD, TRANSFERRED_AWAY)


class ClientStatus:
    ACTIVE = "active"
    INACTIVE = "inactive"
    CLOSED = "closed"
    ALL = (ACTIVE, INACTIVE, CLOSED)


class InvoiceStatus:
    DRAFT = "draft"
    UNPAID = "unpaid"
    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    ALL = (DRAFT, UNPAID, PAID, CANCELLED, REFUNDED)


class LineKind:
    """What paying a line does (rules §5)."""

    RENEWAL = "renewal"  # advances the item's NDD one cycle from period_start
    PRORATA = "prorata"  # sets the item's NDD to period_end
    UPGRADE = "upgrade"  # applies the upgrade it points at
    FIRST = "first"  # first payment of a new order line: provisions per auto-setup
    SETUP = "setup"  # setup fee, no effect of its own
    DISCOUNT = "discount"  # promotion discount (negative)
    CREDIT = "credit"  # applied client credit (negative)
    CUSTOM = "custom"
    ALL = (RENEWAL, PRORATA, UPGRADE, FIRST, SETUP, DISCOUNT, CREDIT, CUSTOM)


class ItemType:
    SERVICE = "service"
    ADDON = "addon"
    DOMAIN = "domain"
    ALL = (SERVICE, ADDON, DOMAIN)


def _choices(column: str, values) -> Check:
    quoted = ", ".join(f"'{v}'" for v in values)
    return Check(f"{column} IN ({quoted})")


# --- settings, admins, clients ------------------------------------------------------


class Setting(BaseModel):
    key = CharField(primary_key=True, max_length=100)
    value = TextField()
    version = IntegerField(default=1)


class Admin(BaseModel):
    login = CharField(unique=True, max_length=100)
    name = CharField(max_length=200, default="")
    email = CharField(max_length=254, default="")
    role = CharField(max_length=20, constraints=[_choices("role", ("full", "sales", "support"))])
    active = BooleanField(default=True)
    created_at = UTCDateTimeField(default=utcnow)
    version = IntegerField(default=1)


class PaymentMethod(BaseModel):
    """The managed list of payment methods (0015): orders, services, invoices pick from it."""

    name = CharField(unique=True, max_length=50)
    enabled = BooleanField(default=True)
    sort_order = IntegerField(default=0)
    version = IntegerField(default=1)


class ClientGroup(BaseModel):
    name = CharField(unique=True, max_length=100)
    separate_invoices = BooleanField(default=False)
    version = IntegerField(default=1)


class Client(BaseModel):
    first_name = CharField(max_length=100)
    last_name = CharField(max_length=100)
    company = CharField(max_length=200, default="")
    email = CharField(max_length=254, index=True)
    phone = CharField(max_length=50, default="")
    address = CharField(max_length=300, default="")
    address2 = CharField(max_length=300, default="")
    city = CharField(max_length=100, default="")
    postcode = CharField(max_length=20, default="")
    region = CharField(max_length=100, default="")
    country = CharField(max_length=2, default="")
    tax_id = CharField(max_length=50, default="")
    status = CharField(max_length=10, default=ClientStatus.ACTIVE,
                       constraints=[_choices("status", ClientStatus.ALL)])
    group = ForeignKeyField(ClientGroup, null=True, backref="clients", on_delete="SET NULL")
    separate_invoices = BooleanField(default=False)
    credit = MoneyField(default=0, constraints=[Check("credit >= 0")])
    default_payment_method = CharField(max_length=50, default="banktransfer")
    notes = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    version = IntegerField(default=1)

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.company})" if self.company else name


# --- catalog -------------------------------------------------------------------------


class Server(BaseModel):
    name = CharField(unique=True, max_length=100)
    hostname = CharField(max_length=253, default="")
    ip_address = CharField(max_length=45, default="")
    module = CharField(max_length=50, default="none")
    settings = TextField(default="{}")  # JSON; secrets in it are encrypted values
    max_accounts = IntegerField(default=0)
    active = BooleanField(default=True)
    version = IntegerField(default=1)


class Product(BaseModel):
    TYPES = ("shared", "reseller", "vps", "dedicated", "server", "other")
    AUTO_SETUP = ("on_order", "on_payment", "on_accept", "never")

    name = CharField(max_length=200)
    group_name = CharField(max_length=100, default="")
    type = CharField(max_length=20, default="shared", constraints=[_choices("type", TYPES)])
    description = TextField(default="")
    module = CharField(max_length=50, default="none")
    server = ForeignKeyField(Server, null=True, backref="products", on_delete="SET NULL")
    module_settings = TextField(default="{}")  # JSON, per-product module settings
    auto_setup = CharField(max_length=20, default="on_payment",
                           constraints=[_choices("auto_setup", AUTO_SETUP)])
    welcome_email = CharField(max_length=100, default="")
    upgrade_email = CharField(max_length=100, default="")
    termination_email = CharField(max_length=100, default="")
    auto_terminate_days = IntegerField(default=0, constraints=[Check("auto_terminate_days >= 0")])
    allows_quantity = BooleanField(default=False)
    hidden = BooleanField(default=False)
    retired = BooleanField(default=False)
    version = IntegerField(default=1)


class ProductPrice(BaseModel):
    product = ForeignKeyField(Product, backref="prices", on_delete="CASCADE", index=False)
    cycle = CharField(max_length=20)
    price = MoneyField(constraints=[Check("price >= 0")])
    setup_fee = MoneyField(default=0, constraints=[Check("setup_fee >= 0")])

    class Meta:
        indexes = ((("product", "cycle"), True),)


class ProductUpgradePath(BaseModel):
    """A service of `product` may move to `target` on `cycles` (comma separated; empty =
    every cycle the target has a price for); `client_may_upgrade`: the client may do it
    itself (the headless interface a portal calls), not only an admin."""

    product = ForeignKeyField(Product, backref="upgrade_paths", on_delete="CASCADE", index=False)
    target = ForeignKeyField(Product, backref="+", on_delete="CASCADE")
    cycles = CharField(max_length=200, default="")
    client_may_upgrade = BooleanField(default=False)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("product", "target"), True),)


class ConfigOption(BaseModel):
    TYPES = ("dropdown", "quantity", "yesno")

    product = ForeignKeyField(Product, backref="config_options", on_delete="CASCADE")
    name = CharField(max_length=100)
    option_type = CharField(max_length=20, default="dropdown")
    sort_order = IntegerField(default=0)


class ConfigOptionChoice(BaseModel):
    option = ForeignKeyField(ConfigOption, backref="choices", on_delete="CASCADE")
    name = CharField(max_length=100)
    sort_order = IntegerField(default=0)


class ConfigOptionPrice(BaseModel):
    """Price of one choice per cycle; for a `quantity` option, the price of one unit."""

    choice = ForeignKeyField(ConfigOptionChoice, backref="prices", on_delete="CASCADE",
                             index=False)
    cycle = CharField(max_length=20)
    price = MoneyField(default=0, constraints=[Check("price >= 0")])
    setup_fee = MoneyField(default=0, constraints=[Check("setup_fee >= 0")])

    class Meta:
        indexes = ((("choice", "cycle"), True),)


class CatalogAddon(BaseModel):
    name = CharField(max_length=200)
    description = TextField(default="")
    module = CharField(max_length=50, default="none")
    auto_setup = CharField(max_length=20, default="on_payment")
    welcome_email = CharField(max_length=100, default="")
    version = IntegerField(default=1)


class CatalogAddonPrice(BaseModel):
    addon = ForeignKeyField(CatalogAddon, backref="prices", on_delete="CASCADE", index=False)
    cycle = CharField(max_length=20)
    price = MoneyField(constraints=[Check("price >= 0")])
    setup_fee = MoneyField(default=0, constraints=[Check("setup_fee >= 0")])

    class Meta:
        indexes = ((("addon", "cycle"), True),)


class CatalogAddonProduct(BaseModel):
    """Which products a catalog addon may be added to."""

    addon = ForeignKeyField(CatalogAddon, backref="product_links", on_delete="CASCADE",
                            index=False)
    product = ForeignKeyField(Product, backref="addon_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("addon", "product"), True),)


class Promotion(BaseModel):
    TYPES = ("percentage", "fixed", "price_override", "free_setup")

    code = CharField(unique=True, max_length=50)
    type = CharField(max_length=20, constraints=[_choices("type", TYPES)])
    value = MoneyField(default=0, constraints=[Check("value >= 0")])  # percent or amount
    recurring = BooleanField(default=False)
    recur_for = IntegerField(default=0)  # 0 = every renewal while recurring
    cycles = CharField(max_length=200, default="")  # comma separated; empty = every cycle
    start_date = PendulumDateField(null=True)
    expiry_date = PendulumDateField(null=True)
    max_uses = IntegerField(default=0)  # 0 = unlimited
    uses = IntegerField(default=0)
    once_per_client = BooleanField(default=False)
    notes = TextField(default="")
    version = IntegerField(default=1)


class PromotionProduct(BaseModel):
    """Products a promotion applies to; none listed means every product."""

    promotion = ForeignKeyField(Promotion, backref="product_links", on_delete="CASCADE",
                                index=False)
    product = ForeignKeyField(Product, backref="promotion_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("promotion", "product"), True),)


class Tld(BaseModel):
    name = CharField(unique=True, max_length=63)  # without the dot: "com", "co.uk"
    register_price = MoneyField()
    transfer_price = MoneyField()
    renew_price = MoneyField()
    min_years = IntegerField(default=1)
    max_years = IntegerField(default=10)
    dns_management_price = MoneyField(default=0)
    email_forwarding_price = MoneyField(default=0)
    id_protection_price = MoneyField(default=0)
    epp_required = BooleanField(default=True)
    version = IntegerField(default=1)


class TldPrice(BaseModel):
    """A TLD's prices for one year count (0015); blank = not offered for that many years.
    A TLD without rows prices N years as N x its `Tld` per-year prices."""

    tld = ForeignKeyField(Tld, backref="year_prices", on_delete="CASCADE", index=False)
    years = IntegerField(constraints=[Check("years BETWEEN 1 AND 10")])
    register_price = MoneyField(null=True, constraints=[Check("register_price >= 0")])
    transfer_price = MoneyField(null=True, constraints=[Check("transfer_price >= 0")])
    renew_price = MoneyField(null=True, constraints=[Check("renew_price >= 0")])

    class Meta:
        indexes = ((("tld", "years"), True),)


# --- orders, services, addons, domains ------------------------------------------------


class Order(BaseModel):
    STATUSES = ("pending", "active", "cancelled", "fraud")

    number = CharField(unique=True, max_length=10)
    client = ForeignKeyField(Client, backref="orders", on_delete="RESTRICT")
    status = CharField(max_length=20, default="pending", constraints=[_choices("status", STATUSES)])
    payment_method = CharField(max_length=50)
    promotion = ForeignKeyField(Promotion, null=True, on_delete="SET NULL")
    promo_code = CharField(max_length=50, default="")
    amount = MoneyField(default=0)
    admin_login = CharField(max_length=100, default="")
    notes = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    version = IntegerField(default=1)


class Service(BaseModel):
    # client, product and server: no index of their own; the composite indexes below lead
    # with them (migration 0010).
    client = ForeignKeyField(Client, backref="services", on_delete="RESTRICT", index=False)
    order = ForeignKeyField(Order, null=True, backref="services", on_delete="SET NULL")
    product = ForeignKeyField(Product, backref="services", on_delete="RESTRICT", index=False)
    server = ForeignKeyField(Server, null=True, backref="services", on_delete="SET NULL",
                             index=False)
    domain = CharField(max_length=253, default="", index=True)
    dedicated_ip = CharField(max_length=45, default="")
    username = CharField(max_length=100, default="")
    password = TextField(default="")  # encrypted at rest
    status = CharField(max_length=20, default=ServiceStatus.PENDING,
                       constraints=[_choices("status", ServiceStatus.ALL)])
    registration_date = PendulumDateField()
    quantity = IntegerField(default=1, constraints=[Check("quantity >= 1")])
    first_payment_amount = MoneyField(default=0, constraints=[Check("first_payment_amount >= 0")])
    recurring_amount = MoneyField(default=0, constraints=[Check("recurring_amount >= 0")])
    billing_cycle = CharField(max_length=20)
    next_due_date = PendulumDateField(null=True)
    anchor_day = IntegerField(default=1, constraints=[Check("anchor_day BETWEEN 1 AND 31")])
    payment_method = CharField(max_length=50)
    promotion = ForeignKeyField(Promotion, null=True, on_delete="SET NULL")
    promotion_uses = IntegerField(default=0)  # renewals the promotion has discounted so far
    subscription_id = CharField(max_length=100, default="")
    override_suspend = BooleanField(default=False)
    override_suspend_until = PendulumDateField(null=True)  # null with override = never
    auto_terminate_end_of_cycle = BooleanField(default=False)
    auto_terminate_reason = CharField(max_length=500, default="")
    suspension_reason = CharField(max_length=500, default="")
    termination_date = PendulumDateField(null=True)
    admin_notes = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    version = IntegerField(default=1)

    class Meta:
        indexes = (
            (("status", "next_due_date", "id"), False),
            (("client", "id"), False),
            (("client", "next_due_date"), False),  # the daily run's candidates (0021)
            (("product", "status", "id"), False),
            (("next_due_date", "id"), False),
            (("server", "id"), False),
            (("billing_cycle", "id"), False),
        )


class ServiceAddon(BaseModel):
    service = ForeignKeyField(Service, backref="addons", on_delete="CASCADE")
    catalog_addon = ForeignKeyField(CatalogAddon, null=True, on_delete="SET NULL")
    name = CharField(max_length=200)
    setup_fee = MoneyField(default=0, constraints=[Check("setup_fee >= 0")])
    recurring_amount = MoneyField(default=0, constraints=[Check("recurring_amount >= 0")])
    billing_cycle = CharField(max_length=20)
    status = CharField(max_length=20, default=ServiceStatus.PENDING,
                       constraints=[_choices("status", ServiceStatus.ALL)])
    registration_date = PendulumDateField()
    next_due_date = PendulumDateField(null=True)
    anchor_day = IntegerField(default=1, constraints=[Check("anchor_day BETWEEN 1 AND 31")])
    termination_date = PendulumDateField(null=True)
    notes = TextField(default="")
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("status", "next_due_date", "id"), False),)


class Domain(BaseModel):
    # indexed by (client, next_due_date) below (migration 0021)
    client = ForeignKeyField(Client, backref="domains", on_delete="RESTRICT", index=False)
    order = ForeignKeyField(Order, null=True, backref="domains", on_delete="SET NULL")
    name = CharField(max_length=253, index=True)
    kind = CharField(max_length=10, default="register",
                     constraints=[_choices("kind", ("register", "transfer"))])
    status = CharField(max_length=20, default=DomainStatus.PENDING,
                       constraints=[_choices("status", DomainStatus.ALL)])
    registration_date = PendulumDateField()
    years = IntegerField(default=1, constraints=[Check("years >= 1")])
    first_payment_amount = MoneyField(default=0)
    recurring_amount = MoneyField(default=0, constraints=[Check("recurring_amount >= 0")])
    next_due_date = PendulumDateField(null=True)
    anchor_day = IntegerField(default=1)
    expiry_date = PendulumDateField(null=True)
    payment_method = CharField(max_length=50)
    auto_renew = BooleanField(default=True)
    epp_code = TextField(default="")  # encrypted at rest
    dns_management = BooleanField(default=False)
    email_forwarding = BooleanField(default=False)
    id_protection = BooleanField(default=False)
    promotion = ForeignKeyField(Promotion, null=True, on_delete="SET NULL")
    notes = TextField(default="")
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("status", "next_due_date", "id"), False),
                   (("client", "next_due_date"), False))


class ServiceConfigOption(BaseModel):
    service = ForeignKeyField(Service, backref="config_options", on_delete="CASCADE",
                              index=False)
    option = ForeignKeyField(ConfigOption, on_delete="CASCADE")
    choice = ForeignKeyField(ConfigOptionChoice, null=True, on_delete="SET NULL")
    quantity = IntegerField(default=0)

    class Meta:
        indexes = ((("service", "option"), True),)


# --- invoices and payments -------------------------------------------------------------


class Invoice(BaseModel):
    # indexed by (client, status, id) below (migration 0010)
    client = ForeignKeyField(Client, backref="invoices", on_delete="RESTRICT", index=False)
    order = ForeignKeyField(Order, null=True, backref="invoices", on_delete="SET NULL")
    status = CharField(max_length=20, default=InvoiceStatus.UNPAID,
                       constraints=[_choices("status", InvoiceStatus.ALL)])
    date = PendulumDateField()
    due_date = PendulumDateField()
    paid_date = PendulumDateField(null=True)
    payment_method = CharField(max_length=50)
    total = MoneyField(default=0)
    amount_paid = MoneyField(default=0)
    notes = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    version = IntegerField(default=1)
    # the `currency` setting when it was written (migration 0018); never relabelled
    currency = CharField(max_length=3, default=installation_currency)

    class Meta:
        indexes = (
            (("status", "due_date", "id"), False),
            (("client", "status", "id"), False),
        )

    @property
    def number(self) -> str:
        return str(self.id)


class InvoiceLine(BaseModel):
    # indexed by (invoice, sort_order) below (migration 0010)
    invoice = ForeignKeyField(Invoice, backref="lines", on_delete="CASCADE", index=False)
    kind = CharField(max_length=20, constraints=[_choices("kind", LineKind.ALL)])
    item_type = CharField(max_length=10, null=True)
    item_id = IntegerField(null=True)
    period_start = PendulumDateField(null=True)
    period_end = PendulumDateField(null=True)
    description = CharField(max_length=500)
    amount = MoneyField()
    cancelled = BooleanField(default=False)
    applied_at = UTCDateTimeField(null=True)  # when paying it took effect (exactly once)
    upgrade = IntegerField(null=True)  # id of the Upgrade an upgrade line applies
    sort_order = IntegerField(default=0)

    class Meta:
        indexes = (
            (("invoice", "sort_order"), False),
        )


# Every line by item, and one live renewal line per item and period start: the database
# refuses a second bill. `live` is 0 for a live renewal line and NULL for any other, which a
# unique index tells apart (migration 0029).
InvoiceLine.add_index(
    InvoiceLine.index(
        InvoiceLine.item_type,
        InvoiceLine.item_id,
        InvoiceLine.period_start,
        SQL("(CASE WHEN kind = 'renewal' AND NOT cancelled THEN 0 END)"),
        unique=True,
        name="invoice_line_item",
    )
)


class Payment(BaseModel):
    invoice = ForeignKeyField(Invoice, backref="payments", on_delete="RESTRICT")
    amount = MoneyField(constraints=[Check("amount > 0")])
    date = PendulumDateField()
    method = CharField(max_length=50)
    transaction_ref = CharField(max_length=200, default="")
    admin_login = CharField(max_length=100, default="")
    created_at = UTCDateTimeField(default=utcnow)
    fee = MoneyField(default=0, constraints=[Check("fee >= 0")])  # the gateway's fee, if told


# The same gateway transaction cannot be recorded twice on one invoice.
Payment.add_index(
    Payment.index(
        Payment.invoice, Payment.method, Payment.transaction_ref,
        unique=True, name="payment_once_per_transaction",
        where=(Payment.transaction_ref != ""),
    )
)


class CreditEntry(BaseModel):
    """A movement of a client's credit balance (overpayment, downgrade, applied to an invoice)."""

    client = ForeignKeyField(Client, backref="credit_entries", on_delete="RESTRICT")
    amount = MoneyField()
    description = CharField(max_length=500)
    invoice = ForeignKeyField(Invoice, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)


class Upgrade(BaseModel):
    STATUSES = ("pending", "applied", "cancelled")

    service = ForeignKeyField(Service, backref="upgrades", on_delete="CASCADE")
    order = ForeignKeyField(Order, null=True, on_delete="SET NULL")
    invoice = ForeignKeyField(Invoice, null=True, on_delete="SET NULL")
    old_product = ForeignKeyField(Product, on_delete="RESTRICT", backref="+")
    new_product = ForeignKeyField(Product, on_delete="RESTRICT", backref="+")
    old_cycle = CharField(max_length=20)
    new_cycle = CharField(max_length=20)
    old_amount = MoneyField()
    new_amount = MoneyField()
    config_changes = TextField(default="{}")  # JSON: option id -> {choice, quantity}
    credit = MoneyField(default=0)
    charge = MoneyField(default=0)
    discount = MoneyField(default=0)
    payable = MoneyField(default=0)
    status = CharField(max_length=20, default="pending", constraints=[_choices("status", STATUSES)])
    created_at = UTCDateTimeField(default=utcnow)
    applied_at = UTCDateTimeField(null=True)


# One unpaid upgrade per service at a time.
Upgrade.add_index(
    Upgrade.index(Upgrade.service, unique=True, name="upgrade_one_pending",
                  where=(Upgrade.status == "pending"))
)


# --- cancellations, module queue, email, audit, runs ----------------------------------


class CancellationRequest(BaseModel):
    TYPES = ("immediate", "end_of_period")
    STATUSES = ("open", "completed", "deleted")

    service = ForeignKeyField(Service, backref="cancellation_requests", on_delete="CASCADE")
    type = CharField(max_length=20, constraints=[_choices("type", TYPES)])
    reason = TextField(default="")
    status = CharField(max_length=20, default="open", constraints=[_choices("status", STATUSES)])
    disable_domain_auto_renew = BooleanField(default=False)
    cancelled_line_ids = TextField(default="[]")  # JSON: lines cancelled by the request
    requested_by = CharField(max_length=100, default="")
    created_at = UTCDateTimeField(default=utcnow)
    completed_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("status", "created_at"), False),)


CancellationRequest.add_index(
    CancellationRequest.index(CancellationRequest.service, unique=True,
                              name="cancellation_one_open",
                              where=(CancellationRequest.status == "open"))
)


class ModuleJob(BaseModel):
    """A module command started by automation: queued, retried by cron, or dismissed."""

    STATUSES = ("queued", "failed", "done", "dismissed")

    service = ForeignKeyField(Service, null=True, backref="module_jobs", on_delete="CASCADE")
    addon = ForeignKeyField(ServiceAddon, null=True, on_delete="CASCADE")
    command = CharField(max_length=50)
    arguments = TextField(default="{}")
    status = CharField(max_length=20, default="queued", constraints=[_choices("status", STATUSES)])
    attempts = IntegerField(default=0)
    last_error = TextField(default="")
    source = CharField(max_length=20, default="cron")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("status", "id"), False),)


class EmailOutbox(BaseModel):
    """An email written in the same transaction as the change that caused it."""

    STATUSES = ("queued", "sent", "failed")

    to_address = CharField(max_length=254)
    subject = CharField(max_length=500)
    body = TextField()
    # The body carries a service password (a welcome email): stored encrypted
    # (`models.secrets`) until delivery, then replaced by a note (0008).
    body_encrypted = BooleanField(default=False)
    template = CharField(max_length=100, default="")
    client = ForeignKeyField(Client, null=True, on_delete="SET NULL")
    related_type = CharField(max_length=20, default="")
    related_id = IntegerField(null=True)
    status = CharField(max_length=20, default="queued", constraints=[_choices("status", STATUSES)])
    attempts = IntegerField(default=0)
    last_error = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)
    # The template could not be rendered (0013): `last_error` says why; never sent.
    render_failed = BooleanField(default=False)

    class Meta:
        indexes = (
            (("status", "id"), False),
            (("related_type", "related_id", "template"), False),
        )


class EmailTemplate(BaseModel):
    """An admin-editable email template (Jinja2, rendered in a sandbox)."""

    name = CharField(unique=True, max_length=100)
    subject = CharField(max_length=500)
    body = TextField()
    version = IntegerField(default=1)


class EmailLog(BaseModel):
    """One row per delivery attempt of an outbox message."""

    email = ForeignKeyField(EmailOutbox, backref="attempt_log", on_delete="CASCADE")
    at = UTCDateTimeField(default=utcnow)
    success = BooleanField()
    detail = TextField(default="")


class ActivityLog(BaseModel):
    at = UTCDateTimeField(default=utcnow, index=True)
    admin_login = CharField(max_length=100)
    action = CharField(max_length=100)
    object_type = CharField(max_length=30)
    object_id = IntegerField(null=True)
    client_id = IntegerField(null=True)
    description = TextField(default="")
    before = TextField(default="")  # JSON
    after = TextField(default="")  # JSON
    # The OS account that ran the command; differs from admin_login when a `full` admin acted
    # as someone else ("X acting as Y"), blank for work done in-process without the CLI.
    operator = CharField(max_length=100, default="")

    class Meta:
        indexes = ((("object_type", "object_id"), False),)


class RunLock(BaseModel):
    """Held by the one daily run in progress (a row, so it works across machines)."""

    name = CharField(primary_key=True, max_length=50)
    holder = CharField(max_length=200)
    acquired_at = UTCDateTimeField(default=utcnow)
    heartbeat_at = UTCDateTimeField(default=utcnow)
    # What proves the holder is gone (0013): its process's start time on its host, and its
    # PostgreSQL session (refreshed at every heartbeat).
    process_start = CharField(max_length=50, default="")
    db_session = IntegerField(null=True)


class CronRun(BaseModel):
    STATUSES = ("running", "succeeded", "failed")

    run_date = PendulumDateField()
    dry_run = BooleanField(default=False)
    status = CharField(max_length=20, default="running", constraints=[_choices("status", STATUSES)])
    started_at = UTCDateTimeField(default=utcnow)
    finished_at = UTCDateTimeField(null=True)
    report = TextField(default="{}")  # JSON
    holder = CharField(max_length=200, default="")


class BillingChunk(BaseModel):
    """One share of a daily run's invoicing: the clients one worker bills in one transaction.

    Workers (processes, possibly on several machines) claim pending chunks with
    `FOR UPDATE SKIP LOCKED`; a worker that dies mid-chunk rolls its claim back with its
    writes, so another worker bills the chunk instead."""

    STATUSES = ("pending", "done", "failed")

    run = ForeignKeyField(CronRun, on_delete="CASCADE", index=False)
    client_ids = TextField()  # JSON list of the chunk's client ids, sorted
    status = CharField(max_length=20, default="pending", constraints=[_choices("status", STATUSES)])
    worker = CharField(max_length=200, default="")
    invoices = IntegerField(default=0)
    lines = IntegerField(default=0)
    amount = MoneyField(default=0)
    failures = TextField(default="[]")  # JSON list of {"item", "error"}

    class Meta:
        indexes = ((("run", "status", "id"), False),)


class HeldTermination(BaseModel):
    """A termination the termination guard held back (rules §11) until an admin confirms it."""

    KINDS = ("overdue", "fixed_term")
    STATUSES = ("held", "confirmed", "done", "failed", "skipped")

    run = ForeignKeyField(CronRun, on_delete="CASCADE", index=False)  # (run, service) leads
    service = ForeignKeyField(Service, on_delete="CASCADE")
    kind = CharField(max_length=20, constraints=[_choices("kind", KINDS)])
    status = CharField(max_length=20, default="held", constraints=[_choices("status", STATUSES)])
    detail = TextField(default="")
    confirmed_by = CharField(max_length=100, default="")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("run", "service"), True), (("status", "run"), False))


ALL_TABLES = [
    Setting, Admin, PaymentMethod, ClientGroup, Client, Server, Product, ProductPrice,
    ProductUpgradePath, ConfigOption, ConfigOptionChoice, ConfigOptionPrice, CatalogAddon,
    CatalogAddonPrice, CatalogAddonProduct,
    Promotion, PromotionProduct, Tld, TldPrice, Order, Service, ServiceAddon, Domain, ServiceConfigOption,
    Invoice, InvoiceLine, Payment, CreditEntry, Upgrade, CancellationRequest, ModuleJob,
    EmailOutbox, EmailLog, ActivityLog, RunLock, CronRun, EmailTemplate, BillingChunk,
    HeldTermination,
]


class ImportTable(BaseModel):
    """A table of another system's database that `hostdesk import` maps rows of, numbered
    (the import map names it by number: it has hundreds of thousands of rows)."""

    source = CharField(max_length=20)  # "whmcs"
    name = CharField(max_length=40)  # "tblhosting"

    class Meta:
        table_name = "import_table"
        indexes = ((("source", "name"), True),)


class ImportMap(BaseModel):
    """Which hostdesk row a row of another system's database became (`hostdesk import whmcs`):
    a rerun updates that row instead of adding a second one. `digest` is a hash of the values
    last written (12 bytes), so an unchanged row is left alone. (table, source id) is unique:
    a row is never mapped twice."""

    # import_table's id; not a foreign key in the database (migration 0023): checking it cost
    # each of a first import's ~780,000 map rows a look-up
    source_table = ForeignKeyField(ImportTable, column_name="table_id", constraints=None)
    source_id = CharField(max_length=60)
    target_id = IntegerField()
    digest = BlobField()

    class Meta:
        table_name = "import_map"
        indexes = ((("source_table", "source_id"), True),)
