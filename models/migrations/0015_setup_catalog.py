"""0015: a host can start from zero (issue 15).

- `payment_method`: the managed list of payment methods, seeded with every method the
  existing data uses (and the three the order form has always suggested), so no existing
  order, service or invoice points at a method the list lacks.
- `client`: a second address line, region and tax id.
- `promotion.once_per_client`; `tld.version` (TLD prices are edited with optimistic locking).
- `tld_price`: register/transfer/renew prices per year count (1-10); a TLD without rows
  keeps its one price per year of `tld` (N years cost N x that price).
"""
from peewee import *
from peewee import PostgresqlDatabase

DEFAULT_METHODS = ("banktransfer", "card", "paypal")
USED_BY = (("client", "default_payment_method"), ("service", "payment_method"),
           ("domain", "payment_method"), ("invoice", "payment_method"),
           ('"order"', "payment_method"))


def up(migrator, db):
    class PaymentMethod(Model):
        name = CharField(max_length=50, unique=True)
        enabled = BooleanField(default=True)
        sort_order = IntegerField(default=0)
        version = IntegerField(default=1)

        class Meta:
            database = db
            table_name = 'payment_method'

    class Tld(Model):
        class Meta:
            database = db
            table_name = 'tld'

    class TldPrice(Model):
        tld = ForeignKeyField(Tld, on_delete='CASCADE', index=False)
        years = IntegerField(constraints=[Check('years BETWEEN 1 AND 10')])
        register_price = BigIntegerField(null=True, constraints=[Check('register_price >= 0')])
        transfer_price = BigIntegerField(null=True, constraints=[Check('transfer_price >= 0')])
        renew_price = BigIntegerField(null=True, constraints=[Check('renew_price >= 0')])

        class Meta:
            database = db
            table_name = 'tld_price'
            indexes = ((('tld', 'years'), True),)

    db.create_tables([PaymentMethod, TldPrice])
    used = set(DEFAULT_METHODS)
    for table, column in USED_BY:
        used.update(row[0] for row in db.execute_sql(
            f"SELECT DISTINCT {column} FROM {table} WHERE {column} <> ''").fetchall())
    for order, name in enumerate(sorted(used, key=lambda n: (n not in DEFAULT_METHODS, n))):
        PaymentMethod.create(name=name[:50], sort_order=order)
    # Plain ADD COLUMN with a constant default: neither engine rewrites the table, and
    # SQLite keeps the client table's search triggers (0004), which a table rebuild drops.
    flag = ("BOOLEAN NOT NULL DEFAULT FALSE" if isinstance(db, PostgresqlDatabase)
            else "INTEGER NOT NULL DEFAULT 0")
    for table, column, kind in (
            ("client", "address2", "VARCHAR(300) NOT NULL DEFAULT ''"),
            ("client", "region", "VARCHAR(100) NOT NULL DEFAULT ''"),
            ("client", "tax_id", "VARCHAR(50) NOT NULL DEFAULT ''"),
            ("promotion", "once_per_client", flag),
            ("tld", "version", "INTEGER NOT NULL DEFAULT 1")):
        db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {column} {kind}')


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('client', 'address2'),
        migrator.drop_column('client', 'region'),
        migrator.drop_column('client', 'tax_id'),
        migrator.drop_column('promotion', 'once_per_client'),
        migrator.drop_column('tld', 'version'),
        migrator.drop_table('tld_price'),
        migrator.drop_table('payment_method'),
    )
