"""Loading many rows into empty SQLite tables inside one transaction: what keeps the tables'
indexes and checks in step row by row is paused while the rows go in and made again once, at
the end of the same transaction.

Building an index once over the loaded rows is several times cheaper than inserting into it
row by row (and the search index's trigram terms the same). Everything happens inside the
caller's transaction, so no other connection ever sees the tables without their indexes and
checks: a load that fails, or a process that dies, rolls back to the database as it was.

What is paused and how it is made good at the end:
- the secondary indexes of the loaded tables (unique ones included): made again from their
  own stored SQL; a unique index refuses duplicates then, failing the whole load;
- the search tables' insert triggers (migration 0004): the search tables are refilled from
  the rows (`search.rebuild_index`);
- the overlapping-renewal insert trigger (migration 0011): every live renewal line is checked
  against the item's previous one in one query, and a load with an overlap fails;
- the services' count trigger (migration 0022: one counter update per service inserted):
  the services are counted again once (`listing.recount_services`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peewee import IntegrityError

from hostdesk.models import search
from hostdesk.models.db import database, is_sqlite
from hostdesk.models.listing import SEARCHED_TEXT, recount_services

OVERLAP_TRIGGER = "invoice_line_no_overlap_insert"
COUNT_TRIGGER = "service_count_insert"
# Each live renewal line whose period starts before the item's previous live line ends.
_OVERLAPS = """
SELECT id, invoice_id, item_type, item_id, period_start, previous_id FROM (
    SELECT id, invoice_id, item_type, item_id, period_start,
           LAG(id) OVER w AS previous_id, LAG(period_end) OVER w AS previous_end
    FROM invoice_line WHERE kind = 'renewal' AND NOT cancelled AND item_id IS NOT NULL
    WINDOW w AS (PARTITION BY item_type, item_id ORDER BY period_start, id)) AS ordered
WHERE previous_id IS NOT NULL AND (previous_end IS NULL OR previous_end > period_start)
ORDER BY id LIMIT 5"""


@dataclass
class Paused:
    """What `pause` took off, to be made again by `resume`."""

    indexes: list[str] = field(default_factory=list)  # their CREATE statements
    triggers: list[str] = field(default_factory=list)
    searched: bool = False  # a search table's trigger is among them
    tables: dict = field(default_factory=dict)  # CREATE statement -> the table it is on

    def split(self, tables: tuple[str, ...]) -> Paused:
        """Move what was taken off `tables` out of this into the Paused returned, for a load
        that has finished writing them to make good while it writes the others (a plain
        value: it may be resumed by another process). The search tables are rebuilt
        together: name all of them, or none."""
        def on(sql: str) -> bool:
            return self.tables.get(sql) in tables

        searched = [sql for sql in self.triggers if "_search_insert" in sql]
        now = {self.tables[sql] for sql in searched if on(sql)}
        later = {self.tables[sql] for sql in searched if not on(sql)}
        if now and later:  # one rebuild refills every search table
            raise ValueError("bulk_load.resume: the search tables are made good together: "
                             "name " + ", ".join(sorted(now | later)))
        part = Paused([sql for sql in self.indexes if on(sql)],
                      [sql for sql in self.triggers if on(sql)], self.searched and bool(now),
                      {sql: table for sql, table in self.tables.items() if on(sql)})
        self.indexes = [sql for sql in self.indexes if not on(sql)]
        self.triggers = [sql for sql in self.triggers if not on(sql)]
        self.searched = self.searched and not now
        self.tables = {sql: table for sql, table in self.tables.items() if not on(sql)}
        return part


    def split_indexes(self, tables: tuple[str, ...]) -> Paused:
        """Move only the indexes taken off `tables` into the Paused returned (their triggers,
        the search tables' among them, stay for a later `split`): for a load that has
        finished writing a table before the others that share its search rebuild."""
        part = Paused([sql for sql in self.indexes if self.tables.get(sql) in tables])
        part.tables = {sql: self.tables[sql] for sql in part.indexes}
        self.indexes = [sql for sql in self.indexes if sql not in part.tables]
        self.tables = {sql: table for sql, table in self.tables.items() if sql not in part.tables}
        return part

def applies(tables: tuple[str, ...]) -> bool:
    """True on SQLite when every one of `tables` is empty (nothing for a rebuilt index to
    find twice, nothing an update could change)."""
    if not is_sqlite():
        return False
    return not any(database.execute_sql(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()
                   for table in tables)


def pause(tables: tuple[str, ...], keep: tuple[str, ...] = ()) -> Paused:
    """Drop the secondary indexes of `tables` (but those named in `keep`: the load itself
    reads them) and the insert triggers a bulk load makes good at the end. Inside the
    caller's transaction."""
    if database.transaction_depth() == 0:
        raise RuntimeError("bulk_load.pause needs the caller's transaction")
    marks = ", ".join("?" for _ in tables)
    indexes = database.execute_sql(
        f"SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
        f"AND sql IS NOT NULL AND tbl_name IN ({marks}) ORDER BY name", list(tables)).fetchall()
    missing = set(keep) - {name for name, _, _ in indexes}
    if missing:  # renamed by a migration: the load would scan where it meant to seek
        raise ValueError(f"bulk_load.pause: no index {', '.join(sorted(missing))} to keep")
    paused = Paused()
    for name, table, sql in indexes:
        if name in keep:
            continue
        database.execute_sql(f'DROP INDEX "{name}"')
        paused.indexes.append(sql)
        paused.tables[sql] = table
    triggers = {f"{table}_search_insert" for table in SEARCHED_TEXT if table in tables}
    if "invoice_line" in tables:
        triggers.add(OVERLAP_TRIGGER)
    if "service" in tables:
        triggers.add(COUNT_TRIGGER)
    for name, table, sql in database.execute_sql(
            f"SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' "
            f"AND name IN ({', '.join('?' for _ in triggers)}) ORDER BY name",
            sorted(triggers)).fetchall():
        database.execute_sql(f'DROP TRIGGER "{name}"')
        paused.triggers.append(sql)
        paused.tables[sql] = table
        paused.searched = paused.searched or name.endswith("_search_insert")
    return paused


def resume(paused: Paused, tables: tuple[str, ...] | None = None) -> None:
    """Check and rebuild what `pause` took off, in the same transaction. Raises
    IntegrityError (a duplicate for a unique index, an overlapping renewal period): the
    caller rolls the whole load back.

    `tables`: only what was taken off these tables (`Paused.split`); the rest stays paused
    for a later call."""
    part = paused if tables is None else paused.split(tables)
    for sql in part.indexes:
        database.execute_sql(sql)
    if any(OVERLAP_TRIGGER in sql for sql in part.triggers):
        _refuse_overlaps()  # read in the order of the renewal index just made
    if part.searched:
        search.rebuild_index()
    if any(COUNT_TRIGGER in sql for sql in part.triggers):
        recount_services()
    for sql in part.triggers:
        database.execute_sql(sql)
    part.indexes, part.triggers, part.searched, part.tables = [], [], False, {}


def _refuse_overlaps() -> None:
    rows = database.execute_sql(_OVERLAPS).fetchall()
    if rows:
        listed = "; ".join(f"line #{line} (invoice #{invoice}, {kind} #{item} from {start}) "
                           f"overlaps line #{previous}"
                           for line, invoice, kind, item, start, previous in rows)
        raise IntegrityError(f"overlapping renewal period: {listed}")
