"""0027: SQLite lists the services of one status, newest first, from an index.

A status filter's first page asks for the newest 50 services of that status. SQLite found
them through (status, next_due_date, id) and sorted every one: 150 ms for the 860,000
active services of a million. With (status, id) it reads the 50 in order. PostgreSQL's
planner walks the primary key backwards for a common status and sorts the few rows of a
rare one (1-5 ms), so it gets no index to keep up.
"""
from peewee import SqliteDatabase


def up(migrator, db):
    if isinstance(db, SqliteDatabase):
        db.execute_sql('CREATE INDEX "service_status_id" ON "service" ("status", "id")')


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        db.execute_sql('DROP INDEX IF EXISTS "service_status_id"')
