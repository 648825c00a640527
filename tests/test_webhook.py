"""The webhook module against a real HTTP endpoint on loopback (rules §8)."""

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

from automation.provisioning import webhook
from automation.provisioning.base import ClientInfo, ProductInfo, ServerInfo, ServiceParams
from automation.provisioning.runner import run_command
from automation.provisioning.webhook import WebhookModule
from models import secrets
from models.clock import Clock
from models.permissions import find_admin
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
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                endpoint.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": self.rfile.read(length)})
                time.sleep(endpoint.delay)
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


def expected_signature(timestamp: str, body: bytes, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_service(url, status="pending", timeout=None, server_name="web1"):
    settings = {"url": url, "secret": secrets.encrypt(SECRET)}  # stored encrypted
    if timeout is not None:
        settings["timeout"] = timeout
    server = make_server(module="webhook", settings=settings, name=server_name)
    return make_service(status=status, product=make_product(module="webhook", server=server))


def run(service, command, **arguments):
    return run_command(service.id, command, admin=find_admin("alice"), clock=Clock("UTC", TODAY),
                       settings=SETTINGS, **arguments)


def params_for(settings: dict, module_settings: dict | None = None) -> ServiceParams:
    """A service as the runner would describe it, for the tests that need no database."""
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
    timestamp = request["headers"]["X-Hostdesk-Timestamp"]
    assert before <= int(timestamp) <= time.time() + 1
    assert request["headers"]["X-Hostdesk-Signature"] == expected_signature(timestamp,
                                                                            request["body"])
    assert [e.template for e in emails_sent()] == ["welcome_shared"]


def test_suspend_sends_the_reason(alice, endpoint):
    service = webhook_service(endpoint.url, status="active")
    endpoint.reply(body=b'{"success": true}')
    result = run(service, "suspend", reason="Abuse report #12")
    assert (result.success, result.message) == (True, "OK")
    assert endpoint.last_payload()["params"] == {"reason": "Abuse report #12"}
    assert reload(service).status == "suspended"


def test_the_products_settings_override_the_servers(alice, endpoint):
    server = make_server(module="webhook", settings={"url": closed_port_url(), "secret": "old"})
    product = make_product(module="webhook", server=server,
                           settings={"url": endpoint.url, "secret": SECRET, "timeout": ""})
    service = make_service(product=product)
    assert run(service, "create").success
    request = endpoint.requests[0]
    timestamp = request["headers"]["X-Hostdesk-Timestamp"]
    assert request["headers"]["X-Hostdesk-Signature"] == expected_signature(timestamp,
                                                                            request["body"])


def test_the_signature_binds_the_timestamp_so_a_replay_is_detectable(endpoint):
    module = WebhookModule(now=lambda: 1_800_000_000)
    module.create(params_for({"url": endpoint.url, "secret": SECRET}))
    request = endpoint.requests[0]
    body, signature = request["body"], request["headers"]["X-Hostdesk-Signature"]
    assert request["headers"]["X-Hostdesk-Timestamp"] == "1800000000"
    assert webhook.verify(SECRET, "1800000000", body, signature, now=1_800_000_100)
    assert not webhook.verify(SECRET, "1800000000", body, signature, now=1_800_000_301)
    assert not webhook.verify(SECRET, "1800000200", body, signature, now=1_800_000_200)
    assert not webhook.verify(SECRET, "1800000000", body + b" ", signature, now=1_800_000_000)
    assert not webhook.verify("other", "1800000000", body, signature, now=1_800_000_000)


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
    assert result.message == f"webhook {endpoint.url}: no reply within 0.3 s (timeout)"
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
    ({"url": "http://127.0.0.1:1/x"}, "no secret configured for http://127.0.0.1:1/x"),
    ({"url": "http://127.0.0.1:1/x", "secret": SECRET, "timeout": "soon"},
     "timeout 'soon' is not a number"),
    ({"url": "http://127.0.0.1:1/x", "secret": SECRET, "timeout": 0}, "must be above 0"),
    ({"url": "http://127.0.0.1:1/x", "secret": SECRET, "verify_tls": "maybe"},
     "verify_tls 'maybe' must be true or false"),
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
    with_user = WebhookModule().create(params_for({"url": "http://user:pw@127.0.0.1:1/x",
                                                   "secret": SECRET}))
    assert with_user.message == ("webhook module: the URL http://127.0.0.1:1/x holds a user "
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
                        {"url": endpoint.url, "secret": SECRET})
    endpoint.reply(body=b'{"success": true, "message": "pong"}')
    result = WebhookModule().test_connection(server)
    assert (result.success, result.message) == (True, "pong")
    assert endpoint.last_payload() == {"command": "test_connection", "service": None,
                                       "params": {"server": server.public()}}


def test_the_reply_data_is_passed_back(endpoint):
    endpoint.reply(body=b'{"success": true, "message": "ok", "data": {"ip": "192.0.2.99"}}')
    result = WebhookModule().create(params_for({"url": endpoint.url, "secret": SECRET}))
    assert result.data == {"ip": "192.0.2.99"}
