"""Running hostdesk unattended: the command line (version, help, completion, global options,
db status, the system config file), the logs of a full daily run (JSON lines, no secret),
the admins' alert when a run fails, and email as mail servers expect it."""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import pendulum
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from hostdesk.automation import config as config_module
from hostdesk.automation.config import load_config
from hostdesk.automation.cron import run_daily
from hostdesk.automation.daily_tasks import TASKS
from hostdesk.automation.mail import deliver_outbox
from hostdesk.models import emails, invoicing, money, secrets
from hostdesk.models.clock import Clock
from hostdesk.models.emails import queue_email
from hostdesk.models.listing import CronRunSource, automation_warning
from hostdesk.models.migrations import __file__ as migrations_init
from hostdesk.models.schema import Admin, CronRun, EmailOutbox, Invoice
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.conftest import TEST_SECRET_KEY
from tests.test_lifecycle import PASSWORD, make_product, make_server, make_service
from tests.test_mail_delivery import free_port
from tests.test_webhook import SECRET, Endpoint, closed_port_url
from hostdesk.tui.cli import _parser
from tests.factories import as_login

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
SMTP_USER, SMTP_PASSWORD = "mailer", "smtp-Pa55-word"
NDD = pendulum.date(2026, 3, 15)


def run_cli(*args, env=None, timeout=120):
    return subprocess.run([HOSTDESK, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# --- the command line --------------------------------------------------------------------


def test_version_is_the_installed_distributions():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"hostdesk {version('hostdesk')}"


def test_the_licence_is_an_spdx_expression_with_its_file_and_urls():
    from importlib.metadata import metadata

    meta = metadata("hostdesk")
    assert meta["License-Expression"] == "MIT"
    assert any(url.startswith("Homepage, https://") for url in meta.get_all("Project-URL"))
    licence = Path(__file__).resolve().parent.parent / "LICENSE"
    assert "MIT License" in licence.read_text() and "the hostdesk authors" in licence.read_text()


def _subcommands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subcommands(sub, (*prefix, name))


def test_every_subcommand_has_a_description_and_an_example():
    commands = dict(_subcommands(_parser()))
    assert {("init",), ("cron",), ("demo",), ("cancel-request",), ("backup",), ("restore",),
            ("config",), ("config", "show"), ("db",), ("db", "status"),
            ("completion",)} <= set(commands)
    for path, sub in commands.items():
        text = sub.format_help()
        assert sub.description and len(sub.description) > 20, path
        assert "example:" in text and "hostdesk " in text.split("example:")[1], path
        assert "--db URL" in text and "--log-file" in text, path  # global options, after it
    shown = run_cli("cron", "--help")
    assert shown.returncode == 0 and "The unattended daily run" in shown.stdout
    assert "example:\n  hostdesk cron" in shown.stdout


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o"), ("zsh", "#compdef hostdesk"),
                                           ("fish", "complete -c hostdesk")])
def test_completion_scripts_generate_for_each_shell(shell, marker, tmp_path):
    result = run_cli("completion", shell)
    assert result.returncode == 0, result.stderr
    script = result.stdout
    assert marker in script
    for word in ("cron", "cancel-request", "dry-run", "log-format"):
        assert word in script, (shell, word)
    if shell == "bash":
        path = tmp_path / "hostdesk.bash"
        path.write_text(script)
        check = subprocess.run(["bash", "-c", f"source {path} && complete -p hostdesk"],
                               capture_output=True, text=True)
        assert check.returncode == 0 and "hostdesk" in check.stdout, check.stderr
    elif shutil.which(shell):
        path = tmp_path / f"hostdesk.{shell}"
        path.write_text(script)
        assert subprocess.run([shell, "-n", str(path)]).returncode == 0


