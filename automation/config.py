"""Configuration: defaults, then a TOML file found nearest-first, then the environment.

Files searched, first found wins: `--config PATH`, `./hostdesk.toml`, the user's config
directory (`~/.config/hostdesk/hostdesk.toml` on Linux), then the system-wide
`/etc/hostdesk/hostdesk.toml`. Every setting may be overridden by
an environment variable `HOSTDESK_<NAME>` (e.g. `HOSTDESK_INVOICE_DAYS=7`); the database by
`HOSTDESK_DB`. Keys may sit at the top level or in any [section]: sections are for reading
only. Unknown keys and bad values are reported all at once.

A config file or key file is trusted only when it belongs to the user running hostdesk (or
to root) and nobody else may write it: otherwise whoever could edit it would choose the
database and the settings of the next run.
"""

import os
from dataclasses import dataclass, field, fields, replace
from types import SimpleNamespace
from pathlib import Path

import platformdirs

from hostdesk.models.cycles import DayBasis
from hostdesk.models.db import redact_url
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.money import check_locale
from hostdesk.models.settings import SECRET_SETTINGS, Settings, setting_problem

APP_NAME = "hostdesk"
CONFIG_FILE = "hostdesk.toml"
SYSTEM_CONFIG_FILE = Path("/etc/hostdesk") / CONFIG_FILE
EXTRA_KEYS = ("database_url", "secret_key", "keymap")
TABLE_SETTINGS = ("invoice_days_per_cycle", "keymap")  # tables that are values, not sections


def key_file_path() -> Path:
    """Where `hostdesk init` keeps a generated secret key when none is configured."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "secret.key"


def write_key_file(key: str) -> Path:
    return write_private_file(key_file_path(), key)


def write_private_file(path: Path, text: str) -> Path:
    """A new owner-only file (never an existing one, never through a symbolic link)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    return path


def default_database_url() -> str:
    data_dir = Path(platformdirs.user_data_dir(APP_NAME))
    return f"sqlite:///{data_dir / 'hostdesk.db'}"


@dataclass(frozen=True)
class Config:
    settings: Settings
    database_url: str
    secret_key: str
    sources: dict  # name -> where its value came from
    config_file: Path | None
    keymap: dict = field(default_factory=dict)  # binding id -> keys ([keymap], tui/keymap.py)


def check_trusted_file(path: Path, euid: int | None = None, *, private: bool = False) -> None:
    """Refuse a file that another user owns or may change (`private`: or read)."""
    euid = os.geteuid() if euid is None else euid
    info = path.stat()
    if info.st_uid not in (euid, 0):
        raise ValidationErrors([ValidationError(
            str(path), f"is owned by another user (uid {info.st_uid}), not by you (uid {euid}): "
                       "refusing to trust it")])
    forbidden = 0o077 if private else 0o022
    if info.st_mode & forbidden:
        who = "read or written" if private else "written"
        raise ValidationErrors([ValidationError(
            str(path), f"may be {who} by other users (mode {info.st_mode & 0o777:04o}): "
                       f"refusing to trust it; run chmod {'600' if private else 'go-w'} {path}")])


def find_config_file(explicit: str | None = None) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ValidationErrors([ValidationError("--config", f"no config file at {path}")])
        return path
    for candidate in (Path.cwd() / CONFIG_FILE,
                      Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILE,
                      SYSTEM_CONFIG_FILE):
        if candidate.is_file():
            return candidate
    return None


def _flatten(document: dict) -> dict:
    flat = {}
    for key, value in document.items():
        if isinstance(value, dict) and key not in TABLE_SETTINGS:
            flat.update(value)
        else:
            flat[key] = value
    return flat


def _coerce(name: str, default, raw, source: str):
    """Turn a TOML or environment value into the setting's type, or say what is wrong."""
    where = f"{name} (from {source})"
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if isinstance(default, DayBasis):
            return DayBasis(str(raw).strip())
        if isinstance(default, int):
            if isinstance(raw, bool) or (isinstance(raw, float)):
                raise ValueError("expected a whole number")
            return int(str(raw).strip())  # the range is checked with the other settings
        if isinstance(default, float):
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            return float(raw)
        if isinstance(default, tuple):
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(int(str(i).strip()) for i in items if str(i).strip())
        if name == "locale":
            return check_locale(raw, where)
        if isinstance(default, dict):
            if not isinstance(raw, dict):
                raise ValueError("expected a table")
            return {str(k): int(v) for k, v in raw.items()}
        return str(raw)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        if isinstance(default, DayBasis):
            message = "expected calendar or thirty_day"
        raise ValidationError(where, message) from None


