"""Admin orders (rules §9): pricing, the running quote, placing and accepting an order.

`quote_order` and `place_order` share one preparation step, so the total the admin watches
while typing is, to the cent, the total of the invoice the order writes.

Decisions (where the rulebook leaves room):
- Dates. A new service is registered today and its first invoice line covers its first
  period [today, today + 1 cycle). Its next due date is set at once to the end of that
  period, anchored on today's day of month: paying a first line never moves the NDD
  (`invoicing._apply_line`), so the next invoice is the renewal of the following period.
  `one_time` services are due today and lose their NDD when the first invoice is paid
  (invoicing); `free` services have no NDD and no invoice line. Domains likewise: registered
  today, NDD = today + years. The first invoice is due on the order date.
- Prices. Without a cycle and without a price override, the shortest priced cycle is used
  (`shortest_priced_cycle`); with an override but no cycle, the same cycle. A price
  override is the service's price per cycle, for the first invoice and the renewals, and
  replaces the setup fee as well: the admin typed what the service costs. A promotion
  discounts the line's price, whether from the catalog or overridden.
- Invoice lines (one set per service): `first` for the first period at the full price,
  `setup` for a setup fee, `discount` (negative) for the promotion; a domain gets a `first`
  line for its registration or transfer and a `custom` line per domain addon.
- Provisioning. Pending orders: products with auto-setup `on_order` get a module "create"
  job at once, `on_payment` when the first line is paid (invoicing; a `free` service needs
  no payment, so it is queued at once, and one ordered without an invoice is queued when
  the order is accepted, as nothing else would start it), `on_accept` when the order is
  accepted, `never` never. Orders placed `active` import existing services: active,
  nothing provisioned.
- Quantity N makes N services with quantity 1 each; one use of a promotion per order.
- Configurable options and catalog addons (per line): an option not chosen takes its default
  (as the service page does). The chosen choices' prices for the cycle join the product's
  price on the `first` line and in the recurring amount (`models.pricing`; a price override
  replaces the product's price only), their setup fees join the `setup` line, and the
  promotion discounts product + options. Each catalog addon becomes a service addon with the
  service's status and its own cycle (the line's cycle when the addon is priced for it, else
  its shortest), billed on the first invoice with the lines the service page writes for an
  added addon (`addon_billing`); quantity N gives each of the N services its addons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pendulum
from peewee import IntegrityError

from hostdesk.models import addon_billing, audit, domains, pricing, promotions
from hostdesk.models.catalog_addons import addon_choices, applicable_addons
from hostdesk.models.cycles import Cycle, add_months_anchored, next_due, parse_cycle
from hostdesk.models.db import database
from hostdesk.models.emails import queue_email
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.invoicing import LineSpec, collect_module_jobs, create_invoice, queue_module_job
from hostdesk.models.money import format_money, sum_money
from hostdesk.models.order_numbers import new_order_number
from hostdesk.models.parsing import clean_text, parse_amount, parse_int_id, parse_quantity
from hostdesk.models.payment_methods import check_method
from hostdesk.models.permissions import ADD_ORDER, require
from hostdesk.models.pricing import SHORTEST_FIRST, OptionChoice, OptionInfo, recurring_price
from hostdesk.models.schema import (
    Admin,
    CatalogAddon,
    Client,
    ClientStatus,
    Domain,
    DomainStatus,
    Invoice,
    InvoiceLine,
    ItemType,
    LineKind,
    ModuleJob,
    Order,
    Product,
    ProductPrice,
    Promotion,
    Service,
    ServiceAddon,
    ServiceConfigOption,
    ServiceStatus,
    Tld,
)
from hostdesk.models.secrets import encrypt
from hostdesk.models.settings import Settings

PENDING, ACTIVE = "pending", "active"
PLACE_STATUSES = (PENDING, ACTIVE)
NO_DOMAIN = "none"
DOMAIN_ACTIONS = (NO_DOMAIN, domains.REGISTER, domains.TRANSFER)
MAX_QUANTITY = 1000
ZERO = Decimal("0.00")



# --- what the form sends -------------------------------------------------------------------


@dataclass
class LineRequest:
    """One product line as typed. Text fields are parsed here, so errors name the field."""

    product: int | str | None = None  # product id
    cycle: str = ""  # blank: the shortest priced cycle
    quantity: int | str = "1"
    price_override: str = ""  # blank: the catalog price
    domain: str = ""  # the hostname of the service(s); blank: the order's domain, if any
    config_options: dict[int, int] = field(default_factory=dict)  # option id -> choice id
    addons: list[int] = field(default_factory=list)  # catalog addon ids

    def is_blank(self) -> bool:
        return (self.product in (None, "") and not str(self.cycle).strip()
                and not str(self.price_override).strip() and not str(self.domain).strip())


@dataclass
class DomainRequest:
    action: str = NO_DOMAIN  # none | register | transfer
    name: str = ""
    years: int | str = "1"
    dns_management: bool = False
    email_forwarding: bool = False
    id_protection: bool = False
    price_override: str = ""  # the first registration/transfer, for all the years
    renew_override: str = ""  # each renewal, for all the years
    epp_code: str = ""


@dataclass
class OrderRequest:
    client_id: int | str | None = None
    payment_method: str = ""  # blank: the client's default
    promo_code: str = ""
    status: str = PENDING
    send_confirmation: bool = True
    generate_invoice: bool = True
    send_invoice_email: bool = True
    lines: list[LineRequest] = field(default_factory=list)
    domain: DomainRequest = field(default_factory=DomainRequest)
    notes: str = ""


def line_field(index: int, name: str) -> str:
    """The field key of a line's input: `line2.quantity` (lines count from 1)."""
    return f"line{index}.{name}"


