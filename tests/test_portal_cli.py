"""The headless interface a client portal and payment gateways call (issue 18), driven as a
subprocess on both engines, with provisioning through the webhook module to a real HTTP
endpoint on loopback."""

import json
import socket
import subprocess
import sys
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.identity import current_os_account
from hostdesk.models import secrets
from hostdesk.models.invoicing import LineSpec, create_invoice
from hostdesk.models.schema import (
    ActivityLog,
    CancellationRequest,
    Client,
    CreditEntry,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    ModuleJob,
    Order,
    Payment,
    Service,
    Upgrade,
)
from hostdesk.models.upgrade_paths import set_upgrade_path
from tests import factories as make
from tests.jsonschema_lite import errors as schema_errors
from tests.test_webhook import Endpoint
from tests.factories import as_login

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
TODAY = "2026-05-08"  # 12 days before the NDD 2026-05-20, in the 30-day period from 04-20
NDD = pendulum.date(2026, 5, 20)
HOOK_SECRET = "whsec-portal"
ME = current_os_account().login
WRITTEN = (ActivityLog, CancellationRequest, CreditEntry, EmailOutbox, Invoice, InvoiceLine,
           ModuleJob, Order, Payment, Upgrade)


def schema(name: str) -> dict:
    return json.loads((resources.files("hostdesk.automation") / "schemas" / f"{name}.json").read_text())


def assert_shape(document: dict, name: str) -> None:
    problems = schema_errors(document, schema(name))
    assert not problems, problems


class Portal:
    """Runs `hostdesk` as the portal's admin account, with the test's connection closed."""

    def __init__(self, db, url: str):
        self.db, self.url = db, url

    def __call__(self, *args, login="portal", expect=None, shape=None):
        self.db.close()
        done = subprocess.run([HOSTDESK, "--db", self.url, "--login", login, *args],
                              capture_output=True, text=True, timeout=120)
        self.db.connect(reuse_if_open=True)
        if expect is not None:
            assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        if "--json" in args:
            document = json.loads(done.stdout)
            assert_shape(document, shape if done.returncode == 0 else "error")
            return document
        return done


def counts() -> dict:
    return {model.__name__: model.select().count() for model in WRITTEN}


@pytest.fixture
def endpoint():
    server = Endpoint()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def shop(db, db_url, endpoint):
    """Two clients, plans Small → Big a client may take itself (monthly only) and Small →
    Medium only an admin may, all provisioned through the webhook endpoint."""
    make.admin("portal", "full")
    make.admin(ME, "full")  # the OS account running the tests acts as the portal (rules §12)
    server = make.server(module="webhook", settings=json.dumps(
        {"url": endpoint.url, "secret": secrets.encrypt(HOOK_SECRET),
         "allow_insecure_http": True}))  # the loopback endpoint has no TLS
    plan = dict(module="webhook", server=server)
    small = make.product(prices={"monthly": "10.00", "annually": "100.00"}, name="Small", **plan)
    big = make.product(prices={"monthly": "25.00", "annually": "250.00"}, name="Big", **plan)
    medium = make.product(prices={"monthly": "15.00"}, name="Medium", **plan)
    set_upgrade_path(small.id, big.id, cycles="monthly", client_may_upgrade=True,
                     admin=as_login("portal"))
    set_upgrade_path(small.id, medium.id, client_may_upgrade=False, admin=as_login("portal"))
    alice, bob = make.client(first_name="Alice"), make.client(first_name="Bob")
    mine = make.service(alice, small, next_due_date=NDD, server=server)
    theirs = make.service(bob, small, next_due_date=NDD, server=server)
    return dict(portal=Portal(db, db_url), alice=alice, bob=bob, small=small, big=big,
                medium=medium, mine=mine, theirs=theirs, endpoint=endpoint, server=server)


def renewal_invoice(service, due: pendulum.Date, amount="10.00") -> Invoice:
    return create_invoice(service.client_id, [LineSpec(
        kind="renewal", description="Small renewal", amount=Decimal(amount), item_type="service",
        item_id=service.id, period_start=due, period_end=due.add(months=1))],
        date=due.subtract(days=14), due_date=due, payment_method="banktransfer",
        admin=as_login("portal"), send_email=False)


