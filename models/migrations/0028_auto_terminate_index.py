"""0028: the daily run finds the services to terminate at the end of their cycle from an index.

`cancellations.due_auto_terminations` asks for the services an admin ticked "auto-terminate
at end of cycle" for (a few thousand of a million) whose due date has come. Without an index
on the tick, both engines read every active and suspended service due by today: 140 ms on
PostgreSQL and 240-440 ms on SQLite per page of the normal day at a million services, read
twice a run. Through (auto_terminate_end_of_cycle, id) it is 5 ms.
"""


def up(migrator, db):
    db.execute_sql('CREATE INDEX "service_auto_terminate_id" '
                   'ON "service" ("auto_terminate_end_of_cycle", "id")')


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "service_auto_terminate_id"')
