"""What a module command changes on the service once the module said yes (rules §6, §8).

Which command applies to which status is decided here, once; the runner asks before it
calls a module and each state change checks it again inside its transaction, so a service
another admin changed in the meantime is never overwritten. Each change is one transaction:
the status, the activity log (before/after) and the email in the outbox.
"""

from dataclasses import dataclass

import pendulum
from peewee import JOIN

from hostdesk.models import audit, emails
from hostdesk.models.db import database
from hostdesk.models.errors import RuleViolation, StaleRecordError, ValidationError
from hostdesk.models.parsing import clean_text
from hostdesk.models.schema import (
    Admin,
    Client,
    Product,
    Server,
    Service,
    ServiceAddon,
    ServiceStatus,
)
from hostdesk.models.settings import Settings

CREATE = "create"
SUSPEND = "suspend"
UNSUSPEND = "unsuspend"
TERMINATE = "terminate"
CHANGE_PACKAGE = "change_package"
CHANGE_PASSWORD = "change_password"
RENEW = "renew"

COMMAND_LABELS = {
    CREATE: "Create",
    SUSPEND: "Suspend",
    UNSUSPEND: "Unsuspend",
    TERMINATE: "Terminate",
    CHANGE_PACKAGE: "Change Package",
    CHANGE_PASSWORD: "Change Password",
    RENEW: "Renew",
}

# Create also re-provisions a terminated or cancelled service (its account was removed);
# an active or suspended one already has an account.
ALLOWED_FROM = {
    CREATE: (ServiceStatus.PENDING, ServiceStatus.TERMINATED, ServiceStatus.CANCELLED),
    SUSPEND: (ServiceStatus.ACTIVE,),
    UNSUSPEND: (ServiceStatus.SUSPENDED,),
    TERMINATE: (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED),
    CHANGE_PACKAGE: (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED),
    CHANGE_PASSWORD: (ServiceStatus.ACTIVE,),
    RENEW: (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED),
}

NON_PAYMENT_REASON = "Overdue on payment"
SUSPENDED_EMAIL = "service_suspended"
UNSUSPENDED_EMAIL = "service_unsuspended"
TERMINATED_EMAIL = "service_terminated"
_LIVE_ADDON_STATUSES = (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)


def command_allowed(command: str, status: str) -> tuple[bool, str]:
    """Whether `command` applies to a service in `status`, and why not when it does not.

    Commands not listed (a module's custom commands) apply in every status: the module judges.
    """
    allowed = ALLOWED_FROM.get(command)
    if allowed is None or status in allowed:
        return True, ""
    label = COMMAND_LABELS.get(command, command)
    return False, f"{label} applies to {_or_list(allowed)} services; this one is {status}"


def suspension_reason(typed: str | None) -> str:
    """The reason to store: blank means non-payment (rules §5: unsuspended on payment)."""
    limit = Service.suspension_reason.max_length
    if len((typed or "").strip()) > limit:
        raise ValidationError("reason", f"is longer than {limit} characters")
    return clean_text(typed, "reason", limit) or NON_PAYMENT_REASON


def welcome_template(product: Product) -> str:
    return product.welcome_email or f"welcome_{product.type}"


@dataclass(frozen=True)
class _Email:
    settings: Settings
    template: str | None = None  # None: the product's welcome email
    password: str | None = None  # clear, for the welcome email only


def activate(service_id: int, admin: Admin, *, settings: Settings, password: str = "",
             send_email: bool = True) -> Service:
    """Create succeeded: the service is active, and the product's welcome email is queued
    (`password` is the service's password in clear, for that email). Addons ordered with it
    (pending like it) become active with it."""
    with database.atomic():
        service = _transition(
            service_id, CREATE, admin, action="service.activate",
            changes={"status": ServiceStatus.ACTIVE, "suspension_reason": "",
                     "termination_date": None},
            email=_Email(settings, password=password) if send_email else None,
        )
        pending = [a for (a,) in ServiceAddon.select(ServiceAddon.id).where(
            (ServiceAddon.service == service_id)
            & (ServiceAddon.status == ServiceStatus.PENDING)).tuples()]
        if pending:
            ServiceAddon.update(status=ServiceStatus.ACTIVE, version=ServiceAddon.version + 1).where(
                ServiceAddon.id.in_(pending)).execute()
            audit.record_many([
                {"admin_login": admin.login, "action": "addon.activate", "object_type": "addon",
                 "object_id": addon_id, "client_id": service.client_id,
                 "description": f"active with service #{service_id}",
                 "before": {"status": ServiceStatus.PENDING}, "after": {"status": ServiceStatus.ACTIVE}}
                for addon_id in pending])
    return service


def suspend(service_id: int, reason: str, admin: Admin, *, settings: Settings,
            send_email: bool = True) -> Service:
    """Suspend succeeded; a blank reason is stored as non-payment."""
    return _transition(
        service_id, SUSPEND, admin, action="service.suspend",
        changes={"status": ServiceStatus.SUSPENDED,
                 "suspension_reason": suspension_reason(reason)},
        email=_Email(settings, SUSPENDED_EMAIL) if send_email else None,
    )


