"""SMTP delivery of the email outbox (`models.emails` queues, this module sends).

Each message goes through three short steps, none of which holds a transaction while
talking to the SMTP server:

1. claim — one transaction bumps `attempts` only if it still holds the value read
   (compare-and-set; on PostgreSQL the row is first locked `FOR UPDATE SKIP LOCKED`, on
   SQLite the IMMEDIATE transaction serialises claimers) and writes the attempt's
   `EmailLog` row marked in flight. Two deliverers therefore never send the same message
   at the same time.
2. send over SMTP, with a Message-ID derived from the outbox row, identical on every
   attempt of that message.
3. record — one transaction marks the message `sent` (with `sent_at`) or `failed` (with
   `last_error`), and closes the attempt's log row.

A body that carries a service password (a welcome email) is stored encrypted: it is
decrypted here, only to build the message, and step 3 replaces it with a note once the
message is sent, so the password does not stay in the database after delivery. A retry
before that (a failure, a crash) decrypts it again.

The at-least-once boundary, honestly: if the process dies after the SMTP server accepted a
message but before step 3 commits, the database cannot know it was sent. The attempt stays
in flight; once its lease has passed, a later run records it as failed ("no result
recorded") and sends it again, with the same Message-ID, so mail clients and servers that
de-duplicate by Message-ID drop the copy. Nothing is lost: a message leaves the retry
cycle only as `sent`, or as `failed` after `email_max_attempts` attempts (still visible,
and "retry now" sends it again). The window is the few milliseconds between the server's
final "250" and our commit.

Failed messages are retried with a backoff that doubles from 5 minutes (capped at 6
hours) and never shorter than the in-flight lease. When the server cannot be reached at
all, the run stops after recording that attempt: the rest of the queue waits untouched
for the next run instead of costing one timeout per message.
"""

import html
import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

import pendulum
from peewee import fn

from hostdesk.automation.deadline import Deadline
from hostdesk.automation.run_context import RunContext, TaskResult
from hostdesk.models import audit, secrets
from hostdesk.models.db import connection, database, is_postgres, with_retry
from hostdesk.models.emails import SECRET_BODY_REMOVED
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.parsing import clean_outside_text
from hostdesk.models.schema import Admin, EmailLog, EmailOutbox
from hostdesk.models.settings import SMTP_SECURITY_MODES as SECURITY_MODES
from hostdesk.models.settings import Settings

RETRYABLE = ("queued", "failed")
IN_FLIGHT = "in flight: no result recorded yet"
ABANDONED = ("no result recorded: the deliverer stopped during this attempt, so the message "
             "may or may not have been sent; it is sent again with the same Message-ID")
BACKOFF_BASE_SECONDS = 5 * 60
BACKOFF_CAP_SECONDS = 6 * 60 * 60
SCAN_BATCH = 500
# 7-bit output: a non-ASCII body goes quoted-printable (or base64), never raw 8-bit, so
# every relay accepts it whether or not it announces 8BITMIME.
SMTP_POLICY = SMTP.clone(cte_type="7bit")

log = logging.getLogger("hostdesk.mail")


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)  # [(outbox id, or None for the server; error)]


class ServerUnavailable(Exception):
    """The SMTP server could not be reached, greeted, secured or logged in to."""


# --- timing -----------------------------------------------------------------------------


def _clock(now) -> Callable[[], pendulum.DateTime]:
    """A fixed moment when one is given (tests, replays); otherwise the real time, read
    afresh for every attempt, so a long run never back-dates an attempt's lease."""
    if now is None:
        return lambda: pendulum.now("UTC")
    fixed = pendulum.instance(now).in_timezone("UTC")
    return lambda: fixed


def in_flight_lease(settings: Settings) -> pendulum.Duration:
    """How long a claimed attempt may go without a result before it counts as abandoned:
    comfortably longer than the SMTP conversation of one message can take."""
    return pendulum.duration(seconds=max(300, int(10 * settings.smtp_timeout)))


def retry_delay(attempts: int, settings: Settings) -> pendulum.Duration:
    """Wait after the `attempts`-th attempt: 5 min, 10, 20, ... capped at 6 h."""
    seconds = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return max(pendulum.duration(seconds=seconds), in_flight_lease(settings))


def message_id(email: EmailOutbox, settings: Settings) -> str:
    """The same on every attempt of one outbox message, different for every message; the
    creation moment keeps it unique across databases (a rebuilt one restarts ids)."""
    domain = settings.from_email.rpartition("@")[2] or "hostdesk"
    stamp = email.created_at.strftime("%Y%m%d%H%M%S%f")
    return f"<outbox-{email.id}.{stamp}@{domain}>"


# --- SMTP -------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    """What went wrong, in one clean line: a server's reply may hold escape sequences."""
    return clean_outside_text(_explain(exc))


