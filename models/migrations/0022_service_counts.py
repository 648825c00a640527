"""0022: how many services there are of each status, kept by the database.

The services list shows its total the moment it opens; counting a million services took
60-170 ms on PostgreSQL and 15-60 ms on SQLite every time. `service_count` holds the count
of each status, kept exact by triggers on `service`, and is summed on read
(`models.listing.service_totals`).

- SQLite: one row per status, moved by row triggers (SQLite has one writer at a time, so
  updating a shared row costs no concurrency).
- PostgreSQL: writers only ever add rows (status, +n or -n), never update one, so the
  daily run's parallel workers never wait for each other on a counter row: statement
  triggers with transition tables add one row per status a statement touched, and a row
  trigger adds two rows for a status change (it fires only when the status changes, not on
  the daily run's due-date updates). `models.listing.fold_service_counts` folds the rows
  into one per status now and then.

Filled here from the rows already stored (a GROUP BY over the table: under a second at a
million services), with writers held off on PostgreSQL so the fill and the triggers meet.
"""
from peewee import PostgresqlDatabase

FILL = "INSERT INTO service_count (status, n) SELECT status, COUNT(*) FROM service GROUP BY status"


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _up_postgres(db)
    else:
        _up_sqlite(db)


def _up_sqlite(db):
    db.execute_sql("CREATE TABLE service_count (status VARCHAR(20) NOT NULL PRIMARY KEY, "
                   "n INTEGER NOT NULL)")
    db.execute_sql(
        "CREATE TRIGGER service_count_insert AFTER INSERT ON service BEGIN "
        "INSERT INTO service_count (status, n) VALUES (new.status, 1) "
        "ON CONFLICT (status) DO UPDATE SET n = n + 1; END")
    db.execute_sql(
        "CREATE TRIGGER service_count_delete AFTER DELETE ON service BEGIN "
        "UPDATE service_count SET n = n - 1 WHERE status = old.status; END")
    db.execute_sql(
        "CREATE TRIGGER service_count_update AFTER UPDATE OF status ON service "
        "WHEN old.status IS NOT new.status BEGIN "
        "UPDATE service_count SET n = n - 1 WHERE status = old.status; "
        "INSERT INTO service_count (status, n) VALUES (new.status, 1) "
        "ON CONFLICT (status) DO UPDATE SET n = n + 1; END")
    db.execute_sql(FILL)


def _up_postgres(db):
    db.execute_sql("CREATE TABLE service_count (status VARCHAR(20) NOT NULL, n BIGINT NOT NULL)")
    db.execute_sql("""
        CREATE FUNCTION service_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO service_count (status, n)
            SELECT status, COUNT(*) FROM added GROUP BY status;
            RETURN NULL;
        END $$""")
    db.execute_sql("""
        CREATE FUNCTION service_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO service_count (status, n)
            SELECT status, -COUNT(*) FROM removed GROUP BY status;
            RETURN NULL;
        END $$""")
    db.execute_sql("""
        CREATE FUNCTION service_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO service_count (status, n) VALUES (OLD.status, -1), (NEW.status, 1);
            RETURN NULL;
        END $$""")
    db.execute_sql("CREATE TRIGGER service_count_insert AFTER INSERT ON service "
                   "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
                   "EXECUTE FUNCTION service_count_added()")
    db.execute_sql("CREATE TRIGGER service_count_delete AFTER DELETE ON service "
                   "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
                   "EXECUTE FUNCTION service_count_removed()")
    db.execute_sql("CREATE TRIGGER service_count_update AFTER UPDATE OF status ON service "
                   "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) "
                   "EXECUTE FUNCTION service_count_moved()")
    # Writers wait until the fill is done: none is counted twice or missed.
    db.execute_sql("LOCK TABLE service IN SHARE MODE")
    db.execute_sql(FILL)


def down(migrator, db):
    for trigger in ("insert", "delete", "update"):
        db.execute_sql(f"DROP TRIGGER IF EXISTS service_count_{trigger}"
                       + (" ON service" if isinstance(db, PostgresqlDatabase) else ""))
    if isinstance(db, PostgresqlDatabase):
        for function in ("added", "removed", "moved"):
            db.execute_sql(f"DROP FUNCTION IF EXISTS service_count_{function}()")
    db.execute_sql("DROP TABLE IF EXISTS service_count")
