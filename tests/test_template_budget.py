"""Rendering an email template has a time, size and loop budget and survives recursion; one
bad template fails that email visibly and never the daily run's invoicing (issue 19)."""

import time

import pendulum
import pytest

from hostdesk.automation.cron import run_daily
from hostdesk.automation.mail import deliver_one, deliver_outbox
from hostdesk.models.clock import Clock
from hostdesk.models.email_sandbox import RENDER_MAX_CHARS, RENDER_MAX_ITERATIONS
from hostdesk.models.emails import configure_defaults, queue_email, save_template
from hostdesk.models.errors import PermissionDenied, RuleViolation, ValidationError
from hostdesk.models.schema import ActivityLog, Admin, EmailOutbox, EmailTemplate, Invoice
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

NDD = pendulum.date(2026, 3, 15)
SETTINGS = Settings(smtp_port=1)

ATTACKS = {  # body -> what the failure says
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}":
        f"its loops ran more than {RENDER_MAX_ITERATIONS} times",
    "{% for a in range(99999) %}{{ 'x' * 99999 }}{% endfor %}":
        f"it renders more than {RENDER_MAX_CHARS} characters",
    "{% for a in range(99999) %}{{ ('word ' * 19999) | wordcount }}{% endfor %}":
        "it took longer than 2 s to render",
    "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}":
        "calls itself without end (recursion)",
}


@pytest.fixture
def admins(db):
    configure_defaults(SETTINGS)  # as every entry point does at start-up
    Admin.create(login="tester", role="full", email="tester@host.example")
    Admin.create(login="helpdesk", role="support")


def notice(to="ops@example.org"):
    return queue_email("admin_notice", to=to, context={"title": "t", "message": "m"})


@pytest.mark.parametrize("body", list(ATTACKS))
def test_a_costly_template_fails_its_email_quickly_with_the_reason(admins, body):
    EmailTemplate.create(name="admin_notice", subject="Notice", body=body)  # behind our back
    started = time.monotonic()
    email = notice()
    assert time.monotonic() - started < 4
    assert email.status == "failed" and email.render_failed and email.body == ""
    assert ATTACKS[body] in email.last_error
    assert email.last_error.startswith("body: email template 'admin_notice'")
    [log] = ActivityLog.select().where(ActivityLog.action == "email.render_failed")
    assert ATTACKS[body] in log.description


@pytest.mark.parametrize("body", list(ATTACKS))
def test_saving_a_costly_template_is_refused(admins, body):
    started = time.monotonic()
    with pytest.raises(ValidationError) as caught:
        save_template("admin_notice", "Notice", body, as_login("tester"), 0)
    assert time.monotonic() - started < 4
    assert caught.value.field == "body" and ATTACKS[body] in caught.value.message
    assert EmailTemplate.select().count() == 0


def test_saving_a_template_needs_manage_catalog(admins):
    with pytest.raises(PermissionDenied) as caught:
        save_template("admin_notice", "Notice", "{{ message }}", as_login("helpdesk"), 0)
    assert "manage catalog" in str(caught.value)
    assert EmailTemplate.select().count() == 0
    assert save_template("admin_notice", "Notice", "{{ message }}", as_login("tester"), 0).version == 1


def test_an_oversized_template_text_is_refused(admins):
    with pytest.raises(ValidationError, match="longer than 100000 characters"):
        save_template("admin_notice", "Notice", "x" * 100_001, as_login("tester"), 0)


def test_a_broken_invoice_template_never_stops_the_runs_invoicing(admins):
    services = [make.service(next_due_date=NDD) for _ in range(3)]
    EmailTemplate.create(name="invoice_created", subject="Invoice {{ invoice.number }}",
                         body="{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}")

    report = run_daily(SETTINGS, Clock("UTC", NDD.subtract(days=14)))

    assert report.tasks["invoices"]["done"] == 3 and not report.tasks["invoices"]["failures"]
    assert Invoice.select().count() == 3
    emails = list(EmailOutbox.select().where(EmailOutbox.template == "invoice_created"))
    assert len(emails) == len(services)
    assert all(e.status == "failed" and e.render_failed for e in emails)
    assert all("calls itself without end" in e.last_error for e in emails)
    [log] = ActivityLog.select().where(ActivityLog.action == "email.render_failed")
    assert log.description.startswith("3 emails from template 'invoice_created' not sent")
    # never sent, not even by "retry now"
    assert deliver_outbox(SETTINGS).sent == 0
    assert all(EmailOutbox.get_by_id(e.id).attempts == 0 for e in emails)
    with pytest.raises(RuleViolation, match="was never written"):
        deliver_one(emails[0].id, SETTINGS)


def test_good_templates_render_as_before(admins):
    email = notice()
    assert email.status == "queued" and not email.render_failed
    assert email.body == "m\n"
