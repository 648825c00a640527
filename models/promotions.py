"""Promotion codes (rules §9, WHMCS promotions): who may use one, and what it takes off.

Types, for a line whose price per cycle is P and setup fee S (each service on its own):
- `percentage`: value % of P, rounded to the cent (ROUND_HALF_UP); the setup fee is untouched.
- `fixed`: value off P, at most P.
- `price_override`: P becomes value; the discount is P − value (nothing when value ≥ P).
- `free_setup`: S off the first invoice; renewals are untouched.

The first invoice always gets the discount. Renewals get it only when the promotion is
`recurring`: every renewal with `recur_for` = 0, otherwise the first `recur_for` renewals
(WHMCS: "to discount 6 times, enter 5"), after which the service reverts to the full price.

A promotion applies to the products linked to it (none linked: every product) and to the
cycles listed in `cycles` (empty: every cycle). It is valid from `start_date` to
`expiry_date` inclusive. `max_uses` (0 = unlimited) counts orders: each order that uses the
code takes one use with a conditional UPDATE, so two admins can never both take the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pendulum
from peewee import fn

from hostdesk.models.cycles import Cycle
from hostdesk.models.errors import ValidationError
from hostdesk.models.money import format_money, round_money, to_fraction
from hostdesk.models.parsing import clean_text
from hostdesk.models.schema import Product, Promotion, PromotionProduct

FIELD = "promo_code"
PERCENTAGE, FIXED, PRICE_OVERRIDE, FREE_SETUP = Promotion.TYPES
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Discount:
    """What a promotion takes off one service: its first invoice, and each discounted renewal."""

    first: Decimal = ZERO
    recurring: Decimal = ZERO


NO_DISCOUNT = Discount()


# --- finding and checking a code --------------------------------------------------------


def find_promotion(code: str | None, field: str = FIELD) -> Promotion | None:
    """The promotion for a typed code (exact, else case-insensitive); None for a blank field."""
    cleaned = clean_text(code, field, max_length=50)
    if not cleaned:
        return None
    promotion = Promotion.get_or_none(Promotion.code == cleaned)
    if promotion is None:
        promotion = (Promotion.select().where(fn.LOWER(Promotion.code) == cleaned.lower())
                     .order_by(Promotion.id).first())
    if promotion is None:
        raise ValidationError(field, f"there is no promotion with the code '{cleaned}'")
    return promotion


def check_valid_on(promotion: Promotion, today: pendulum.Date, field: str = FIELD) -> None:
    """Refuse a code outside its dates or with no uses left."""
    if promotion.start_date is not None and today < promotion.start_date:
        raise ValidationError(field, f"'{promotion.code}' is not valid before "
                                     f"{promotion.start_date.isoformat()}")
    if promotion.expiry_date is not None and today > promotion.expiry_date:
        raise ValidationError(field, f"'{promotion.code}' expired on "
                                     f"{promotion.expiry_date.isoformat()}")
    if promotion.max_uses and promotion.uses >= promotion.max_uses:
        raise ValidationError(field, f"'{promotion.code}' has been used its maximum of "
                                     f"{promotion.max_uses} times")


def promotion_cycles(promotion: Promotion) -> set[str]:
    """The cycles it applies to; empty means every cycle."""
    return {part.strip() for part in promotion.cycles.split(",") if part.strip()}


def promotion_product_ids(promotion: Promotion) -> set[int]:
    """The products it applies to; empty means every product."""
    return {row[0] for row in PromotionProduct.select(PromotionProduct.product)
            .where(PromotionProduct.promotion == promotion.id).tuples()}


@dataclass(frozen=True)
class Applicability:
    """A promotion's restrictions, read once per order."""

    product_ids: frozenset[int]
    cycles: frozenset[str]

    @classmethod
    def of(cls, promotion: Promotion) -> "Applicability":
        return cls(frozenset(promotion_product_ids(promotion)),
                   frozenset(promotion_cycles(promotion)))

    def covers(self, product_id: int, cycle: Cycle | str) -> bool:
        cycle_value = Cycle(cycle).value
        return ((not self.product_ids or product_id in self.product_ids)
                and (not self.cycles or cycle_value in self.cycles))

    def describe(self) -> str:
        """`applies to Plan A, Plan B; cycles: annually` for a refusal message."""
        parts = []
        if self.product_ids:
            names = [p.name for p in Product.select(Product.name)
                     .where(Product.id.in_(sorted(self.product_ids))).order_by(Product.name)]
            parts.append("applies to " + ", ".join(names))
        if self.cycles:
            parts.append("cycles: " + ", ".join(sorted(self.cycles)))
        return "; ".join(parts) or "applies to every product"


