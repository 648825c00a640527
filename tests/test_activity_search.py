"""The activity log's search (models/listing.py ActivitySource, migration 0007), both engines.

Words match the admin login, action and description; prefixes narrow by admin, action,
client, object, row id and day; a prefix that cannot be read says why. Also: the text
index and the prefix indexes answer the queries the list runs, the migration indexes the
rows stored before it, and a deleted service can be rebuilt, field by field, from the log.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
from decimal import Decimal

import pendulum
import pytest
from playhouse.migrations import SchemaMigrator

from hostdesk.models import audit, secrets, services
from hostdesk.models.db import MIGRATIONS_DIR, bind, database, is_postgres
from hostdesk.models.errors import ValidationError
from hostdesk.models.fields import MoneyField, PendulumDateField, UTCDateTimeField
from hostdesk.models.listing import ActivitySource, ListFilter
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    ConfigOption,
    ConfigOptionChoice,
    Order,
    Promotion,
    Service,
    ServiceAddon,
    ServiceConfigOption,
)
from hostdesk.models.search import rebuild_activity_index, tidy_activity_index
from tests import factories


def at(text: str) -> pendulum.DateTime:
    return pendulum.parse(text)


# name -> (admin, action, object type, object id, client id, description, when (UTC))
ROWS = {
    "edit_oct": ("alice", "service.edit", "service", 43, 8,
                 "edited service #43 (Überweisung to bank)", at("2026-10-31T23:59:59")),
    "renewal": ("system", "invoice.create", "invoice", 900, 7,
                "renewal invoice #900 for 12.50 USD", at("2026-11-01T02:00:00")),
    "promo": ("bob", "service.promotion_ended", "service", 43, 8,
              "promotion SPRING ended; price now 20.00", at("2026-11-20T23:59:59")),
    "suspend": ("alice", "service.suspend", "service", 42, 7,
                "Suspended overdue: invoice #900 unpaid since 2026-11-15", at("2026-11-25T10:00:00")),
    "retry": ("carol", "email.retry", "email_outbox", 3, None,
              "email to ada@example.com queued again (50% off_season)", at("2026-11-25T23:59:59")),
    "unsuspend": ("system", "service.unsuspend", "service", 42, 7,
                  "Unsuspend succeeded for service #42", at("2026-11-26T00:00:00")),
}


@pytest.fixture
def log(db) -> dict[str, int]:
    """The rows above, in that order (ids ascending); name -> id."""
    ids = {}
    for name, (admin, action, object_type, object_id, client_id, text, when) in ROWS.items():
        row = audit.record(admin, action, object_type, object_id, client_id=client_id,
                           description=text)
        ActivityLog.update(at=when).where(ActivityLog.id == row.id).execute()
        ids[name] = row.id
    return ids


def found(term: str) -> list[int]:
    """The ids the list shows for `term`, newest first, checked against its count."""
    source = ActivitySource()
    flt = ListFilter(term)
    total = source.count(flt)
    rows = source.page(None, 50, flt)
    assert len(rows) == total, term
    return [row["id"] for row in rows]


def named(log: dict[str, int], *names: str) -> list[int]:
    return sorted((log[name] for name in names), reverse=True)


SEARCHES = [  # (what is typed, the rows found)
    # words: each must appear in the admin login, action or description, any case or place
    ("suspended overdue", ["suspend"]),
    ("OVERDUE suspended", ["suspend"]),
    ("alice", ["edit_oct", "suspend"]),
    ("invoice.create", ["renewal"]),
    ("promotion ended", ["promo"]),
    ("unpaid 900", ["suspend"]),
    ("Überweisung", ["edit_oct"]),  # SQLite: non-ASCII letters in the case stored
    ("50% off_", ["retry"]),  # LIKE's wildcards are searched as written
    ("0% o", ["retry"]),  # a short word: the words as typed, one after the other
    ("ended promotion", ["promo"]),
    ("suspended nowhere", []),
    # prefixes
    ("admin:alice", ["edit_oct", "suspend"]),
    ("admin:system", ["renewal", "unsuspend"]),
    ("action:service.", ["edit_oct", "promo", "suspend", "unsuspend"]),
    ("action:service.suspend", ["suspend"]),
    ("ACTION:Invoice.", ["renewal"]),
    ("client:7", ["renewal", "suspend", "unsuspend"]),
    ("client:#8", ["edit_oct", "promo"]),
    ("service 42", ["suspend", "unsuspend"]),
    ("service:43", ["edit_oct", "promo"]),
    ("invoice 900", ["renewal"]),
    ("email_outbox #3", ["retry"]),
    ("invoice #900", ["renewal"]),  # an object, not the text
    ("on:2026-11-25", ["suspend", "retry"]),
    ("since:2026-11-25", ["suspend", "retry", "unsuspend"]),
    ("until:2026-11-01", ["edit_oct", "renewal"]),
    ("since:2026-11-01 until:2026-11-20", ["renewal", "promo"]),
    # combined
    ("admin:alice overdue", ["suspend"]),
    ("client:7 service 42 unsuspend", ["unsuspend"]),
    ("action:service. since:2026-11-21 succeeded", ["unsuspend"]),
    ("admin:bob client:7", []),
    ("on:2026-11-25 email", ["retry"]),
]


def test_words_and_prefixes_find_exactly_the_matching_rows(log):
    for term, expected in SEARCHES:  # one database for all: each case only reads
        assert found(term) == named(log, *expected), term


def test_a_row_id_and_a_number_typed_as_text(log):
    assert found(f"#{log['promo']}") == [log["promo"]]
    assert found(f"#{log['promo']} admin:alice") == []
    assert found("12.50") == [log["renewal"]]  # digits without # search the text
    assert found("#99999999") == []


BAD_SEARCHES = [  # (what is typed, what the admin is told)
    ("since:2026-02-30", "since: 2026-02-30 is not a date"),
    ("until:2026-1-5", "until: '2026-1-5' is not in the form YYYY-MM-DD"),
    ("on:yesterday alice", "on: 'yesterday' is not in the form YYYY-MM-DD"),
    ("client:abc", "client: “abc” is not a client number"),
    ("alice service:x", "service: “x” is not a service number"),
    ("sinse:2026-11-01", "“sinse:” is not a search prefix (use admin:, action:, client:, on:, "
                         "since:, until:, #id or an object such as service 42)"),
    ("ab", "type at least 3 characters to search the text (“ab” is too short)"),
    ("alice since:", "“since:” needs a day (YYYY-MM-DD) after the colon"),  # still typing
    ("Admin:", "“admin:” needs a login after the colon"),
    ("service:", "“service:” needs a service id after the colon"),
]


def test_a_prefix_that_cannot_be_read_says_why(log):
    source = ActivitySource()
    for term, message in BAD_SEARCHES:
        for ask in (lambda: source.search(term), lambda: source.count(ListFilter(term)),
                    lambda: source.page(None, 50, ListFilter(term))):
            with pytest.raises(ValidationError) as raised:
                ask()
            assert (raised.value.field, raised.value.message) == ("search", message), term


def test_pages_forward_backward_and_by_offset_agree_with_the_matches(db):
    """Keyset paging through the text index (SQLite: ordered by its rowid), before and
    after the list counted (the count picks how a page is read)."""
    audit.record_many([
        dict(admin_login=f"admin{n % 3}", action="service.suspend" if n % 2 else "invoice.create",
             object_type="service", object_id=n, client_id=n % 5,
             description=f"{'overdue' if n % 3 else 'paid'} item {n}") for n in range(1, 241)])
    for term, expected in [
        ("overdue item", [i for i in range(240, 0, -1) if i % 3]),
        ("action:service. overdue", [i for i in range(240, 0, -1) if i % 3 and i % 2]),
        ("admin:admin1", [i for i in range(240, 0, -1) if i % 3 == 1]),
    ]:
        for counted_first in (False, True):
            source = ActivitySource()
            flt = ListFilter(term)
            if counted_first:
                assert source.count(flt) == len(expected)
            first = source.page(None, 50, flt)
            assert [r["id"] for r in first] == expected[:50]
            second = source.page(first[-1]["id"], 50, flt)
            assert [r["id"] for r in second] == expected[50:100]
            before = source.page(second[0]["id"], 20, flt, backward=True)
            assert [r["id"] for r in before] == expected[30:50]
            assert [r["id"] for r in source.page(None, 7, flt, backward=True)] == expected[-7:]
            assert [r["id"] for r in source.page_at(17, 10, flt)] == expected[17:27]


# --- the indexes answer the list's queries ---------------------------------------------------

BIG = 60_000


def big_moment(n: int) -> pendulum.DateTime:
    return pendulum.datetime(2026, 1, 1, tz="UTC").add(minutes=n * 5)


_BUILT: dict[str, str] = {}  # engine -> url: pytest may set a module fixture up twice


@pytest.fixture(scope="module")
def big_log_url(engine, request, tmp_path_factory):
    """A database per engine, built once: BIG rows of a few admins, actions and clients over
    200 days, one rare word; with planner statistics, as the daily run keeps them."""
    if engine in _BUILT:
        return _BUILT[engine]
    if engine == "sqlite":
        path = tmp_path_factory.mktemp("activity") / "activity.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        server = request.getfixturevalue("pg_server")
        name = f"activity_big_{os.getpid()}"
        server.admin_sql(f"CREATE DATABASE {name} TEMPLATE hostdesk_template")
        url = server.url(name)
    db = bind(url)
    db.connect()
    try:
        with db.atomic():
            audit.record_many([
                dict(at=big_moment(n), admin_login="system" if n % 10 else f"admin{n % 7}",
                     action="service.delete" if n % 100 == 0 else ("invoice.create", "payment.add",
                                                                     "service.suspend")[n % 3],
                     object_type="service", object_id=n, client_id=n % 2000,
                     description="rare zanzibar" if n == 12_345 else f"renewal invoice #{n} for "
                                                                     f"{n % 90}.00 USD")
                for n in range(1, BIG + 1)])
        db.execute_sql("VACUUM ANALYZE" if is_postgres(db) else "ANALYZE")
    finally:
        db.close()
        database.initialize(None)
    _BUILT[engine] = url
    return url


@pytest.fixture
def big_log(big_log_url):
    db = bind(big_log_url)
    db.connect(reuse_if_open=True)
    yield db
    db.close()
    database.initialize(None)


def run_logged(caplog, ask) -> list[tuple[str, tuple]]:
    """The statements `ask()` runs (peewee logs each one it executes)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        result = ask()
    statements = [record.msg for record in caplog.records
                  if record.name == "peewee" and isinstance(record.msg, tuple)]
    assert statements, "nothing ran"
    return result, statements


