"""0029: one index finds an item's invoice lines and refuses a second live renewal line.

Every line was written into two indexes on (item_type, item_id, period_start): the plain one
of 0001 (every line) and the unique partial one (live renewal lines only). The daily run
bills items in client order, so both took each new renewal line in a random page: at a
million services most of the run's time went into reading and writing those pages.

Now one unique index on (item_type, item_id, period_start, live) covers every line, where
`live` is 0 for a live renewal line and NULL for any other line. A unique index tells NULLs
apart, so it still refuses a second live renewal line of an item for the same period start
(rules §4) and lets any number of cancelled or other lines share it. Every lookup by item
keeps using the leading columns, the overlap triggers of 0011/0026 among them.
"""

LIVE = "(CASE WHEN kind = 'renewal' AND NOT cancelled THEN 0 END)"
INDEX = ('CREATE UNIQUE INDEX "invoice_line_item" ON "invoice_line" '
         f'("item_type", "item_id", "period_start", {LIVE})')


def up(migrator, db):
    db.execute_sql(INDEX)
    db.execute_sql('DROP INDEX IF EXISTS "invoice_line_one_live_renewal"')
    db.execute_sql('DROP INDEX IF EXISTS "invoiceline_item_type_item_id_period_start"')


def down(migrator, db):
    db.execute_sql('CREATE INDEX "invoiceline_item_type_item_id_period_start" '
                   'ON "invoice_line" ("item_type", "item_id", "period_start")')
    db.execute_sql('CREATE UNIQUE INDEX "invoice_line_one_live_renewal" ON "invoice_line" '
                   "(item_type, item_id, period_start) WHERE kind = 'renewal' AND NOT cancelled")
    db.execute_sql('DROP INDEX IF EXISTS "invoice_line_item"')
