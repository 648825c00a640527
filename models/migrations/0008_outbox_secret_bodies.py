"""0008: an outbox body that carries a service password is stored encrypted (`body_encrypted`).

Added with a constant default, so neither engine rewrites the table: the outbox keeps every
email ever sent and may hold millions of rows.
"""
from peewee import PostgresqlDatabase


def up(migrator, db):
    column = ("BOOLEAN NOT NULL DEFAULT FALSE" if isinstance(db, PostgresqlDatabase)
              else "INTEGER NOT NULL DEFAULT 0")
    db.execute_sql(f"ALTER TABLE email_outbox ADD COLUMN body_encrypted {column}")


def down(migrator, db):
    migrator.migrate(migrator.drop_column('email_outbox', 'body_encrypted'))