def test_global_options_work_after_the_command_too(tmp_path):
    url = f"sqlite:///{tmp_path / 'after.db'}"
    assert run_cli("init", "--db", url).returncode == 0
    result = run_cli("cron", "--db", url, "--date", "2026-01-01", "--allow-far-date", "--json",
                     "--log-level", "info", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert (tmp_path / "after.db").is_file() and not (tmp_path / "xdg-data").exists()
    # on stderr (no --log-file), as JSON lines, at the level asked
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(line["message"] == "task invoices started" for line in lines)
    before = run_cli("--db", url, "cron", "--date", "2026-01-02", "--allow-far-date", "--json")
    assert before.returncode == 0 and before.stderr == ""  # no --log-level: no log on stderr


def test_db_status_names_version_pending_size_and_last_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'status.db'}"
    migrations = sorted(p.stem for p in Path(migrations_init).parent.glob("0*.py"))
    fresh = run_cli("--db", url, "db", "status", "--json")
    assert fresh.returncode == 0, fresh.stderr
    status = json.loads(fresh.stdout)
    assert status["schema_version"] is None and status["pending_migrations"] == migrations
    assert status["last_run"] is None

    assert run_cli("--db", url, "init").returncode == 0
    assert run_cli("--db", url, "cron", "--date", "2026-01-01", "--allow-far-date").returncode == 0
    status = json.loads(run_cli("db", "status", "--json", "--db", url).stdout)
    assert status["schema_version"] == migrations[-1] and status["pending_migrations"] == []
    assert status["size_bytes"] > 10_000 and status["engine"] == "sqlite"
    assert status["last_run"]["run_date"] == "2026-01-01"
    assert status["last_run"]["status"] == "succeeded"
    text = run_cli("--db", url, "db", "status").stdout
    assert f"schema version  {migrations[-1]}" in text and "pending         none" in text


def test_the_system_config_file_is_read_after_the_user_one(tmp_path, monkeypatch):
    system = tmp_path / "etc" / "hostdesk.toml"
    system.parent.mkdir()
    system.write_text('company_name = "System Hosting"\nlocale = "de_DE"\n')
    monkeypatch.setattr(config_module, "SYSTEM_CONFIG_FILE", system)
    loaded = load_config()
    assert loaded.config_file == system
    assert (loaded.settings.company_name, loaded.settings.locale) == ("System Hosting", "de_DE")

    user = Path(os.environ["XDG_CONFIG_HOME"]) / "hostdesk" / "hostdesk.toml"
    user.parent.mkdir(parents=True)
    user.write_text('company_name = "User Hosting"\n')
    loaded = load_config()
    assert loaded.config_file == user and loaded.settings.company_name == "User Hosting"
    assert config_module.SYSTEM_CONFIG_FILE == system
    assert str(Path("/etc/hostdesk/hostdesk.toml")) in (config_module.__doc__ or "")


# --- a real SMTP server that keeps the bytes --------------------------------------------


class RawRecorder:
    def __init__(self):
        self.raw: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.original_content or envelope.content)
        return "250 accepted"


def _login(server, session, envelope, mechanism, auth_data):
    def text(value):
        return value.decode() if isinstance(value, bytes) else value
    ok = (text(auth_data.login), text(auth_data.password)) == (SMTP_USER, SMTP_PASSWORD)
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp():
    recorder = RawRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, authenticator=_login,
                            auth_require_tls=False)
    controller.start()
    recorder.port = port
    yield recorder
    controller.stop()


def parsed(raw: bytes):
    import email
    import email.policy

    return email.message_from_bytes(raw, policy=email.policy.default)


def assert_as_mail_servers_expect(raw: bytes):
    message = parsed(raw)
    assert message["Auto-Submitted"] == "auto-generated"
    assert all(byte < 128 for byte in raw), "the message is not 7-bit clean"
    for part in message.walk():
        if not part.is_multipart():
            assert part["Content-Transfer-Encoding"] in (None, "7bit", "quoted-printable",
                                                         "base64")
    return message


# --- a full daily run: JSON logs, no secret, the admins alerted --------------------------


