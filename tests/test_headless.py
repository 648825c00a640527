"""The headless path never imports the TUI framework; the CLI works end to end."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
CORE_PACKAGES = ["models", "automation"]


def _core_modules() -> list[str]:
    root = Path(__file__).resolve().parent.parent
    names = []
    for package in CORE_PACKAGES:
        for path in (root / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            module = ".".join(("hostdesk", *path.relative_to(root).with_suffix("").parts))
            names.append(module.removesuffix(".__init__"))
    return sorted(names)


def test_core_modules_never_import_textual_or_rich():
    modules = _core_modules()
    assert "hostdesk.models.invoicing" in modules and "hostdesk.automation.cron" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cron_command_never_imports_textual(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    code = (
        "import sys\n"
        "from hostdesk.tui.cli import main\n"
        f"main(['--db', {url!r}, 'init'])\n"
        f"rc = main(['--db', {url!r}, 'cron', '--date', '2026-01-01', '--allow-far-date',"
        " '--json'])\n"
        "assert rc == 0, rc\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print('IMPORTED:' + ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "IMPORTED:"


def test_export_command_never_imports_textual(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    code = (
        "import sys\n"
        "from hostdesk.tui.cli import main\n"
        f"main(['--db', {url!r}, 'init'])\n"
        f"rc = main(['--db', {url!r}, 'export', 'services', '--format', 'csv'])\n"
        "assert rc == 0, rc\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print('IMPORTED:' + ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "IMPORTED:"


def test_a_headless_command_leaves_dateutils_parser_unloaded_until_pendulum_needs_it(tmp_path):
    """pendulum imports dateutil's parser for text that is not ISO 8601; a `hostdesk` process
    loads it (and dateutil.tz, tempfile, ctypes) only when such text is parsed."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    code = (
        "import sys\n"
        "from hostdesk.tui.cli import main\n"
        f"main(['--db', {url!r}, 'init'])\n"
        f"assert main(['--db', {url!r}, 'cron', '--dry-run', '--date', '2026-01-01',"
        " '--allow-far-date', '--json']) == 0\n"
        "print('BEFORE', 'dateutil.tz' in sys.modules)\n"
        "import pendulum\n"
        "print('ISO', pendulum.parse('2026-01-02').date(), 'dateutil.tz' in sys.modules)\n"
        "print('TEXT', pendulum.parse('Jan 3 2026', strict=False).date(),"
        " 'dateutil.tz' in sys.modules)\n"
        "from dateutil import parser\n"
        "print('AGAIN', parser.parse('5 Mar 2026').date(), pendulum.parse('Feb 4 2026', strict=False).date())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-4:] == [
        "BEFORE False", "ISO 2026-01-02 False", "TEXT 2026-01-03 True",
        "AGAIN 2026-03-05 2026-02-04"]


