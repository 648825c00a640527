"""0011: no two live renewal lines of one item may overlap (rules §4).

The unique index of 0001 refuses a second line for the same period start only; a period moved
by a changed next due date could still cover days already billed. Now the database judges the
overlap of [period_start, period_end) itself:

- PostgreSQL: an exclusion constraint over the period's date range (btree_gist provides the
  equality of item type and id inside the GiST index).
- SQLite: triggers on insert and on update. Live renewal lines of an item never overlap, so
  only the live line starting last before the new period's end can overlap it: one step of
  the (item_type, item_id, period_start) index, however long the item's history.
"""
from peewee import *

MESSAGE = "overlapping renewal period: a live renewal line of this item already covers part of it"

_LAST_BEFORE_END = """
    SELECT COALESCE(l.period_end, '9999-12-31') FROM invoice_line l
    WHERE l.item_type = NEW.item_type AND l.item_id = NEW.item_id
      AND l.kind = 'renewal' AND NOT l.cancelled
      AND l.period_start < COALESCE(NEW.period_end, '9999-12-31'){other}
    ORDER BY l.period_start DESC LIMIT 1"""

SQLITE_TRIGGERS = {
    "invoice_line_no_overlap_insert":
        "BEFORE INSERT ON invoice_line",
    "invoice_line_no_overlap_update":
        "BEFORE UPDATE OF kind, item_type, item_id, period_start, period_end, cancelled "
        "ON invoice_line",
}


# Each live renewal line with the end of the item's previous live line, in period order.
OVERLAPS = """
SELECT id, invoice_id, item_type, item_id, period_start, previous_id FROM (
    SELECT id, invoice_id, item_type, item_id, period_start,
           LAG(id) OVER w AS previous_id, LAG(period_end) OVER w AS previous_end
    FROM invoice_line WHERE kind = 'renewal' AND NOT cancelled AND item_id IS NOT NULL
    WINDOW w AS (PARTITION BY item_type, item_id ORDER BY period_start, id)) AS ordered
WHERE previous_end IS NULL AND previous_id IS NOT NULL OR previous_end > period_start
ORDER BY id LIMIT 20"""


def _refuse_existing_overlaps(db):
    """Periods billed twice before this check existed are named, not silently kept or
    cancelled: an admin decides which line to cancel, then migrates again."""
    rows = db.execute_sql(OVERLAPS).fetchall()
    if rows:
        from hostdesk.models.errors import RuleViolation

        listed = "; ".join(f"line #{line_id} (invoice #{invoice_id}, {item_type} #{item_id} "
                           f"from {start}) overlaps line #{previous}"
                           for line_id, invoice_id, item_type, item_id, start, previous in rows)
        raise RuleViolation("live renewal lines overlap, so the database cannot refuse overlaps "
                            f"yet: {listed}. Cancel one line of each pair, then migrate again.")


def up(migrator, db):
    _refuse_existing_overlaps(db)
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("CREATE EXTENSION IF NOT EXISTS btree_gist")
        db.execute_sql(
            "ALTER TABLE invoice_line ADD CONSTRAINT invoice_line_no_overlapping_renewals "
            "EXCLUDE USING gist (item_type WITH =, item_id WITH =, "
            "daterange(period_start, period_end) WITH &&) "
            "WHERE (kind = 'renewal' AND NOT cancelled)")
        return
    for name, event in SQLITE_TRIGGERS.items():
        other = "\n      AND l.id <> NEW.id" if "UPDATE" in event else ""
        db.execute_sql(
            f"CREATE TRIGGER {name} {event} "
            f"WHEN NEW.kind = 'renewal' AND NOT NEW.cancelled AND NEW.item_id IS NOT NULL "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}') "
            f"WHERE ({_LAST_BEFORE_END.format(other=other)}) > NEW.period_start; END")


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("ALTER TABLE invoice_line "
                       "DROP CONSTRAINT IF EXISTS invoice_line_no_overlapping_renewals")
        return
    for name in SQLITE_TRIGGERS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
