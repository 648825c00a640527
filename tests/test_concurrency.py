"""Two processes paying the same invoice at the same moment: one application, never two."""

import multiprocessing
import time
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing
from hostdesk.models.invoicing import LineSpec
from hostdesk.models.schema import Client, LineKind, Payment, Service
from tests import factories as make
from tests.workers import record_payment
from tests.factories import as_login


@pytest.mark.parametrize("refs", [("same", "same"), ("admin-a", "admin-b")])
def test_two_processes_pay_at_once_and_the_period_is_applied_once(db, db_url, refs):
    make.ensure_template("invoice_created")
    service = make.service(next_due_date=pendulum.date(2026, 1, 1))
    invoice = invoicing.create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.RENEWAL, description="Hosting", amount=Decimal("10.00"),
                  item_type="service", item_id=service.id, period_start=pendulum.date(2026, 1, 1),
                  period_end=pendulum.date(2026, 2, 1))],
        date=pendulum.date(2025, 12, 18), due_date=pendulum.date(2026, 1, 1),
        payment_method="card", admin=as_login("t"))
    for login in set(refs):  # each process records the payment as the admin its ref names
        make.admin(login, role="full")
    db.close()
    start_at = time.time() + 1.5
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        outcomes = pool.starmap(record_payment, [(db_url, invoice.id, ref, start_at) for ref in refs])
    db.connect(reuse_if_open=True)
    same_reference = refs[0] == refs[1]
    # the same gateway reference is stored once; a second payment is kept as credit (rules §5)
    assert sorted(o.split(":")[0] for o in outcomes) == sorted(
        ["paid", "duplicate" if same_reference else "credited"])
    assert Payment.select().count() == (1 if same_reference else 2)
    assert Client.get_by_id(service.client_id).credit == (
        Decimal("0.00") if same_reference else Decimal("10.00"))
    assert Service.get_by_id(service.id).next_due_date == pendulum.date(2026, 2, 1)
