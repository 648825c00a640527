"""0017: the import map: (source system, table, id) -> hostdesk row, so a second import
updates what changed and never adds a row twice."""
from peewee import *


def up(migrator, db):
    class ImportMap(Model):
        source = CharField(max_length=20)
        source_table = CharField(max_length=40)
        source_id = CharField(max_length=60)
        target_id = IntegerField()
        digest = CharField(max_length=32, default='')

        class Meta:
            database = db
            table_name = 'import_map'
            indexes = ((('source', 'source_table', 'source_id'), True),)

    db.create_tables([ImportMap])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('import_map'))