def test_a_self_service_upgrade_is_quoted_ordered_paid_and_applied(shop):
    portal, alice, mine, big = shop["portal"], shop["alice"], shop["mine"], shop["big"]
    args = ["upgrade-request", str(mine.id), "--client", str(alice.id), "--product", str(big.id),
            "--cycle", "monthly", "--date", TODAY, "--via", "portal", "--json"]
    before = counts()
    quoted = portal(*args, "--quote-only", expect=0, shape="upgrade-request")
    # rules §7 worked case: 10.00 → 25.00/month, 12 days left in a 30-day period.
    expected = {"days_remaining": 12, "old_period_days": 30, "credit": "4.00",
                "charge": "10.00", "payable": "6.00", "next_due_date_after": "2026-05-20"}
    assert {key: quoted["quote"][key] for key in expected} == expected
    assert quoted["order"] is None and quoted["quote_only"] is True
    assert counts() == before  # a quote writes nothing

    ordered = portal(*args, expect=0, shape="upgrade-request")
    assert ordered["quote"]["payable"] == "6.00" and ordered["order"]["invoice_total"] == "6.00"
    invoice_id = ordered["order"]["invoice"]
    assert Upgrade.get_by_id(ordered["order"]["upgrade"]).status == "pending"
    assert Service.get_by_id(mine.id).product_id == shop["small"].id  # not before payment
    again = portal(*args, expect=4)
    assert again["error"]["kind"] == "refused"
    assert "already has an upgrade waiting for payment" in again["error"]["message"]

    shown = portal("invoice", "show", str(invoice_id), "--client", str(alice.id), "--json",
                   expect=0, shape="invoice-show")
    assert (shown["total"], shown["balance"], [line["kind"] for line in shown["lines"]]) == (
        "6.00", "6.00", ["upgrade"])

    pay = ["payment-received", str(invoice_id), "--client", str(alice.id), "--amount", "6.00",
           "--method", "card", "--ref", "ch_001", "--date", TODAY, "--fee", "0.47",
           "--via", "stripe", "--json"]
    paid = portal(*pay, expect=0, shape="payment-received")
    assert paid["duplicate"] is False and paid["invoice"]["status"] == "paid"
    assert paid["payment"]["fee"] == "0.47"
    assert [(j["command"], j["status"]) for j in paid["module_jobs"]] == [
        ("change_package", "done")]
    assert [json.loads(r["body"])["command"] for r in shop["endpoint"].requests] == [
        "change_package"]

    service = Service.get_by_id(mine.id)
    assert (service.product_id, service.billing_cycle, service.recurring_amount,
            service.next_due_date) == (big.id, "monthly", Decimal("25.00"), NDD)
    assert ModuleJob.get(ModuleJob.service == mine.id).status == "done"
    assert EmailOutbox.select().where((EmailOutbox.template == "upgrade_confirmation")
                                      & (EmailOutbox.client == alice.id)).count() == 1
    assert Payment.get(Payment.transaction_ref == "ch_001").fee == Decimal("0.47")
    logged = {row.action: row for row in ActivityLog.select().where(
        ActivityLog.action.startswith("portal."))}
    assert logged["portal.upgrade"].client_id == alice.id
    assert f"client #{alice.id} via portal" in logged["portal.upgrade"].description
    assert f"client #{alice.id} via stripe" in logged["portal.payment"].description

    # The gateway retries its callback: reported as a duplicate, nothing new anywhere.
    settled = counts()
    retried = portal(*pay, expect=0, shape="payment-received")
    assert retried["duplicate"] is True and retried["payment"] is None
    assert retried["module_jobs"] == []
    assert counts() == settled and len(shop["endpoint"].requests) == 1
    assert Client.get_by_id(alice.id).credit == Decimal("0.00")

    looked = portal("service", "show", str(mine.id), "--client", str(alice.id), "--json",
                    expect=0, shape="service-show")
    assert (looked["product"]["name"], looked["recurring_amount"], looked["next_due_date"],
            looked["upgrade_waiting"]) == ("Big", "25.00", "2026-05-20", None)


