"""A list as a file: the rows a list shows (its filter applied), as CSV or JSON.

The rows are read in keyset pages of `PAGE` (`id < last id`, the list's own `page()`), each
written and forgotten before the next is read, so a million rows take the memory of one
page. The TUI's `e` and `hostdesk export` both call `export_list`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterator, TextIO

from hostdesk.models.errors import PermissionDenied, ValidationError
from hostdesk.models.listing import SOURCES, ListFilter, ListSource, Row
from hostdesk.models.permissions import (
    VIEW_CANCELLATIONS,
    VIEW_SERVICES,
    find_admin,
    has_permission,
)
from hostdesk.models.schema import Admin

FORMATS = ("csv", "json")
CLI_LISTS = ("services", "clients", "invoices", "domains", "activity")  # `hostdesk export`
PAGE = 1_000
# The lists an admin's role must allow, as their areas do (tui/screens/areas.py).
PERMISSIONS = {"services": VIEW_SERVICES, "cancellations": VIEW_CANCELLATIONS}


class ExportCancelled(Exception):
    """The admin stopped the export; the file holds the rows written so far."""


@dataclass(frozen=True)
class ExportResult:
    rows: int
    format: str


def plain(value: Any) -> Any:
    """A row's value as JSON and CSV take it: money as its exact decimal text, dates and
    times as ISO 8601 (times in UTC, with the offset)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def rows_of(source: ListSource, flt: ListFilter, page: int = PAGE) -> Iterator[Row]:
    """Every row the list shows for `flt`, in list order (newest first), as plain values
    keyed by the list's columns (and the currency where the list has one)."""
    keys = [column.key for column in source.columns]
    after = None
    while True:
        rows = source.page(after, page, flt)
        for row in rows:
            shown = {key: plain(row.get(key)) for key in keys}
            if "currency" in row:
                shown["currency"] = row["currency"]
            yield shown
        if len(rows) < page:
            return
        after = source.key_of(rows[-1])


def check_format(fmt: str) -> str:
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise ValidationError("format", f"choose {' or '.join(FORMATS)}")
    return fmt


def source_for(list_name: str, admin: Admin, timezone: str = "UTC") -> ListSource:
    """The list `list_name` for this admin (refused when the role may not see it); typed
    days in its search are days in `timezone`."""
    if list_name not in SOURCES:
        raise ValidationError("list", f"“{list_name}” is not a list (use "
                                      f"{', '.join(sorted(SOURCES))})")
    check_may_export(admin, list_name)
    return SOURCES[list_name](timezone=timezone)


def check_may_export(admin: Admin, list_name: str) -> None:
    if not may_export(admin, list_name):
        raise PermissionDenied(PERMISSIONS.get(list_name, "an active admin account"),
                               admin.login)


def may_export(admin: Admin, list_name: str) -> bool:
    """An active admin whose role may see the list, as stored now (a role changed while the
    list was open counts)."""
    current = find_admin(admin.login)
    permission = PERMISSIONS.get(list_name)
    return (current is not None and current.active
            and (permission is None or has_permission(current, permission)))


def export_list(source: ListSource, flt: ListFilter, fmt: str, out: TextIO, *,
                progress: Callable[[int, int], None] | None = None,
                cancelled: Callable[[], bool] = lambda: False) -> ExportResult:
    """Write what the list shows to `out` (a text file opened with newline="").

    `progress(done, total)` after each page; `cancelled()` is asked before each page and
    stops the export with ExportCancelled. A search the list cannot read raises
    ValidationError("search", ...) before anything is written.
    """
    fmt = check_format(fmt)
    if flt.term:
        source.search(flt.term)  # a search that cannot be read fails here, not half-way
    total = source.count(flt)
    keys = [column.key for column in source.columns]
    done = 0
    writer = None
    if fmt == "json":
        out.write("[")
    for row in rows_of(source, flt):
        if done % PAGE == 0:
            if progress is not None and done:
                progress(done, total)
            if cancelled():
                raise ExportCancelled(f"stopped after {done:,} rows")
        if fmt == "csv":
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=[*keys, *(k for k in row if k not in keys)])
                writer.writeheader()
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
        else:
            out.write(("\n" if done == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        done += 1
    if fmt == "csv" and writer is None:  # no rows: the header still says what the columns are
        csv.DictWriter(out, fieldnames=keys).writeheader()
    if fmt == "json":
        out.write("\n]\n" if done else "]\n")
    if progress is not None:
        progress(done, max(total, done))
    return ExportResult(done, fmt)


def default_file_name(list_name: str, fmt: str, today: date) -> str:
    return f"hostdesk-{list_name}-{today.isoformat()}.{fmt}"
