"""Cancellation requests, admin auto-terminate at end of cycle, fixed-term products (rules §10).

The module's Terminate is run by `automation/` (it talks to the outside world); the rules
here decide what is due and record the outcome.
"""

import json
import operator
from functools import reduce

import pendulum
from peewee import IntegrityError

from hostdesk.models import audit
from hostdesk.models.cycles import Cycle
from hostdesk.models.db import database
from hostdesk.models.emails import queue_email
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.invoicing import cancel_lines, reopen_lines, unpaid_lines_of_service
from hostdesk.models.parsing import clean_text
from hostdesk.models.permissions import EDIT_SERVICES, MANAGE_CANCELLATIONS, require
from hostdesk.models.schema import (
    Admin,
    CancellationRequest,
    Client,
    Domain,
    InvoiceLine,
    Product,
    Service,
    ServiceAddon,
    ServiceStatus,
)

TYPES = CancellationRequest.TYPES
CANCELLABLE = (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)


def _service_or_error(service_id: int) -> Service:
    service = Service.get_or_none(Service.id == service_id)
    if service is None:
        raise ValidationError("service", f"service #{service_id} does not exist")
    return service


def _cancel_unpaid_lines(service: Service, admin: Admin, reason: str) -> list[int]:
    return cancel_lines(unpaid_lines_of_service(service.id), admin, reason)


def request_cancellation(service_id: int, cancel_type: str, reason: str, *, admin: Admin,
                         disable_domain_auto_renew: bool = False,
                         admin_notice_email: str = "", company_name: str = "") -> CancellationRequest:
    """File a request: unpaid lines cancelled, optional domain auto-renew off, admins told."""
    require(admin, MANAGE_CANCELLATIONS)
    requested_by = admin.login
    if cancel_type not in TYPES:
        raise ValidationError("type", f"'{cancel_type}' is not a cancellation type; use "
                                      "immediate or end_of_period")
    reason = clean_text(reason, "reason", max_length=2000)
    with database.atomic():
        service = _service_or_error(service_id)
        if service.billing_cycle == Cycle.FREE.value:
            raise RuleViolation(f"service #{service.id} is free: free services take no "
                                "cancellation requests")
        if service.status not in CANCELLABLE:
            raise RuleViolation(f"service #{service.id} is {service.status}; only pending, active "
                                "or suspended services can be cancelled")
        try:
            with database.atomic():
                request = CancellationRequest.create(
                    service=service.id, type=cancel_type, reason=reason,
                    disable_domain_auto_renew=disable_domain_auto_renew, requested_by=requested_by)
        except IntegrityError:
            raise RuleViolation(f"service #{service.id} already has an open cancellation "
                                "request") from None
        cancelled = _cancel_unpaid_lines(service, admin,
                                         f"cancellation request #{request.id}")
        CancellationRequest.update(cancelled_line_ids=json.dumps(cancelled)).where(
            CancellationRequest.id == request.id).execute()
        if disable_domain_auto_renew and service.domain:
            Domain.update(auto_renew=False, version=Domain.version + 1).where(
                (Domain.client == service.client_id) & (Domain.name == service.domain)).execute()
        audit.record(requested_by, "cancellation.request", "service", service.id,
                     client_id=service.client_id,
                     description=f"{cancel_type} cancellation requested: {reason}",
                     after={"request": request.id, "type": cancel_type,
                            "cancelled_lines": cancelled})
        request = CancellationRequest.get_by_id(request.id)
        client = Client.get_by_id(service.client_id)
        context = {"client": client, "service": service, "cancellation": request,
                   "company_name": company_name}
        queue_email("cancellation_confirmation", to=client.email, client_id=client.id,
                    related_type="cancellation", related_id=request.id, context=context)
        if admin_notice_email:
            queue_email("admin_cancellation_notice", to=admin_notice_email, client_id=client.id,
                        related_type="cancellation", related_id=request.id, context=context)
        return request


def delete_request(request_id: int, admin: Admin, *, reopen_invoices: bool = False) -> None:
    """Stop an open request; optionally revive the invoice lines it cancelled."""
    require(admin, MANAGE_CANCELLATIONS)
    with database.atomic():
        request = CancellationRequest.get_or_none(CancellationRequest.id == request_id)
        if request is None or request.status != "open":
            raise ValidationError("request", f"request #{request_id} is not open")
        CancellationRequest.update(status="deleted").where(CancellationRequest.id == request.id).execute()
        reopened = []
        if reopen_invoices:
            line_ids = json.loads(request.cancelled_line_ids or "[]")
            by_invoice = {}
            for line in InvoiceLine.select().where(InvoiceLine.id.in_(line_ids)):
                by_invoice.setdefault(line.invoice_id, []).append(line.id)
            for invoice_id, ids in sorted(by_invoice.items()):
                reopen_lines(invoice_id, ids, admin)
                reopened.append(invoice_id)
        audit.record(admin.login, "cancellation.delete", "service", request.service_id,
                     description=f"request #{request.id} deleted",
                     after={"reopened_invoices": reopened})


