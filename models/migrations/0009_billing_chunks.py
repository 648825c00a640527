"""0009: a daily run's invoicing split into chunks that several workers claim."""
from peewee import *


def up(migrator, db):
    class CronRun(Model):
        class Meta:
            database = db
            table_name = 'cron_run'

    class BillingChunk(Model):
        run = ForeignKeyField(CronRun, on_delete='CASCADE')
        client_ids = TextField()
        status = CharField(max_length=20, default='pending',
                           constraints=[Check("status IN ('pending', 'done', 'failed')")])
        worker = CharField(max_length=200, default='')
        invoices = IntegerField(default=0)
        lines = IntegerField(default=0)
        amount = BigIntegerField(default=0)
        failures = TextField(default='[]')

        class Meta:
            database = db
            table_name = 'billing_chunk'
            indexes = ((('run', 'status', 'id'), False),)

    db.create_tables([BillingChunk])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('billing_chunk'))
