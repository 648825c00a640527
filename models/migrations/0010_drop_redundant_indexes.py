"""0010: drop the single-column foreign-key indexes that a composite index already leads with
(for example `invoice (client_id)` beside `invoice (client_id, status, id)`).

Each cost a write per new row (for an invoice, in a random page of the index) and space, and
served no query the composite index does not serve.
"""
from peewee import *

REDUNDANT = {
    "invoice_client_id": 'invoice ("client_id")',
    "invoiceline_invoice_id": 'invoice_line ("invoice_id")',
    "service_client_id": 'service ("client_id")',
    "service_product_id": 'service ("product_id")',
    "service_server_id": 'service ("server_id")',
    "serviceconfigoption_service_id": 'service_config_option ("service_id")',
    "productprice_product_id": 'product_price ("product_id")',
    "configoptionprice_choice_id": 'config_option_price ("choice_id")',
    "catalogaddonprice_addon_id": 'catalog_addon_price ("addon_id")',
    "catalogaddonproduct_addon_id": 'catalog_addon_product ("addon_id")',
    "promotionproduct_promotion_id": 'promotion_product ("promotion_id")',
    "billingchunk_run_id": 'billing_chunk ("run_id")',
}


def up(migrator, db):
    for name in REDUNDANT:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


def down(migrator, db):
    for name, target in REDUNDANT.items():
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON {target}')
