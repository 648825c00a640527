"""Billable items: services, their addons and domains, seen through one small interface.

Invoice lines point at an item by (item_type, item_id); the rules that bill, pay and
cancel items use these helpers so they treat the three kinds the same way.
"""

from dataclasses import dataclass

import pendulum

from models.cycles import Cycle, add_months_anchored
from models.schema import Domain, ItemType, Service, ServiceAddon

MODELS = {ItemType.SERVICE: Service, ItemType.ADDON: ServiceAddon, ItemType.DOMAIN: Domain}


def model_for(item_type: str):
    try:
        return MODELS[item_type]
    except KeyError:
        raise ValueError(f"unknown item type {item_type!r}") from None


def cycle_months(item_type: str, item) -> int | None:
    """Months one renewal covers; None for items with no due dates (free, one-time)."""
    if item_type == ItemType.DOMAIN:
        return 12 * int(item.years or 1)
    months = _MONTHS.get(item.billing_cycle)
    return months if months is not None else Cycle(item.billing_cycle).months


_MONTHS = {cycle.value: cycle.months for cycle in Cycle}  # a dict lookup: called per billed line


def period_end(item_type: str, item, start: pendulum.Date) -> pendulum.Date:
    return add_months_anchored(start, cycle_months(item_type, item), item.anchor_day)


@dataclass(frozen=True)
class ItemRef:
    item_type: str
    item_id: int

    def __str__(self) -> str:
        return f"{self.item_type} #{self.item_id}"
