"""The managed list of payment methods (issue 15): name, enabled, order.

Orders, the service page, invoices and mass update take a method from this list only, so a
typo ("paypla") is refused instead of becoming a new method. A disabled method stays valid
on the records that already use it (their renewals keep being invoiced) but is offered to
and accepted for nothing new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import fn

from hostdesk.models import records
from hostdesk.models.db import database
from hostdesk.models.errors import ValidationError
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.schema import Admin, Client, Domain, Invoice, Order, PaymentMethod, Service

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,49}")
FIELDS = ("name", "enabled", "sort_order")


@dataclass(frozen=True)
class PaymentMethodView:
    id: int
    name: str
    enabled: bool
    sort_order: int
    version: int
    in_use: int  # services, domains, clients and open orders naming it


def enabled_methods() -> list[str]:
    """The names an order form, service page or mass update offers, in the admin's order."""
    return [name for (name,) in PaymentMethod.select(PaymentMethod.name)
            .where(PaymentMethod.enabled == True)  # noqa: E712
            .order_by(PaymentMethod.sort_order, PaymentMethod.name).tuples()]


def check_method(value, field: str = "payment_method", *, allow: str = "") -> str:
    """An enabled method of the list (case-insensitive; the list's spelling is returned).
    `allow` is the record's current method, accepted even when since disabled."""
    name = records.text(value, field, 50, required=True)
    row = PaymentMethod.get_or_none(fn.LOWER(PaymentMethod.name) == name.lower())
    if row is not None and (row.enabled or row.name == allow):
        return row.name
    offered = ", ".join(enabled_methods()) or "none: add one first"
    if row is not None:
        raise ValidationError(field, f"'{row.name}' is disabled; choose one of {offered}")
    raise ValidationError(field, f"'{name[:30]}' is not a payment method; choose one of {offered}")


def list_payment_methods() -> list[PaymentMethodView]:
    uses: dict[str, int] = {}
    for model, column in ((Service, Service.payment_method), (Domain, Domain.payment_method),
                          (Client, Client.default_payment_method)):
        for name, count in model.select(column, fn.COUNT(model.id)).group_by(column).tuples():
            uses[name] = uses.get(name, 0) + count
    return [PaymentMethodView(row.id, row.name, row.enabled, row.sort_order, row.version,
                              uses.get(row.name, 0))
            for row in PaymentMethod.select().order_by(PaymentMethod.sort_order,
                                                       PaymentMethod.name)]


def _name(value, record_id: int | None) -> str:
    name = records.text(value, "name", 50, required=True).lower()
    if not _NAME.fullmatch(name):
        raise ValidationError("name", "use lowercase letters, digits, '_', '.' or '-' "
                                      "(like banktransfer), at most 50")
    return records.unique(PaymentMethod, PaymentMethod.name, name, "name", record_id,
                          "payment method")


def _rules(record_id: int | None) -> dict:
    return {"name": lambda v: _name(v, record_id),
            "enabled": lambda v: records.yes_no(v, "enabled"),
            "sort_order": lambda v: _sort_order(v)}


def _sort_order(value) -> int:
    text = records.as_text(value).strip() or "0"
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise ValidationError("sort_order", "is a whole number from 0 to 999999")
    return int(text)


def add_payment_method(values: dict, *, admin: Admin, at=None) -> PaymentMethodView:
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        parsed = records.checked(values, _rules(None), unknown_refused=True)
        if "name" not in parsed:
            raise ValidationError("name", "is required")
        row = records.create(PaymentMethod, parsed, admin=admin,
                             action="payment_method.add", what=f"payment method {parsed['name']}",
                             at=at)
    return _view(row.id)


def edit_payment_method(method_id: int, version: int, values: dict, *,
                        admin: Admin) -> PaymentMethodView:
    """Rename, enable/disable or reorder. A rename is refused while records use the old name
    (they store it as text); disable it and add the new one instead."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        row = records.get(PaymentMethod, method_id, "payment method")
        parsed = records.checked(values, _rules(row.id), unknown_refused=True)
        if parsed.get("name", row.name) != row.name and _in_use(row.name):
            raise ValidationError("name", f"'{row.name}' is used by {_in_use(row.name)} records; "
                                          "disable it and add the new name instead")
        records.save(row, parsed, version, admin=admin,
                     action="payment_method.edit", what=f"payment method {row.name}")
    return _view(method_id)


def _in_use(name: str) -> int:
    return sum(model.select().where(column == name).count() for model, column in (
        (Service, Service.payment_method), (Domain, Domain.payment_method),
        (Client, Client.default_payment_method), (Invoice, Invoice.payment_method),
        (Order, Order.payment_method)))


def _view(method_id: int) -> PaymentMethodView:
    return next(v for v in list_payment_methods() if v.id == method_id)
