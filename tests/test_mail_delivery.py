"""Delivery of the outbox to a real SMTP server on loopback (aiosmtpd): what arrives, what
is recorded when the server is down or refuses, and that every message arrives exactly once
through outages, concurrent deliverers and crashes (with the documented at-least-once
boundary: a crash after the server's 250 and before our commit sends it again under the
same Message-ID)."""

import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, replace

import pendulum
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hostdesk.automation import mail
from hostdesk.automation.cron import RunContext
from hostdesk.automation.mail import (
    ABANDONED,
    IN_FLIGHT,
    count_due,
    deliver_one,
    deliver_outbox,
    email_task,
    in_flight_lease,
    message_id,
    retry_delay,
)
from hostdesk.models.emails import queue_email
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.schema import ActivityLog, EmailLog, EmailOutbox
from hostdesk.models.settings import Settings
from tests.factories import as_login

T0 = pendulum.datetime(2026, 3, 17, 9, 0, tz="UTC")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    message: email.message.EmailMessage


class Recorder:
    """An aiosmtpd handler that keeps every message and refuses chosen recipients."""

    def __init__(self):
        self.received: list[Received] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [r.message["Message-ID"] for r in self.received]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self, **smtp_options):
        self.recorder = Recorder()
        self.port = free_port()
        self.options = smtp_options
        self.controller = None

    def start(self):
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port,
                                     **self.options)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self):
        return self.recorder.received


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def settings_for(server: SmtpServer, **overrides) -> Settings:
    values = dict(smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
                  smtp_timeout=5.0, from_email="billing@acme.test", company_name="Acme Hosting")
    values.update(overrides)
    return Settings(**values)


def queue(n: int, prefix: str = "m") -> list[EmailOutbox]:
    return [queue_email("admin_notice", to=f"{prefix}{i}@example.org",
                        context={"company_name": "Acme Hosting", "title": f"{prefix} {i}",
                                 "message": f"Body of {prefix} {i}.\nSecond line ünïcode."})
            for i in range(n)]


def fresh(row: EmailOutbox) -> EmailOutbox:
    return EmailOutbox.get_by_id(row.id)


def attempts_of(row: EmailOutbox) -> list[EmailLog]:
    return list(EmailLog.select().where(EmailLog.email == row.id).order_by(EmailLog.id))


def test_delivered_messages_arrive_as_queued(db, smtp):
    settings = settings_for(smtp)
    queued = queue(3)
    result = deliver_outbox(settings, now=T0)
    assert (result.sent, result.failed, result.errors) == (3, 0, [])

    assert len(smtp.received) == 3
    for row, got in zip(queued, smtp.received):
        row = fresh(row)
        assert got.mail_from == "billing@acme.test" and got.rcpt_tos == [row.to_address]
        assert got.message["To"] == row.to_address
        assert got.message["From"] == "Acme Hosting <billing@acme.test>"
        assert got.message["Subject"] == row.subject == f"[Acme Hosting] m {queued.index(row)}"
        assert got.message["Message-ID"] == message_id(row, settings)
        # The body arrives intact, non-ASCII line included (SMTP lines end in CRLF).
        assert got.message.get_content().replace("\r\n", "\n") == row.body
        assert row.status == "sent" and row.sent_at == T0 and row.attempts == 1
        assert row.last_error == ""
        [log] = attempts_of(row)
        assert log.success and "accepted by 127.0.0.1" in log.detail and log.at == T0
    assert len(set(smtp.recorder.message_ids())) == 3

    assert deliver_outbox(settings, now=T0.add(days=1)).sent == 0  # nothing twice
    assert len(smtp.received) == 3


