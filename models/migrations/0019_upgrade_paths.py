"""0019: upgrade paths of a product (which products and cycles a service may move to, and
whether the client may do it itself through the headless interface), and a payment's
gateway fee."""
from peewee import *


def up(migrator, db):
    class Product(Model):
        class Meta:
            database = db
            table_name = 'product'

    class ProductUpgradePath(Model):
        product = ForeignKeyField(Product, on_delete='CASCADE', index=False)
        target = ForeignKeyField(Product, on_delete='CASCADE', backref='+')
        cycles = CharField(max_length=200, default='')
        client_may_upgrade = BooleanField(default=False)
        version = IntegerField(default=1)

        class Meta:
            database = db
            table_name = 'product_upgrade_path'
            indexes = ((('product', 'target'), True),)

    db.create_tables([ProductUpgradePath])
    # Guarded: another change may bring the same column (a WHMCS import keeps its fees).
    if 'fee' not in {column.name for column in db.get_columns('payment')}:
        db.execute_sql('ALTER TABLE payment ADD COLUMN fee BIGINT NOT NULL DEFAULT 0 '
                       'CHECK (fee >= 0)')


def down(migrator, db):
    migrator.migrate(migrator.drop_table('product_upgrade_path'))
    migrator.migrate(migrator.drop_column('payment', 'fee'))
