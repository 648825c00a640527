"""One index finds an item's invoice lines, of every kind, and refuses a second live renewal
line for a period (migration 0029): the daily run writes each line into one index by item,
not two."""

import importlib.util
from decimal import Decimal

import peewee
import pendulum
import pytest

from hostdesk.models import invoicing, renewals, service_page, upgrade_effects
from hostdesk.models.db import MIGRATIONS_DIR, is_sqlite
from hostdesk.models.schema import Invoice, InvoiceLine, LineKind
from tests import factories as make

START, END = pendulum.date(2026, 1, 15), pendulum.date(2026, 2, 15)
TODAY = pendulum.date(2026, 3, 1)


def _item_indexes(db) -> list[str]:
    """The indexes of invoice_line that lead with the item's columns."""
    if is_sqlite(db):
        rows = db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                              "AND tbl_name = 'invoice_line' AND sql IS NOT NULL")
    else:
        rows = db.execute_sql("SELECT indexname, indexdef FROM pg_indexes "
                              "WHERE tablename = 'invoice_line'")
    return sorted(name for name, sql in rows if "item_type" in sql)


def _line(invoice, kind, item_type, item_id, **kw):
    return InvoiceLine.create(invoice=invoice, kind=kind, item_type=item_type, item_id=item_id,
                              period_start=kw.pop("period_start", START),
                              period_end=kw.pop("period_end", END), description=kind,
                              amount=Decimal("5.00"), **kw)


def _invoice(client, due=START):
    return Invoice.create(client=client, date=START, due_date=due, payment_method="banktransfer")


def test_one_index_by_item_refuses_a_second_live_renewal_and_keeps_every_other_line(db):
    assert _item_indexes(db) == ["invoice_line_item"]
    service = make.service(next_due_date=START)
    invoice = _invoice(service.client_id)
    first = _line(invoice, LineKind.RENEWAL, "service", service.id)
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            _line(_invoice(service.client_id), LineKind.RENEWAL, "service", service.id,
                  period_end=pendulum.date(2026, 1, 16))  # same start, no overlap check needed
    # Cancelled renewals and lines of other kinds share the item and period start freely.
    first.cancelled = True
    first.save()
    _line(invoice, LineKind.RENEWAL, "service", service.id, cancelled=True)
    _line(invoice, LineKind.RENEWAL, "service", service.id)
    for kind in (LineKind.PRORATA, LineKind.UPGRADE, LineKind.UPGRADE, LineKind.SETUP):
        _line(invoice, kind, "service", service.id)
    assert InvoiceLine.select().where(InvoiceLine.item_id == service.id).count() == 7
    # A live renewal line again for the same start: refused, whichever way it is made live.
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            InvoiceLine.update(cancelled=False).where(InvoiceLine.id == first.id).execute()


def _plan(db, sql, params) -> str:
    if is_sqlite(db):
        return " ".join(row[3] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
    with db.atomic():
        db.execute_sql("SET LOCAL enable_seqscan = off")  # a table this small is read whole
        db.execute_sql("SET LOCAL enable_bitmapscan = off")
        return " ".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params))


def test_lookups_by_item_find_every_kind_of_line_through_the_item_index(db, monkeypatch):
    """The reads by item of the service page, payments, upgrades, NDD changes and the daily run
    find each kind of line they ask for, and each reaches invoice_line through the item index
    (a search on its leading columns, not a scan of every line)."""
    service = make.service(next_due_date=START)
    addon = make.addon(service, next_due_date=START)
    other = make.service(next_due_date=START)
    unpaid = _invoice(service.client_id, due=START)
    renewal = _line(unpaid, LineKind.RENEWAL, "service", service.id)
    cancelled = _line(unpaid, LineKind.RENEWAL, "service", service.id, cancelled=True)
    upgrade = _line(unpaid, LineKind.UPGRADE, "service", service.id, upgrade=9,
                    period_start=TODAY.add(days=1))
    first_addon = _line(unpaid, LineKind.FIRST, "addon", addon.id)
    _line(unpaid, LineKind.RENEWAL, "service", other.id)  # another item's

    statements, execute = [], type(db).execute_sql
    monkeypatch.setattr(type(db), "execute_sql", lambda self, sql, params=None, *a, **k: (
        statements.append((sql, params)), execute(self, sql, params, *a, **k))[1])
    assert invoicing.has_overdue_invoices(service.id, TODAY)
    assert invoicing.unpaid_lines_of_service(service.id) == [renewal.id, upgrade.id,
                                                             first_addon.id]
    assert [line.id for line in invoicing.future_unpaid_lines([("service", service.id)], TODAY)
            ] == [upgrade.id]
    assert service_page.addon_invoice_id(addon.id) == unpaid.id
    assert [line.id for line in upgrade_effects._upgrade_lines(9, service.id)] == [upgrade.id]
    assert renewals._already_invoiced("service", service.id, START, END)
    assert not renewals._already_invoiced("service", service.id, END, END.add(months=1))
    service.next_due_date = END
    assert list(renewals.next_due_date_refusals("service", [service], START)) == [service.id]
    monkeypatch.undo()
    assert cancelled.id not in invoicing.unpaid_lines_of_service(service.id)

    by_item = [(sql, params) for sql, params in statements
               if '"invoice_line"' in sql and '"item_id" = ' in sql]
    assert len(by_item) >= 7, statements
    for sql, params in by_item:
        plan = _plan(db, sql, params)
        assert "invoice_line_item" in plan, (sql, plan)
        assert "SCAN t1" not in plan and "Seq Scan on invoice_line" not in plan, (sql, plan)


def test_the_overlap_check_looks_up_the_items_lines_in_the_item_index(db):
    """Each renewal line the daily run inserts is checked against the item's live lines
    (migration 0011's row trigger on SQLite, 0026's statement trigger on PostgreSQL): a
    search of the item index, whose page the insert then writes."""
    if not is_sqlite(db):
        path = MIGRATIONS_DIR / "0026_overlap_check_by_trigger.py"
        spec = importlib.util.spec_from_file_location("overlap_check", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        check = module.FUNCTION[module.FUNCTION.index("SELECT n.id"):module.FUNCTION.index("LIMIT 1;")]
        sql = check.replace(" INTO clash", "").replace(
            "changed_lines n", "(VALUES (0, 'renewal', 'service', 1, DATE '2026-01-15', "
            "DATE '2026-02-15', false)) AS n (id, kind, item_type, item_id, period_start, "
            "period_end, cancelled)")
        plan = _plan(db, sql, None)
        assert "Index Scan using invoice_line_item on invoice_line l" in plan, plan
        return
    (trigger,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                "AND name = 'invoice_line_no_overlap_insert'").fetchone()
    lookup = trigger[trigger.index("(\n") + 1:trigger.rindex(") >")]
    sql = (lookup.replace("NEW.item_type", "?").replace("NEW.item_id", "?")
           .replace("NEW.period_end", "?"))
    plan = _plan(db, sql, ["service", 1, END.isoformat()])
    assert "SEARCH l USING INDEX invoice_line_item (item_type=? AND item_id=? AND period_start<?)" \
        in plan, plan
