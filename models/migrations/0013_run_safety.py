"""0013: what the daily run needs to stay safe.

- `held_termination`: terminations a run held back because there were too many (the
  termination guard, rules §11), waiting for an admin to confirm them. One row per run and
  service, so a confirmation can never terminate a service twice.
- `run_lock.process_start` / `run_lock.db_session`: what proves the lock's holder is gone
  (its process on this host, its PostgreSQL session from any host), so a lock is never taken
  over from a run that is merely slow.
- `email_outbox.render_failed`: an email whose template could not be rendered; it is listed
  as failed with the reason and never sent.

Columns are added with constant defaults, so neither engine rewrites a table.
"""
from peewee import *

from hostdesk.models.fields import UTCDateTimeField


def up(migrator, db):
    class CronRun(Model):
        class Meta:
            database = db
            table_name = 'cron_run'

    class Service(Model):
        class Meta:
            database = db
            table_name = 'service'

    class HeldTermination(Model):
        run = ForeignKeyField(CronRun, on_delete='CASCADE', index=False)  # (run, service) leads
        service = ForeignKeyField(Service, on_delete='CASCADE')
        kind = CharField(max_length=20, constraints=[Check("kind IN ('overdue', 'fixed_term')")])
        status = CharField(max_length=20, default='held', constraints=[
            Check("status IN ('held', 'confirmed', 'done', 'failed', 'skipped')")])
        detail = TextField(default='')
        confirmed_by = CharField(max_length=100, default='')
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'held_termination'
            indexes = ((('run', 'service'), True), (('status', 'run'), False))

    db.create_tables([HeldTermination])
    postgres = isinstance(db, PostgresqlDatabase)
    flag = "BOOLEAN NOT NULL DEFAULT FALSE" if postgres else "INTEGER NOT NULL DEFAULT 0"
    db.execute_sql(f"ALTER TABLE email_outbox ADD COLUMN render_failed {flag}")
    db.execute_sql("ALTER TABLE run_lock ADD COLUMN process_start VARCHAR(50) NOT NULL DEFAULT ''")
    db.execute_sql("ALTER TABLE run_lock ADD COLUMN db_session INTEGER")


def down(migrator, db):
    migrator.migrate(migrator.drop_column('email_outbox', 'render_failed'),
                     migrator.drop_column('run_lock', 'process_start'),
                     migrator.drop_column('run_lock', 'db_session'),
                     migrator.drop_table('held_termination'))
