"""Global search: clients, services, domains and invoices by any of their identifying fields.

It stays instant on a million services because every query is answered by an index and
asks for at most `limit` ids, newest first, in an order the index gives for free (nothing
sorts every match); the rows shown are then read by primary key.

- Text of 3+ characters: trigram indexes (migration 0004) over each table's identifying
  text: client names, company, email, phone; service domain, username, dedicated ip;
  domain name. Every word of 3+ characters must appear somewhere in it (any case, any
  position: "xampl" finds example.com); text with a shorter word must appear as written.
  SQLite: FTS5 `trigram` tables ordered by rowid; PostgreSQL: pg_trgm GIN indexes.
- 1-2 characters: the start of a service domain, a domain name or a client email
  (B-tree ranges, the first `limit` in alphabetical order, since newest-first would mean
  sorting most of a table); `hint()` tells the admin that 3 characters search inside.
- Digits: also the client, service, domain and invoice with that id (`#12`: only those);
  an invoice's number is its id.

Services are also found through the clients found by text (their email, name, ...): the
services of at most `limit` clients, newest first.

Keeping the SQLite index quick: `tidy_index()` (the daily run) merges its segments;
`rebuild_index()` refills it after a bulk load made with its triggers off. On PostgreSQL,
ANALYZE (autovacuum, or after a bulk load) keeps the planner choosing the trigram indexes.
"""

from __future__ import annotations

from dataclasses import dataclass

from hostdesk.models.db import database, is_postgres
from hostdesk.models.listing import SEARCHED_COLUMNS, SEARCHED_TEXT, TRIGRAM, person_name  # noqa: F401
from hostdesk.models.money import format_money
from hostdesk.models.schema import Invoice

KINDS = ("client", "service", "domain", "invoice")  # the order hits are returned in
# Short text matches the start of these B-tree indexed expressions (domains are stored
# in lower case; `lower(email)` has its own index from migration 0004).
PREFIX_EXPRESSIONS = {"client": "lower(email)", "service": "domain", "domain": "name"}


@dataclass(frozen=True)
class SearchHit:
    kind: str  # one of KINDS
    id: int
    title: str
    subtitle: str
    status: str
    client_id: int

    @property
    def source(self) -> str:
        """The `models.listing.SOURCES` name whose list and detail screens show this row."""
        return f"{self.kind}s"


def search(text: str, *, limit: int = 50) -> list[SearchHit]:
    """Up to `limit` hits of each kind for `text`, by kind (KINDS order), then newest first."""
    return _Search(_Runner(), limit).hits(text)


def explain(text: str, *, limit: int = 50) -> list[str]:
    """The plan of every query `search(text)` runs, one text per query, in order.

    EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL: for checking that each is answered
    by an index.
    """
    runner = _Runner(explaining=True)
    _Search(runner, limit).hits(text)
    return runner.plans


def hint(text: str) -> str | None:
    """What the admin could type for a better search, or None when the text is fine."""
    term = text.strip()
    if not term:
        return "type a name, email, domain, username, ip or a number"
    if len(term) < TRIGRAM and _as_id(term) is None:
        return f"type at least {TRIGRAM} characters to search inside names and emails"
    return None


def rebuild_index() -> None:
    """Refill SQLite's search tables from the rows (after a bulk load with the triggers off).

    PostgreSQL's trigram indexes are ordinary indexes on the tables: nothing to do there.
    """
    if is_postgres():
        return
    with database.atomic():
        for table, text in SEARCHED_TEXT.items():
            database.execute_sql(f"DELETE FROM {table}_search")
            database.execute_sql(
                f"INSERT INTO {table}_search (rowid, body) SELECT id, {text} FROM {table}")
    tidy_index()


def tidy_index(pages_per_step: int = 500) -> int:
    """Merge each SQLite search table into one segment, a few pages per short transaction.

    Every statement that writes an FTS5 table leaves a small segment, and FTS5's own
    merging keeps dozens of them on a large table; a long term then reads the lists of its
    common trigrams in each one (at a million services ~25 ms a table instead of ~1.5 ms).
    For the daily run and after bulk loads. Returns the transactions used (0 on PostgreSQL,
    whose GIN indexes autovacuum keeps in shape).
    """
    if is_postgres():
        return 0
    # A negative amount merges every level, as 'optimize' does, in small steps.
    return sum(_merge(f"{table}_search", -pages_per_step) for table in SEARCHED_TEXT)


