"""0004: trigram search over the identifying text of clients, services and domains.

The text of a row is its searched columns joined by spaces (client: names, company, email,
phone; service: domain, username, dedicated ip; domain: name). `models/search.py` queries
exactly this text.

- SQLite: one FTS5 `trigram` table per searched table (`client_search`, ...), its rowid
  the row's id, kept in step by triggers and filled here from the rows already stored.
- PostgreSQL: a pg_trgm GIN index on `lower(text)` of each table (an ordinary index:
  nothing to keep in step). Both engines get a B-tree on `lower(email)` for 1-2 character
  prefixes.

The column lists are frozen here on purpose: a later change of what is searched is a new
migration, not an edit of this one.
"""
from peewee import PostgresqlDatabase

SEARCHED = {
    "client": ("first_name", "last_name", "company", "email", "phone"),
    "service": ("domain", "username", "dedicated_ip"),
    "domain": ("name",),
}


def text_of(columns, row: str = "") -> str:
    """`first_name || ' ' || last_name ...`, each column read from `row` (e.g. "new.")."""
    return " || ' ' || ".join(f"{row}{column}" for column in columns)


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _up_postgres(db)
    else:
        _up_sqlite(db)
    db.execute_sql('CREATE INDEX client_email_lower ON client (lower(email))')


def _up_sqlite(db):
    for table, columns in SEARCHED.items():
        index = f"{table}_search"
        db.execute_sql(f"CREATE VIRTUAL TABLE {index} USING fts5(body, tokenize='trigram')")
        db.execute_sql(
            f"CREATE TRIGGER {index}_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {index} (rowid, body) VALUES (new.id, {text_of(columns, 'new.')}); "
            f"END")
        # Only a change of a searched column touches the index (the daily run's updates
        # of due dates and statuses do not).
        db.execute_sql(
            f"CREATE TRIGGER {index}_update AFTER UPDATE OF {', '.join(columns)} ON {table} "
            f"BEGIN UPDATE {index} SET body = {text_of(columns, 'new.')} "
            f"WHERE rowid = new.id; END")
        db.execute_sql(
            f"CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN "
            f"DELETE FROM {index} WHERE rowid = old.id; END")
        db.execute_sql(
            f"INSERT INTO {index} (rowid, body) SELECT id, {text_of(columns)} FROM {table}")
        db.execute_sql(f"INSERT INTO {index} ({index}) VALUES ('optimize')")  # one segment


def _up_postgres(db):
    db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, columns in SEARCHED.items():
        db.execute_sql(f'CREATE INDEX {table}_search_trgm ON "{table}" '
                       f"USING gin (lower({text_of(columns)}) gin_trgm_ops)")


def down(migrator, db):
    db.execute_sql("DROP INDEX client_email_lower")
    for table in SEARCHED:
        if isinstance(db, PostgresqlDatabase):
            db.execute_sql(f"DROP INDEX {table}_search_trgm")
        else:
            for event in ("insert", "update", "delete"):
                db.execute_sql(f"DROP TRIGGER {table}_search_{event}")
            db.execute_sql(f"DROP TABLE {table}_search")
