"""Clients and client groups (issue 15, rules §4, §9, §12): add, edit, close, show, import.

Every field arrives as typed text (a form, the CLI, a CSV row) and is checked here, every
bad field reported at once, nothing written. A second client with an email already in use
is refused with `DuplicateEmail` unless the caller passes `allow_duplicate_email=True`: the
screen turns that refusal into a question. The credit balance is never set here; it moves
only through invoices and credit (`models.invoicing`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal

from peewee import fn

from hostdesk.models import audit, records
from hostdesk.models.countries import COUNTRIES
from hostdesk.models.db import database, insert_rows
from hostdesk.models.emails import check_address
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.payment_methods import check_method
from hostdesk.models.permissions import MANAGE_CLIENTS, require
from hostdesk.models.records import Form
from hostdesk.models.schema import (
    Admin,
    Client,
    ClientGroup,
    ClientStatus,
    Service,
    ServiceStatus,
    utcnow,
)

FIELDS = ("first_name", "last_name", "company", "email", "phone", "address", "address2", "city",
          "region", "postcode", "country", "tax_id", "group", "separate_invoices",
          "default_payment_method", "status", "notes")
GROUP_FIELDS = ("name", "separate_invoices")
# Services that keep a client open: anything not yet ended.
LIVE_STATUSES = (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)
_PHONE = re.compile(r"\+?[0-9 ().\-/]{3,50}")
_POSTCODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 \-]{0,19}")


class DuplicateEmail(ValidationError):
    """Another client has this email: ask the admin, then call again with
    `allow_duplicate_email=True`."""

    def __init__(self, email: str, client_ids: list[int]):
        others = ", ".join(f"#{i}" for i in client_ids[:5])
        super().__init__("email", f"{email} is already the email of client {others}; "
                                  "confirm to add another client with it")
        self.client_ids = client_ids


# --- what a screen shows -----------------------------------------------------------------


@dataclass(frozen=True)
class ClientDetail:
    id: int
    version: int
    display_name: str
    values: dict[str, str]  # every field of FIELDS as text (group: its name, or "")
    group_id: int | None
    credit: Decimal  # read-only: moved by invoices and credit only
    services_by_status: dict[str, int]
    live_services: int  # pending, active or suspended: these keep the client open
    created_at: str

    def to_json(self) -> dict:
        return {"id": self.id, "version": self.version, **self.values,
                "group_id": self.group_id, "credit": str(self.credit),
                "services": self.services_by_status, "created_at": self.created_at}


@dataclass(frozen=True)
class ClientGroupView:
    id: int
    name: str
    separate_invoices: bool
    version: int
    clients: int


def client_detail(client_id: int) -> ClientDetail:
    client = records.get(Client, client_id, "client")
    by_status = dict(Service.select(Service.status, fn.COUNT(Service.id))
                     .where(Service.client == client.id).group_by(Service.status).tuples())
    group = ClientGroup.get_or_none(ClientGroup.id == client.group_id) if client.group_id else None
    values = {name: records.as_text(getattr(client, name)) for name in FIELDS
              if name not in ("group",)}
    values["group"] = group.name if group else ""
    return ClientDetail(
        id=client.id, version=client.version, display_name=client.display_name, values=values,
        group_id=client.group_id, credit=client.credit, services_by_status=by_status,
        live_services=sum(by_status.get(s, 0) for s in LIVE_STATUSES),
        created_at=client.created_at.isoformat() if client.created_at else "")


def client_form(client_id: int | None = None) -> Form:
    """The form to edit a client (or a new one: id 0, version 0, the defaults)."""
    if client_id is None:
        methods = _methods()
        return Form(0, 0, {name: "" for name in FIELDS} | {
            "status": ClientStatus.ACTIVE, "separate_invoices": "no",
            "default_payment_method": methods[0] if methods else ""})
    detail = client_detail(client_id)
    return Form(detail.id, detail.version, dict(detail.values))


def _methods() -> list[str]:
    from hostdesk.models.payment_methods import enabled_methods

    return enabled_methods()


def client_groups() -> list[ClientGroupView]:
    counts = dict(Client.select(Client.group, fn.COUNT(Client.id))
                  .where(Client.group.is_null(False)).group_by(Client.group).tuples())
    return [ClientGroupView(g.id, g.name, g.separate_invoices, g.version, counts.get(g.id, 0))
            for g in ClientGroup.select().order_by(ClientGroup.name)]


# --- the checks ----------------------------------------------------------------------------


def check_country(value) -> str:
    code = records.text(value, "country", 60).upper()
    if not code:
        return ""
    if code not in COUNTRIES:
        by_name = {name.upper(): c for c, name in COUNTRIES.items()}
        if code in by_name:
            return by_name[code]
        raise ValidationError("country", f"'{code[:30]}' is not an ISO 3166 country code "
                                         "(two letters, like GB or DE)")
    return code


def _phone(value) -> str:
    phone = records.text(value, "phone", 50)
    if phone and not _PHONE.fullmatch(phone):
        raise ValidationError("phone", f"'{phone[:30]}' is not a phone number "
                                       "(digits, spaces, + ( ) - . /)")
    return phone


def _postcode(value) -> str:
    code = records.text(value, "postcode", 20)
    if code and not _POSTCODE.fullmatch(code):
        raise ValidationError("postcode", f"'{code}' is not a postcode (letters, digits, "
                                          "spaces and '-')")
    return code


def _group(value) -> int | None:
    text = records.text(value, "group", 100)
    if not text:
        return None
    row = None
    if text.lstrip("#").isdigit():
        row = ClientGroup.get_or_none(ClientGroup.id == int(text.lstrip("#")))
    if row is None:
        row = ClientGroup.get_or_none(fn.LOWER(ClientGroup.name) == text.lower())
    if row is None:
        raise ValidationError("group", f"there is no client group '{text[:40]}'")
    return row.id


def _email(value) -> str:
    email = records.text(value, "email", 254, required=True)
    return check_address(email, "email")


def _client_rules(current_method: str = "") -> dict:
    return {
        "first_name": lambda v: records.text(v, "first_name", 100, required=True),
        "last_name": lambda v: records.text(v, "last_name", 100, required=True),
        "company": lambda v: records.text(v, "company", 200),
        "email": _email,
        "phone": _phone,
        "address": lambda v: records.text(v, "address", 300),
        "address2": lambda v: records.text(v, "address2", 300),
        "city": lambda v: records.text(v, "city", 100),
        "region": lambda v: records.text(v, "region", 100),
        "postcode": _postcode,
        "country": check_country,
        "tax_id": lambda v: records.text(v, "tax_id", 50),
        "group": _group,
        "separate_invoices": lambda v: records.yes_no(v, "separate_invoices"),
        "default_payment_method": lambda v: check_method(v, "default_payment_method",
                                                         allow=current_method),
        "status": lambda v: records.one_of(v, "status", ClientStatus.ALL),
        "notes": lambda v: records.text(v, "notes", 20000),
    }


def parse_client(values: dict, *, new: bool, current_method: str = "") -> dict:
    """The typed fields as column values (`group` becomes the group id); all errors at once."""
    parsed = records.checked(values, _client_rules(current_method), unknown_refused=True)
    if new:
        missing = [ValidationError(name, "is required") for name in
                   ("first_name", "last_name", "email") if name not in values]
        if missing:
            raise missing[0] if len(missing) == 1 else ValidationErrors(missing)
    if "group" in parsed:
        parsed["group"] = parsed.pop("group")
    return parsed


def _check_duplicate(email: str, client_id: int | None, allow: bool) -> None:
    if allow:
        return
    query = Client.select(Client.id).where(fn.LOWER(Client.email) == email.lower())
    if client_id:
        query = query.where(Client.id != client_id)
    others = [row[0] for row in query.order_by(Client.id).limit(5).tuples()]
    if others:
        raise DuplicateEmail(email, others)


def _live_services(client_id: int) -> int:
    return Service.select().where((Service.client == client_id)
                                  & Service.status.in_(LIVE_STATUSES)).count()


def _refuse_closing(client_id: int) -> None:
    live = _live_services(client_id)
    if live:
        raise ValidationError("status", f"the client has {live} service{'s' if live > 1 else ''} "
                                        "still pending, active or suspended; terminate or cancel "
                                        "them before closing the client")


# --- the actions ---------------------------------------------------------------------------


def add_client(values: dict, *, admin: Admin, allow_duplicate_email: bool = False,
               at=None) -> ClientDetail:
    """A new client from its typed fields. `at`: when it was created, when not now."""
    require(admin, MANAGE_CLIENTS)
    with database.atomic():
        parsed = parse_client(values, new=True)
        _check_duplicate(parsed["email"], None, allow_duplicate_email)
        parsed.setdefault("default_payment_method", (_methods() or ["banktransfer"])[0])
        parsed["created_at"] = at or utcnow()
        client = records.create(Client, parsed, admin=admin, action="client.add",
                                what=f"client {parsed['first_name']} {parsed['last_name']}",
                                at=at, unique_field="email")
    return client_detail(client.id)


def edit_client(client_id: int, version: int, values: dict, *, admin: Admin,
                allow_duplicate_email: bool = False) -> ClientDetail:
    """Save the fields given (others kept); closing goes through the same rule as
    `close_client`. A stale version is refused."""
    require(admin, MANAGE_CLIENTS)
    with database.atomic():
        client = records.get(Client, client_id, "client")
        parsed = parse_client(values, new=False, current_method=client.default_payment_method)
        if "email" in parsed and parsed["email"].lower() != client.email.lower():
            _check_duplicate(parsed["email"], client.id, allow_duplicate_email)
        if parsed.get("status") == ClientStatus.CLOSED and client.status != ClientStatus.CLOSED:
            _refuse_closing(client.id)
        records.save(client, parsed, version, admin=admin, action="client.edit",
                     what=f"client #{client.id}", client_id=client.id)
    return client_detail(client_id)


def close_client(client_id: int, version: int, *, admin: Admin) -> ClientDetail:
    """Status closed (no new orders, rules §9); refused while services are live."""
    return edit_client(client_id, version, {"status": ClientStatus.CLOSED},
                       admin=admin)


def add_client_group(values: dict, *, admin: Admin, at=None) -> ClientGroupView:
    require(admin, MANAGE_CLIENTS)
    with database.atomic():
        parsed = records.checked(values, _group_rules(None), unknown_refused=True)
        if "name" not in parsed:
            raise ValidationError("name", "is required")
        row = records.create(ClientGroup, parsed, admin=admin,
                             action="client_group.add", what=f"client group {parsed['name']}",
                             at=at)
    return _group_view(row.id)


def edit_client_group(group_id: int, version: int, values: dict, *,
                      admin: Admin) -> ClientGroupView:
    require(admin, MANAGE_CLIENTS)
    with database.atomic():
        row = records.get(ClientGroup, group_id, "client group")
        parsed = records.checked(values, _group_rules(row.id), unknown_refused=True)
        records.save(row, parsed, version, admin=admin, action="client_group.edit",
                     what=f"client group {row.name}")
    return _group_view(group_id)


def _group_rules(group_id: int | None) -> dict:
    return {"name": lambda v: records.unique(
                ClientGroup, ClientGroup.name, records.text(v, "name", 100, required=True),
                "name", group_id, "client group"),
            "separate_invoices": lambda v: records.yes_no(v, "separate_invoices")}


def _group_view(group_id: int) -> ClientGroupView:
    return next(g for g in client_groups() if g.id == group_id)


# --- import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (line, field, message)
    dry_run: bool = False
    ids: list[int] = field(default_factory=list)  # the clients added, in row order

    def to_json(self) -> dict:
        return {"rows": self.rows, "added": self.added, "dry_run": self.dry_run,
                "refused": [{"line": line, "field": name, "message": message}
                            for line, name, message in self.refused]}

    def lines(self) -> list[str]:
        head = "would add" if self.dry_run else "added"
        out = [f"rows read {self.rows}, {head} {self.added}, refused {len(self.refused)}"]
        out += [f"  line {line}: {name}: {message}" for line, name, message in self.refused]
        return out


MAX_IMPORT_ROWS = 100_000


def import_clients(text: str, *, admin: Admin, dry_run: bool = False,
                   allow_duplicate_email: bool = False) -> ImportReport:
    """Clients from CSV text (a header row naming fields of FIELDS), through `add_clients`:
    every row checked, a bad row reported by its line and field, the good rows added together
    in one transaction; `dry_run` checks and writes nothing."""
    require(admin, MANAGE_CLIENTS)
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    unknown = [name for name in header if name not in FIELDS]
    if not header:
        raise ValidationError("file", "is empty: the first line names the columns "
                                      f"({', '.join(FIELDS)})")
    if unknown:
        raise ValidationError("file", f"line 1: unknown column(s) {', '.join(unknown)}; "
                                      f"the columns are {', '.join(FIELDS)}")
    rows, lines, broken = [], [], []
    for record in reader:
        if len(rows) + len(broken) >= MAX_IMPORT_ROWS:
            raise ValidationError("file", f"has more than {MAX_IMPORT_ROWS} rows; split it")
        if None in record:
            broken.append((reader.line_num, "file", "has more values than columns"))
            continue
        rows.append({k.strip(): (v or "") for k, v in record.items() if k is not None})
        lines.append(reader.line_num)
    report = add_clients(rows, admin=admin, dry_run=dry_run,
                         allow_duplicate_email=allow_duplicate_email, lines=lines)
    report.rows += len(broken)
    report.refused = sorted(report.refused + broken)
    return report


def add_clients(rows: list[dict], *, admin: Admin, dry_run: bool = False,
                allow_duplicate_email: bool = False, lines: list[int] | None = None,
                created_at: list | None = None) -> ImportReport:
    """Many clients at once (an import, the demo data): each row checked as `add_client`
    checks one (blank fields are left at their defaults), refused rows reported by line
    (`lines`, default the row's position) and field, the others inserted together in one
    transaction with bulk INSERTs and one log row each. `created_at`: each row's moment,
    when not now. The new ids are in `report.ids`, in row order."""
    require(admin, MANAGE_CLIENTS)
    report = ImportReport(dry_run=dry_run, rows=len(rows))
    lines = lines or list(range(1, len(rows) + 1))
    groups = {g.name.lower(): g.id for g in ClientGroup.select()}
    seen = {email.lower() for (email,) in Client.select(Client.email).tuples()}
    methods = {m.lower(): m for m in _methods()}
    accepted, moments = [], []
    with database.atomic():
        for index, (line, values) in enumerate(zip(lines, rows)):
            values = {k: v for k, v in values.items()
                      if records.as_text(v).strip() or k in ("first_name", "last_name", "email")}
            try:
                group = records.as_text(values.get("group", "")).strip().lower()
                if group in groups:  # one query per file, not per row
                    values["group"] = f"#{groups[group]}"
                method = records.as_text(values.get("default_payment_method", "")).lower()
                if method in methods:
                    values["default_payment_method"] = methods[method]
                parsed = parse_client(values, new=True)
            except ValidationErrors as exc:
                report.refused.extend((line, e.field, e.message) for e in exc.errors)
                continue
            except ValidationError as exc:
                report.refused.append((line, exc.field, exc.message))
                continue
            if not allow_duplicate_email and parsed["email"].lower() in seen:
                report.refused.append((line, "email", f"{parsed['email']} is already a "
                                                      "client's email"))
                continue
            seen.add(parsed["email"].lower())
            accepted.append(parsed)
            moments.append(created_at[index] if created_at else None)
        report.added = len(accepted)
        if not dry_run and accepted:
            report.ids = _insert_clients(accepted, moments, admin)
    return report


def _insert_clients(rows: list[dict], moments: list, admin: Admin) -> list[int]:
    default_method = (_methods() or ["banktransfer"])[0]
    columns = ("first_name", "last_name", "company", "email", "phone", "address", "address2",
               "city", "region", "postcode", "country", "tax_id", "group", "separate_invoices",
               "default_payment_method", "status", "notes", "credit", "created_at", "version")
    now = utcnow()
    defaults = {"company": "", "phone": "", "address": "", "address2": "", "city": "",
                "region": "", "postcode": "", "country": "", "tax_id": "", "group": None,
                "separate_invoices": False, "default_payment_method": default_method,
                "status": ClientStatus.ACTIVE, "notes": "", "credit": Decimal("0"),
                "created_at": now, "version": 1}
    fields = [Client._meta.fields[name] for name in columns]
    tuples = [tuple(f.db_value({**defaults, **row, "created_at": moment or now}[name])
                    for f, name in zip(fields, columns)) for row, moment in zip(rows, moments)]
    ids = insert_rows(Client, columns, tuples, returning=True)
    audit.record_many([dict(admin_login=admin.login, action="client.add", object_type="client",
                            object_id=client_id, client_id=client_id, at=moment or now,
                            description=f"client {row['first_name']} {row['last_name']} added",
                            after={k: records.as_text(v) if not isinstance(v, int) else v
                                   for k, v in row.items()})
                       for client_id, row, moment in zip(ids, rows, moments)])
    return ids