def unsuspend(service_id: int, admin: Admin, *, settings: Settings,
              send_email: bool = True) -> Service:
    return _transition(
        service_id, UNSUSPEND, admin, action="service.unsuspend",
        changes={"status": ServiceStatus.ACTIVE, "suspension_reason": ""},
        email=_Email(settings, UNSUSPENDED_EMAIL) if send_email else None,
    )


def terminate(service_id: int, admin: Admin, *, today: pendulum.Date, settings: Settings,
              send_email: bool = True, email_template: str = TERMINATED_EMAIL) -> Service:
    """Terminate succeeded: terminated on `today`, its live addons cancelled with that date."""
    with database.atomic():
        service = _transition(
            service_id, TERMINATE, admin, action="service.terminate",
            changes={"status": ServiceStatus.TERMINATED, "termination_date": today},
            email=_Email(settings, email_template) if send_email else None,
        )
        _cancel_live_addons(service, today, admin)
    return service


def change_package(service_id: int, admin: Admin) -> Service:
    """Change Package succeeded: nothing changes here (the product was changed before); logged."""
    with database.atomic():
        service = _load_for(service_id, CHANGE_PACKAGE)
        audit.record(admin.login, "service.change_package", "service", service.id,
                     client_id=service.client_id,
                     description=f"package on the server is now {service.product.name}",
                     after=audit.snapshot(service, ("product", "billing_cycle",
                                                    "recurring_amount")))
    return service


def change_password(service_id: int, stored_password: str, admin: Admin) -> Service:
    """Change Password succeeded: keep the new password (already in its stored, encrypted form)."""
    return _transition(
        service_id, CHANGE_PASSWORD, admin, action="service.change_password",
        changes={"password": stored_password}, email=None,
    )


def _transition(service_id: int, command: str, admin: Admin, *, action: str,
                changes: dict, email: _Email | None) -> Service:
    with database.atomic():
        service = _load_for(service_id, command)
        before = audit.snapshot(service, changes)
        # The row as written comes back with the UPDATE (no second read of the service and
        # its joins: the daily run ends services this way by the hundred).
        updated = list(Service
                       .update(**changes, version=Service.version + 1,
                               updated_at=pendulum.now("UTC"))
                       .where(Service.id == service.id, Service.status == service.status)
                       .returning(Service)
                       .execute())
        if len(updated) != 1:
            raise StaleRecordError(f"service #{service.id} changed status while the command ran; "
                                   "reload it and check its status")
        fresh = updated[0]
        fresh.product, fresh.client = service.product, service.client  # an update keeps them
        if service.server_id is not None:
            fresh.server = service.server
        after = audit.snapshot(fresh, changes)
        audit.record(admin.login, action, "service", fresh.id, client_id=fresh.client_id,
                     description=f"{COMMAND_LABELS[command]} succeeded for service #{fresh.id}",
                     before=before, after=after)
        if email is not None:
            _queue_service_email(email, fresh, admin)
        return fresh


def load_service(service_id: int) -> Service:
    """The service with its product, client and server, read in one query: what a module
    command needs of it."""
    service = (Service.select(Service, Product, Client, Server)
               .join(Product).switch(Service).join(Client).switch(Service)
               .join(Server, JOIN.LEFT_OUTER)
               .where(Service.id == service_id).get_or_none())
    if service is None:
        raise ValidationError("service", f"there is no service #{service_id}")
    return service


def _load_for(service_id: int, command: str) -> Service:
    service = load_service(service_id)
    allowed, why = command_allowed(command, service.status)
    if not allowed:
        raise RuleViolation(f"service #{service_id}: {why}")
    return service


def _cancel_live_addons(service: Service, today: pendulum.Date, admin: Admin) -> None:
    addons = list(ServiceAddon
                  .select(ServiceAddon.id, ServiceAddon.status, ServiceAddon.termination_date)
                  .where(ServiceAddon.service == service.id,
                         ServiceAddon.status.in_(_LIVE_ADDON_STATUSES)))
    if not addons:
        return
    (ServiceAddon
     .update(status=ServiceStatus.CANCELLED, termination_date=today,
             version=ServiceAddon.version + 1)
     .where(ServiceAddon.id.in_([addon.id for addon in addons]))
     .execute())
    audit.record_many([
        {"admin_login": admin.login, "action": "addon.cancel", "object_type": "addon",
         "object_id": addon.id, "client_id": service.client_id,
         "description": f"cancelled with its service #{service.id} (terminated)",
         "before": {"status": addon.status, "termination_date": addon.termination_date},
         "after": {"status": ServiceStatus.CANCELLED, "termination_date": today},
         "at": pendulum.now("UTC")}
        for addon in addons
    ])


def _queue_service_email(email: _Email, service: Service, admin: Admin) -> None:
    """Queue the email; a missing or broken template is logged, never undoes the change.

    The module already acted on the server, so the status must record that even when the
    email cannot be written.
    """
    template = email.template or welcome_template(service.product)
    context = emails.email_context(email.settings, client=service.client, service=service)
    if email.password is not None:
        context["password"] = email.password
    try:
        with database.atomic():
            emails.queue_email(template, to=service.client.email, context=context,
                               client_id=service.client_id, related_type="service",
                               related_id=service.id)
    except (KeyError, ValidationError) as exc:
        audit.record(admin.login, "email.not_queued", "service", service.id,
                     client_id=service.client_id,
                     description=f"email '{template}' not queued: {exc}")


def _or_list(statuses) -> str:
    items = list(statuses)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
