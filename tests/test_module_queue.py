"""The module queue (rules §8, §11): automated commands that failed, retried or dismissed."""

import json

import pendulum
import pytest

from hostdesk.automation.cron import RunContext, TaskResult
from hostdesk.automation.provisioning.runner import module_queue_task, retry_job, run_command
from hostdesk.models import modulequeue
from hostdesk.models.clock import Clock
from hostdesk.models.errors import PermissionDenied, ValidationError
from hostdesk.models.permissions import SYSTEM_ADMIN, find_admin
from hostdesk.models.schema import ModuleJob, Product, Service
from tests.test_lifecycle import (  # noqa: F401 - secret_key is an autouse fixture
    SETTINGS,
    TODAY,
    emails_sent,
    log_rows,
    make_admin,
    make_client,
    make_service,
    reload,
    secret_key,
)
from tests.test_webhook import endpoint, webhook_service  # noqa: F401 - endpoint is a fixture

CLOCK = Clock("UTC", TODAY)
DOWN = (500, b"Internal Server Error")


def cron_suspend(service):
    return run_command(service.id, "suspend", admin=SYSTEM_ADMIN, clock=CLOCK,
                       settings=SETTINGS, source="cron")


def daily_run(day, dry_run=False) -> TaskResult:
    return module_queue_task(RunContext(today=day, settings=SETTINGS, dry_run=dry_run))


def real_today():
    return pendulum.now("UTC").date()


@pytest.fixture
def alice(db):
    return make_admin("alice", "full")


@pytest.fixture
def failed_job(alice, endpoint):
    """An active service whose overdue suspension by the daily run failed (endpoint down)."""
    service = webhook_service(endpoint.url, status="active")
    endpoint.reply(*DOWN)
    result = cron_suspend(service)
    assert not result.success
    return ModuleJob.get(ModuleJob.service == service.id)


# --- failures become jobs ----------------------------------------------------------------------


def test_a_failed_automated_command_is_queued_with_its_error(failed_job, endpoint):
    job = failed_job
    assert (job.command, job.status, job.attempts, job.source) == ("suspend", "failed", 1, "cron")
    assert job.last_error == f"webhook {endpoint.url}: HTTP 500 Internal Server Error"
    arguments = json.loads(job.arguments)
    assert arguments.pop("delivery_id").startswith("msg_")  # the webhook-id of every retry
    assert arguments == {"reason": "Overdue on payment", "send_email": True}
    assert reload(job.service).status == "active"
    [row] = log_rows("module_job.queue", job.id)
    assert row.admin_login == "system" and job.last_error in row.description


def test_an_admins_failed_command_is_shown_to_the_admin_not_queued(alice, endpoint):
    service = webhook_service(endpoint.url, status="active")
    endpoint.reply(*DOWN)
    result = run_command(service.id, "suspend", admin=find_admin("alice"), clock=CLOCK,
                         settings=SETTINGS)
    assert not result.success
    assert ModuleJob.select().count() == 0


def test_the_same_command_failing_again_updates_its_one_open_job(failed_job, endpoint):
    endpoint.reply(200, b'{"success": false, "error": "panel busy"}')
    cron_suspend(failed_job.service)
    [job] = ModuleJob.select()
    assert (job.id, job.attempts, job.last_error) == (failed_job.id, 2, "panel busy")


def test_a_password_is_never_written_to_the_queue(db):
    service = make_service(status="active")
    with pytest.raises(ValidationError) as refused:
        modulequeue.enqueue_failure(service.id, "change_password", {"new_password": "x"},
                                    "down", admin=SYSTEM_ADMIN)
    assert refused.value.field == "arguments"
    assert ModuleJob.select().count() == 0


# --- by hand -----------------------------------------------------------------------------------


