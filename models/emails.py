"""Emails as outbox rows: rendered from a template and written in the caller's transaction.

Delivery is `automation.mail`'s job. Templates are Jinja2 rendered in a sandbox, so an admin
who edits one cannot run code; a variable a template uses but the context lacks is an error
naming the template and the variable, never a silent blank.

What a template sees is plain data, never a database row: a `Client`, `Service`, `Invoice`,
`Order`, `InvoiceLine`, `Upgrade`, `Payment` or `CancellationRequest` put into the context is
turned into a small dict of display values (amounts as Decimal numbers, dates as
YYYY-MM-DD), and secrets (service passwords, EPP codes) are never copied. The one exception
is the welcome email's explicit top-level `password` variable: such an email's body is stored
encrypted (`models.secrets`, `EmailOutbox.body_encrypted`), decrypted only by the deliverer
(`automation.mail`), which replaces it with `SECRET_BODY_REMOVED` once it is sent. The
password never goes into a subject (subjects are listed in clear in the email log).

An admin's edited template is a row of `email_template` that overrides the default of the
same name. A new template must be named after the default it extends
(`welcome_vps_gold` extends `welcome_vps`): it gets that default's variables.

Amounts are formatted when shown, by the `locale` setting in the email's currency (an
invoice's own): `{{ invoice.total|money }}`, or `|money('EUR')`; an amount printed without
the filter (`{{ invoice.total }}`, in templates written before it) is shown the same way.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache

import pendulum
from peewee import IntegrityError, Model, SelectBase

from hostdesk.models import audit, money, secrets
from hostdesk.models.cycles import Cycle
from hostdesk.models.db import database, insert_rows
from hostdesk.models.email_plain import print_plain, quick_printer
from hostdesk.models.errors import StaleRecordError, ValidationError
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.schema import (
    Admin,
    CancellationRequest,
    Client,
    EmailOutbox,
    EmailTemplate,
    Invoice,
    InvoiceLine,
    Order,
    Payment,
    Service,
    Upgrade,
)
from hostdesk.models.settings import Settings
from hostdesk.models.template_values import TemplateVars

DEFAULT_CURRENCY = Settings().currency
SUBJECT_MAX = 500  # the outbox column's width
SECRET_KEYS = audit.SECRET_FIELDS  # never copied into a context (but see `password`)
SECRET_BODY_REMOVED = "(contained a password; removed after delivery)"
_MASKED_PASSWORD = "********"

# --- what each variable holds (shown to the admin who edits a template) -----------------

VARIABLES: dict[str, str] = {
    "company_name": "your company's name (setting company_name)",
    "currency": "the currency code amounts are shown in (an invoice's own currency)",
    "client": "client.id, first_name, last_name, full_name, company, email",
    "service": ("service.id, product, product_type, product_group, domain, username, "
                "dedicated_ip, server, server_hostname, server_ip, status, billing_cycle, "
                "registration_date, next_due_date, first_payment_amount, recurring_amount, "
                "quantity, suspension_reason, termination_date"),
    "password": "the service's password in clear, or empty (welcome emails only)",
    "invoice": ("invoice.id, number, date, due_date, paid_date, status, payment_method, "
                "total, amount_paid, balance"),
    "lines": "list of lines, each: description, amount, period_start, period_end",
    "order": "order.id, number, date, status, payment_method, amount, promo_code",
    "payment": "payment.amount, date, method, transaction_ref",
    "upgrade": ("upgrade.old_product, new_product, old_cycle, new_cycle, old_amount, "
                "new_amount, credit, charge, discount, payable"),
    "cancellation": "cancellation.id, type, type_label, reason, requested_by, date",
    "days_until_due": "whole days from today to the invoice's due date",
    "days_overdue": "whole days the invoice is past its due date",
    "title": "the notice's one-line title",
    "message": "the notice's text",
}

# Amounts are numbers: `{{ invoice.total|money }}` formats one by the `locale` setting in its
# currency ($1,210.00; 1.210,00 € for de_DE and EUR); `|money('EUR')` names the currency.
_SIGNATURE = "\nKind regards,\n{{ company_name }}\n"
_LINES = ("{% for line in lines %}\n"
          "  {{ line.description }}: {{ line.amount|money }}\n"
          "{% endfor %}")
_INVOICE_SUMMARY = ("Invoice #{{ invoice.number }}\n"
                    "Invoice date: {{ invoice.date }}\n"
                    "Due date: {{ invoice.due_date }}\n"
                    "Payment method: {{ invoice.payment_method }}\n\n"
                    "Items:\n" + _LINES +
                    "Total: {{ invoice.total|money }}\n"
                    "Balance due: {{ invoice.balance|money }}\n")
# `+%}` keeps the newline after the tag (trim_blocks would eat it).
_SERVICE_SUMMARY = ("Product/service: {{ service.product }}\n"
                    "{% if service.domain %}Domain: {{ service.domain }}\n{% endif +%}")


def _welcome_body(kind: str, access: str) -> str:
    return ("Dear {{ client.first_name }},\n\n"
            f"Your {kind} is now active. Please keep this email: it holds the details "
            "you need to use it.\n\n" + _SERVICE_SUMMARY +
            "Billing: {{ service.recurring_amount|money }} {{ service.billing_cycle }}"
            "{% if service.next_due_date %}, next due {{ service.next_due_date }}{% endif +%}\n\n"
            f"{access}"
            "Username: {{ service.username }}\n"
            "{% if password %}Password: {{ password }}\n{% endif +%}"
            "\nChange the password after your first login.\n" + _SIGNATURE)


@dataclass(frozen=True)
class TemplateSpec:
    subject: str
    body: str
    purpose: str
    variables: tuple[str, ...]


_CLIENT_SERVICE = ("company_name", "currency", "client", "service")
_CLIENT_INVOICE = ("company_name", "currency", "client", "invoice", "lines")

SPECS: dict[str, TemplateSpec] = {
    "order_confirmation": TemplateSpec(
        "Order confirmation #{{ order.number }}",
        "Dear {{ client.first_name }},\n\n"
        "Thank you for your order #{{ order.number }} placed on {{ order.date }}.\n\n"
        "Items:\n" + _LINES +
        "Order total: {{ order.amount|money }}\n"
        "Payment method: {{ order.payment_method }}\n\n"
        "We will let you know as soon as your order is set up.\n" + _SIGNATURE,
        "sent to the client when an order is placed (order form tick)",
        ("company_name", "currency", "client", "order", "lines")),
    "invoice_created": TemplateSpec(
        "Invoice #{{ invoice.number }} created",
        "Dear {{ client.first_name }},\n\n"
        "A new invoice has been created for you.\n\n" + _INVOICE_SUMMARY + _SIGNATURE,
        "sent when an invoice is created (order form tick, daily run)",
        _CLIENT_INVOICE),
    "invoice_payment_confirmation": TemplateSpec(
        "Payment received for invoice #{{ invoice.number }}",
        "Dear {{ client.first_name }},\n\n"
        "Thank you: we received {{ payment.amount|money }} by {{ payment.method }} on "
        "{{ payment.date }} for invoice #{{ invoice.number }}.\n\n" + _INVOICE_SUMMARY
        + _SIGNATURE,
        "sent when a payment is recorded against an invoice",
        _CLIENT_INVOICE + ("payment",)),
    "welcome_shared": TemplateSpec(
        "Your hosting account {{ service.domain or service.product }} is ready",
        _welcome_body("hosting account",
                      "Server: {{ service.server_hostname }} ({{ service.server_ip }})\n"),
        "welcome email of a shared hosting service (sent on Create)",
        _CLIENT_SERVICE + ("password",)),
    "welcome_reseller": TemplateSpec(
        "Your reseller account {{ service.domain or service.product }} is ready",
        _welcome_body("reseller account",
                      "Server: {{ service.server_hostname }} ({{ service.server_ip }})\n"),
        "welcome email of a reseller service (sent on Create)",
        _CLIENT_SERVICE + ("password",)),
    "welcome_vps": TemplateSpec(
        "Your VPS {{ service.domain or service.product }} is ready",
        _welcome_body("virtual server",
                      "IP address: {{ service.dedicated_ip or service.server_ip }}\n"),
        "welcome email of a VPS service (sent on Create)",
        _CLIENT_SERVICE + ("password",)),
    "welcome_dedicated": TemplateSpec(
        "Your dedicated server {{ service.domain or service.product }} is ready",
        _welcome_body("dedicated server",
                      "IP address: {{ service.dedicated_ip or service.server_ip }}\n"),
        "welcome email of a dedicated server (sent on Create)",
        _CLIENT_SERVICE + ("password",)),
    "welcome_other": TemplateSpec(
        "Your {{ service.product }} is ready",
        _welcome_body("service", ""),
        "welcome email of any other product (sent on Create)",
        _CLIENT_SERVICE + ("password",)),
    "service_suspended": TemplateSpec(
        "Service suspended: {{ service.domain or service.product }}",
        "Dear {{ client.first_name }},\n\n"
        "Your service has been suspended.\n\n" + _SERVICE_SUMMARY +
        "Reason: {{ service.suspension_reason or 'Overdue on payment' }}\n\n"
        "Please contact us to have it reactivated.\n" + _SIGNATURE,
        "sent when a service is suspended",
        _CLIENT_SERVICE),
    "service_unsuspended": TemplateSpec(
        "Service reactivated: {{ service.domain or service.product }}",
        "Dear {{ client.first_name }},\n\n"
        "Your service has been reactivated and is available again.\n\n" + _SERVICE_SUMMARY
        + _SIGNATURE,
        "sent when a service is unsuspended",
        _CLIENT_SERVICE),
    "upgrade_confirmation": TemplateSpec(
        "Upgrade complete: {{ service.domain or service.product }}",
        "Dear {{ client.first_name }},\n\n"
        "Your service has been changed from {{ upgrade.old_product }} "
        "({{ upgrade.old_cycle }}) to {{ upgrade.new_product }} ({{ upgrade.new_cycle }}).\n\n"
        + _SERVICE_SUMMARY +
        "New recurring amount: {{ upgrade.new_amount|money }}\n"
        "Next due date: {{ service.next_due_date }}\n" + _SIGNATURE,
        "sent when a paid upgrade or downgrade has been applied (product upgrade email)",
        _CLIENT_SERVICE + ("upgrade",)),
    "service_terminated": TemplateSpec(
        "Service terminated: {{ service.domain or service.product }}",
        "Dear {{ client.first_name }},\n\n"
        "Your service has been terminated"
        "{% if service.termination_date %} on {{ service.termination_date }}{% endif +%}.\n\n"
        + _SERVICE_SUMMARY +
        "\nIts data has been removed from our servers.\n" + _SIGNATURE,
        "sent when a service is terminated (product termination email, fixed term)",
        _CLIENT_SERVICE),
    "cancellation_confirmation": TemplateSpec(
        "Cancellation request received: {{ service.domain or service.product }}",
        "Dear {{ client.first_name }},\n\n"
        "We received your request to cancel this service:\n\n" + _SERVICE_SUMMARY +
        "Cancellation: {{ cancellation.type_label }}\n"
        "{% if cancellation.type == 'end_of_period' %}"
        "The service stays active until {{ service.next_due_date }}.\n"
        "{% endif %}"
        "Any unpaid invoice for it has been cancelled.\n" + _SIGNATURE,
        "sent to the client when a cancellation request is entered",
        _CLIENT_SERVICE + ("cancellation",)),
    "admin_cancellation_notice": TemplateSpec(
        "[{{ company_name }}] Cancellation request #{{ cancellation.id }}: "
        "{{ service.domain or service.product }}",
        "A cancellation request was entered on {{ cancellation.date }} "
        "by {{ cancellation.requested_by }}.\n\n"
        "Client: {{ client.full_name }} (#{{ client.id }}, {{ client.email }})\n"
        "Service #{{ service.id }}: {{ service.product }} {{ service.domain }}\n"
        "Type: {{ cancellation.type_label }}\n"
        "Reason: {{ cancellation.reason }}\n",
        "sent to the admins (setting admin_notice_email) for a cancellation request",
        _CLIENT_SERVICE + ("cancellation",)),
    "admin_notice": TemplateSpec(
        "[{{ company_name }}] {{ title }}",
        "{{ message }}\n",
        "a generic notice to the admins (setting admin_notice_email)",
        ("company_name", "currency", "title", "message")),
    "invoice_reminder": TemplateSpec(
        "Payment reminder: invoice #{{ invoice.number }} is due on {{ invoice.due_date }}",
        "Dear {{ client.first_name }},\n\n"
        "This is a reminder that invoice #{{ invoice.number }} is due in "
        "{{ days_until_due }} day{{ 's' if days_until_due != 1 else '' }}.\n\n" + _INVOICE_SUMMARY
        + _SIGNATURE,
        "unpaid invoice reminder, sent before the due date",
        _CLIENT_INVOICE + ("days_until_due",)),
    "overdue_reminder_1": TemplateSpec(
        "First overdue notice: invoice #{{ invoice.number }}",
        "Dear {{ client.first_name }},\n\n"
        "Invoice #{{ invoice.number }} was due on {{ invoice.due_date }} and is now "
        "{{ days_overdue }} day{{ 's' if days_overdue != 1 else '' }} overdue.\n\n"
        + _INVOICE_SUMMARY
        + "\nPlease pay it to avoid an interruption of your services.\n" + _SIGNATURE,
        "first overdue notice",
        _CLIENT_INVOICE + ("days_overdue",)),
    "overdue_reminder_2": TemplateSpec(
        "Second overdue notice: invoice #{{ invoice.number }}",
        "Dear {{ client.first_name }},\n\n"
        "Invoice #{{ invoice.number }} is still unpaid, {{ days_overdue }} days after its "
        "due date of {{ invoice.due_date }}.\n\n" + _INVOICE_SUMMARY
        + "\nServices with overdue invoices are suspended. Please pay it now.\n" + _SIGNATURE,
        "second overdue notice",
        _CLIENT_INVOICE + ("days_overdue",)),
    "overdue_reminder_3": TemplateSpec(
        "Final overdue notice: invoice #{{ invoice.number }}",
        "Dear {{ client.first_name }},\n\n"
        "Invoice #{{ invoice.number }} is {{ days_overdue }} days overdue. This is our last "
        "notice before the services it covers are terminated and their data removed.\n\n"
        + _INVOICE_SUMMARY + _SIGNATURE,
        "third and final overdue notice",
        _CLIENT_INVOICE + ("days_overdue",)),
}

DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    name: (spec.subject, spec.body) for name, spec in SPECS.items()}

# --- the sandbox: models/email_sandbox.py (Jinja2, imported when an email is rendered) ---

_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,99}$")


# --- turning rows into plain template values -------------------------------------------


def _cycle_label(value: str) -> str:
    try:
        return Cycle(value).label
    except ValueError:
        return value


def client_vars(client: Client) -> dict:
    return {"id": client.id, "first_name": client.first_name, "last_name": client.last_name,
            "full_name": f"{client.first_name} {client.last_name}".strip(),
            "company": client.company, "email": client.email}


def service_vars(service: Service) -> dict:
    product = service.product
    server = service.server if service.server_id else None
    return {
        "id": service.id, "product": product.name, "product_type": product.type,
        "product_group": product.group_name, "domain": service.domain,
        "username": service.username, "dedicated_ip": service.dedicated_ip,
        "server": server.name if server else "",
        "server_hostname": server.hostname if server else "",
        "server_ip": server.ip_address if server else "",
        "status": service.status, "billing_cycle": _cycle_label(service.billing_cycle),
        "registration_date": service.registration_date, "next_due_date": service.next_due_date,
        "first_payment_amount": service.first_payment_amount,
        "recurring_amount": service.recurring_amount, "quantity": service.quantity,
        "suspension_reason": service.suspension_reason,
        "termination_date": service.termination_date,
    }


def invoice_vars(invoice: Invoice) -> dict:
    return {"id": invoice.id, "number": invoice.number, "date": invoice.date,
            "due_date": invoice.due_date, "paid_date": invoice.paid_date,
            "status": invoice.status, "payment_method": invoice.payment_method,
            "total": invoice.total, "amount_paid": invoice.amount_paid,
            "balance": invoice.total - invoice.amount_paid, "currency": invoice.currency}


def line_vars(line: InvoiceLine) -> dict:
    return {"description": line.description, "amount": line.amount,
            "period_start": line.period_start, "period_end": line.period_end}


def order_vars(order: Order) -> dict:
    return {"id": order.id, "number": order.number, "date": order.created_at.date(),
            "status": order.status, "payment_method": order.payment_method,
            "amount": order.amount, "promo_code": order.promo_code}


def payment_vars(payment: Payment) -> dict:
    return {"amount": payment.amount, "date": payment.date, "method": payment.method,
            "transaction_ref": payment.transaction_ref}


def upgrade_vars(upgrade: Upgrade) -> dict:
    return {"old_product": upgrade.old_product.name, "new_product": upgrade.new_product.name,
            "old_cycle": _cycle_label(upgrade.old_cycle),
            "new_cycle": _cycle_label(upgrade.new_cycle),
            "old_amount": upgrade.old_amount, "new_amount": upgrade.new_amount,
            "credit": upgrade.credit, "charge": upgrade.charge, "discount": upgrade.discount,
            "payable": upgrade.payable}


def cancellation_vars(request: CancellationRequest) -> dict:
    labels = {"immediate": "Immediate", "end_of_period": "End of billing period"}
    return {"id": request.id, "type": request.type,
            "type_label": labels.get(request.type, request.type), "reason": request.reason,
            "requested_by": request.requested_by, "date": request.created_at.date()}


_VIEWS = {Client: client_vars, Service: service_vars, Invoice: invoice_vars,
          InvoiceLine: line_vars, Order: order_vars, Payment: payment_vars,
          Upgrade: upgrade_vars, CancellationRequest: cancellation_vars}


def _row_vars(row: Model) -> dict:
    """Any other row: its fields, minus secrets, with foreign keys as ids."""
    values = {}
    for field in row._meta.sorted_fields:
        if field.name in SECRET_KEYS:
            continue
        values[field.name] = row.__data__.get(field.name)
    return values


# types a template sees unchanged (checked first: most are); amounts stay Decimal numbers
_AS_IS = frozenset({str, int, bool, Decimal})


def _moment(value: datetime, currency: str) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _day(value: date, currency: str) -> str:
    return value.isoformat()


# The common value types by exact type, so a bulk run's thousands of contexts skip the
# isinstance chain below (which still decides for subclasses and everything else).
_CONVERT_EXACT = {type(None): lambda value, currency: "",
                  datetime: _moment, pendulum.DateTime: _moment,
                  date: _day, pendulum.Date: _day}


def _plain(value, path: str, currency: str):
    """`value` as something a template may see: str, int, bool, Decimal, TemplateVars or list."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    convert = _CONVERT_EXACT.get(kind)
    if convert is not None:
        return convert(value, currency)
    if kind is dict:
        return _plain_dict(value, path, currency)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        raise ValidationError("context", f"{path} is a float; amounts are Decimal")
    if isinstance(value, Decimal):
        return Decimal(value)
    if isinstance(value, datetime):
        return _moment(value, currency)
    if isinstance(value, date):
        return _day(value, currency)
    if isinstance(value, Model):
        view = _VIEWS.get(type(value), _row_vars)
        return _plain(view(value), path, currency)
    if isinstance(value, dict):
        return _plain_dict(value, path, currency)
    if isinstance(value, (list, tuple, SelectBase)):
        return [_plain(item, f"{path}[{i}]", currency) for i, item in enumerate(value)]
    raise ValidationError("context", f"{path}: a {type(value).__name__} cannot go into an email")


