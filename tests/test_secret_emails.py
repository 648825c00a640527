"""No service password in clear in the outbox (issue #9): a welcome email's body is stored
encrypted, decrypted only to deliver it, and replaced by a note once it is delivered. The
email log never shows it; other emails are stored and sent as before."""

import pytest
from playhouse.migrations import Runner

from hostdesk.automation import mail
from hostdesk.automation.config import load_config
from hostdesk.automation.mail import deliver_one, deliver_outbox, in_flight_lease, retry_delay
from hostdesk.models import lifecycle, secrets
from hostdesk.models.db import MIGRATIONS_DIR, bind, database, migrate, pending_migrations
from hostdesk.models.emails import SECRET_BODY_REMOVED, queue_email, save_template
from hostdesk.models.errors import ValidationError
from hostdesk.models.schema import ActivityLog, Admin, EmailLog, EmailOutbox, EmailTemplate, Service
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.conftest import TEST_SECRET_KEY
from tests.test_mail_delivery import T0, ProcessKilled, SmtpServer, settings_for
from tests.tui.conftest import CLOCK, run, screen_text, settle
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.email_log import HIDDEN_BODY
from tests.factories import as_login
from hostdesk.models.permissions import SYSTEM_ADMIN

PASSWORD = "Xy7!welcome-Secret"
MIGRATION = "0008_outbox_secret_bodies"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def activated_service(password: str = PASSWORD) -> Service:
    """A shared hosting service whose Create just succeeded: its welcome email is queued."""
    client = make.client(first_name="Ada", email="ada@example.org")
    service = make.service(client_row=client, product_row=make.product(type="shared"),
                           status="pending", domain="ada.example", username="ada")
    lifecycle.activate(service.id, SYSTEM_ADMIN, settings=Settings(company_name="Acme Hosting"),
                       password=password)
    return service


def welcome_of(service: Service) -> EmailOutbox:
    return EmailOutbox.get((EmailOutbox.related_type == "service")
                           & (EmailOutbox.related_id == service.id))


def stored_row(db, email_id: int) -> tuple[str, str, bool]:
    """(subject, body, body_encrypted) as the database holds them, read without the models."""
    subject, body, encrypted = db.execute_sql(
        f"SELECT subject, body, body_encrypted FROM email_outbox WHERE id = {db.param}",
        (email_id,)).fetchone()
    return subject, body, bool(encrypted)


def a_notice() -> EmailOutbox:
    return queue_email("admin_notice", to="ops@example.org",
                       context={"company_name": "Acme Hosting", "title": "Disk",
                                "message": "Disk almost full."})


def test_a_queued_welcome_email_holds_the_password_only_encrypted(db):
    email = welcome_of(activated_service())
    subject, body, encrypted = stored_row(db, email.id)
    assert encrypted and body.startswith(secrets.PREFIX)
    assert PASSWORD not in body and PASSWORD not in subject
    assert f"Password: {PASSWORD}" in secrets.decrypt(body)  # what the deliverer will send

    notice = a_notice()  # other templates are stored as before
    subject, body, encrypted = stored_row(db, notice.id)
    assert not encrypted and "Disk almost full." in body

    # A welcome email without a password has nothing to hide.
    plain = welcome_of(activated_service(password=""))
    assert not stored_row(db, plain.id)[2] and "Username: ada" in stored_row(db, plain.id)[1]


def test_delivery_sends_the_password_then_the_outbox_forgets_it(db, smtp):
    email = welcome_of(activated_service())
    notice = a_notice()
    notice_body = stored_row(db, notice.id)[1]

    result = deliver_outbox(settings_for(smtp), now=T0)
    assert (result.sent, result.failed) == (2, 0)

    [sent] = [r.message for r in smtp.received if r.rcpt_tos == ["ada@example.org"]]
    assert f"Password: {PASSWORD}" in sent.get_content()
    assert "enc:" not in sent.get_content()
    _, body, encrypted = stored_row(db, email.id)
    assert body == SECRET_BODY_REMOVED and not encrypted
    assert EmailOutbox.get_by_id(email.id).status == "sent"
    assert stored_row(db, notice.id)[1] == notice_body  # another email keeps its body

    # Nor is it anywhere else hostdesk writes.
    for row in EmailLog.select():
        assert PASSWORD not in row.detail
    for row in ActivityLog.select():
        assert PASSWORD not in row.description + row.before + row.after


def test_after_a_failed_attempt_it_stays_encrypted_and_a_retry_sends_the_password(db, smtp):
    email = welcome_of(activated_service())
    settings = settings_for(smtp)
    smtp.stop()
    down = deliver_outbox(settings, now=T0)
    assert (down.sent, down.failed) == (0, 1)
    assert EmailOutbox.get_by_id(email.id).status == "failed"
    _, body, encrypted = stored_row(db, email.id)
    assert encrypted and PASSWORD not in body and PASSWORD in secrets.decrypt(body)

    smtp.start()
    retried = deliver_one(email.id, settings, admin=SYSTEM_ADMIN, now=T0.add(minutes=1))
    assert (retried.sent, retried.failed) == (1, 0)
    [received] = smtp.received
    assert f"Password: {PASSWORD}" in received.message.get_content()
    assert stored_row(db, email.id)[1:] == (SECRET_BODY_REMOVED, False)