def _explain(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt} refused: {code} {_text(msg)}"
                         for rcpt, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _WatchedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose sockets a `Deadline` watches."""

    def __init__(self, deadline: Deadline, *args, **kwargs):
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return self._deadline.adopt(super()._get_socket(host, port, timeout))


class _WatchedSMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, deadline: Deadline, *args, **kwargs):
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return self._deadline.adopt(super()._get_socket(host, port, timeout))


class SmtpSession:
    """One SMTP connection, opened on first use and reused for the messages that follow.

    `smtp_timeout` bounds each step as a whole (connecting with its greeting, STARTTLS and
    login; then each message), not each read: a server that drips its replies is cut off."""

    def __init__(self, settings: Settings):
        if settings.smtp_security not in SECURITY_MODES:
            raise ValidationError("smtp_security", f"'{settings.smtp_security}' is not one of "
                                                   f"{', '.join(SECURITY_MODES)}")
        self.settings = settings
        self._smtp = None
        self._deadline = Deadline()

    @property
    def where(self) -> str:
        s = self.settings
        return f"{s.smtp_host}:{s.smtp_port} ({s.smtp_security})"

    def _timed_out(self) -> str:
        return f"no complete reply within {self.settings.smtp_timeout:g} s (timeout)"

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        self._deadline.arm(s.smtp_timeout)
        try:
            if s.smtp_security == "tls":
                smtp = _WatchedSMTPSSL(self._deadline, s.smtp_host, s.smtp_port,
                                       timeout=s.smtp_timeout,
                                       context=ssl.create_default_context())
            else:
                smtp = _WatchedSMTP(self._deadline, s.smtp_host, s.smtp_port,
                                    timeout=s.smtp_timeout)
            try:
                smtp.ehlo()
                if s.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password)
            except BaseException:
                smtp.close()
                raise
        except (OSError, smtplib.SMTPException) as exc:
            problem = self._timed_out() if self._deadline.expired else _describe(exc)
            self._deadline.close()
            raise ServerUnavailable(f"SMTP server {self.where}: {problem}") from exc
        finally:
            self._deadline.disarm()
        return smtp

    def send(self, message: EmailMessage, recipient: str) -> str:
        if self._smtp is None:
            self._smtp = self._connect()
        self._deadline.arm(self.settings.smtp_timeout)
        try:
            self._smtp.send_message(message, from_addr=self.settings.from_email,
                                    to_addrs=[recipient])
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            expired = self._deadline.expired
            self.close()  # the next message reconnects
            if expired:  # a server this slow would cost a timeout per message: stop here
                raise ServerUnavailable(f"SMTP server {self.where}: {self._timed_out()}") from exc
            raise
        finally:
            self._deadline.disarm()
        return f"accepted by {self.where}"

    def close(self) -> None:
        if self._smtp is not None:
            self._deadline.arm(self.settings.smtp_timeout)  # QUIT is a call too
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None
        self._deadline.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_message(email: EmailOutbox, settings: Settings, now: pendulum.DateTime) -> EmailMessage:
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = formataddr((settings.company_name, settings.from_email))
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(email, settings)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to it
    text = secrets.decrypt(email.body) if email.body_encrypted else email.body
    message.set_content(text)
    if settings.email_html:
        message.add_alternative(html_body(text, email.subject), subtype="html")
    return message


_URL = re.compile(r"(https?://[^\s<>\"]+)")


def html_body(text: str, title: str) -> str:
    """The HTML part: the same rendered text, escaped, its paragraphs and links kept."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(block)
        escaped = _URL.sub(r'<a href="\1">\1</a>', escaped)
        paragraphs.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(title)}</title></head>\n<body>\n" + "\n".join(paragraphs)
            + "\n</body></html>\n")


# --- claim and record -------------------------------------------------------------------


def _claim(email_id: int, seen_attempts: int, now: pendulum.DateTime) -> int | None:
    """Take one message for an attempt; the attempt's log id, or None if another deliverer
    took it (or it changed) since it was read."""
    with database.atomic():
        query = EmailOutbox.select(EmailOutbox.id).where(
            (EmailOutbox.id == email_id) & (EmailOutbox.attempts == seen_attempts)
            & EmailOutbox.status.in_(RETRYABLE))
        if is_postgres():
            query = query.for_update(skip_locked=True)
        if query.first() is None:
            return None
        claimed = (EmailOutbox.update(attempts=EmailOutbox.attempts + 1)
                   .where((EmailOutbox.id == email_id) & (EmailOutbox.attempts == seen_attempts)
                          & EmailOutbox.status.in_(RETRYABLE))
                   .execute())
        if claimed != 1:
            return None
        return EmailLog.create(email=email_id, at=now, success=False, detail=IN_FLIGHT).id