def test_outage_is_recorded_and_every_message_arrives_exactly_once_after(db, smtp):
    settings = settings_for(smtp)
    early = queue(2, "early")
    assert deliver_outbox(settings, now=T0).sent == 2

    late = queue(3, "late")
    smtp.stop()
    down = deliver_outbox(settings, now=T0)
    # The first attempt finds the server down; the run stops instead of timing out per message.
    assert (down.sent, down.failed) == (0, 1)
    first = fresh(late[0])
    assert first.status == "failed" and first.attempts == 1
    assert "127.0.0.1" in first.last_error and "connection refused" in first.last_error
    [log] = attempts_of(first)
    assert not log.success and log.detail == first.last_error
    assert down.errors[0] == (first.id, first.last_error)
    assert down.errors[1][0] is None and "could not be reached" in down.errors[1][1]
    for row in late[1:]:
        assert fresh(row).status == "queued" and fresh(row).attempts == 0
        assert attempts_of(row) == []

    smtp.start()  # the same port again
    soon = deliver_outbox(settings, now=T0.add(minutes=1))
    assert soon.sent == 2  # the failed one waits for its backoff
    assert fresh(late[0]).status == "failed"
    later = deliver_outbox(settings, now=T0.add(minutes=10))
    assert (later.sent, later.failed) == (1, 0)
    assert deliver_outbox(settings, now=T0.add(days=2)).sent == 0

    expected = [message_id(fresh(row), settings) for row in early + late]
    assert sorted(smtp.recorder.message_ids()) == sorted(expected)  # each exactly once
    assert all(fresh(row).status == "sent" for row in early + late)
    assert [log.success for log in attempts_of(late[0])] == [False, True]
    assert fresh(late[0]).attempts == 2 and fresh(late[0]).last_error == ""


def test_a_refused_recipient_fails_alone_and_is_retried_with_backoff(db, smtp):
    settings = settings_for(smtp, email_max_attempts=3)
    rows = queue(3)
    smtp.recorder.refuse.add(rows[1].to_address)
    result = deliver_outbox(settings, now=T0)
    assert (result.sent, result.failed) == (2, 1)
    refused = fresh(rows[1])
    assert refused.status == "failed" and "550" in refused.last_error
    assert result.errors == [(refused.id, refused.last_error)]

    assert retry_delay(1, settings) == pendulum.duration(minutes=5)
    assert retry_delay(2, settings) == pendulum.duration(minutes=10)
    assert count_due(settings, T0.add(minutes=4)) == 0
    assert count_due(settings, T0.add(minutes=5)) == 1
    deliver_outbox(settings, now=T0.add(minutes=5))
    assert fresh(refused).attempts == 2
    assert count_due(settings, T0.add(minutes=14)) == 0
    deliver_outbox(settings, now=T0.add(minutes=15))
    assert fresh(refused).attempts == 3 and fresh(refused).status == "failed"
    # Given up after email_max_attempts: visible, not retried by the run...
    assert count_due(settings, T0.add(days=7)) == 0
    assert deliver_outbox(settings, now=T0.add(days=7)).failed == 0
    assert len(attempts_of(refused)) == 3

    # ...until an admin fixes the cause and presses "retry now".
    smtp.recorder.refuse.clear()
    retried = deliver_one(refused.id, settings, admin=as_login("alice"))
    assert (retried.sent, retried.failed) == (1, 0)
    assert fresh(refused).status == "sent"
    log = ActivityLog.get(ActivityLog.action == "email.retry")
    assert log.admin_login == "alice" and log.object_id == refused.id and "sent" in log.description
    with pytest.raises(RuleViolation, match="already sent"):
        deliver_one(refused.id, settings)
    assert [r.rcpt_tos for r in smtp.received].count([refused.to_address]) == 1


def test_concurrent_deliverers_never_send_a_message_twice(db, smtp):
    settings = settings_for(smtp)
    rows = queue(30)
    results, errors = [], []

    def deliverer():
        try:
            results.append(deliver_outbox(settings, now=T0))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=deliverer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(r.sent for r in results) == 30 and sum(r.failed for r in results) == 0
    assert len(smtp.received) == 30
    assert sorted(smtp.recorder.message_ids()) == sorted(message_id(fresh(r), settings)
                                                         for r in rows)
    assert all(len(attempts_of(row)) == 1 for row in rows)