def test_the_program_ends_a_headless_command_without_the_teardown_and_collects_otherwise(
        tmp_path):
    """The `hostdesk` program starts with the garbage collector off. A headless command keeps
    it off and its process ends without the interpreter's teardown, its answer and exit
    status whole and the exit handlers run; any other command turns it back on (the TUI and
    the daily run last) and exits as usual."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    assert run_cli("--db", url, "init").returncode == 0
    code = ("import atexit, gc, sys\n"
            "from hostdesk.tui.program import run\n"
            "class Torn:\n"
            "    def __del__(self):\n"
            "        print('TORN DOWN', flush=True)\n"
            "kept = Torn()  # freed by the teardown, with this module\n"
            "atexit.register(lambda: print('EXIT HANDLER, collector on:', gc.isenabled()))\n"
            "sys.argv = ['hostdesk', *sys.argv[1:]]\n"
            "run()\n")
    looked = subprocess.run([sys.executable, "-c", code, "--db", url, "client", "show", "999",
                             "--json"], capture_output=True, text=True, timeout=60)
    assert looked.returncode == 2, looked.stderr  # no client 999: bad input
    assert looked.stdout.splitlines() == [
        json.dumps({"error": {"kind": "bad_input", "field": "client",
                              "message": "there is no client #999"}}),
        "EXIT HANDLER, collector on: False"]
    status = subprocess.run([sys.executable, "-c", code, "--db", url, "db", "status", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[-2:] == ["EXIT HANDLER, collector on: True", "TORN DOWN"]
    assert json.loads("\n".join(status.stdout.splitlines()[:-2]))["pending_migrations"] == []


def run_cli(*args, env=None, timeout=60):
    return subprocess.run([HOSTDESK, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_init_then_cron_prints_a_json_report(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    init = run_cli("--db", url, "init")
    assert init.returncode == 0, init.stderr
    assert "database ready" in init.stdout
    cron = run_cli("--db", url, "cron", "--date", "2026-01-01", "--allow-far-date", "--json")
    assert cron.returncode == 0, cron.stderr
    report = json.loads(cron.stdout)
    assert report["date"] == "2026-01-01" and report["ok"] is True
    assert list(report["tasks"]) == ["invoices", "reminders", "cancellations", "suspensions",
                                     "terminations", "fixed_term", "module_queue", "email",
                                     "maintenance"]
    assert (tmp_path / "x.db").stat().st_mode & 0o077 == 0


def test_cron_refuses_an_uninitialised_database_and_bad_dates(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = run_cli("--db", url, "cron")
    assert result.returncode != 0 and "hostdesk init" in result.stderr
    run_cli("--db", url, "init")
    bad = run_cli("--db", url, "cron", "--date", "2026-02-30")
    assert bad.returncode == 2 and "--date: 2026-02-30 is not a date" in bad.stderr


def test_a_second_concurrent_cron_exits_at_once(engine, db_url):
    """While one run holds the lock, another exits non-zero immediately, changing nothing."""
    from hostdesk.models import runlock
    from hostdesk.models.db import bind
    from hostdesk.models.schema import CronRun

    db = bind(db_url)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        acquired, _ = runlock.acquire(holder=f"{os.uname().nodename}:{holder.pid}")
        assert acquired
        started = time.monotonic()
        second = run_cli("--db", db_url, "cron", "--date", "2026-01-01", "--allow-far-date",
                         "--json")
        assert second.returncode == 3
        assert "a daily run is in progress" in second.stderr
        assert time.monotonic() - started < 10
        assert CronRun.select().count() == 0
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone (as after a SIGKILL): its stale lock is taken over.
    after = run_cli("--db", db_url, "cron", "--date", "2026-01-01", "--allow-far-date", "--json")
    assert after.returncode == 0, after.stderr
    assert CronRun.select().count() == 1
    db.close()


def test_config_show_names_each_source(tmp_path):
    (tmp_path / "hostdesk.toml").write_text('[billing]\ninvoice_days = 7\n')
    result = run_cli("--db", f"sqlite:///{tmp_path / 'c.db'}", "config", "show",
                     env={"HOSTDESK_SUSPEND_DAYS": "9"})
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "7" in lines["invoice_days"] and "hostdesk.toml" in lines["invoice_days"]
    assert "9" in lines["suspend_days"] and "HOSTDESK_SUSPEND_DAYS" in lines["suspend_days"]
    assert "(default)" in lines["terminate_days"]
    assert "(--db)" in lines["database_url"]


def test_config_errors_are_all_reported(tmp_path):
    (tmp_path / "hostdesk.toml").write_text('invoice_days = "soon"\ncolour = "blue"\n'
                                            'prorata_day_basis = "lunar"\n')
    result = run_cli("config", "show")
    assert result.returncode == 2
    assert "invoice_days" in result.stderr and "colour" in result.stderr
    assert "prorata_day_basis" in result.stderr and "calendar or thirty_day" in result.stderr


def test_missing_secret_key_is_a_clear_startup_error_and_init_creates_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HOSTDESK_SECRET_KEY"}
    url = f"sqlite:///{tmp_path / 'k.db'}"
    run = lambda *a: subprocess.run([HOSTDESK, *a], capture_output=True, text=True,  # noqa: E731
                                    env=env, timeout=60)
    init = run("--db", url, "init")
    assert init.returncode == 0 and "generated a secret key" in init.stdout
    key_file = tmp_path / "xdg-config" / "hostdesk" / "secret.key"
    assert key_file.stat().st_mode & 0o077 == 0 and len(key_file.read_text().strip()) > 20
    assert run("--db", url, "cron", "--date", "2026-01-01", "--allow-far-date").returncode == 0
    key_file.unlink()
    refused = run("--db", url, "cron", "--date", "2026-01-01", "--allow-far-date")
    assert refused.returncode == 2 and "no secret key is configured" in refused.stderr