@pytest.fixture
def endpoint():
    server = Endpoint()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_full_daily_run_logs_json_lines_alerts_the_admins_and_logs_no_secret(
        db, db_url, smtp, endpoint, tmp_path):
    Admin.create(login="alice", name="Alice", role="full", email="alice@acme.test")
    Admin.create(login="bob", name="Bob", role="support", email="bob@acme.test")
    Admin.create(login="carol", name="Carol", role="full", email="carol@acme.test", active=False)
    server = make_server(settings={"url": endpoint.url, "secret": secrets.encrypt(SECRET),
                                   "allow_insecure_http": True})  # loopback, no TLS
    product = make_product(module="webhook", server=server)
    zoe = make.client(first_name="Zoë", last_name="Ünal", email="zoe@example.org")
    overdue = make_service(status="active", product=product, client=zoe, next_due_date=NDD,
                           anchor_day=15, recurring_amount=Decimal("3.99"))
    renewing = make_service(status="active", product=product, client=zoe, domain="zoe.example",
                            next_due_date=NDD.add(days=19), anchor_day=3,
                            recurring_amount=Decimal("1234.50"))
    pre = run_daily(Settings(), Clock("UTC", NDD.subtract(days=14)), send_emails=False)
    assert pre.ok and pre.tasks["invoices"]["done"] == 1
    queue_email("welcome_shared", to="zoe@example.org", context={"service": renewing,
                                                                  "password": PASSWORD})
    endpoint.reply(500, b'{"success": false, "message": "panel down"}')
    db.close()

    log_file = tmp_path / "logs" / "cron.log"
    env = {"HOSTDESK_SMTP_HOST": "127.0.0.1", "HOSTDESK_SMTP_PORT": str(smtp.port),
           "HOSTDESK_SMTP_USERNAME": SMTP_USER, "HOSTDESK_SMTP_PASSWORD": SMTP_PASSWORD,
           "HOSTDESK_ADMIN_NOTICE_EMAIL": "ops@acme.test", "HOSTDESK_LOCALE": "de_DE",
           "HOSTDESK_CURRENCY": "EUR", "HOSTDESK_COMPANY_NAME": "Ångström Hosting"}
    result = run_cli("cron", "--db", db_url, "--date", NDD.add(days=5).isoformat(),
                     "--allow-far-date", "--json",
                     "--log-file", str(log_file), "--log-format", "json", env=env)
    assert result.returncode == 1, result.stderr  # the suspension failed
    report = json.loads(result.stdout)
    assert report["tasks"]["suspensions"]["failures"] and report["tasks"]["invoices"]["done"] == 1
    assert report["alert"]["to"] == ["alice@acme.test", "ops@acme.test"]
    assert report["alert"]["sent"] == 2

    text = log_file.read_text()
    entries = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    for name, _ in TASKS:
        assert any(e.get("task") == name and e["message"] == f"task {name} started"
                   for e in entries), name
        [finished] = [e for e in entries if e["message"].startswith(f"task {name} finished")]
        assert {"done", "failed", "run_id"} <= set(finished)
    [suspensions] = [e for e in entries if e["message"].startswith("task suspensions finished")]
    assert (suspensions["failed"], suspensions["level"]) == (1, "warning")
    assert any(e.get("item") == f"service #{overdue.id}" for e in entries)
    assert any(e["logger"] == "hostdesk.modules" for e in entries)
    assert any(e["logger"] == "hostdesk.mail" and e["message"].endswith("sent") for e in entries)
    assert entries[-1]["level"] == "error" and entries[-1]["ok"] is False
    for secret in (PASSWORD, SECRET, SMTP_PASSWORD, TEST_SECRET_KEY):
        assert secret not in text, secret
    assert endpoint.requests  # the module was called, with the password, and it was not logged

    # what arrived: the welcome email, the invoice email, the overdue notice of the unpaid
    # invoice, the admins' two notices; every one as mail servers expect
    messages = [assert_as_mail_servers_expect(raw) for raw in smtp.raw]
    by_to = {m["To"]: m for m in messages}
    assert len(messages) == 5, [m["Subject"] for m in messages]
    assert set(by_to) >= {"alice@acme.test", "ops@acme.test"}
    notice = by_to["alice@acme.test"]
    assert notice["Subject"].startswith("[Ångström Hosting] Daily run #")
    assert "suspensions: 0 done, 1 failed" in notice.get_content()
    invoice_mail = next(m for m in messages if m["Subject"].startswith("Invoice #"))
    assert "Dear Zoë" in invoice_mail.get_content()
    assert "1.234,50\xa0€" in invoice_mail.get_content()  # de_DE, EUR

    db.connect(reuse_if_open=True)
    notices = list(EmailOutbox.select().where(EmailOutbox.template == "admin_notice"))
    assert {n.to_address for n in notices} == {"alice@acme.test", "ops@acme.test"}
    assert all(n.status == "sent" and n.related_type == "cron_run" for n in notices)
    run = CronRun.select().order_by(CronRun.id.desc()).get()
    assert run.status == "failed" and "admins emailed (2)" in CronRunSource().to_row(
        {"report": run.report, "dry_run": False})["summary"]


