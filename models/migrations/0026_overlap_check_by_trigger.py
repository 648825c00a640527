"""0026: PostgreSQL judges overlapping renewal periods with a statement trigger (rules §4).

Migration 0011 refused two live renewal lines of one item whose periods overlap with a GiST
exclusion constraint. Inserting into that GiST index cost about 100 µs of the server's CPU
per line: 4-6 s of a normal day's 8-10 s of writes at a million services. The same rule is
now one check per statement, through the B-tree index that already refuses a second live
line for the same period start (`invoice_line_one_live_renewal`):

- the rows of the items the statement bills are locked first (`FOR NO KEY UPDATE`, in id
  order), so a concurrent writer of the same item waits for this transaction to end and then,
  in its own check, sees its lines (each statement of the function takes a new snapshot under
  READ COMMITTED). Writers of different items never wait for each other, so the daily run's
  parallel workers are not serialised;
- then every new or changed live renewal line is looked up against the item's other live
  lines: one index probe each.

SQLite keeps 0011's row triggers (one writer at a time: no lock is needed).
"""
from peewee import PostgresqlDatabase

MESSAGE = "overlapping renewal period: a live renewal line of this item already covers part of it"

ITEM_TABLES = {"service": "service", "addon": "service_addon", "domain": "domain"}

_LOCK_ITEMS = """
    PERFORM 1 FROM {table} WHERE id IN (
        SELECT item_id FROM changed_lines
        WHERE item_type = '{item_type}' AND kind = 'renewal' AND NOT cancelled)
    ORDER BY id FOR NO KEY UPDATE;"""

FUNCTION = """
CREATE FUNCTION invoice_line_refuse_overlaps() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    clash RECORD;
BEGIN
    {locks}
    SELECT n.id, n.item_type, n.item_id, n.period_start, other.id AS other_id INTO clash
    FROM changed_lines n CROSS JOIN LATERAL (
        SELECT l.id FROM invoice_line l
        WHERE l.item_type = n.item_type AND l.item_id = n.item_id
          AND l.kind = 'renewal' AND NOT l.cancelled AND l.id <> n.id
          AND l.period_start < COALESCE(n.period_end, 'infinity')
          AND COALESCE(l.period_end, 'infinity') > n.period_start
        LIMIT 1) other
    WHERE n.kind = 'renewal' AND NOT n.cancelled AND n.item_id IS NOT NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '{message}'
            USING ERRCODE = 'exclusion_violation',
                  DETAIL = 'line #' || clash.id || ' (' || clash.item_type || ' #'
                           || clash.item_id || ' from ' || clash.period_start
                           || ') overlaps line #' || clash.other_id;
    END IF;
    RETURN NULL;
END $$"""

TRIGGERS = {"invoice_line_no_overlap_insert": "INSERT", "invoice_line_no_overlap_update": "UPDATE"}

CONSTRAINT = ("ALTER TABLE invoice_line ADD CONSTRAINT invoice_line_no_overlapping_renewals "
              "EXCLUDE USING gist (item_type WITH =, item_id WITH =, "
              "daterange(period_start, period_end) WITH &&) "
              "WHERE (kind = 'renewal' AND NOT cancelled)")


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    locks = "".join(_LOCK_ITEMS.format(table=table, item_type=item_type)
                    for item_type, table in ITEM_TABLES.items())
    db.execute_sql(FUNCTION.format(locks=locks, message=MESSAGE))
    for name, event in TRIGGERS.items():
        db.execute_sql(f"CREATE TRIGGER {name} AFTER {event} ON invoice_line "
                       f"REFERENCING NEW TABLE AS changed_lines FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION invoice_line_refuse_overlaps()")
    db.execute_sql("ALTER TABLE invoice_line "
                   "DROP CONSTRAINT IF EXISTS invoice_line_no_overlapping_renewals")


def down(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    for name in TRIGGERS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name} ON invoice_line")
    db.execute_sql("DROP FUNCTION IF EXISTS invoice_line_refuse_overlaps()")
    db.execute_sql(CONSTRAINT)
