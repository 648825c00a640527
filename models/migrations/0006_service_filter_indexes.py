"""0006: the services list filtered by server or by billing cycle, newest first, uses an index."""
from peewee import *

INDEXES = {
    "service_server_id_id": "service (server_id, id)",
    "service_billing_cycle_id": "service (billing_cycle, id)",
}


def up(migrator, db):
    for name, target in INDEXES.items():
        db.execute_sql(f"CREATE INDEX {name} ON {target}")


def down(migrator, db):
    for name in INDEXES:
        db.execute_sql(f"DROP INDEX {name}")
