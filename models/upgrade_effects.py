"""What happens to an upgrade when its invoice is paid, cancelled or reopened (rules §7).

`models.invoicing` calls these inside its own transactions (paying a line applies the
upgrade once; cancelling the last line cancels it; reopening the invoice reinstates it).
They live apart from the quote and the order (`models.upgrades`, which needs invoicing to
write the invoice) so that invoicing and upgrades do not import each other.
"""

from __future__ import annotations

import json

import pendulum

from hostdesk.models import audit, emails
from hostdesk.models.credit import credit_client
from hostdesk.models.cycles import Cycle
from hostdesk.models.db import database, is_postgres
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.modulequeue import queue_module_job
from hostdesk.models.schema import (
    Admin,
    Client,
    InvoiceLine,
    ItemType,
    LineKind,
    Order,
    Product,
    Service,
    ServiceConfigOption,
    Upgrade,
)
from hostdesk.models.settings import Settings

PENDING, APPLIED, CANCELLED = "pending", "applied", "cancelled"
DEFAULT_UPGRADE_EMAIL = "upgrade_confirmation"


def load_service(service_id: int, *, lock: bool = False) -> Service:
    query = Service.select().where(Service.id == service_id)
    if lock and is_postgres():
        query = query.for_update()
    service = query.first()
    if service is None:
        raise ValidationError("service", f"there is no service #{service_id}")
    return service


def pending_upgrade(service_id: int) -> Upgrade | None:
    return Upgrade.get_or_none((Upgrade.service == service_id) & (Upgrade.status == PENDING))


def _upgrade_lines(upgrade_id: int, service_id: int):
    """The upgrade lines of an upgrade (found through the item index of invoice lines)."""
    return (InvoiceLine.select()
            .where((InvoiceLine.item_type == ItemType.SERVICE) & (InvoiceLine.item_id == service_id)
                   & (InvoiceLine.kind == LineKind.UPGRADE) & (InvoiceLine.upgrade == upgrade_id)))


def is_live(upgrade: Upgrade) -> bool:
    """A pending upgrade still waits for payment unless every line of it was cancelled."""
    return any(not line.cancelled for line in _upgrade_lines(upgrade.id, upgrade.service_id))


# --- payment: applying the upgrade ---------------------------------------------------------------


def apply_upgrade(upgrade_id: int, admin: Admin, settings: Settings | None = None) -> bool:
    """The upgrade invoice was paid (called by `models.invoicing` in the payment's transaction):
    product, cycle, recurring amount and options change, Change Package is queued for the
    module, the product's upgrade email is queued, a downgrade's credit is given. Runs once:
    returns False when the upgrade was already applied (or superseded)."""
    with database.atomic():
        upgrade = Upgrade.get_or_none(Upgrade.id == upgrade_id)
        if upgrade is None or upgrade.status == APPLIED:
            return False
        if upgrade.status == CANCELLED and _superseded(upgrade):
            audit.record(admin.login, "upgrade.not_applied", "service", upgrade.service_id,
                         description=f"upgrade #{upgrade.id} was paid after it had been cancelled "
                                     "and a later upgrade was made; the service is left as is "
                                     "(refund or credit the payment by hand)")
            return False
        claimed = (Upgrade.update(status=APPLIED, applied_at=pendulum.now("UTC"))
                   .where((Upgrade.id == upgrade.id) & (Upgrade.status != APPLIED)).execute())
        if claimed != 1:
            return False
        service = load_service(upgrade.service_id, lock=True)
        before = audit.snapshot(service, _CHANGED_FIELDS)
        changes = _service_changes(upgrade, service)
        Service.update(**changes, version=Service.version + 1,
                       updated_at=pendulum.now("UTC")).where(Service.id == service.id).execute()
        _apply_options(service.id, upgrade)
        fresh = Service.get_by_id(service.id)
        if upgrade.order_id:
            Order.update(status="active", version=Order.version + 1).where(
                Order.id == upgrade.order_id).execute()
        audit.record(admin.login, "service.upgrade", "service", service.id,
                     client_id=service.client_id,
                     description=f"upgrade #{upgrade.id} paid and applied",
                     before=before, after=audit.snapshot(fresh, _CHANGED_FIELDS))
        if upgrade.payable < 0:
            line = _upgrade_lines(upgrade.id, service.id).first()
            credit_client(service.client_id, -upgrade.payable,
                                    f"Downgrade of service #{service.id} (upgrade #{upgrade.id})",
                                    admin, invoice_id=line.invoice_id if line else None)
        queue_module_job(service.id, "change_package", source="upgrade")
        _queue_upgrade_email(fresh, upgrade, admin, settings)
        return True


_CHANGED_FIELDS = ("product", "billing_cycle", "recurring_amount", "next_due_date", "anchor_day")


def _superseded(upgrade: Upgrade) -> bool:
    return Upgrade.select().where((Upgrade.service == upgrade.service_id)
                                  & (Upgrade.id > upgrade.id)
                                  & (Upgrade.status != CANCELLED)).exists()


def _service_changes(upgrade: Upgrade, service: Service) -> dict:
    changes = {"product": upgrade.new_product_id, "billing_cycle": upgrade.new_cycle,
               "recurring_amount": upgrade.new_amount}
    if upgrade.new_cycle == Cycle.FREE.value:
        changes["next_due_date"] = None  # a free service has no NDD
    elif upgrade.old_cycle == Cycle.FREE.value:
        line = _upgrade_lines(upgrade.id, service.id).first()
        if line is not None and line.period_end is not None:
            # From free: a new cycle starts on the upgrade day (rules §7).
            changes["next_due_date"] = line.period_end
            changes["anchor_day"] = line.period_start.day
    return changes