def plan_of(sql: str, params) -> str:
    if is_postgres():
        return "\n".join(row[0] for row in database.execute_sql(f"EXPLAIN {sql}", params))
    return "\n".join(row[3] for row in database.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params))


def full_scans(plan: str) -> list[str]:
    """Reads of the whole activity_log table (SQLite: SCAN of the table, not of an index or
    of the text index; PostgreSQL: Seq Scan)."""
    if is_postgres():
        return re.findall(r"Seq Scan on activity_log.*", plan)
    return [line for line in plan.splitlines()
            if re.search(r"\bSCAN t\d+\b", line) and "VIRTUAL TABLE" not in line
            and "INDEX" not in line]


@pytest.mark.parametrize("term,index,matches", [
    ("zanzibar", "text", lambda n: n == 12_345),
    ("admin:admin3", "activity_log_admin_login_id", lambda n: n % 10 == 0 and n % 7 == 3),
    ("admin:admin3 action:service.", "activity_log_(admin_login|action)_id",
     lambda n: n % 10 == 0 and n % 7 == 3 and (n % 100 == 0 or n % 3 == 2)),
    ("action:service.del", "activity_log_action_id", lambda n: n % 100 == 0),
    ("client:1234", "activity_log_client_id_id", lambda n: n % 2000 == 1234),
    ("client:345 renewal", "activity_log_client_id_id",
     lambda n: n % 2000 == 345 and n != 12_345),
    ("on:2026-03-01", "activitylog_at", lambda n: big_moment(n).date() == pendulum.date(2026, 3, 1)),
    ("until:2026-01-02", "activitylog_at", lambda n: big_moment(n) < pendulum.datetime(2026, 1, 3)),
    ("service 777", "activitylog_object_type_object_id", lambda n: n == 777),
])
def test_the_list_reads_through_an_index_never_the_whole_log(big_log, caplog, term, index,
                                                             matches):
    expected = [n for n in range(BIG, 0, -1) if matches(n)]
    source = ActivitySource()
    flt = ListFilter(term)
    total, counting = run_logged(caplog, lambda: source.count(flt))
    rows, paging = run_logged(caplog, lambda: source.page(None, 50, flt))
    assert total == len(expected) and [row["id"] for row in rows] == expected[:50]
    plans = [plan_of(sql, params) for sql, params in counting + paging]
    text = "\n".join(plans)
    for plan in plans:
        assert full_scans(plan) == [], plan
    if index == "text":
        if is_postgres():
            assert "activity_log_search_trgm" in text, text
        else:  # FTS5 answers the MATCH from its index ("M" in the index string)
            assert re.search(r"SCAN t\d+ VIRTUAL TABLE INDEX \d+:M", text), text
    else:
        assert re.search(index, text), text


