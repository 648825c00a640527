"""0007: the activity log searched by its text and filtered by admin, action, client and day.

The text of a row is its admin login, action and description; `models.listing.ActivitySearch`
queries exactly this text.

- SQLite: an FTS5 `trigram` table `activity_log_search` over those three columns, kept in
  step by triggers and filled here from the rows already stored. The log grows to tens of
  millions of rows, so the index is lean: no copy of the text (`content='activity_log'`)
  and no positions (`detail=none`, about a fifth of the size and of the cost per insert).
  It finds the rows holding every trigram of the text typed; the text itself is then
  checked on each of them (LIKE), as PostgreSQL rechecks its trigram matches.
- PostgreSQL: a pg_trgm GIN index on `lower(admin_login || ' ' || action || ' ' ||
  description)` (an ordinary index: nothing to keep in step).
- Both: B-tree indexes for the prefixes: `admin:` and `action:` (with the id, so a page of
  one admin's rows, newest first, is read from the index in order), `client:`; `on:`,
  `since:` and `until:` use the index on `at` that 0001 made.

The column list is frozen here on purpose: a later change of what is searched is a new
migration, not an edit of this one.
"""
from peewee import PostgresqlDatabase

COLUMNS = ("admin_login", "action", "description")
INDEXES = {
    "activity_log_admin_login_id": "activity_log (admin_login, id)",
    "activity_log_action_id": "activity_log (action, id)",
    "activity_log_client_id_id": "activity_log (client_id, id)",
}


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _up_postgres(db)
    else:
        _up_sqlite(db)
    for name, target in INDEXES.items():
        db.execute_sql(f"CREATE INDEX {name} ON {target}")


def _up_sqlite(db):
    columns = ", ".join(COLUMNS)
    new = ", ".join(f"new.{column}" for column in COLUMNS)
    old = ", ".join(f"old.{column}" for column in COLUMNS)
    db.execute_sql(f"CREATE VIRTUAL TABLE activity_log_search USING fts5({columns}, "
                   f"content='activity_log', content_rowid='id', tokenize='trigram', "
                   f"detail=none)")
    db.execute_sql(
        f"CREATE TRIGGER activity_log_search_insert AFTER INSERT ON activity_log BEGIN "
        f"INSERT INTO activity_log_search (rowid, {columns}) VALUES (new.id, {new}); END")
    # An external-content table forgets a row by being told the text it indexed.
    db.execute_sql(
        f"CREATE TRIGGER activity_log_search_update AFTER UPDATE OF {columns} ON activity_log "
        f"BEGIN INSERT INTO activity_log_search (activity_log_search, rowid, {columns}) "
        f"VALUES ('delete', old.id, {old}); "
        f"INSERT INTO activity_log_search (rowid, {columns}) VALUES (new.id, {new}); END")
    db.execute_sql(
        f"CREATE TRIGGER activity_log_search_delete AFTER DELETE ON activity_log BEGIN "
        f"INSERT INTO activity_log_search (activity_log_search, rowid, {columns}) "
        f"VALUES ('delete', old.id, {old}); END")
    db.execute_sql("INSERT INTO activity_log_search (activity_log_search) VALUES ('rebuild')")


def _up_postgres(db):
    db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    text = " || ' ' || ".join(COLUMNS)
    db.execute_sql(f"CREATE INDEX activity_log_search_trgm ON activity_log "
                   f"USING gin (lower({text}) gin_trgm_ops)")


def down(migrator, db):
    for name in INDEXES:
        db.execute_sql(f"DROP INDEX {name}")
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("DROP INDEX activity_log_search_trgm")
    else:
        for event in ("insert", "update", "delete"):
            db.execute_sql(f"DROP TRIGGER activity_log_search_{event}")
        db.execute_sql("DROP TABLE activity_log_search")