def test_retry_after_the_server_is_fixed_completes_the_job_and_suspends(failed_job, endpoint):
    endpoint.reply(200, b'{"success": true, "message": "suspended"}')

    result = retry_job(failed_job.id, admin=find_admin("alice"), clock=CLOCK, settings=SETTINGS)

    assert result.success
    job = ModuleJob.get_by_id(failed_job.id)
    assert job.status == "done"
    service = reload(failed_job.service)
    assert (service.status, service.suspension_reason) == ("suspended", "Overdue on payment")
    assert [e.template for e in emails_sent()] == ["service_suspended"]
    assert endpoint.last_payload()["params"] == {"reason": "Overdue on payment"}
    assert modulequeue.pending_jobs() == []
    assert [r.admin_login for r in log_rows("module_job.done", job.id)] == ["alice"]


def test_a_retry_that_fails_again_keeps_the_job_with_the_new_error(failed_job, endpoint):
    endpoint.reply(200, b'{"success": false, "error": "account locked"}')
    result = retry_job(failed_job.id, admin=find_admin("alice"), clock=CLOCK, settings=SETTINGS)
    assert not result.success
    job = ModuleJob.get_by_id(failed_job.id)
    assert (job.status, job.attempts, job.last_error) == ("failed", 2, "account locked")
    assert reload(failed_job.service).status == "active"


def test_dismiss_takes_the_job_out_of_the_queue_for_good(failed_job, endpoint):
    modulequeue.dismiss(failed_job.id, find_admin("alice"))

    assert ModuleJob.get_by_id(failed_job.id).status == "dismissed"
    assert modulequeue.pending_jobs() == []
    [row] = log_rows("module_job.dismiss", failed_job.id)
    assert json.loads(row.after)["status"] == "dismissed"
    with pytest.raises(ValidationError, match="is dismissed, not waiting"):
        retry_job(failed_job.id, admin=find_admin("alice"), clock=CLOCK, settings=SETTINGS)
    endpoint.reply()
    assert daily_run(real_today().add(days=1)).details["retried"] == 0


def test_dismiss_and_retry_need_the_server_operations_permission(failed_job):
    make_admin("sam", "sales")
    with pytest.raises(PermissionDenied):
        modulequeue.dismiss(failed_job.id, find_admin("sam"))
    with pytest.raises(PermissionDenied):
        retry_job(failed_job.id, admin=find_admin("sam"), clock=CLOCK, settings=SETTINGS)
    assert ModuleJob.get_by_id(failed_job.id).status == "failed"


def test_an_admin_running_the_command_successfully_closes_its_job(failed_job, endpoint):
    endpoint.reply()
    run_command(failed_job.service_id, "suspend", admin=find_admin("alice"), clock=CLOCK,
                settings=SETTINGS, reason="Abuse")
    assert ModuleJob.get_by_id(failed_job.id).status == "done"


# --- the daily run -----------------------------------------------------------------------------


def test_the_daily_run_retries_yesterdays_failures_once(failed_job, endpoint):
    endpoint.reply(200, b'{"success": true, "message": "suspended"}')
    tomorrow = real_today().add(days=1)

    first = daily_run(tomorrow)
    again = daily_run(tomorrow)

    assert (first.done, first.failures) == (1, [])
    assert first.details == {"retried": 1, "succeeded": 1, "failed": 0, "closed": 0}
    assert ModuleJob.get_by_id(failed_job.id).status == "done"
    assert reload(failed_job.service).status == "suspended"
    assert (again.done, again.details["retried"]) == (0, 0)
    assert len(endpoint.requests) == 2  # the failed attempt and the one retry


def test_a_failure_from_today_waits_for_tomorrows_run(failed_job, endpoint):
    endpoint.reply()
    result = daily_run(real_today())
    assert result.details["retried"] == 0
    assert ModuleJob.get_by_id(failed_job.id).status == "failed"


def test_a_retry_that_still_fails_is_reported_by_item_and_error(failed_job, endpoint):
    result = daily_run(real_today().add(days=1))
    assert result.done == 0
    assert result.failures == [{
        "item": f"service #{failed_job.service_id} suspend (module job #{failed_job.id})",
        "error": f"webhook {endpoint.url}: HTTP 500 Internal Server Error"}]
    assert ModuleJob.get_by_id(failed_job.id).attempts == 2


