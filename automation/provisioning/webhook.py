"""The `webhook` module: every command is a signed JSON POST to a URL the host runs.

Settings (server settings, overridden by the product's module settings): `url` (http or
https), `secret` (required), `timeout` in seconds (default 30), `verify_tls` (default true).

The request body is JSON: `{"command": ..., "params": {...}, "service": {...}}`. Two headers
let the endpoint trust it and refuse replays:

    X-Hostdesk-Timestamp: <unix seconds>
    X-Hostdesk-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The endpoint answers 2xx with `{"success": true, "message": "..."}` (optional `"data": {}`) or
`{"success": false, "error": "..."}`. Anything else (timeout, refused connection, HTTP error,
a redirect, a reply that is not that JSON) is a failure whose message names the URL and the
problem.
"""

import hashlib
import hmac
import http.client
import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from automation.provisioning.base import (
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

SIGNATURE_HEADER = "X-Hostdesk-Signature"
TIMESTAMP_HEADER = "X-Hostdesk-Timestamp"
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0
MAX_REPLY_BYTES = 1_000_000
REPLAY_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float,
           tolerance: int = REPLAY_TOLERANCE_SECONDS) -> bool:
    """What an endpoint checks: the signature matches and the timestamp is recent."""
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookConfigError(Exception):
    pass


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str
    timeout: float = DEFAULT_TIMEOUT
    verify_tls: bool = True

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
        if parts.username or parts.password:
            raise WebhookConfigError(f"the URL {display_url(url)} holds a user name or "
                                     "password; the endpoint authenticates by the signature")
        secret = str(settings.get("secret") or "")
        if not secret:
            raise WebhookConfigError(f"no secret configured for {display_url(url)}: set "
                                     "'secret' so the endpoint can verify the signature")
        return cls(url, secret, _timeout(settings.get("timeout")),
                   _flag(settings.get("verify_tls"), default=True))


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


def _flag(raw, *, default: bool) -> bool:
    if raw in (None, ""):
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise WebhookConfigError(f"verify_tls {raw!r} must be true or false")


def display_url(url: str) -> str:
    """The URL without credentials or query string, safe for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would resend (or silently drop) a signed command elsewhere: refuse it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


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
                                            "service": None})

    def _send_for_service(self, command: str, params: ServiceParams, arguments: dict):
        server_settings = params.server.settings if params.server else {}
        product_settings = {k: v for k, v in params.module_settings.items() if v not in ("", None)}
        return self._send({**server_settings, **product_settings},
                          {"command": command, "params": arguments, "service": params.public()})

    def _send(self, raw_settings: dict, payload: dict) -> CommandResult:
        try:
            settings = WebhookSettings.parse(raw_settings)
        except WebhookConfigError as exc:
            return CommandResult.failed(f"webhook module: {exc}")
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(self._now()))
        request = urllib.request.Request(settings.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": "hostdesk-webhook/1",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(settings.secret, timestamp, body),
        })
        return _post(request, settings)


def _post(request: urllib.request.Request, settings: WebhookSettings) -> CommandResult:
    where = f"webhook {display_url(settings.url)}"
    context = ssl.create_default_context()
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=settings.timeout) as response:
            return _interpret(where, response.status, response.read(MAX_REPLY_BYTES + 1))
    except urllib.error.HTTPError as exc:
        return CommandResult.failed(f"{where}: {_http_error(exc)}")
    except urllib.error.URLError as exc:
        return CommandResult.failed(f"{where}: {_connection_problem(exc.reason, settings)}")
    except (OSError, http.client.HTTPException) as exc:
        return CommandResult.failed(f"{where}: {_connection_problem(exc, settings)}")


def _connection_problem(reason, settings: WebhookSettings) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"no reply within {settings.timeout:g} s (timeout)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the endpoint running?)"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {reason.verify_message or reason}"
    if isinstance(reason, http.client.RemoteDisconnected):
        return "the endpoint closed the connection without replying"
    return f"cannot reach the endpoint: {reason}"


def _http_error(exc: urllib.error.HTTPError) -> str:
    if 300 <= exc.code < 400:
        return (f"HTTP {exc.code} redirect to {exc.headers.get('Location', '?')} "
                "(redirects are not followed; configure the final URL)")
    text = f"HTTP {exc.code} {exc.reason}"
    try:
        reply = json.loads(exc.read(MAX_REPLY_BYTES))
    except (ValueError, OSError):
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
