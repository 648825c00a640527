"""What a user sees when things are wrong around the command (issue 19): one line and a
documented exit status, never a traceback; the database password masked everywhere; a
database URL's options honoured; an untrusted config file refused; a mistyped --db creates
nothing; the TUI without a terminal says so instead of writing escape codes.

Exit status: 0 ok, 1 a task failed, 2 bad input, 3 another run holds the lock, 4 refused by a
rule or permission, 5 database unavailable."""

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostdesk.automation.config import load_config
from hostdesk.models.db import connect_url
from hostdesk.models.errors import ValidationErrors

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
PASSWORD = "hunter2-very-secret"


def cli(*args, stdin=subprocess.DEVNULL, timeout=60, **kw):
    return subprocess.run([HOSTDESK, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=stdin, **kw)


def one_line(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def initialised(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    assert cli("--db", url, "init").returncode == 0
    return url


# --- the database password ------------------------------------------------------------------


def test_config_show_and_errors_never_print_the_database_password(tmp_path):
    url = f"postgresql://billing:{PASSWORD}@127.0.0.1:{closed_port()}/hostdesk"
    shown = cli("--db", url, "config", "show")
    assert shown.returncode == 0 and PASSWORD not in shown.stdout
    assert "billing:****@127.0.0.1" in shown.stdout
    down = cli("--db", url, "cron", "--date", "2026-01-01", "--allow-far-date")
    assert down.returncode == 5, down.stderr
    line = one_line(down)
    assert line.startswith("hostdesk: database unavailable") and PASSWORD not in line
    assert "****" in line


def test_postgres_errors_are_one_line_and_the_urls_options_reach_the_driver(pg_server):
    missing = cli("--db", pg_server.url("no_such_database"), "cron", "--date", "2026-01-01", "--allow-far-date")
    assert missing.returncode == 5 and "no_such_database" in one_line(missing)
    ssl = cli("--db", pg_server.url("hostdesk_template") + "?sslmode=require", "backup", "x")
    assert ssl.returncode == 5 and "SSL" in one_line(ssl)  # sslmode reached libpq
    db = connect_url(pg_server.url("hostdesk_template") + "?application_name=hd-probe"
                     "&connect_timeout=3")
    db.connect()
    try:
        assert db.execute_sql("SHOW application_name").fetchone()[0] == "hd-probe"
    finally:
        db.close()


# --- the database file ----------------------------------------------------------------------


def test_a_directory_or_a_file_that_is_not_sqlite_is_reported_in_one_line(tmp_path):
    folder = tmp_path / "folder.db"
    folder.mkdir()
    as_dir = cli("--db", f"sqlite:///{folder}", "cron")
    assert as_dir.returncode == 5 and "database unavailable" in one_line(as_dir)
    text = tmp_path / "notes.db"
    text.write_bytes(b"these are not the pages you are looking for\n" * 200)
    not_sqlite = cli("--db", f"sqlite:///{text}", "cron")
    assert not_sqlite.returncode == 5 and "not a database" in one_line(not_sqlite)
    assert text.read_bytes().startswith(b"these are not")


def test_a_database_locked_by_another_program_is_unavailable_not_a_crash(tmp_path):
    url = initialised(tmp_path)
    path = url[len("sqlite:///"):]
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
         "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')\n"
         "c.execute('CREATE TABLE IF NOT EXISTS other_program (x)')\n"
         "print('locked', flush=True); time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        locked = cli("--db", url, "cron", "--date", "2026-01-01", "--allow-far-date", timeout=90)
        assert locked.returncode == 5 and "locked" in one_line(locked)
        assert time.monotonic() - started < 60
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_database_is_unavailable_not_a_crash(tmp_path):
    url = initialised(tmp_path)
    path = Path(url[len("sqlite:///"):])
    sqlite3.connect(path).execute("PRAGMA journal_mode=delete").connection.close()
    path.chmod(0o400)
    result = cli("--db", url, "cron", "--date", "2026-01-01", "--allow-far-date")
    assert result.returncode == 5 and "readonly" in one_line(result).replace("read-only", "readonly")


def test_a_mistyped_db_path_creates_nothing(tmp_path):
    typo = tmp_path / "typo" / "hostdsk.db"
    for args in (("cron", "--dry-run"), ("cron",), ("backup", str(tmp_path / "b.db")),
                 ("restore", str(tmp_path / "b.db"), "--yes"), ("config", "show")):
        result = cli("--db", f"sqlite:///{typo}", *args)
        assert result.returncode in (0, 2), result.stderr
        if result.returncode:
            one_line(result)
    assert not typo.exists() and not typo.parent.exists()
    assert not (tmp_path / "b.db").exists()


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already gone
    result = subprocess.run([HOSTDESK, "--db", f"sqlite:///{tmp_path / 'x.db'}", "config",
                             "show"], stdout=write_end, stderr=subprocess.PIPE, text=True,
                            timeout=60)
    os.close(write_end)
    assert result.returncode == 0 and result.stderr == ""


# --- the config file ------------------------------------------------------------------------


def test_a_config_file_others_may_write_is_refused(tmp_path):
    config = tmp_path / "hostdesk.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "attacker.db"}"\n')
    config.chmod(0o666)
    result = cli("config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert "may be written by other users" in one_line(result) and "0666" in result.stderr
    config.chmod(0o644)
    assert cli("config", "show", cwd=tmp_path).returncode == 0


def test_a_config_file_owned_by_another_user_is_refused(tmp_path):
    config = tmp_path / "hostdesk.toml"
    config.write_text("invoice_days = 3\n")
    config.chmod(0o644)
    if os.geteuid() != 0:  # the file is ours: stand for another account reading it
        with pytest.raises(ValidationErrors, match="owned by another user"):
            load_config(str(config), euid=os.geteuid() + 4321)
        return
    os.chown(config, 65534, 65534)  # root can make the file really belong to someone else
    with pytest.raises(ValidationErrors, match="owned by another user"):
        load_config(str(config))
    result = cli("--config", str(config), "config", "show")
    assert result.returncode == 2 and "owned by another user" in one_line(result)


def test_a_key_file_others_may_read_is_refused(tmp_path):
    key_file = tmp_path / "xdg-config" / "hostdesk" / "secret.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("x" * 10 + "Fernet-like-but-readable-by-all-0123456789\n")
    key_file.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k != "HOSTDESK_SECRET_KEY"}
    result = cli("config", "show", env=env)
    assert result.returncode == 2 and "may be read or written by other users" in one_line(result)


# --- the TUI without a terminal -------------------------------------------------------------


def test_the_tui_without_a_terminal_exits_with_a_message(tmp_path):
    url = initialised(tmp_path)
    result = cli("--db", url)
    assert result.returncode == 2 and "needs a terminal" in one_line(result)
    assert result.stdout == ""  # no escape codes