def test_the_daily_run_stops_after_the_maximum_attempts(failed_job, endpoint):
    ModuleJob.update(attempts=SETTINGS.module_max_attempts).execute()
    endpoint.reply()
    result = daily_run(real_today().add(days=1))
    assert result.details["retried"] == 0
    assert [j.id for j in modulequeue.pending_jobs()] == [failed_job.id]  # still shown


def test_a_dry_run_counts_the_due_jobs_and_calls_nothing(failed_job, endpoint):
    result = daily_run(real_today().add(days=1), dry_run=True)
    assert result.done == 1
    assert len(endpoint.requests) == 1
    assert ModuleJob.get_by_id(failed_job.id).attempts == 1


def test_a_job_that_no_longer_applies_is_closed_not_run(failed_job, endpoint):
    Service.update(status="terminated").where(Service.id == failed_job.service_id).execute()

    result = daily_run(real_today().add(days=1))

    assert (result.done, result.failures) == (0, [])
    assert result.details["closed"] == 1
    job = ModuleJob.get_by_id(failed_job.id)
    assert job.status == "dismissed"
    assert "Suspend applies to active services; this one is terminated" in job.last_error
    assert len(endpoint.requests) == 1


def test_a_queued_job_written_by_other_code_runs_on_the_next_daily_run(alice, endpoint):
    service = webhook_service(endpoint.url, status="active")
    ModuleJob.create(service=service, command="terminate", status="queued")
    result = daily_run(real_today())
    assert result.done == 1
    assert reload(service).status == "terminated"
    assert endpoint.last_payload()["command"] == "terminate"


def test_pending_jobs_are_paged_by_id_with_their_service_and_client(db):
    client = make_client(first_name="Grace")
    services = [make_service(status="active", client=client, domain=f"s{i}.example")
                for i in range(5)]
    for service in services:
        modulequeue.enqueue_failure(service.id, "suspend", {}, "down", admin=SYSTEM_ADMIN)
    ModuleJob.update(status="done").where(ModuleJob.service == services[1].id).execute()

    first = modulequeue.pending_jobs(limit=2)
    rest = modulequeue.pending_jobs(limit=10, after_id=first[-1].id)

    assert [j.service.domain for j in first] == ["s0.example", "s2.example"]
    assert [j.service.domain for j in rest] == ["s3.example", "s4.example"]
    assert first[0].service.client.first_name == "Grace"


def test_a_job_whose_module_was_uninstalled_fails_visibly_and_the_run_goes_on(failed_job,
                                                                            endpoint):
    Product.update(module="gone").where(Product.id == failed_job.service.product_id).execute()
    other = webhook_service(endpoint.url, status="active", server_name="web2")
    ModuleJob.create(service=other, command="suspend", status="queued")
    endpoint.reply()

    result = daily_run(real_today().add(days=1))

    assert result.details == {"retried": 2, "succeeded": 1, "failed": 1, "closed": 0}
    [failure] = result.failures
    assert "provisioning module 'gone' is not installed" in failure["error"]
    job = ModuleJob.get_by_id(failed_job.id)
    assert (job.status, job.attempts) == ("failed", 2)
    assert reload(other).status == "suspended"


def test_a_withdrawn_suspension_is_never_retried(failed_job, endpoint):
    other = modulequeue.enqueue_failure(failed_job.service_id, "terminate", {}, "down",
                                        admin=SYSTEM_ADMIN)

    withdrawn = modulequeue.withdraw(failed_job.service_id, "suspend", "overdue invoice paid",
                                     SYSTEM_ADMIN)

    assert withdrawn == 1
    job = ModuleJob.get_by_id(failed_job.id)
    assert (job.status, job.last_error) == ("dismissed", "overdue invoice paid")
    assert ModuleJob.get_by_id(other.id).status == "failed"
    endpoint.reply()
    assert daily_run(real_today().add(days=1)).details["retried"] == 1  # the terminate only
    assert reload(failed_job.service).status == "terminated"
