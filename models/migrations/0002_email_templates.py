"""0002: admin-editable email templates."""
from peewee import *


def up(migrator, db):
    class EmailTemplate(Model):
        name = CharField(max_length=100, unique=True)
        subject = CharField(max_length=500)
        body = TextField()
        version = IntegerField(default=1)

        class Meta:
            database = db
            table_name = 'email_template'

    db.create_tables([EmailTemplate])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('email_template'))
