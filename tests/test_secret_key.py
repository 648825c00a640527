"""One key per database (issue 19, point 5): the database keeps its key's fingerprint; a
second key is refused before it writes anything, naming both fingerprints and never a key;
`init` never makes a second key for a database with secrets; weak keys are refused; `hostdesk
key rotate` re-encrypts every secret in batches and resumes after a stop; a suspension or a
termination never needs the service password."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.identity import current_os_account
from hostdesk.automation.provisioning.runner import run_command
from hostdesk.models import keyring, secrets
from hostdesk.models.permissions import find_admin
from hostdesk.models.clock import Clock
from hostdesk.models.db import bind
from hostdesk.models.schema import Admin, CronRun, Domain, EmailOutbox, Product, Server, Service, Setting
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.conftest import TEST_SECRET_KEY

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
ME = current_os_account().login
OTHER_KEY = secrets.new_key()


def cli(db_url, *args, key=TEST_SECRET_KEY, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "HOSTDESK_SECRET_KEY"}
    if key:
        environment["HOSTDESK_SECRET_KEY"] = key
    environment.update(env or {})
    return subprocess.run([HOSTDESK, "--db", db_url, *args], capture_output=True, text=True,
                          timeout=120, env=environment, stdin=subprocess.DEVNULL)


def with_secrets(count: int = 3) -> dict:
    """Every kind of stored secret, written with the test key."""
    Admin.create(login=ME, role="full")
    server = make.server(settings=json.dumps({"user": "root",
                                               "password": secrets.encrypt("srv-pass")}))
    product = make.product(module_settings=json.dumps({"plan": "gold",
                                                        "api_key": secrets.encrypt("api-123")}))
    services = [make.service(product_row=product, server=server, username=f"u{i}",
                             password=secrets.encrypt(f"pw-{i}")) for i in range(count)]
    domain = make.domain(services[0].client, epp_code=secrets.encrypt("epp-777"))
    email = EmailOutbox.create(to_address="a@example.com", subject="Welcome",
                               body=secrets.encrypt("your password is pw-0"),
                               body_encrypted=True, template="welcome")
    return {"server": server, "product": product, "services": services, "domain": domain,
            "email": email}


def plain_values(made: dict) -> list[str]:
    server = json.loads(Server.get_by_id(made["server"].id).settings)
    product = json.loads(Product.get_by_id(made["product"].id).module_settings)
    return ([secrets.decrypt(server["password"]), secrets.decrypt(product["api_key"]),
             secrets.decrypt(Domain.get_by_id(made["domain"].id).epp_code),
             secrets.decrypt(EmailOutbox.get_by_id(made["email"].id).body)]
            + [secrets.decrypt(Service.get_by_id(s.id).password) for s in made["services"]])


EXPECTED = ["srv-pass", "api-123", "epp-777", "your password is pw-0"]


def test_a_second_users_init_makes_no_second_key_and_a_wrong_key_is_refused(db, db_url,
                                                                            tmp_path):
    with_secrets()
    db.close()
    # The review's attack: another OS user (its own config directory, no key) runs init.
    second_home = {"XDG_CONFIG_HOME": str(tmp_path / "second-user-config")}
    second = cli(db_url, "init", key="", env=second_home)
    assert second.returncode == 2 and "already holds secrets" in second.stderr
    assert not (tmp_path / "second-user-config" / "hostdesk" / "secret.key").exists()
    # The right key adopts the database: its fingerprint is stored.
    assert cli(db_url, "init").returncode == 0
    assert keyring.stored_fingerprint() == secrets.fingerprint(TEST_SECRET_KEY)
    # Another (strong) key is refused before anything runs, naming both fingerprints.
    wrong = cli(db_url, "cron", "--date", "2026-01-01", "--allow-far-date", key=OTHER_KEY)
    assert wrong.returncode == 2
    assert secrets.fingerprint(OTHER_KEY) in wrong.stderr
    assert secrets.fingerprint(TEST_SECRET_KEY) in wrong.stderr
    assert OTHER_KEY not in wrong.stderr and TEST_SECRET_KEY not in wrong.stderr
    assert CronRun.select().count() == 0
    assert Service.select().where(Service.status != "active").count() == 0


def test_a_database_with_secrets_and_no_fingerprint_adopts_only_a_key_that_reads_them(db):
    with_secrets()
    secrets.configure(OTHER_KEY)
    with pytest.raises(keyring.KeyMismatch, match="cannot read"):
        keyring.adopt_key()
    assert keyring.stored_fingerprint() == ""
    secrets.configure(TEST_SECRET_KEY)
    keyring.adopt_key()
    assert keyring.stored_fingerprint() == secrets.fingerprint(TEST_SECRET_KEY)


@pytest.mark.parametrize("weak", ["short-key", "a" * 48, "abab" * 12])
def test_weak_keys_are_refused(tmp_path, weak):
    result = cli(f"sqlite:///{tmp_path / 'w.db'}", "init", key=weak)
    assert result.returncode == 2 and "too weak" in result.stderr
    assert not (tmp_path / "w.db").exists()


def test_key_rotate_re_encrypts_every_secret_then_only_the_new_key_opens(db, db_url, tmp_path):
    made = with_secrets()
    keyring.adopt_key()
    before = {s.id: Service.get_by_id(s.id).password for s in made["services"]}
    db.close()
    new_key_file = tmp_path / "new.key"
    rotated = cli(db_url, "key", "rotate", "--new-key-file", str(new_key_file))
    assert rotated.returncode == 0, rotated.stderr
    new_key = new_key_file.read_text().strip()
    assert new_key_file.stat().st_mode & 0o777 == 0o600
    assert keyring.stored_fingerprint() == secrets.fingerprint(new_key)
    assert all(Service.get_by_id(i).password != stored for i, stored in before.items())
    secrets.configure(new_key)
    assert plain_values(made) == EXPECTED + [f"pw-{i}" for i in range(3)]
    old = cli(db_url, "cron", "--date", "2026-01-01", "--allow-far-date", key=TEST_SECRET_KEY)
    assert old.returncode == 2 and "is not this database's key" in old.stderr
    assert CronRun.select().count() == 0
    new = cli(db_url, "cron", "--date", "2026-01-01", "--allow-far-date", key=new_key)
    assert new.returncode in (0, 1) and new.stderr == ""  # it ran (the outbox has no SMTP)
    assert CronRun.select().count() == 1


def test_a_stopped_rotation_blocks_other_commands_and_resumes_where_it_stopped(db, db_url):
    made = with_secrets(count=7)
    keyring.adopt_key()
    new_key = secrets.new_key()

    def stop_after_the_first_batch(table, done):
        if done >= 2:
            raise KeyboardInterrupt  # as if killed part-way

    with pytest.raises(KeyboardInterrupt):
        keyring.rotate(TEST_SECRET_KEY, new_key, batch=2, progress=stop_after_the_first_batch)
    state = keyring.rotation_in_progress()
    assert state["to"] == secrets.fingerprint(new_key) and state["done"]
    with pytest.raises(keyring.KeyMismatch, match="unfinished"):
        keyring.check_key()
    db.close()
    blocked = cli(db_url, "cron", "--date", "2026-01-01", "--allow-far-date")
    assert blocked.returncode == 2 and "unfinished" in blocked.stderr
    db.connect(reuse_if_open=True)
    assert keyring.rotate(TEST_SECRET_KEY, new_key, batch=2) > 0
    assert keyring.rotation_in_progress() is None
    assert not Setting.select().where(Setting.key == keyring.ROTATION).exists()
    secrets.configure(new_key)
    assert plain_values(made) == EXPECTED + [f"pw-{i}" for i in range(7)]


def test_suspend_and_terminate_never_decrypt_the_service_password(db):
    Admin.create(login="ops", role="full")
    make.ensure_template("Hosting Suspended")
    secrets.configure(OTHER_KEY)
    unreadable = secrets.encrypt("written with a key this process does not have")
    secrets.configure(TEST_SECRET_KEY)
    service = make.service(username="u1", password=unreadable)
    clock = Clock("UTC", pendulum.date(2026, 5, 1))
    for command in ("suspend", "terminate"):
        result = run_command(service.id, command, admin=find_admin("ops"), clock=clock,
                             settings=Settings(), send_email=False)
        assert result.success, result.message
    assert Service.get_by_id(service.id).status == "terminated"
    assert Service.get_by_id(service.id).password == unreadable  # kept, untouched