def _plain_dict(value: dict, path: str, currency: str) -> TemplateVars:
    secret = SECRET_KEYS.intersection(value)
    if secret:
        names = ", ".join(sorted(secret))
        raise ValidationError("context", f"{path} holds a secret ({names}); "
                                         "secrets never go into an email")
    plain = {}
    for key, item in value.items():
        kind = type(item)
        if kind in _AS_IS:
            plain[str(key)] = item
        elif (convert := _CONVERT_EXACT.get(kind)) is not None:
            plain[str(key)] = convert(item, currency)
        else:
            plain[str(key)] = _plain(item, f"{path}.{key}", currency)
    return TemplateVars(plain, path)


def _related_client(context: dict):
    for key in ("invoice", "service", "order"):
        row = context.get(key)
        if isinstance(row, Model) and getattr(row, "client_id", None):
            return Client.get_by_id(row.client_id)
    return None


_installation_defaults: dict = {}


def configure_defaults(settings: Settings) -> None:
    """The installation's company name and currency, for every email whose caller leaves
    them out, and how amounts read (called once at start-up by the CLI, the TUI and the
    daily run)."""
    _installation_defaults.update(company_name=settings.company_name, currency=settings.currency)
    money.configure(settings.locale, settings.currency)


def template_context(template: str, context: dict) -> TemplateVars:
    """The context as the template sees it: plain values, secrets refused, and the obvious
    related data filled in (an invoice's live lines, the client of an invoice or service)."""
    context = dict(context)
    if "password" in context:
        if not base_template(template).startswith("welcome_"):
            raise ValidationError("context", f"a password may only go into a welcome email, "
                                             f"not '{template}'")
        if not isinstance(context["password"], str):
            raise ValidationError("context", "password must be text")
    invoice = context.get("invoice")
    if "lines" not in context and isinstance(invoice, Invoice):
        context["lines"] = list(InvoiceLine.select()
                                .where((InvoiceLine.invoice == invoice.id)
                                       & (InvoiceLine.cancelled == False))  # noqa: E712
                                .order_by(InvoiceLine.sort_order, InvoiceLine.id))
    if "client" not in context:
        client = _related_client(context)
        if client is not None:
            context["client"] = client
    for key, value in _installation_defaults.items():
        if key != "currency" or not getattr(invoice, "currency", ""):
            context.setdefault(key, value)
    if getattr(invoice, "currency", ""):  # an invoice reads in its own currency
        context["currency"] = invoice.currency
    currency = context.setdefault("currency", DEFAULT_CURRENCY)
    plain = {}
    for key, value in context.items():
        plain[key] = value if key == "password" else _plain(value, key, currency)
    return TemplateVars(plain, "")