def load_config(config_path: str | None = None, database_url: str | None = None,
                environ=None, euid: int | None = None) -> Config:
    environ = os.environ if environ is None else environ
    path = find_config_file(config_path)
    document = {}
    errors = []
    if path is not None:
        import tomllib  # only when there is a file to read

        check_trusted_file(path, euid)
        try:
            document = _flatten(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise ValidationErrors([ValidationError(str(path), f"not valid TOML: {exc}")])

    defaults = Settings()
    known = {f.name for f in fields(Settings)} | set(EXTRA_KEYS)
    for key in document:
        if key not in known:
            errors.append(ValidationError(f"{key} (in {path})", "unknown setting"))

    values, sources = {}, {}
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        env_key = f"HOSTDESK_{f.name.upper()}"
        try:
            if env_key in environ:
                values[f.name] = _coerce(f.name, default, environ[env_key], env_key)
                sources[f.name] = f"environment {env_key}"
            elif f.name in document:
                values[f.name] = _coerce(f.name, default, document[f.name], str(path))
                sources[f.name] = str(path)
            else:
                sources[f.name] = "default"
        except ValidationError as exc:
            errors.append(exc)

    if database_url:
        db_url, sources["database_url"] = database_url, "--db"
    elif environ.get("HOSTDESK_DB"):
        db_url, sources["database_url"] = environ["HOSTDESK_DB"], "environment HOSTDESK_DB"
    elif document.get("database_url"):
        db_url, sources["database_url"] = str(document["database_url"]), str(path)
    else:
        db_url, sources["database_url"] = default_database_url(), "default"

    if environ.get("HOSTDESK_SECRET_KEY"):
        secret, sources["secret_key"] = environ["HOSTDESK_SECRET_KEY"], "environment HOSTDESK_SECRET_KEY"
    elif document.get("secret_key"):
        secret, sources["secret_key"] = str(document["secret_key"]), str(path)
    elif key_file_path().is_file():
        check_trusted_file(key_file_path(), euid, private=True)
        secret, sources["secret_key"] = key_file_path().read_text().strip(), str(key_file_path())
    else:
        secret, sources["secret_key"] = "", "not set"

    keymap = document.get("keymap", {})
    if not isinstance(keymap, dict):
        errors.append(ValidationError(f"keymap (in {path})", "expected a [keymap] table of "
                                                             "binding ids and keys"))
        keymap = {}
    errors.extend(_problems(defaults, values, sources))
    if errors:
        raise ValidationErrors(errors)
    settings = replace(defaults, **values)
    return Config(settings, db_url, secret, sources, path, keymap=dict(keymap))


def _problems(defaults: Settings, values: dict, sources: dict) -> list[ValidationError]:
    """Every configured value `Settings` would refuse, each named with where it came from."""
    merged = SimpleNamespace(**{f.name: getattr(defaults, f.name) for f in fields(Settings)})
    vars(merged).update(values)
    problems = []
    for name, value in values.items():
        problem = setting_problem(name, value, merged)
        if problem:
            problems.append(ValidationError(f"{name} (from {sources[name]})", problem))
    return problems


def describe(config: Config) -> list[tuple[str, str, str]]:
    """(name, value, source) rows for `hostdesk config show`, secrets masked."""
    from hostdesk.models.secrets import fingerprint  # here, so cryptography stays out of the look-ups

    rows = [("config_file", str(config.config_file or "(none found)"), "search")]
    rows.append(("database_url", redact_url(config.database_url),
                 config.sources["database_url"]))
    rows.append(("secret_key", f"**** ({fingerprint(config.secret_key)})" if config.secret_key
                 else "(not set)",
                 config.sources["secret_key"]))
    for f in fields(Settings):
        value = getattr(config.settings, f.name)
        if f.name in SECRET_SETTINGS and value:
            shown = "****"
        elif isinstance(value, DayBasis):
            shown = value.value
        else:
            shown = str(value)
        rows.append((f.name, shown, config.sources[f.name]))
    return rows