def due_requests(today: pendulum.Date, *, after_id: int = 0, limit: int = 500) -> list[CancellationRequest]:
    """Open requests to process today: immediate ones, and end-of-period ones whose NDD came."""
    return list(CancellationRequest.select(CancellationRequest, Service).join(Service)
                .where((CancellationRequest.status == "open") & (CancellationRequest.id > after_id)
                       & ((CancellationRequest.type == "immediate")
                          | Service.next_due_date.is_null()
                          | (Service.next_due_date <= today)))
                .order_by(CancellationRequest.id).limit(limit))


def open_request(request_id: int) -> CancellationRequest:
    """The request if it is open; ValidationError otherwise."""
    request = CancellationRequest.get_or_none(CancellationRequest.id == request_id)
    if request is None or request.status != "open":
        raise ValidationError("request", f"request #{request_id} is not open")
    return request


def process_date_of(request_type: str, next_due_date) -> pendulum.Date | None:
    """When the daily run acts on a request of this type (None: at the next run)."""
    return None if request_type == "immediate" else next_due_date


def process_date(request: CancellationRequest) -> pendulum.Date | None:
    """When the daily run will act on a request (None: at the next run)."""
    return process_date_of(request.type, request.service.next_due_date)


def _end_service(service: Service, status: str, today: pendulum.Date, admin: Admin,
                 action: str, description: str) -> None:
    before = {"status": service.status, "termination_date": service.termination_date}
    Service.update(status=status, termination_date=today, version=Service.version + 1).where(
        Service.id == service.id).execute()
    ServiceAddon.update(status=ServiceStatus.CANCELLED, termination_date=today,
                        version=ServiceAddon.version + 1).where(
        (ServiceAddon.service == service.id)
        & ServiceAddon.status.not_in((ServiceStatus.CANCELLED, ServiceStatus.TERMINATED))).execute()
    audit.record(admin.login, action, "service", service.id, client_id=service.client_id,
                 description=description, before=before,
                 after={"status": status, "termination_date": today})


def complete_request(request_id: int, today: pendulum.Date, admin: Admin) -> None:
    """After the module's Terminate succeeded (or the product has no module): service cancelled."""
    with database.atomic():
        request = CancellationRequest.get_by_id(request_id)
        if request.status != "open":
            return
        service = Service.get_by_id(request.service_id)
        _end_service(service, ServiceStatus.CANCELLED, today, admin, "cancellation.complete",
                     f"cancellation request #{request.id} processed")
        CancellationRequest.update(status="completed", completed_at=pendulum.now("UTC")).where(
            CancellationRequest.id == request.id).execute()


# --- admin auto-terminate at end of cycle, fixed term --------------------------------------


def set_auto_terminate(service_id: int, enabled: bool, reason: str, admin: Admin) -> Service:
    """The service-page tick: cancels unpaid lines and stops renewals; terminates at the NDD."""
    require(admin, EDIT_SERVICES)
    reason = clean_text(reason, "auto_terminate_reason", max_length=500)
    with database.atomic():
        service = _service_or_error(service_id)
        Service.update(auto_terminate_end_of_cycle=enabled, auto_terminate_reason=reason,
                       version=Service.version + 1).where(Service.id == service.id).execute()
        cancelled = _cancel_unpaid_lines(service, admin, "auto-terminate at end of cycle") \
            if enabled else []
        audit.record(admin.login, "service.auto_terminate", "service", service.id,
                     client_id=service.client_id,
                     before={"auto_terminate_end_of_cycle": service.auto_terminate_end_of_cycle},
                     after={"auto_terminate_end_of_cycle": enabled, "reason": reason,
                            "cancelled_lines": cancelled})
        return Service.get_by_id(service.id)


def due_auto_terminations(today: pendulum.Date, *, after_id: int = 0, limit: int = 500) -> list[Service]:
    return list(Service.select().where(
        (Service.auto_terminate_end_of_cycle == True)  # noqa: E712
        & Service.status.in_((ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED))
        & (Service.next_due_date.is_null() | (Service.next_due_date <= today))
        & (Service.id > after_id)).order_by(Service.id).limit(limit))


def due_fixed_term(today: pendulum.Date, *, after_id: int = 0, limit: int = 500) -> list[Service]:
    """Services of fixed-term products whose term (registration + auto_terminate_days) is over.

    One condition per fixed-term product (there are few), so the database compares each
    service's registration date with that product's cut-off through the product index."""
    ended = [(Service.product == product_id) & (Service.registration_date
                                                <= today.subtract(days=days))
             for product_id, days in Product.select(Product.id, Product.auto_terminate_days)
             .where(Product.auto_terminate_days > 0).tuples()]
    if not ended:
        return []
    return list(Service.select(Service, Product).join(Product)
                .where(reduce(operator.or_, ended)
                       & Service.status.in_((ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED))
                       & (Service.id > after_id))
                .order_by(Service.id).limit(limit))
