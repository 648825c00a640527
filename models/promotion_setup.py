"""Defining promotions (issue 15). What a promotion takes off is `models.promotions`; this is
the form: code, type, value, how long it recurs, products and cycles, dates, uses.

`recurring` is typed as `first` (the first invoice only), `always` (every invoice) or a
number N (the first invoice and N renewals), stored as the `recurring`/`recur_for` pair the
discount rules read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hostdesk.models import audit, promotions, records
from hostdesk.models.catalog_addons import product_ids
from hostdesk.models.cycles import parse_cycle
from hostdesk.models.db import database
from hostdesk.models.errors import ValidationError
from hostdesk.models.parsing import parse_amount, parse_optional_date
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.schema import Admin, Product, Promotion, PromotionProduct

FIELDS = ("code", "type", "value", "recurring", "products", "cycles", "start_date",
          "expiry_date", "max_uses", "once_per_client", "notes")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,49}")
FIRST_ONLY, ALWAYS = "first", "always"


@dataclass(frozen=True)
class PromotionView:
    id: int
    version: int
    values: dict[str, str]  # every field of FIELDS as text
    uses: int
    summary: str  # "10.00% off, first invoice only"


def recurring_text(promotion: Promotion) -> str:
    if not promotion.recurring:
        return FIRST_ONLY
    return str(promotion.recur_for) if promotion.recur_for else ALWAYS


def promotion_view(promotion_id: int) -> PromotionView:
    promotion = records.get(Promotion, promotion_id, "promotion")
    names = [name for (name,) in Product.select(Product.name)
             .join(PromotionProduct, on=(PromotionProduct.product == Product.id))
             .where(PromotionProduct.promotion == promotion.id).order_by(Product.name).tuples()]
    values = {"code": promotion.code, "type": promotion.type, "value": str(promotion.value),
              "recurring": recurring_text(promotion), "products": ", ".join(names),
              "cycles": promotion.cycles,
              "start_date": promotion.start_date.isoformat() if promotion.start_date else "",
              "expiry_date": promotion.expiry_date.isoformat() if promotion.expiry_date else "",
              "max_uses": str(promotion.max_uses),
              "once_per_client": "yes" if promotion.once_per_client else "no",
              "notes": promotion.notes}
    return PromotionView(promotion.id, promotion.version, values, promotion.uses,
                         promotions.describe(promotion))


def promotion_list() -> list[PromotionView]:
    return [promotion_view(i) for (i,) in Promotion.select(Promotion.id)
            .order_by(Promotion.code).tuples()]


def _code(value, promotion_id: int | None) -> str:
    code = records.text(value, "code", 50, required=True)
    if not _CODE.fullmatch(code):
        raise ValidationError("code", "use letters, digits, '-' and '_' (like SPRING20)")
    return records.unique(Promotion, Promotion.code, code, "code", promotion_id, "promotion")


def _recurring(value) -> tuple[bool, int]:
    text = records.as_text(value).strip().lower()
    if text in ("", FIRST_ONLY, "first_invoice", "no"):
        return False, 0
    if text in (ALWAYS, "yes"):
        return True, 0
    if text.isascii() and text.isdigit() and 0 < int(text) <= 1000:
        return True, int(text)
    raise ValidationError("recurring", "is 'first' (first invoice only), 'always', or the "
                                       "number of renewals discounted after the first invoice")


def _cycles(value) -> str:
    items = value if isinstance(value, (list, tuple)) else records.as_text(value).split(",")
    cycles = []
    for item in items:
        if records.as_text(item).strip():
            cycle = parse_cycle(records.as_text(item), "cycles").value
            if cycle not in cycles:
                cycles.append(cycle)
    return ",".join(cycles)


def _whole(value, field: str) -> int:
    text = records.as_text(value).strip() or "0"
    if not (text.isascii() and text.isdigit()) or int(text) > 10**9:
        raise ValidationError(field, "is a whole number (0 = unlimited)")
    return int(text)


def _rules(promotion_id: int | None) -> dict:
    return {
        "code": lambda v: _code(v, promotion_id),
        "type": lambda v: records.one_of(v, "type", Promotion.TYPES),
        "value": lambda v: parse_amount(records.as_text(v) or "0", "value"),
        "recurring": _recurring,
        "products": product_ids,
        "cycles": _cycles,
        "start_date": lambda v: parse_optional_date(records.as_text(v), "start_date"),
        "expiry_date": lambda v: parse_optional_date(records.as_text(v), "expiry_date"),
        "max_uses": lambda v: _whole(v, "max_uses"),
        "once_per_client": lambda v: records.yes_no(v, "once_per_client"),
        "notes": lambda v: records.text(v, "notes", 2000),
    }


def _columns(parsed: dict, current: Promotion | None) -> tuple[dict, list[int] | None]:
    """Parsed fields as columns, after the checks that need several fields together."""
    products = parsed.pop("products", None)
    if "recurring" in parsed:
        parsed["recurring"], parsed["recur_for"] = parsed["recurring"]
    kind = parsed.get("type", current.type if current else None)
    value = parsed.get("value", current.value if current else 0)
    if kind == promotions.PERCENTAGE and value > 100:
        raise ValidationError("value", "a percentage is at most 100")
    if kind in (promotions.PERCENTAGE, promotions.FIXED) and value == 0:
        raise ValidationError("value", "must be more than zero")
    if kind == promotions.FREE_SETUP:
        parsed["value"] = 0
        if parsed.get("recurring"):
            raise ValidationError("recurring", "free setup applies to the first invoice only")
    start = parsed.get("start_date", current.start_date if current else None)
    expiry = parsed.get("expiry_date", current.expiry_date if current else None)
    if start and expiry and expiry < start:
        raise ValidationError("expiry_date", f"{expiry.isoformat()} is before the start date "
                                             f"{start.isoformat()}")
    return parsed, products


def _link(promotion_id: int, ids: list[int]) -> None:
    PromotionProduct.delete().where(PromotionProduct.promotion == promotion_id).execute()
    if ids:
        PromotionProduct.insert_many([{"promotion": promotion_id, "product": pid}
                                      for pid in ids]).execute()


def add_promotion(values: dict, *, admin: Admin, at=None) -> PromotionView:
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        parsed = records.checked(values, _rules(None), unknown_refused=True)
        for name in ("code", "type"):
            if name not in parsed:
                raise ValidationError(name, "is required")
        parsed, products = _columns(parsed, None)
        promotion = records.create(Promotion, parsed, admin=admin,
                                   action="promotion.add", what=f"promotion {parsed['code']}",
                                   at=at, unique_field="code")
        _link(promotion.id, products or [])
        if products:
            audit.record(admin.login, "promotion.products", "promotion", promotion.id,
                         description=f"products of promotion {promotion.code}", before=[],
                         after=promotion_view(promotion.id).values["products"], at=at)
    return promotion_view(promotion.id)


def edit_promotion(promotion_id: int, version: int, values: dict, *,
                   admin: Admin) -> PromotionView:
    """Save the fields given; `products` replaces the list. Uses so far are never edited."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        promotion = records.get(Promotion, promotion_id, "promotion")
        parsed = records.checked(values, _rules(promotion.id), unknown_refused=True)
        parsed, products = _columns(parsed, promotion)
        before = promotion_view(promotion.id).values["products"]
        records.save(promotion, parsed, version, admin=admin,
                     action="promotion.edit", what=f"promotion {promotion.code}",
                     unique_field="code")
        if products is not None:
            _link(promotion.id, products)
            after = promotion_view(promotion.id).values["products"]
            if after != before:
                audit.record(admin.login, "promotion.products", "promotion", promotion.id,
                             description=f"products of promotion {promotion.code}",
                             before=before, after=after)
    return promotion_view(promotion_id)
