"""Honest identity (issue 19, rules §12): the acting admin is the OS account found by uid;
neither `--login` nor LOGNAME/USER makes anyone another admin, only a `full` admin may act as
another and the activity log names both; logins are normalised and `system` is reserved;
`cron`, `init`, `backup` and `restore` check who runs them.

Runs as whoever runs the suite (root in CI): the real OS account is read the same way the
command reads it, and in-process calls stand for another account through `main`'s
`os_account` parameter (nothing a user can set)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hostdesk.automation.identity import OsAccount, current_os_account
from hostdesk.models import admins, audit
from hostdesk.models.errors import PermissionDenied, ValidationError
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import ActivityLog, Admin, CancellationRequest, CronRun
from tests import factories as make
from hostdesk.tui.cli import main

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
ME = current_os_account().login
INTRUDER = OsAccount(uid=os.geteuid() + 4321, login="intruder")


def cli(db_url, *args, env=None):
    return subprocess.run([HOSTDESK, "--db", db_url, *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL)


def cancel(db_url, service, *extra, env=None):
    return cli(db_url, *extra, "cancel-request", str(service.id), "--client", str(service.client_id),
               "--type", "immediate",
               "--reason", "forged?", env=env)


@pytest.fixture
def world(db):
    make.ensure_template("admin_cancellation_notice")
    Admin.create(login="boss", role="full")
    Admin.create(login="helpdesk", role="support")
    return make.service()


FORGED = {"LOGNAME": "boss", "USER": "boss", "LOGIN": "boss", "USERNAME": "boss"}


def test_environment_and_login_flag_forgeries_are_refused_and_change_nothing(world, db_url,
                                                                             tmp_path):
    # The OS account running this test is no admin at all.
    forged_env = cancel(db_url, world, env=FORGED)
    assert forged_env.returncode == 4 and f"{ME} (not an admin)" in forged_env.stderr
    forged_flag = cancel(db_url, world, "--login", "boss")
    assert forged_flag.returncode == 4 and "act as another admin" in forged_flag.stderr
    for args in (("backup", str(tmp_path / "b.db")), ("--login", "boss", "backup",
                                                      str(tmp_path / "b.db"))):
        assert cli(db_url, *args, env=FORGED).returncode in (2, 4)  # PG: pg_dump advice
    assert not (tmp_path / "b.db").exists()
    # A support admin may not act as the full admin either.
    Admin.create(login=ME, role="support")
    as_support = cancel(db_url, world, "--login", "boss")
    assert as_support.returncode == 4 and "act as another admin" in as_support.stderr
    assert CancellationRequest.select().count() == 0
    assert ActivityLog.select().count() == 0


def test_a_full_admin_acting_as_another_is_logged_as_both(world, db_url):
    Admin.create(login=ME, role="full")
    result = cancel(db_url, world, "--login", " HelpDesk ")
    assert result.returncode == 0, result.stderr
    row = ActivityLog.get(ActivityLog.action == "cancellation.request")
    assert (row.admin_login, row.operator) == ("helpdesk", ME)
    assert audit.who(row) == f"{ME} acting as helpdesk"
    from hostdesk.models.listing import ActivitySource

    shown = [r for r in ActivitySource().page(None, 10) if r["action"] == row.action]
    assert shown[0]["admin_login"] == f"{ME} acting as helpdesk"  # the log screen shows both
    assert CancellationRequest.get().requested_by == "helpdesk"


def test_logins_are_normalised_and_system_is_reserved(world, db_url):
    boss = find_admin("BOSS")
    assert boss is not None and boss.login == "boss"
    assert admins.add_admin(boss, "  Ｂｏｂ ", "support").login == "bob"  # NFKC, lower case
    for bad in ("system", "SYSTEM", "ｓｙｓｔｅｍ", "sys\u200btem", "eve\u202e", "tab\tbed", " "):
        with pytest.raises(ValidationError):
            admins.add_admin(boss, bad, "support")
    assert not Admin.select().where(Admin.login.contains("sys")).exists()
    # The review's attack: a support admin named `system` written straight into the table.
    Admin.create(login="system", role="support")
    assert find_admin("system") is None
    with pytest.raises(ValidationError, match="reserved"):
        admins.resolve_identity(ME, "system")
    with pytest.raises(ValidationError, match="reserved"):
        admins.resolve_identity("system")
    Admin.create(login=ME, role="full")
    refused = cancel(db_url, world, "--login", "system")
    assert refused.returncode == 2 and "reserved" in refused.stderr
    assert CancellationRequest.select().count() == 0


def test_resolving_an_identity_never_reads_the_environment(world, monkeypatch):
    monkeypatch.setenv("LOGNAME", "boss")
    monkeypatch.setenv("USER", "boss")
    identity = admins.resolve_identity("intruder")
    assert (identity.login, identity.describe()) == ("intruder", "intruder")
    with pytest.raises(PermissionDenied):
        admins.resolve_identity("intruder", "boss")
    assert admins.resolve_identity("boss", "helpdesk").describe() == "boss acting as helpdesk"


def test_cron_runs_as_the_database_owner_or_an_admin_who_may_run_daily_tasks(tmp_path):
    url = f"sqlite:///{tmp_path / 'owned.db'}"
    assert cli(url, "init").returncode == 0
    cron = ["--db", url, "cron", "--date", "2026-01-01", "--allow-far-date", "--json"]
    assert main(cron, os_account=INTRUDER) == 4  # not the file's owner, not an admin
    from hostdesk.models.db import bind

    db = bind(url)
    assert CronRun.select().count() == 0
    Admin.create(login="intruder", role="support")
    db.close()
    assert main(cron, os_account=INTRUDER) == 4
    db = bind(url)
    assert CronRun.select().count() == 0
    Admin.update(role="full").where(Admin.login == "intruder").execute()
    db.close()
    assert main(cron, os_account=INTRUDER) == 0
    owner = cli(url, "cron", "--date", "2026-01-02", "--allow-far-date", "--json", env=FORGED)
    assert owner.returncode == 0, owner.stderr  # the owner's crontab, whatever LOGNAME says
    db = bind(url)
    assert CronRun.select().count() == 2
    db.close()


def test_init_on_an_existing_database_needs_a_full_admin(tmp_path):
    url = f"sqlite:///{tmp_path / 'i.db'}"
    assert main(["--db", url, "--login", "someone", "init"], os_account=INTRUDER) == 4
    first = cli(url, "init")
    assert first.returncode == 0 and f"admin '{ME}' created" in first.stdout
    from hostdesk.models.db import bind

    db = bind(url)
    db.execute_sql("DELETE FROM schema_migration WHERE name = '0014_activity_operator'")
    db.execute_sql("ALTER TABLE activity_log DROP COLUMN operator")  # as before the upgrade
    db.close()
    assert main(["--db", url, "init"], os_account=INTRUDER) == 4
    db = bind(url)
    assert [a.login for a in Admin.select()] == [ME]
    assert "operator" not in [c.name for c in db.get_columns("activity_log")]  # untouched
    db.close()
    assert cli(url, "init").returncode == 0  # the full admin may upgrade it