def invoice_email_clients(clients: dict, currency: str) -> dict:
    """Each client of a batch of "invoice created" emails as its template sees `client`:
    `clients` maps id -> a row with `client_vars`'s columns; the result maps id -> its view."""
    return {client_id: _plain_dict(client_vars(row), "client", currency)
            for client_id, row in clients.items()}


@lru_cache(maxsize=4096)  # as `_plain` shows a date (or none): a batch has few distinct dates
def _day_text(value) -> str:
    return "" if value is None else value.isoformat()


def invoice_email_lines(lines: Iterable) -> list:
    """An invoice's lines as its "invoice created" template sees `lines`: each line has
    `line_vars`'s values (description, amount, period_start, period_end), its period's days
    given as the line row holds them (ISO text, or None)."""
    return [TemplateVars({"description": line.description, "amount": line.amount,
                          "period_start": line.period_start or "",
                          "period_end": line.period_end or ""}, f"lines[{number}]")
            for number, line in enumerate(lines)]


def invoice_email_contexts(client_views: dict, invoices: Iterable[tuple], *, company_name: str,
                           currency: str) -> Iterator[TemplateVars]:
    """`template_context` of each "invoice created" email of a batch, one at a time:
    `client_views` from `invoice_email_clients`, `invoices` holds (client id, invoice, lines)
    with the invoice as `invoice_vars` reads it and its lines from `invoice_email_lines`.
    The values are already plain (Decimal amounts, dates, text), so each is converted by its
    type once instead of walked key by key; the result is what `template_context` makes of
    the same invoice (tests/test_renewals.py). The clients and lines need no invoice id: the
    daily run makes them before the invoices are written."""
    day = _day_text
    for client_id, invoice, lines in invoices:
        yield TemplateVars({
            "client": client_views[client_id],
            "invoice": TemplateVars({
                "id": invoice.id, "number": invoice.number, "date": day(invoice.date),
                "due_date": day(invoice.due_date), "paid_date": day(invoice.paid_date),
                "status": invoice.status, "payment_method": invoice.payment_method,
                "total": invoice.total, "amount_paid": invoice.amount_paid,
                "balance": invoice.total - invoice.amount_paid, "currency": invoice.currency},
                "invoice"),
            "lines": lines,
            "total": invoice.total, "currency": invoice.currency or currency,
            "company_name": company_name}, "")


