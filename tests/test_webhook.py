"""The webhook module against a real HTTP endpoint on loopback (rules §8)."""

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hostdesk.automation.provisioning import webhook
from hostdesk.automation.provisioning.base import ClientInfo, ProductInfo, ServerInfo, ServiceParams
from hostdesk.automation.provisioning.runner import run_command
from hostdesk.automation.provisioning.webhook import WebhookModule
from hostdesk.models import secrets
from hostdesk.models.clock import Clock
from hostdesk.models.permissions import SYSTEM_ADMIN, find_admin
from tests.test_lifecycle import (  # noqa: F401 - secret_key is an autouse fixture
    PASSWORD,
    SETTINGS,
    TODAY,
    emails_sent,
    log_rows,
    make_admin,
    make_product,
    make_server,
    make_service,
    reload,
    secret_key,
)

SECRET = "whsec-3f9a"
OK_REPLY = b'{"success": true, "message": "account created"}'


class Endpoint:
    """A real HTTP server on a free loopback port that records requests and replies as told."""

    def __init__(self, tls_files=None):
        self.requests: list[dict] = []
        self.status, self.body, self.delay = 200, OK_REPLY, 0.0
        self.gate: threading.Event | None = None  # when set up, a reply waits until it opens
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                endpoint.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": self.rfile.read(length)})
                time.sleep(endpoint.delay)
                if endpoint.gate is not None:
                    endpoint.gate.wait(30)
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(endpoint.body)))
                if 300 <= endpoint.status < 400:
                    self.send_header("Location", "http://elsewhere.example/hook")
                self.end_headers()
                self.wfile.write(endpoint.body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the slow handler writes to a client that gave up; that is the point

        self.server = Server(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls_files is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls_files)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_port}/hostdesk/hook"

    def reply(self, status=200, body=OK_REPLY, delay=0.0):
        self.status, self.body, self.delay = status, body, delay

    def hold(self) -> threading.Event:
        """Replies wait until the returned event is set (a command seen while it runs)."""
        self.gate = threading.Event()
        return self.gate

    def last_payload(self) -> dict:
        return json.loads(self.requests[-1]["body"])