def test_a_failed_run_queues_an_admin_email_and_the_status_screen_says_so(db):
    Admin.create(login="alice", name="Alice", role="full", email="alice@acme.test")
    Admin.create(login="dave", name="Dave", role="full", email="")
    server = make_server(settings={"url": closed_port_url(), "secret": secrets.encrypt(SECRET),
                                   "allow_insecure_http": True})
    make_service(status="active", product=make_product(module="webhook", server=server),
                 next_due_date=NDD, anchor_day=15)
    settings = Settings(smtp_port=free_port(), admin_notice_email="Alice@acme.test")
    good = run_daily(settings, Clock("UTC", NDD.subtract(days=14)), send_emails=False)
    assert good.ok and good.alert == {}
    assert not EmailOutbox.select().where(EmailOutbox.template == "admin_notice").exists()

    later = pendulum.datetime(2026, 3, 20, 4, 0, tz="UTC")
    report = run_daily(settings, Clock("UTC", NDD.add(days=5)))
    assert not report.ok and report.tasks["suspensions"]["failures"]
    [notice] = EmailOutbox.select().where(EmailOutbox.template == "admin_notice")
    assert notice.to_address == "alice@acme.test"  # once, whatever the case
    assert notice.status in ("queued", "failed")  # the server is down: it waits for a run
    assert "finished with failures" in notice.subject and "suspensions" in notice.body
    assert report.alert == {"to": ["alice@acme.test"], "sent": 0}
    runs = list(CronRun.select())
    warning = automation_warning(runs, later)
    assert warning.startswith("The last daily run (for 2026-03-20) failed")
    assert "suspensions" in warning and "admins emailed (1)" in warning


def test_a_stopped_run_is_not_ok_and_alerts_too(db):
    from hostdesk.automation import cron

    Admin.create(login="alice", name="Alice", role="full", email="alice@acme.test")
    report = cron.RunReport(date="2026-03-20", dry_run=False, tasks={"invoices": {
        "done": 3, "failures": [], "details": {}}}, started_at="2026-03-20T03:10:00+00:00",
        stopped="the run's deadline passed")
    assert not report.ok
    alert = cron.alert_admins(report, 7, Settings(admin_notice_email=""), send=False)
    assert alert == {"to": ["alice@acme.test"], "sent": 0}
    notice = EmailOutbox.get(EmailOutbox.template == "admin_notice")
    assert "stopped: the run's deadline passed" in notice.subject


# --- email as mail servers expect it ----------------------------------------------------


def test_every_message_is_auto_submitted_7bit_and_may_carry_an_html_part(db, smtp):
    zoe = make.client(first_name="Zoë", last_name="Ünal", email="zoe@example.org")
    invoice = invoicing.create_invoice(
        zoe.id, [invoicing.LineSpec(kind="custom", description="Größe XL <b>", amount=Decimal("3.99"))],
        date=NDD, due_date=NDD, payment_method="banktransfer", admin=as_login("alice"),
        company_name="Ångström Hosting")
    settings = Settings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_username=SMTP_USER,
                        smtp_password=SMTP_PASSWORD, company_name="Ångström Hosting")
    assert deliver_outbox(settings).sent == 1
    queue_email("invoice_created", to="zoe@example.org",
                context={"invoice": invoice, "company_name": "Ångström Hosting"})
    assert deliver_outbox(replace(settings, email_html=True)).sent == 1

    plain, both = (assert_as_mail_servers_expect(raw) for raw in smtp.raw)
    assert not plain.is_multipart() and "Dear Zoë" in plain.get_content()
    assert "Größe XL <b>: $3.99" in plain.get_content()
    assert both.get_content_type() == "multipart/alternative"
    text, html = both.get_body(("plain",)), both.get_body(("html",))
    assert text.get_content() == plain.get_content()
    assert "Dear Zoë" in html.get_content() and "Größe XL &lt;b&gt;: $3.99" in html.get_content()


