"""Issue 17: every big screen reads its data in a fixed number of queries, whatever the data.

For each screen, the view function it calls (what its worker runs) is counted with one and
with many of each thing it shows (addons, options, services, invoice lines, payments...):
the count is the same, and at most the screen's budget. Queries are counted at the database
connection (`Database.execute_sql`, which every peewee query goes through).
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pendulum
import pytest

from hostdesk.automation.provisioning.runner import command_availability, command_labels
from hostdesk.models import invoicing, orders
from hostdesk.models.client_summary import (
    ClientAddonSource,
    ClientDomainSource,
    ClientServiceSource,
    load_client_details,
)
from hostdesk.models.invoice_view import FilteredInvoiceSource, InvoiceFilter, load_invoice_view
from hostdesk.models.invoicing import LineSpec
from hostdesk.models.payment_methods import enabled_methods
from hostdesk.models.schema import (
    CancellationRequest,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionPrice,
    ItemType,
    LineKind,
    Promotion,
    ServiceConfigOption,
)
from hostdesk.tui.widgets.order_client_picker import load_client
from hostdesk.models.selection import Selection
from hostdesk.models.service_page import load_service_view
from hostdesk.models.upgrades import load_upgrade_start
from tests import factories
from tests.factories import as_login

TODAY = pendulum.date(2026, 1, 1)
PAGE = 50  # a list's first page

# The most queries each screen may run to draw itself (its worker's reads).
BUDGETS = {
    "service_page": 18,  # was 17 plus one per addon; the payment methods list is one more
    "client_summary": 11,  # details (3) + the first page and count of its 4 lists
    "invoice_page": 5,  # invoice with client and order, lines, payments, upgrade, methods
    "payment_dialog": 0,  # drawn from the invoice page's data
    "upgrade_screen": 8,
    "order_form": 5,  # products, prices, payment methods, the client given and its method
    "mass_update": 2,  # the checklist's first page and its count
}


@contextlib.contextmanager
def counted(db):
    """Every statement sent to `db` while the block runs, in a list."""
    statements: list[str] = []
    original = db.execute_sql

    def execute_sql(sql, params=None, *args, **kwargs):
        statements.append(sql)
        return original(sql, params, *args, **kwargs)

    db.execute_sql = execute_sql
    try:
        yield statements
    finally:
        del db.execute_sql  # the class's method again


def queries(db, read) -> int:
    with counted(db) as statements:
        read()
    return len(statements)


# --- data of size 1 and size N ------------------------------------------------------------------


def _options(product, service, count: int) -> None:
    for n in range(count):
        option = ConfigOption.create(product=product, name=f"Option {n}", sort_order=n)
        choice = ConfigOptionChoice.create(option=option, name=f"Choice {n}")
        ConfigOptionPrice.create(choice=choice, cycle="monthly", price=Decimal("1.00"),
                                 setup_fee=Decimal("0.00"))
        ServiceConfigOption.create(service=service, option=option, choice=choice, quantity=0)


def _invoice(client, items: list[tuple[str, int]], payments: int = 0) -> int:
    lines = [LineSpec(LineKind.SETUP, f"line {n}", Decimal("5.00"), item_type, item_id)
             for n, (item_type, item_id) in enumerate(items)]
    invoice = invoicing.create_invoice(client.id, lines, date=TODAY, due_date=TODAY,
                                       payment_method="banktransfer", admin=as_login("test"),
                                       send_email=False)
    for n in range(payments):
        invoicing.record_payment(invoice.id, "1.00", date=TODAY, method="banktransfer",
                                 transaction_ref=f"ref-{invoice.id}-{n}", admin=as_login("test"),
                                 today=TODAY)
    return invoice.id


def _service_with(n: int):
    """A service with n addons (each on an unpaid invoice) and n options, a promotion, an
    open cancellation request and a domain record."""
    client = factories.client()
    product = factories.product({"monthly": "10.00", "annually": "100.00"})
    promotion = Promotion.create(code=f"SAVE{client.id}", type="percentage",
                                 value=Decimal("10"))
    service = factories.service(client, product, promotion=promotion)
    _options(product, service, n)
    addons = [factories.addon(service, name=f"Addon {i}") for i in range(n)]
    _invoice(client, [(ItemType.SERVICE, service.id)]
             + [(ItemType.ADDON, addon.id) for addon in addons])
    CancellationRequest.create(service=service, type="end_of_period", reason="moving")
    factories.domain(client, name=service.domain)
    return service


def _client_with(n: int):
    """A client with n services, n addons, n domains and n invoices."""
    client = factories.client(group=factories.group())
    product = factories.product()
    for _ in range(n):
        service = factories.service(client, product)
        factories.addon(service)
        factories.domain(client)
        _invoice(client, [(ItemType.SERVICE, service.id)])
    return client


# --- the screens --------------------------------------------------------------------------------


def _read_service_page(service_id: int):
    view = load_service_view(service_id, "USD")
    command_availability(view.service)
    command_labels(view.service)
    return view


def _read_client_summary(client_id: int):
    details = load_client_details(client_id, TODAY)
    for source, flt in ((ClientServiceSource(client_id), None),
                        (ClientAddonSource(client_id), None),
                        (ClientDomainSource(client_id), None),
                        (FilteredInvoiceSource(), InvoiceFilter(client_id=client_id))):
        if flt is None:
            source.page(None, PAGE), source.count()
        else:
            source.page(None, PAGE, flt), source.count(flt)
    return details


def _read_order_form(client_id: int):
    return orders.order_catalog(), enabled_methods(), load_client(client_id)


def _read_mass_update(client_id: int):
    selection = Selection.of_client(client_id)
    return (selection.source.page(None, PAGE, selection.flt),
            selection.source.count(selection.flt))


def test_the_service_page_reads_the_same_queries_for_one_addon_or_twenty(db):
    one, many = _service_with(1), _service_with(20)
    counts = [queries(db, lambda s=s: _read_service_page(s.id)) for s in (one, many)]
    assert counts[0] == counts[1] <= BUDGETS["service_page"], counts
    view = _read_service_page(many.id)  # and what it read is the whole service
    assert len(view.addons) == 20 and view.unpaid_lines == 21
    assert len(view.config_options) == 20 and view.promotion_code == f"SAVE{many.client_id}"
    assert view.open_request is not None and view.domain_record


def test_a_service_with_nothing_stays_within_the_budget(db):
    bare = factories.service()
    assert queries(db, lambda: _read_service_page(bare.id)) <= BUDGETS["service_page"]


def test_the_client_summary_reads_the_same_queries_for_one_service_or_thirty(db):
    one, many = _client_with(1), _client_with(30)
    counts = [queries(db, lambda c=c: _read_client_summary(c.id)) for c in (one, many)]
    assert counts[0] == counts[1] <= BUDGETS["client_summary"], counts
    details = load_client_details(many.id, TODAY)
    assert details.services == {"active": 30} and details.unpaid_invoices == 30
    assert details.group


def test_the_invoice_page_and_payment_dialog_read_the_same_queries_for_one_line_or_forty(db):
    from hostdesk.automation.config import Config  # noqa: F401 - the dialog's settings
    from hostdesk.models.clock import Clock
    from hostdesk.models.settings import Settings
    from hostdesk.tui.screens.invoices import PaymentDialog

    factories.admin("test")
    client = factories.client()
    services = [factories.service(client) for _ in range(40)]
    one = _invoice(client, [(ItemType.SERVICE, services[0].id)], payments=1)
    many = _invoice(client, [(ItemType.SERVICE, s.id) for s in services], payments=5)
    counts = [queries(db, lambda i=i: load_invoice_view(i)) for i in (one, many)]
    assert counts[0] == counts[1] <= BUDGETS["invoice_page"], counts
    view = load_invoice_view(many)
    assert len(view.lines) == 40 and len(view.payments) == 5
    assert view.client.id == client.id and view.balance == Decimal("195.00")
    dialog_queries = queries(db, lambda: PaymentDialog(view, "test", Clock("UTC", TODAY),
                                                       Settings()))
    assert dialog_queries <= BUDGETS["payment_dialog"]


def test_the_upgrade_screen_reads_the_same_queries_for_one_option_or_twenty(db):
    one, many = _service_with(1), _service_with(20)
    for _ in range(10):
        factories.product({"monthly": "5.00", "quarterly": "14.00"})  # more to choose from
    counts = [queries(db, lambda s=s: load_upgrade_start(s.id)) for s in (one, many)]
    assert counts[0] == counts[1] <= BUDGETS["upgrade_screen"], counts
    start = load_upgrade_start(many.id)
    assert len(start.options) == 20 and len(start.current_choices) == 20
    assert len(start.products) >= 12


def test_the_order_form_reads_the_same_queries_for_one_product_or_thirty(db):
    client = factories.client()
    factories.product()
    counts = [queries(db, lambda: _read_order_form(client.id))]
    for _ in range(29):
        factories.product({"monthly": "5.00", "annually": "50.00"})
    counts.append(queries(db, lambda: _read_order_form(client.id)))
    assert counts[0] == counts[1] <= BUDGETS["order_form"], counts
    assert len(orders.order_catalog()) == 30


@pytest.mark.parametrize("size", [1, 30])
def test_mass_update_reads_its_first_page_in_the_same_queries(db, size):
    client = _client_with(size)
    assert queries(db, lambda: _read_mass_update(client.id)) == BUDGETS["mass_update"]
    rows, total = _read_mass_update(client.id)
    assert len(rows) == total == size
