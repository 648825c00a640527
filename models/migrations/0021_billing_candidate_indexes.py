"""0021: the daily run reads each chunk's due items through (client, next due date).

The run reads a chunk of clients' services and domains and keeps those due by the horizon.
Through the client index alone it read every service of those clients and tested the due
date on the row: about three rows read for each one billed on a normal day. With the due date
beside the client in the index, only the due entries lead to a row.

`domain (client_id)` is the head of the new domain index, so it goes (an index that only
repeats another's head costs writes, migration 0010). `service (client_id, id)` stays: a
client's services are listed in id order from it.
"""


def up(migrator, db):
    db.execute_sql('CREATE INDEX "service_client_id_next_due_date" '
                   'ON "service" ("client_id", "next_due_date")')
    db.execute_sql('CREATE INDEX "domain_client_id_next_due_date" '
                   'ON "domain" ("client_id", "next_due_date")')
    db.execute_sql('DROP INDEX IF EXISTS "domain_client_id"')


def down(migrator, db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS "domain_client_id" ON "domain" ("client_id")')
    db.execute_sql('DROP INDEX IF EXISTS "domain_client_id_next_due_date"')
    db.execute_sql('DROP INDEX IF EXISTS "service_client_id_next_due_date"')
