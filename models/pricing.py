"""A service's recurring price, computed once for every path (rules §6 auto recalculate, §7
upgrade quote, §9 order quote): the product's price for the cycle + its configurable options −
the promotion's renewal discount (while the promotion still recurs for the service and covers
the product and cycle). The service page, the order form and the upgrade screen all ask
`recurring_price`, so they can never disagree.

The configurable options (what a product offers, what a service chose, what the choices
cost) live here too: they are part of the price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from hostdesk.models import promotions
from hostdesk.models.cycles import Cycle, parse_cycle
from hostdesk.models.errors import ValidationError
from hostdesk.models.schema import (
    CatalogAddon,
    CatalogAddonPrice,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionPrice,
    Product,
    ProductPrice,
    Promotion,
    Service,
    ServiceConfigOption,
)

MAX_OPTION_QUANTITY = 10_000
ZERO = Decimal("0.00")

# The order "shortest" means: repeating cycles by length, then the ones that do not repeat.
SHORTEST_FIRST: tuple[Cycle, ...] = (
    Cycle.MONTHLY, Cycle.QUARTERLY, Cycle.SEMIANNUALLY, Cycle.ANNUALLY, Cycle.BIENNIALLY,
    Cycle.TRIENNIALLY, Cycle.ONE_TIME, Cycle.FREE,
)


# --- configurable options ----------------------------------------------------------------


@dataclass(frozen=True)
class OptionChoice:
    """What a service has chosen for one configurable option.

    dropdown: `choice_id`; yes/no: `choice_id` of the "yes" choice or None for no;
    quantity: `quantity` units (priced by the option's choice, `choice_id` may be None).
    """

    choice_id: int | None = None
    quantity: int = 0

    def as_json(self) -> dict:
        return {"choice": self.choice_id, "quantity": self.quantity}

    @classmethod
    def from_json(cls, data: dict) -> OptionChoice:
        return cls(data.get("choice"), int(data.get("quantity") or 0))


@dataclass(frozen=True)
class OptionInfo:
    """A product's configurable option with its choices (for pickers and pricing)."""

    id: int
    name: str
    option_type: str
    choices: tuple[tuple[int, str], ...]  # (choice id, name) in sort order

    def default(self) -> OptionChoice:
        if self.option_type == "dropdown" and self.choices:
            return OptionChoice(self.choices[0][0], 0)
        if self.option_type == "quantity" and self.choices:
            return OptionChoice(self.choices[0][0], 0)
        return OptionChoice(None, 0)

    def describe(self, chosen: OptionChoice) -> str:
        if self.option_type == "quantity":
            return str(chosen.quantity)
        names = dict(self.choices)
        if self.option_type == "yesno":
            return "yes" if chosen.choice_id is not None else "no"
        return names.get(chosen.choice_id, "none")


def product_options(product_id: int) -> list[OptionInfo]:
    """The product's configurable options, each with its choices (two indexed queries)."""
    options = list(ConfigOption.select()
                   .where(ConfigOption.product == product_id)
                   .order_by(ConfigOption.sort_order, ConfigOption.id))
    if not options:
        return []
    choices: dict[int, list[tuple[int, str]]] = {o.id: [] for o in options}
    for choice in (ConfigOptionChoice.select()
                   .where(ConfigOptionChoice.option.in_([o.id for o in options]))
                   .order_by(ConfigOptionChoice.sort_order, ConfigOptionChoice.id)):
        choices[choice.option_id].append((choice.id, choice.name))
    return [OptionInfo(o.id, o.name, o.option_type, tuple(choices[o.id])) for o in options]


def current_config_choices(service_id: int) -> dict[int, OptionChoice]:
    """option id -> what the service has chosen now."""
    return {row.option_id: OptionChoice(row.choice_id, row.quantity)
            for row in ServiceConfigOption.select().where(ServiceConfigOption.service == service_id)}


def _checked_choice(option: OptionInfo, chosen) -> OptionChoice:
    field_name = f"option:{option.id}"
    if not isinstance(chosen, OptionChoice):
        raise TypeError(f"{field_name}: expected an OptionChoice, got {type(chosen).__name__}")
    quantity = chosen.quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationError(field_name, "the quantity must be a whole number")
    if not 0 <= quantity <= MAX_OPTION_QUANTITY:
        raise ValidationError(field_name, f"the quantity must be 0–{MAX_OPTION_QUANTITY}")
    choice_ids = {choice_id for choice_id, _ in option.choices}
    if chosen.choice_id is not None and chosen.choice_id not in choice_ids:
        raise ValidationError(field_name, f"choice #{chosen.choice_id} is not a choice of "
                                          f"{option.name}")
    if option.option_type == "dropdown" and chosen.choice_id is None and option.choices:
        raise ValidationError(field_name, f"choose one of the {option.name} choices")
    if option.option_type != "quantity" and quantity:
        raise ValidationError(field_name, f"{option.name} takes a choice, not a quantity")
    if option.option_type == "quantity" and chosen.choice_id is None and option.choices:
        chosen = OptionChoice(option.choices[0][0], quantity)
    return chosen


def target_choices(product_id: int, current: Mapping[int, OptionChoice],
                   changes: Mapping[int, OptionChoice] | None) -> dict[int, OptionChoice]:
    """Every option of `product_id` with what it will be: the change, else the current
    choice, else the option's default. A change for an option of another product is refused."""
    options = product_options(product_id)
    by_id = {o.id: o for o in options}
    for option_id in changes or {}:
        if option_id not in by_id:
            raise ValidationError("config_options", f"option #{option_id} is not an option of "
                                                    "the chosen product")
    result = {}
    for option in options:
        if changes and option.id in changes:
            result[option.id] = _checked_choice(option, changes[option.id])
        elif option.id in current:
            result[option.id] = current[option.id]
        else:
            result[option.id] = option.default()
    return result


def option_prices(choices: Mapping[int, OptionChoice], cycle: Cycle) -> dict[int, Decimal]:
    """option id -> its price for `cycle` with that choice (a missing price row is 0.00)."""
    choice_ids = [c.choice_id for c in choices.values() if c.choice_id is not None]
    prices = {}
    if choice_ids:
        prices = {row.choice_id: row.price for row in ConfigOptionPrice.select().where(
            ConfigOptionPrice.choice.in_(choice_ids) & (ConfigOptionPrice.cycle == cycle.value))}
    option_types = dict(ConfigOption.select(ConfigOption.id, ConfigOption.option_type)
                        .where(ConfigOption.id.in_(list(choices))).tuples()) if choices else {}
    result = {}
    for option_id, chosen in choices.items():
        unit = prices.get(chosen.choice_id, ZERO) if chosen.choice_id is not None else ZERO
        if option_types.get(option_id) == "quantity":
            result[option_id] = unit * chosen.quantity
        else:
            result[option_id] = unit
    return result


def option_setup_fees(choices: Mapping[int, OptionChoice], cycle: Cycle) -> Decimal:
    """The setup fees of the chosen choices for `cycle` (once per choice, whatever the quantity)."""
    choice_ids = [c.choice_id for c in choices.values() if c.choice_id is not None]
    if not choice_ids:
        return ZERO
    return sum((row.setup_fee for row in ConfigOptionPrice.select().where(
        ConfigOptionPrice.choice.in_(choice_ids) & (ConfigOptionPrice.cycle == cycle.value))), ZERO)


# --- catalog addons ----------------------------------------------------------------------


def catalog_addon_price(addon: CatalogAddon, cycle: Cycle | None, *, exact: bool = False,
                        field: str = "addon") -> CatalogAddonPrice:
    """The catalog addon's price row for `cycle`; when it has none (or no cycle is given) its
    shortest priced cycle, unless `exact` asks for that cycle only."""
    rows = {row.cycle: row for row in
            CatalogAddonPrice.select().where(CatalogAddonPrice.addon == addon.id)}
    if cycle is not None and cycle.value in rows:
        return rows[cycle.value]
    if exact:
        raise ValidationError(field, f"{addon.name} has no price for {cycle.value}")
    for shortest in SHORTEST_FIRST:
        if shortest.value in rows:
            return rows[shortest.value]
    raise ValidationError(field, f"{addon.name} has no price for any billing cycle")


# --- prices and promotions -----------------------------------------------------------------


def product_price(product: Product, cycle: Cycle, field: str = "new_cycle") -> Decimal:
    if cycle is Cycle.FREE:
        return ZERO
    row = price_for(product, cycle)
    if row is None:
        raise ValidationError(field, f"{product.name} has no {cycle.label} price")
    return row.price


def price_for(product: Product | int, cycle: Cycle | str) -> ProductPrice | None:
    """The product's price row for the cycle, or None when it is not sold on that cycle."""
    return (ProductPrice.select()
            .where((ProductPrice.product == product) & (ProductPrice.cycle == Cycle(cycle).value))
            .first())


@dataclass(frozen=True)
class RecurringPrice:
    """What one service renews at, in parts (the service page shows them)."""

    product: Decimal  # the product's price for the cycle (or the price typed over it)
    options: Decimal  # the configurable options for the cycle
    discount: Decimal  # the promotion's renewal discount (zero once its renewals are used)

    @property
    def full(self) -> Decimal:
        return self.product + self.options

    @property
    def total(self) -> Decimal:
        return self.product + self.options - self.discount


NOTHING = RecurringPrice(ZERO, ZERO, ZERO)


def recurring_price(product: Product, cycle, *, choices: Mapping[int, OptionChoice] | None = None,
                    promotion: Promotion | None = None, renewals_used: int = 0,
                    base_price: Decimal | None = None,
                    cycle_field: str = "new_cycle") -> RecurringPrice:
    """The one recurring-price rule. `choices` are already resolved (option id -> choice);
    `renewals_used` is how many renewals the promotion already discounted for the service;
    `base_price` replaces the catalog price (an order line's price override)."""
    cycle = parse_cycle(cycle, "billing_cycle")
    if cycle is Cycle.FREE:
        return NOTHING
    base = product_price(product, cycle, cycle_field) if base_price is None else base_price
    options = sum(option_prices(choices or {}, cycle).values(), ZERO)
    discount = ZERO
    if promotion is not None and promotions.Applicability.of(promotion).covers(product.id, cycle):
        full = base + options
        discount = full - promotions.renewal_amount(promotion, full, renewals_used)
    return RecurringPrice(base, options, discount)


def service_recurring_price(service: Service | None, product: Product, cycle,
                            config_choices: Mapping[int, OptionChoice] | None = None,
                            promotion: Promotion | None = None, *,
                            renewals_used: int | None = None,
                            cycle_field: str = "new_cycle",
                            base_price: Decimal | None = None) -> RecurringPrice:
    """`recurring_price` for a service (kept or moved to `product`): `config_choices` None
    means the service's current choices (or the defaults of `product`'s options when the
    product changes); choices are validated against `product`. `renewals_used` None means
    the renewals the service's promotion already discounted."""
    if parse_cycle(cycle, "billing_cycle") is Cycle.FREE:
        return NOTHING
    current = current_config_choices(service.id) if service is not None and service.id else {}
    if service is not None and service.product_id != product.id:
        current = {}
    choices = target_choices(product.id, current, config_choices)
    if renewals_used is None:
        renewals_used = service.promotion_uses if service is not None else 0
    return recurring_price(product, cycle, choices=choices, promotion=promotion,
                           renewals_used=renewals_used, cycle_field=cycle_field,
                           base_price=base_price)


def recalculated_recurring_amount(service: Service | None, product: Product, cycle,
                                  config_choices: Mapping[int, OptionChoice] | None = None,
                                  promotion: Promotion | None = None) -> Decimal:
    """Auto recalculate (rules §6): the total of `service_recurring_price`."""
    return service_recurring_price(service, product, cycle, config_choices, promotion).total