# --- templates: defaults, admin overrides ----------------------------------------------


def base_template(name: str) -> str:
    """The default template `name` is, or extends (`welcome_vps_gold` → `welcome_vps`)."""
    if name in SPECS:
        return name
    bases = [default for default in SPECS if name.startswith(default + "_")]
    if not bases:
        raise ValidationError("template", f"'{name}' is not a template and extends none")
    return max(bases, key=len)


def template_for(name: str) -> tuple[str, str]:
    stored = EmailTemplate.get_or_none(EmailTemplate.name == name)
    if stored is not None:
        return stored.subject, stored.body
    if name not in DEFAULT_TEMPLATES:
        raise ValidationError("template", f"there is no email template named '{name}'")
    return DEFAULT_TEMPLATES[name]


def _render_text(name: str, subject: str, body: str, context) -> tuple[str, str]:
    # The subject is listed in clear in the email log: it never sees the password.
    subject_context = context
    if context.get("password"):
        subject_context = TemplateVars({**context, "password": _MASKED_PASSWORD}, "")
    rendered_subject = " ".join(_render_part(subject, subject_context, "subject", name).split())
    if len(rendered_subject) > SUBJECT_MAX:
        rendered_subject = rendered_subject[:SUBJECT_MAX - 1] + "…"
    return rendered_subject, _render_part(body, context, "body", name)