def _merge(index: str, pages: int) -> int:
    """FTS5 'merge' steps of about `pages` pages each until one does no work; returns how
    many transactions that took."""
    connection = database.connection()
    steps = 0
    merging = True
    while merging:
        with database.atomic():
            before = connection.total_changes
            database.execute_sql(f"INSERT INTO {index} ({index}, rank) VALUES ('merge', ?)",
                                 [pages])
            merging = connection.total_changes - before >= 2  # FTS5's "work was done"
        steps += 1
    return steps


def _as_id(term: str) -> int | None:
    """`123` or `#123` as an id; anything else None."""
    digits = term.removeprefix("#")
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        return int(digits)
    return None


class _Runner:
    """Runs the search's queries; when explaining, also keeps the plan of each one."""

    def __init__(self, explaining: bool = False) -> None:
        self.explaining = explaining
        self.plans: list[str] = []

    def rows(self, sql: str, params: list) -> list[tuple]:
        """The rows of a query written with `?` placeholders."""
        sql = sql.replace("?", database.param)
        if self.explaining:
            self._explain(sql, params)
        return database.execute_sql(sql, params).fetchall()

    def ids(self, sql: str, params: list) -> list[int]:
        return [row[0] for row in self.rows(sql, params)]

    def _explain(self, sql: str, params) -> None:
        if is_postgres():
            lines = [row[0] for row in database.execute_sql(f"EXPLAIN {sql}", params)]
        else:
            lines = [row[3] for row in database.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
        self.plans.append("\n".join(lines))


class _Search:
    def __init__(self, runner: _Runner, limit: int) -> None:
        self.run = runner
        self.limit = limit

    def hits(self, text: str) -> list[SearchHit]:
        term = " ".join(text.split())
        if not term or self.limit < 1:
            return []
        found = {kind: set() for kind in KINDS}
        exact = _as_id(term)
        if exact is not None:
            for kind in KINDS:
                found[kind].add(exact)
        if exact is None or not term.startswith("#"):  # "#12" asks for ids only
            self._add_text_matches(found, term, digits=exact is not None)
        hits: list[SearchHit] = []
        for kind in KINDS:
            hits += self._rows(kind, self._newest(found[kind]))
        return hits

    def _add_text_matches(self, found: dict[str, set[int]], term: str, digits: bool) -> None:
        if len(term) >= TRIGRAM:
            clients = self._text_matches("client", term)
            found["client"].update(clients)
            found["service"].update(self._text_matches("service", term))
            found["service"].update(self._services_of(clients))
            found["domain"].update(self._text_matches("domain", term))
        elif not digits:
            for table, expression in PREFIX_EXPRESSIONS.items():
                found[table].update(self._prefix_matches(table, expression, term.lower()))

    def _newest(self, ids: set[int]) -> list[int]:
        return sorted(ids, reverse=True)[: self.limit]

    # --- finding ids: one indexed query each, at most `limit` ids, newest first --------------

    def _text_matches(self, table: str, term: str) -> list[int]:
        words = term.split(" ")
        parts = words if all(len(word) >= TRIGRAM for word in words) else [term]
        if is_postgres():
            where = " AND ".join(f"lower({SEARCHED_TEXT[table]}) LIKE ?" for _ in parts)
            patterns = [f"%{_escape_like(part.lower())}%" for part in parts]
            return self.run.ids(f'SELECT id FROM "{table}" WHERE {where} '
                                f"ORDER BY id DESC LIMIT ?", [*patterns, self.limit])
        query = " AND ".join('"' + part.replace('"', '""') + '"' for part in parts)
        return self.run.ids(f"SELECT rowid FROM {table}_search WHERE {table}_search MATCH ? "
                            f"ORDER BY rowid DESC LIMIT ?", [query, self.limit])

    def _services_of(self, client_ids: list[int]) -> list[int]:
        if not client_ids:
            return []
        marks = ", ".join("?" for _ in client_ids)
        return self.run.ids(f"SELECT id FROM service WHERE client_id IN ({marks}) "
                            f"ORDER BY id DESC LIMIT ?", [*client_ids, self.limit])

    def _prefix_matches(self, table: str, expression: str, prefix: str) -> list[int]:
        """The first `limit` matches in the index's (alphabetical) order.

        A short prefix can match most of a table, so these are not the newest matches:
        reading them newest first would visit and sort every match.
        """
        # The range is what the B-tree answers; LIKE keeps it exact under any collation.
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return self.run.ids(
            f'SELECT id FROM "{table}" WHERE {expression} >= ? AND {expression} < ? '
            f"AND {expression} LIKE ? ESCAPE '\\' ORDER BY {expression}, id LIMIT ?",
            [prefix, after, _escape_like(prefix) + "%", self.limit])

    # --- reading the rows shown, by primary key -------------------------------------------

    def _rows(self, kind: str, ids: list[int]) -> list[SearchHit]:
        if not ids:
            return []
        select, to_hit = _SHOWN[kind]
        marks = ", ".join("?" for _ in ids)
        rows = self.run.rows(select.format(ids=marks), ids)
        return sorted((to_hit(row) for row in rows), key=lambda hit: hit.id, reverse=True)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Plain SQL: building these with the query builder cost more than running them.
_OWNER = "c.first_name, c.last_name, c.company"


def _client_hit(row) -> SearchHit:
    client_id, first, last, company, email, status = row
    return SearchHit("client", client_id, person_name(first, last, company), email, status,
                     client_id)


def _service_hit(row) -> SearchHit:
    service_id, domain, username, status, client_id, product, *owner = row
    return SearchHit("service", service_id, domain or username or f"service {service_id}",
                     f"{product} · {person_name(*owner)}", status, client_id)


def _domain_hit(row) -> SearchHit:
    domain_id, name, status, client_id, *owner = row
    return SearchHit("domain", domain_id, name, person_name(*owner), status, client_id)


def _invoice_hit(row) -> SearchHit:
    invoice_id, status, total, due_date, client_id, *owner = row
    total = Invoice.total.python_value(total)
    due_date = Invoice.due_date.python_value(due_date)
    return SearchHit("invoice", invoice_id, f"Invoice #{invoice_id}",
                     f"{format_money(total, '')} due {due_date.isoformat()} · "
                     f"{person_name(*owner)}", status, client_id)


_SHOWN = {  # kind -> (SELECT of the rows with these ids, row -> SearchHit)
    "client": ("SELECT id, first_name, last_name, company, email, status FROM client "
               "WHERE id IN ({ids})", _client_hit),
    "service": (f"SELECT s.id, s.domain, s.username, s.status, s.client_id, p.name, {_OWNER} "
                "FROM service s JOIN product p ON p.id = s.product_id "
                "JOIN client c ON c.id = s.client_id WHERE s.id IN ({ids})", _service_hit),
    "domain": (f"SELECT d.id, d.name, d.status, d.client_id, {_OWNER} FROM domain d "
               "JOIN client c ON c.id = d.client_id WHERE d.id IN ({ids})", _domain_hit),
    "invoice": (f"SELECT i.id, i.status, i.total, i.due_date, i.client_id, {_OWNER} "
                "FROM invoice i JOIN client c ON c.id = i.client_id WHERE i.id IN ({ids})",
                _invoice_hit),
}


# --- the activity log's text index (migration 0007; searched by hostdesk.models.listing.ActivitySearch)


def rebuild_activity_index() -> None:
    """Refill SQLite's activity-log text index from the log (after a bulk load with its
    triggers off). PostgreSQL's trigram index is an ordinary index: nothing to do there."""
    if is_postgres():
        return
    with database.atomic():
        database.execute_sql("INSERT INTO activity_log_search (activity_log_search) "
                             "VALUES ('rebuild')")
    tidy_activity_index()


def tidy_activity_index(pages_per_step: int = 500) -> int:
    """Merge the small segments the daily run's writes leave in SQLite's activity-log text
    index (one per statement) until each level of the index holds at most one.

    Unlike `tidy_index` it does not rewrite the whole index every week: a large old segment
    is merged again only when a level below it fills up. The log only grows, and at 3.2
    million rows merging everything into one segment took 4.6 s every week (growing with
    the log) for searches at most a few ms quicker; this cost 0.08 s, about what the week
    added. Returns the transactions used (0 on PostgreSQL)."""
    if is_postgres():
        return 0
    with database.atomic():  # merge a level once it has two segments (FTS5's default: four)
        database.execute_sql("INSERT INTO activity_log_search (activity_log_search, rank) "
                             "VALUES ('usermerge', 2)")
    return _merge("activity_log_search", pages_per_step)
