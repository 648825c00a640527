"""Read-only list and search queries for the screens: one "list source" per area.

A source knows its columns and answers three questions with indexed queries:
`count(filter)`, `page(after_key, limit, filter)` (keyset paging, newest first) and
`detail(id)`. Rows are plain dicts, so a screen can draw them without touching a model.

Text search: an exact id; text of 3+ characters anywhere in a row's identifying text (a
client's names, company, email and phone; a service's domain, username and ip; a domain's
name), answered by the trigram indexes of migration 0004 (SQLite: FTS5 `trigram` tables;
PostgreSQL: pg_trgm GIN indexes on the same text); shorter text as a case-insensitive prefix
written as a range (`lower(col) >= 'ab' AND lower(col) < 'ac'`), which a B-tree index answers.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import pendulum
from peewee import JOIN, SQL, Expression, Field, NodeList, Select, Table, fn

from hostdesk.models import audit, modulequeue
from hostdesk.models.cancellations import process_date_of
from hostdesk.models.db import database, is_postgres
from hostdesk.models.errors import ValidationError
from hostdesk.models.parsing import has_control_characters, parse_date
from hostdesk.models.schema import (
    ALL_TABLES,
    ActivityLog,
    CancellationRequest,
    Client,
    ClientStatus,
    CronRun,
    Domain,
    EmailOutbox,
    Invoice,
    InvoiceStatus,
    ModuleJob,
    Order,
    Product,
    Service,
)

Row = dict[str, Any]

# Column kinds: how a screen aligns and formats a value.
ID, TEXT, LABEL, STATUS, DATE, DATETIME, MONEY, NUMBER = (
    "id", "text", "label", "status", "date", "datetime", "money", "number")  # LABEL: a code word


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    kind: str = TEXT
    priority: int = 0  # 0: always shown; higher numbers are dropped first on narrow screens
    flex: bool = False  # takes the width left over (at least `width`)


@dataclass(frozen=True)
class ListFilter:
    text: str = ""

    @property
    def term(self) -> str:
        return self.text.strip()


NO_FILTER = ListFilter()

COUNT_CAP = 1_000  # a list's first page counts its matches up to this many (`first_page`)


class Stopped(Exception):
    """A list read was stopped before it began: a newer one replaced it."""


class Interruptible:
    """Lets the screen stop the statement a list read is running on another thread, when a
    newer search replaces it: a common word's search on PostgreSQL can run for a second,
    and the admin's next keystroke should not wait behind it on a shared machine.

    `running()` wraps the read (in its own thread, connection open); `stop()` may be called
    from any thread, before, during or after it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection = None
        self.stopped = False

    @contextmanager
    def running(self):
        with self._lock:
            if self.stopped:
                raise Stopped
            self._connection = database.connection()
        try:
            yield
        finally:
            with self._lock:
                self._connection = None

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            if self._connection is not None:  # only while the read runs: never a later one
                # PostgreSQL: a cancel request for the backend (ignored once it is idle);
                # SQLite: interrupts the statements of this connection that are running.
                stop = self._connection.cancel if is_postgres() else self._connection.interrupt
                stop()


@dataclass(frozen=True)
class FirstPage:
    """A list's first rows and how many rows match: exactly, or at least `total`."""

    rows: list[Row]
    total: int
    exact: bool