def _render_part(source: str, context, part: str, name: str) -> str:
    """One part by the fast path when `email_plain` reads the template without Jinja, else
    in the sandbox (which imports Jinja: a headless command avoids it where it can)."""
    text = print_plain(quick_printer(source), context)
    if text is not None:
        return text
    from hostdesk.models.email_sandbox import render_part

    return render_part(source, context, part, name)


def render(name: str, context: dict) -> tuple[str, str]:
    """(subject, body) of template `name` (the admin's version if edited) for `context`."""
    subject, body = template_for(name)
    if (subject, body) != DEFAULT_TEMPLATES.get(name):  # an admin's text (the defaults are ours)
        from hostdesk.models.email_sandbox import check_source

        for source, part in ((subject, "subject"), (body, "body")):
            check_source(source, part, name)
    return _render_text(name, subject, body, template_context(name, context))


_SAMPLE_VALUES = {
    "company_name": "Example Hosting",
    "currency": "USD",
    "client": {"id": 42, "first_name": "Ada", "last_name": "Lovelace",
               "full_name": "Ada Lovelace", "company": "Analytical Engines Ltd",
               "email": "ada@example.com"},
    "service": {"id": 1001, "product": "Starter Hosting", "product_type": "shared",
                "product_group": "Web Hosting", "domain": "example.com", "username": "adal",
                "dedicated_ip": "", "server": "web1", "server_hostname": "web1.example.net",
                "server_ip": "192.0.2.10", "status": "active", "billing_cycle": "Monthly",
                "registration_date": "2026-01-31", "next_due_date": "2026-03-31",
                "first_payment_amount": Decimal("10.00"), "recurring_amount": Decimal("10.00"),
                "quantity": 1, "suspension_reason": "", "termination_date": ""},
    "password": "sample-Passw0rd",
    "invoice": {"id": 512, "number": "512", "date": "2026-03-17", "due_date": "2026-03-31",
                "paid_date": "", "status": "unpaid", "payment_method": "banktransfer",
                "total": Decimal("1210.00"), "amount_paid": Decimal("0.00"),
                "balance": Decimal("1210.00")},
    "lines": [{"description": "Starter Hosting - example.com (2026-03-31 - 2026-04-29)",
               "amount": Decimal("10.00"), "period_start": "2026-03-31",
               "period_end": "2026-04-30"},
              {"description": "Dedicated Server (2026-03-31 - 2026-04-29)",
               "amount": Decimal("1200.00"), "period_start": "2026-03-31",
               "period_end": "2026-04-30"}],
    "order": {"id": 7, "number": "4820175396", "date": "2026-03-17", "status": "pending",
              "payment_method": "banktransfer", "amount": Decimal("1210.00"), "promo_code": ""},
    "payment": {"amount": Decimal("1210.00"), "date": "2026-03-20", "method": "banktransfer",
                "transaction_ref": "TX-20260320-1"},
    "upgrade": {"old_product": "Starter Hosting", "new_product": "Business Hosting",
                "old_cycle": "Monthly", "new_cycle": "Monthly", "old_amount": Decimal("10.00"),
                "new_amount": Decimal("25.00"), "credit": Decimal("4.00"),
                "charge": Decimal("10.00"),
                "discount": Decimal("0.00"), "payable": Decimal("6.00")},
    "cancellation": {"id": 3, "type": "end_of_period", "type_label": "End of billing period",
                     "reason": "Moving to a bigger plan elsewhere", "requested_by": "ada",
                     "date": "2026-03-17"},
    "days_until_due": 7,
    "days_overdue": 14,
    "title": "Daily run finished with failures",
    "message": "2 module commands failed; see the module queue.",
}