def field_label(key: str) -> str:
    """`line2.quantity` → `Line 2 quantity`, `domain.epp_code` → `Domain EPP code`."""
    words = {"epp_code": "EPP code", "promo_code": "promotion code",
             "price_override": "price override", "renew_override": "renewal override",
             "payment_method": "payment method", "config_options": "options"}
    head, _, tail = key.partition(".")
    if head.startswith("line") and head[4:].isdigit():
        return f"Line {head[4:]} {words.get(tail, tail)}"
    if tail:
        return f"{head.capitalize()} {words.get(tail, tail)}"
    return words.get(head, head).capitalize()


# --- catalog pricing ---------------------------------------------------------------------


def priced_cycles(product: Product | int) -> dict[Cycle, ProductPrice]:
    """The product's prices by cycle, shortest first."""
    known = {cycle.value for cycle in Cycle}
    rows = {Cycle(row.cycle): row for row in
            ProductPrice.select().where(ProductPrice.product == product) if row.cycle in known}
    return {cycle: rows[cycle] for cycle in SHORTEST_FIRST if cycle in rows}


def shortest_priced_cycle(product: Product | int) -> Cycle | None:
    """The shortest cycle the product has a price for (None when it has no price at all)."""
    return next(iter(priced_cycles(product)), None)


def orderable_products() -> list[Product]:
    """Products an admin may order (hidden ones included, retired ones not), by group and name."""
    return list(Product.select().where(Product.retired == False)  # noqa: E712
                .order_by(Product.group_name, Product.name, Product.id))


@dataclass(frozen=True)
class CatalogPrice:
    cycle: Cycle
    price: Decimal
    setup_fee: Decimal


@dataclass(frozen=True)
class CatalogProduct:
    """A product as the order form offers it: plain values, prices shortest cycle first."""

    id: int
    name: str
    group_name: str
    allows_quantity: bool
    prices: tuple[CatalogPrice, ...]

    @property
    def label(self) -> str:
        return product_label(self.name, self.group_name)


def product_label(name: str, group_name: str) -> str:
    """How a product is offered in a list: its own name first, so that a narrow list that
    cuts the end still tells "Dedicated EPYC 7443P" from "Dedicated E-2388G"."""
    return f"{name} · {group_name}" if group_name else name


def order_catalog() -> list[CatalogProduct]:
    """Every orderable product with its prices, in two queries (the catalog is small)."""
    products = orderable_products()
    known = {cycle.value for cycle in Cycle}
    by_product: dict[int, dict[Cycle, CatalogPrice]] = {p.id: {} for p in products}
    for row in ProductPrice.select().where(ProductPrice.product.in_(list(by_product) or [0])):
        if row.cycle in known:
            by_product[row.product_id][Cycle(row.cycle)] = CatalogPrice(
                Cycle(row.cycle), row.price, row.setup_fee)
    return [CatalogProduct(
        id=p.id, name=p.name, group_name=p.group_name, allows_quantity=p.allows_quantity,
        prices=tuple(by_product[p.id][c] for c in SHORTEST_FIRST if c in by_product[p.id]))
        for p in products]


@dataclass(frozen=True)
class LineChoices:
    """What a line of the product may choose: its configurable options and catalog addons."""

    options: list[OptionInfo]
    addons: list[tuple[str, int]]  # (label with prices, catalog addon id)


def line_choices(product_id: int) -> LineChoices:
    return LineChoices(pricing.product_options(product_id), addon_choices(product_id))


# --- preparation: parse, validate, price ---------------------------------------------------