def test_a_foreign_clients_records_are_refused_and_nothing_is_written(shop):
    portal, alice, bob, theirs = shop["portal"], shop["alice"], shop["bob"], shop["theirs"]
    invoice = renewal_invoice(theirs, NDD)
    before = counts()
    as_alice = ["--client", str(alice.id), "--json"]
    for args in (
            ["upgrade-request", str(theirs.id), "--product", str(shop["big"].id),
             "--cycle", "monthly", "--quote-only"],
            ["upgrade-request", str(theirs.id), "--product", str(shop["big"].id),
             "--cycle", "monthly"],
            ["service", "show", str(theirs.id)],
            ["invoice", "show", str(invoice.id)],
            ["payment-received", str(invoice.id), "--amount", "10.00", "--method", "card",
             "--ref", "ch_x"],
            ["cancel-request", str(theirs.id), "--type", "immediate", "--reason", "bye"]):
        refused = portal(*args, *as_alice, expect=4)
        assert refused["error"]["kind"] == "refused", args
        assert refused["error"]["field"] in ("service", "invoice"), args
        assert f"client #{alice.id}" in refused["error"]["message"], args
    assert counts() == before
    assert Invoice.get_by_id(invoice.id).status == "unpaid"
    assert portal("invoice", "show", str(invoice.id), "--client", str(bob.id), "--json",
                  expect=0, shape="invoice-show")["client"] == bob.id


def test_a_service_suspended_for_nonpayment_is_active_right_after_the_payment(shop):
    portal, alice, mine, endpoint = shop["portal"], shop["alice"], shop["mine"], shop["endpoint"]
    Service.update(status="suspended", suspension_reason="Overdue on payment").where(
        Service.id == mine.id).execute()
    invoice = renewal_invoice(mine, pendulum.date(2026, 4, 20))
    paid = portal("payment-received", str(invoice.id), "--client", str(alice.id), "--amount",
                  "10.00", "--method", "banktransfer", "--ref", "bt-778", "--date", TODAY,
                  "--json", expect=0, shape="payment-received")
    assert [(j["command"], j["status"]) for j in paid["module_jobs"]] == [("unsuspend", "done")]
    assert Service.get_by_id(mine.id).status == "active"
    assert json.loads(endpoint.requests[-1]["body"])["command"] == "unsuspend"
    assert Service.get_by_id(mine.id).next_due_date == pendulum.date(2026, 5, 20)


def test_a_module_failure_is_queued_and_reported_and_the_payment_stays(shop):
    portal, alice, mine, endpoint = shop["portal"], shop["alice"], shop["mine"], shop["endpoint"]
    Service.update(status="suspended", suspension_reason="").where(Service.id == mine.id).execute()
    invoice = renewal_invoice(mine, pendulum.date(2026, 4, 20))
    endpoint.reply(status=200, body=b'{"success": false, "error": "panel is down"}')
    paid = portal("payment-received", str(invoice.id), "--client", str(alice.id), "--amount",
                  "10.00", "--method", "card", "--ref", "ch_9", "--date", TODAY, "--json",
                  expect=0, shape="payment-received")
    [job] = paid["module_jobs"]
    assert (job["command"], job["status"]) == ("unsuspend", "failed")
    assert "panel is down" in job["message"]
    queued = ModuleJob.get_by_id(job["job"])
    assert queued.status == "failed" and "panel is down" in queued.last_error
    assert Invoice.get_by_id(invoice.id).status == "paid"
    assert Payment.select().where(Payment.invoice == invoice.id).count() == 1
    assert Service.get_by_id(mine.id).status == "suspended"


def test_an_overpayment_becomes_client_credit(shop):
    portal, alice, mine = shop["portal"], shop["alice"], shop["mine"]
    invoice = renewal_invoice(mine, NDD)
    paid = portal("payment-received", str(invoice.id), "--client", str(alice.id), "--amount",
                  "15.00", "--method", "paypal", "--ref", "pp-1", "--date", TODAY, "--json",
                  expect=0, shape="payment-received")
    assert (paid["invoice"]["status"], paid["credited"]) == ("paid", "5.00")
    assert Client.get_by_id(alice.id).credit == Decimal("5.00")
    shown = portal("client", "show", str(alice.id), "--json", expect=0, shape="client-show")
    assert (shown["name"], shown["credit"], shown["currency"]) == (
        f"Alice {alice.last_name}", "5.00", "USD")


def test_a_payment_on_a_paid_invoice_becomes_credit(shop):
    portal, alice, mine = shop["portal"], shop["alice"], shop["mine"]
    invoice = renewal_invoice(mine, NDD)
    pay = ["payment-received", str(invoice.id), "--client", str(alice.id), "--amount", "10.00",
           "--method", "card", "--date", TODAY, "--json"]
    portal(*pay, "--ref", "ch_a", expect=0, shape="payment-received")
    advanced = Service.get_by_id(mine.id).next_due_date
    twice = portal(*pay, "--ref", "ch_b", expect=0, shape="payment-received")
    assert twice["duplicate"] is False and twice["credited"] == "10.00"
    assert twice["invoice"]["status"] == "paid" and twice["applied_lines"] == []
    assert Client.get_by_id(alice.id).credit == Decimal("10.00")
    assert Service.get_by_id(mine.id).next_due_date == advanced  # no line applied twice