class ProcessKilled(BaseException):
    """Stands for the process dying (SIGKILL, power loss) at a chosen point."""


def test_crash_after_sending_resends_once_with_the_same_message_id(db, smtp, monkeypatch):
    settings = settings_for(smtp)
    [row] = queue(1)

    def killed(*args):
        raise ProcessKilled()

    monkeypatch.setattr(mail, "_record_sent", killed)
    with pytest.raises(ProcessKilled):
        deliver_outbox(settings, now=T0)
    monkeypatch.undo()
    assert len(smtp.received) == 1
    assert fresh(row).status == "queued" and fresh(row).attempts == 1
    [log] = attempts_of(row)
    assert log.detail == IN_FLIGHT

    # While the lease runs, nobody touches it: not the run, not "retry now".
    assert deliver_outbox(settings, now=T0.add(minutes=1)).sent == 0
    with pytest.raises(RuleViolation, match="being sent right now"):
        deliver_one(row.id, settings, now=T0.add(minutes=1))
    assert len(smtp.received) == 1

    # Afterwards the attempt is recorded as abandoned and the message sent again, under the
    # same Message-ID so the receiving side can drop the copy: the at-least-once boundary.
    after = T0 + in_flight_lease(settings) + retry_delay(1, settings)
    assert deliver_outbox(settings, now=after).sent == 1
    assert smtp.recorder.message_ids() == [message_id(fresh(row), settings)] * 2
    first, second = attempts_of(row)
    assert first.detail == ABANDONED and not first.success and second.success
    assert fresh(row).status == "sent"
    assert deliver_outbox(settings, now=after.add(days=1)).sent == 0


def test_crash_before_sending_loses_nothing(db, smtp, monkeypatch):
    settings = settings_for(smtp)
    rows = queue(2)

    def killed(self, message, recipient):
        raise ProcessKilled()

    monkeypatch.setattr(mail.SmtpSession, "send", killed)
    with pytest.raises(ProcessKilled):
        deliver_outbox(settings, now=T0)
    monkeypatch.undo()
    assert smtp.received == []
    assert [log.detail for log in attempts_of(rows[0])] == [IN_FLIGHT]
    assert attempts_of(rows[1]) == []

    assert deliver_outbox(settings, now=T0.add(minutes=1)).sent == 1  # the untouched one
    assert deliver_outbox(settings, now=T0.add(hours=1)).sent == 1  # the abandoned one
    assert sorted(smtp.recorder.message_ids()) == sorted(message_id(fresh(r), settings)
                                                         for r in rows)
    assert fresh(rows[0]).status == fresh(rows[1]).status == "sent"


def test_email_task_reports_and_a_dry_run_sends_nothing(db, smtp):
    settings = settings_for(smtp)
    rows = queue(3)
    smtp.recorder.refuse.add(rows[2].to_address)
    today = pendulum.date(2026, 3, 17)

    dry = email_task(RunContext(today=today, settings=settings, dry_run=True))
    assert dry.done == 3 and dry.details["due"] == 3 and dry.ok
    quiet = email_task(RunContext(today=today, settings=settings, send_emails=False))
    assert quiet.done == 0 and quiet.details["due"] == 3
    assert smtp.received == [] and all(fresh(r).status == "queued" for r in rows)
    assert EmailLog.select().count() == 0

    beats = []
    ctx = RunContext(today=today, settings=settings,
                     progress=lambda task, done, total: beats.append((task, done)))
    result = email_task(ctx)
    assert result.done == 2 and not result.ok
    assert result.failures == [{"item": f"email #{rows[2].id}", "error": fresh(rows[2]).last_error}]
    assert beats[-1] == ("email", 3)
    assert len(smtp.received) == 2
    # Without an explicit moment each attempt is stamped with the real time.
    stamps = [log.at for log in EmailLog.select()]
    assert all(abs((pendulum.now("UTC") - at).in_seconds()) < 60 for at in stamps)


