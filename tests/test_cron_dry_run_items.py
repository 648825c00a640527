"""`hostdesk cron --dry-run --json` names the items each task would act on, and they are the
ones the real run then acts on."""

from __future__ import annotations

import json
import os

import pendulum

from hostdesk.automation.identity import OsAccount
from hostdesk.models import invoicing
from hostdesk.models.db import bind
from hostdesk.models.schema import Admin, Invoice, InvoiceLine, ModuleJob, Service
from tests import factories as make
from hostdesk.tui.cli import main
from tests.factories import as_login

NDD = pendulum.date(2026, 3, 15)


def test_a_dry_run_lists_the_items_of_each_task_and_the_real_run_acts_on_them(db, db_url,
                                                                               capsys):
    Admin.create(login="boss", role="full")
    due = [make.service(next_due_date=NDD) for _ in range(3)]
    addon = make.addon(due[0], next_due_date=NDD)
    overdue = make.service(next_due_date=NDD.subtract(months=1))
    invoice = invoicing.create_invoice(
        overdue.client_id,
        [invoicing.renewal_line_spec("service", overdue, overdue.next_due_date, "Hosting")],
        date=NDD.subtract(months=1), due_date=overdue.next_due_date, payment_method="card",
        admin=as_login("boss"))
    tried = pendulum.datetime(2026, 3, 10, tz="UTC")
    job = ModuleJob.create(service=due[1], command="create", status="failed", attempts=1,
                           last_error="timeout", created_at=tried, updated_at=tried)
    db.close()

    boss = OsAccount(uid=os.getuid(), login="boss")
    args = ["--db", db_url, "cron", "--date", NDD.isoformat(), "--allow-far-date", "--no-email",
            "--json"]
    assert main([*args, "--dry-run"], os_account=boss) == 0
    dry = json.loads(capsys.readouterr().out)["tasks"]
    bind(db_url).connect(reuse_if_open=True)

    assert sorted(dry["invoices"]["items"]) == sorted(
        [*(f"service #{s.id}" for s in due), f"addon #{addon.id}"])
    assert dry["suspensions"]["items"] == [f"service #{overdue.id}"]
    assert dry["module_queue"]["items"] == [f"module job #{job.id} (create of service "
                                            f"#{due[1].id})"]
    for name, task in dry.items():
        if name != "invoices":  # invoices counts invoices; its items are what they bill
            assert len(task["items"]) == task["done"], name
    assert Invoice.select().count() == 1  # nothing was written

    db.close()
    assert main(args, os_account=boss) in (0, 1)
    capsys.readouterr()
    bind(db_url).connect(reuse_if_open=True)
    billed = {f"{line.item_type} #{line.item_id}" for line in InvoiceLine.select().where(
        InvoiceLine.invoice != invoice.id)}
    assert billed == set(dry["invoices"]["items"])
    assert Service.get_by_id(overdue.id).status == "suspended"