def _record_sent(email_id: int, log_id: int, now: pendulum.DateTime, detail: str,
                 forget_body: bool = False) -> None:
    """`forget_body`: the body carried a password; delivered, it has done its job."""
    changes = dict(status="sent", sent_at=now, last_error="")
    if forget_body:
        changes.update(body=SECRET_BODY_REMOVED, body_encrypted=False)
    with database.atomic():
        EmailOutbox.update(**changes).where(EmailOutbox.id == email_id).execute()
        EmailLog.update(success=True, detail=detail).where(EmailLog.id == log_id).execute()


def _record_failed(email_id: int, log_id: int, error: str) -> None:
    with database.atomic():
        EmailOutbox.update(status="failed", last_error=error).where(
            (EmailOutbox.id == email_id) & (EmailOutbox.status != "sent")).execute()
        EmailLog.update(success=False, detail=error).where(EmailLog.id == log_id).execute()


def _record_abandoned(email_id: int, log_id: int) -> bool:
    """Close an in-flight attempt whose lease passed; False if someone else already did."""
    with database.atomic():
        closed = (EmailLog.update(detail=ABANDONED)
                  .where((EmailLog.id == log_id) & (EmailLog.detail == IN_FLIGHT)).execute())
        if closed:
            EmailOutbox.update(status="failed", last_error=ABANDONED).where(
                (EmailOutbox.id == email_id) & (EmailOutbox.status != "sent")).execute()
        return bool(closed)


# --- choosing what to send --------------------------------------------------------------


def _latest_attempts(email_ids: list[int]) -> dict[int, EmailLog]:
    if not email_ids:
        return {}
    latest = (EmailLog.select(fn.MAX(EmailLog.id))
              .where(EmailLog.email.in_(email_ids)).group_by(EmailLog.email))
    return {row.email_id: row for row in EmailLog.select().where(EmailLog.id.in_(latest))}


def _due(email: EmailOutbox, last: EmailLog | None, settings: Settings,
         now: pendulum.DateTime, *, recover: bool) -> bool:
    """Whether `email` should be attempted now. With `recover`, an abandoned attempt is
    recorded as failed on the way (a dry run only looks)."""
    if email.attempts == 0 or last is None:
        return True
    if last.detail == IN_FLIGHT:
        if now - last.at < in_flight_lease(settings):
            return False  # another deliverer is on it
        if recover:
            _record_abandoned(email.id, last.id)
    return now - last.at >= retry_delay(email.attempts, settings)


def _due_messages(settings: Settings, clock: Callable[[], pendulum.DateTime], *, recover: bool):
    """Messages to attempt now, queued ones first, each status read oldest first in batches
    along the (status, id) index, so the sent millions are never scanned."""
    for status in RETRYABLE:
        wanted = EmailOutbox.status == status
        if status == "failed":  # a message its template could not render has nothing to send
            wanted &= ((EmailOutbox.attempts < settings.email_max_attempts)
                       & (EmailOutbox.render_failed == False))  # noqa: E712
        after = 0
        while True:
            batch = list(EmailOutbox.select().where(wanted & (EmailOutbox.id > after))
                         .order_by(EmailOutbox.id).limit(SCAN_BATCH))
            if not batch:
                break
            latest = _latest_attempts([e.id for e in batch if e.attempts > 0])
            for email in batch:
                if _due(email, latest.get(email.id), settings, clock(), recover=recover):
                    yield email
            after = batch[-1].id


# --- delivering -------------------------------------------------------------------------


SENT, FAILED, UNREACHABLE, TAKEN = "sent", "failed", "unreachable", "taken"


def _attempt(email: EmailOutbox, session: SmtpSession, settings: Settings,
             clock: Callable[[], pendulum.DateTime], result: DeliveryResult) -> str:
    """Claim, send and record one message; says which of SENT, FAILED, UNREACHABLE (the
    server could not be reached) or TAKEN (another deliverer claimed it first) happened."""
    now = clock()  # the attempt's own start: its lease runs from here
    log_id = with_retry(lambda: _claim(email.id, email.attempts, now))
    if log_id is None:
        return TAKEN
    outcome = FAILED
    try:
        detail = session.send(build_message(email, settings, now), email.to_address)
    except ServerUnavailable as exc:
        error, outcome = str(exc), UNREACHABLE
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        error = _describe(exc)
    except (secrets.MissingSecretKey, secrets.UnreadableSecret) as exc:
        error = f"the body holds a password and cannot be decrypted: {exc}"
    else:
        sent_at = clock()
        with_retry(lambda: _record_sent(email.id, log_id, sent_at, detail, email.body_encrypted))
        result.sent += 1
        log.info("email #%s (%s) sent", email.id, email.template,
                 extra={"email_id": email.id, "template": email.template})
        return SENT
    log.log(logging.ERROR if outcome == UNREACHABLE else logging.WARNING,
            "email #%s (%s) not sent: %s", email.id, email.template, error,
            extra={"email_id": email.id, "template": email.template})
    with_retry(lambda: _record_failed(email.id, log_id, error))
    result.failed += 1
    result.errors.append((email.id, error))
    return outcome


