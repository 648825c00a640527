"""0003: find an invoice's reminders in the outbox without a scan."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_index(
        'email_outbox', ('related_type', 'related_id', 'template'), unique=False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index(
        'email_outbox', 'email_outbox_related_type_related_id_template'))
