"""`hostdesk backup` and `hostdesk restore` (SQLite online backup; PostgreSQL advice).

Issue 19: a restore accepts only a whole hostdesk database this code can run, never during a
daily run, only for a `full` admin, keeps the database it replaces and logs itself; a backup
is private from its first byte and never written through a symbolic link."""

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hostdesk.automation.backup import BackupError, copy_database
from hostdesk.automation.identity import current_os_account
from hostdesk.models.db import APPLICATION_ID, bind
from hostdesk.models.schema import ActivityLog, Admin, Client
from tests import factories as make

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
ME = current_os_account().login


def cli(*args):
    return subprocess.run([HOSTDESK, *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def live(tmp_path, sqlite_template):
    """A live database with 20 clients, the OS account running the tests its full admin."""
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    db = bind(f"sqlite:///{path}")
    Admin.create(login=ME, role="full")
    for _ in range(20):
        make.client()
    db.close()
    return path


def clients(path: Path) -> int:
    db = bind(f"sqlite:///{path}")
    try:
        return Client.select().count()
    finally:
        db.close()


def saved_copies(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.before-restore-*"))


def test_backup_while_writing_then_restore_keeps_the_replaced_database_and_logs(tmp_path, live):
    url = f"sqlite:///{live}"
    stop = threading.Event()

    def keep_writing():
        writer = bind(url)
        while not stop.is_set():
            with writer.atomic():
                make.client(last_name="during-backup")

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        result = cli("--db", url, "backup", str(tmp_path / "copy.db"))
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    copy = tmp_path / "copy.db"
    assert copy.stat().st_mode & 0o777 == 0o600
    saved = clients(copy)
    assert saved >= 20

    db = bind(url)
    Client.delete().execute()
    db.close()
    refused = cli("--db", url, "restore", str(copy))
    assert refused.returncode == 2 and "--yes" in refused.stderr
    restored = cli("--db", url, "restore", str(copy), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert clients(live) == saved
    [before] = saved_copies(live)  # the database it replaced, kept beside it
    assert clients(before) == 0 and before.stat().st_mode & 0o777 == 0o600
    db = bind(url)
    row = ActivityLog.get(ActivityLog.action == "database.restore")
    assert row.admin_login == ME and row.operator == ME
    assert str(copy) in row.description and before.name in row.description
    db.close()
    again = cli("--db", url, "backup", str(copy))
    assert again.returncode == 2 and "exists" in again.stderr  # never overwrites


def _fake_hostdesk_database(path: Path) -> None:
    """The review's attack: any SQLite file with a schema_migration table."""
    fake = sqlite3.connect(path)
    fake.execute("CREATE TABLE schema_migration (id INTEGER PRIMARY KEY, name TEXT)")
    fake.execute("CREATE TABLE client (id INTEGER PRIMARY KEY)")
    fake.commit()
    fake.close()


def _corrupt(source: Path, target: Path) -> None:
    data = bytearray(source.read_bytes())
    for offset in range(8192, len(data) - 4096, 4096):  # scribble on every page but the first
        data[offset + 40:offset + 200] = b"\xde\xad" * 80
    target.write_bytes(bytes(data))


def _from_the_future(source: Path, target: Path) -> None:
    shutil.copy(source, target)
    newer = sqlite3.connect(target)
    newer.execute("INSERT INTO schema_migration (name, applied) VALUES ('9999_future', "
                  "'2030-01-01')")
    newer.commit()
    newer.close()


@pytest.mark.parametrize("kind, message", [
    ("fake", "is not a hostdesk database"),
    ("other_application", "is not a hostdesk database"),
    ("corrupt", "nothing was restored"),
    ("garbage", "nothing was restored"),
    ("newer", "made by a newer hostdesk"),
    ("missing", "no backup file"),
])
def test_restore_refuses_anything_but_a_whole_hostdesk_database(tmp_path, live, sqlite_template,
                                                                kind, message):
    offered = tmp_path / f"{kind}.db"
    if kind == "fake":
        _fake_hostdesk_database(offered)
    elif kind == "other_application":
        shutil.copy(sqlite_template, offered)
        other = sqlite3.connect(offered)
        other.execute(f"PRAGMA application_id = {APPLICATION_ID + 1}")
        other.close()
    elif kind == "corrupt":
        _corrupt(live, offered)
    elif kind == "garbage":
        offered.write_bytes(os.urandom(40_000))
    elif kind == "newer":
        _from_the_future(live, offered)
    result = cli("--db", f"sqlite:///{live}", "restore", str(offered), "--yes")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert clients(live) == 20 and saved_copies(live) == []


def test_restore_waits_for_no_daily_run_and_needs_the_full_role(tmp_path, live):
    from hostdesk.models import runlock

    url = f"sqlite:///{live}"
    backup_file = tmp_path / "good.db"
    assert cli("--db", url, "backup", str(backup_file)).returncode == 0
    db = bind(url)
    Client.delete().execute()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        acquired, _ = runlock.acquire(holder=f"{os.uname().nodename}:{holder.pid}")
        assert acquired
        during_run = cli("--db", url, "restore", str(backup_file), "--yes")
        assert during_run.returncode == 3 and "daily run is in progress" in during_run.stderr
        assert Client.select().count() == 0 and saved_copies(live) == []
    finally:
        holder.kill()
        holder.wait()
    Admin.update(role="support").where(Admin.login == ME).execute()
    db.close()
    support = cli("--db", url, "restore", str(backup_file), "--yes")
    assert support.returncode == 4 and "backup/restore" in support.stderr
    assert cli("--db", url, "backup", str(tmp_path / "b2.db")).returncode == 4
    assert not (tmp_path / "b2.db").exists()
    assert clients(live) == 0 and saved_copies(live) == []


def test_a_backup_is_private_from_its_first_byte_and_never_follows_a_link(tmp_path, live):
    previous = os.umask(0)  # the most permissive umask: only the open mode can protect it
    seen = []
    try:
        target = tmp_path / "snap.db"
        copy_database(live, target,
                      progress=lambda done, total: seen.append(target.stat().st_mode & 0o777))
    finally:
        os.umask(previous)
    assert seen and set(seen) == {0o600}  # while the copy was being written
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "link.db"
    link.symlink_to(victim)
    with pytest.raises(BackupError, match="exists"):
        copy_database(live, link)
    dangling = tmp_path / "dangling.db"
    dangling.symlink_to(tmp_path / "elsewhere.db")
    result = cli("--db", f"sqlite:///{live}", "backup", str(dangling))
    assert result.returncode == 2 and "exists" in result.stderr
    assert victim.read_text() == "keep me" and not (tmp_path / "elsewhere.db").exists()
    bad_dir = cli("--db", f"sqlite:///{live}", "backup", str(victim / "x.db"))
    assert bad_dir.returncode == 2 and "Traceback" not in bad_dir.stderr
    assert "cannot write" in bad_dir.stderr


def test_every_hostdesk_database_carries_the_application_id(tmp_path, sqlite_template):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert cli("--db", url, "init").returncode == 0
    assert sqlite3.connect(tmp_path / "new.db").execute(
        "PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    old = tmp_path / "old.db"  # made before application ids: upgraded by init
    shutil.copy(sqlite_template, old)
    sqlite3.connect(old).execute("PRAGMA application_id = 0").connection.close()
    assert cli("--db", f"sqlite:///{old}", "init").returncode == 0
    assert sqlite3.connect(old).execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_postgres_backup_explains_pg_dump(pg_server):
    result = cli("--db", pg_server.url("hostdesk_template"), "backup", "x.dump")
    assert result.returncode == 2 and "pg_dump" in result.stderr