def validate_promo(code: str | None, product: Product | int, cycle: Cycle | str,
                   today: pendulum.Date, field: str = FIELD) -> Promotion | None:
    """The promotion for `code` if it may discount `product` on `cycle` today; None for no code."""
    promotion = find_promotion(code, field)
    if promotion is None:
        return None
    check_valid_on(promotion, today, field)
    product_id = product if isinstance(product, int) else product.id
    rules = Applicability.of(promotion)
    if not rules.covers(product_id, cycle):
        raise ValidationError(field, f"'{promotion.code}' does not apply to this product and "
                                     f"cycle ({rules.describe()})")
    return promotion


# --- the discount ------------------------------------------------------------------------


def _percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    return round_money(to_fraction(amount) * to_fraction(percent) / 100)


def first_period_discount(promotion: Promotion, price: Decimal, setup_fee: Decimal) -> Decimal:
    """What the promotion takes off the first invoice of one service."""
    value = promotion.value
    if promotion.type == FREE_SETUP:
        return setup_fee
    if promotion.type == PERCENTAGE:
        return min(_percent_of(price, value), price)
    if promotion.type == FIXED:
        return min(value, price)
    if promotion.type == PRICE_OVERRIDE:
        return max(price - value, ZERO)
    raise ValueError(f"unknown promotion type {promotion.type!r}")


def discount_for(promotion: Promotion | None, price: Decimal, setup_fee: Decimal) -> Discount:
    """The discount on one service priced `price` per cycle with `setup_fee`."""
    if promotion is None:
        return NO_DISCOUNT
    first = first_period_discount(promotion, price, setup_fee)
    recurring = ZERO
    if promotion.recurring and promotion.type != FREE_SETUP:
        recurring = first_period_discount(promotion, price, ZERO)
    return Discount(first=first, recurring=recurring)


def renewal_is_discounted(promotion: Promotion | None, renewals_discounted: int) -> bool:
    """Whether the next renewal still gets the discount, after `renewals_discounted` did."""
    if promotion is None or not promotion.recurring or promotion.type == FREE_SETUP:
        return False
    return promotion.recur_for == 0 or renewals_discounted < promotion.recur_for


def renewal_amount(promotion: Promotion | None, full_price: Decimal,
                   renewals_discounted: int) -> Decimal:
    """The amount of the next renewal: discounted while the promotion recurs, then full."""
    if not renewal_is_discounted(promotion, renewals_discounted):
        return full_price
    return full_price - discount_for(promotion, full_price, ZERO).recurring


def describe(promotion: Promotion, currency: str = "") -> str:
    """`10.00% off`, `5.00 USD off`, `price 3.00 USD`, `free setup` (+ how long it recurs)."""
    if promotion.type == PERCENTAGE:
        what = f"{promotion.value}% off"
    elif promotion.type == FIXED:
        what = f"{format_money(promotion.value, currency)} off"
    elif promotion.type == PRICE_OVERRIDE:
        what = f"price {format_money(promotion.value, currency)}"
    else:
        return "free setup"
    if not promotion.recurring:
        return f"{what}, first invoice only"
    if promotion.recur_for:
        return f"{what}, first invoice and {promotion.recur_for} renewals"
    return f"{what}, every invoice"


# --- uses ---------------------------------------------------------------------------------


def claim_use(promotion: Promotion, field: str = FIELD) -> None:
    """Take one use of the code (inside the order's transaction).

    One conditional UPDATE: when another order took the last use first, zero rows change
    and the order is refused, whatever the two admins read before.
    """
    taken = (Promotion.update(uses=Promotion.uses + 1, version=Promotion.version + 1)
             .where((Promotion.id == promotion.id)
                    & ((Promotion.max_uses == 0) | (Promotion.uses < Promotion.max_uses)))
             .execute())
    if taken != 1:
        raise ValidationError(field, f"'{promotion.code}' has been used its maximum of "
                                     f"{promotion.max_uses} times")
