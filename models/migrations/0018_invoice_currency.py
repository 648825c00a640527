"""0018: each invoice keeps the currency it was written in (`invoice.currency`), so changing
the `currency` setting later never relabels past invoices.

Added with a constant default, so neither engine rewrites the table. Existing invoices get
the installation's currency from `hostdesk init`, which applies this migration with the
configuration at hand (`models.invoicing.adopt_currency`); an invoice left blank reads in
the current setting until then.
"""


def up(migrator, db):
    db.execute_sql("ALTER TABLE invoice ADD COLUMN currency VARCHAR(3) NOT NULL DEFAULT ''")


def down(migrator, db):
    migrator.migrate(migrator.drop_column("invoice", "currency"))