def test_bad_input_is_refused_with_the_field_named_and_nothing_written(shop):
    portal, alice, mine, big = shop["portal"], shop["alice"], shop["mine"], shop["big"]
    invoice = renewal_invoice(mine, NDD)
    suspended = make.service(alice, shop["small"], next_due_date=NDD, status="suspended")
    client = ["--client", str(alice.id)]
    pay = ["payment-received", str(invoice.id), *client]
    payment = {"--amount": "10.00", "--method": "card", "--ref": "ch_1", "--date": TODAY}

    def paying(**changes):
        values = {**payment, **{f"--{k}": v for k, v in changes.items()}}
        return pay + [item for pair in values.items() for item in pair]

    def upgrading(service=mine.id, product=big.id, cycle="monthly", *extra):
        return ["upgrade-request", str(service), *client, "--product", str(product),
                "--cycle", cycle, "--date", TODAY, *extra]

    cases = [
        (paying(amount="0"), 2, "amount"),
        (paying(amount="0.00"), 2, "amount"),
        (paying(amount="-5.00"), 2, "amount"),
        (paying(amount="NaN"), 2, "amount"),
        (paying(amount="1.234"), 2, "amount"),
        (paying(method="paypla"), 2, "method"),
        (paying(method="credit"), 2, "method"),
        (paying(date="2026-02-30"), 2, "date"),
        (paying(ref=" "), 2, "ref"),
        (paying(fee="-1.00"), 2, "fee"),
        (paying(fee="11.00"), 2, "fee"),
        (["payment-received", "999999", *client, "--amount", "1.00", "--method", "card",
          "--ref", "r"], 2, "invoice"),
        (["payment-received", "12x", *client, "--amount", "1.00", "--method", "card",
          "--ref", "r"], 2, "invoice"),
        (upgrading(product=999999), 2, "product"),
        (upgrading(product=shop["medium"].id), 4, "product"),  # path, but admins only
        (upgrading(product=mine.product_id, cycle="annually"), 4, "product"),  # no path
        (upgrading(cycle="weekly"), 2, "cycle"),
        (upgrading(cycle="quarterly"), 2, "cycle"),  # Big has no quarterly price
        (upgrading(cycle="annually"), 4, "cycle"),  # priced, but not offered to the client
        (upgrading(service=999999), 2, "service"),
        (upgrading(service=suspended.id), 4, "service"),  # only an active service
        (upgrading() + ["--via", "Bad Name!"], 2, "via"),
        (upgrading() + ["--date", "2026-02-30"], 2, "date"),
        (["service", "show", str(mine.id), "--client", "999999"], 2, "client"),
        (["service", "show", str(mine.id), "--client", "-3"], 2, "client"),
        (["client", "show", "999999"], 2, "client"),
        (["invoice", "show", "0", *client], 2, "invoice"),
    ]
    before = counts()
    for args, code, field in cases:
        refused = portal(*args, "--json", expect=code)
        assert refused["error"]["field"] == field, (args, refused)
    assert counts() == before
    assert Invoice.get_by_id(invoice.id).status == "unpaid"
    plain = portal(*paying(amount="1.234"), expect=2)  # without --json: one line on stderr
    assert plain.stdout == "" and plain.stderr.startswith("hostdesk: amount: ")


def test_cancel_request_for_a_client_prints_json_and_names_the_integration(shop):
    portal, alice, mine = shop["portal"], shop["alice"], shop["mine"]
    filed = portal("cancel-request", str(mine.id), "--client", str(alice.id), "--type",
                   "end_of_period", "--reason", "moving away", "--via", "portal", "--json",
                   expect=0, shape="cancel-request")
    assert (filed["service"], filed["type"], filed["status"]) == (mine.id, "end_of_period", "open")
    entry = ActivityLog.get(ActivityLog.action == "portal.cancellation")
    assert entry.client_id == alice.id and "via portal" in entry.description
    looked = portal("service", "show", str(mine.id), "--client", str(alice.id), "--json",
                    expect=0, shape="service-show")
    assert looked["cancellation_requested"] is True