@pytest.fixture
def endpoint():
    server = Endpoint()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def tls_endpoint(tmp_path):
    """An HTTPS endpoint whose certificate is self-signed, so no default trust store knows it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder()
                   .subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = Endpoint(tls_files=(cert_file, key_file))
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def expected_signature(request: dict, key: bytes = SECRET.encode()) -> str:
    """Standard Webhooks: v1,base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))."""
    headers = request["headers"]
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request["body"]
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_service(url, status="pending", timeout=None, server_name="web1"):
    settings = {"url": url, "secret": secrets.encrypt(SECRET)}  # stored encrypted
    if url.startswith("http://"):
        settings["allow_insecure_http"] = True  # the loopback test endpoint has no TLS
    if timeout is not None:
        settings["timeout"] = timeout
    server = make_server(module="webhook", settings=settings, name=server_name)
    return make_service(status=status, product=make_product(module="webhook", server=server))


def run(service, command, **arguments):
    return run_command(service.id, command, admin=find_admin("alice"), clock=Clock("UTC", TODAY),
                       settings=SETTINGS, **arguments)


def params_for(settings: dict, module_settings: dict | None = None) -> ServiceParams:
    """A service as the runner would describe it, for the tests that need no database."""
    if str(settings.get("url", "")).startswith("http://") and "allow_insecure_http" not in settings:
        settings = {**settings, "allow_insecure_http": "true"}
    return ServiceParams(
        service_id=7, status="active", client=ClientInfo(3, "Ada Lovelace", "ada@example.com"),
        product=ProductInfo(2, "Starter", "shared", "webhook"),
        server=ServerInfo(1, "web1", "web1.example.net", "192.0.2.10", settings),
        domain="example.com", username="adal", password=PASSWORD,
        module_settings=module_settings or {})


@pytest.fixture
def alice(db):
    return make_admin("alice", "full")


# --- success -----------------------------------------------------------------------------------


def test_create_posts_a_signed_payload_and_activates_on_success(alice, endpoint):
    service = webhook_service(endpoint.url)
    before = int(time.time())

    result = run(service, "create")

    assert (result.success, result.message) == (True, "account created")
    assert reload(service).status == "active"
    [request] = endpoint.requests
    assert request["path"] == "/hostdesk/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    payload = json.loads(request["body"])
    assert payload["command"] == "create" and payload["params"] == {}
    sent = payload["service"]
    assert (sent["id"], sent["status"], sent["domain"]) == (service.id, "pending", "example.com")
    assert (sent["username"], sent["password"]) == ("adal", PASSWORD)  # in clear, for the panel
    assert sent["client"]["email"] == "ada@example.com"
    assert sent["product"]["name"] == "Starter Hosting"
    assert sent["server"] == {"id": service.server_id, "name": "web1",
                              "hostname": "web1.example.net", "ip_address": "192.0.2.10"}
    assert SECRET not in request["body"].decode()  # settings never travel
    timestamp = request["headers"]["webhook-timestamp"]
    assert before <= int(timestamp) <= time.time() + 1
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert request["headers"]["webhook-signature"] == expected_signature(request)
    assert webhook.verify(SECRET, request["headers"], request["body"], now=time.time())
    assert [e.template for e in emails_sent()] == ["welcome_shared"]


def test_suspend_sends_the_reason(alice, endpoint):
    service = webhook_service(endpoint.url, status="active")
    endpoint.reply(body=b'{"success": true}')
    result = run(service, "suspend", reason="Abuse report #12")
    assert (result.success, result.message) == (True, "OK")
    assert endpoint.last_payload()["params"] == {"reason": "Abuse report #12"}
    assert "password" not in endpoint.last_payload()["service"]  # only create/change password
    assert reload(service).status == "suspended"


def test_the_products_settings_override_the_servers(alice, endpoint):
    server = make_server(module="webhook", settings={"url": closed_port_url(), "secret": "old",
                                                     "allow_insecure_http": True})
    product = make_product(module="webhook", server=server,
                           settings={"url": endpoint.url, "secret": SECRET, "timeout": ""})
    service = make_service(product=product)
    assert run(service, "create").success
    assert endpoint.requests[0]["headers"]["webhook-signature"] == expected_signature(
        endpoint.requests[0])


def test_the_signature_binds_id_timestamp_and_body_so_a_replay_is_detectable(endpoint):
    module = WebhookModule(now=lambda: 1_800_000_000)
    module.create(params_for({"url": endpoint.url, "secret": SECRET}))
    request = endpoint.requests[0]
    body, headers = request["body"], request["headers"]
    assert headers["webhook-timestamp"] == "1800000000"
    assert webhook.verify(SECRET, headers, body, now=1_800_000_100)
    assert not webhook.verify(SECRET, headers, body, now=1_800_000_301)
    assert not webhook.verify(SECRET, {**headers, "webhook-timestamp": "1800000200"}, body,
                              now=1_800_000_200)
    assert not webhook.verify(SECRET, {**headers, "webhook-id": "msg_other"}, body,
                              now=1_800_000_000)
    assert not webhook.verify(SECRET, headers, body + b" ", now=1_800_000_000)
    assert not webhook.verify("other", headers, body, now=1_800_000_000)
    # several signatures (a receiver rotating secrets): one match is enough
    both = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    assert webhook.verify(SECRET, both, body, now=1_800_000_000)


@pytest.mark.parametrize("headers", [
    {}, {"webhook-id": "msg_1"}, {"webhook-id": "msg_1", "webhook-timestamp": "soon",
                                  "webhook-signature": "v1,AAAA"},
    {"webhook-id": "msg_1", "webhook-timestamp": "1800000000", "webhook-signature": ""},
    {"webhook-id": "msg_1", "webhook-timestamp": "1800000000",
     "webhook-signature": "v1,\u00e9\u0000"},
    {"webhook-id": None, "webhook-timestamp": None, "webhook-signature": None},
    {"webhook-id": "msg_1", "webhook-timestamp": "9" * 400, "webhook-signature": "v1,x"},
    None, "not headers at all",
])
def test_verify_never_raises_on_missing_or_garbled_headers(headers):
    assert webhook.verify(SECRET, headers, b"{}", now=1_800_000_000) is False
    assert webhook.verify(SECRET, {"webhook-id": "msg_1", "webhook-timestamp": "1800000000",
                                   "webhook-signature": "v1,x"}, None, now=1_800_000_000) is False


def test_a_standard_webhooks_whsec_secret_is_the_base64_key(endpoint):
    key = b"\x01\x02 raw key bytes \xff"
    secret = "whsec_" + base64.b64encode(key).decode()
    result = WebhookModule().create(params_for({"url": endpoint.url, "secret": secret}))
    assert result.success
    request = endpoint.requests[0]
    assert request["headers"]["webhook-signature"] == expected_signature(request, key)
    assert webhook.verify(secret, request["headers"], request["body"], now=time.time())


def test_password_goes_only_with_create_and_change_password(alice, endpoint):
    service = webhook_service(endpoint.url, status="active")
    endpoint.reply(body=b'{"success": true}')
    for command in ("suspend", "unsuspend", "change_package", "terminate"):
        run(service, command)
    sent = [json.loads(r["body"]) for r in endpoint.requests]
    assert [p["command"] for p in sent] == ["suspend", "unsuspend", "change_package", "terminate"]
    assert all("password" not in p["service"] for p in sent)
    assert all(PASSWORD not in r["body"].decode() for r in endpoint.requests)
    other = webhook_service(endpoint.url, server_name="web2")
    run(other, "create")
    assert endpoint.last_payload()["service"]["password"] == PASSWORD
    run(other, "change_password", new_password="N3w-secret!")
    assert endpoint.last_payload()["params"] == {"new_password": "N3w-secret!"}


def test_http_is_refused_unless_the_server_is_marked_insecure_on_purpose(alice, endpoint):
    refused = WebhookModule().create(params_for({"url": endpoint.url, "secret": SECRET,
                                                 "allow_insecure_http": "false"}))
    assert not refused.success
    assert refused.message == (f"webhook module: the URL {endpoint.url} is http://: commands "
                               "carry passwords and must go over https:// (set "
                               "allow_insecure_http = true only for a trusted network)")
    assert endpoint.requests == []  # nothing left hostdesk
    allowed = WebhookModule().create(params_for({"url": endpoint.url, "secret": SECRET,
                                                 "allow_insecure_http": "true"}))
    assert allowed.success and len(endpoint.requests) == 1


def test_the_webhook_id_is_the_same_on_every_retry_of_a_queued_job(alice, endpoint):
    from hostdesk.automation.provisioning.runner import retry_job
    from hostdesk.models.schema import ModuleJob

    service = webhook_service(endpoint.url, status="active")
    endpoint.reply(500, b"down")
    first = run_command(service.id, "suspend", admin=SYSTEM_ADMIN, clock=Clock("UTC", TODAY),
                        settings=SETTINGS, source="cron")
    assert not first.success
    [job] = ModuleJob.select()
    again = run_command(service.id, "suspend", admin=SYSTEM_ADMIN, clock=Clock("UTC", TODAY),
                        settings=SETTINGS, source="cron")  # the next run selects it again
    assert not again.success
    endpoint.reply(body=b'{"success": true}')
    assert retry_job(job.id, admin=find_admin("alice"), clock=Clock("UTC", TODAY),
                     settings=SETTINGS).success
    ids = [r["headers"]["webhook-id"] for r in endpoint.requests]
    assert len(ids) == 3 and len(set(ids)) == 1
    assert reload(service).status == "suspended"
    endpoint.reply(body=b'{"success": true}')
    run(service, "unsuspend")
    assert endpoint.requests[-1]["headers"]["webhook-id"] != ids[0]  # a new command, a new id


# --- failures leave the status unchanged ------------------------------------------------------


@pytest.mark.parametrize("reply, expected", [
    ((200, b'{"success": false, "error": "username adal is taken"}'),
     "username adal is taken"),
    ((500, b"Internal Server Error"), "{url}: HTTP 500 Internal Server Error"),
    ((503, b'{"success": false, "error": "panel in maintenance"}'),
     "{url}: HTTP 503 Service Unavailable: panel in maintenance"),
    ((200, b"<html>not json</html>"), "{url}: the reply (HTTP 200) is not valid JSON"),
    ((200, b'{"ok": true}'), "{url}: the reply (HTTP 200) has no true/false \"success\" field"),
    ((200, b'{"success": "yes"}'), "{url}: the reply (HTTP 200) has no true/false"),
    ((200, b'{"success": false}'), "{url}: the endpoint reported failure without an error"),
    ((302, b""), "{url}: HTTP 302 redirect to http://elsewhere.example/hook (redirects are "
                 "not followed"),
])
def test_an_endpoint_that_says_no_or_answers_badly_is_a_failure(alice, endpoint, reply,
                                                                  expected):
    service = webhook_service(endpoint.url)
    endpoint.reply(*reply)

    result = run(service, "create")

    assert not result.success
    assert result.message.startswith(expected.format(url=f"webhook {endpoint.url}"))
    assert reload(service).status == "pending"
    assert emails_sent() == []
    [attempt] = log_rows("module.create", service.id)
    assert json.loads(attempt.after)["message"] == result.message
    assert len(endpoint.requests) == 1  # a redirect is not followed


def test_a_slow_endpoint_times_out_with_a_clear_message(alice, endpoint):
    service = webhook_service(endpoint.url, status="active", timeout=0.3)
    endpoint.reply(delay=1.5)
    started = time.monotonic()

    result = run(service, "suspend")

    assert time.monotonic() - started < 1.2
    assert not result.success
    assert result.message == f"webhook {endpoint.url}: no complete reply within 0.3 s (timeout)"
    assert reload(service).status == "active"


def test_a_closed_port_is_connection_refused(alice):
    url = closed_port_url()
    service = webhook_service(url, status="active")
    result = run(service, "terminate")
    assert not result.success
    assert result.message == f"webhook {url}: connection refused (is the endpoint running?)"
    assert reload(service).status == "active"


@pytest.mark.parametrize("settings, problem", [
    ({"secret": SECRET}, "no URL configured"),
    ({"url": "file:///etc/passwd", "secret": SECRET}, "is not an http:// or https:// address"),
    ({"url": "https://127.0.0.1:1/x"}, "no secret configured for https://127.0.0.1:1/x"),
    ({"url": "https://127.0.0.1:1/x", "secret": SECRET, "timeout": "soon"},
     "timeout 'soon' is not a number"),
    ({"url": "https://127.0.0.1:1/x", "secret": SECRET, "timeout": 0}, "must be above 0"),
    ({"url": "https://127.0.0.1:1/x", "secret": SECRET, "verify_tls": "maybe"},
     "verify_tls 'maybe' must be true or false"),
    ({"url": "https://127.0.0.1:1/x", "secret": SECRET, "allow_insecure_http": "perhaps"},
     "allow_insecure_http 'perhaps' must be true or false"),
    ({"url": "http://127.0.0.1:1/x", "secret": SECRET, "allow_insecure_http": "no"},
     "is http://: commands carry passwords"),
])
def test_bad_settings_fail_before_anything_is_sent(settings, problem):
    result = WebhookModule().create(params_for(settings))
    assert not result.success
    assert result.message.startswith("webhook module: ")
    assert problem in result.message


def test_credentials_and_query_strings_stay_out_of_messages():
    url = closed_port_url() + "?token=abc"
    refused = WebhookModule().create(params_for({"url": url, "secret": SECRET}))
    assert not refused.success
    assert "token" not in refused.message and "connection refused" in refused.message
    with_user = WebhookModule().create(params_for({"url": "https://user:pw@127.0.0.1:1/x",
                                                   "secret": SECRET}))
    assert with_user.message == ("webhook module: the URL https://127.0.0.1:1/x holds a user "
                                 "name or password; the endpoint authenticates by the signature")


def test_an_untrusted_certificate_is_refused_unless_verify_tls_is_off(tls_endpoint):
    settings = {"url": tls_endpoint.url, "secret": SECRET}

    refused = WebhookModule().create(params_for(settings))
    accepted = WebhookModule().create(params_for({**settings, "verify_tls": "false"}))

    assert not refused.success
    assert refused.message.startswith(f"webhook {tls_endpoint.url}: TLS certificate not "
                                      "trusted: self-signed certificate")
    assert accepted.success and accepted.message == "account created"
    assert len(tls_endpoint.requests) == 1  # only the request that skipped verification


def test_test_connection_posts_the_server_without_a_service(endpoint):
    server = ServerInfo(1, "web1", "web1.example.net", "192.0.2.10",
                        {"url": endpoint.url, "secret": SECRET, "allow_insecure_http": True})
    endpoint.reply(body=b'{"success": true, "message": "pong"}')
    result = WebhookModule().test_connection(server)
    assert (result.success, result.message) == (True, "pong")
    assert endpoint.last_payload() == {"command": "test_connection", "service": None,
                                       "params": {"server": server.public()}}


def test_the_reply_data_is_passed_back(endpoint):
    endpoint.reply(body=b'{"success": true, "message": "ok", "data": {"ip": "192.0.2.99"}}')
    result = WebhookModule().create(params_for({"url": endpoint.url, "secret": SECRET}))
    assert result.data == {"ip": "192.0.2.99"}


# --- a total deadline per call (issue 19, point 1) ---------------------------------------------


class DripServer:
    """A loopback server that accepts, reads the request, then answers one byte at a time with
    `interval` between bytes: every single read is quick, the whole reply takes forever."""

    def __init__(self, reply: bytes, interval: float):
        self.reply, self.interval = reply, interval
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.bytes_sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                for byte in self.reply:
                    if self.stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    self.bytes_sent += 1
                    time.sleep(self.interval)
            except OSError:
                return  # the client hung up: the point of the deadline

    def close(self):
        self.stop.set()
        self.sock.close()


HTTP_REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 48\r\n\r\n"
              + b'{"success": true, "message": "account created"}')


def test_a_server_that_drips_its_reply_is_cut_off_at_the_total_deadline(alice):
    """The review's probe: one byte every 2 s held a `timeout=5` call for over 100 s. Here one
    byte every 0.2 s (each read well inside the timeout) against a 1 s deadline."""
    drip = DripServer(HTTP_REPLY, interval=0.2)
    try:
        url = f"http://127.0.0.1:{drip.port}/hook"
        service = webhook_service(url, status="active", timeout=1)
        started = time.monotonic()
        result = run_command(service.id, "suspend", admin=SYSTEM_ADMIN,
                             clock=Clock("UTC", TODAY), settings=SETTINGS, source="cron")
        elapsed = time.monotonic() - started
    finally:
        drip.close()
    assert elapsed < 2.0, elapsed  # today: len(HTTP_REPLY) * 0.2 s, about 25 s
    assert 0 < drip.bytes_sent < len(HTTP_REPLY)
    assert not result.success
    assert result.message == f"webhook {url}: no complete reply within 1 s (timeout)"
    assert reload(service).status == "active"
    from hostdesk.models.schema import ModuleJob
    [job] = ModuleJob.select()  # queued for the next run's retry, nothing lost
    assert (job.command, job.status, job.last_error) == ("suspend", "failed", result.message)


# --- module replies are cleaned where they enter (issue 19: escapes and markup) ----------------

HOSTILE = ("\x1b]0;owned terminal\x07\x1b[2J\x1b[31m[bold red]disk full[/bold red] "
           "[link=https://evil.example]details[/link]\x1b[0m\r\nsecond line\x00\u202e")


def test_escape_sequences_and_markup_from_a_reply_never_reach_log_queue_or_run_report(
        alice, endpoint):
    from hostdesk.automation.cron import run_daily
    from hostdesk.models.schema import ActivityLog, ModuleJob

    service = webhook_service(endpoint.url, status="active")
    endpoint.reply(body=json.dumps({"success": False, "error": HOSTILE}).encode())

    manual = run(service, "suspend")
    cron = run_command(service.id, "suspend", admin=SYSTEM_ADMIN, clock=Clock("UTC", TODAY),
                       settings=SETTINGS, source="cron")

    clean = "disk full details second line"
    assert manual.message == cron.message == clean
    [job] = ModuleJob.select()
    assert job.last_error == clean
    for row in ActivityLog.select():
        assert "\x1b" not in row.description and "[bold" not in row.description
        assert "\x1b" not in (row.after or "") and "[link" not in (row.after or "")
    # the next day's run retries the job (same reply): what `hostdesk cron` prints
    import pendulum

    tomorrow = pendulum.today("UTC").date().add(days=1)  # jobs are retried once a day
    report = run_daily(SETTINGS, Clock("UTC", tomorrow))
    errors = [f["error"] for task in report.tasks.values() for f in task["failures"]]
    assert any(clean in error for error in errors)
    assert not any("\x1b" in error or "[bold" in error for error in errors)


@pytest.mark.parametrize("raw, shown", [
    ("plain text stays", "plain text stays"),
    ("[Errno 111] Connection refused", "[Errno 111] Connection refused"),  # not markup
    ("a\x1b[1;31mb\x1b[0mc", "abc"),
    ("x\x1b]8;;https://evil\x1b\\link\x1b]8;;\x1b\\y", "xlinky"),  # OSC 8 hyperlink
    ("[[b]b]nested", "nested"),
    ("\u009b31mC1 form", "C1 form"),
    ("tab\tand\nnewline", "tab and newline"),
])
def test_clean_outside_text(raw, shown):
    from hostdesk.models.parsing import clean_outside_text

    assert clean_outside_text(raw) == shown


def test_clean_outside_text_bounds_the_length():
    from hostdesk.models.parsing import clean_outside_text

    assert len(clean_outside_text("x" * 100_000)) == 2000