def _apply_options(service_id: int, upgrade: Upgrade) -> None:
    # Only applying an upgrade reads options: a payment or a cancellation (invoicing imports
    # this module) does not load the pricing rules for it.
    from hostdesk.models.pricing import OptionChoice

    stored = {int(k): OptionChoice.from_json(v)
              for k, v in json.loads(upgrade.config_changes or "{}").items()}
    if upgrade.new_product_id != upgrade.old_product_id:
        # The old product's options do not exist on the new product.
        ServiceConfigOption.delete().where(
            (ServiceConfigOption.service == service_id)
            & ServiceConfigOption.option.not_in(list(stored) or [0])).execute()
    for option_id, chosen in stored.items():
        updated = (ServiceConfigOption.update(choice=chosen.choice_id, quantity=chosen.quantity)
                   .where((ServiceConfigOption.service == service_id)
                          & (ServiceConfigOption.option == option_id)).execute())
        if not updated:
            ServiceConfigOption.create(service=service_id, option=option_id,
                                       choice=chosen.choice_id, quantity=chosen.quantity)


def _queue_upgrade_email(service: Service, upgrade: Upgrade, admin: Admin,
                         settings: Settings | None) -> None:
    """Queue the product's upgrade email; a missing or broken template is logged and never
    undoes the payment."""
    from jinja2.exceptions import TemplateError  # rendering the email loads Jinja2 anyway

    product = Product.get_by_id(upgrade.new_product_id)
    template = product.upgrade_email or DEFAULT_UPGRADE_EMAIL
    client = Client.get_by_id(service.client_id)
    if settings is not None:
        context = emails.email_context(settings, client=client, service=service, upgrade=upgrade)
    else:
        context = {"company_name": "", "client": client, "service": service, "upgrade": upgrade}
    try:
        with database.atomic():
            emails.queue_email(template, to=client.email, context=context, client_id=client.id,
                               related_type="service", related_id=service.id)
    except (KeyError, TemplateError, ValidationError) as exc:
        audit.record(admin.login, "email.not_queued", "service", service.id,
                     client_id=service.client_id,
                     description=f"upgrade email '{template}' not queued: {exc}")


# --- cancelling ---------------------------------------------------------------------------------


def set_cancelled(upgrade: Upgrade, admin: Admin, why: str) -> None:
    Upgrade.update(status=CANCELLED).where(Upgrade.id == upgrade.id).execute()
    if upgrade.order_id:
        Order.update(status="cancelled", version=Order.version + 1).where(
            (Order.id == upgrade.order_id) & (Order.status == "pending")).execute()
    audit.record(admin.login, "upgrade.cancel", "service", upgrade.service_id,
                 description=f"upgrade #{upgrade.id} cancelled: {why}",
                 before={"status": upgrade.status}, after={"status": CANCELLED})


def cancel_upgrade(upgrade_id: int, admin: Admin) -> Upgrade:
    """Cancel a pending upgrade (its invoice was cancelled): the service never changes."""
    with database.atomic():
        upgrade = Upgrade.get_or_none(Upgrade.id == upgrade_id)
        if upgrade is None:
            raise ValidationError("upgrade", f"there is no upgrade #{upgrade_id}")
        if upgrade.status == APPLIED:
            raise ValidationError("upgrade", f"upgrade #{upgrade_id} was paid and applied; "
                                             "change the service back with a new downgrade")
        if upgrade.status == PENDING:
            set_cancelled(upgrade, admin, "cancelled by an admin")
        return Upgrade.get_by_id(upgrade_id)


def cancel_upgrades_of_invoice(invoice_id: int, admin: Admin) -> list[int]:
    """After lines of an invoice were cancelled: cancel each pending upgrade it bills whose
    upgrade lines are all cancelled now. Idempotent; returns the upgrades cancelled."""
    cancelled = []
    with database.atomic():
        for upgrade in Upgrade.select().where((Upgrade.invoice == invoice_id)
                                              & (Upgrade.status == PENDING)):
            if not is_live(upgrade):
                set_cancelled(upgrade, admin, f"invoice #{invoice_id} was cancelled")
                cancelled.append(upgrade.id)
    return cancelled


def reinstate_upgrades_of_invoice(invoice_id: int, admin: Admin) -> list[int]:
    """After a cancelled invoice was marked unpaid again: its cancelled upgrades wait for
    payment again. Refused (RuleViolation) when the service has another pending upgrade."""
    reinstated = []
    with database.atomic():
        for upgrade in Upgrade.select().where((Upgrade.invoice == invoice_id)
                                              & (Upgrade.status == CANCELLED)):
            if not is_live(upgrade):
                continue
            other = pending_upgrade(upgrade.service_id)
            if other is not None or _superseded(upgrade):
                raise RuleViolation(f"invoice #{invoice_id} bills upgrade #{upgrade.id}, which a "
                                    f"later upgrade of service #{upgrade.service_id} replaced; "
                                    "it cannot be reopened")
            Upgrade.update(status=PENDING).where(Upgrade.id == upgrade.id).execute()
            if upgrade.order_id:
                Order.update(status="pending", version=Order.version + 1).where(
                    Order.id == upgrade.order_id).execute()
            audit.record(admin.login, "upgrade.reinstate", "service", upgrade.service_id,
                         description=f"upgrade #{upgrade.id} waits for payment again "
                                     f"(invoice #{invoice_id} reopened)",
                         before={"status": CANCELLED}, after={"status": PENDING})
            reinstated.append(upgrade.id)
    return reinstated


def upgrade_of_invoice(invoice_id: int) -> Upgrade | None:
    return Upgrade.select().where(Upgrade.invoice == invoice_id).order_by(Upgrade.id.desc()).first()
