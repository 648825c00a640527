"""Upgrades and downgrades of a service (rules §7).

`quote_upgrade` shows what a change of product, cycle or configurable options costs: the
credit for the days left at the recurring amount in force, the charge for the same days at
the new amount, a promotion's discount and the payable (`models.cycles.upgrade_quote` does
the arithmetic). `create_upgrade` turns a quote into an upgrade order and its invoice in one
transaction; nothing on the service changes until that invoice is paid, when
`models.invoicing` calls `apply_upgrade` (exactly once per paid line).

What is charged:
- product or cycle change: credit = recurring amount in force × R / L, charge = the new
  recurring amount (`recalculated_recurring_amount`: price + options − the service's own
  recurring promotion) × R / L'.
- options only (same product and cycle): each changed option's old price is credited and its
  new price charged for the days left; the recurring amount moves by the difference, so a
  custom price on the rest of the service is kept.
- a promotion code entered with the upgrade discounts this upgrade invoice only: its
  first-invoice discount (`models.promotions`) taken on charge − credit.
- a downgrade's negative payable is stored as a negative `Upgrade.payable` when
  `credit_on_downgrade` is on (zero otherwise) and becomes client credit on payment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

import pendulum
from peewee import IntegrityError

from hostdesk.models import audit, promotions
from hostdesk.models.cycles import Cycle, UpgradeQuote, parse_cycle, upgrade_quote
from hostdesk.models.db import database
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.money import format_money
from hostdesk.models.order_numbers import new_order_number
from hostdesk.models.permissions import UPGRADE_ORDERS, require
from hostdesk.models.pricing import (
    OptionChoice,
    OptionInfo,
    current_config_choices,
    product_options,
    recalculated_recurring_amount,
    option_prices,
    target_choices,
)
from hostdesk.models.schema import (
    Admin,
    Client,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ItemType,
    LineKind,
    Order,
    Product,
    ProductPrice,
    Promotion,
    Service,
    ServiceStatus,
    Upgrade,
)
from hostdesk.models.settings import Settings
from hostdesk.models.upgrade_effects import (
    PENDING,
    is_live,
    load_service,
    set_cancelled,
    apply_upgrade,
    cancel_upgrade,
    cancel_upgrades_of_invoice,
    pending_upgrade,
    reinstate_upgrades_of_invoice,
    upgrade_of_invoice,
)

if TYPE_CHECKING:
    from hostdesk.models.invoicing import LineSpec

# What only the upgrade screen (orders) and the upgrade order (invoicing) use is imported where
# it is used: a headless quote or order is a new process per request and loads only what it needs.

UPGRADABLE_STATUSES = (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)
ZERO = Decimal("0.00")


def _upgrade_discount(promotion: Promotion | None, amount_due: Decimal) -> Decimal:
    """A promotion on an upgrade discounts the amount due, charge − credit (as WHMCS does)."""
    if promotion is None or amount_due <= 0:
        return ZERO
    return min(promotions.first_period_discount(promotion, amount_due, ZERO), amount_due)


# --- what the upgrade screen opens with ------------------------------------------------------

CYCLE_ORDER = [Cycle.MONTHLY, Cycle.QUARTERLY, Cycle.SEMIANNUALLY, Cycle.ANNUALLY,
               Cycle.BIENNIALLY, Cycle.TRIENNIALLY, Cycle.FREE]


@dataclass
class UpgradeStart:
    """What the form needs before the first quote."""

    service: Service
    product_name: str
    client_name: str
    products: list[tuple[str, int]]  # (label, id) for the picker
    cycles: dict[int, list[Cycle]]  # product id -> cycles it has a price for (and, first
    # for the service's own product, the service's cycle when that product has no price for it)
    options: list[OptionInfo]  # of the service's product
    current_choices: dict[int, OptionChoice]


def load_upgrade_start(service_id: int) -> UpgradeStart | None:
    """What the upgrade screen shows before the first quote (one read)."""
    from hostdesk.models import orders

    service = (Service.select(Service, Product, Client)
               .join(Product, on=(Service.product == Product.id)).switch(Service)
               .join(Client, on=(Service.client == Client.id))
               .where(Service.id == service_id).first())
    if service is None:
        return None
    products = orders.orderable_products()
    current = service.product
    if current.id not in {p.id for p in products}:
        products.insert(0, current)  # a retired product is still where the service is
    cycles: dict[int, list[Cycle]] = {p.id: [] for p in products}
    priced = (ProductPrice.select(ProductPrice.product, ProductPrice.cycle)
              .where(ProductPrice.product.in_(list(cycles))).tuples())
    known = {c.value: c for c in CYCLE_ORDER}
    for product_id, cycle in priced:
        if cycle in known:
            cycles[product_id].append(known[cycle])
    for product_id in cycles:
        cycles[product_id].sort(key=CYCLE_ORDER.index)
    own = next((c for c in Cycle if c.value == service.billing_cycle), None)
    if own is not None and own not in cycles[current.id]:
        # A free or one-time service, or a price removed since: the form still opens on what
        # the service is, so that nothing looks chosen before the admin chooses.
        cycles[current.id].insert(0, own)
    labels = [(orders.product_label(p.name, p.group_name), p.id) for p in products]
    return UpgradeStart(service=service, product_name=current.name,
                        client_name=service.client.display_name,
                        products=labels, cycles=cycles,
                        options=product_options(current.id),
                        current_choices=current_config_choices(service.id))


# --- the quote -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """An upgrade or downgrade of one service as the admin sees it before confirming.

    `figures` holds the rules §7 numbers (credit, charge, discount, payable, credit to the
    client, R, L, L', the NDD after the change). `old_amount`/`new_amount` are the recurring
    amounts before and after; `prorated_old`/`prorated_new` the amounts the credit and charge
    were prorated from (the same, except for an options-only change: the changed options).
    """

    service_id: int
    today: pendulum.Date
    old_product_id: int
    old_product_name: str
    new_product_id: int
    new_product_name: str
    old_cycle: Cycle
    new_cycle: Cycle
    old_amount: Decimal
    new_amount: Decimal
    prorated_old: Decimal
    prorated_new: Decimal
    next_due_date: pendulum.Date | None
    figures: UpgradeQuote
    config_choices: dict = field(default_factory=dict)  # option id -> OptionChoice to store
    option_changes: tuple = ()  # (option name, before, after) for changed options
    promotion_id: int | None = None
    promo_code: str = ""
    warnings: tuple = ()

    # the rules §7 figures, by name
    credit = property(lambda self: self.figures.credit)
    charge = property(lambda self: self.figures.charge)
    discount = property(lambda self: self.figures.discount)
    payable = property(lambda self: self.figures.payable)
    credit_to_client = property(lambda self: self.figures.credit_to_client)
    days_remaining = property(lambda self: self.figures.days_remaining)
    old_period_days = property(lambda self: self.figures.old_period_days)
    new_period_days = property(lambda self: self.figures.new_period_days)
    new_next_due_date = property(lambda self: self.figures.new_ndd)

    @property
    def stored_payable(self) -> Decimal:
        """Upgrade.payable: what the invoice asks, or minus the credit a downgrade gives."""
        return self.payable if self.payable > 0 else -self.credit_to_client

    @property
    def upgrade_line_amount(self) -> Decimal:
        return max(self.charge - self.credit, ZERO)

    def summary(self) -> str:
        old = f"{self.old_product_name} ({self.old_cycle.label})"
        new = f"{self.new_product_name} ({self.new_cycle.label})"
        return f"{old} → {new}" if old != new else f"{new}: configurable options"


def _check_upgradable(service: Service) -> None:
    if service.status not in UPGRADABLE_STATUSES:
        raise ValidationError("service", f"service #{service.id} is {service.status}; only active "
                                         "or suspended services can be upgraded or downgraded")


def _load_product(product_id) -> Product:
    product = Product.get_or_none(Product.id == product_id) if product_id else None
    if product is None:
        raise ValidationError("new_product", "choose a product")
    return product


def _new_cycle(text) -> Cycle:
    cycle = parse_cycle(text, "new_cycle")
    if cycle is Cycle.ONE_TIME:
        raise ValidationError("new_cycle", "a one-time cycle cannot be reached by an upgrade; "
                                           "choose a recurring cycle")
    return cycle


def _warnings(service: Service, quote_figures: UpgradeQuote, credit_on_downgrade: bool) -> tuple:
    found = []
    unpaid = (InvoiceLine.select(InvoiceLine.invoice)
              .join(Invoice)
              .where((InvoiceLine.item_type == ItemType.SERVICE) & (InvoiceLine.item_id == service.id)
                     & (InvoiceLine.kind == LineKind.RENEWAL)
                     & (InvoiceLine.cancelled == False)  # noqa: E712
                     & (Invoice.status == InvoiceStatus.UNPAID))
              .tuples())
    invoice_ids = sorted({row[0] for row in unpaid})
    if invoice_ids:
        numbers = ", ".join(f"#{i}" for i in invoice_ids)
        found.append(f"unpaid renewal invoice {numbers} bills the next period at the current "
                     "price; cancel it and invoice again once the upgrade is paid")
    shortfall = quote_figures.credit - quote_figures.charge
    if shortfall > 0 and not credit_on_downgrade:
        found.append(f"credit_on_downgrade is off: the client is not credited the "
                     f"{format_money(shortfall, '')} difference")
    return tuple(found)


@dataclass(frozen=True)
class _Amounts:
    prorated_old: Decimal  # what the credit is prorated from
    prorated_new: Decimal  # what the charge is prorated from
    new_amount: Decimal  # the recurring amount after the change
    choices: dict  # option id -> OptionChoice to store on payment


def _options_only(service: Service, cycle: Cycle, baseline: dict, changed: dict) -> _Amounts:
    """Same product and cycle: the changed options' old prices are credited, their new
    prices charged; the rest of the recurring amount (maybe a custom price) is kept."""
    before = sum(option_prices({oid: baseline[oid] for oid in changed}, cycle).values(), ZERO)
    after = sum(option_prices(changed, cycle).values(), ZERO)
    return _Amounts(before, after, max(service.recurring_amount - before + after, ZERO), changed)


def _new_plan(service: Service, product: Product, cycle: Cycle, choices: dict) -> _Amounts:
    """Another product or cycle: the amount in force is credited, the new recurring amount
    (with the service's own recurring promotion) charged."""
    own_promotion = (Promotion.get_or_none(Promotion.id == service.promotion_id)
                     if service.promotion_id else None)
    new_amount = recalculated_recurring_amount(service, product, cycle, choices, own_promotion)
    return _Amounts(service.recurring_amount, new_amount, new_amount, choices)


def _figures(service: Service, amounts: _Amounts, cycle: Cycle, today: pendulum.Date,
             settings: Settings, promotion: Promotion | None) -> UpgradeQuote:
    arguments = dict(old_amount=amounts.prorated_old, old_cycle=service.billing_cycle,
                     new_amount=amounts.prorated_new, new_cycle=cycle,
                     ndd=service.next_due_date, today=today, anchor_day=service.anchor_day,
                     basis=settings.prorata_day_basis,
                     credit_on_downgrade=settings.credit_on_downgrade)
    figures = upgrade_quote(**arguments)
    discount = _upgrade_discount(promotion, figures.charge - figures.credit)
    return upgrade_quote(**arguments, discount=discount) if discount else figures


def _option_changes(product_id: int, baseline: dict, changed: dict) -> tuple:
    options = {o.id: o for o in product_options(product_id)}
    return tuple((options[oid].name,
                  options[oid].describe(baseline[oid]) if oid in baseline else "—",
                  options[oid].describe(chosen))
                 for oid, chosen in changed.items())


def _quote(service: Service, new_product_id, new_cycle, today: pendulum.Date,
           settings: Settings, config_changes, promo_code) -> Quote:
    _check_upgradable(service)
    _check_no_upgrade_waiting(service.id)
    new_product = _load_product(new_product_id)
    cycle = _new_cycle(new_cycle)
    old_cycle = Cycle(service.billing_cycle)
    same_product = new_product.id == service.product_id
    current = current_config_choices(service.id) if same_product else {}
    choices = target_choices(new_product.id, current, config_changes)
    # What each option is now (an option the service never chose counts as its default).
    baseline = target_choices(new_product.id, current, None) if same_product else {}
    changed = {oid: c for oid, c in choices.items() if baseline.get(oid) != c}
    if same_product and cycle is old_cycle and not changed:
        raise ValidationError("new_product", f"the service is already on {new_product.name}, "
                                             f"{cycle.label}, with these options; choose another "
                                             "product, cycle or option")
    promotion = promotions.validate_promo(promo_code, new_product.id, cycle, today)
    amounts = (_options_only(service, cycle, baseline, changed)
               if same_product and cycle is old_cycle
               else _new_plan(service, new_product, cycle, choices))
    figures = _figures(service, amounts, cycle, today, settings, promotion)
    old_product = Product.get_by_id(service.product_id)
    return Quote(
        service_id=service.id, today=today,
        old_product_id=old_product.id, old_product_name=old_product.name,
        new_product_id=new_product.id, new_product_name=new_product.name,
        old_cycle=old_cycle, new_cycle=cycle,
        old_amount=service.recurring_amount, new_amount=amounts.new_amount,
        prorated_old=amounts.prorated_old, prorated_new=amounts.prorated_new,
        next_due_date=service.next_due_date, figures=figures,
        config_choices=amounts.choices,
        option_changes=_option_changes(new_product.id, baseline, changed),
        promotion_id=promotion.id if promotion else None,
        promo_code=promotion.code if promotion else "",
        warnings=_warnings(service, figures, settings.credit_on_downgrade),
    )


def quote_upgrade(service_id: int, new_product_id: int, new_cycle, today: pendulum.Date,
                  settings: Settings, config_changes: Mapping[int, OptionChoice] | None = None,
                  promo_code: str | None = None) -> Quote:
    """The quote of rules §7 for changing the service to `new_product_id` on `new_cycle`
    (and/or changing configurable options). Reads only; bad input raises ValidationError."""
    return _quote(load_service(service_id), new_product_id, new_cycle, today, settings,
                  config_changes, promo_code)


# --- creating the upgrade order ----------------------------------------------------------------


@dataclass(frozen=True)
class UpgradeOrder:
    upgrade: Upgrade
    order: Order
    invoice: Invoice
    quote: Quote
    module_jobs: tuple[int, ...] = ()  # queued when a zero invoice applied it at once


def _waiting_message(service_id: int, upgrade: Upgrade) -> str:
    return (f"service #{service_id} already has an upgrade waiting for payment (upgrade "
            f"#{upgrade.id}, invoice #{upgrade.invoice_id}); it must be paid or its invoice "
            "cancelled first")


def _check_no_upgrade_waiting(service_id: int) -> None:
    """Rules §7: no second upgrade while an earlier upgrade invoice is unpaid."""
    earlier = pending_upgrade(service_id)
    if earlier is not None and is_live(earlier):
        raise RuleViolation(_waiting_message(service_id, earlier))


def _refuse_second_upgrade(service_id: int, admin: Admin) -> None:
    """Rules §7: refused while an earlier upgrade invoice is unpaid. A pending upgrade whose
    invoice lines were all cancelled (e.g. a cancellation request) is closed here."""
    earlier = pending_upgrade(service_id)
    if earlier is None:
        return
    if is_live(earlier):
        raise RuleViolation(_waiting_message(service_id, earlier))
    set_cancelled(earlier, admin, "its invoice lines were cancelled")


def _create_order(client_id: int, **fields) -> Order:
    for _ in range(5):
        try:
            with database.atomic():
                return Order.create(number=new_order_number(), client=client_id, **fields)
        except IntegrityError:
            continue  # that random number was taken; draw another
    raise RuleViolation("could not draw a free order number; try again")


def _line_description(quote: Quote, domain: str) -> str:
    where = f" - {domain}" if domain else ""
    if quote.figures.new_ndd is not None and quote.figures.days_remaining:
        last_day = quote.figures.new_ndd.subtract(days=1)
        period = f" ({quote.today.isoformat()} – {last_day.isoformat()})"
    else:
        period = ""
    text = f"Upgrade/Downgrade: {quote.summary()}{where}{period}"
    if quote.option_changes:
        text += "; " + ", ".join(f"{name}: {before} → {after}"
                                 for name, before, after in quote.option_changes)
    if quote.credit_to_client > 0:
        text += f"; client credit {format_money(quote.credit_to_client, '')} on payment"
    return text


def _invoice_lines(quote: Quote, upgrade_id: int, domain: str) -> list[LineSpec]:
    from hostdesk.models.invoicing import LineSpec

    period_end = quote.figures.new_ndd or quote.today
    lines = [LineSpec(kind=LineKind.UPGRADE, description=_line_description(quote, domain),
                      amount=quote.upgrade_line_amount, item_type=ItemType.SERVICE,
                      item_id=quote.service_id, period_start=quote.today, period_end=period_end,
                      upgrade=upgrade_id)]
    if quote.discount > 0:
        lines.append(LineSpec(kind=LineKind.DISCOUNT, amount=-quote.discount,
                              description=f"Promotion {quote.promo_code}",
                              item_type=ItemType.SERVICE, item_id=quote.service_id,
                              upgrade=upgrade_id))
    return lines


def create_upgrade(service_id: int, new_product_id: int, new_cycle, today: pendulum.Date,
                   settings: Settings, *, admin: Admin,
                   config_changes: Mapping[int, OptionChoice] | None = None,
                   promo_code: str | None = None, expected_payable: Decimal | None = None,
                   send_email: bool = True) -> UpgradeOrder:
    """Confirm an upgrade: the upgrade order, the Upgrade row and its invoice, in one
    transaction. The quote is computed again inside it; `expected_payable` (what the admin
    saw) must still match, or nothing is written. A zero invoice (a downgrade) is paid at
    once, which applies the upgrade."""
    from hostdesk.models import invoicing

    require(admin, UPGRADE_ORDERS)
    try:
        with invoicing.collect_module_jobs() as jobs, database.atomic():
            service = load_service(service_id, lock=True)
            _refuse_second_upgrade(service.id, admin)
            quote = _quote(service, new_product_id, new_cycle, today, settings,
                           config_changes, promo_code)
            if expected_payable is not None and quote.payable != expected_payable:
                raise RuleViolation(f"the quote changed since it was shown (payable is now "
                                    f"{format_money(quote.payable, settings.currency)}); "
                                    "review it and confirm again")
            made = _write_upgrade(service, quote, settings, admin, send_email)
        return replace(made, module_jobs=tuple(jobs))
    except IntegrityError:
        earlier = pending_upgrade(service_id)
        if earlier is None:
            raise
        raise RuleViolation(_waiting_message(service_id, earlier)) from None


def _write_upgrade(service: Service, quote: Quote, settings: Settings, admin: Admin,
                   send_email: bool) -> UpgradeOrder:
    from hostdesk.models import invoicing

    order = _create_order(service.client_id, status="pending",
                          payment_method=service.payment_method, promotion=quote.promotion_id,
                          promo_code=quote.promo_code, amount=quote.payable,
                          admin_login=admin.login,
                          notes=f"Upgrade of service #{service.id}: {quote.summary()}")
    upgrade = Upgrade.create(
        service=service.id, order=order.id, old_product=quote.old_product_id,
        new_product=quote.new_product_id, old_cycle=quote.old_cycle.value,
        new_cycle=quote.new_cycle.value, old_amount=quote.old_amount,
        new_amount=quote.new_amount,
        config_changes=json.dumps({str(k): v.as_json() for k, v in quote.config_choices.items()},
                                  sort_keys=True),
        credit=quote.credit, charge=quote.charge, discount=quote.discount,
        payable=quote.stored_payable, status=PENDING)
    if quote.promotion_id:
        promotions.claim_use(Promotion.get_by_id(quote.promotion_id))
    audit.record(admin.login, "upgrade.create", "service", service.id, client_id=service.client_id,
                 description=f"upgrade order {order.number}: {quote.summary()}, payable "
                             f"{format_money(quote.payable, settings.currency)}",
                 after={"upgrade": upgrade.id, "order": order.number, "credit": quote.credit,
                        "charge": quote.charge, "discount": quote.discount,
                        "payable": quote.payable, "credit_to_client": quote.credit_to_client,
                        "new_amount": quote.new_amount})
    invoice = invoicing.create_invoice(
        service.client_id, _invoice_lines(quote, upgrade.id, service.domain), date=quote.today,
        due_date=quote.today, payment_method=service.payment_method, admin=admin,
        order_id=order.id, send_email=send_email, company_name=settings.company_name,
        settings=settings)
    Upgrade.update(invoice=invoice.id).where(Upgrade.id == upgrade.id).execute()
    return UpgradeOrder(Upgrade.get_by_id(upgrade.id), Order.get_by_id(order.id),
                        Invoice.get_by_id(invoice.id), quote)


__all__ = [
    "OptionChoice", "OptionInfo", "Quote", "UpgradeOrder", "apply_upgrade", "cancel_upgrade",
    "cancel_upgrades_of_invoice", "create_upgrade", "current_config_choices",
    "pending_upgrade", "product_options", "quote_upgrade",
    "recalculated_recurring_amount", "reinstate_upgrades_of_invoice", "target_choices",
    "upgrade_of_invoice",
]