@pytest.mark.parametrize("term,matches", [
    ("renewal invoice", lambda n: n != 12_345),
    ("action:invoice.", lambda n: n % 100 and n % 3 == 0),
    ("admin:system since:2026-01-02", lambda n: n % 10 and big_moment(n).day_of_year > 1),
])
def test_a_search_matching_most_rows_reads_one_page_in_order_not_every_match(big_log, caplog,
                                                                            term, matches):
    """The page is read in id order and stops after 50 rows: no sort of every match."""
    expected = [n for n in range(BIG, 0, -1) if matches(n)]
    source = ActivitySource()
    flt = ListFilter(term)
    assert source.count(flt) == len(expected) > BIG // 4
    rows, paging = run_logged(caplog, lambda: source.page(None, 50, flt))
    assert [row["id"] for row in rows] == expected[:50]
    (sql, params), = paging
    plan = plan_of(sql, params)
    assert "TEMP B-TREE" not in plan and "Sort" not in plan and "Seq Scan" not in plan, plan
    if not is_postgres() and "admin:" not in term:
        index = "VIRTUAL TABLE INDEX" if "renewal" in term else "SCAN t1"  # pk order
        assert index in plan, plan


# --- the index follows the log, and the migration indexes what was there ---------------------


def load_migration():
    spec = importlib.util.spec_from_file_location(
        "activity_search_migration", MIGRATIONS_DIR / "0007_activity_search.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration


def test_rows_stored_before_the_migration_are_found_after_it(db):
    migration = load_migration()
    migrator = SchemaMigrator.from_database(db)
    with db.atomic():
        migration.down(migrator, db)
    early = audit.record("alice", "service.suspend", "service", 42, client_id=7,
                         description="suspended overdue before the upgrade")
    other = audit.record("bob", "invoice.create", "invoice", 1, client_id=8,
                         description="renewal invoice #1")

    with db.atomic():
        migration.up(migrator, db)

    assert found("before the upgrade") == [early.id]
    assert found("suspended overdue") == [early.id]
    assert found("admin:bob renewal") == [other.id]
    assert found("client:7") == [early.id]
    later = audit.record("carol", "service.edit", "service", 42, client_id=7,
                         description="edited after the upgrade")
    assert found("the upgrade") == [later.id, early.id]


def test_the_text_index_follows_edits_and_deletions_of_log_rows(log):
    ActivityLog.update(description="promotion AUTUMN ended").where(
        ActivityLog.id == log["promo"]).execute()
    ActivityLog.update(admin_login="dave").where(ActivityLog.id == log["suspend"]).execute()

    assert found("spring") == []
    assert found("autumn ended") == [log["promo"]]
    assert found("alice") == [log["edit_oct"]]
    assert found("dave overdue") == [log["suspend"]]

    ActivityLog.delete().where(ActivityLog.id == log["promo"]).execute()
    assert found("autumn") == []


def test_rebuild_and_tidy_the_sqlite_text_index(log):
    if not is_postgres():  # as if loaded with the triggers off
        database.execute_sql("INSERT INTO activity_log_search (activity_log_search) "
                             "VALUES ('delete-all')")
        assert found("overdue") == []

    rebuild_activity_index()
    rebuild_activity_index()  # twice: refilled, not doubled

    assert found("overdue") == [log["suspend"]]
    for n in range(4):  # a segment per statement
        audit.record("erin", "note.add", "client", n, description=f"note {n} tidy")
    steps = tidy_activity_index()
    if is_postgres():
        assert steps == 0
    else:
        assert steps > 1 and tidy_activity_index() == 1  # merged: nothing left to do
    assert len(found("tidy")) == 4


@pytest.mark.slow
def test_the_weekly_tidy_leaves_the_large_old_part_of_the_text_index_alone(db):
    """The log only grows: the weekly tidy merges what the week added, not the whole index
    (at 3.2 million rows a full merge took 4.6 s every Sunday, growing with the log)."""
    if is_postgres():
        assert tidy_activity_index() == 0  # a GIN index: autovacuum keeps it
        return
    columns = ('("at", "admin_login", "action", "object_type", "object_id", "description", '
               '"before", "after")')
    with database.atomic():
        database.cursor().executemany(
            f"INSERT INTO activity_log {columns} VALUES (?, 'system', 'invoice.create', "
            f"'invoice', ?, ?, '', '')", [("2025-05-01 00:00:00.000000", n, f"renewal invoice #{n}")
                                  for n in range(100_000)])
    database.execute_sql("INSERT INTO activity_log_search (activity_log_search) "
                         "VALUES ('optimize')")  # one large segment, as a long-tidied log has
    old_pages = {row[0] for row in database.execute_sql(
        "SELECT id FROM activity_log_search_data")}
    for n in range(4):  # the week's writes: a segment per statement
        audit.record("erin", "note.add", "client", n, description=f"weekly note {n}")

    assert tidy_activity_index() > 1
    pages = {row[0] for row in database.execute_sql("SELECT id FROM activity_log_search_data")}
    assert len(old_pages - pages) <= 2  # the index's own records; not one page of the segment
    assert len(found("weekly note")) == 4 and len(found("invoice #99999")) == 1


# --- a deleted service, rebuilt from the log ---------------------------------------------------


def rebuilt(model, stored: dict) -> dict:
    """The fields of a `model` row from the values the log stored (JSON), in Python form."""
    values = {}
    for field in model._meta.sorted_fields:
        value = stored[field.name]
        if value is not None and isinstance(field, PendulumDateField):
            value = pendulum.Date.fromisoformat(value)
        elif value is not None and isinstance(field, UTCDateTimeField):
            value = pendulum.parse(value)
        elif value is not None and isinstance(field, MoneyField):
            value = Decimal(value)
        values[field.name] = value
    return values


def stored_fields(model, row_id: int) -> dict:
    return dict(model.get_by_id(row_id).__data__)


def test_a_deleted_service_is_rebuilt_field_by_field_from_the_log(db):
    admin = factories.admin("alice")
    client = factories.client()
    product = factories.product()
    promotion = Promotion.create(code="SPRING", type="percentage", value=Decimal("10.00"))
    order = Order.create(number="4242424242", client=client, payment_method="paypal",
                         amount=Decimal("30.00"))
    service = factories.service(
        client, product, order=order, server=factories.server(), domain="gone.example",
        dedicated_ip="192.0.2.7", username="gone", password=secrets.encrypt("s3cret!"),
        status="suspended", registration_date=pendulum.date(2025, 3, 14), quantity=2,
        first_payment_amount=Decimal("33.30"), recurring_amount=Decimal("29.99"),
        billing_cycle="quarterly", next_due_date=pendulum.date(2026, 12, 14), anchor_day=14,
        payment_method="paypal", promotion=promotion, promotion_uses=3,
        subscription_id="sub_123", override_suspend=True,
        override_suspend_until=pendulum.date(2026, 12, 31), auto_terminate_end_of_cycle=True,
        auto_terminate_reason="moving", suspension_reason="overdue",
        termination_date=pendulum.date(2027, 1, 1), admin_notes="VIP\nline two",
        created_at=pendulum.datetime(2025, 3, 14, 9, 26, 53, 589793, tz="UTC"),
        updated_at=pendulum.datetime(2026, 11, 2, 8, 0, 0, 123456, tz="UTC"), version=7)
    addon = factories.addon(service, name="Backups", setup_fee=Decimal("1.50"),
                            termination_date=pendulum.date(2027, 1, 1), notes="daily")
    option = ConfigOption.create(product=product, name="RAM")
    choice = ConfigOptionChoice.create(option=option, name="4 GB")
    config = ServiceConfigOption.create(service=service, option=option, choice=choice, quantity=4)
    before = {Service: stored_fields(Service, service.id),
              ServiceAddon: stored_fields(ServiceAddon, addon.id),
              ServiceConfigOption: stored_fields(ServiceConfigOption, config.id)}
    untouched = {name: value for name, value in before[Service].items()
                 if value == Service._meta.fields[name].default}
    assert untouched == {}, "every field carries a value of its own"

    services.delete_service(service.id, admin)
    assert Service.get_or_none(Service.id == service.id) is None
    assert ServiceAddon.select().count() == ServiceConfigOption.select().count() == 0

    # The admin finds the deletion in the log as they would on the screen ...
    rows = ActivitySource().page(None, 10, ListFilter(f"service {service.id} action:service.delete"))
    assert [row["action"] for row in rows] == ["service.delete"]
    assert "gone.example" in rows[0]["description"]
    kept = json.loads(ActivityLog.get_by_id(rows[0]["id"]).before)
    # ... and puts every record back from what it kept.
    with db.atomic():
        Service.insert(rebuilt(Service, kept["service"])).execute()
        for stored in kept["addons"]:
            ServiceAddon.insert(rebuilt(ServiceAddon, stored)).execute()
        for stored in kept["config_options"]:
            ServiceConfigOption.insert(rebuilt(ServiceConfigOption, stored)).execute()

    assert stored_fields(Service, service.id) == before[Service]
    assert stored_fields(ServiceAddon, addon.id) == before[ServiceAddon]
    assert stored_fields(ServiceConfigOption, config.id) == before[ServiceConfigOption]
    assert secrets.decrypt(Service.get_by_id(service.id).password) == "s3cret!"
    assert Admin.get(Admin.login == "alice").login == rows[0]["admin_login"]
