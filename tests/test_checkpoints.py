"""A bulk job on SQLite lets the write-ahead log grow and copies it back into the database file
once at the end (`models.db.few_checkpoints`); the daily run has it copied on a connection of
its own while its next tasks go on, and the process waits for that copy before it exits."""

import shutil
import sqlite3
import threading

import pytest

from hostdesk.models.db import database, few_checkpoints, sqlite_path_from_url


def rows_in_the_database_file_alone(db_url, tmp_path) -> int:
    """What a reader of the database file sees without its log: what was copied back."""
    alone = tmp_path / "alone.db"
    shutil.copy(sqlite_path_from_url(db_url), alone)
    with sqlite3.connect(alone) as reader:
        return reader.execute("SELECT COUNT(*) FROM bulk").fetchone()[0]


@pytest.mark.parametrize("meanwhile", [False, True])
def test_a_bulk_job_leaves_its_rows_copied_into_the_database_file(db, engine, db_url, tmp_path,
                                                                  meanwhile):
    if engine != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    database.execute_sql("CREATE TABLE bulk (n INTEGER, text TEXT)")
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the table, in the file
    with few_checkpoints(copy_back_meanwhile=meanwhile):
        for start in range(0, 3000, 500):
            with database.atomic():
                database.execute_sql("INSERT INTO bulk VALUES " + ", ".join(
                    f"({n}, '{'x' * 500}')" for n in range(start, start + 500)))
        assert rows_in_the_database_file_alone(db_url, tmp_path) == 0  # all in the log so far
    for thread in threading.enumerate():
        if thread.name == "hostdesk-checkpoint":
            assert meanwhile
            thread.join(10)
    assert rows_in_the_database_file_alone(db_url, tmp_path) == 3000
