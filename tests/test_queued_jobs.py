"""An action says which module jobs it queued (issue 14): `record_payment` and
`create_upgrade` return their ids, and `run_queued_jobs` runs exactly those, never a job
someone else queued meanwhile (the old "highest job id before" watermark could)."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.automation.provisioning import registry
from hostdesk.automation.provisioning.builtin import NoneModule
from hostdesk.automation.provisioning.runner import run_queued_jobs
from hostdesk.models import invoicing, upgrades
from hostdesk.models.clock import Clock
from hostdesk.models.invoicing import queue_module_job
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import Admin, ModuleJob
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 4, 19)
NDD = pendulum.date(2026, 5, 1)


class Recording(NoneModule):
    calls: list = []

    def change_package(self, params):
        Recording.calls.append(params.service_id)
        return super().change_package(params)


@pytest.fixture
def world(db, monkeypatch):
    make.ensure_template("invoice_created")
    Admin.create(login="boss", role="full")
    Admin.create(login="seller", role="sales")
    Recording.calls = []
    monkeypatch.setattr(registry, "get_module", lambda name: Recording())
    small = make.product(name="Small", prices={"monthly": "10.00"})
    big = make.product(name="Big", prices={"monthly": "25.00"})
    return small, big


def test_a_payment_returns_the_jobs_it_queued_and_only_those_run(world):
    small, big = world
    service = make.service(product_row=small, next_due_date=NDD)
    other = make.service(product_row=small, next_due_date=NDD)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, Settings(),
                                   admin=find_admin("boss"))
    assert made.module_jobs == ()  # nothing to run until it is paid
    elsewhere = queue_module_job(other.id, "change_package", source="admin")  # not ours

    result = invoicing.record_payment(made.invoice.id, made.invoice.total, date=TODAY,
                                      method="card", admin=as_login("boss"), today=TODAY)
    ours = ModuleJob.get((ModuleJob.service == service.id)
                         & (ModuleJob.command == "change_package"))
    assert result.module_jobs == [ours.id]

    said = run_queued_jobs(result.module_jobs, find_admin("boss"), clock=Clock("UTC", TODAY),
                           settings=Settings())
    assert len(said) == 1 and said[0].said.startswith(f"change package of service #{service.id} done")
    assert Recording.calls == [service.id]
    assert ModuleJob.get_by_id(elsewhere.id).status == "queued"


def test_without_server_operations_the_jobs_wait_for_the_daily_run(world):
    small, big = world
    service = make.service(product_row=small, next_due_date=NDD)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, Settings(),
                                   admin=find_admin("boss"))
    result = invoicing.record_payment(made.invoice.id, made.invoice.total, date=TODAY,
                                      method="card", admin=as_login("seller"), today=TODAY)
    said = run_queued_jobs(result.module_jobs, find_admin("seller"), clock=Clock("UTC", TODAY),
                           settings=Settings())
    assert len(said) == 1 and "queued for the daily run" in said[0].said
    assert Recording.calls == []
    assert ModuleJob.get().status == "queued"


def test_a_downgrade_applied_at_once_returns_its_change_package(world):
    small, big = world
    service = make.service(product_row=big, recurring_amount=D("25.00"), next_due_date=NDD)
    made = upgrades.create_upgrade(service.id, small.id, "monthly", TODAY, Settings(),
                                   admin=find_admin("boss"))
    assert made.invoice.status == "paid"
    job = ModuleJob.get(ModuleJob.service == service.id)
    assert made.module_jobs == (job.id,)
