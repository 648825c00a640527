"""The first invoice lines of a new service addon (rules §6), the same whether the addon is
added on the service page or ordered with its service."""

from __future__ import annotations

import pendulum

from hostdesk.models.cycles import Cycle
from hostdesk.models.invoicing import LineSpec
from hostdesk.models.items import period_end
from hostdesk.models.schema import ItemType, LineKind, ServiceAddon


def first_invoice_lines(addon: ServiceAddon, today: pendulum.Date) -> list[LineSpec]:
    """Its first period (or its one-time price) and its setup fee; nothing when free."""
    amount, setup_fee = addon.recurring_amount, addon.setup_fee
    if addon.billing_cycle == Cycle.FREE.value or amount + setup_fee <= 0:
        return []
    specs = []
    if Cycle(addon.billing_cycle).is_recurring:
        end = period_end(ItemType.ADDON, addon, today)
        specs.append(LineSpec(kind=LineKind.RENEWAL, description=f"Addon: {addon.name} "
                              f"({today} - {end.subtract(days=1)})", amount=amount,
                              item_type=ItemType.ADDON, item_id=addon.id,
                              period_start=today, period_end=end))
    else:
        specs.append(LineSpec(kind=LineKind.FIRST, description=f"Addon: {addon.name}",
                              amount=amount, item_type=ItemType.ADDON, item_id=addon.id))
    if setup_fee > 0:
        specs.append(LineSpec(kind=LineKind.SETUP, description=f"Setup fee: {addon.name}",
                              amount=setup_fee, item_type=ItemType.ADDON, item_id=addon.id))
    return specs