def sample_context(name: str) -> dict:
    """Realistic values for every variable template `name` documents (for previews)."""
    return {var: _SAMPLE_VALUES[var] for var in SPECS[base_template(name)].variables}


def preview(name: str, subject: str, body: str) -> tuple[str, str]:
    """Render unsaved template text with the sample context; errors name the field."""
    from hostdesk.models.email_sandbox import check_source

    for source, part in ((subject, "subject"), (body, "body")):
        check_source(source, part, name)
    return _render_text(name, subject, body, template_context(name, sample_context(name)))


def _record_context(variables: tuple[str, ...], record_id: int) -> dict:
    """The real rows a template of these variables is about, for a preview: the one record
    the template centres on (an upgrade, a cancellation request, a payment, an invoice, an
    order or a service) and what hangs off it. The service password is never read."""
    def find(model, label):
        row = model.get_or_none(model.id == record_id)
        if row is None:
            raise ValidationError("record_id", f"there is no {label} #{record_id}")
        return row

    if "upgrade" in variables:
        upgrade = find(Upgrade, "upgrade")
        return {"upgrade": upgrade, "service": upgrade.service}
    if "cancellation" in variables:
        request = find(CancellationRequest, "cancellation request")
        return {"cancellation": request, "service": request.service}
    if "payment" in variables:
        payment = find(Payment, "payment")
        return {"payment": payment, "invoice": payment.invoice}
    if "invoice" in variables:
        return {"invoice": find(Invoice, "invoice")}
    if "order" in variables:
        order = find(Order, "order")
        invoice = Invoice.select().where(Invoice.order == order.id).order_by(Invoice.id).first()
        lines = list(InvoiceLine.select().where((InvoiceLine.invoice == invoice.id)
                                                & (InvoiceLine.cancelled == False))  # noqa: E712
                     .order_by(InvoiceLine.sort_order)) if invoice else []
        return {"order": order, "lines": lines, "client": Client.get_by_id(order.client_id)}
    if "service" in variables:
        return {"service": find(Service, "service")}
    raise ValidationError("record_id", "this template is about no record; preview it without one")


