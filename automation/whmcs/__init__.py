"""`hostdesk import whmcs`: move a WHMCS 8 host to hostdesk, reconciled to the cent.

`import_whmcs` reads the WHMCS database over a read-only connection and writes, in
dependency order and batched transactions, every record the daily run needs; a second run
updates what changed and adds what is new (the import map), never a row twice.

The first import into an empty hostdesk (SQLite) is one transaction, all or nothing, loaded in
bulk (`hostdesk.models.bulk_load`: indexes, search and overlap checks made good at its end),
its rows numbered as they are mapped: a host rehearsing starts again from an empty hostdesk.
"""

import time
from functools import partial

import pendulum
from peewee import IntegrityError

from hostdesk.automation.whmcs import billing, catalog, items, reconcile
from hostdesk.automation.whmcs.report import Report
from hostdesk.automation.whmcs.source import Source, SourceError
from hostdesk.automation.whmcs.context import Context, ReconciliationError, prefetch
from hostdesk.automation.whmcs.pipeline import WriterError, writer_for
from hostdesk.automation.whmcs.writer import IdMap
from hostdesk.models import audit, bulk_load
from hostdesk.models.db import database, few_checkpoints
from hostdesk.models.errors import ValidationError
from hostdesk.models.permissions import MANAGE_ADMINS, require
from hostdesk.models.schema import Admin

__all__ = ["import_whmcs", "SourceError", "Report"]

# The tables a first import fills: when every one is empty it is loaded in bulk.
LOADED_TABLES = ("client", "order", "service", "service_config_option", "service_addon",
                 "domain", "cancellation_request", "invoice", "invoice_line", "payment",
                 "credit_entry", "import_map")
# Read by each invoice batch's check (billing._check_batch); its keys come in load order, so
# keeping it in step costs little.
KEPT_INDEXES = ("invoiceline_invoice_id_sort_order",)
# The tables a first import has written in full once a step is done: their indexes, search
# and checks are made good then, by the writer while the next steps are mapped. A table
# whose search is rebuilt later with the others has its indexes made at once
# (INDEXED_AFTER): the writer builds each while the import maps the next step, instead of
# all of them in a row while the import waits.
INDEXED_AFTER = {catalog.clients: ("client",), items.orders: ("order",),
                 items.services: ("service",),
                 items.service_config_options: ("service_config_option",),
                 items.service_addons: ("service_addon",), items.domains: ("domain",),
                 billing.payments: ("payment",)}
WRITTEN_AFTER = {
    items.cancellation_requests: ("client", "order", "service", "service_config_option",
                                  "service_addon", "domain", "cancellation_request"),
    billing.invoices: ("invoice", "invoice_line"),
}
# In dependency order: what a step points at is written by an earlier one. The payment
# gateways last: rows name a method by text (no row points at it), and the query that lists
# them is read last.
STEPS = (catalog.client_groups, catalog.clients, catalog.servers, catalog.products,
         catalog.config_options, catalog.catalog_addons, catalog.promotions, catalog.tlds,
         items.orders, items.services, items.service_config_options, items.service_addons,
         items.domains, items.cancellation_requests, billing.read_accounts, billing.invoices,
         billing.payments, billing.credit_movements, catalog.payment_gateways)


class _DryRun(Exception):
    """Raised at the end of a dry run to roll every write back."""


def import_whmcs(url: str, *, admin: Admin, dry_run: bool = False,
                 currency: str | None = None, hostdesk_currency: str | None = None,
                 progress=None, write_thread: bool = True) -> Report:
    """Import (or with `dry_run`, rehearse without writing) the WHMCS database at `url`.

    Raises ValidationError for a bad URL or a currency to choose, SourceError when WHMCS
    cannot be read. A batch that does not reconcile is rolled back and named in
    `report.error`. `write_thread=False` writes every batch inline (the plain path the tests
    compare the writer thread and process with)."""
    require(admin, MANAGE_ADMINS)  # the whole book of business: a full admin
    started = time.monotonic()
    source = Source(url)
    report = Report(dry_run=dry_run)
    writer = None
    try:
        # The first import into an empty hostdesk: one transaction, loaded in bulk. The
        # writer (a process, then) starts while WHMCS's currencies are looked at.
        report.bulk = not dry_run and bulk_load.applies(LOADED_TABLES)
        writer = writer_for(dry_run or not write_thread, bulk=report.bulk)
        currency_id, report.currency = _choose_currency(source, currency, report)
        if hostdesk_currency and hostdesk_currency.upper() != report.currency.upper():
            report.note(f"hostdesk's currency setting is {hostdesk_currency}: set "
                        f"currency = \"{report.currency}\" in hostdesk.toml before the first run")
        clients = source.select("tblclients", "id:i currency:i")
        idmap = IdMap(numbered=LOADED_TABLES if report.bulk else ())
        ctx = Context(source=source, report=report, idmap=idmap, writer=writer,
                      currency_id=currency_id, progress=progress, admin=admin,
                      client_ids={c.id for c in clients if c.currency == currency_id},
                      now=pendulum.now("UTC").strftime("%Y-%m-%d %H:%M:%S.%f"))
        prefetch(ctx, first=catalog.reads(ctx), then=reconcile.SOURCE_QUERIES)
        ctx.other_clients = {c.id for c in clients} - ctx.client_ids
        if dry_run:
            try:
                with database.atomic():
                    _run(ctx, admin)
                    raise _DryRun()
            except _DryRun:
                pass
        elif report.bulk:
            paused = writer.call(partial(bulk_load.pause, LOADED_TABLES, keep=KEPT_INDEXES))
            written = {step: partial(bulk_load.resume, paused.split_indexes(tables))
                       for step, tables in INDEXED_AFTER.items()}
            written.update((step, partial(bulk_load.resume, paused.split(tables)))
                           for step, tables in WRITTEN_AFTER.items())
            _run(ctx, admin, finish=partial(bulk_load.resume, paused), written=written)
            if report.ok:  # a first import that does not reconcile leaves hostdesk empty
                writer.commit()
        else:
            with few_checkpoints():
                _run(ctx, admin)
    except ReconciliationError as exc:
        report.error = f"did not reconcile, {_rolled_back(report)}: {exc}"
    except IntegrityError as exc:  # e.g. a name hostdesk already has for another record
        report.error = f"hostdesk refused a row, {_rolled_back(report)}: {exc}"
    except WriterError as exc:
        report.error = str(exc)
    finally:
        if writer is not None:
            writer.close()  # rolls back what a one-transaction writer has not committed
        source.close()
        report.seconds = time.monotonic() - started
    return report