def test_a_database_that_cannot_be_reached_is_exit_5(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for url in (f"postgresql://nobody@127.0.0.1:{port}/hostdesk",
                f"sqlite:///{tmp_path / 'never-initialised.db'}"):
        done = subprocess.run([HOSTDESK, "--db", url, "client", "show", "1", "--json"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 5, (url, done.stdout, done.stderr)
        answer = json.loads(done.stdout)
        assert not schema_errors(answer, schema("error"))
        assert answer["error"]["kind"] == "database_unavailable"


def test_the_headless_commands_import_neither_textual_nor_more_than_they_need(tmp_path):
    """Behind a web request every command is a new process, so what it imports is most of its
    time: no textual or rich for any of them; none the email sandbox (jinja2) for emails the
    fast path prints (an upgrade order's invoice email), the encryption
    (cryptography), the display of amounts (babel) nor the package metadata (--version's);
    and of our own modules only those its one action needs (a quote neither the order form's
    rules nor invoicing, a look-up no email at all)."""
    from hostdesk.models.db import bind, database, migrate

    path = tmp_path / "light.db"
    db = bind(f"sqlite:///{path}")
    migrate(db)
    make.admin("portal", "full")
    make.admin(ME, "full")
    small = make.product(prices={"monthly": "10.00"}, name="Small")
    big = make.product(prices={"monthly": "25.00"}, name="Big")
    set_upgrade_path(small.id, big.id, cycles="monthly", client_may_upgrade=True,
                     admin=as_login("portal"))
    alice = make.client()
    service = make.service(alice, small, next_due_date=NDD)
    invoice = renewal_invoice(service, NDD)
    db.close()
    database.initialize(None)
    url = f"sqlite:///{path}"
    client = ["--client", str(alice.id), "--json"]
    payment = ["payment-received", str(invoice.id), *client, "--amount", "10.00", "--method",
               "card", "--ref", "r1", "--date", TODAY]
    upgrade = ["upgrade-request", str(service.id), *client, "--product", str(big.id), "--cycle",
               "monthly", "--date", TODAY]
    light = {"textual", "rich", "jinja2", "cryptography", "babel", "importlib.metadata",
             "hostdesk.models.email_sandbox", "hostdesk.models.orders", "hostdesk.models.catalog"}
    look_up = light | {"hostdesk.models.emails", "hostdesk.models.invoicing",
                       "hostdesk.models.upgrades"}
    commands = [  # (arguments, what it must not import)
        (["client", "show", str(alice.id), "--json"], look_up | {"hostdesk.models.upgrade_paths"}),
        (["service", "show", str(service.id), *client], look_up),
        (["invoice", "show", str(invoice.id), *client],
         look_up | {"hostdesk.models.upgrade_paths"}),
        ([*upgrade, "--quote-only"], light | {"hostdesk.models.invoicing",
                                             "hostdesk.models.payment_methods"}),
        (upgrade, light),  # the order and its invoice email
        (payment, light | {"hostdesk.models.upgrades", "hostdesk.models.upgrade_paths",
                           "hostdesk.models.pricing"}),
        (payment, light | {"hostdesk.models.pricing"}),  # the retry: a duplicate, nothing written
    ]
    for args, unwanted in commands:
        code = ("import sys\nfrom hostdesk.tui.cli import main\n"
                f"rc = main(['--db', {url!r}, '--login', 'portal', *{args!r}])\n"
                "mods = sorted(set(sys.modules) | {m.split('.')[0] for m in sys.modules})\n"
                "print('RC', rc, 'MODS', ','.join(mods))\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, check=True)
        last = done.stdout.strip().splitlines()[-1].split()
        imported = set(last[3].split(","))
        assert last[1] == "0", (args, done.stdout, done.stderr)
        assert not unwanted & imported, (args, unwanted & imported)
        assert {"hostdesk.models.schema", "peewee"} <= imported  # it did reach the database
    assert "duplicate" in done.stdout
    db = bind(url)
    try:  # the emails the fast path printed were queued, in full
        sent = {row.template: row.body for row in EmailOutbox.select()}
    finally:
        db.close()
        database.initialize(None)
    assert set(sent) == {"invoice_created"}  # the upgrade order's invoice
    assert "Total: $6.00" in sent["invoice_created"] and "{" not in sent["invoice_created"]


def test_the_command_line_reads_the_same_with_only_the_named_command_built():
    """A headless command builds the parser of its own command only: what it reads is what
    the whole command line reads; anything else (help, no command, a typo) gets the whole."""
    from hostdesk.tui.cli import _named_command, _parser, parse_args

    for command, argv in (
            ("client", ["--db", "sqlite:///x.db", "client", "show", "7", "--json"]),
            ("service", ["--db=sqlite:///x.db", "service", "show", "7", "--client", "3"]),
            ("invoice", ["--conf", "client", "invoice", "show", "9", "--client", "3"]),
            ("payment-received", ["payment-received", "5", "--client", "3", "--amount", "1.00",
                                  "--method", "card", "--ref", "r", "--db", "sqlite:///x.db"]),
            ("upgrade-request", ["upgrade-request", "5", "--client", "3", "--product", "2",
                                 "--cycle", "monthly", "--quote-only", "--via", "portal"]),
            ("cancel-request", ["cancel-request", "5", "--client", "3", "--type", "immediate",
                                "--reason", "r", "--json"]),
            ("cron", ["--log-level", "debug", "cron", "--dry-run"])):
        assert _named_command(argv) == command, argv
        assert vars(_parser(command).parse_args(argv)) == vars(_parser().parse_args(argv)), argv
        if command in ("client", "service", "invoice"):  # only the action named built
            assert _named_command(argv, skip=1) == "show", argv
            assert (vars(_parser(command, "show").parse_args(argv))
                    == vars(_parser().parse_args(argv))), argv
    assert _named_command(["--help", "client"]) is None
    assert _named_command(["--version"]) is None and _named_command([]) is None
    assert _parser("clinet") is None and _parser("client", "shwo") is None
    added = parse_args(["client", "add", "--first-name", "Ada", "--json"])  # add's parser built
    assert (added.action, added.field_first_name, added.json) == ("add", "Ada", True)
    with pytest.raises(SystemExit):
        parse_args(["clinet", "show", "1"])  # argparse's "invalid choice", from the whole parser
    done = subprocess.run([HOSTDESK, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("hostdesk ")


def test_a_downgrade_with_nothing_to_pay_applies_at_once_with_its_change_package(shop):
    portal, alice, big, small = shop["portal"], shop["alice"], shop["big"], shop["small"]
    set_upgrade_path(big.id, small.id, cycles="monthly", client_may_upgrade=True,
                     admin=as_login("portal"))
    on_big = make.service(alice, big, next_due_date=NDD, recurring_amount=Decimal("25.00"),
                          server=shop["server"])
    done = portal("upgrade-request", str(on_big.id), "--client", str(alice.id), "--product",
                  str(small.id), "--cycle", "monthly", "--date", TODAY, "--json", expect=0,
                  shape="upgrade-request")
    # 25.00 → 10.00 with 12 of 30 days left: 6.00 credited (credit_on_downgrade is on).
    assert (done["quote"]["payable"], done["quote"]["credit_to_client"]) == ("0.00", "6.00")
    assert done["order"]["invoice_status"] == "paid"
    assert [(j["command"], j["status"]) for j in done["module_jobs"]] == [
        ("change_package", "done")]
    service = Service.get_by_id(on_big.id)
    assert (service.product_id, service.recurring_amount, service.next_due_date) == (
        small.id, Decimal("10.00"), NDD)
    assert Client.get_by_id(alice.id).credit == Decimal("6.00")


def test_two_simultaneous_callbacks_with_one_reference_record_one_payment(shop):
    portal, alice, mine = shop["portal"], shop["alice"], shop["mine"]
    invoice = renewal_invoice(mine, NDD)
    args = [HOSTDESK, "--db", portal.url, "--login", "portal", "payment-received",
            str(invoice.id), "--client", str(alice.id), "--amount", "10.00", "--method", "card",
            "--ref", "ch_same", "--date", TODAY, "--json"]
    portal.db.close()
    runs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    answers = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    portal.db.connect(reuse_if_open=True)
    assert all(run.returncode == 0 for run in runs), answers
    assert sorted(answer["duplicate"] for answer in answers) == [False, True]
    assert Payment.select().where(Payment.invoice == invoice.id).count() == 1
    assert Invoice.get_by_id(invoice.id).amount_paid == Decimal("10.00")
    assert Service.get_by_id(mine.id).next_due_date == NDD.add(months=1)