# --- money as the host's customers read it ----------------------------------------------


def test_an_invoice_keeps_its_currency_after_the_setting_changes(db):
    client = make.client(first_name="Jörg", email="joerg@example.de")
    make.service(client_row=client, next_due_date=NDD, recurring_amount=Decimal("3.99"))
    euro = Settings(currency="EUR", locale="de_DE", smtp_port=free_port())
    try:
        emails.configure_defaults(euro)
        run_daily(euro, Clock("UTC", NDD.subtract(days=14)), send_emails=True)  # bulk path
        by_hand = invoicing.create_invoice(
            client.id, [invoicing.LineSpec(kind="custom", description="x", amount=Decimal("3.99"))],
            date=NDD, due_date=NDD, payment_method="banktransfer", admin=as_login("alice"))
        assert {i.currency for i in Invoice.select()} == {"EUR"} and Invoice.select().count() == 2
        bulk_email = (EmailOutbox.select().where(EmailOutbox.template == "invoice_created")
                      .order_by(EmailOutbox.id).first())
        assert "Total: 3,99\xa0€" in bulk_email.body

        emails.configure_defaults(Settings(currency="USD", locale="en_US"))  # later: dollars
        assert Invoice.get_by_id(by_hand.id).currency == "EUR"
        invoicing.queue_invoice_email(Invoice.get_by_id(by_hand.id))
        again = EmailOutbox.select().order_by(EmailOutbox.id.desc()).get()
        assert "Total: €3.99" in again.body  # its own currency, read the en_US way
        new = invoicing.create_invoice(
            client.id, [invoicing.LineSpec(kind="custom", description="y", amount=Decimal("1"))],
            date=NDD, due_date=NDD, payment_method="banktransfer", admin=as_login("alice"))
        assert new.currency == "USD"

        Invoice.update(currency="").where(Invoice.id == new.id).execute()  # before 0018
        assert invoicing.adopt_currency("USD") == 1
        assert {i.id: i.currency for i in Invoice.select()}[new.id] == "USD"
        assert Invoice.select().where(Invoice.currency == "EUR").count() == 2
    finally:
        emails.configure_defaults(Settings())


def test_templates_get_numbers_and_the_money_filter_formats_them(db):
    _, body = emails.preview(
        "invoice_created_numbers", "Invoice {{ invoice.number }}",
        "{{ invoice.total|money }}|{{ (invoice.total * 2)|money }}|{{ invoice.total }}|"
        "{{ invoice.total > 1000 }}|{{ invoice.total|money('EUR') }}")
    assert body == "$1,210.00|$2,420.00|$1,210.00|True|€1,210.00"


def test_the_tui_logs_to_a_file_never_to_the_screen(tmp_path, monkeypatch):
    import logging

    from hostdesk.automation import logs
    from hostdesk.tui.cli import _configure_logging, parse_args

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    try:
        _configure_logging(parse_args([]))  # no command: the TUI
        [handler] = logging.getLogger("hostdesk").handlers
        assert isinstance(handler, logging.FileHandler)
        assert Path(handler.baseFilename) == logs.default_tui_log_file()
        assert str(tmp_path / "state") in handler.baseFilename
        logs.get_logger("tui").info("screen opened")
        handler.flush()
        assert "screen opened" in Path(handler.baseFilename).read_text()

        _configure_logging(parse_args(["cron"]))  # headless: its own output says it all
        [handler] = logging.getLogger("hostdesk").handlers
        assert type(handler) is logging.NullHandler
        _configure_logging(parse_args(["cron", "--log-level", "warning"]))  # asked: stderr
        [handler] = logging.getLogger("hostdesk").handlers
        assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
        assert logging.getLogger("hostdesk").level == logging.WARNING
    finally:
        for handler in list(logging.getLogger("hostdesk").handlers):
            logging.getLogger("hostdesk").removeHandler(handler)
            handler.close()
