"""The catalog as one readable TOML file (issue 15): `export_catalog` writes it, `apply_catalog`
makes the database match it, through the same functions the screens call (so every check,
version, permission and log row applies), in one transaction.

What the file holds: payment methods, servers (secrets shown as `[secret]`, which applying
keeps as stored), products with prices and configurable options, catalog addons, promotions,
TLDs and the email template overrides. Records are matched by name (promotions by code);
a record in the database that the file does not name is left as it is (the report says so),
nothing is ever deleted by a file. Money is written as text ("9.99") so it reads back exact;
a TOML float is refused.

Applying the file just exported changes nothing. An error names the file, the line and the
field and writes nothing (the line is found by looking for the record's `[[section]]` header
and the field's key after it).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from typing import Iterable

from hostdesk.models import (
    catalog,
    catalog_addons,
    emails,
    payment_methods,
    products,
    promotion_setup,
    tlds,
)
from hostdesk.models.db import database
from hostdesk.models.errors import StaleRecordError, ValidationError, ValidationErrors
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.schema import (
    Admin,
    CatalogAddon,
    EmailTemplate,
    PaymentMethod,
    Product,
    Promotion,
    Server,
    Tld,
)

SECTIONS = ("payment_methods", "servers", "products", "addons", "promotions", "tlds",
            "email_templates")
_BARE = re.compile(r"[A-Za-z0-9_-]+")


class CatalogFileError(ValidationError):
    """A refused catalog file: `path:line: section[n] field: message`."""

    def __init__(self, path: str, line: int | None, field_name: str, message: str):
        where = f"{path}, line {line}" if line else path
        super().__init__(field_name, f"{where}: {message}")
        self.path, self.line, self.detail = path, line, message

    def __str__(self):
        return f"{self.message.split(': ', 1)[0]}: {self.field}: {self.detail}"


# --- reading the database as the file's data ----------------------------------------------


def _product_entry(detail: products.ProductDetail) -> dict:
    values = dict(detail.values)
    entry = {name: values[name] for name in (
        "name", "group_name", "type", "description", "module", "server", "auto_setup",
        "welcome_email", "upgrade_email", "termination_email")}
    entry["auto_terminate_days"] = int(values["auto_terminate_days"])
    entry["allows_quantity"] = values["allows_quantity"] == "yes"
    entry["hidden"] = values["hidden"] == "yes"
    entry["retired"] = detail.retired
    entry["module_settings"] = dict(
        line.split("=", 1) for line in values["module_settings"].splitlines() if "=" in line)
    entry["prices"] = detail.prices
    entry["options"] = [{"name": o.name, "option_type": o.option_type, "sort_order": o.sort_order,
                         "choices": [{"name": c.name, "sort_order": c.sort_order,
                                      "prices": c.prices} for c in o.choices]}
                        for o in detail.options]
    return entry


def catalog_data() -> dict:
    """The whole catalog as plain data (what `export_catalog` writes)."""
    data = {
        "payment_methods": [{"name": m.name, "enabled": m.enabled, "sort_order": m.sort_order}
                            for m in payment_methods.list_payment_methods()],
        "servers": [{"name": s.name, "hostname": s.hostname, "ip_address": s.ip_address,
                     "module": s.module, "max_accounts": s.max_accounts, "active": s.active,
                     "settings": s.settings} for s in catalog.server_list()],
        "products": [_product_entry(p) for p in products.product_list()],
        "addons": [{"name": a.name, "description": a.description, "module": a.module,
                    "auto_setup": a.auto_setup, "welcome_email": a.welcome_email,
                    "products": list(a.products), "prices": a.prices}
                   for a in catalog_addons.addon_list()],
        "promotions": [],
        "tlds": [],
        "email_templates": [{"name": t.name, "subject": t.subject, "body": t.body}
                            for t in emails.list_templates() if t.customised],
    }
    for promotion in promotion_setup.promotion_list():
        values = dict(promotion.values)
        values["products"] = [p for p in values["products"].split(", ") if p]
        values["cycles"] = [c for c in values["cycles"].split(",") if c]
        values["max_uses"] = int(values["max_uses"])
        values["once_per_client"] = values["once_per_client"] == "yes"
        values["uses"] = promotion.uses  # shown, never applied
        data["promotions"].append(values)
    for tld in tlds.tld_list():
        values = dict(tld.values)
        for name in ("min_years", "max_years"):
            values[name] = int(values[name])
        values["epp_required"] = values["epp_required"] == "yes"
        values["years"] = {str(n): p for n, p in tld.years.items()}
        data["tlds"].append(values)
    return data


# --- writing TOML ---------------------------------------------------------------------------


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _multiline(text: str) -> str:
    if "\n" not in text:
        return _string(text)
    body = _string(text)[1:-1].replace("\\n", "\n")
    return '"""\n' + body + '"""'


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" \
            if value else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to the catalog file")


def _table(lines: list[str], header: str, entry: dict, tables: tuple[str, ...] = (),
           arrays: tuple[str, ...] = ()) -> None:
    lines.append(f"[[{header}]]")
    for key, value in entry.items():
        if key in tables or key in arrays:
            continue
        shown = _multiline(value) if key == "body" and isinstance(value, str) else _value(value)
        lines.append(f"{_key(key)} = {shown}")
    for key in tables:
        if entry.get(key):
            lines.append(f"[{header}.{key}]")
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in entry[key].items())
    for key in arrays:
        for item in entry.get(key, []):
            lines.append("")
            inner = "choices" if key == "options" else ""
            _table(lines, f"{header}.{key}", item, arrays=(inner,) if inner else ())
    lines.append("")


def export_catalog() -> str:
    """The whole catalog as one TOML file (readable, stable order, no secrets)."""
    data = catalog_data()
    lines = ["# hostdesk catalog: apply with `hostdesk catalog apply FILE [--dry-run]`.",
             "# Records are matched by name (promotions by code); money is text (\"9.99\");",
             "# a blank price means the cycle is not offered; `[secret]` keeps a stored secret.",
             ""]
    for section in SECTIONS:
        if not data[section]:
            continue
        lines.append(f"# --- {section.replace('_', ' ')}")
        for entry in data[section]:
            if section == "products":
                _table(lines, section, entry, tables=("module_settings", "prices"),
                       arrays=("options",))
            elif section == "servers":
                _table(lines, section, entry, tables=("settings",))
            elif section in ("addons",):
                _table(lines, section, entry, tables=("prices",))
            elif section == "tlds":
                _table(lines, section, entry, tables=("years",))
            else:
                _table(lines, section, entry)
    return "\n".join(lines).rstrip("\n") + "\n"


# --- applying -------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    changes: list[str] = field(default_factory=list)  # "update product Starter: prices"
    kept: list[str] = field(default_factory=list)  # in the database, not in the file
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def lines(self) -> list[str]:
        if not self.changes:
            out = ["no change: the database already matches the file"]
        else:
            head = "would change" if self.dry_run else "changed"
            out = [f"{head} {len(self.changes)} record(s):"] + [f"  {c}" for c in self.changes]
        if self.kept:
            out.append(f"not in the file, kept as they are: {', '.join(self.kept)}")
        return out


def _line_of(text: str, section: str, index: int, field_path: str) -> int | None:
    """The line of `field_path` in the `index`-th `[[section]]` record (1-based lines)."""
    lines = text.splitlines()
    headers = [n for n, line in enumerate(lines) if line.strip() == f"[[{section}]]"]
    if index >= len(headers):
        return None
    start = headers[index]
    end = next((n for n in headers if n > start), len(lines))
    parts = [p for p in re.split(r"[.\[\]]", field_path) if p and not p.isdigit()]
    for part in reversed(parts):
        for n in range(start + 1, end):
            stripped = lines[n].strip()
            if re.match(rf'"?{re.escape(part)}"?\s*=', stripped) or \
                    stripped.startswith((f"[{section}.{part}]", f"[[{section}.{part}]]")) or \
                    re.search(rf'[{{,]\s*"?{re.escape(part)}"?\s*=', stripped):
                return n + 1
    return start + 1


def _diff(current: dict, wanted: dict, ignore=("uses",)) -> dict:
    return {k: v for k, v in wanted.items() if k not in ignore and current.get(k) != v}


def _plain(value):
    """TOML values as the export writes them (years keys as text, nested the same)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Applier:
    def __init__(self, text: str, path: str, admin: Admin, modules: tuple[str, ...]):
        self.text, self.path = text, path
        self.admin, self.modules = admin, modules
        self.report = ApplyReport()
        self.current = catalog_data()

    def fail(self, section: str, index: int, exc: ValidationError, name: str) -> None:
        line = _line_of(self.text, section, index, exc.field)
        raise CatalogFileError(self.path, line, f"{section}[{index + 1}] ({name}) {exc.field}",
                               exc.message) from None

    def run(self, section: str, index: int, name: str, action):
        try:
            return action()
        except ValidationErrors as exc:
            self.fail(section, index, exc.errors[0], name)
        except ValidationError as exc:
            self.fail(section, index, exc, name)
        except StaleRecordError as exc:
            raise CatalogFileError(self.path, None, section, str(exc)) from None

    def entries(self, data: dict, section: str) -> list[dict]:
        entries = data.get(section, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            line = next((n + 1 for n, l in enumerate(self.text.splitlines())
                         if l.strip().startswith((section, f"[{section}"))), None)
            raise CatalogFileError(self.path, line, section,
                                   f"write each record as a [[{section}]] table")
        names = {}
        key = "code" if section == "promotions" else "name"
        for index, entry in enumerate(entries):
            name = str(entry.get(key, "")).strip()
            if not name:
                raise CatalogFileError(self.path, _line_of(self.text, section, index, key),
                                       f"{section}[{index + 1}] {key}", "is required")
            if name.lower() in names:
                raise CatalogFileError(self.path, _line_of(self.text, section, index, key),
                                       f"{section}[{index + 1}] {key}",
                                       f"'{name}' is also record {names[name.lower()] + 1}")
            names[name.lower()] = index
        current_names = {str(e[key]).lower(): e[key] for e in self.current[section]}
        self.report.kept += [f"{section[:-1].replace('_', ' ')} {current_names[n]}"
                             for n in current_names if n not in names]
        return entries

    def find(self, section: str, name: str) -> dict | None:
        key = "code" if section == "promotions" else "name"
        return next((e for e in self.current[section]
                     if str(e[key]).lower() == str(name).strip().lower()), None)

    # each section: add what is new, edit what differs

    def payment_methods(self, data):
        for i, entry in enumerate(self.entries(data, "payment_methods")):
            old = self.find("payment_methods", entry["name"])
            if old is None:
                self.run("payment_methods", i, entry["name"], lambda: payment_methods
                         .add_payment_method(entry, admin=self.admin))
                self.report.changes.append(f"add payment method {entry['name']}")
            elif _diff(old, entry):
                row = PaymentMethod.get(PaymentMethod.name == old["name"])
                changed = _diff(old, entry)
                self.run("payment_methods", i, entry["name"], lambda: payment_methods
                         .edit_payment_method(row.id, row.version, changed,
                                              admin=self.admin))
                self.report.changes.append(f"update payment method {old['name']}: "
                                           f"{', '.join(changed)}")

    def servers(self, data):
        for i, entry in enumerate(self.entries(data, "servers")):
            old = self.find("servers", entry["name"])
            if old is None:
                self.run("servers", i, entry["name"], lambda: catalog.add_server(
                    entry, admin=self.admin, modules=self.modules))
                self.report.changes.append(f"add server {entry['name']}")
            elif _diff(old, entry):
                row = Server.get(Server.name == old["name"])
                changed = _diff(old, entry)
                self.run("servers", i, entry["name"], lambda: catalog.edit_server(
                    row.id, row.version, changed, admin=self.admin, modules=self.modules))
                self.report.changes.append(f"update server {old['name']}: {', '.join(changed)}")

    def products(self, data):
        for i, entry in enumerate(self.entries(data, "products")):
            entry = _plain(entry)
            fields = {k: v for k, v in entry.items() if k not in ("options", "retired")}
            old = self.find("products", entry["name"])
            if old is None:
                detail = self.run("products", i, entry["name"], lambda: products.add_product(
                    fields, admin=self.admin, modules=self.modules))
                self.report.changes.append(f"add product {entry['name']}")
                old_options, retired = [], False
            else:
                row = Product.get(Product.name == old["name"])
                changed = _diff(old, fields)
                detail = products.product_detail(row.id)
                if changed:
                    detail = self.run("products", i, entry["name"], lambda: products.edit_product(
                        row.id, row.version, changed, admin=self.admin,
                        modules=self.modules))
                    self.report.changes.append(f"update product {old['name']}: "
                                               f"{', '.join(changed)}")
                old_options, retired = old["options"], old["retired"]
            self.options(i, entry, detail, old_options)
            if "retired" in entry and bool(entry["retired"]) != retired:
                version = Product.get_by_id(detail.id).version
                self.run("products", i, entry["name"], lambda: products.retire_product(
                    detail.id, version, admin=self.admin, retired=bool(entry["retired"])))
                self.report.changes.append(f"{'retire' if entry['retired'] else 'unretire'} "
                                           f"product {entry['name']}")

    def options(self, index: int, entry: dict, detail, old_options: list[dict]):
        for option in entry.get("options", []) or []:
            name = str(option.get("name", ""))
            old = next((o for o in old_options if o["name"].lower() == name.strip().lower()),
                       None)
            if old == option:
                continue
            version = Product.get_by_id(detail.id).version
            if old is None:
                self.run("products", index, entry["name"], lambda: products.add_config_option(
                    detail.id, version, option, admin=self.admin))
                self.report.changes.append(f"add option {name} to product {entry['name']}")
                continue
            current = products.product_detail(detail.id)
            view = next(o for o in current.options if o.name.lower() == name.strip().lower())
            ids = {c.name.lower(): c.id for c in view.choices}
            choices = []
            for choice in option.get("choices", []) or []:
                known = next((c for c in old["choices"]
                              if c["name"].lower() == str(choice.get("name", "")).lower()), None)
                if known == choice:
                    continue
                cid = ids.get(str(choice.get("name", "")).lower())
                choices.append({**choice, "id": cid} if cid else dict(choice))
            fields = {k: v for k, v in option.items() if k != "choices" and old.get(k) != v}
            self.run("products", index, entry["name"], lambda: products.edit_config_option(
                view.id, version, {**fields, "choices": choices}, admin=self.admin))
            self.report.changes.append(f"update option {name} of product {entry['name']}")

    def addons(self, data):
        for i, entry in enumerate(self.entries(data, "addons")):
            entry = _plain(entry)
            old = self.find("addons", entry["name"])
            if old is None:
                self.run("addons", i, entry["name"], lambda: catalog_addons.add_catalog_addon(
                    entry, admin=self.admin, modules=self.modules))
                self.report.changes.append(f"add addon {entry['name']}")
            elif _diff(old, entry):
                row = CatalogAddon.get(CatalogAddon.name == old["name"])
                changed = _diff(old, entry)
                self.run("addons", i, entry["name"], lambda: catalog_addons.edit_catalog_addon(
                    row.id, row.version, changed, admin=self.admin, modules=self.modules))
                self.report.changes.append(f"update addon {old['name']}: {', '.join(changed)}")

    def promotions(self, data):
        for i, entry in enumerate(self.entries(data, "promotions")):
            entry = {k: v for k, v in _plain(entry).items() if k != "uses"}
            old = self.find("promotions", entry["code"])
            if old is None:
                self.run("promotions", i, entry["code"], lambda: promotion_setup.add_promotion(
                    entry, admin=self.admin))
                self.report.changes.append(f"add promotion {entry['code']}")
            elif _diff(old, entry):
                row = Promotion.get(Promotion.code == old["code"])
                changed = _diff(old, entry)
                self.run("promotions", i, entry["code"], lambda: promotion_setup.edit_promotion(
                    row.id, row.version, changed, admin=self.admin))
                self.report.changes.append(f"update promotion {old['code']}: "
                                           f"{', '.join(changed)}")

    def tlds(self, data):
        for i, entry in enumerate(self.entries(data, "tlds")):
            entry = _plain(entry)
            old = self.find("tlds", entry["name"])
            if old is None:
                self.run("tlds", i, entry["name"], lambda: tlds.add_tld(
                    entry, admin=self.admin))
                self.report.changes.append(f"add TLD {entry['name']}")
            elif _diff(old, entry):
                row = Tld.get(Tld.name == old["name"].lstrip("."))
                changed = _diff(old, entry)
                self.run("tlds", i, entry["name"], lambda: tlds.edit_tld(
                    row.id, row.version, changed, admin=self.admin))
                self.report.changes.append(f"update TLD {old['name']}: {', '.join(changed)}")

    def email_templates(self, data):
        for i, entry in enumerate(self.entries(data, "email_templates")):
            old = self.find("email_templates", entry["name"])
            if old is not None and not _diff(old, entry):
                continue
            unknown = set(entry) - {"name", "subject", "body"}
            if unknown:
                self.fail("email_templates", i, ValidationError(
                    sorted(unknown)[0], "is not a field of this form"), entry["name"])
            stored = EmailTemplate.get_or_none(EmailTemplate.name == str(entry["name"]))
            self.run("email_templates", i, entry["name"], lambda: emails.save_template(
                str(entry["name"]), str(entry.get("subject", "")), str(entry.get("body", "")),
                self.admin, stored.version if stored else 0))
            self.report.changes.append(f"{'update' if old else 'add'} email template "
                                       f"{entry['name']}")


def parse_catalog(text: str, path: str) -> dict:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise CatalogFileError(path, int(match.group(1)) if match else None, "file",
                               f"is not valid TOML: {exc}") from None
    unknown = set(data) - set(SECTIONS)
    if unknown:
        name = sorted(unknown)[0]
        line = next((n + 1 for n, l in enumerate(text.splitlines())
                     if name in l and l.strip().startswith(("[", name))), None)
        raise CatalogFileError(path, line, name, f"is not a section of the catalog "
                                                 f"({', '.join(SECTIONS)})")
    return data


def apply_catalog(text: str, *, path: str, admin: Admin, modules: Iterable[str],
                  dry_run: bool = False) -> ApplyReport:
    """Make the catalog match the file, in one transaction; `dry_run` does it all, reports,
    and rolls back. Raises CatalogFileError (file, line, field): nothing written."""
    require(admin, MANAGE_CATALOG)
    data = parse_catalog(text, path)
    with database.atomic() as transaction:
        applier = _Applier(text, path, admin, tuple(modules))
        for section in SECTIONS:
            getattr(applier, section)(data)
        if dry_run:
            transaction.rollback()
    applier.report.dry_run = dry_run
    return applier.report


def catalog_json() -> str:
    """The catalog's data as JSON (for scripts that prefer it)."""
    return json.dumps(catalog_data(), indent=2, sort_keys=True)
