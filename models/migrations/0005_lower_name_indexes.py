"""0005: case-insensitive prefix search on usernames and client names uses an index."""
from peewee import *

INDEXES = {
    "service_username_lower": "service (lower(username))",
    "client_first_name_lower": "client (lower(first_name))",
    "client_last_name_lower": "client (lower(last_name))",
    "client_company_lower": "client (lower(company))",
}


def up(migrator, db):
    for name, target in INDEXES.items():
        db.execute_sql(f"CREATE INDEX {name} ON {target}")


def down(migrator, db):
    for name in INDEXES:
        db.execute_sql(f"DROP INDEX {name}")
