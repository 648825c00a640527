"""What a mass action works on (issue 6): the rows of a list as the admin filtered it, and
which of them are ticked, without ever loading the rows.

A `Selection` is a list source and its filter: the services list filtered by product, one
client's services, or a given set of ids. `Ticks` says which of its rows are ticked: either
the ticked ids, or, after "tick all matching", every row except the unticked ids. So ticking
100,000 rows costs nothing and inverting the ticks is free. `Selection.resolve(ticks)` turns
that into ids by keyset paging over the id column alone (`WHERE id > last ORDER BY id LIMIT
n`), one batch at a time, and checks the ids against the filter again at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import pendulum
from peewee import Expression

from hostdesk.models.cycles import parse_cycle
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.listing import (
    NO_FILTER,
    ListFilter,
    ListSource,
    ServiceSource,
    client_ids_matching,
    service_totals,
)
from hostdesk.models.parsing import has_control_characters, parse_int_id, parse_optional_date
from hostdesk.models.schema import Product, Server, Service, ServiceStatus

BATCH = 1_000


@dataclass(frozen=True)
class ServiceFilter(ListFilter):
    """The services list's search text plus its filters. `ids`: only these services.
    The due date range is inclusive at both ends. Product, server and client are picked by
    id or by name: `product_name` matches any part of a product's name, `server_name` of a
    server's name or hostname, `client_name` of a client's names, company or email."""

    client_id: int | None = None
    product_id: int | None = None
    status: str = ""
    ids: tuple[int, ...] | None = None
    billing_cycle: str = ""
    server_id: int | None = None
    due_from: pendulum.Date | None = None
    due_to: pendulum.Date | None = None
    product_name: str = ""
    server_name: str = ""
    client_name: str = ""

    @classmethod
    def from_inputs(cls, *, text: str = "", status: str = "", product: str = "",
                    cycle: str = "", server: str = "", due_from: str = "", due_to: str = "",
                    client: str = "") -> ServiceFilter:
        """The filter bar as typed (blank = any). Every bad value is reported at once, as
        ValidationErrors of ValidationError naming the field."""
        errors: list[ValidationError] = []

        def parsed(parse, *args):
            try:
                return parse(*args)
            except ValidationError as exc:
                errors.append(exc)
                return None

        def record_id(typed: str, field: str) -> int | None:
            typed = (typed or "").strip()
            if not _is_id(typed):
                return None
            return parsed(parse_int_id, typed.lstrip("#"), field)

        def name(typed: str, field: str) -> str:
            typed = " ".join((typed or "").split())
            if not typed or _is_id(typed):
                return ""
            if has_control_characters(typed):
                errors.append(ValidationError(field, "holds a control character"))
                return ""
            return typed

        status = (status or "").strip().lower()
        if status and status not in ServiceStatus.ALL:
            errors.append(ValidationError("status", f"choose one of {', '.join(ServiceStatus.ALL)}"))
        chosen_cycle = parsed(parse_cycle, cycle, "cycle") if (cycle or "").strip() else None
        first = parsed(parse_optional_date, due_from, "due from")
        last = parsed(parse_optional_date, due_to, "due to")
        if first and last and last < first:
            errors.append(ValidationError("due to", "is before “due from”"))
        flt = cls(text=text or "", status=status, product_id=record_id(product, "product"),
                  billing_cycle=chosen_cycle.value if chosen_cycle else "",
                  server_id=record_id(server, "server"), due_from=first, due_to=last,
                  client_id=record_id(client, "client"), product_name=name(product, "product"),
                  server_name=name(server, "server"), client_name=name(client, "client"))
        if errors:
            raise ValidationErrors(errors)
        return flt

    def describe(self) -> str:
        parts = []
        if self.ids is not None:
            parts.append(f"{len(self.ids):,} chosen services")
        if self.client_id:
            parts.append(f"client #{self.client_id}")
        if self.client_name:
            parts.append(f"client “{self.client_name}”")
        if self.product_id:
            parts.append(f"product #{self.product_id}")
        if self.product_name:
            parts.append(f"product “{self.product_name}”")
        if self.status:
            parts.append(self.status)
        if self.billing_cycle:
            parts.append(self.billing_cycle)
        if self.server_id:
            parts.append(f"server #{self.server_id}")
        if self.server_name:
            parts.append(f"server “{self.server_name}”")
        if self.due_from or self.due_to:
            parts.append(f"due {self.due_from or '…'} – {self.due_to or '…'}")
        if self.term:
            parts.append(f"search “{self.term}”")
        return ", ".join(parts) or "every service"


class FilteredServiceSource(ServiceSource):
    """The services list with `ServiceFilter`'s conditions; each is answered by an index of
    `service` ((client, id), (product, status, id), (status, next_due_date, id),
    (next_due_date, id), and migration 0006's (server, id) and (billing_cycle, id))."""

    def known_count(self, flt: ListFilter) -> int | None:
        """Every service, or every service of one status: kept by the database."""
        if not isinstance(flt, ServiceFilter):
            return super().known_count(flt)
        if replace(flt, status="") != ServiceFilter():
            return None
        totals = service_totals()
        return totals.get(flt.status, 0) if flt.status else sum(totals.values())

    def _condition(self, flt: ListFilter) -> Expression | None:
        condition = super()._condition(flt)
        if not isinstance(flt, ServiceFilter):
            return condition
        parts = []
        if flt.ids is not None:
            parts.append(Service.id.in_(flt.ids) if flt.ids else Service.id < 0)
        if flt.client_id:
            parts.append(Service.client == flt.client_id)
        if flt.product_id:
            parts.append(Service.product == flt.product_id)
        if flt.status:
            parts.append(Service.status == flt.status)
        if flt.billing_cycle:
            parts.append(Service.billing_cycle == flt.billing_cycle)
        if flt.server_id:
            parts.append(Service.server == flt.server_id)
        # Products and servers are few: their names are matched in their own small tables,
        # and the services of those found through the (product, status, id) and (server, id)
        # indexes; clients through the client text index.
        if flt.product_name:
            parts.append(Service.product.in_(
                Product.select(Product.id).where(_contains(Product.name, flt.product_name))))
        if flt.server_name:
            parts.append(Service.server.in_(Server.select(Server.id).where(
                _contains(Server.name, flt.server_name)
                | _contains(Server.hostname, flt.server_name))))
        if flt.client_name:
            parts.append(Service.client.in_(client_ids_matching(flt.client_name)))
        if flt.due_from:
            parts.append(Service.next_due_date >= flt.due_from)
        if flt.due_to:
            parts.append(Service.next_due_date <= flt.due_to)
        for part in parts:
            condition = part if condition is None else (condition & part)
        return condition


def _is_id(typed: str) -> bool:
    """`12` or `#12`: an id; anything else (or a sign, a space) is a name."""
    digits = typed.removeprefix("#")
    return bool(digits) and digits.isascii() and digits.isdigit()


def _contains(column, text: str) -> Expression:
    """`column` holds `text`, any case (for the small catalog tables)."""
    return column.contains(text)  # ILIKE on PostgreSQL, LIKE (ASCII case-blind) on SQLite


@dataclass
class Ticks:
    """Which rows of a selection are ticked.

    `marked` holds the ticked ids; once `everything` is set (tick all matching) it holds the
    unticked ones instead, so the state stays as small as what the admin touched by hand.
    """

    everything: bool = False
    marked: set[int] = field(default_factory=set)

    def __contains__(self, row_id: object) -> bool:
        return (row_id in self.marked) != self.everything

    def toggle(self, ids: Iterable[int]) -> None:
        self.marked ^= set(ids)

    def tick(self, ids: Iterable[int]) -> None:
        if self.everything:
            self.marked -= set(ids)
        else:
            self.marked |= set(ids)

    def tick_all(self) -> None:
        self.everything, self.marked = True, set()

    def clear(self) -> None:
        self.everything, self.marked = False, set()

    def invert(self) -> None:
        self.everything = not self.everything

    def count(self, total: int) -> int:
        """How many are ticked, given how many rows the selection has."""
        return max(0, total - len(self.marked)) if self.everything else len(self.marked)

    def copy(self) -> Ticks:
        return Ticks(self.everything, set(self.marked))


@dataclass(frozen=True)
class Selection:
    """Every row of `source` matching `flt`, as a list screen shows it."""

    source: ListSource
    flt: ListFilter = NO_FILTER

    @classmethod
    def of_services(cls, ids: Iterable[int]) -> Selection:
        """The given services (e.g. what the client summary offers)."""
        return cls(FilteredServiceSource(), ServiceFilter(ids=tuple(sorted(set(ids)))))

    @classmethod
    def of_client(cls, client_id: int) -> Selection:
        return cls(FilteredServiceSource(), ServiceFilter(client_id=client_id))

    @property
    def model(self):
        return self.source.model

    def _condition(self) -> Expression | None:
        return self.source._condition(self.flt)

    def count(self) -> int:
        return self.source.count(self.flt)

    def id_batches(self, batch: int = BATCH) -> Iterator[list[int]]:
        """The matching ids, ascending, `batch` at a time, each batch one indexed query."""
        key = self.model.id
        condition = self._condition()
        last = None
        while True:
            query = self.model.select(key)
            if condition is not None:
                query = query.where(condition)
            if last is not None:
                query = query.where(key > last)
            ids = [row[0] for row in query.order_by(key).limit(batch).tuples()]
            if ids:
                yield ids
            if len(ids) < batch:
                return
            last = ids[-1]

    def resolve(self, ticks: Ticks, batch: int = BATCH) -> list[int]:
        """The ticked ids that match the filter now, ascending."""
        if ticks.everything:
            return [row_id for ids in self.id_batches(batch) for row_id in ids
                    if row_id not in ticks.marked]
        key = self.model.id
        condition = self._condition()
        ticked = sorted(ticks.marked)
        found: list[int] = []
        for start in range(0, len(ticked), batch):
            query = self.model.select(key).where(key.in_(ticked[start:start + batch]))
            if condition is not None:
                query = query.where(condition)
            found += [row[0] for row in query.order_by(key).tuples()]
        return found