def preview_template(name: str, subject: str, body: str,
                     record_id: int | None = None) -> tuple[str, str]:
    """Unsaved template text rendered against a real record (`record_id`: the service,
    invoice, order, payment, upgrade or cancellation request the template is about), or the
    sample values without one. Errors name the field (subject, body, record_id)."""
    from hostdesk.models.email_sandbox import check_source

    if record_id is None:
        return preview(name, subject, body)
    for source, part in ((subject, "subject"), (body, "body")):
        check_source(source, part, name)
    variables = SPECS[base_template(name)].variables
    context = {k: v for k, v in sample_context(name).items()
               if k not in ("client", "service", "invoice", "lines", "order", "payment",
                            "upgrade", "cancellation")}
    context.update(_record_context(variables, record_id))
    return _render_text(name, subject, body, template_context(name, context))


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    subject: str
    body: str
    version: int  # 0: the built-in default, never edited
    customised: bool
    base: str  # the default it is or extends
    purpose: str
    variables: tuple[tuple[str, str], ...]  # (name, what it holds)


def _info(name: str, stored: EmailTemplate | None) -> TemplateInfo:
    base = base_template(name)
    spec = SPECS[base]
    subject, body = (stored.subject, stored.body) if stored else (spec.subject, spec.body)
    return TemplateInfo(name, subject, body, stored.version if stored else 0,
                        stored is not None, base, spec.purpose,
                        tuple((var, VARIABLES[var]) for var in spec.variables))


def list_templates() -> list[TemplateInfo]:
    """Every template: the defaults (edited or not) and the admins' own, by name."""
    stored = {row.name: row for row in EmailTemplate.select()}
    names = sorted(set(SPECS) | set(stored))
    return [_info(name, stored.get(name)) for name in names]


def get_template(name: str) -> TemplateInfo:
    return _info(name, EmailTemplate.get_or_none(EmailTemplate.name == name))


def _validate_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME_PATTERN.match(name):
        raise ValidationError("name", "use 2-100 lowercase letters, digits and '_', "
                                      "starting with a letter")
    try:
        base_template(name)
    except ValidationError:
        raise ValidationError("name", f"a new template is named after the one it extends, "
                                      f"e.g. welcome_vps_gold; '{name}' extends none") from None
    return name


def save_template(name: str, subject: str, body: str, admin: Admin,
                  expected_version: int) -> TemplateInfo:
    """Save an admin's version of a template. `expected_version` is the version the admin
    opened (0 for a default never edited); if someone saved since, StaleRecordError.
    Syntax errors and variables the template does not have are refused before saving.
    Needs "manage catalog": a template is sent to every client."""
    from hostdesk.models.email_sandbox import uses_name

    require(admin, MANAGE_CATALOG)
    name = _validate_name(name)
    subject = (subject or "").strip()
    if not subject:
        raise ValidationError("subject", "is required")
    if len(subject) > SUBJECT_MAX:
        raise ValidationError("subject", f"is longer than {SUBJECT_MAX} characters")
    if not (body or "").strip():
        raise ValidationError("body", "is required")
    rendered_subject, _ = preview(name, subject, body)
    if not rendered_subject:
        raise ValidationError("subject", "renders as an empty line")
    if uses_name(subject, "password"):
        raise ValidationError("subject", "the password may only go into the body: subjects "
                                         "are shown in the email log")
    stale = StaleRecordError(f"email template '{name}' was changed by someone else since you "
                             "opened it; reload it and apply your change again")
    try:
        with database.atomic():
            stored = EmailTemplate.get_or_none(EmailTemplate.name == name)
            current = stored.version if stored else 0
            if current != expected_version:
                raise stale
            before = {"subject": stored.subject, "body": stored.body} if stored else None
            if stored is None:
                row = EmailTemplate.create(name=name, subject=subject, body=body, version=1)
            else:
                updated = (EmailTemplate
                           .update(subject=subject, body=body, version=EmailTemplate.version + 1)
                           .where((EmailTemplate.id == stored.id)
                                  & (EmailTemplate.version == expected_version))
                           .execute())
                if updated != 1:
                    raise stale
                row = EmailTemplate.get_by_id(stored.id)
            audit.record(admin.login, "email_template.save", "email_template", row.id,
                         description=f"edited email template {name}",
                         before=before, after={"subject": subject, "body": body})
    except IntegrityError:  # another admin created the same override at the same moment
        raise stale from None
    return _info(name, row)


