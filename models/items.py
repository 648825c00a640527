"""Billable items: services, their addons and domains, seen through one small interface.

Invoice lines point at an item by (item_type, item_id); the rules that bill, pay and
cancel items use these helpers so they treat the three kinds the same way.
"""

from dataclasses import dataclass
from functools import lru_cache

import pendulum

from hostdesk.models.cycles import Cycle, add_months_anchored, is_anchored, next_anchored
from hostdesk.models.schema import Domain, ItemType, Service, ServiceAddon

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
    """The end of the period billed from `start`: one cycle on from a due date of the item's
    anchor; from any other day (after the admin moved the anchor), the next due date."""
    anchor = item.anchor_day
    if start.day == anchor or is_anchored(start, anchor):
        return _cycle_on(start, cycle_months(item_type, item), anchor)
    return next_anchored(start, anchor)


# A daily run bills thousands of items from the same few (start, months, anchor day): each
# end is worked out once. Bounded: the run's peak memory has a limit.
_cycle_on = lru_cache(maxsize=4096)(add_months_anchored)


def cycle_of(item_type: str, item) -> Cycle:
    """The item's cycle (a domain's from its years)."""
    if item_type == ItemType.DOMAIN:
        return _DOMAIN_CYCLES.get(cycle_months(item_type, item), Cycle.ANNUALLY)
    return Cycle(item.billing_cycle)


_DOMAIN_CYCLES = {12: Cycle.ANNUALLY, 24: Cycle.BIENNIALLY, 36: Cycle.TRIENNIALLY}


@dataclass(frozen=True)
class ItemRef:
    item_type: str
    item_id: int

    def __str__(self) -> str:
        return f"{self.item_type} #{self.item_id}"
