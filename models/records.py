"""What every setup form shares (clients, catalog): fields typed as text checked all at once,
a create and a versioned save, each with its activity-log row, in one transaction.

Values may arrive as text (a form, the CLI, a CSV file) or already typed (a TOML file: int,
Decimal, bool); `as_text` turns the latter into the text the parsers read, so every path
goes through the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from peewee import IntegrityError, fn

from hostdesk.models import audit
from hostdesk.models.db import database
from hostdesk.models.errors import StaleRecordError, ValidationError, ValidationErrors
from hostdesk.models.parsing import clean_text
from hostdesk.models.schema import Admin

_YES, _NO = ("yes", "y", "true", "1", "on"), ("no", "n", "false", "0", "off", "")


@dataclass(frozen=True)
class Form:
    """A record's editable fields as text, and the version it was read at (0: a new record)."""

    record_id: int
    version: int
    values: dict[str, str]


def as_text(value) -> str:
    """A typed value as the text a parser reads (None and missing are empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(item) for item in value)
    if isinstance(value, str):
        return value
    raise ValidationError("value", f"a {type(value).__name__} is not a value of this form")


def checked(values: dict, rules: dict[str, Callable[[str], object]], *,
            unknown_refused: bool = False) -> dict:
    """Every field given parsed by its rule; every bad one reported together. A field not
    given is left out (kept as it is on an edit, its default on a create)."""
    parsed, errors = {}, []
    if unknown_refused:
        for name in values:
            if name not in rules:
                errors.append(ValidationError(name, "is not a field of this form"))
    for name, rule in rules.items():
        if name not in values:
            continue
        try:
            parsed[name] = rule(values[name])
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise ValidationErrors(errors) if len(errors) > 1 else errors[0]
    return parsed


def get(model, record_id, field: str):
    record = model.get_or_none(model.id == record_id)
    if record is None:
        raise ValidationError(field, f"there is no {field} #{record_id}")
    return record


def text(value, field: str, max_length: int, required: bool = False) -> str:
    return clean_text(as_text(value), field, max_length, required=required)


def one_of(value, field: str, choices) -> str:
    cleaned = as_text(value).strip().lower()
    if cleaned not in choices:
        raise ValidationError(field, f"'{cleaned[:30]}' is not one of {', '.join(choices)}")
    return cleaned


def yes_no(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    cleaned = as_text(value).strip().lower()
    if cleaned in _YES:
        return True
    if cleaned in _NO:
        return False
    raise ValidationError(field, "answer yes or no")


def unique(model, column, value: str, field: str, record_id: int | None, what: str) -> str:
    """`value`, unless another record already has it (compared without case)."""
    query = model.select().where(fn.LOWER(column) == value.lower())
    if record_id:
        query = query.where(model.id != record_id)
    if query.exists():
        raise ValidationError(field, f"another {what} is already called '{value}'")
    return value


def create(model, values: dict, *, admin: Admin, action: str, what: str,
           client_id=None, at=None, unique_field: str = "name"):
    """Insert the record and its log row (inside the caller's transaction, or its own)."""
    try:
        with database.atomic():
            record = model.create(**values)
            after = audit.snapshot(record, [k for k in values] + ["id"])
            audit.record(admin.login, action, model._meta.table_name, record.id,
                         client_id=client_id if client_id is not None else
                         (record.id if model._meta.table_name == "client" else None),
                         description=f"{what} added", after=after, at=at)
    except IntegrityError:  # another admin added the same name at the same moment
        raise ValidationError(unique_field, f"another {model._meta.table_name.replace('_', ' ')} "
                                            f"has this {unique_field.replace('_', ' ')}") from None
    return record


def save(record, values: dict, version: int, *, admin: Admin, action: str, what: str,
         client_id=None, at=None, unique_field: str = "name"):
    """UPDATE ... WHERE id AND version, with the log's before/after of the changed fields.
    Zero rows: someone saved first (StaleRecordError), nothing written."""
    model = type(record)
    names = list(values)
    try:
        with database.atomic():
            before = audit.snapshot(record, names)
            updated = (model.update(**values, version=model.version + 1)
                       .where((model.id == record.id) & (model.version == version)).execute())
            if updated != 1:
                raise StaleRecordError(f"{what} was changed by someone else since you opened it; "
                                       "nothing was saved: reload it and make your change again")
            saved = model.get_by_id(record.id)
            old, new = audit.changed(before, audit.snapshot(saved, names))
            audit.record(admin.login, action, model._meta.table_name, record.id,
                         client_id=client_id, description=f"{what} saved", before=old,
                         after=new, at=at)
    except IntegrityError:
        raise ValidationError(unique_field, f"another {model._meta.table_name.replace('_', ' ')} "
                                            f"has this {unique_field.replace('_', ' ')}") from None
    return saved