def reset_template(name: str, admin: Admin, expected_version: int) -> TemplateInfo | None:
    """Drop the admin's version: the default applies again (an extension is deleted)."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        stored = EmailTemplate.get_or_none(EmailTemplate.name == name)
        if stored is None or stored.version != expected_version:
            raise StaleRecordError(f"email template '{name}' was changed by someone else since "
                                   "you opened it; reload it")
        deleted = (EmailTemplate.delete()
                   .where((EmailTemplate.id == stored.id)
                          & (EmailTemplate.version == expected_version)).execute())
        if deleted != 1:
            raise StaleRecordError(f"email template '{name}' was changed by someone else")
        audit.record(admin.login, "email_template.reset", "email_template", stored.id,
                     description=f"reset email template {name} to the default",
                     before={"subject": stored.subject, "body": stored.body}, after=None)
    return get_template(name) if name in SPECS else None


# --- the outbox -------------------------------------------------------------------------

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_address(address: str, field: str = "to") -> str:
    address = (address or "").strip()
    if len(address) > 254 or not _ADDRESS.match(address):
        raise ValidationError(field, f"'{address[:60]}' is not an email address")
    return address


def email_context(settings: Settings, **values) -> dict:
    """A context with the installation's company name and currency, plus `values`."""
    return {"company_name": settings.company_name, "currency": settings.currency, **values}


def queue_email(template: str, *, to: str, context: dict, client_id: int | None = None,
                related_type: str = "", related_id: int | None = None) -> EmailOutbox:
    """Render `template` and queue it (call inside the transaction of the change that causes it).

    Raises ValidationError when the address is not one or the template cannot be rendered
    with `context` (the message names the template and the variable)."""
    to = check_address(to)
    try:
        subject, body = render(template, context)
    except ValidationError as exc:
        if exc.field not in _TEMPLATE_PARTS:
            raise
        _log_unrenderable(template, 1, exc, client_id)
        return EmailOutbox.create(**_unrenderable(template, exc), to_address=to,
                                  client=client_id, related_type=related_type,
                                  related_id=related_id)
    body, encrypted = _stored_body(body, context)
    return EmailOutbox.create(to_address=to, subject=subject, body=body, body_encrypted=encrypted,
                              template=template, client=client_id, related_type=related_type,
                              related_id=related_id)


_TEMPLATE_PARTS = ("subject", "body")


def _unrenderable(template: str, error: ValidationError) -> dict:
    """The outbox row of an email its template could not render: failed, with the reason,
    never sent (the deliverer skips it)."""
    return dict(subject=f"(not sent: template '{template}' could not be rendered)"[:SUBJECT_MAX],
                body="", body_encrypted=False, template=template, status="failed",
                last_error=str(error), render_failed=True)


def _log_unrenderable(template: str, count: int, error: ValidationError, client_id=None) -> None:
    audit.record("system", "email.render_failed", "email_template", None, client_id=client_id,
                 description=f"{count} email{'s' if count != 1 else ''} from template "
                             f"'{template}' not sent: {error}")


def _stored_body(body: str, context: dict) -> tuple[str, bool]:
    """The body as the outbox keeps it, and whether it is encrypted: a body rendered with a
    service password is, so the password is never at rest in clear."""
    if context.get("password"):
        return secrets.encrypt(body), True
    return body, False


def outbox_rows(template: str, messages: Iterable[dict], failures: list) -> Iterator[tuple]:
    """`queue_email` for many messages of one template (the daily run's invoice emails), each
    rendered as its outbox row (OUTBOX_COLUMNS), one at a time: the template is read and
    checked once. Each message is a dict of `queue_email`'s keyword arguments; its context may
    also be one `invoice_email_contexts` built. A message its template cannot render gets a
    failed row, and its error is added to `failures` for `write_outbox_rows` to log. Reads
    the template only: the daily run renders ahead of its writes in another process
    (`models.renewals`)."""
    from hostdesk.models.email_sandbox import check_source

    subject, body = template_for(template)
    broken = None
    try:
        for source, part in ((subject, "subject"), (body, "body")):
            check_source(source, part, template)
    except ValidationError as exc:
        broken = exc
    now = EmailOutbox.created_at.db_value(pendulum.now("UTC"))
    for message in messages:
        to = check_address(message["to"])
        error = broken
        if error is None:
            try:
                context = message["context"]
                if type(context) is not TemplateVars:  # else already as the template sees it
                    context = template_context(template, context)
                rendered_subject, rendered_body = _render_text(template, subject, body, context)
            except ValidationError as exc:
                if exc.field not in _TEMPLATE_PARTS:
                    raise
                error = exc
        if error is not None:
            failures.append(error)
            failed = _unrenderable(template, error)
            yield (to, failed["subject"], "", False, template, message.get("client_id"),
                   message.get("related_type", ""), message.get("related_id"), "failed",
                   0, failed["last_error"], now, None, True)
            continue
        stored_body, encrypted = _stored_body(rendered_body, message["context"])
        yield (to, rendered_subject, stored_body, encrypted, template,
               message.get("client_id"), message.get("related_type", ""),
               message.get("related_id"), "queued", 0, "", now, None, False)


def write_outbox_rows(template: str, rows: list[tuple], failures: list) -> int:
    """Insert rows `outbox_rows` rendered and log its `failures`; returns the rows written."""
    insert_rows(EmailOutbox, OUTBOX_COLUMNS, rows)
    if failures:
        _log_unrenderable(template, len(failures), failures[0])
    return len(rows)


OUTBOX_COLUMNS = ("to_address", "subject", "body", "body_encrypted", "template", "client",
                  "related_type", "related_id", "status", "attempts", "last_error",
                  "created_at", "sent_at", "render_failed")
