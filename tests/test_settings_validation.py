"""Every setting is checked at start-up, wherever it comes from, and a bad one is named in a
one-line error with exit status 2 before anything runs (issue 14, bug 14)."""

import json
from dataclasses import replace

import pytest

from hostdesk.automation.billing_workers import settings_from_json, settings_to_json
from hostdesk.automation.config import load_config
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.settings import Settings
from hostdesk.tui.cli import main

BAD_VALUES = [  # (setting, value as written in hostdesk.toml, what the message says)
    ("batch_size", "0", "from 1 to"),
    ("timezone", '"Mars/Olympus"', "not a known time zone"),
    ("currency", '"XYZ"', "not an ISO 4217 currency"),
    ("smtp_security", '"ssl"', "not one of none, starttls, tls"),
    ("smtp_timeout", "inf", "at most 600"),
    ("smtp_timeout", "nan", "at most 600"),
    ("smtp_port", "999999", "from 1 to 65535"),
    ("smtp_port", "0", "from 1 to 65535"),
    ("email_max_attempts", "0", "from 1 to"),
    ("module_max_attempts", "0", "from 1 to"),
    ("from_email", '"not-an-address"', "not an email address"),
    ("admin_notice_email", '"ops at example"', "not an email address"),
    ("company_name", '"  "', "must not be empty"),
    ("smtp_host", '"mail host"', "not a host name"),
    ("overdue_reminder_days", "[14, 7]", "must increase"),
    ("overdue_reminder_days", "[1, 2, 3, 4]", "at most 3"),
    ("invoice_days_per_cycle", '{ weekly = 3 }', "not a repeating billing cycle"),
    ("run_deadline_minutes", "0", "from 1 to"),
    ("terminate_guard_percent", "101", "from 0 to 100"),
]


def run_cli(tmp_path, capsys, *args, toml: str = "", env=None, monkeypatch=None):
    (tmp_path / "hostdesk.toml").write_text(toml)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    code = main(["--db", f"sqlite:///{tmp_path / 'never-created.db'}", *args])
    return code, capsys.readouterr()


@pytest.mark.parametrize("name,raw,message", BAD_VALUES)
def test_bad_value_in_config_file_is_named_and_cron_exits_2(tmp_path, capsys, name, raw,
                                                              message):
    code, out = run_cli(tmp_path, capsys, "cron", toml=f"{name} = {raw}\n")
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"hostdesk: config: {name} (from ")
    assert "hostdesk.toml" in lines[0] and message in lines[0]
    assert not (tmp_path / "never-created.db").exists()  # refused before anything ran


@pytest.mark.parametrize("name,value,message", [
    ("HOSTDESK_BATCH_SIZE", "0", "from 1 to"),
    ("HOSTDESK_SMTP_TIMEOUT", "inf", "at most 600"),
    ("HOSTDESK_SMTP_PORT", "999999", "from 1 to 65535"),
    ("HOSTDESK_TIMEZONE", "Nowhere/Special", "not a known time zone"),
    ("HOSTDESK_CURRENCY", "usd", "not an ISO 4217"),
    ("HOSTDESK_SMTP_SECURITY", "ssl", "not one of"),
])
def test_bad_value_in_environment_is_named(tmp_path, capsys, monkeypatch, name, value, message):
    code, out = run_cli(tmp_path, capsys, "cron", env={name: value}, monkeypatch=monkeypatch)
    assert code == 2
    setting = name.removeprefix("HOSTDESK_").lower()
    assert out.err.startswith(f"hostdesk: config: {setting} (from environment {name}): ")
    assert message in out.err


def test_every_bad_value_is_reported_at_once(tmp_path):
    (tmp_path / "h.toml").write_text('batch_size = 0\nsmtp_port = 999999\ncurrency = "ABC"\n')
    with pytest.raises(ValidationErrors) as caught:
        load_config(str(tmp_path / "h.toml"), environ={})
    named = sorted(str(e).split(" ")[0] for e in caught.value.errors)
    assert named == ["batch_size", "currency", "smtp_port"]


def test_terminate_days_before_suspend_days_is_refused(tmp_path):
    (tmp_path / "h.toml").write_text("suspend_days = 10\nterminate_days = 3\n")
    with pytest.raises(ValidationErrors) as caught:
        load_config(str(tmp_path / "h.toml"), environ={})
    assert "terminate_days" in str(caught.value.errors[0])


def test_good_values_load(tmp_path):
    (tmp_path / "h.toml").write_text(
        'currency = "EUR"\ntimezone = "Europe/Paris"\nsmtp_security = "starttls"\n'
        'smtp_port = 587\nsmtp_timeout = 20\nbatch_size = 1\n'
        'invoice_days_per_cycle = { annually = 30 }\n')
    settings = load_config(str(tmp_path / "h.toml"), environ={}).settings
    assert (settings.currency, settings.timezone, settings.smtp_port, settings.batch_size) == (
        "EUR", "Europe/Paris", 587, 1)


@pytest.mark.parametrize("change", [dict(batch_size=0), dict(timezone="Mars/Olympus"),
                                    dict(currency="XYZ"), dict(smtp_security="ssl"),
                                    dict(smtp_timeout=float("inf")), dict(smtp_port=999999),
                                    dict(batch_size=True), dict(terminate_guard_count=-1)])
def test_settings_from_any_other_source_are_checked_too(change):
    """Values that do not come through the config loader (stored as JSON in the database for
    the billing workers, built in code) go through the same checks."""
    with pytest.raises(ValidationError) as caught:
        replace(Settings(), **change)
    assert caught.value.field == next(iter(change))
    stored = {**settings_to_json(Settings()), **change}
    with pytest.raises(ValidationError):
        settings_from_json(json.loads(json.dumps(stored)))