def deliver_outbox(settings: Settings, *, limit: int | None = None,
                   now: pendulum.DateTime | None = None,
                   on_progress: Callable[[DeliveryResult], None] | None = None) -> DeliveryResult:
    """Send what is due: queued messages, and failed ones under `email_max_attempts` whose
    backoff has passed. At most `limit` attempts. Never raises for an SMTP problem: each
    failure is recorded on its message and listed in the result."""
    clock = _clock(now)
    result = DeliveryResult()
    with connection(), SmtpSession(settings) as session:
        for email in _due_messages(settings, clock, recover=True):
            if limit is not None and result.sent + result.failed >= limit:
                break
            if _attempt(email, session, settings, clock, result) == UNREACHABLE:
                result.errors.append((None, "stopped: the SMTP server could not be reached; "
                                            "the remaining messages wait for the next run"))
                break
            if on_progress is not None:
                on_progress(result)
    if result.sent or result.failed:
        log.info("email delivery: %s sent, %s failed", result.sent, result.failed,
                 extra={"sent": result.sent, "failed": result.failed})
    return result


def count_due(settings: Settings, now: pendulum.DateTime | None = None) -> int:
    """How many messages a delivery now would attempt (changes nothing)."""
    return len(due_email_ids(settings, now))


def due_email_ids(settings: Settings, now: pendulum.DateTime | None = None) -> list[int]:
    """The ids of the messages a delivery now would attempt, in that order (changes nothing)."""
    with connection():
        return [email.id for email in _due_messages(settings, _clock(now), recover=False)]


def deliver_one(email_id: int, settings: Settings, *, admin: Admin | None = None,
                now: pendulum.DateTime | None = None) -> DeliveryResult:
    """"Retry now" for one message: sends it at once, whatever its backoff or attempts.
    Refused for a message already sent, or one a deliverer is sending at this moment.
    `admin`: who asked, in the activity log; None for the daily run's own notice (not logged)."""
    clock = _clock(now)
    result = DeliveryResult()
    with connection():
        email = EmailOutbox.get_or_none(EmailOutbox.id == email_id)
        if email is None:
            raise ValidationError("email", f"there is no email #{email_id} in the outbox")
        if email.status == "sent":
            raise RuleViolation(f"email #{email_id} was already sent on "
                                f"{email.sent_at.to_datetime_string()} UTC")
        if email.render_failed:
            raise RuleViolation(f"email #{email_id} was never written: {email.last_error}")
        last = _latest_attempts([email.id]).get(email.id)
        if last is not None and last.detail == IN_FLIGHT:
            if clock() - last.at < in_flight_lease(settings):
                raise RuleViolation(f"email #{email_id} is being sent right now; "
                                    "look again in a minute")
            _record_abandoned(email.id, last.id)
        with SmtpSession(settings) as session:
            outcome = _attempt(email, session, settings, clock, result)
        if outcome == TAKEN:
            raise RuleViolation(f"email #{email_id} is being sent right now; "
                                "look again in a minute")
        if admin is not None:
            error = f": {result.errors[0][1]}" if result.errors else ""
            with database.atomic():
                audit.record(admin.login, "email.retry", "email_outbox", email.id,
                             client_id=email.client_id,
                             description=f"retry now of '{email.subject}' to "
                                         f"{email.to_address}: {outcome}{error}")
    return result


# --- the daily run ----------------------------------------------------------------------

HEARTBEAT_SECONDS = 30


def email_task(ctx: RunContext) -> TaskResult:
    """The daily run's last task: deliver the outbox. A dry run, or a run told to send no
    email, only counts what is due."""
    if ctx.dry_run or not ctx.send_emails:
        due = due_email_ids(ctx.settings)
        why = "dry run" if ctx.dry_run else "the run was told not to send emails"
        return TaskResult(done=len(due) if ctx.dry_run else 0,
                          details={"due": len(due), "sent": 0, "note": f"{why}: nothing sent"},
                          items=[f"email #{email_id}" for email_id in due] if ctx.dry_run else [])

    last_beat = time.monotonic()

    def progress(partial: DeliveryResult) -> None:
        nonlocal last_beat
        ctx.progress("email", partial.sent + partial.failed, None)
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            ctx.heartbeat()
            last_beat = time.monotonic()

    result = deliver_outbox(ctx.settings, on_progress=progress)
    failures = [{"item": f"email #{email_id}" if email_id is not None else "smtp",
                 "error": error} for email_id, error in result.errors]
    return TaskResult(done=result.sent, failures=failures,
                      details={"sent": result.sent, "failed": result.failed})
