"""Clients and client groups (issue 15): every field checked, the duplicate-email question,
closing refused while services live, versioned and logged edits, the CSV import."""

import json

import pytest

from hostdesk.models import clients
from hostdesk.models.errors import PermissionDenied, StaleRecordError, ValidationError, ValidationErrors
from hostdesk.models.payment_methods import add_payment_method, edit_payment_method, list_payment_methods
from hostdesk.models.schema import ActivityLog, Admin, Client, ClientGroup
from tests import factories as make
from tests.factories import as_login

GOOD = {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd",
        "email": "ada@example.com", "phone": "+44 20 7946 0000", "address": "1 High St",
        "address2": "Flat 2", "city": "London", "region": "Greater London",
        "postcode": "EC1A 1BB", "country": "gb", "tax_id": "GB123456789",
        "separate_invoices": "yes", "default_payment_method": "card", "status": "active",
        "notes": "VIP"}


@pytest.fixture
def admins(db):
    for role in ("full", "sales", "support"):
        Admin.create(login=role, role=role)


def test_adding_a_client_stores_every_field_and_logs_it(admins):
    group = clients.add_client_group({"name": "Agencies", "separate_invoices": "yes"},
                                     admin=as_login("sales"))
    detail = clients.add_client({**GOOD, "group": "agencies"}, admin=as_login("sales"))
    row = Client.get_by_id(detail.id)
    assert (row.first_name, row.country, row.address2, row.region, row.tax_id) == (
        "Ada", "GB", "Flat 2", "Greater London", "GB123456789")
    assert (row.group_id, row.separate_invoices, row.default_payment_method) == (
        group.id, True, "card")
    assert detail.values["group"] == "Agencies" and detail.credit == 0
    assert detail.to_json()["email"] == "ada@example.com"
    log = ActivityLog.get(ActivityLog.action == "client.add")
    assert (log.admin_login, log.object_id, log.client_id) == ("sales", row.id, row.id)
    assert json.loads(log.after)["email"] == "ada@example.com"
    assert clients.client_groups()[0].clients == 1


@pytest.mark.parametrize("field,value", [
    ("first_name", ""), ("last_name", "x" * 101), ("email", "not-an-email"),
    ("country", "XX"), ("country", "Narnia"), ("phone", "call me"), ("status", "asleep"),
    ("default_payment_method", "paypla"), ("group", "No Such Group"),
    ("separate_invoices", "maybe"), ("postcode", "<b>"), ("company", "a\tb"),
])
def test_each_bad_field_is_named_and_nothing_is_written(admins, field, value):
    with pytest.raises(ValidationError) as refused:
        clients.add_client({**GOOD, field: value}, admin=as_login("full"))
    assert refused.value.field == field
    assert Client.select().count() == 0 and ActivityLog.select().count() == 0


def test_several_bad_fields_are_reported_together_and_unknown_fields_refused(admins):
    with pytest.raises(ValidationErrors) as refused:
        clients.add_client({**GOOD, "email": "x", "country": "ZZ", "shoe_size": "9"},
                           admin=as_login("full"))
    assert {e.field for e in refused.value.errors} == {"email", "country", "shoe_size"}


def test_a_second_client_with_the_same_email_needs_confirmation(admins):
    first = clients.add_client(GOOD, admin=as_login("full"))
    with pytest.raises(clients.DuplicateEmail) as asked:
        clients.add_client({**GOOD, "email": "ADA@example.com"}, admin=as_login("full"))
    assert asked.value.field == "email" and asked.value.client_ids == [first.id]
    assert Client.select().count() == 1
    second = clients.add_client({**GOOD, "email": "ADA@example.com"}, admin=as_login("full"),
                                allow_duplicate_email=True)
    assert second.id != first.id and Client.select().count() == 2


def test_edits_are_versioned_logged_and_credit_is_read_only(admins):
    detail = clients.add_client(GOOD, admin=as_login("full"))
    saved = clients.edit_client(detail.id, detail.version, {"city": "Leeds"}, admin=as_login("sales"))
    assert saved.values["city"] == "Leeds" and saved.version == detail.version + 1
    log = ActivityLog.get(ActivityLog.action == "client.edit")
    assert json.loads(log.before) == {"city": "London"} and json.loads(log.after) == {"city": "Leeds"}
    with pytest.raises(StaleRecordError):
        clients.edit_client(detail.id, detail.version, {"city": "York"}, admin=as_login("full"))
    with pytest.raises(ValidationError) as refused:
        clients.edit_client(detail.id, saved.version, {"credit": "100"}, admin=as_login("full"))
    assert refused.value.field == "credit"
    assert Client.get_by_id(detail.id).city == "Leeds"