def test_a_crash_after_sending_resends_it_with_the_password(db, smtp, monkeypatch):
    """The at-least-once boundary (automation/mail.py): the body is only forgotten in the
    transaction that records the message sent, so a resend still has it."""
    email = welcome_of(activated_service())
    settings = settings_for(smtp)

    def killed(*args):
        raise ProcessKilled()

    monkeypatch.setattr(mail, "_record_sent", killed)
    with pytest.raises(ProcessKilled):
        deliver_outbox(settings, now=T0)
    monkeypatch.undo()
    assert stored_row(db, email.id)[2]

    after = T0 + in_flight_lease(settings) + retry_delay(1, settings)
    assert deliver_outbox(settings, now=after).sent == 1
    first, second = (r.message for r in smtp.received)
    assert first["Message-ID"] == second["Message-ID"]
    assert f"Password: {PASSWORD}" in second.get_content()
    assert stored_row(db, email.id)[1:] == (SECRET_BODY_REMOVED, False)


def test_without_the_key_the_email_fails_and_waits_for_it(db, smtp):
    email = welcome_of(activated_service())
    settings = settings_for(smtp)
    secrets.configure("")
    try:
        result = deliver_outbox(settings, now=T0)
    finally:
        secrets.configure(TEST_SECRET_KEY)
    assert (result.sent, result.failed) == (0, 1) and smtp.received == []
    failed = EmailOutbox.get_by_id(email.id)
    assert failed.status == "failed" and "secret key" in failed.last_error
    assert stored_row(db, email.id)[2]  # still encrypted, still deliverable

    assert deliver_one(email.id, settings, now=T0.add(minutes=1)).sent == 1
    assert f"Password: {PASSWORD}" in smtp.received[0].message.get_content()


def test_the_password_never_goes_into_a_subject(db):
    with pytest.raises(ValidationError) as refused:
        save_template("welcome_shared", "Your password: {{ password }}", "Hi", SYSTEM_ADMIN, 0)
    assert refused.value.field == "subject"

    # A template stored before this rule existed: the subject gets a mask, the body the password.
    EmailTemplate.create(name="welcome_shared", subject="Login {{ password }}",
                         body="Password: {{ password }}")
    email = welcome_of(activated_service())
    subject, body, encrypted = stored_row(db, email.id)
    assert subject == "Login ********" and encrypted
    assert secrets.decrypt(body) == f"Password: {PASSWORD}"


def test_the_email_log_never_shows_the_password(db, db_url, smtp):
    Admin.create(login="tester", role="full")
    delivered = welcome_of(activated_service())
    deliver_outbox(settings_for(smtp), now=T0)
    waiting = welcome_of(activated_service())  # the newest: the list's first row
    assert stored_row(db, delivered.id)[1] == SECRET_BODY_REMOVED
    assert stored_row(db, waiting.id)[2]
    app = make_app(load_config(database_url=db_url), "tester", CLOCK)

    async def scenario():
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("g", "e")
            await settle(pilot)
            listed = screen_text(app)
            assert "Email log" in listed and "ada@example.org" in listed
            assert PASSWORD not in listed
            await pilot.press("enter")
            await settle(pilot)
            shown = screen_text(app)
            assert f"Email log #{waiting.id}" in shown
            assert HIDDEN_BODY in shown
            assert PASSWORD not in shown and "enc:" not in shown
            await pilot.press("escape", "down", "enter")
            await settle(pilot)
            shown = screen_text(app)
            assert f"Email log #{delivered.id}" in shown
            assert SECRET_BODY_REMOVED in shown and PASSWORD not in shown

    run(scenario())


def test_the_migration_upgrades_an_existing_outbox_in_place(engine, request, tmp_path, smtp):
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'before-0008.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        server.admin_sql("CREATE DATABASE before_0008")
        url = server.url("before_0008")
    old = bind(url)
    try:
        runner = Runner(old, directory=str(MIGRATIONS_DIR))
        names = [m.name for m in runner.migrations()]
        runner.up(target=names[names.index(MIGRATION) - 1])
        old.execute_sql(
            "INSERT INTO email_outbox (to_address, subject, body, template, related_type, "
            "status, attempts, last_error, created_at) VALUES ('old@example.org', 'Old news', "
            "'Queued before the upgrade.', 'admin_notice', '', 'queued', 0, '', "
            "'2026-03-01 08:00:00')")

        assert MIGRATION in migrate(old)
        assert pending_migrations(old) == []
        kept = EmailOutbox.get(EmailOutbox.to_address == "old@example.org")
        assert (kept.body, kept.body_encrypted) == ("Queued before the upgrade.", False)
        assert deliver_outbox(settings_for(smtp), now=T0).sent == 1
        assert smtp.received[0].message.get_content().strip() == "Queued before the upgrade."

        email = welcome_of(activated_service())  # new welcome emails are stored encrypted
        assert stored_row(old, email.id)[2] and PASSWORD not in stored_row(old, email.id)[1]
    finally:
        old.close()
        database.initialize(None)