def next_prefix(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def prefix_of(expr, prefix: str) -> Expression:
    """`expr` starts with `prefix`, as a range an index can answer."""
    return (expr >= prefix) & (expr < next_prefix(prefix))


def lower_prefix(field: Field, term: str) -> Expression:
    return prefix_of(fn.LOWER(field), term.lower())


def as_id(term: str) -> int | None:
    """`123` or `#123` as an id; anything else None."""
    text = term[1:] if term.startswith("#") else term
    if text.isascii() and text.isdigit() and len(text) <= 18:  # `²` is a digit to isdigit
        return int(text)
    return None


def any_of(conditions: list[Expression]) -> Expression | None:
    result = None
    for condition in conditions:
        result = condition if result is None else (result | condition)
    return result


# What migration 0004 indexes: each table's searched columns joined by spaces (frozen there).
SEARCHED_COLUMNS = {
    "client": ("first_name", "last_name", "company", "email", "phone"),
    "service": ("domain", "username", "dedicated_ip"),
    "domain": ("name",),
}
SEARCHED_TEXT = {table: " || ' ' || ".join(columns)
                 for table, columns in SEARCHED_COLUMNS.items()}
TRIGRAM = 3  # the shortest text a trigram index answers


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def text_parts(term: str) -> list[str]:
    """What must appear in the text: each word when every word has 3+ characters (any
    order), else the words as typed, together."""
    words = term.split()
    return words if all(len(word) >= TRIGRAM for word in words) else [" ".join(words)]


def _row_contains(model, parts: list[str]) -> Expression:
    """PostgreSQL: the row's searched text holds every part, written as the very expression
    migration 0004's GIN index is built on."""
    columns = SEARCHED_COLUMNS[model._meta.table_name]
    text = fn.LOWER(NodeList([getattr(model, column) for column in columns], glue=" || ' ' || "))
    return all_of([Expression(text, "LIKE", f"%{escape_like(part.lower())}%") for part in parts])


def contains_text(model, term: str) -> Expression:
    """`model`'s row (client, service or domain) holds `term` (3+ characters) in its searched
    text, any case, any position, through the trigram index."""
    if is_postgres():
        return _row_contains(model, text_parts(term))
    return model.id.in_(ids_containing(model, term))


def ids_containing(model, term: str) -> Select:
    """The ids of the rows `contains_text` finds, as a subquery."""
    table = model._meta.table_name
    parts = text_parts(term)
    if is_postgres():
        return model.select(model.id).where(_row_contains(model, parts))
    index = Table(f"{table}_search")
    query = " AND ".join('"' + part.replace('"', '""') + '"' for part in parts)
    return index.select(SQL("rowid")).where(Expression(SQL(f"{table}_search"), "MATCH", query))


def searches_text(term: str) -> bool:
    return len(term.strip()) >= TRIGRAM


def client_name_match(term: str) -> Expression:
    """Clients whose first name, last name, company or email starts with `term`.

    "ada love" also matches first name "Ada" with last name "Love…".
    """
    conditions = [lower_prefix(Client.first_name, term), lower_prefix(Client.last_name, term),
                  lower_prefix(Client.company, term), lower_prefix(Client.email, term)]
    words = term.split()
    if len(words) == 2:
        conditions.append(lower_prefix(Client.first_name, words[0])
                          & lower_prefix(Client.last_name, words[1]))
    return any_of(conditions)


def client_ids_matching(term: str):
    """Clients whose text holds `term` (3+ characters) or whose names or email start with it."""
    if searches_text(term):
        return ids_containing(Client, term)
    return Client.select(Client.id).where(client_name_match(term))


def service_prefix(term: str) -> Expression:
    """The service's domain or username starts with `term` (for 1-2 characters)."""
    return prefix_of(Service.domain, term.lower()) | lower_prefix(Service.username, term)


def services_matching(term: str) -> Select:
    """Services whose domain, username or ip hold `term` (3+ characters: anywhere; shorter:
    the start of the domain or username), or whose client's text holds it."""
    if not searches_text(term):
        return Service.select(Service.id).where(service_prefix(term))
    by_client = Service.select(Service.id).where(Service.client.in_(ids_containing(Client, term)))
    return ids_containing(Service, term).union(by_client)


def person_name(first: str | None, last: str | None, company: str | None = "") -> str:
    name = f"{first or ''} {last or ''}".strip()
    return f"{name} ({company})" if company else name


class ListSource:
    """One area's list. Subclasses name the model, columns, joins and the search."""

    name: ClassVar[str]
    title: ClassVar[str]
    model: ClassVar[type]
    columns: ClassVar[tuple[Column, ...]]
    search_hint: ClassVar[str] = "#id"
    empty_text: ClassVar[str] = "Nothing here yet"

    def __init__(self, timezone: str = "UTC") -> None:
        self.timezone = timezone  # the configured zone: what a typed day means

    # --- what subclasses provide -----------------------------------------------------

    def select(self):
        """The page query: the model and any joined columns, no WHERE, no ORDER."""
        return self.model.select()

    def search(self, term: str) -> Expression | None:
        """The condition for a search term (on the model's own table or by subquery)."""
        row_id = as_id(term)
        return self.model.id == row_id if row_id is not None else None

    def to_row(self, data: dict) -> Row:
        return data

    # --- the questions a list asks -----------------------------------------------------

    def _condition(self, flt: ListFilter) -> Expression | None:
        if not flt.term:
            return None
        if has_control_characters(flt.term):
            # Nothing stored holds one (every form refuses them), and PostgreSQL refuses a
            # NUL in a query instead of matching nothing.
            return self.model.id < 0
        condition = self.search(flt.term)
        # A term that cannot match anything (e.g. text where only ids are searchable).
        return condition if condition is not None else (self.model.id < 0)

    def count(self, flt: ListFilter = NO_FILTER) -> int:
        known = self.known_count(flt)
        if known is not None:
            return known
        query = self.model.select()
        condition = self._condition(flt)
        if condition is not None:
            query = query.where(condition)
        return query.count()

    def known_count(self, flt: ListFilter) -> int | None:
        """The exact count of `flt`'s rows when the database keeps it (no scan), else None."""
        return None

    def count_after_first_page(self, rows: list[Row], limit: int, flt: ListFilter) -> int:
        """How many rows match, given the first page of at most `limit` rows: a short first
        page is all of them (most searches), so only a full page costs a COUNT."""
        return len(rows) if len(rows) < limit else self.count(flt)

    def first_page(self, limit: int = 50, flt: ListFilter = NO_FILTER, *,
                   cap: int = COUNT_CAP) -> FirstPage:
        """The first `limit` rows and how many match, counted up to `cap`.

        A whole table is counted exactly; a search or filter asks one indexed query for the
        ids of its first `cap + 1` matches, which gives the first page and the count (or
        "more than `cap`") at once: counting every match of a common word cost 50-500 ms at a
        million services, twice what reading the page did. `count` says how many exactly.
        """
        known = self.known_count(flt)
        condition = self._condition(flt)
        if known is not None or condition is None:
            rows = self.page(None, limit, flt)
            exact = known if known is not None else self.count_after_first_page(rows, limit, flt)
            return FirstPage(rows, exact, True)
        ids_query = self._ids(flt, cap + 1)
        ids = [row_id for (row_id,) in database.execute(ids_query)]
        rows = self._read(ids[:limit], descending=True)
        return FirstPage(rows, min(len(ids), cap), len(ids) <= cap)

    def page(self, after_key: int | None = None, limit: int = 50,
             flt: ListFilter = NO_FILTER, *, backward: bool = False) -> list[Row]:
        """Up to `limit` rows after `after_key` in list order (newest first).

        `backward=True` gives the rows just before `after_key` instead (or the last rows of
        the list when `after_key` is None), still in list order.
        """
        rows = self._rows(flt, limit, after_key=after_key, descending=not backward)
        return rows[::-1] if backward else rows

    def page_at(self, offset: int, limit: int = 50, flt: ListFilter = NO_FILTER) -> list[Row]:
        """Rows from a position, for a jump far from any row already shown (scrollbar, end)."""
        return self._rows(flt, limit, offset=offset)

    def _rows(self, flt: ListFilter, limit: int, *, after_key: int | None = None, offset: int = 0,
              descending: bool = True) -> list[Row]:
        """One page: its ids picked from the model's own table first (through an index, no
        join), then only those rows joined. Joining every match before the LIMIT cost
        25-160 ms for a common search term at a million services, and an OFFSET joined
        every row it skipped."""
        ids = self._ids(flt, limit, after_key=after_key, offset=offset, descending=descending)
        return self._read(ids, descending=descending)

    def _ids(self, flt: ListFilter, limit: int, *, after_key: int | None = None, offset: int = 0,
             descending: bool = True) -> Select:
        """The query of the ids of a page in list order (after `after_key` when given), from
        the model's own table."""
        key = self.model.id
        condition = self._condition(flt)
        matching = self.model.select(key)
        if condition is not None:
            matching = matching.where(condition)
        if flt.term and is_postgres():
            # PostgreSQL expects a term's matches spread evenly over the ids and walks the
            # primary key backwards, filtering every row (300 ms at 1M services when the
            # matches are old); behind OFFSET 0 it collects them through their index first.
            # A term whose matches are one id query is read from it alone: looking each match
            # up again in the table cost half of a common word's search.
            term_ids = self._search_alone_ids(flt)
            fenced = (term_ids if term_ids is not None else matching.offset(0)).alias("matching")
            key = fenced.c.id
            matching = Select(from_list=[fenced], columns=[key])
        if after_key is not None:
            matching = matching.where(key < after_key if descending else key > after_key)
        return (matching.order_by(key.desc() if descending else key.asc())
                .limit(limit).offset(offset or None))

    def _search_alone_ids(self, flt: ListFilter) -> Select | None:
        """`term_ids` of `flt`'s term, when the term is all `flt` asks (no other filter)."""
        if flt != type(flt)(text=flt.text) or has_control_characters(flt.term):
            return None
        return self.term_ids(flt.term)

    def term_ids(self, term: str) -> Select | None:
        """The ids `term` matches as one query of an `id` column, when `search` is
        `id IN` that query; else None."""
        return None

    def _read(self, ids, *, descending: bool) -> list[Row]:
        """The rows shown for `ids` (a list or an id query), in list order."""
        if isinstance(ids, list) and not ids:
            return []
        order = self.model.id.desc() if descending else self.model.id.asc()
        query = self.select().where(self.model.id.in_(ids)).order_by(order)
        return [self.to_row(d) for d in query.dicts()]

    def key_of(self, row: Row) -> int:
        return row["id"]

    def detail(self, row_id: int) -> list[tuple[str, Any]] | None:
        """The record's stored fields as (name, value), secrets redacted; None if gone."""
        record = self.model.get_or_none(self.model.id == row_id)
        if record is None:
            return None
        fields = []
        for field in record._meta.sorted_fields:
            value = record.__data__.get(field.name)  # a foreign key shows the id it holds
            if field.name in audit.SECRET_FIELDS and value:
                value = audit.REDACTED
            fields.append((field.name, value))
        return fields

    def is_overdue(self, row: Row, today: pendulum.Date) -> bool:
        return False


class ClientSource(ListSource):
    name, title, model = "clients", "Clients", Client
    search_hint = "any part of name, company, email or #id"
    columns = (
        Column("id", "ID", 7, ID),
        Column("name", "Name", 18, flex=True),
        Column("email", "Email", 30, priority=1),
        Column("country", "Country", 7, priority=3),
        Column("status", "Status", 9, STATUS),
        Column("created", "Created", 10, DATE),
    )

    def select(self):
        return Client.select(Client.id, Client.first_name, Client.last_name, Client.company,
                             Client.email, Client.country, Client.status,
                             Client.created_at.alias("created"))

    def search(self, term):
        row_id = as_id(term)
        if row_id is not None:
            return Client.id == row_id
        if searches_text(term):
            return contains_text(Client, term)
        return client_name_match(term)

    def to_row(self, d):
        d["name"] = person_name(d.pop("first_name"), d.pop("last_name"), d.pop("company"))
        return d


class ServiceSource(ListSource):
    name, title, model = "services", "Services", Service
    search_hint = "any part of domain, username, client name, company, email or #id"
    columns = (
        Column("id", "ID", 7, ID),
        Column("domain", "Domain", 18, flex=True),
        Column("client", "Client", 20, priority=2),
        Column("product", "Product", 18, priority=1),
        Column("cycle", "Cycle", 12, LABEL, priority=4),
        Column("amount", "Recurring", 14, MONEY, priority=3),
        Column("status", "Status", 10, STATUS),
        Column("next_due", "Next due", 10, DATE),
    )

    def select(self):
        return (Service
                .select(Service.id, Service.domain, Service.status,
                        Service.billing_cycle.alias("cycle"),
                        Service.recurring_amount.alias("amount"),
                        Service.next_due_date.alias("next_due"),
                        Client.first_name, Client.last_name, Client.company,
                        Product.name.alias("product"))
                .join(Client, on=(Service.client == Client.id))
                .switch(Service)
                .join(Product, on=(Service.product == Product.id)))

    def search(self, term):
        row_id = as_id(term)
        if row_id is not None:
            return Service.id == row_id
        if not searches_text(term):
            return service_prefix(term)
        return Service.id.in_(self.term_ids(term))

    def term_ids(self, term):
        return services_matching(term) if searches_text(term) and as_id(term) is None else None

    def to_row(self, d):
        d["client"] = person_name(d.pop("first_name"), d.pop("last_name"), d.pop("company"))
        return d

    def known_count(self, flt):
        return sum(service_totals().values()) if flt == NO_FILTER else None

    def is_overdue(self, row, today):
        return row["status"] == "active" and row["next_due"] is not None and row["next_due"] < today


class DomainSource(ListSource):
    name, title, model = "domains", "Domains", Domain
    search_hint = "any part of domain name, client name, company, email or #id"
    columns = (
        Column("id", "ID", 7, ID),
        Column("name", "Domain", 20, flex=True),
        Column("client", "Client", 20, priority=1),
        Column("status", "Status", 10, STATUS),
        Column("next_due", "Next due", 10, DATE),
        Column("expiry", "Expires", 10, DATE, priority=2),
    )

    def select(self):
        return (Domain
                .select(Domain.id, Domain.name, Domain.status,
                        Domain.next_due_date.alias("next_due"), Domain.expiry_date.alias("expiry"),
                        Client.first_name, Client.last_name, Client.company)
                .join(Client, on=(Domain.client == Client.id)))

    def search(self, term):
        row_id = as_id(term)
        if row_id is not None:
            return Domain.id == row_id
        if not searches_text(term):
            return prefix_of(Domain.name, term.lower())
        return Domain.id.in_(self.term_ids(term))

    def term_ids(self, term):
        if not searches_text(term) or as_id(term) is not None:
            return None
        by_client = Domain.select(Domain.id).where(Domain.client.in_(ids_containing(Client, term)))
        return ids_containing(Domain, term).union(by_client)

    def to_row(self, d):
        d["client"] = person_name(d.pop("first_name"), d.pop("last_name"), d.pop("company"))
        return d


class OrderSource(ListSource):
    name, title, model = "orders", "Orders", Order
    search_hint = "order number, client or #id"
    columns = (
        Column("id", "ID", 7, ID),
        Column("number", "Number", 10, priority=1),
        Column("client", "Client", 18, flex=True),
        Column("amount", "Amount", 14, MONEY, priority=2),
        Column("payment_method", "Payment", 12, priority=3),
        Column("status", "Status", 10, STATUS),
        Column("created", "Date", 10, DATE),
    )

    def select(self):
        return (Order
                .select(Order.id, Order.number, Order.status, Order.amount, Order.payment_method,
                        Order.created_at.alias("created"),
                        Client.first_name, Client.last_name, Client.company)
                .join(Client, on=(Order.client == Client.id)))

    def search(self, term):
        row_id = as_id(term)
        conditions = [] if row_id is None else [Order.id == row_id]
        if term.isdigit():
            conditions.append(prefix_of(Order.number, term))
        else:
            conditions.append(Order.client.in_(client_ids_matching(term)))
        return any_of(conditions)

    def to_row(self, d):
        d["client"] = person_name(d.pop("first_name"), d.pop("last_name"), d.pop("company"))
        return d


class InvoiceSource(ListSource):
    name, title, model = "invoices", "Invoices", Invoice
    search_hint = "invoice number, client or #id"
    columns = (
        Column("id", "Number", 7, ID),
        Column("client", "Client", 18, flex=True),
        Column("date", "Date", 10, DATE, priority=2),
        Column("total", "Total", 14, MONEY, priority=1),
        Column("payment_method", "Payment", 12, priority=3),
        Column("status", "Status", 10, STATUS),
        Column("due_date", "Due", 10, DATE),
    )

    def select(self):
        return (Invoice
                .select(Invoice.id, Invoice.status, Invoice.date, Invoice.due_date, Invoice.total,
                        Invoice.payment_method, Invoice.currency,
                        Client.first_name, Client.last_name, Client.company)
                .join(Client, on=(Invoice.client == Client.id)))

    def search(self, term):
        row_id = as_id(term)
        if row_id is not None:
            return Invoice.id == row_id
        return Invoice.client.in_(client_ids_matching(term))

    def to_row(self, d):
        d["client"] = person_name(d.pop("first_name"), d.pop("last_name"), d.pop("company"))
        return d

    def is_overdue(self, row, today):
        return row["status"] == InvoiceStatus.UNPAID and row["due_date"] < today


class CancellationSource(ListSource):
    name, title, model = "cancellations", "Cancellation queue", CancellationRequest
    search_hint = "any part of the service domain, client name or email, or #id"
    columns = (
        Column("id", "ID", 7, ID),
        Column("domain", "Service", 24, flex=True),
        Column("client", "Client", 18, priority=2),
        Column("type", "Type", 13, LABEL, priority=1),
        Column("reason", "Reason", 20, priority=4),
        Column("requested_by", "By", 12, priority=5),
        Column("status", "Status", 10, STATUS),
        Column("created", "Requested", 10, DATE),
    )

    def select(self):
        return (CancellationRequest
                .select(CancellationRequest.id, CancellationRequest.type,
                        CancellationRequest.reason, CancellationRequest.status,
                        CancellationRequest.requested_by,
                        CancellationRequest.created_at.alias("created"),
                        Service.domain, Client.first_name, Client.last_name, Client.company)
                .join(Service, on=(CancellationRequest.service == Service.id))
                .join(Client, on=(Service.client == Client.id)))

    def search(self, term):
        row_id = as_id(term)
        if row_id is not None:
            return CancellationRequest.id == row_id
        return CancellationRequest.service.in_(services_matching(term))

    def to_row(self, d):
        d["client"] = person_name(d.pop("first_name"), d.pop("last_name"), d.pop("company"))
        return d


class ModuleJobSource(ListSource):
    name, title, model = "module_queue", "Module queue", ModuleJob
    search_hint = "any part of the service domain, client name or email, or #id"
    columns = (
        Column("id", "ID", 7, ID),
        Column("domain", "Service", 18, flex=True),
        Column("command", "Command", 14, LABEL, priority=1),
        Column("attempts", "Tries", 5, NUMBER, priority=3),
        Column("last_error", "Last error", 24, priority=2),
        Column("status", "Status", 10, STATUS),
        Column("updated", "Updated", 10, DATE),
    )

    def select(self):
        return (ModuleJob
                .select(ModuleJob.id, ModuleJob.command, ModuleJob.status, ModuleJob.attempts,
                        ModuleJob.last_error, ModuleJob.updated_at.alias("updated"),
                        Service.domain)
                .join(Service, JOIN.LEFT_OUTER, on=(ModuleJob.service == Service.id)))

    def search(self, term):
        row_id = as_id(term)
        if row_id is not None:
            return ModuleJob.id == row_id
        return ModuleJob.service.in_(services_matching(term))

    def to_row(self, d):
        d["domain"] = d["domain"] or ""
        d["last_error"] = " ".join((d["last_error"] or "").split())
        return d


class EmailSource(ListSource):
    """The email outbox and log: what was queued, sent, or failed and will be retried."""

    name, title, model = "email", "Email log", EmailOutbox
    search_hint = "#id or recipient"
    columns = (
        Column("id", "ID", 7, ID),
        Column("to_address", "To", 22, flex=True),
        Column("subject", "Subject", 28, priority=1),
        Column("attempts", "Tries", 5, NUMBER, priority=3),
        Column("last_error", "Last error", 24, priority=2),
        Column("status", "Status", 8, STATUS),
        Column("created", "Queued", 10, DATE),
    )

    def select(self):
        return EmailOutbox.select(EmailOutbox.id, EmailOutbox.to_address, EmailOutbox.subject,
                                  EmailOutbox.attempts, EmailOutbox.last_error,
                                  EmailOutbox.status, EmailOutbox.created_at.alias("created"))

    def search(self, term):
        row_id = as_id(term)
        if row_id is not None:
            return EmailOutbox.id == row_id
        return prefix_of(EmailOutbox.to_address, term.lower())

    def to_row(self, d):
        d["last_error"] = " ".join((d["last_error"] or "").split())
        return d


# --- the activity log: prefixes and text ---------------------------------------------------

ACTIVITY_TEXT_COLUMNS = ("admin_login", "action", "description")  # what migration 0007 indexes
TEXT_INDEX = Table("activity_log_search")  # SQLite's FTS5 trigram index of those columns
# `service 42`, `invoice:7`: an object is named by its table (an addon by "addon").
OBJECT_TYPES = frozenset(model._meta.table_name for model in ALL_TABLES) | {"addon"}
SEARCH_PREFIXES = ("admin", "action", "client", "on", "since", "until")
_PREFIXED = re.compile(r"(?P<key>[A-Za-z_]+):(?P<value>.+)")
# What each prefix takes, for the hint shown while it is still being typed.
_PREFIX_VALUES = {**{name: f"{'an' if name[0] in 'aeiou' else 'a'} {name} id"
                     for name in OBJECT_TYPES},
                  "admin": "a login", "action": "an action or its start",
                  "client": "a client id", "on": "a day (YYYY-MM-DD)",
                  "since": "a day (YYYY-MM-DD)", "until": "a day (YYYY-MM-DD)"}


def _id_of(text: str) -> int | None:
    return as_id(text) if text.isascii() else None


def all_of(conditions: list[Expression]) -> Expression:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result & condition
    return result


class ActivitySearch:
    """A search of the activity log, read from what the admin typed.

    Words must each appear in the row's admin login, action or description (any case, any
    position); with a word shorter than 3 characters the words must appear as typed. The
    rest are prefixes: `admin:LOGIN`, `action:PREFIX`, `client:ID`, `on:`, `since:`,
    `until:` a day (in `timezone`, the configured one the list shows its times in), `#ID`,
    or an object such as `service 42`.
    A part that cannot be read raises ValidationError("search", ...) naming it.
    """

    def __init__(self, term: str, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self.exact: list[Expression] = []  # equalities, each answered by an index in id order
        self.ranges: list[tuple[Field, Any, Any]] = []  # (column, from, before): action, days
        self.narrow = False  # a row id, an object, a client or a day: few rows to read
        words = self._read(term.split())
        self.texts = self._texts(words)

    def _read(self, tokens: list[str]) -> list[str]:
        words = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            prefixed = _PREFIXED.fullmatch(token)
            if token.lower() in OBJECT_TYPES and _id_of(following) is not None:
                self._object(token.lower(), _id_of(following))
                index += 1
            elif prefixed:
                self._prefix(prefixed["key"].lower(), prefixed["value"])
            elif token.endswith(":") and token[:-1].lower() in _PREFIX_VALUES:
                key = token[:-1].lower()
                raise ValidationError("search", f"“{key}:” needs {_PREFIX_VALUES[key]} after "
                                                "the colon")
            elif token.startswith("#") and _id_of(token) is not None:
                self.exact.append(ActivityLog.id == _id_of(token))
                self.narrow = True
            else:
                words.append(token)
            index += 1
        return words

    def _object(self, object_type: str, object_id: int) -> None:
        self.exact += [ActivityLog.object_type == object_type, ActivityLog.object_id == object_id]
        self.narrow = True

    def _prefix(self, key: str, value: str) -> None:
        if key == "admin":
            self.exact.append(ActivityLog.admin_login == value)
        elif key == "action":
            action = value.lower()
            self.ranges.append((ActivityLog.action, action, next_prefix(action)))
        elif key == "client":
            self.exact.append(ActivityLog.client_id == self._number(key, value))
            self.narrow = True
        elif key in ("on", "since", "until"):
            start = self._day(key, value)
            start, end = (ActivityLog.at.db_value(moment.in_timezone("UTC"))
                          for moment in (start, start.add(days=1)))
            self.ranges.append((ActivityLog.at, None if key == "until" else start,
                                None if key == "since" else end))
            self.narrow = self.narrow or key == "on"
        elif key in OBJECT_TYPES:
            self._object(key, self._number(key, value))
        else:
            known = ", ".join(f"{prefix}:" for prefix in SEARCH_PREFIXES)
            raise ValidationError("search", f"“{key}:” is not a search prefix (use {known}, "
                                            f"#id or an object such as service 42)")

    @staticmethod
    def _number(key: str, value: str) -> int:
        number = _id_of(value)
        if number is None:
            raise ValidationError("search", f"{key}: “{value}” is not a {key} number")
        return number

    def _day(self, key: str, value: str) -> pendulum.DateTime:
        try:
            day = parse_date(value, key)
        except ValidationError as problem:
            raise ValidationError("search", f"{key}: {problem.message}") from None
        return pendulum.datetime(day.year, day.month, day.day, tz=self.timezone)

    @staticmethod
    def _texts(words: list[str]) -> list[str]:
        if not words:
            return []
        texts = words if all(len(word) >= TRIGRAM for word in words) else [" ".join(words)]
        if len(texts[0]) < TRIGRAM:
            raise ValidationError("search", f"type at least {TRIGRAM} characters to search the "
                                            f"text (“{texts[0]}” is too short)")
        return texts

    # --- the query ----------------------------------------------------------------------

    @property
    def text_index_query(self) -> str | None:
        """SQLite: the FTS5 query of the rows that may hold the text, when the text leads.

        Each text's trigrams, all required; the index keeps no positions (migration 0007),
        so the text itself is checked on each row found (`conditions`).
        """
        if not self.texts or self.narrow or is_postgres():
            return None
        trigrams = {text[i:i + TRIGRAM] for text in self.texts
                    for i in range(len(text) - TRIGRAM + 1)}
        return " AND ".join('"' + trigram.replace('"', '""') + '"' for trigram in sorted(trigrams))

    def conditions(self, *, scan_ranges: bool = False) -> list[Expression]:
        """Every condition on the log's own columns; the text is checked on each row (on
        PostgreSQL through its trigram index). `scan_ranges`: SQLite checks the action and
        day ranges row by row instead of reading them from their index (for pages of a
        range too large to sort)."""
        conditions = list(self.exact)
        for column, start, before in self.ranges:
            if scan_ranges and not is_postgres():
                column = NodeList((SQL("+"), column), glue="")  # unary plus: no index
            if start is not None:
                conditions.append(column >= start)
            if before is not None:
                conditions.append(column < before)
        for text in self.texts:
            conditions.append(_text_contains(text))
        return conditions


def _text_contains(text: str) -> Expression:
    """`admin_login || ' ' || action || ' ' || description` of the log's row holds `text`."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    joined = NodeList([getattr(ActivityLog, name) for name in ACTIVITY_TEXT_COLUMNS],
                      glue=" || ' ' || ")
    if is_postgres():  # lower(...) is what the trigram index of migration 0007 is built on
        return Expression(fn.LOWER(joined), "LIKE", pattern.lower())
    # SQLite's LIKE ignores the case of ASCII letters.
    return NodeList([SQL("("), joined, SQL(") LIKE"), pattern, SQL("ESCAPE '\\'")])


class ActivitySource(ListSource):
    """The activity log, newest first, searched by ActivitySearch.

    The list pages and counts through `_searched`, which picks how the database reads the
    rows: SQLite's text index leads a text search (in id order, so a page stops after
    `limit` rows); a range of actions or days too large to sort is read in id order.
    """

    name, title, model = "activity", "Activity log", ActivityLog
    search_hint = "words, admin:, action:, client:, since:/until:/on:DATE, service 42, #id"
    columns = (
        Column("id", "ID", 8, ID),
        Column("at", "When", 16, DATETIME),
        Column("admin_login", "Admin", 12, priority=1),
        Column("action", "Action", 22),
        Column("object", "Object", 14, priority=2),
        Column("description", "Description", 12, flex=True),
    )
    PAGE_ROWS = 50  # a page, for weighing "sort every match" against "walk the log"

    def __init__(self, timezone: str = "UTC") -> None:
        super().__init__(timezone)
        self._counts: dict[str, tuple[int, int]] = {}  # term -> (matches, max id) when counted

    def select(self):
        return ActivityLog.select(ActivityLog.id, ActivityLog.at, ActivityLog.admin_login,
                                  ActivityLog.operator, ActivityLog.action,
                                  ActivityLog.object_type, ActivityLog.object_id,
                                  ActivityLog.description)

    def search(self, term):
        """One condition for `term` (for callers that need a WHERE; the list itself reads
        through `_searched`)."""
        found = ActivitySearch(term, self.timezone)
        conditions = found.conditions()
        if not conditions:
            return None
        if found.text_index_query is not None:
            conditions.append(ActivityLog.id.in_(
                TEXT_INDEX.select(TEXT_INDEX.c.rowid).where(_matches(found.text_index_query))))
        return all_of(conditions)

    def _searched(self, query, flt: ListFilter, *, paging: bool):
        """`query` narrowed to `flt`, and the column its rows are ordered by."""
        if not flt.term:
            return query, ActivityLog.id
        found = ActivitySearch(flt.term, self.timezone)
        key = ActivityLog.id
        index_query = found.text_index_query
        if index_query is not None:
            query = (query.join(TEXT_INDEX, on=(TEXT_INDEX.c.rowid == ActivityLog.id))
                     .where(_matches(index_query)))
            key = TEXT_INDEX.c.rowid  # the text index gives its rows in this order
        sparse = paging and index_query is None and self._sparse(flt.term)
        for condition in found.conditions(scan_ranges=paging and not sparse):
            query = query.where(condition)
        if sparse:
            key = ActivityLog.id + 0  # few matches: read them through their index and sort
        return query, key

    def _sparse(self, term: str) -> bool:
        """Whether sorting the matches costs less than walking the log until a page is full.

        Known from the count the list takes before its first page; unknown means walk.
        """
        matches, max_id = self._counts.get(term, (None, 0))
        # Sorting costs about `matches`; a walk reads about PAGE_ROWS * max_id / matches rows.
        return matches is not None and matches * matches < self.PAGE_ROWS * max_id

    def count(self, flt: ListFilter = NO_FILTER) -> int:
        query, _ = self._searched(ActivityLog.select(), flt, paging=False)
        total = query.count()
        if flt.term:
            max_id = ActivityLog.select(fn.MAX(ActivityLog.id)).scalar() or 0
            self._counts = {flt.term: (total, max_id)}
        return total

    def first_page(self, limit: int = 50, flt: ListFilter = NO_FILTER, *,
                   cap: int = COUNT_CAP) -> FirstPage:
        # Counted exactly, as before: the count tells `_sparse` how to read the pages.
        rows = self.page(None, limit, flt)
        return FirstPage(rows, self.count_after_first_page(rows, limit, flt), True)

    def page(self, after_key: int | None = None, limit: int = 50,
             flt: ListFilter = NO_FILTER, *, backward: bool = False) -> list[Row]:
        query, key = self._searched(self.select(), flt, paging=True)
        if after_key is not None:
            query = query.where(key > after_key if backward else key < after_key)
        query = query.order_by(key.asc() if backward else key.desc()).limit(limit)
        rows = [self.to_row(d) for d in query.dicts()]
        return rows[::-1] if backward else rows

    def page_at(self, offset: int, limit: int = 50, flt: ListFilter = NO_FILTER) -> list[Row]:
        query, key = self._searched(self.select(), flt, paging=True)
        query = query.order_by(key.desc()).offset(offset).limit(limit)
        return [self.to_row(d) for d in query.dicts()]

    def detail(self, row_id: int) -> list[tuple[str, Any]] | None:
        """The row's fields, its before/after records spread out as one field per value
        (`before.service.domain`, `before.addons.1.name`), secrets redacted."""
        fields = super().detail(row_id)
        if fields is None:
            return None
        spread = []
        for name, value in fields:
            if name in ("before", "after"):
                spread += record_fields(name, value)
            else:
                spread.append((name, value))
        return spread

    def to_row(self, d):
        operator = d.pop("operator", "")
        if operator and operator != d["admin_login"]:  # a full admin acting as another
            d["admin_login"] = f"{operator} acting as {d['admin_login']}"
        object_id = d.pop("object_id")
        object_type = d.pop("object_type")
        d["object"] = f"{object_type} {object_id}" if object_id is not None else object_type
        d["description"] = " ".join((d["description"] or "").split())
        return d


def record_fields(name: str, text: str) -> list[tuple[str, Any]]:
    """A stored JSON record (the activity log's before/after) as (field, value) pairs, nested
    names joined by dots, lists numbered from 1, secrets redacted; text that is not JSON as
    it is, and nothing for none."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [(name, text)]
    found: list[tuple[str, Any]] = []

    def walk(path: str, item: Any) -> None:
        if isinstance(item, dict):
            if not item:
                found.append((path, "(none)"))
            for key in sorted(item):
                inner = item[key]
                if key in audit.SECRET_FIELDS and inner not in (None, ""):
                    found.append((f"{path}.{key}", audit.REDACTED))
                else:
                    walk(f"{path}.{key}", inner)
        elif isinstance(item, list):
            if not item:
                found.append((path, "(none)"))
            for number, inner in enumerate(item, 1):
                walk(f"{path}.{number}", inner)
        else:
            found.append((path, "" if item is None else item))

    walk(name, value)
    return found


def _matches(index_query: str) -> Expression:
    # An FTS5 table's hidden column of its own name takes the MATCH.
    return Expression(TEXT_INDEX.c.activity_log_search, "MATCH", index_query)


class CronRunSource(ListSource):
    name, title, model = "automation", "Automation status", CronRun
    search_hint = "#id"
    empty_text = "No daily run yet: `hostdesk cron` has never run on this database"
    columns = (
        Column("id", "Run", 6, ID),
        Column("run_date", "For day", 10, DATE),
        Column("status", "Status", 10, STATUS),
        Column("started", "Started", 16, DATETIME),
        Column("finished", "Finished", 16, DATETIME, priority=2),
        Column("summary", "Summary", 14, flex=True),
    )

    def select(self):
        return CronRun.select(CronRun.id, CronRun.run_date, CronRun.status, CronRun.dry_run,
                              CronRun.started_at.alias("started"),
                              CronRun.finished_at.alias("finished"), CronRun.report)

    def to_row(self, d):
        d["summary"] = run_summary(d.pop("report"), d.pop("dry_run"))
        return d


def run_summary(report_json: str, dry_run: bool = False) -> str:
    """`123 done, 2 failed (invoices)` from a daily run's stored report."""
    try:
        report = json.loads(report_json or "{}")
    except ValueError:
        report = {}
    tasks = report.get("tasks", {})
    done = sum(int(t.get("done", 0)) for t in tasks.values())
    failed = [name for name, t in tasks.items() if t.get("failures")]
    text = f"{done:,} done"
    if report.get("stopped"):
        text += f", stopped: {report['stopped']}"
    if failed:
        text += f", failed: {', '.join(failed)}"
    if report.get("alert", {}).get("to"):
        text += f" · admins emailed ({len(report['alert']['to'])})"
    return f"dry run: {text}" if dry_run else text


def client_matches(term: str, limit: int) -> list[dict]:
    """The client picker's rows: clients matching `term` (name, company or email prefix, or
    #id), newest first, each with its default payment method."""
    if not term.strip():
        return []
    rows = ClientSource().page(limit=limit, flt=ListFilter(term))
    methods = dict(Client.select(Client.id, Client.default_payment_method)
                   .where(Client.id.in_([row["id"] for row in rows] or [0])).tuples())
    for row in rows:
        row["payment_method"] = methods.get(row["id"], "")
    return rows


# --- the queues' screens: with their filters ------------------------------------------------


@dataclass(frozen=True)
class RequestFilter(ListFilter):
    open_only: bool = False


class CancellationQueueSource(CancellationSource):
    """Every request, newest first, with when it is (or was) processed."""

    columns = (
        Column("id", "ID", 6, ID),
        Column("domain", "Service", 16, flex=True),
        Column("client", "Client", 16, priority=2),
        Column("type", "Type", 13, LABEL, priority=1),
        Column("reason", "Reason", 18, priority=4),
        Column("status", "Status", 9, STATUS),
        Column("created", "Requested", 10, DATE, priority=3),
        Column("when", "Processed", 10),
    )

    def select(self):
        return super().select().select_extend(
            CancellationRequest.service.alias("service_id"),
            CancellationRequest.completed_at, Service.next_due_date)

    def to_row(self, d):
        d = super().to_row(d)
        d["when"] = when_processed(d)
        return d

    def _condition(self, flt: ListFilter):
        condition = super()._condition(flt)
        if isinstance(flt, RequestFilter) and flt.open_only:
            is_open = CancellationRequest.status == "open"
            condition = is_open if condition is None else (is_open & condition)
        return condition


def when_processed(row: dict) -> str:
    """`next run` / the due date for open requests (hostdesk.models.cancellations.process_date),
    the day it was completed, or `—` for a deleted one."""
    if row["status"] == "completed" and row.get("completed_at"):
        return row["completed_at"].in_timezone("UTC").format("YYYY-MM-DD")
    if row["status"] != "open":
        return "—"
    day = process_date_of(row["type"], row.get("next_due_date"))
    return day.isoformat() if day else "next run"


@dataclass(frozen=True)
class QueueFilter(ListFilter):
    open_only: bool = False  # True: only queued or failed jobs, what still needs someone


class ModuleQueueSource(ModuleJobSource):
    """The jobs, newest first; optionally only the open ones (index `module_job (status, id)`)."""

    columns = (
        *ModuleJobSource.columns[:-1],
        Column("source", "From", 6, LABEL, priority=4),
        Column("updated", "Updated", 10, DATE),
    )

    def select(self):
        return super().select().select_extend(ModuleJob.service.alias("service_id"),
                                              ModuleJob.source)

    def _condition(self, flt: ListFilter):
        condition = super()._condition(flt)
        if isinstance(flt, QueueFilter) and flt.open_only:
            waiting = ModuleJob.status.in_(modulequeue.OPEN)
            condition = waiting if condition is None else (waiting & condition)
        return condition
@dataclass(frozen=True)
class TaskReport:
    """One task of a daily run, as its stored report says."""

    name: str
    done: int
    failures: list[tuple[str, str]]  # (item, reason)
    details: list[tuple[str, str]]  # (what, value), e.g. ("lines", "12")
    items: list[str]  # a dry run's: what the task would act on


@dataclass(frozen=True)
class RunReportView:
    """A daily run and its stored report, read for people (the automation screen)."""

    id: int
    run_date: pendulum.Date
    status: str
    dry_run: bool
    started_at: pendulum.DateTime | None
    finished_at: pendulum.DateTime | None
    tasks: list[TaskReport]
    stopped: str
    not_run: list[str]
    alert: str  # who was emailed about it, or why that failed
    summary: str


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def run_report(run_id: int) -> RunReportView | None:
    """The run `run_id` with its report per task; None when there is no such run."""
    run = CronRun.get_or_none(CronRun.id == run_id)
    if run is None:
        return None
    try:
        report = json.loads(run.report or "{}")
    except ValueError:
        report = {}
    tasks = []
    for name, task in (report.get("tasks") or {}).items():
        failures = [(str(f.get("item", "")), str(f.get("error", "")))
                    for f in task.get("failures") or []]
        details = [(key, _text(value)) for key, value in (task.get("details") or {}).items()]
        tasks.append(TaskReport(name, int(task.get("done", 0)), failures, details,
                                [str(item) for item in task.get("items") or []]))
    alert = report.get("alert") or {}
    alert_text = (f"emailed {', '.join(alert['to'])}" if alert.get("to")
                  else _text(alert.get("error", "")) if alert else "")
    return RunReportView(run.id, run.run_date, run.status, bool(run.dry_run), run.started_at,
                     run.finished_at, tasks, str(report.get("stopped") or ""),
                     [str(t) for t in report.get("not_run") or []], alert_text,
                     run_summary(run.report, run.dry_run))


SOURCES: dict[str, type[ListSource]] = {
    source.name: source
    for source in (ClientSource, ServiceSource, DomainSource, OrderSource, InvoiceSource,
                   CancellationSource, ModuleJobSource, EmailSource, ActivitySource,
                   CronRunSource)
}


# --- how many services of each status (migration 0022) ----------------------------------

FOLD_AFTER = 1_000  # PostgreSQL's counter rows beyond which a read folds them


def service_totals() -> dict[str, int]:
    """How many services there are of each status, exactly, from the counter the database
    keeps (migration 0022): no service is read."""
    rows = database.execute_sql(
        "SELECT status, SUM(n), COUNT(*) FROM service_count GROUP BY status").fetchall()
    if sum(kept for _, _, kept in rows) > FOLD_AFTER:
        fold_service_counts()
    return {status: int(total) for status, total, _ in rows if total}


def fold_service_counts() -> None:
    """Fold PostgreSQL's counter rows (one per status a statement touched) into one per
    status. Rows a running writer adds meanwhile are not visible to it and stay as they
    are, so the sums stay exact; SQLite keeps one row per status already."""
    if not is_postgres():
        return
    with database.atomic():
        database.execute_sql(
            "WITH gone AS (DELETE FROM service_count RETURNING status, n) "
            "INSERT INTO service_count (status, n) "
            "SELECT status, SUM(n) FROM gone GROUP BY status HAVING SUM(n) <> 0")


def recount_services() -> None:
    """Count the services again into the counter: after a bulk load made with the
    triggers off (as `search.rebuild_index` refills the search tables)."""
    with database.atomic():
        if is_postgres():
            database.execute_sql("LOCK TABLE service IN SHARE MODE")  # writers wait
        database.execute_sql("DELETE FROM service_count")
        database.execute_sql("INSERT INTO service_count (status, n) "
                             "SELECT status, COUNT(*) FROM service GROUP BY status")


# --- the main screen's figures --------------------------------------------------------


@dataclass(frozen=True)
class DashboardCounts:
    clients_active: int
    services_by_status: dict[str, int]
    orders_pending: int
    invoices_unpaid: int
    invoices_overdue: int
    cancellations_open: int
    module_jobs_waiting: int  # queued or failed
    emails_waiting: int  # queued or failed, not yet sent
    activity_today: int


def dashboard_counts(today: pendulum.Date) -> DashboardCounts:
    """A handful of indexed counts for the main screen."""
    by_status = service_totals()
    unpaid = Invoice.select().where(Invoice.status == InvoiceStatus.UNPAID)
    start_of_day = pendulum.datetime(today.year, today.month, today.day, tz="UTC")
    return DashboardCounts(
        clients_active=Client.select().where(Client.status == ClientStatus.ACTIVE).count(),
        services_by_status=by_status,
        orders_pending=Order.select().where(Order.status == "pending").count(),
        invoices_unpaid=unpaid.count(),
        invoices_overdue=unpaid.where(Invoice.due_date < today).count(),
        cancellations_open=CancellationRequest.select()
        .where(CancellationRequest.status == "open").count(),
        module_jobs_waiting=ModuleJob.select()
        .where(ModuleJob.status.in_(("queued", "failed"))).count(),
        activity_today=ActivityLog.select().where(ActivityLog.at >= start_of_day).count(),
        emails_waiting=EmailOutbox.select().where(EmailOutbox.status.in_(("queued", "failed"))).count(),
    )


STALE_AFTER = pendulum.duration(hours=24)


def automation_warning(runs: list[CronRun], now: pendulum.DateTime) -> str | None:
    """Why the daily run needs attention, or None when it succeeded in the last 24 hours and
    the latest run did not fail (a failed run's admins' notice is shown here too).

    `runs` are the most recent runs (any order); dry runs do not count as runs.
    """
    finished = [r for r in runs if r.status == "succeeded" and not r.dry_run and r.finished_at]
    if not finished:
        return "No successful daily run on record: is `hostdesk cron` scheduled?"
    last = max(r.finished_at for r in finished)
    if now - last > STALE_AFTER:
        return (f"No successful daily run in the last 24 hours "
                f"(last one finished {last.format('YYYY-MM-DD HH:mm')} UTC)")
    latest = max((r for r in runs if not r.dry_run), key=lambda r: r.started_at)
    if latest.status == "failed":
        return (f"The last daily run (for {latest.run_date.isoformat()}) failed: "
                f"{run_summary(latest.report)}")
    return None