@dataclass
class PricedLine:
    index: int
    product: Product
    cycle: Cycle
    quantity: int
    price: Decimal  # per service and cycle, before the promotion
    setup_fee: Decimal
    overridden: bool
    hostname: str
    promotion: Promotion | None = None
    discount: promotions.Discount = promotions.NO_DISCOUNT
    choices: dict[int, OptionChoice] = field(default_factory=dict)  # every option of the product
    options_price: Decimal = ZERO  # the chosen options for the cycle
    addons: list[PricedAddon] = field(default_factory=list)

    @property
    def service_price(self) -> Decimal:
        """One service's price for its first period: the product and its options."""
        return self.price + self.options_price

    @property
    def service_first_payment(self) -> Decimal:
        """One service's own first payment, without its addons (nothing for a free cycle)."""
        if self.cycle is Cycle.FREE:
            return ZERO
        return self.service_price + self.setup_fee - self.discount.first

    @property
    def first_payment(self) -> Decimal:
        """What one service adds to the first invoice: itself and its addons."""
        return self.service_first_payment + sum_money(a.first_payment for a in self.addons)

    @property
    def recurring_amount(self) -> Decimal:
        """One service's recurring amount (what a renewal bills; nothing for a free cycle):
        `models.pricing`, the rule the service page and the upgrade quote use too."""
        return recurring_price(self.product, self.cycle, choices=self.choices,
                               promotion=self.promotion, base_price=self.price).total


@dataclass
class PricedAddon:
    """A catalog addon ordered with a service: its own cycle and price (rules §6)."""

    catalog: CatalogAddon
    cycle: Cycle
    price: Decimal
    setup_fee: Decimal

    @property
    def first_payment(self) -> Decimal:
        return ZERO if self.cycle is Cycle.FREE else self.price + self.setup_fee


@dataclass
class PricedDomain:
    name: domains.DomainName
    tld: Tld
    kind: str
    years: int
    addons: domains.DomainAddons
    price: domains.DomainPrice
    epp_code: str


