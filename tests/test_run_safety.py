"""The daily run stays bounded and never destroys in bulk by mistake (issue 19, points 1 and 3):
its deadline, its lock, the termination guard and the far-date check."""

import os
import socket
import subprocess
import sys
import time
from decimal import Decimal

import pendulum
import pytest

from hostdesk.automation.identity import OsAccount

from hostdesk.automation.cron import confirm_terminations, run_daily
from hostdesk.models import invoicing, runlock
from hostdesk.models.clock import Clock
from hostdesk.models.db import bind
from hostdesk.models.errors import PermissionDenied, RunInProgress, ValidationError
from hostdesk.models.schema import (
    Admin,
    CronRun,
    EmailOutbox,
    HeldTermination,
    Invoice,
    RunLock,
    Service,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

NDD = pendulum.date(2026, 3, 15)
SETTINGS = Settings(smtp_port=1, admin_notice_email="")  # no mail server: nothing leaves the machine


@pytest.fixture
def admins(db):
    """Who the termination guard alerts: active full admins with an email, only them."""
    Admin.create(login="tester", role="full", email="tester@host.example")
    Admin.create(login="ops", role="full", email="ops@host.example")
    Admin.create(login="noemail", role="full")
    Admin.create(login="gone", role="full", email="gone@host.example", active=False)
    Admin.create(login="helpdesk", role="support", email="help@host.example")


def overdue_host(services: int, overdue: int):
    """`services` live services, the first `overdue` of them billed and never paid."""
    rows = [make.service(next_due_date=NDD if i < overdue else NDD.add(months=6))
            for i in range(services)]
    run_daily(SETTINGS, Clock("UTC", NDD.subtract(days=14)))  # invoices the overdue ones
    return rows


class FakeTimer:
    """Monotonic seconds the test moves forward (the deadline and the heartbeat's pace)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# --- the run as a whole has a deadline -----------------------------------------------------


def test_the_run_stops_at_its_deadline_and_says_what_ran_and_what_did_not(admins):
    overdue_host(services=3, overdue=3)
    timer = FakeTimer()

    def progress(task, done, total):
        if task == "invoices":
            timer.now += 61 * 60  # the invoicing took longer than the whole run may

    settings = Settings(smtp_port=1, run_deadline_minutes=60)
    report = run_daily(settings, Clock("UTC", NDD.add(days=5)), progress=progress, timer=timer)

    assert not report.ok
    assert report.stopped == ("the run's deadline of 60 minutes (setting run_deadline_minutes) "
                              "passed")
    assert list(report.tasks) == ["invoices"]  # stopped at its next heartbeat, mid-task
    assert report.tasks["invoices"]["failures"][0]["error"].startswith("stopped: the run's")
    assert report.not_run == ["reminders", "cancellations", "suspensions", "terminations",
                              "fixed_term", "module_queue", "email", "maintenance"]
    assert Service.select().where(Service.status == "suspended").count() == 0  # not reached
    run = CronRun.get_by_id(report.run_id)
    assert run.status == "failed" and '"stopped"' in run.report
    assert not RunLock.select().exists()  # released: the next run can start


def test_cli_summary_names_the_stop_and_the_tasks_not_run(admins, capsys):
    from hostdesk.tui.cli import _print_summary

    overdue_host(services=1, overdue=1)
    timer = FakeTimer()
    report = run_daily(Settings(smtp_port=1, run_deadline_minutes=1),
                       Clock("UTC", NDD.add(days=5)), timer=timer,
                       progress=lambda *a: setattr(timer, "now", timer.now + 120))
    _print_summary(report)
    out = capsys.readouterr().out
    assert "the run stopped early: the run's deadline of 1 minutes" in out
    assert "tasks not run: reminders, cancellations, suspensions, terminations" in out


# --- the lock: the run stops when it is no longer its own ----------------------------------


def test_a_run_whose_lock_is_taken_stops_at_once(admins):
    overdue_host(services=4, overdue=4)
    timer = FakeTimer()

    def progress(task, done, total):
        if task == "invoices" and not getattr(progress, "fired", False):
            progress.fired = True
            # another process took the lock over (what an age-based takeover used to do)
            RunLock.update(holder="elsewhere:1").execute()
            timer.now += 10  # the next heartbeat is due

    report = run_daily(SETTINGS, Clock("UTC", NDD.add(days=5)), progress=progress, timer=timer)

    assert "no longer held by this run" in report.stopped
    assert report.not_run and "suspensions" in report.not_run
    assert Service.select().where(Service.status == "suspended").count() == 0
    assert RunLock.get().holder == "elsewhere:1"  # the other holder's lock is left alone


HOLD_LOCK = """
import sys, time
import pendulum
from hostdesk.models.db import bind
from hostdesk.models import runlock
bind(sys.argv[1])
ok, _ = runlock.acquire(now=pendulum.now("UTC").subtract(hours=2))  # heartbeat 2 h old
print("held" if ok else "refused", flush=True)
time.sleep(120)
"""


def test_a_slow_run_keeps_its_lock_and_a_second_process_never_runs_beside_it(admins, db_url):
    """Two processes: the holder is alive but has not heartbeat for two hours (a hung call,
    a stopped process). Age alone used to hand the lock over, and both ran side by side."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db_url],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        acquired, current = runlock.acquire()
        assert not acquired and current.holder.endswith(f":{holder.pid}")
        with pytest.raises(RunInProgress):
            run_daily(SETTINGS, Clock("UTC", NDD))
        assert CronRun.select().count() == 0
    finally:
        holder.kill()
        holder.wait()
    # Now provably gone (its process no longer exists): taken over.
    acquired, _ = runlock.acquire()
    assert acquired
    runlock.release()


def test_a_reused_pid_does_not_keep_a_dead_runs_lock(admins):
    """The pid is alive but belongs to another process than the one that took the lock."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = f"{socket.gethostname()}:{sleeper.pid}"
        RunLock.create(name=runlock.DAILY_RUN, holder=holder, process_start="1",
                       acquired_at=pendulum.now("UTC"), heartbeat_at=pendulum.now("UTC"))
        acquired, _ = runlock.acquire()
        assert acquired
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_lock_from_another_host_is_taken_over_only_when_its_session_is_gone(admins, engine):
    old = pendulum.now("UTC").subtract(hours=1)
    RunLock.create(name=runlock.DAILY_RUN, holder="other-host:4242", acquired_at=old,
                   heartbeat_at=old, db_session=2_000_000_000)  # no such backend
    acquired, _ = runlock.acquire()
    if engine == "sqlite":
        assert not acquired  # nothing proves another host's run is gone
        return
    assert acquired  # PostgreSQL: that session has ended, the holder is gone
    runlock.release()
    from hostdesk.models.db import database

    live = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    RunLock.create(name=runlock.DAILY_RUN, holder="other-host:4242", acquired_at=old,
                   heartbeat_at=old, db_session=live)
    assert runlock.acquire() == (False, RunLock.get())


# --- the termination guard -------------------------------------------------------------------


def test_a_run_that_would_terminate_too_many_suspends_holds_and_alerts(admins):
    services = overdue_host(services=20, overdue=8)  # 8 of 20 is above 5%
    report = run_daily(SETTINGS, Clock("UTC", NDD.add(days=30)))

    statuses = [Service.get_by_id(s.id).status for s in services]
    assert statuses == ["suspended"] * 8 + ["active"] * 12  # suspended as usual
    assert report.held_terminations == 8
    assert report.tasks["terminations"]["done"] == 0
    details = report.tasks["terminations"]["details"]
    assert details["held"] == 8 and details["live_services"] == 20
    assert details["confirm"] == f"hostdesk cron --confirm-terminations {report.run_id}"
    assert details["admins_alerted"] == 2
    held = list(HeldTermination.select().order_by(HeldTermination.service))
    assert [(h.service_id, h.kind, h.status) for h in held] == [
        (s.id, "overdue", "held") for s in services[:8]]
    alerts = list(EmailOutbox.select().where((EmailOutbox.template == "admin_notice")
                                             & EmailOutbox.subject.contains("confirmation"))
                  .order_by(EmailOutbox.to_address))
    assert [a.to_address for a in alerts] == ["ops@host.example", "tester@host.example"]
    assert "8 terminations wait for your confirmation" in alerts[0].subject
    assert f"hostdesk cron --confirm-terminations {report.run_id}" in alerts[0].body
    # the next run the same day holds nothing twice and still terminates nothing
    again = run_daily(SETTINGS, Clock("UTC", NDD.add(days=30)))
    assert again.tasks["terminations"]["done"] == 0
    assert HeldTermination.select().count() == 8


def test_an_admin_confirms_exactly_the_held_terminations(admins):
    services = overdue_host(services=20, overdue=8)
    report = run_daily(SETTINGS, Clock("UTC", NDD.add(days=30)))
    # a client pays meanwhile: that service is no longer due for termination
    invoice = Invoice.select().where(Invoice.client == services[0].client_id).get()
    invoicing.record_payment(invoice.id, str(invoice.total), date=NDD.add(days=30),
                             method="card", admin=as_login("tester"))

    with pytest.raises(PermissionDenied):
        confirm_terminations(report.run_id, admin=as_login("helpdesk"), settings=SETTINGS)
    assert HeldTermination.select().where(HeldTermination.status == "held").count() == 8

    outcome = confirm_terminations(report.run_id, admin=as_login("ops"), settings=SETTINGS)

    assert sorted(outcome.terminated) == sorted(s.id for s in services[1:8])
    assert outcome.skipped == [{"item": f"service #{services[0].id}",
                                "reason": "no longer due for termination"}]
    assert [Service.get_by_id(s.id).status for s in services[1:8]] == ["terminated"] * 7
    assert Service.get_by_id(services[8].id).status == "active"  # never held, untouched
    with pytest.raises(ValidationError):  # nothing twice
        confirm_terminations(report.run_id, admin=as_login("ops"), settings=SETTINGS)


def test_fixed_term_terminations_count_too(admins):
    fixed = make.product(auto_terminate_days=30)
    ended = [make.service(product_row=fixed, registration_date=NDD.subtract(days=40),
                          next_due_date=NDD.add(months=1)) for _ in range(3)]
    for _ in range(7):
        make.service(next_due_date=NDD.add(months=1))
    report = run_daily(SETTINGS, Clock("UTC", NDD))
    assert report.held_terminations == 3 and report.tasks["fixed_term"]["done"] == 0
    assert [Service.get_by_id(s.id).status for s in ended] == ["active"] * 3
    # a later run, even one the guard would let through, leaves held terminations to the admin
    roomy = Settings(smtp_port=1, terminate_guard_percent=50)
    assert run_daily(roomy, Clock("UTC", NDD.add(days=1))).tasks["fixed_term"]["done"] == 0
    assert [Service.get_by_id(s.id).status for s in ended] == ["active"] * 3
    outcome = confirm_terminations(report.run_id, admin=as_login("tester"), settings=SETTINGS)
    assert sorted(outcome.terminated) == [s.id for s in ended]


def test_within_the_guard_terminations_go_ahead(admins):
    overdue_host(services=40, overdue=2)  # exactly 5%: not more than the guard
    report = run_daily(SETTINGS, Clock("UTC", NDD.add(days=30)))
    assert report.held_terminations == 0 and report.tasks["terminations"]["done"] == 2
    assert HeldTermination.select().count() == 0


def test_the_count_limit_holds_even_a_small_share(admins):
    overdue_host(services=30, overdue=3)
    settings = Settings(smtp_port=1, terminate_guard_percent=100, terminate_guard_count=2)
    assert run_daily(settings, Clock("UTC", NDD.add(days=30))).held_terminations == 3


# --- the command line ------------------------------------------------------------------------


def cli(db_url, *args, capsys, account=None):
    from hostdesk.tui.cli import main

    code = main(["--db", db_url, *args], os_account=account)
    return code, capsys.readouterr()


def test_a_far_date_needs_an_explicit_flag(admins, db_url, capsys):
    """The review's probe: `hostdesk cron --date 2062-12-05` terminated 79 of 90 services."""
    services = overdue_host(services=5, overdue=5)
    far = pendulum.today("UTC").add(years=36).date().isoformat()
    runs_before = CronRun.select().count()
    code, out = cli(db_url, "cron", "--date", far, capsys=capsys)
    assert code == 2
    assert f"--date {far} is " in out.err and "--allow-far-date" in out.err
    assert len(out.err.strip().splitlines()) == 1
    assert CronRun.select().count() == runs_before  # nothing ran
    assert [Service.get_by_id(s.id).status for s in services] == ["active"] * 5
    code, _ = cli(db_url, "cron", "--date", far, "--dry-run", capsys=capsys)
    assert code in (0, 1)  # a dry run changes nothing, so it needs no flag
    assert [Service.get_by_id(s.id).status for s in services] == ["active"] * 5
    near = pendulum.today("UTC").add(days=3).date().isoformat()
    assert cli(db_url, "cron", "--date", near, "--json", capsys=capsys)[0] in (0, 1)


def test_confirm_from_the_command_line(admins, db_url, capsys):
    services = overdue_host(services=10, overdue=4)
    day = NDD.add(days=30).isoformat()
    code, out = cli(db_url, "cron", "--date", day, "--allow-far-date", capsys=capsys)
    run_id = CronRun.select().order_by(CronRun.id.desc()).first().id
    assert "termination guard: 4 terminations of 10 live services exceed" in out.out
    assert f"hostdesk cron --confirm-terminations {run_id}" in out.out
    # other OS accounts than the database's owner: only the permission lets them confirm
    code, out = cli(db_url, "cron", "--confirm-terminations", str(run_id), capsys=capsys,
                    account=OsAccount(uid=54321, login="helpdesk"))
    assert code == 4 and "run daily tasks" in out.err
    code, out = cli(db_url, "cron", "--confirm-terminations", str(run_id), capsys=capsys,
                    account=OsAccount(uid=54322, login="ops"))
    assert code == 0, out
    assert f"daily run #{run_id}: 4 terminated, 0 failed, 0 no longer due" in out.out
    assert [Service.get_by_id(s.id).status for s in services[:4]] == ["terminated"] * 4
