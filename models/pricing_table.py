"""A pricing table as an admin types it: per billing cycle (rules §2) a price and a setup fee,
a blank price meaning "not offered on that cycle". Shared by products, configurable option
choices and catalog addons, so each refuses bad prices the same way.

Accepted shapes (a form, the CLI, a TOML file): `{cycle: "10.00"}`, `{cycle: {"price":
"10.00", "setup_fee": "5.00"}}`, or `{cycle: ("10.00", "5.00")}`. A `free` cycle costs
nothing: its price and setup fee must be 0.
"""

from __future__ import annotations

from decimal import Decimal

from hostdesk.models import records
from hostdesk.models.cycles import Cycle, parse_cycle
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.parsing import parse_amount

ZERO = Decimal("0.00")
ORDER = ("free", "one_time", "monthly", "quarterly", "semiannually", "annually", "biennially",
         "triennially")


def _amount(value, field: str) -> Decimal:
    if isinstance(value, float):
        raise ValidationError(field, "write the amount as text or a whole number (1234.50)")
    return parse_amount(records.as_text(value), field)


def parse_prices(table, field: str = "prices") -> dict[str, tuple[Decimal, Decimal]]:
    """{cycle value: (price, setup fee)} of the offered cycles; all errors at once."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ValidationError(field, "is a table of billing cycle = price")
    parsed, errors = {}, []
    for key, entry in table.items():
        try:
            cycle = parse_cycle(records.as_text(key), f"{field}.{key}").value
        except ValidationError as exc:
            errors.append(exc)
            continue
        where = f"{field}.{cycle}"
        if isinstance(entry, dict):
            unknown = set(entry) - {"price", "setup_fee"}
            if unknown:
                errors.append(ValidationError(f"{where}.{sorted(unknown)[0]}",
                                              "is not price or setup_fee"))
                continue
            price, setup = entry.get("price", ""), entry.get("setup_fee", "")
        elif isinstance(entry, (tuple, list)):
            if len(entry) != 2:
                errors.append(ValidationError(where, "is (price, setup fee)"))
                continue
            price, setup = entry
        else:
            price, setup = entry, ""
        if isinstance(price, float) or isinstance(setup, float):
            errors.append(ValidationError(f"{where}.price", "write amounts as text (\"9.99\"): "
                                                            "a float is not exact"))
            continue
        if not records.as_text(price).strip():
            if records.as_text(setup).strip():
                errors.append(ValidationError(f"{where}.setup_fee",
                                              "needs a price: a blank price means not offered"))
            continue  # blank: not offered on this cycle
        try:
            amount = _amount(price, f"{where}.price")
            fee = _amount(setup, f"{where}.setup_fee") if records.as_text(setup).strip() else ZERO
        except ValidationError as exc:
            errors.append(exc)
            continue
        if cycle == Cycle.FREE.value and (amount or fee):
            errors.append(ValidationError(f"{where}.price", "a free cycle costs nothing: 0.00"))
            continue
        if cycle in parsed:
            errors.append(ValidationError(where, "is given twice"))
            continue
        parsed[cycle] = (amount, fee)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationErrors(errors)
    return {cycle: parsed[cycle] for cycle in ORDER if cycle in parsed}


def as_table(rows) -> dict[str, dict[str, str]]:
    """Stored price rows (with .cycle, .price, .setup_fee) as the text table a form shows."""
    by_cycle = {row.cycle: row for row in rows}
    return {cycle: {"price": str(by_cycle[cycle].price),
                    "setup_fee": str(by_cycle[cycle].setup_fee)}
            for cycle in ORDER if cycle in by_cycle}


def replace_prices(model, owner_field: str, owner_id: int, prices: dict) -> tuple[dict, dict]:
    """Make the owner's price rows exactly `prices`; returns (before, after) for the log."""
    owner_column = getattr(model, owner_field)
    before = as_table(model.select().where(owner_column == owner_id))
    model.delete().where(owner_column == owner_id).execute()
    if prices:
        model.insert_many([{owner_field: owner_id, "cycle": cycle, "price": price,
                            "setup_fee": fee} for cycle, (price, fee) in prices.items()]).execute()
    after = as_table(model.select().where(owner_column == owner_id))
    return before, after