@dataclass
class OrderQuote:
    """The order as far as it is valid: what the admin watches while typing."""

    client: Client | None = None
    payment_method: str = ""
    status: str = PENDING
    promotion: Promotion | None = None
    lines: list[PricedLine] = field(default_factory=list)
    domain: PricedDomain | None = None
    errors: list[ValidationError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def services(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def first_payment(self) -> Decimal:
        """The total of the first invoice."""
        amounts = [line.first_payment * line.quantity for line in self.lines]
        if self.domain is not None:
            amounts.append(self.domain.price.first)
        return sum_money(amounts)

    @property
    def discount(self) -> Decimal:
        return sum_money(line.discount.first * line.quantity for line in self.lines)

    @property
    def recurring(self) -> dict[str, Decimal]:
        """Renewal totals by cycle value (`monthly`: 30.00); a domain renews every N years."""
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            if line.cycle.is_recurring:  # free and one-time lines never renew
                key = line.cycle.value
                totals[key] = totals.get(key, ZERO) + line.recurring_amount * line.quantity
            for addon in line.addons:
                if addon.cycle.is_recurring:
                    key = addon.cycle.value
                    totals[key] = totals.get(key, ZERO) + addon.price * line.quantity
        if self.domain is not None:
            key = f"{self.domain.years} year" + ("s" if self.domain.years > 1 else "")
            totals[key] = totals.get(key, ZERO) + self.domain.price.recurring
        return totals

    def errors_by_field(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for error in self.errors:
            result.setdefault(error.field, error.message)
        return result

    def raise_errors(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ValidationErrors(list(self.errors))


class _Collector:
    def __init__(self, errors: list[ValidationError]):
        self.errors = errors

    def run(self, fn, *args, **kwargs):
        """fn(*args) or None, with its ValidationError collected."""
        try:
            return fn(*args, **kwargs)
        except ValidationError as error:
            self.errors.append(error)
            return None


def _client(value) -> Client:
    if value in (None, ""):
        raise ValidationError("client", "choose a client")
    client_id = value if isinstance(value, int) and not isinstance(value, bool) \
        else parse_int_id(str(value), "client")
    client = Client.get_or_none(Client.id == client_id)
    if client is None:
        raise ValidationError("client", f"there is no client #{client_id}")
    if client.status == ClientStatus.CLOSED:
        raise ValidationError("client", f"{client.display_name} (#{client.id}) is closed; "
                                        "orders cannot be added for a closed client")
    return client


def _status(value: str) -> str:
    cleaned = (value or "").strip().lower()
    if cleaned not in PLACE_STATUSES:
        raise ValidationError("status", f"'{value}' is not an order status for a new order; "
                                        f"choose {' or '.join(PLACE_STATUSES)}")
    return cleaned


def _product(value, index: int) -> Product:
    key = line_field(index, "product")
    if value in (None, ""):
        raise ValidationError(key, "choose a product")
    product_id = value if isinstance(value, int) and not isinstance(value, bool) \
        else parse_int_id(str(value), key)
    product = Product.get_or_none(Product.id == product_id)
    if product is None:
        raise ValidationError(key, f"there is no product #{product_id}")
    if product.retired:
        raise ValidationError(key, f"{product.name} is retired and cannot be ordered")
    return product


def _cycle(line: LineRequest, product: Product, index: int) -> tuple[Cycle, ProductPrice]:
    key = line_field(index, "cycle")
    prices = priced_cycles(product)
    if not prices:
        raise ValidationError(line_field(index, "product"),
                              f"{product.name} has no price for any billing cycle")
    if not str(line.cycle or "").strip():
        cycle = next(iter(prices))
    else:
        cycle = parse_cycle(str(line.cycle), key)
    if cycle not in prices:
        offered = ", ".join(c.value for c in prices)
        raise ValidationError(key, f"{product.name} has no price for {cycle.value} "
                                   f"(it is sold {offered})")
    return cycle, prices[cycle]


def _price_line(line: LineRequest, index: int, check: _Collector,
                order_domain: str) -> PricedLine | None:
    """The line priced before any promotion, or None when one of its fields was refused."""
    refused = len(check.errors)
    product = check.run(_product, line.product, index)
    quantity = check.run(_quantity, line.quantity, index, product)
    override = _optional_amount(line.price_override, line_field(index, "price_override"), check)
    hostname = order_domain
    if str(line.domain or "").strip():
        parsed = check.run(domains.parse_domain_name, line.domain, line_field(index, "domain"))
        hostname = parsed[0] if parsed else ""
    cycle_price = check.run(_cycle, line, product, index) if product is not None else None
    if len(check.errors) > refused:
        return None
    cycle, row = cycle_price
    choices = check.run(_options, line.config_options, product, index)
    addons = check.run(_addons, line.addons, product, cycle, index)
    if choices is None or addons is None:
        return None
    options_price = sum_money(pricing.option_prices(choices, cycle).values())
    if override is not None:
        return PricedLine(index=index, product=product, cycle=cycle, quantity=quantity,
                          price=override, setup_fee=ZERO, overridden=True, hostname=hostname,
                          choices=choices, options_price=options_price, addons=addons)
    return PricedLine(index=index, product=product, cycle=cycle, quantity=quantity,
                      price=row.price, setup_fee=row.setup_fee + pricing.option_setup_fees(
                          choices, cycle), overridden=False, hostname=hostname,
                      choices=choices, options_price=options_price, addons=addons)


def _options(chosen: dict, product: Product, index: int) -> dict[int, OptionChoice]:
    """Every option of the product: the chosen choice (option id -> choice id), else its default."""
    key = line_field(index, "config_options")
    options = {o.id: o for o in pricing.product_options(product.id)}
    changes = {}
    for option_id, choice_id in (chosen or {}).items():
        option = options.get(int(option_id))
        if option is None:
            raise ValidationError(key, f"option #{option_id} is not an option of {product.name}")
        if choice_id not in dict(option.choices):
            raise ValidationError(key, f"choice #{choice_id} is not a choice of {option.name}")
        changes[option.id] = OptionChoice(choice_id)
    try:
        return pricing.target_choices(product.id, {}, changes)
    except ValidationError as error:
        raise ValidationError(key, error.message) from None


def _addons(addon_ids: list, product: Product, cycle: Cycle, index: int) -> list[PricedAddon]:
    """The catalog addons, each priced for the line's cycle or its own shortest priced cycle."""
    key = line_field(index, "addons")
    applicable = {a.id: a for a in applicable_addons(product.id)}
    priced = []
    for addon_id in dict.fromkeys(addon_ids or []):
        addon = applicable.get(addon_id)
        if addon is None:
            raise ValidationError(key, f"catalog addon #{addon_id} cannot be added to {product.name}")
        row = pricing.catalog_addon_price(addon, cycle, field=key)
        priced.append(PricedAddon(addon, Cycle(row.cycle), row.price, row.setup_fee))
    return priced


def _quantity(value, index: int, product: Product | None) -> int:
    key = line_field(index, "quantity")
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    quantity = parse_quantity(text, key, max_value=MAX_QUANTITY)
    if product is not None:
        check_quantity_allowed(product, quantity, key)
    return quantity


def check_quantity_allowed(product: Product, quantity: int, field: str) -> None:
    """Rules §9: a quantity above 1 only for a product that allows quantities (the order form
    and the service page ask this one check)."""
    if quantity > 1 and not product.allows_quantity:
        raise ValidationError(field, f"{product.name} does not allow quantities; "
                                     "order it on separate lines")


def _domain(request: DomainRequest, check: _Collector) -> PricedDomain | None:
    """The domain part priced, or None for none (or when one of its fields was refused)."""
    action = (request.action or NO_DOMAIN).strip().lower()
    if action == NO_DOMAIN:
        return None
    if action not in DOMAIN_ACTIONS:
        check.errors.append(ValidationError("domain.action", f"'{request.action}' is not one of: "
                                                             f"{', '.join(DOMAIN_ACTIONS)}"))
        return None
    found = check.run(domains.validate_domain_name, request.name, "domain.name")
    epp = check.run(clean_text, request.epp_code, "domain.epp_code", 200)
    if action == domains.TRANSFER and epp == "" and (found is None or found[1].epp_required):
        check.errors.append(ValidationError("domain.epp_code",
                                            "a transfer needs the EPP (authorisation) code"))
    first_override = _optional_amount(request.price_override, "domain.price_override", check)
    renew_override = _optional_amount(request.renew_override, "domain.renew_override", check)
    if found is None:
        return None
    name, tld = found
    years = check.run(domains.check_years, tld, request.years, "domain.years")
    if years is None or any(e.field.startswith("domain.") for e in check.errors):
        return None
    addons = domains.DomainAddons(bool(request.dns_management), bool(request.email_forwarding),
                                  bool(request.id_protection))
    price = domains.domain_price(tld, action, years, addons, first_override=first_override,
                                 recurring_override=renew_override)
    return PricedDomain(name=name, tld=tld, kind=action, years=years, addons=addons, price=price,
                        epp_code=epp or "")


def _optional_amount(text, key: str, check: _Collector) -> Decimal | None:
    """None for a blank field (or a refused one, with its error collected), else the amount."""
    if not str(text or "").strip():
        return None
    return check.run(parse_amount, str(text), key, allow_zero=False)


def _promotion(code: str, today: pendulum.Date) -> Promotion | None:
    promotion = promotions.find_promotion(code)
    if promotion is not None:
        promotions.check_valid_on(promotion, today)
    return promotion


def _once_per_client(promotion: Promotion, client: Client) -> None:
    if promotion.once_per_client and Order.select().where(
            (Order.client == client.id) & (Order.promotion == promotion.id)
            & (Order.status != "cancelled")).exists():
        raise ValidationError("promo_code", f"'{promotion.code}' may be used once per client, "
                                            f"and {client.display_name} has used it")


def prepare_order(request: OrderRequest, today: pendulum.Date) -> OrderQuote:
    """Parse, validate and price the whole order, collecting every error (no writes)."""
    quote = OrderQuote()
    check = _Collector(quote.errors)
    quote.client = check.run(_client, request.client_id)
    quote.status = check.run(_status, request.status) or PENDING
    method = check.run(clean_text, request.payment_method, "payment_method", 50)
    if not method and quote.client is not None:
        method = quote.client.default_payment_method
    if method:
        method = check.run(check_method, method, "payment_method")
    quote.payment_method = method or ""
    check.run(clean_text, request.notes, "notes", 5000)

    domain_action = (request.domain.action or NO_DOMAIN).strip().lower()
    quote.domain = _domain(request.domain, check)
    order_domain = quote.domain.name.ascii if quote.domain else ""
    lines = [(i, line) for i, line in enumerate(request.lines, start=1) if not line.is_blank()]
    if not lines and domain_action == NO_DOMAIN:
        quote.errors.append(ValidationError("lines", "the order has no lines: add a product "
                                                     "or a domain"))
    priced = [_price_line(line, i, check, order_domain) for i, line in lines]

    quote.promotion = check.run(_promotion, request.promo_code, today)
    if quote.promotion is not None and quote.client is not None:
        check.run(_once_per_client, quote.promotion, quote.client)
    rules = promotions.Applicability.of(quote.promotion) if quote.promotion else None
    for line in priced:
        if line is None:
            continue
        if rules is not None and rules.covers(line.product.id, line.cycle):
            line.promotion = quote.promotion
            line.discount = promotions.discount_for(quote.promotion, line.service_price,
                                                    line.setup_fee)
        quote.lines.append(line)

    # Whether the code fits the order can only be judged once every line is known.
    if rules is not None and None not in priced and not any(line.promotion for line in quote.lines):
        quote.errors.append(ValidationError(
            "promo_code", f"'{quote.promotion.code}' does not apply to any product or cycle of "
                          f"this order ({rules.describe()})"))
    return quote


def quote_order(request: OrderRequest, today: pendulum.Date) -> OrderQuote:
    """The running total: what the valid part of the order costs, and what is wrong with the
    rest (the same preparation `place_order` uses, so the totals agree to the cent)."""
    return prepare_order(request, today)


# --- placing ------------------------------------------------------------------------------


@dataclass
class OrderResult:
    order: Order
    service_ids: list[int]
    domain_id: int | None
    domain_name: str  # as the admin reads it (Unicode), "" without a domain
    invoice: Invoice | None
    first_payment: Decimal
    module_jobs: int
    emails: int
    job_ids: list[int] = field(default_factory=list)  # the module jobs it queued, to run now

    @property
    def number(self) -> str:
        return self.order.number

    @property
    def invoice_total(self) -> Decimal | None:
        return self.invoice.total if self.invoice is not None else None


def _create_order_row(**fields) -> Order:
    """The order with a fresh random number; a collision (1 in billions) draws again."""
    for _ in range(5):
        number = new_order_number()
        if Order.select().where(Order.number == number).exists():
            continue
        try:
            with database.atomic():  # a savepoint: a lost race leaves the order transaction usable
                return Order.create(number=number, **fields)
        except IntegrityError:
            continue
    raise RuntimeError("could not draw an unused order number")


def _service_dates(cycle: Cycle,
                   today: pendulum.Date) -> tuple[pendulum.Date | None, pendulum.Date | None]:
    """(NDD, end of the first period) of a service ordered today."""
    if cycle is Cycle.FREE:
        return None, None
    if cycle is Cycle.ONE_TIME:
        return today, None
    end = next_due(today, cycle, today.day)
    return end, end


def services_status(quote: OrderQuote) -> str:
    return ServiceStatus.ACTIVE if quote.status == ACTIVE else ServiceStatus.PENDING


def _insert_services(order: Order, quote: OrderQuote,
                     today: pendulum.Date) -> list[tuple[PricedLine, int]]:
    status = services_status(quote)
    rows, owners = [], []
    for line in quote.lines:
        ndd, _ = _service_dates(line.cycle, today)
        for _ in range(line.quantity):
            rows.append(dict(
                client=quote.client.id, order=order.id, product=line.product.id,
                server=line.product.server_id, domain=line.hostname, status=status,
                registration_date=today, quantity=1,
                first_payment_amount=line.service_first_payment,
                recurring_amount=line.recurring_amount,
                billing_cycle=line.cycle.value, next_due_date=ndd, anchor_day=today.day,
                payment_method=quote.payment_method,
                promotion=line.promotion.id if line.promotion else None, promotion_uses=0))
            owners.append(line)
    ids = []
    for start in range(0, len(rows), 500):
        ids.extend(row[0] for row in Service.insert_many(rows[start:start + 500])
                   .returning(Service.id).tuples().execute())
    services = list(zip(owners, ids))
    _insert_choices(services)
    return services


def _insert_choices(services: list[tuple[PricedLine, int]]) -> None:
    rows = [dict(service=service_id, option=option_id, choice=chosen.choice_id,
                 quantity=chosen.quantity)
            for line, service_id in services for option_id, chosen in line.choices.items()]
    for start in range(0, len(rows), 500):
        ServiceConfigOption.insert_many(rows[start:start + 500]).execute()


def _insert_addons(services: list[tuple[PricedLine, int]], status: str,
                   today: pendulum.Date) -> list[ServiceAddon]:
    """Each service's catalog addons, with the service's status and their own cycle and NDD."""
    return [ServiceAddon.create(
        service=service_id, catalog_addon=addon.catalog.id, name=addon.catalog.name,
        setup_fee=addon.setup_fee, recurring_amount=addon.price, billing_cycle=addon.cycle.value,
        status=status, registration_date=today, anchor_day=today.day,
        next_due_date=None if addon.cycle is Cycle.FREE else today)
        for line, service_id in services for addon in line.addons]


def _insert_domain(order: Order, quote: OrderQuote, today: pendulum.Date) -> Domain | None:
    priced = quote.domain
    if priced is None:
        return None
    if quote.status == ACTIVE:
        status = DomainStatus.ACTIVE
    else:
        status = DomainStatus.PENDING_TRANSFER if priced.kind == domains.TRANSFER \
            else DomainStatus.PENDING
    return Domain.create(
        client=quote.client.id, order=order.id, name=priced.name.ascii, kind=priced.kind,
        status=status, registration_date=today, years=priced.years,
        first_payment_amount=priced.price.first, recurring_amount=priced.price.recurring,
        next_due_date=add_months_anchored(today, 12 * priced.years, today.day),
        anchor_day=today.day, payment_method=quote.payment_method,
        epp_code=encrypt(priced.epp_code),
        dns_management=priced.addons.dns_management,
        email_forwarding=priced.addons.email_forwarding,
        id_protection=priced.addons.id_protection)


def _period_text(start: pendulum.Date, end: pendulum.Date | None) -> str:
    if end is None:
        return ""
    return f" ({start.isoformat()} - {end.subtract(days=1).isoformat()})"


def _service_invoice_lines(services: list[tuple[PricedLine, int]], today: pendulum.Date,
                           currency: str) -> list[LineSpec]:
    specs = []
    for line, service_id in services:
        if line.cycle is Cycle.FREE:
            continue
        _, end = _service_dates(line.cycle, today)
        host = f" - {line.hostname}" if line.hostname else ""
        specs.append(LineSpec(
            kind=LineKind.FIRST, item_type=ItemType.SERVICE, item_id=service_id,
            period_start=today, period_end=end, amount=line.service_price,
            description=f"{line.product.name}{host}{_period_text(today, end)}"
                        f"{_options_text(line)}"))
        if line.setup_fee > 0:
            specs.append(LineSpec(kind=LineKind.SETUP, item_type=ItemType.SERVICE,
                                  item_id=service_id, amount=line.setup_fee,
                                  description=f"Setup fee: {line.product.name}{host}"))
        if line.discount.first > 0:
            specs.append(LineSpec(
                kind=LineKind.DISCOUNT, item_type=ItemType.SERVICE, item_id=service_id,
                amount=-line.discount.first,
                description=f"Promotion {line.promotion.code} "
                            f"({promotions.describe(line.promotion, currency)}): "
                            f"{line.product.name}{host}"))
    return specs


def _options_text(line: PricedLine) -> str:
    options = pricing.product_options(line.product.id)
    return "".join(f"\n{o.name}: {o.describe(line.choices[o.id])}" for o in options
                   if o.id in line.choices)


def _domain_invoice_lines(domain: Domain | None, priced: PricedDomain | None,
                          today: pendulum.Date) -> list[LineSpec]:
    if domain is None:
        return []
    years = f"{priced.years} year" + ("s" if priced.years > 1 else "")
    what = "Domain Registration" if priced.kind == domains.REGISTER else "Domain Transfer"
    specs = [LineSpec(kind=LineKind.FIRST, item_type=ItemType.DOMAIN, item_id=domain.id,
                      period_start=today, period_end=domain.next_due_date,
                      amount=priced.price.base_first,
                      description=f"{what} - {priced.name.shown} - {years}"
                                  f"{_period_text(today, domain.next_due_date)}")]
    for label, amount in priced.price.addons:
        specs.append(LineSpec(kind=LineKind.CUSTOM, item_type=ItemType.DOMAIN, item_id=domain.id,
                              amount=amount,
                              description=f"{label} - {priced.name.shown} - {years}"))
    return specs


def _queue_provisioning_at_order(quote: OrderQuote, services: list[tuple[PricedLine, int]]) -> int:
    if quote.status != PENDING:
        return 0
    queued = 0
    for line, service_id in services:
        setup = line.product.auto_setup
        if setup == "on_order" or (setup == "on_payment" and line.cycle is Cycle.FREE):
            queue_module_job(service_id, "create", source="order")
            queued += 1
    return queued


def place_order(request: OrderRequest, admin: Admin, today: pendulum.Date,
                settings: Settings = Settings()) -> OrderResult:
    """Write the order, its services, domain, first invoice and emails in one transaction.

    Raises `ValidationError` (one bad input) or `ValidationErrors` (several), and writes
    nothing, when any part of the order is refused.
    """
    require(admin, ADD_ORDER)
    quote = prepare_order(request, today)
    quote.raise_errors()
    with collect_module_jobs() as job_ids, database.atomic():
        client = _client(quote.client.id)  # re-read inside the transaction
        if quote.promotion is not None:
            promotions.claim_use(quote.promotion)
        order = _create_order_row(
            client=client.id, status=quote.status, payment_method=quote.payment_method,
            promotion=quote.promotion.id if quote.promotion else None,
            promo_code=quote.promotion.code if quote.promotion else "",
            amount=quote.first_payment, admin_login=admin.login,
            notes=clean_text(request.notes, "notes", 5000))
        services = _insert_services(order, quote, today)
        addons = _insert_addons(services, services_status(quote), today)
        domain = _insert_domain(order, quote, today)
        specs = (_service_invoice_lines(services, today, settings.currency)
                 + [spec for addon in addons for spec in addon_billing.first_invoice_lines(addon, today)]
                 + _domain_invoice_lines(domain, quote.domain, today))
        invoice = None
        if request.generate_invoice and specs:
            invoice = create_invoice(
                client.id, specs, date=today, due_date=today,
                payment_method=quote.payment_method, admin=admin,
                order_id=order.id, send_email=request.send_invoice_email,
                company_name=settings.company_name, settings=settings)
        jobs = _queue_provisioning_at_order(quote, services)
        emails = 1 if (invoice is not None and request.send_invoice_email) else 0
        if request.send_confirmation:
            _queue_confirmation(client, order, specs, settings)
            emails += 1
        _audit_order(admin, order, client, quote, services, addons, domain, invoice)
    return OrderResult(order=Order.get_by_id(order.id), service_ids=[sid for _, sid in services],
                       domain_id=domain.id if domain else None,
                       domain_name=quote.domain.name.shown if quote.domain else "",
                       invoice=Invoice.get_by_id(invoice.id) if invoice else None,
                       first_payment=quote.first_payment, module_jobs=jobs, emails=emails,
                       job_ids=list(job_ids))


def _queue_confirmation(client: Client, order: Order, specs: list[LineSpec],
                        settings: Settings) -> None:
    lines = [{"description": spec.description, "amount": spec.amount,
              "period_start": spec.period_start, "period_end": spec.period_end}
             for spec in specs]
    queue_email("order_confirmation", to=client.email, client_id=client.id,
                related_type="order", related_id=order.id,
                context={"client": client, "order": order, "lines": lines,
                         "currency": settings.currency, "company_name": settings.company_name})


def _audit_order(admin: Admin, order: Order, client: Client, quote: OrderQuote,
                 services: list[tuple[PricedLine, int]], addons: list[ServiceAddon],
                 domain: Domain | None,
                 invoice: Invoice | None) -> None:
    audit.record(admin.login, "order.create", "order", order.id, client_id=client.id,
                 description=f"order {order.number}: {len(services)} service(s)"
                             f"{', domain ' + domain.name if domain else ''}, first payment "
                             f"{format_money(quote.first_payment)}",
                 after={"number": order.number, "status": order.status,
                        "payment_method": order.payment_method, "promo_code": order.promo_code,
                        "services": [sid for _, sid in services],
                        "domain": domain.id if domain else None,
                        "invoice": invoice.id if invoice else None,
                        "amount": quote.first_payment})
    rows = [dict(admin_login=admin.login, action="service.create", object_type="service",
                 object_id=service_id, client_id=client.id,
                 description=f"ordered in {order.number}: {line.product.name} "
                             f"({line.cycle.value})",
                 after={"product": line.product.id, "billing_cycle": line.cycle.value,
                        "status": order.status, "first_payment_amount": str(line.service_first_payment),
                        "recurring_amount": str(line.recurring_amount),
                        "promotion": line.promotion.code if line.promotion else "",
                        "config_options": {str(k): v.choice_id for k, v in line.choices.items()},
                        "addons": [a.catalog.id for a in line.addons]})
            for line, service_id in services]
    rows += [dict(admin_login=admin.login, action="addon.add", object_type="addon",
                  object_id=addon.id, client_id=client.id,
                  description=f"ordered in {order.number}: addon {addon.name} of service "
                              f"#{addon.service_id}", after=audit.snapshot(addon))
             for addon in addons]
    if domain is not None:
        rows.append(dict(admin_login=admin.login, action="domain.create", object_type="domain",
                         object_id=domain.id, client_id=client.id,
                         description=f"ordered in {order.number}: {domain.kind} {domain.name}",
                         after=audit.snapshot(domain)))
    audit.record_many(rows)


# --- accepting ----------------------------------------------------------------------------


@dataclass
class AcceptResult:
    order: Order
    queued: list[int]  # services whose module "create" was queued now
    waiting_for_payment: list[int]
    manual: list[int]  # auto-setup "never": an admin creates them by hand
    job_ids: list[int] = field(default_factory=list)  # the module jobs it queued, to run now


def accept_order(order_id: int, admin: Admin, *,
                 today: pendulum.Date | None = None) -> AcceptResult:
    """Accept a pending order: it becomes active and each pending service is provisioned per
    its product's auto-setup (a module "create" job for `on_accept`; `on_order` ones were
    queued when the order was placed, `on_payment` ones wait for the first payment)."""
    require(admin, ADD_ORDER)
    with database.atomic():
        changed = (Order.update(status=ACTIVE, version=Order.version + 1)
                   .where((Order.id == order_id) & (Order.status == PENDING)).execute())
        if changed != 1:
            order = Order.get_or_none(Order.id == order_id)
            if order is None:
                raise ValidationError("order", f"there is no order #{order_id}")
            raise ValidationError("order", f"order {order.number} is {order.status}; only a "
                                           "pending order can be accepted")
        order = Order.get_by_id(order_id)
        result = AcceptResult(order=order, queued=[], waiting_for_payment=[], manual=[])
        rows = (Service.select(Service.id, Product.auto_setup)
                .join(Product, on=(Service.product == Product.id))
                .where((Service.order == order_id) & (Service.status == ServiceStatus.PENDING))
                .order_by(Service.id).tuples())
        already = {row[0] for row in ModuleJob.select(ModuleJob.service)
                   .join(Service, on=(ModuleJob.service == Service.id))
                   .where((Service.order == order_id) & (ModuleJob.command == "create")
                          & ModuleJob.status.in_(("queued", "failed"))).tuples()}
        billed = {row[0] for row in InvoiceLine.select(InvoiceLine.item_id)
                  .join(Service, on=(InvoiceLine.item_id == Service.id))
                  .where((Service.order == order_id) & (InvoiceLine.item_type == ItemType.SERVICE)
                         & (InvoiceLine.kind == LineKind.FIRST)
                         & (InvoiceLine.cancelled == False)).tuples()}  # noqa: E712
        for service_id, auto_setup in rows:
            # "On payment" with nothing to pay (no invoice was generated) would never start.
            if auto_setup == "on_payment" and service_id in billed:
                result.waiting_for_payment.append(service_id)
            elif auto_setup in ("on_accept", "on_payment"):
                if service_id not in already:
                    job = queue_module_job(service_id, "create", source="accept")
                    result.queued.append(service_id)
                    result.job_ids.append(job.id)
            elif auto_setup == "never":
                result.manual.append(service_id)
        audit.record(admin.login, "order.accept", "order", order_id, client_id=order.client_id,
                     description=f"order {order.number} accepted; create queued for "
                                 f"{len(result.queued)} service(s)",
                     before={"status": PENDING}, after={"status": ACTIVE,
                                                        "queued": result.queued})
        return result
