"""0023: a compact import map. At 100,000 WHMCS services the map holds ~780,000 rows, and
its text columns ("whmcs", "tblinvoiceitems", a 32-character hex digest on every row) plus
their unique index made it a third of a first import's database.

- `import_table`: each (source system, source table) once, numbered;
- `import_map`: (table number, source id) -> target id and the values' digest (12 bytes),
  unique. Not a WITHOUT ROWID table keyed by them: a first import's ids come in number
  order, which is not their order as text, and inserting them all over such a table cost
  more than appending rows and building the unique index once (`bulk_load`).

The rows already mapped are carried over (the hex digests as their bytes), so a delta run
after the upgrade still finds every record and leaves the unchanged ones alone.
"""
from peewee import PostgresqlDatabase

CHUNK = 5000


def up(migrator, db):
    postgres = isinstance(db, PostgresqlDatabase)
    blob = "BYTEA" if postgres else "BLOB"
    db.execute_sql(
        "CREATE TABLE import_table ("
        + ("id SERIAL PRIMARY KEY" if postgres else "id INTEGER NOT NULL PRIMARY KEY")
        + ", source VARCHAR(20) NOT NULL, name VARCHAR(40) NOT NULL)")
    db.execute_sql("CREATE UNIQUE INDEX import_table_source_name ON import_table (source, name)")
    db.execute_sql(
        "CREATE TABLE import_map_compact ("
        + ("id SERIAL PRIMARY KEY" if postgres else "id INTEGER NOT NULL PRIMARY KEY")
        # no REFERENCES: checking it cost each of a first import's map rows a look-up
        + ", table_id INTEGER NOT NULL, "
        "source_id VARCHAR(60) NOT NULL, target_id INTEGER NOT NULL, "
        f"digest {blob} NOT NULL)")
    db.execute_sql("INSERT INTO import_table (source, name) SELECT DISTINCT source, source_table "
                   "FROM import_map ORDER BY source, source_table")
    mark = "%s" if postgres else "?"
    rows = db.execute_sql(
        "SELECT t.id, m.source_id, m.target_id, m.digest FROM import_map m "
        "JOIN import_table t ON t.source = m.source AND t.name = m.source_table "
        "ORDER BY t.id, m.source_id").fetchall()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        values = ", ".join([f"({mark}, {mark}, {mark}, {mark})"] * len(chunk))
        db.execute_sql("INSERT INTO import_map_compact (table_id, source_id, target_id, digest) "
                       f"VALUES {values}",
                       [x for table, source_id, target, digest in chunk
                        for x in (table, source_id, target, _digest_bytes(digest))])
    db.execute_sql("DROP TABLE import_map")
    db.execute_sql("ALTER TABLE import_map_compact RENAME TO import_map")
    db.execute_sql('CREATE UNIQUE INDEX "importmap_table_id_source_id" '
                   'ON "import_map" ("table_id", "source_id")')


def _digest_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text or "")
    except ValueError:  # not a digest this importer wrote: the row is compared as changed
        return b""


def down(migrator, db):
    postgres = isinstance(db, PostgresqlDatabase)
    db.execute_sql(
        "CREATE TABLE import_map_wide ("
        + ("id SERIAL PRIMARY KEY" if postgres else "id INTEGER NOT NULL PRIMARY KEY")
        + ", source VARCHAR(20) NOT NULL, source_table VARCHAR(40) NOT NULL, "
        "source_id VARCHAR(60) NOT NULL, target_id INTEGER NOT NULL, "
        "digest VARCHAR(32) NOT NULL DEFAULT '')")
    digest_hex = "encode(m.digest, 'hex')" if postgres else "lower(hex(m.digest))"
    db.execute_sql("INSERT INTO import_map_wide (source, source_table, source_id, target_id, digest) "
                   f"SELECT t.source, t.name, m.source_id, m.target_id, {digest_hex} "
                   "FROM import_map m JOIN import_table t ON t.id = m.table_id")
    db.execute_sql("DROP TABLE import_map")
    db.execute_sql("DROP TABLE import_table")
    db.execute_sql("ALTER TABLE import_map_wide RENAME TO import_map")
    db.execute_sql('CREATE UNIQUE INDEX "importmap_source_source_table_source_id" '
                   'ON "import_map" ("source", "source_table", "source_id")')