def _rolled_back(report: Report) -> str:
    if report.bulk:
        return ("that batch was rolled back, and with it the whole first import (hostdesk is "
                "as before)")
    return "that batch was rolled back"


def _run(ctx: Context, admin: Admin, finish=None, written=None) -> None:
    for step in STEPS:  # a step waits for the writer when it needs ids (ctx.ids)
        step(ctx)
        if written and step in written:
            ctx.writer.submit(written[step])
    if finish is not None:
        ctx.writer.call(finish)
    ctx.report.reconciliation = reconcile.figures(ctx, ctx.writer.call(reconcile.hostdesk_sums))
    ctx.writer.call(partial(_log, _log_entries(ctx.report, admin)))
    if not ctx.report.reconciled:
        different = [r["figure"] for r in ctx.report.reconciliation if not r["equal"]]
        ctx.report.error = "did not reconcile: " + ", ".join(different)
        if ctx.report.bulk:
            ctx.report.error += " (the first import was rolled back: hostdesk is as before)"


def _log_entries(report: Report, admin: Admin) -> list[dict]:
    return [dict(admin_login=admin.login, action="whmcs.import", object_type="import",
                 description=f"WHMCS {table}: {c.imported} imported, {c.updated} updated, "
                             f"{len(c.skipped)} skipped",
                 after={"read": c.read, "imported": c.imported, "updated": c.updated,
                        "skipped": len(c.skipped)})
            for table, c in report.tables.items() if c.imported or c.updated]


def _log(entries: list[dict]) -> None:
    with database.atomic():
        audit.record_many(entries)


def _choose_currency(source: Source, wanted: str | None, report: Report) -> tuple[int, str]:
    """The one currency to import; more than one among services needs `--currency`."""
    currencies = {row["id"]: str(row["code"]) for row in source.table("tblcurrencies")}
    default = next((row["id"] for row in source.table("tblcurrencies") if row["default"]),
                   next(iter(currencies), 0))
    in_use = source.rows(
        "SELECT c.currency AS id, COUNT(*) AS services FROM tblhosting h "
        "JOIN tblclients c ON c.id = h.userid GROUP BY c.currency ORDER BY c.currency")
    listed = ", ".join(f"{currencies.get(r['id'], '#' + str(r['id']))} ({r['services']} services)"
                       for r in in_use)
    if wanted:
        by_code = {code.upper(): cid for cid, code in currencies.items()}
        if wanted.upper() not in by_code:
            raise ValidationError("--currency", f"WHMCS has no currency {wanted}; it has "
                                                + ", ".join(currencies.values()))
        chosen = by_code[wanted.upper()]
    elif len(in_use) > 1:
        raise ValidationError("--currency", "WHMCS has services in more than one currency: "
                                            f"{listed}. hostdesk keeps one currency per "
                                            "installation: choose one with --currency CODE")
    else:
        chosen = in_use[0]["id"] if in_use else default
    for row in source.rows(
            "SELECT c.currency AS id, COUNT(DISTINCT c.id) AS clients, COUNT(DISTINCT h.id) AS "
            "services, COUNT(DISTINCT d.id) AS domains, COUNT(DISTINCT i.id) AS invoices "
            "FROM tblclients c LEFT JOIN tblhosting h ON h.userid = c.id "
            "LEFT JOIN tbldomains d ON d.userid = c.id LEFT JOIN tblinvoices i ON i.userid = c.id "
            "WHERE c.currency <> %s GROUP BY c.currency", (chosen,)):
        code = currencies.get(row["id"], f"#{row['id']}")
        report.left_out[code] = {k: int(row[k]) for k in ("clients", "services", "domains",
                                                          "invoices")}
    return chosen, currencies.get(chosen, "")
