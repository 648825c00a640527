"""The `webhook` module: every command is a signed JSON POST to a URL the host runs.

Settings (server settings, overridden by the product's module settings): `url` (https; http
only with `allow_insecure_http = true`, set on purpose for a trusted network), `secret`
(required; a Standard Webhooks `whsec_<base64>` secret or any text), `timeout` in seconds for
the whole call (connect, send and every read; default 30), `verify_tls` (default true).

The request body is JSON: `{"command": ..., "params": {...}, "service": {...}}`. The service's
password travels only with `create` and `change_password`. The request is signed with the
Standard Webhooks scheme (https://www.standardwebhooks.com/):

    webhook-id: <the same for every retry of one command, so a receiver can drop repeats>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>." + raw body)>

where `key` is the base64-decoded part after `whsec_`, or the secret's bytes otherwise.

The endpoint answers 2xx with `{"success": true, "message": "..."}` (optional `"data": {}`) or
`{"success": false, "error": "..."}`. Anything else (timeout, refused connection, HTTP error,
a redirect, a reply that is not that JSON) is a failure whose message names the URL and the
problem.
"""

import base64
import binascii
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from hostdesk.automation.deadline import Deadline
from hostdesk.automation.provisioning.base import (
    CHANGE_PACKAGE,
    CHANGE_PASSWORD,
    CREATE,
    RENEW,
    SUSPEND,
    TERMINATE,
    TEST_CONNECTION,
    UNSUSPEND,
    CommandResult,
    ProvisioningModule,
    ServerInfo,
    ServiceParams,
)

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0
MAX_REPLY_BYTES = 1_000_000
REPLAY_TOLERANCE_SECONDS = 300
SENDS_PASSWORD = frozenset({CREATE, CHANGE_PASSWORD})


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` header for a body sent as `delivery_id` at `timestamp`."""
    digest = hmac.new(_key(secret), f"{delivery_id}.{timestamp}.".encode() + body,
                      hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping, body: bytes, *, now: float,
           tolerance: int = REPLAY_TOLERANCE_SECONDS) -> bool:
    """What an endpoint checks: one of the signatures matches and the timestamp is recent.
    Missing, empty or garbled headers are a plain False, never an exception."""
    try:
        lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
        delivery_id = lowered.get(ID_HEADER, "")
        timestamp = lowered.get(TIMESTAMP_HEADER, "")
        signatures = lowered.get(SIGNATURE_HEADER, "").split()
        if not delivery_id or not timestamp.isdigit() or not signatures:
            return False
        if abs(now - int(timestamp)) > tolerance:
            return False
        expected = sign(secret, delivery_id, timestamp, bytes(body))
        return any(hmac.compare_digest(expected.encode(), candidate.encode())
                   for candidate in signatures)
    except (TypeError, ValueError, AttributeError, UnicodeError):
        return False


def new_delivery_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class WebhookConfigError(Exception):
    pass


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str
    timeout: float = DEFAULT_TIMEOUT
    verify_tls: bool = True
    allow_insecure_http: bool = False

    @classmethod
    def parse(cls, settings: dict) -> "WebhookSettings":
        url = str(settings.get("url") or "").strip()
        if not url:
            raise WebhookConfigError("no URL configured: set 'url' in the server or the "
                                     "product's module settings")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise WebhookConfigError("the URL is not a valid address") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookConfigError(f"the URL {display_url(url)!r} is not an http:// or "
                                     "https:// address")
        insecure = _flag(settings.get("allow_insecure_http"), default=False,
                         name="allow_insecure_http")
        if parts.scheme == "http" and not insecure:
            raise WebhookConfigError(f"the URL {display_url(url)} is http://: commands carry "
                                     "passwords and must go over https:// (set "
                                     "allow_insecure_http = true only for a trusted network)")
        if parts.username or parts.password:
            raise WebhookConfigError(f"the URL {display_url(url)} holds a user name or "
                                     "password; the endpoint authenticates by the signature")
        secret = str(settings.get("secret") or "")
        if not secret:
            raise WebhookConfigError(f"no secret configured for {display_url(url)}: set "
                                     "'secret' so the endpoint can verify the signature")
        return cls(url, secret, _timeout(settings.get("timeout")),
                   _flag(settings.get("verify_tls"), default=True, name="verify_tls"), insecure)


def _timeout(raw) -> float:
    if raw in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise WebhookConfigError(f"timeout {raw!r} is not a number of seconds") from None
    if not 0 < value <= MAX_TIMEOUT:
        raise WebhookConfigError(f"timeout {raw!r} must be above 0 and at most {MAX_TIMEOUT:g} s")
    return value


def _flag(raw, *, default: bool, name: str) -> bool:
    if raw in (None, ""):
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise WebhookConfigError(f"{name} {raw!r} must be true or false")


def display_url(url: str) -> str:
    """The URL without credentials or query string, safe for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class WebhookModule(ProvisioningModule):
    name = "webhook"
    label = "Webhook (signed HTTP POST)"
    secret_settings = frozenset({"secret"})

    def __init__(self, now: Callable[[], float] = time.time):
        self._now = now

    def create(self, params: ServiceParams) -> CommandResult:
        return self._send_for_service(CREATE, params, {})

    def suspend(self, params: ServiceParams, reason: str) -> CommandResult:
        return self._send_for_service(SUSPEND, params, {"reason": reason})

    def unsuspend(self, params: ServiceParams) -> CommandResult:
        return self._send_for_service(UNSUSPEND, params, {})

    def terminate(self, params: ServiceParams) -> CommandResult:
        return self._send_for_service(TERMINATE, params, {})

    def change_package(self, params: ServiceParams) -> CommandResult:
        return self._send_for_service(CHANGE_PACKAGE, params, {})

    def change_password(self, params: ServiceParams, new_password: str) -> CommandResult:
        return self._send_for_service(CHANGE_PASSWORD, params, {"new_password": new_password})

    def renew(self, params: ServiceParams) -> CommandResult:
        return self._send_for_service(RENEW, params, {})

    def test_connection(self, server: ServerInfo) -> CommandResult:
        return self._send(server.settings, {"command": TEST_CONNECTION,
                                            "params": {"server": server.public()},
                                            "service": None}, new_delivery_id())

    def _send_for_service(self, command: str, params: ServiceParams, arguments: dict):
        server_settings = params.server.settings if params.server else {}
        product_settings = {k: v for k, v in params.module_settings.items() if v not in ("", None)}
        service = params.public()
        if command not in SENDS_PASSWORD:
            service.pop("password", None)
        return self._send({**server_settings, **product_settings},
                          {"command": command, "params": arguments, "service": service},
                          params.delivery_id or new_delivery_id())

    def _send(self, raw_settings: dict, payload: dict, delivery_id: str) -> CommandResult:
        try:
            settings = WebhookSettings.parse(raw_settings)
        except WebhookConfigError as exc:
            return CommandResult.failed(f"webhook module: {exc}")
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(self._now()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hostdesk-webhook/2",
            ID_HEADER: delivery_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(settings.secret, delivery_id, timestamp, body),
        }
        return _post(body, headers, settings)


def _post(body: bytes, headers: dict, settings: WebhookSettings) -> CommandResult:
    """One POST, bounded as a whole by `settings.timeout`; redirects are never followed (a
    redirect would resend, or silently drop, a signed command elsewhere)."""
    import http.client  # here: a command that runs no webhook (a look-up, a payment) skips them
    import ssl

    where = f"webhook {display_url(settings.url)}"
    parts = urlsplit(settings.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    with Deadline() as deadline:
        deadline.arm(settings.timeout)
        if parts.scheme == "https":
            context = ssl.create_default_context()
            if not settings.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(parts.hostname, parts.port,
                                                     timeout=settings.timeout, context=context)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                                    timeout=settings.timeout)
        connection._create_connection = (  # watch the socket as soon as it exists
            lambda *a, **kw: deadline.adopt(socket.create_connection(*a, **kw)))
        try:
            connection.request("POST", target, body, headers)
            response = connection.getresponse()
            raw = response.read(MAX_REPLY_BYTES + 1)
            status, reason, location = response.status, response.reason, response.getheader(
                "Location", "?")
        except (OSError, http.client.HTTPException) as exc:
            if deadline.expired:
                return CommandResult.failed(f"{where}: no complete reply within "
                                            f"{settings.timeout:g} s (timeout)")
            return CommandResult.failed(f"{where}: {_connection_problem(exc, settings)}")
        finally:
            deadline.disarm()
            connection.close()
    if 300 <= status < 400:
        return CommandResult.failed(f"{where}: HTTP {status} redirect to {location} "
                                    "(redirects are not followed; configure the final URL)")
    if not 200 <= status < 300:
        return CommandResult.failed(f"{where}: {_http_error(status, reason, raw)}")
    return _interpret(where, status, raw)


def _connection_problem(reason, settings: WebhookSettings) -> str:
    import http.client
    import ssl

    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"no complete reply within {settings.timeout:g} s (timeout)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the endpoint running?)"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {reason.verify_message or reason}"
    if isinstance(reason, http.client.RemoteDisconnected):
        return "the endpoint closed the connection without replying"
    return f"cannot reach the endpoint: {reason}"


def _http_error(status: int, reason: str, raw: bytes) -> str:
    text = f"HTTP {status} {reason}"
    try:
        reply = json.loads(raw[:MAX_REPLY_BYTES])
    except ValueError:
        return text
    if isinstance(reply, dict) and reply.get("error"):
        return f"{text}: {reply['error']}"
    return text


def _interpret(where: str, status: int, raw: bytes) -> CommandResult:
    if len(raw) > MAX_REPLY_BYTES:
        return CommandResult.failed(f"{where}: the reply is larger than {MAX_REPLY_BYTES} bytes")
    try:
        reply = json.loads(raw)
    except ValueError:
        snippet = raw[:80].decode("utf-8", "replace")
        return CommandResult.failed(f"{where}: the reply (HTTP {status}) is not valid JSON: "
                                    f"{snippet!r}")
    if not isinstance(reply, dict) or not isinstance(reply.get("success"), bool):
        return CommandResult.failed(f"{where}: the reply (HTTP {status}) has no true/false "
                                    "\"success\" field")
    data = reply.get("data") if isinstance(reply.get("data"), dict) else {}
    if reply["success"]:
        return CommandResult(True, str(reply.get("message") or "OK"), data)
    error = reply.get("error") or reply.get("message")
    if not error:
        return CommandResult(False, f"{where}: the endpoint reported failure without an error "
                                    "message", data)
    return CommandResult(False, str(error), data)
