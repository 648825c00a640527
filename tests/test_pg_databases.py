"""The suite's PostgreSQL databases are used again (`tests.pg_databases`): a database handed
to the next test must be exactly as fresh as a new copy of the template, and one whose shape a
test changed must not be handed on."""

import psycopg2
import pytest

from tests.pg_databases import TestDatabases


@pytest.fixture
def databases(pg_server):
    pool = TestDatabases(pg_server, "hostdesk_template")
    yield pool
    for name in pool.idle:
        pg_server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _sql(server, name, sql):
    return server.admin_sql(sql, dbname=name)


def _state(server, name):
    """What a test could notice of a database besides its shape."""
    return {
        "rows": _sql(server, name, "SELECT (SELECT count(*) FROM setting), "
                                   "(SELECT string_agg(name, ',' ORDER BY id) FROM payment_method),"
                                   " (SELECT count(*) FROM schema_migration)"),
        "next client id": _sql(server, name, "SELECT nextval('client_id_seq')"),
        "next method id": _sql(server, name, "SELECT nextval('payment_method_id_seq')"),
        "statistics": _sql(server, name, "SELECT count(*) FROM pg_statistic WHERE starelid IN "
                                         "(SELECT oid FROM pg_class WHERE relnamespace = "
                                         "'public'::regnamespace)"),
        "sizes": _sql(server, name, "SELECT relname, reltuples, relpages FROM pg_class WHERE "
                                    "relnamespace = 'public'::regnamespace ORDER BY relname"),
    }


def _use(server, name):
    """What a test does to a database: rows written and removed, statistics gathered."""
    _sql(server, name, "INSERT INTO setting (key, value, version) "
                       "SELECT 'key ' || n, 'value', 1 FROM generate_series(1, 50) AS n")
    _sql(server, name, "SELECT nextval('client_id_seq') FROM generate_series(1, 5)")
    _sql(server, name, "DELETE FROM payment_method WHERE id = 1")
    _sql(server, name, "ANALYZE")


def test_a_database_used_again_is_as_fresh_as_a_new_copy(databases, pg_server):
    fresh = databases.take()
    expected = _state(pg_server, fresh)
    databases.give_back(fresh)  # the reads above moved its sequences: it is emptied again
    used = databases.take()
    assert used == fresh
    _use(pg_server, used)
    assert _state(pg_server, used) != expected
    databases.give_back(used)

    again = databases.take()
    assert again == used  # not a new copy
    assert _state(pg_server, again) == expected
    databases.give_back(again)


@pytest.mark.parametrize("change", [
    "CREATE INDEX client_by_phone ON client (phone)",
    "ALTER SEQUENCE invoice_id_seq OWNED BY NONE",
    "ALTER TABLE client ALTER COLUMN notes SET DEFAULT 'x'",
    "ALTER TABLE invoice DISABLE TRIGGER ALL",
    "REVOKE ALL ON service FROM PUBLIC; GRANT SELECT ON service TO PUBLIC",
    "CREATE SCHEMA scratch",
])
def test_a_database_whose_shape_changed_is_dropped(databases, pg_server, change):
    name = databases.take()
    _sql(pg_server, name, change)
    databases.give_back(name)
    assert databases.idle == []
    assert not pg_server.admin_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
    assert databases.take() != name


def test_a_session_the_test_left_open_is_ended_first(databases, pg_server):
    name = databases.take()
    left_open = psycopg2.connect(pg_server.url(name))
    with left_open.cursor() as cur:
        cur.execute("LOCK TABLE client")  # in a transaction never ended
    databases.give_back(name)
    assert databases.idle == [name]
    with pytest.raises(psycopg2.OperationalError):
        with left_open.cursor() as cur:
            cur.execute("SELECT 1")
