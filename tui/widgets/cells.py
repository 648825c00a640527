"""How values look in a list: one place for dates, money, status names and cutting text."""

from __future__ import annotations

from decimal import Decimal

import pendulum
from rich.cells import cell_len, set_cell_size

from hostdesk.models.listing import DATE, DATETIME, ID, LABEL, MONEY, NUMBER, STATUS, Column
from hostdesk.models.money import format_money

ELLIPSIS = "…"
GUTTER = 2  # the tick mark column at the left of every row
SEPARATOR = 1

# Every status word hostdesk shows, mapped to one of five looks (ux.md: one colour each).
STATUS_LOOK = {
    "active": "active", "paid": "active", "succeeded": "active", "done": "active",
    "pending": "pending", "pending_transfer": "pending", "unpaid": "pending", "open": "pending",
    "queued": "pending", "running": "pending", "draft": "pending",
    "suspended": "suspended", "inactive": "suspended",
    "terminated": "closed", "cancelled": "closed", "completed": "closed", "closed": "closed",
    "expired": "closed", "dismissed": "closed", "deleted": "closed", "refunded": "closed",
    "transferred_away": "closed",
    "fraud": "fraud", "failed": "fraud",
}


def status_look(status: str | None) -> str | None:
    return STATUS_LOOK.get(status or "")


def format_date(value, timezone: str = "UTC") -> str:
    """A date; a moment (stored in UTC) as its day in `timezone` (the configured one)."""
    if value is None:
        return ""
    if isinstance(value, pendulum.DateTime):
        return value.in_timezone(timezone).format("YYYY-MM-DD")
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value)[:10]


def format_datetime(value, timezone: str = "UTC") -> str:
    """A moment (stored in UTC) as the clock in `timezone` (the configured one) reads it."""
    if value is None:
        return ""
    if isinstance(value, pendulum.DateTime):
        return value.in_timezone(timezone).format("YYYY-MM-DD HH:mm")
    return str(value)[:16]


def format_value(value, kind: str, currency: str = "", timezone: str = "UTC") -> str:
    if value is None:
        return ""
    if kind == MONEY:
        return format_money(value if isinstance(value, Decimal) else Decimal(value), currency)
    if kind == DATE:
        return format_date(value, timezone)
    if kind == DATETIME:
        return format_datetime(value, timezone)
    if kind in (ID, NUMBER):
        return f"{value}"
    if kind in (STATUS, LABEL):
        return str(value).replace("_", " ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())  # one line, whatever the stored text holds


def fit(text: str, width: int, right: bool = False) -> str:
    """Exactly `width` cells: cut with an ellipsis, or padded (left or right aligned)."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + ELLIPSIS
    padding = " " * (width - cell_len(text))
    return padding + text if right else text + padding


def right_aligned(column: Column) -> bool:
    return column.kind in (ID, MONEY, NUMBER)


def layout_columns(columns: tuple[Column, ...], width: int) -> list[tuple[Column, int]]:
    """The columns that fit in `width` cells, in their order, with the width each gets.

    Columns of priority 0 are always kept; others join in priority order while they fit.
    The flexible column takes what is left.
    """
    available = width - GUTTER

    def needed(chosen: list[Column]) -> int:
        return sum(c.width for c in chosen) + SEPARATOR * (len(chosen) - 1)

    chosen = [c for c in columns if c.priority == 0]
    for candidate in sorted((c for c in columns if c.priority > 0), key=lambda c: c.priority):
        if needed(chosen + [candidate]) <= available:
            chosen.append(candidate)
    chosen.sort(key=columns.index)
    spare = max(0, available - needed(chosen))
    flexible = next((c for c in chosen if c.flex), None)
    return [(c, c.width + (spare if c is flexible else 0)) for c in chosen]
