"""`hostdesk cancel-request` files requests headlessly (for a client portal).

The portal's OS account is a `full` admin acting as the `portal` admin (rules §12): the
activity log names both."""

import subprocess
import sys
from pathlib import Path

import pendulum

from hostdesk.automation.identity import current_os_account
from hostdesk.models.schema import ActivityLog, Admin, CancellationRequest, Invoice
from tests import factories as make

ME = current_os_account().login

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))


def cli(db_url, service_id, client, *args, login="portal"):
    return subprocess.run([HOSTDESK, "--db", db_url, "--login", login, "cancel-request",
                           str(service_id), "--client", str(client), *args],
                          capture_output=True, text=True, timeout=60)


def test_cancel_request_from_the_command_line(db, db_url):
    make.ensure_template("admin_cancellation_notice")
    Admin.create(login=ME, role="full")
    Admin.create(login="portal", role="support")
    Admin.create(login="sales", role="sales")
    service = make.service(next_due_date=pendulum.date(2026, 3, 1))
    free = make.service(billing_cycle="free", next_due_date=None)
    mine, theirs = service.client_id, free.client_id
    db.close()

    ok = cli(db_url, service.id, mine, "--type", "end_of_period", "--reason", "moving away")
    assert ok.returncode == 0, ok.stderr
    assert f"service #{service.id}" in ok.stdout
    again = cli(db_url, service.id, mine, "--type", "immediate", "--reason", "now")
    assert again.returncode == 4 and "already has an open cancellation request" in again.stderr
    assert cli(db_url, free.id, theirs, "--type", "immediate", "--reason", "x").returncode == 4
    bad = cli(db_url, "abc", theirs, "--type", "immediate", "--reason", "x")
    assert bad.returncode == 2 and "service:" in bad.stderr
    denied = cli(db_url, free.id, theirs, "--type", "immediate", "--reason", "x", login="sales")
    assert denied.returncode == 4 and "manage cancellation requests" in denied.stderr
    unknown = cli(db_url, free.id, theirs, "--type", "immediate", "--reason", "x", login="nobody")
    assert unknown.returncode == 4
    foreign = cli(db_url, free.id, mine, "--type", "immediate", "--reason", "x")
    assert foreign.returncode == 4 and "is not client" in foreign.stderr

    db.connect(reuse_if_open=True)
    requests = list(CancellationRequest.select())
    assert [(r.service_id, r.type, r.reason, r.requested_by) for r in requests] == [
        (service.id, "end_of_period", "moving away", "portal")]
    logged = ActivityLog.get(ActivityLog.action == "cancellation.request")
    assert (logged.admin_login, logged.operator) == ("portal", ME)
    assert Invoice.select().count() == 0
