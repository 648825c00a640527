"""Products and servers as the admin configures them (issue 4): the two lists, and the rules
for saving a product's or a server's settings, module settings included.

Module settings are typed as `key=value` lines and stored as a JSON object. Values of the
keys the module declares secret (its `secret_settings`), and of keys whose name looks like a
credential (`secret`, `password`, `passwd`, `token`, `key`, `hash`), are stored encrypted
(`models.secrets`), shown as `[secret]`, and a line left at `[secret]` keeps the stored value.

Which modules exist is the installation's business (`automation.provisioning.registry`), so
the caller passes them in, each with the names of its secret settings: models/ never imports
automation/. Products and servers are the catalog: saving them needs `manage catalog` (a
server's hostname and endpoint decide where customer passwords are sent).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from peewee import JOIN, fn

from hostdesk.models import audit, records, secrets
from hostdesk.models.db import database
from hostdesk.models.emails import SPECS
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.listing import LABEL, NUMBER, Column, ListSource, as_id, lower_prefix
from hostdesk.models.parsing import clean_text, parse_int_id
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.records import Form  # noqa: F401  (the settings forms' type, re-exported)
from hostdesk.models.schema import (
    Admin,
    ConfigOption,
    EmailTemplate,
    Product,
    Promotion,
    Server,
    Service,
)

PRODUCT_TYPES = Product.TYPES  # the choices the product form offers
AUTO_SETUP_CHOICES = Product.AUTO_SETUP
DEFAULT_AUTO_SETUP = Product.auto_setup.default
OPTION_TYPES = ConfigOption.TYPES  # the choices the option and promotion forms offer
PROMOTION_TYPES = Promotion.TYPES

SECRET_WORDS = ("secret", "password", "passwd", "token", "key", "hash")
MAX_DAYS = 3650
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_YES, _NO = ("yes", "y", "true", "1", "on"), ("no", "n", "false", "0", "off", "")


# --- the lists -------------------------------------------------------------------------------


class ProductSource(ListSource):
    name, title, model = "products", "Products", Product
    search_hint = "name or #id"
    columns = (
        Column("id", "ID", 6, NUMBER),
        Column("name", "Name", 20, flex=True),
        Column("type", "Type", 9, LABEL, priority=2),
        Column("module", "Module", 10, LABEL),
        Column("server", "Server", 14, priority=1),
        Column("auto_setup", "Auto setup", 10, LABEL, priority=3),
    )

    def select(self):
        return (Product.select(Product.id, Product.name, Product.type, Product.module,
                               Product.auto_setup, Server.name.alias("server"))
                .join(Server, JOIN.LEFT_OUTER, on=(Product.server == Server.id)))

    def search(self, term):
        row_id = as_id(term)
        return Product.id == row_id if row_id is not None else lower_prefix(Product.name, term)

    def to_row(self, d):
        d["server"] = d.get("server") or "—"
        return d


class ServerSource(ListSource):
    name, title, model = "servers", "Servers", Server
    search_hint = "name or #id"
    columns = (
        Column("id", "ID", 6, NUMBER),
        Column("name", "Name", 16, flex=True),
        Column("hostname", "Hostname", 22, priority=1),
        Column("ip_address", "IP", 15, priority=2),
        Column("module", "Module", 10, LABEL),
        Column("active", "Active", 6, LABEL),
    )

    def select(self):
        return Server.select(Server.id, Server.name, Server.hostname, Server.ip_address,
                             Server.module, Server.active)

    def search(self, term):
        row_id = as_id(term)
        return Server.id == row_id if row_id is not None else lower_prefix(Server.name, term)

    def to_row(self, d):
        d["active"] = "yes" if d["active"] else "no"
        return d


def server_choices() -> list[tuple[str, int]]:
    """(label, id) of every server, for a picker; hosting companies have a handful."""
    query = Server.select(Server.id, Server.name, Server.active).order_by(Server.name)
    return [(name if active else f"{name} (inactive)", server_id)
            for server_id, name, active in query.tuples()]


# --- module settings as text ---------------------------------------------------------------


def is_secret_key(key: str, declared: Iterable[str] = ()) -> bool:
    return key in declared or any(word in key.lower() for word in SECRET_WORDS)


def declared_secrets(modules, module: str) -> frozenset[str]:
    """The settings `module` declares secret, when `modules` maps names to those sets."""
    if isinstance(modules, Mapping):
        return frozenset(modules.get(module) or ())
    return frozenset()


def settings_text(stored: str, declared: Iterable[str] = ()) -> str:
    """Stored JSON settings as `key=value` lines for editing, secrets masked."""
    try:
        settings = json.loads(stored or "{}")
    except ValueError:
        settings = {}
    if not isinstance(settings, dict):
        settings = {}
    return "\n".join(f"{key}={audit.REDACTED if is_secret_key(key, declared) and value else value}"
                     for key, value in settings.items())


def parse_settings(text: str, field: str, stored: str = "{}",
                   declared: Iterable[str] = ()) -> dict[str, str]:
    """`key=value` lines (blank lines and `#` comments skipped) as the dict to store: secrets
    encrypted, a secret left as `[secret]` keeps its stored value."""
    try:
        old = json.loads(stored or "{}")
    except ValueError:
        old = {}
    old = old if isinstance(old, dict) else {}
    settings: dict[str, str] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not equals:
            raise ValidationError(field, f"line {number} is not key=value")
        if not _KEY.fullmatch(key):
            raise ValidationError(field, f"line {number}: a key is 1–64 letters, digits, _ . -")
        if key in settings:
            raise ValidationError(field, f"line {number}: “{key}” is given twice")
        value = clean_text(value, field, 2000)
        if is_secret_key(key, declared) and value:
            value = old.get(key, "") if value == audit.REDACTED else secrets.encrypt(value)
        settings[key] = value
    return settings


def encrypt_clear_secrets(modules: Mapping[str, Iterable[str]]) -> int:
    """Encrypt the secret settings still stored in clear (saved before their module declared
    them, or before a name was recognised as a credential). Returns how many records changed;
    each is logged, without the values."""
    changed = 0
    for model, column in ((Server, "settings"), (Product, "module_settings")):
        for record in model.select():
            try:
                settings = json.loads(getattr(record, column) or "{}")
            except ValueError:
                continue
            if not isinstance(settings, dict):
                continue
            declared = declared_secrets(modules, record.module)
            clear = [k for k, v in settings.items() if is_secret_key(k, declared)
                     and isinstance(v, str) and v and not v.startswith(secrets.PREFIX)]
            if not clear:
                continue
            for key in clear:
                settings[key] = secrets.encrypt(settings[key])
            with database.atomic():
                model.update({getattr(model, column): json.dumps(settings, sort_keys=True),
                              model.version: model.version + 1}).where(
                    model.id == record.id).execute()
                audit.record("system", f"{model._meta.table_name}.secrets_encrypted",
                             model._meta.table_name, record.id,
                             description=f"Settings stored in clear now encrypted: "
                                         f"{', '.join(sorted(clear))}")
            changed += 1
    return changed


# --- saving ----------------------------------------------------------------------------------


PRODUCT_FIELDS = ("name", "type", "module", "server", "auto_setup", "welcome_email",
                  "upgrade_email", "termination_email", "auto_terminate_days",
                  "allows_quantity", "module_settings")
SERVER_FIELDS = ("name", "hostname", "ip_address", "module", "settings", "active")


def product_form(product_id: int, modules=()) -> Form:
    product = _get(Product, product_id, "product")
    values = {name: str(getattr(product, name)) for name in
              ("name", "type", "module", "auto_setup", "welcome_email", "upgrade_email",
               "termination_email", "auto_terminate_days")}
    values["server"] = str(product.server_id or "")
    values["allows_quantity"] = "yes" if product.allows_quantity else "no"
    values["module_settings"] = settings_text(product.module_settings,
                                              declared_secrets(modules, product.module))
    return Form(product.id, product.version, values)


def server_form(server_id: int, modules=()) -> Form:
    server = _get(Server, server_id, "server")
    values = {"name": server.name, "hostname": server.hostname,
              "ip_address": server.ip_address, "module": server.module,
              "settings": settings_text(server.settings, declared_secrets(modules, server.module)),
              "active": "yes" if server.active else "no"}
    return Form(server.id, server.version, values)


def save_product(form: Form, *, admin: Admin,
                 modules: Mapping[str, Iterable[str]] | Iterable[str]) -> Product:
    """Check every field of `form`, then save the product in one transaction with its log row.
    `modules`: the installed module names, or a mapping of each to its secret settings.
    Raises ValidationErrors (all bad fields), StaleRecordError, PermissionDenied."""
    require(admin, MANAGE_CATALOG)
    product = _get(Product, form.record_id, "product")
    declared = declared_secrets(modules, form.values.get("module") or product.module)
    values = _checked(form.values, {
        "name": lambda v: clean_text(v, "name", 200, required=True),
        "type": lambda v: _one_of(v, "type", Product.TYPES),
        "module": lambda v: _one_of(v, "module", tuple(modules)),
        "server": lambda v: _server_id(v),
        "auto_setup": lambda v: _one_of(v, "auto_setup", Product.AUTO_SETUP),
        "welcome_email": lambda v: _template(v, "welcome_email"),
        "upgrade_email": lambda v: _template(v, "upgrade_email"),
        "termination_email": lambda v: _template(v, "termination_email"),
        "auto_terminate_days": lambda v: _days(v),
        "allows_quantity": lambda v: _yes_no(v, "allows_quantity"),
        "module_settings": lambda v: json.dumps(
            parse_settings(v, "module_settings", product.module_settings, declared),
            sort_keys=True),
    })
    return _save(product, values, form.version, admin, "product.settings",
                 f"product {values.get('name', product.name)}")


def save_server(form: Form, *, admin: Admin,
                modules: Mapping[str, Iterable[str]] | Iterable[str]) -> Server:
    """Like `save_product`, for a server; its name is unique."""
    require(admin, MANAGE_CATALOG)
    server = _get(Server, form.record_id, "server")
    declared = declared_secrets(modules, form.values.get("module") or server.module)
    values = _checked(form.values, {
        "name": lambda v: _unique_server_name(v, server.id),
        "hostname": lambda v: _hostname(v),
        "ip_address": lambda v: _ip(v),
        "module": lambda v: _one_of(v, "module", tuple(modules)),
        "settings": lambda v: json.dumps(parse_settings(_settings_lines(v), "settings",
                                                        server.settings, declared),
                                         sort_keys=True),
        "active": lambda v: _yes_no(v, "active"),
        "max_accounts": _max_accounts,
    })
    return _save(server, values, form.version, admin, "server.settings",
                 f"server {values.get('name', server.name)}")


def _save(record, values: dict, version: int, admin: Admin, action: str, what: str):
    return records.save(record, values, version, admin=admin, action=action,
                        what=f"settings of {what}")


def _checked(values: dict[str, str], rules: dict[str, Callable[[str], object]]) -> dict:
    """Every field parsed; every bad one reported together. A field not given is kept."""
    parsed, errors = {}, []
    for name, rule in rules.items():
        if name not in values:
            continue
        try:
            parsed[name] = rule(values[name])
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise ValidationErrors(errors)
    return parsed


def _get(model, record_id: int, field: str):
    record = model.get_or_none(model.id == record_id)
    if record is None:
        raise ValidationError(field, f"there is no {field} #{record_id}")
    return record


def _one_of(value: str, field: str, choices: tuple[str, ...]) -> str:
    value = (value or "").strip()
    if value not in choices:
        raise ValidationError(field, f"choose one of {', '.join(choices)}")
    return value


def _server_id(value: str) -> int | None:
    text = (value or "").strip().lstrip("#")
    if not text:
        return None
    server_id = parse_int_id(text, "server")
    if Server.get_or_none(Server.id == server_id) is None:
        raise ValidationError("server", f"there is no server #{server_id}")
    return server_id


def _template(value: str, field: str) -> str:
    """A built-in template or an admin's override/extension of one (issue 15: the built-ins
    live in code, so checking the table alone refused `welcome_vps`)."""
    name = clean_text(value, field, 100)
    if name and name not in SPECS and EmailTemplate.get_or_none(EmailTemplate.name == name) is None:
        raise ValidationError(field, f"there is no email template “{name}”")
    return name


def _days(value: str) -> int:
    text = (value or "").strip() or "0"
    if not (text.isascii() and text.isdigit()):  # `²` is a digit to isdigit, not to int
        raise ValidationError("auto_terminate_days", "is a whole number of days (0 = never)")
    if int(text) > MAX_DAYS:
        raise ValidationError("auto_terminate_days", f"must be at most {MAX_DAYS}")
    return int(text)


def _yes_no(value: str | bool, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = (value or "").strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValidationError(field, "answer yes or no")


def _unique_server_name(value: str, server_id: int) -> str:
    name = clean_text(value, "name", 100, required=True)
    if Server.select().where((fn.LOWER(Server.name) == name.lower())
                             & (Server.id != server_id)).exists():
        raise ValidationError("name", f"another server is called “{name}”")
    return name


def _hostname(value: str) -> str:
    name = clean_text(value, "hostname", 253).lower()
    labels = name.split(".")
    if name and not all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", p) for p in labels):
        raise ValidationError("hostname", f"“{name[:40]}” is not a host name")
    return name


def _ip(value: str) -> str:
    text = clean_text(value, "ip_address", 45)
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValidationError("ip_address", f"“{text}” is not an IP address") from None


# --- adding and retiring servers (issue 15) --------------------------------------------------


@dataclass(frozen=True)
class ServerView:
    """A server as a screen or the catalog file shows it: secrets never leave as text."""

    id: int
    version: int
    name: str
    hostname: str
    ip_address: str
    module: str
    max_accounts: int
    active: bool
    settings: dict[str, str]  # secret values as `[secret]`
    products: int
    services: int


def server_view(server_id: int) -> ServerView:
    server = _get(Server, server_id, "server")
    try:
        stored = json.loads(server.settings or "{}")
    except ValueError:
        stored = {}
    settings = {k: (audit.REDACTED if is_secret_key(k) and v else str(v))
                for k, v in sorted(stored.items())}
    return ServerView(server.id, server.version, server.name, server.hostname, server.ip_address,
                      server.module, server.max_accounts, server.active, settings,
                      Product.select().where(Product.server == server.id).count(),
                      Service.select().where(Service.server == server.id).count())


def server_list() -> list[ServerView]:
    return [server_view(sid) for (sid,) in Server.select(Server.id).order_by(Server.name).tuples()]


def _max_accounts(value) -> int:
    text = (str(value) if value is not None else "").strip() or "0"
    if not (text.isascii() and text.isdigit()) or int(text) > 1_000_000:
        raise ValidationError("max_accounts", "is a whole number from 0 (no limit) up")
    return int(text)


def add_server(values: dict, *, admin: Admin, modules: Iterable[str], at=None) -> ServerView:
    """A new server: name (unique), hostname, ip_address, module, settings (`key=value`
    lines, secrets encrypted), max_accounts, active."""
    require(admin, MANAGE_CATALOG)
    modules = tuple(modules)
    with database.atomic():
        parsed = records.checked(values, {
            "name": lambda v: _unique_server_name(records.as_text(v), 0),
            "hostname": lambda v: _hostname(records.as_text(v)),
            "ip_address": lambda v: _ip(records.as_text(v)),
            "module": lambda v: _one_of(records.as_text(v), "module", modules),
            "settings": lambda v: json.dumps(parse_settings(_settings_lines(v), "settings"),
                                             sort_keys=True),
            "max_accounts": _max_accounts,
            "active": lambda v: _yes_no(v if isinstance(v, bool) else records.as_text(v),
                                        "active"),
        }, unknown_refused=True)
        if "name" not in parsed:
            raise ValidationError("name", "is required")
        server = records.create(Server, parsed, admin=admin, action="server.add",
                                what=f"server {parsed['name']}", at=at)
    return server_view(server.id)


def _settings_lines(value) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}={records.as_text(v)}" for k, v in value.items())
    return records.as_text(value)


def retire_server(server_id: int, version: int, *, admin: Admin,
                  retired: bool = True) -> ServerView:
    """A retired server is inactive: kept for its services, offered for nothing new."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        server = _get(Server, server_id, "server")
        records.save(server, {"active": not retired}, version, admin=admin,
                     action="server.retire" if retired else "server.unretire",
                     what=f"server {server.name}")
    return server_view(server_id)


def edit_server(server_id: int, version: int, values: dict, *, admin: Admin,
                modules: Iterable[str]) -> ServerView:
    """`save_server` for values given as a dict (the catalog file, the CLI)."""
    text = {k: (v if k == "settings" and isinstance(v, dict) else records.as_text(v))
            for k, v in values.items()}
    unknown = set(text) - set(SERVER_FIELDS) - {"max_accounts"}
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not a field of this form")
    save_server(Form(server_id, version, text), admin=admin, modules=modules)
    return server_view(server_id)