def test_unknown_security_mode_is_refused(db, smtp):
    queue(1)
    with pytest.raises(ValidationError) as caught:
        deliver_outbox(settings_for(smtp, smtp_security="ssl"))
    assert caught.value.field == "smtp_security"
    assert EmailLog.select().count() == 0


# --- TLS ------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for localhost, trusted through SSL_CERT_FILE the way an
    operator's CA bundle would be (so the production code path verifies it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def _authenticator(server, session, envelope, mechanism, auth_data):
    def text(value):
        return value.decode() if isinstance(value, bytes) else value
    ok = (text(auth_data.login), text(auth_data.password)) == ("mailer", "right-password")
    return AuthResult(success=ok, handled=False)


def test_starttls_with_login(db, certificate):
    server = SmtpServer(tls_context=certificate, require_starttls=True,
                       authenticator=_authenticator, auth_require_tls=True).start()
    try:
        rows = queue(1) + queue(1, "second")
        settings = settings_for(server, smtp_host="localhost", smtp_security="starttls",
                                smtp_username="mailer", smtp_password="right-password")
        assert deliver_outbox(settings, limit=1, now=T0).sent == 1
        assert fresh(rows[0]).status == "sent" and fresh(rows[1]).status == "queued"

        wrong = replace(settings, smtp_password="wrong-password")
        result = deliver_outbox(wrong, now=T0)
        assert result.failed == 1 and "535" in fresh(rows[1]).last_error
        assert "wrong-password" not in fresh(rows[1]).last_error
        assert len(server.received) == 1
    finally:
        server.stop()


def test_starttls_never_falls_back_to_plain_text(db, smtp, certificate):
    [row] = queue(1)
    result = deliver_outbox(settings_for(smtp, smtp_security="starttls"), now=T0)
    assert result.failed == 1 and smtp.received == []
    assert "STARTTLS" in fresh(row).last_error


def test_implicit_tls(db, certificate):
    server = SmtpServer(ssl_context=certificate).start()
    try:
        [row] = queue(1)
        settings = settings_for(server, smtp_host="localhost", smtp_security="tls")
        assert deliver_outbox(settings, now=T0).sent == 1
        assert server.received[0].message["Message-ID"] == message_id(fresh(row), settings)
    finally:
        server.stop()


# --- a total deadline per SMTP call (issue 19, point 1) -------------------------------------


class DrippingSmtp:
    """A loopback 'SMTP server' that greets normally and then answers EHLO one byte every
    `interval` seconds: each read is quick, the reply never ends in time."""

    def __init__(self, interval: float):
        self.interval, self.sent = interval, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        with conn:
            try:
                conn.sendall(b"220 drip.test ESMTP\r\n")
                conn.recv(1024)  # EHLO
                for byte in b"250-drip.test\r\n" + b"250-" + b"X" * 200 + b"\r\n250 OK\r\n":
                    if self.stopped.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    self.sent += 1
                    time.sleep(self.interval)
            except OSError:
                return

    def close(self):
        self.stopped.set()
        self.sock.close()


def test_a_dripping_smtp_server_is_cut_off_and_the_mail_waits_for_retry(db):
    drip = DrippingSmtp(interval=0.05)
    queued = queue(3)
    settings = Settings(smtp_host="127.0.0.1", smtp_port=drip.port, smtp_timeout=1.0,
                        from_email="billing@acme.test")
    try:
        started = time.monotonic()
        result = deliver_outbox(settings, now=T0)
        elapsed = time.monotonic() - started
    finally:
        drip.close()
    assert elapsed < 2.0, elapsed  # per-read timeouts alone: ~11 s per connection attempt
    assert (result.sent, result.failed) == (0, 1)
    first = fresh(queued[0])
    assert first.status == "failed" and first.attempts == 1
    assert first.last_error == (f"SMTP server 127.0.0.1:{drip.port} (none): no complete reply "
                                "within 1 s (timeout)")
    # the server is treated as unreachable: the other messages wait, untouched, for a retry
    assert [fresh(row).status for row in queued[1:]] == ["queued", "queued"]
    assert result.errors[-1][1].startswith("stopped: the SMTP server could not be reached")