def test_closing_is_refused_while_services_live_and_says_how_many(admins):
    detail = clients.add_client(GOOD, admin=as_login("full"))
    client = Client.get_by_id(detail.id)
    make.service(client_row=client, status="active")
    make.service(client_row=client, status="suspended")
    make.service(client_row=client, status="terminated")
    with pytest.raises(ValidationError) as refused:
        clients.close_client(detail.id, detail.version, admin=as_login("full"))
    assert refused.value.field == "status" and "2 services" in refused.value.message
    assert Client.get_by_id(detail.id).status == "active"
    from hostdesk.models.schema import Service
    Service.update(status="cancelled").execute()
    closed = clients.close_client(detail.id, detail.version, admin=as_login("full"))
    assert closed.values["status"] == "closed"


def test_permissions_support_manages_no_clients(admins):
    with pytest.raises(PermissionDenied) as refused:
        clients.add_client(GOOD, admin=as_login("support"))
    assert refused.value.permission == "manage clients"
    with pytest.raises(PermissionDenied):
        clients.add_client_group({"name": "X"}, admin=as_login("support"))
    with pytest.raises(PermissionDenied):
        clients.import_clients("first_name,last_name,email\n", admin=as_login("support"))
    assert Client.select().count() == 0 and ClientGroup.select().count() == 0


def test_client_groups_names_are_unique_and_edits_versioned(admins):
    group = clients.add_client_group({"name": "Resellers"}, admin=as_login("full"))
    for name in ("", "resellers", "x" * 101):
        with pytest.raises(ValidationError) as refused:
            clients.add_client_group({"name": name}, admin=as_login("full"))
        assert refused.value.field == "name"
    saved = clients.edit_client_group(group.id, group.version, {"separate_invoices": "yes"},
                                      admin=as_login("sales"))
    assert saved.separate_invoices and saved.version == group.version + 1
    with pytest.raises(StaleRecordError):
        clients.edit_client_group(group.id, group.version, {"name": "Other"}, admin=as_login("full"))


def test_a_disabled_payment_method_is_refused_for_new_clients(admins):
    method = next(m for m in list_payment_methods() if m.name == "paypal")
    edit_payment_method(method.id, method.version, {"enabled": "no"}, admin=as_login("full"))
    with pytest.raises(ValidationError) as refused:
        clients.add_client({**GOOD, "default_payment_method": "paypal"}, admin=as_login("full"))
    assert "disabled" in refused.value.message
    added = add_payment_method({"name": "stripe", "sort_order": "9"}, admin=as_login("full"))
    assert added.enabled
    assert clients.add_client({**GOOD, "default_payment_method": "Stripe"},
                              admin=as_login("full")).values["default_payment_method"] == "stripe"


def test_importing_a_thousand_clients_is_one_go_and_bad_rows_are_named(admins):
    clients.add_client_group({"name": "Agencies"}, admin=as_login("full"))
    lines = ["first_name,last_name,email,country,group"]
    lines += [f"First{i},Last{i},c{i}@example.com,DE,{'Agencies' if i % 2 else ''}"
              for i in range(1000)]
    lines.insert(5, "Bad,Row,not-an-email,DE,")  # line 6 of the file
    lines.insert(8, "No,Country,ok@example.com,XX,")  # line 9
    lines.insert(10, "Dup,Row,c3@example.com,DE,")  # line 11: c3 is an earlier row's email
    text = "\n".join(lines) + "\n"
    dry = clients.import_clients(text, admin=as_login("sales"), dry_run=True)
    assert (dry.rows, dry.added) == (1003, 1000)
    assert dry.refused == [(6, "email", dry.refused[0][2]), (9, "country", dry.refused[1][2]),
                           (11, "email", dry.refused[2][2])]
    assert Client.select().count() == 0
    assert not ActivityLog.select().where(ActivityLog.action == "client.add").exists()
    report = clients.import_clients(text, admin=as_login("sales"))
    assert report.added == 1000 and Client.select().count() == 1000
    assert Client.select().where(Client.group.is_null(False)).count() == 500
    assert ActivityLog.select().where(ActivityLog.action == "client.add").count() == 1000
    again = clients.import_clients(text, admin=as_login("sales"))
    assert again.added == 0 and len(again.refused) == 1003


def test_an_import_with_an_unknown_column_is_refused_whole(admins):
    with pytest.raises(ValidationError) as refused:
        clients.import_clients("first_name,last_name,email,shoe\nA,B,a@example.com,9\n",
                               admin=as_login("full"))
    assert refused.value.field == "file" and "shoe" in refused.value.message


def test_an_added_client_is_found_by_the_global_search(admins):
    """Migration 0015 adds the client's new columns without rebuilding the table, so the
    search index kept by triggers (0004) still follows every new client."""
    from hostdesk.models.search import search

    detail = clients.add_client(GOOD, admin=as_login("full"))
    clients.import_clients("first_name,last_name,email\nGrace,Hopper,grace@example.com\n",
                           admin=as_login("full"))
    assert [hit.id for hit in search("lovel") if hit.kind == "client"] == [detail.id]
    assert [hit.title for hit in search("hopper") if hit.kind == "client"] == ["Grace Hopper"]
