"""Shared fixtures. Database tests take the `db` fixture and run once per engine.

`--engines sqlite,postgres` (default both, or HOSTDESK_TEST_ENGINES) picks the engines. The
PostgreSQL server is started by the suite itself and stopped at the end.
"""

import os
import shutil

import pytest

from hostdesk.models import secrets
from hostdesk.models.db import bind, database, migrate
from tests.mariadb import MariaDBServer
from tests.pg_databases import TestDatabases
from tests.pgserver import PostgresServer

ENGINES = ("sqlite", "postgres")
TEST_SECRET_KEY = "test-secret-key-for-hostdesk-tests-only"


def pytest_addoption(parser):
    parser.addoption(
        "--engines",
        default=os.environ.get("HOSTDESK_TEST_ENGINES", ",".join(ENGINES)),
        help="comma separated database engines to run the database tests on",
    )
    parser.addoption(
        "--screen-engines",
        default=os.environ.get("HOSTDESK_TEST_SCREEN_ENGINES", "sqlite"),
        help="engines for the screen (Pilot) tests under tests/tui; the rules under them are "
             "covered on every engine by the database tests",
    )


def pytest_generate_tests(metafunc):
    if "engine" in metafunc.fixturenames:
        option = "screen_engines" if "/tests/tui/" in str(metafunc.definition.path) else "engines"
        chosen = metafunc.config.getoption(option).split(",")
        allowed = metafunc.config.getoption("engines").split(",")
        engines = [e for e in chosen if e and e in allowed]
        metafunc.parametrize("engine", engines, scope="session")


# The longest files, longest first (`--durations`): `make test` hands whole files to its two
# workers in collection order, and one of these started last ran alone for minutes at the end.
LONGEST_FILES = ("test_bad_input_forms.py", "test_setup_screens.py", "test_service_screen.py",
                 "test_portal_cli.py", "test_reopen_screens.py", "test_setup_from_zero_by_keys.py",
                 "test_demo.py", "test_export.py", "test_search.py", "test_bench_smoke.py",
                 "test_order_form.py", "test_activity_search.py")


def pytest_collection_modifyitems(config, items):
    """Screen tests redraw on a timer: on a loaded machine one can, rarely, read the screen a
    frame early. They get one rerun, reported as such; a real failure fails twice."""
    for item in items:
        if "/tests/tui/" in str(item.path):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))
    rank = {name: place for place, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept within


RERUN_TRACE_LINES = 25


def pytest_terminal_summary(terminalreporter):
    """What each rerun test failed with the first time: the rerun passes, but its cause would
    otherwise be lost, and a flaky test is fixed from it (a CI log is all there is)."""
    reruns = terminalreporter.stats.get("rerun", [])
    if not reruns:
        return
    terminalreporter.section("why tests were rerun")
    for report in reruns:
        terminalreporter.line(f"{report.nodeid} ({report.when}):")
        for line in report.longreprtext.splitlines()[-RERUN_TRACE_LINES:]:
            terminalreporter.line(f"    {line}")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """Tests never see the developer's config, data dir or database."""
    for key in list(os.environ):
        if key.startswith("HOSTDESK_") and key != "HOSTDESK_TEST_ENGINES":
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOSTDESK_SECRET_KEY", TEST_SECRET_KEY)
    secrets.configure(TEST_SECRET_KEY)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def pg_server():
    server = PostgresServer().start()
    server.admin_sql("CREATE DATABASE hostdesk_template")
    template = bind(server.url("hostdesk_template"))
    migrate(template)
    template.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    template.close()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_databases(pg_server):
    """This worker's fresh PostgreSQL databases, each emptied after its test and used again
    (`tests.pg_databases`)."""
    return TestDatabases(pg_server, "hostdesk_template")


@pytest.fixture(scope="session")
def mariadb_server():
    """A MariaDB server for the WHMCS import tests, started once per session."""
    server = MariaDBServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.db"
    template = bind(f"sqlite:///{path}")
    migrate(template)
    template.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    template.close()
    return path


_counter = iter(range(1, 10**9))


@pytest.fixture
def new_database_url(engine, request, tmp_path):
    """A factory of URLs of fresh, migrated, empty databases of the engine under test."""

    def make() -> str:
        number = next(_counter)
        if engine == "sqlite":
            path = tmp_path / f"hostdesk-{number}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        databases = request.getfixturevalue("pg_databases")
        name = databases.take()
        request.addfinalizer(lambda: databases.give_back(name))
        return databases.server.url(name)

    return make


@pytest.fixture
def db_url(new_database_url):
    """The URL of a fresh, migrated, empty database of the engine under test."""
    return new_database_url()


@pytest.fixture
def db(db_url):
    """The real database bound to every model, opened for this test."""
    real = bind(db_url)
    real.connect(reuse_if_open=True)
    yield real
    if not real.is_closed():
        real.close()
    database.initialize(None)
