"""`hostdesk backup` and `hostdesk restore` (SQLite online backup; PostgreSQL advice)."""

import subprocess
import sys
import threading
from pathlib import Path

from models.db import bind
from models.schema import Client
from tests import factories as make

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))


def cli(*args):
    return subprocess.run([HOSTDESK, *args], capture_output=True, text=True, timeout=120)


def test_backup_while_writing_then_restore(tmp_path, sqlite_template):
    import shutil

    db_path = tmp_path / "live.db"
    shutil.copy(sqlite_template, db_path)
    url = f"sqlite:///{db_path}"
    db = bind(url)
    for _ in range(50):
        make.client()
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
    assert copy.stat().st_mode & 0o077 == 0
    backed_up = bind(f"sqlite:///{copy}")
    saved = Client.select().count()
    assert saved >= 50
    backed_up.close()

    db = bind(url)
    Client.delete().execute()
    db.close()
    refused = subprocess.run([HOSTDESK, "--db", url, "restore", str(copy)], capture_output=True,
                             text=True, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    restored = cli("--db", url, "restore", str(copy), "--yes")
    assert restored.returncode == 0, restored.stderr
    db = bind(url)
    assert Client.select().count() == saved
    db.close()
    assert cli("--db", url, "backup", str(copy)).returncode == 1  # never overwrites


def test_restore_refuses_files_that_are_not_hostdesk_backups(tmp_path, sqlite_template):
    import shutil
    import sqlite3

    db_path = tmp_path / "live.db"
    shutil.copy(sqlite_template, db_path)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    result = cli("--db", f"sqlite:///{db_path}", "restore", str(other), "--yes")
    assert result.returncode == 1 and "not a hostdesk database" in result.stderr


def test_postgres_backup_explains_pg_dump(pg_server):
    result = cli("--db", pg_server.url("hostdesk_template"), "backup", "x.dump")
    assert result.returncode == 1 and "pg_dump" in result.stderr
