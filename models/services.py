"""The service page's rules (rules §6): editing, moving, deleting, addons, resending the welcome.

A save is one transaction guarded by the version the admin opened: if another admin saved
since, nothing is written and `StaleRecordError` says so. Every field arrives as typed text
and is parsed here, all problems reported at once.
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal

import pendulum

from hostdesk.models import addon_billing, audit, pricing, promotions, secrets
from hostdesk.models.clock import Clock
from hostdesk.models.cycles import Cycle, parse_cycle
from hostdesk.models.db import database
from hostdesk.models.emails import queue_email
from hostdesk.models.errors import ConfirmationNeeded, StaleRecordError, ValidationError, ValidationErrors
from hostdesk.models.invoicing import (
    cancel_lines,
    create_invoice,
    future_unpaid_lines,
    unpaid_lines_of_service,
)
from hostdesk.models.orders import check_quantity_allowed
from hostdesk.models.parsing import (
    clean_text,
    parse_amount,
    parse_date,
    parse_int_id,
    parse_optional_date,
    parse_override_until,
    parse_quantity,
)
from hostdesk.models.payment_methods import check_method
from hostdesk.models.permissions import DELETE_SERVICES, EDIT_SERVICES, require
from hostdesk.models.renewals import check_next_due_date_change
from hostdesk.models.schema import (
    Admin,
    CatalogAddon,
    Client,
    ClientStatus,
    ItemType,
    Product,
    Promotion,
    Server,
    Service,
    ServiceAddon,
    ServiceConfigOption,
    ServiceStatus,
)

TEXT_FIELDS = {  # field -> max length
    "domain": 253, "dedicated_ip": 45, "username": 100, "subscription_id": 100,
    "suspension_reason": 500, "auto_terminate_reason": 500, "admin_notes": 20000,
    "payment_method": 50,
}


@dataclass
class ServiceEdit:
    """The parsed changes of a service-page save (only the fields the admin touched)."""

    values: dict
    password: str | None = None  # new clear-text password, encrypted on save


def parse_service_form(form: dict[str, str]) -> ServiceEdit:
    """Parse the typed fields of the service page; every bad field is reported together."""
    values, errors = {}, []

    def take(name, parser):
        if name not in form:
            return
        try:
            values[name] = parser(form[name])
        except ValidationError as exc:
            errors.append(exc)

    for name, length in TEXT_FIELDS.items():
        take(name, lambda text, n=name, ln=length: clean_text(text, n, ln))
    take("status", lambda t: _choice(t, "status", ServiceStatus.ALL))
    take("registration_date", lambda t: parse_date(t, "registration_date"))
    take("next_due_date", lambda t: parse_optional_date(t, "next_due_date"))
    take("quantity", lambda t: parse_quantity(t, "quantity", max_value=100000))
    take("first_payment_amount", lambda t: parse_amount(t, "first_payment_amount"))
    take("recurring_amount", lambda t: parse_amount(t, "recurring_amount"))
    take("billing_cycle", lambda t: parse_cycle(t, "billing_cycle").value)
    take("product", lambda t: _existing(Product, t, "product"))
    take("server", lambda t: _existing(Server, t, "server", optional=True))
    take("promotion", lambda t: _promotion_id(t))
    take("override_suspend_until", lambda t: parse_override_until(t, "override_suspend_until"))
    take("auto_terminate_end_of_cycle", lambda t: _flag(t, "auto_terminate_end_of_cycle"))
    password = None
    if form.get("password"):
        try:
            password = clean_text(form["password"], "password", 128)
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise ValidationErrors(errors)
    if "override_suspend_until" in values:
        kind, until = values.pop("override_suspend_until")
        values["override_suspend"] = kind != "clear"
        values["override_suspend_until"] = until if kind == "date" else None
    return ServiceEdit(values, password)


def _choice(text: str, field: str, allowed) -> str:
    value = clean_text(text, field, 20).lower()
    if value not in allowed:
        raise ValidationError(field, f"'{value}' is not one of {', '.join(allowed)}")
    return value


def _flag(text: str, field: str) -> bool:
    value = (text or "").strip().lower()
    if value in ("1", "true", "yes", "y", "on"):
        return True
    if value in ("", "0", "false", "no", "n", "off"):
        return False
    raise ValidationError(field, f"'{text}' is not yes or no")


def _existing(model, text: str, field: str, optional: bool = False):
    if optional and not (text or "").strip():
        return None
    record_id = parse_int_id(text, field)
    if not model.select().where(model.id == record_id).exists():
        raise ValidationError(field, f"there is no {field} #{record_id}")
    return record_id


def _promotion_id(text: str):
    promotion = promotions.find_promotion(text, "promotion")
    return promotion.id if promotion else None


# --- saving the page ----------------------------------------------------------------------

FAR_NDD_CYCLES = 3  # an NDD further than this many cycles from today asks for confirmation
ENDED_BY_HAND = (ServiceStatus.CANCELLED, ServiceStatus.TERMINATED, ServiceStatus.FRAUD)
_LIVE_ADDON_STATUSES = (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)


@dataclass
class SavedService:
    """What a service-page save wrote, for the page to say."""

    service: Service
    ended_by_hand: bool = False  # the status was set to cancelled, terminated or fraud
    ended_addons: list[int] = field(default_factory=list)
    cancelled_lines: list[tuple[int, int, str]] = field(default_factory=list)  # (line, invoice, text)


def _final(service: Service, values: dict, name: str, attribute: str | None = None):
    return values[name] if name in values else getattr(service, attribute or name)


def _check_next_due_date(service: Service, values: dict, today: pendulum.Date,
                         confirm_far_ndd: bool) -> None:
    """Rules §2/§4: an active or suspended service on a recurring cycle must have an NDD (or
    it is never billed again), never before its registration; one far from today is asked."""
    if not {"next_due_date", "status", "billing_cycle", "registration_date"} & set(values):
        return
    ndd = _final(service, values, "next_due_date")
    cycle = Cycle(_final(service, values, "billing_cycle"))
    status = _final(service, values, "status")
    if ndd is None:
        if cycle.is_recurring and status in ServiceStatus.BILLABLE:
            raise ValidationError("next_due_date", f"an {status} service on a {cycle.label} cycle "
                                                   "needs a next due date, or it is never billed "
                                                   "again")
        return
    registered = _final(service, values, "registration_date")
    if registered is not None and ndd < registered:
        raise ValidationError("next_due_date", f"{ndd.isoformat()} is before the registration "
                                               f"date {registered.isoformat()}")
    if "next_due_date" not in values or ndd == service.next_due_date or not cycle.is_recurring:
        return
    months = cycle.months * FAR_NDD_CYCLES
    if not confirm_far_ndd and not today.subtract(months=months) <= ndd <= today.add(months=months):
        raise ConfirmationNeeded("next_due_date", f"{ndd.isoformat()} is more than "
                                                  f"{FAR_NDD_CYCLES} {cycle.label} cycles from "
                                                  f"today ({today.isoformat()}); the daily run "
                                                  "bills from that date")


def _check_promotion_and_quantity(service: Service, values: dict, today: pendulum.Date) -> None:
    """The order form's checks (rules §9), on the service page too: a new promotion must be
    valid today, have uses left and cover the product and cycle; a quantity above 1 needs a
    product that allows quantities."""
    product = Product.get_by_id(_final(service, values, "product", "product_id"))
    if ("quantity" in values and values["quantity"] != service.quantity) or "product" in values:
        check_quantity_allowed(product, _final(service, values, "quantity"), "quantity")
    promotion_id = values.get("promotion")
    if promotion_id and promotion_id != service.promotion_id:
        promotion = Promotion.get_by_id(promotion_id)
        promotions.validate_promo(promotion.code, product, _final(service, values, "billing_cycle"),
                                  today, field="promotion")
        promotions.claim_use(promotion, field="promotion")
        values["promotion_uses"] = 0  # the new code's renewals start from none used


def _recalculated_amount(service: Service, values: dict) -> Decimal:
    product = Product.get_by_id(values.get("product", service.product_id))
    promotion_id = values.get("promotion", service.promotion_id)
    promotion = Promotion.get_by_id(promotion_id) if promotion_id else None
    return pricing.service_recurring_price(
        service, product, values.get("billing_cycle", service.billing_cycle), None, promotion,
        renewals_used=values.get("promotion_uses"), cycle_field="billing_cycle").total


def _end_by_hand(service: Service, status: str, today: pendulum.Date, admin: Admin,
                 saved: SavedService) -> None:
    """Rules §6 for a status set by hand to cancelled, terminated or fraud: the addons follow
    (termination date = today), unpaid lines for periods not yet started are cancelled. The
    module is not called: the server account is as it was."""
    addons = list(ServiceAddon.select().where((ServiceAddon.service == service.id)
                                              & ServiceAddon.status.in_(_LIVE_ADDON_STATUSES)))
    if addons:
        ServiceAddon.update(status=status, termination_date=today,
                            version=ServiceAddon.version + 1).where(
            ServiceAddon.id.in_([a.id for a in addons])).execute()
        for addon in addons:
            audit.record(admin.login, "addon.status", "addon", addon.id, client_id=service.client_id,
                         description=f"{status} with its service #{service.id} (set by hand)",
                         before={"status": addon.status, "termination_date": addon.termination_date},
                         after={"status": status, "termination_date": today})
    saved.ended_by_hand = True
    saved.ended_addons = [a.id for a in addons]
    items = [(ItemType.SERVICE, service.id)] + [(ItemType.ADDON, a.id) for a in addons]
    lines = future_unpaid_lines(items, today)
    cancel_lines([line.id for line in lines], admin,
                 f"service #{service.id} set to {status} by hand")
    saved.cancelled_lines = [(line.id, line.invoice_id, line.description) for line in lines]
    audit.record(admin.login, "service.ended_by_hand", "service", service.id,
                 client_id=service.client_id,
                 description=f"status set to {status} by hand: {len(addons)} addon(s) followed, "
                             f"{len(lines)} unpaid line(s) for periods not yet started cancelled; "
                             "the module was not called",
                 after={"addons": saved.ended_addons,
                        "cancelled_lines": [line.id for line in lines],
                        "termination_date": today})


def save_service(service_id: int, expected_version: int, edit: ServiceEdit, admin: Admin, *,
                 clock: Clock, auto_recalculate: bool = False,
                 confirm_far_ndd: bool = False) -> SavedService:
    """Write the service page in one transaction, refusing a stale save.

    An NDD far from today raises `ConfirmationNeeded` unless `confirm_far_ndd`.
    """
    require(admin, EDIT_SERVICES)
    today = clock.today()
    with database.atomic():
        service = Service.get_or_none(Service.id == service_id)
        if service is None:
            raise ValidationError("service", f"service #{service_id} does not exist")
        values = dict(edit.values)
        if "payment_method" in values:  # from the managed list; the current one stays valid
            values["payment_method"] = check_method(values["payment_method"], "payment_method",
                                                    allow=service.payment_method)
        if values.get("billing_cycle") == Cycle.FREE.value:
            values["next_due_date"] = None
        _check_next_due_date(service, values, today, confirm_far_ndd)
        if values.get("next_due_date") and values["next_due_date"] != service.next_due_date:
            check_next_due_date_change(ItemType.SERVICE, service, values["next_due_date"])
        _check_promotion_and_quantity(service, values, today)
        if values.get("next_due_date") and values["next_due_date"] != service.next_due_date:
            values["anchor_day"] = values["next_due_date"].day  # the admin set a new anchor
        if auto_recalculate:
            values["recurring_amount"] = _recalculated_amount(service, values)
        status = values.get("status", service.status)
        ending = status in ENDED_BY_HAND and service.status != status
        if ending and service.termination_date is None:
            values["termination_date"] = today
        before = audit.snapshot(service, values)
        if edit.password is not None:
            values["password"] = secrets.encrypt(edit.password)
        updated = (Service.update(**values, version=Service.version + 1, updated_at=clock.now())
                   .where((Service.id == service_id) & (Service.version == expected_version))
                   .execute())
        if updated != 1:
            raise StaleRecordError(f"service #{service_id} was changed by someone else since you "
                                   "opened it; nothing was saved — reload to see their changes")
        fresh = Service.get_by_id(service_id)
        after = audit.snapshot(fresh, values)
        changed_before, changed_after = audit.changed(before, after)
        if edit.password is not None:
            # Never the value, not even encrypted: only that it changed.
            changed_before["password"] = audit.REDACTED if service.password else ""
            changed_after["password"] = "changed"
        audit.record(admin.login, "service.edit", "service", service_id, client_id=fresh.client_id,
                     description=f"edited {', '.join(sorted(changed_after)) or 'nothing'}",
                     before=changed_before, after=changed_after)
        saved = SavedService(fresh)
        if ending:
            _end_by_hand(fresh, status, today, admin, saved)
        return saved


# --- move, delete, welcome ------------------------------------------------------------------


def move_service(service_id: int, target_client_id: int, admin: Admin, *,
                 cancel_old_unpaid: bool = False) -> Service:
    """Give the service (and its addons) to another client; invoices stay with the old one."""
    require(admin, EDIT_SERVICES)
    with database.atomic():
        service = Service.get_or_none(Service.id == service_id)
        if service is None:
            raise ValidationError("service", f"service #{service_id} does not exist")
        target = Client.get_or_none(Client.id == target_client_id)
        if target is None:
            raise ValidationError("client", f"there is no client #{target_client_id}")
        if target.id == service.client_id:
            raise ValidationError("client", "the service already belongs to this client")
        if target.status == ClientStatus.CLOSED:
            raise ValidationError("client", f"client #{target.id} is closed")
        cancelled = []
        if cancel_old_unpaid:
            cancelled = cancel_lines(unpaid_lines_of_service(service.id), admin,
                                     f"service #{service.id} moved")
        Service.update(client=target.id, version=Service.version + 1).where(
            Service.id == service.id).execute()
        audit.record(admin.login, "service.move", "service", service.id, client_id=target.id,
                     description=f"moved from client #{service.client_id} to #{target.id}",
                     before={"client": service.client_id},
                     after={"client": target.id, "cancelled_lines": cancelled})
        return Service.get_by_id(service.id)


def delete_service(service_id: int, admin: Admin) -> dict:
    """Delete the record only (the module is never called); the full record goes to the log."""
    require(admin, DELETE_SERVICES)
    with database.atomic():
        service = Service.get_or_none(Service.id == service_id)
        if service is None:
            raise ValidationError("service", f"service #{service_id} does not exist")
        snapshot = {
            "service": audit.snapshot(service),
            "addons": [audit.snapshot(a) for a in ServiceAddon.select().where(ServiceAddon.service == service.id)],
            "config_options": [audit.snapshot(o) for o in ServiceConfigOption.select().where(
                ServiceConfigOption.service == service.id)],
        }
        # The password is kept encrypted in the log, so the record can be restored by hand.
        snapshot["service"]["password"] = service.password
        Service.delete().where(Service.id == service.id).execute()
        audit.record(admin.login, "service.delete", "service", service.id,
                     client_id=service.client_id,
                     description=f"deleted service #{service.id} ({service.domain or 'no domain'}); "
                                 "the server account was not touched",
                     before=snapshot)
        return snapshot


def resend_welcome(service_id: int, admin: Admin, *, company_name: str = "") -> str:
    """Queue the product's welcome email again; returns the address it goes to."""
    require(admin, EDIT_SERVICES)
    with database.atomic():
        service = Service.get_by_id(service_id)
        product = Product.get_by_id(service.product_id)
        client = Client.get_by_id(service.client_id)
        template = product.welcome_email or f"welcome_{product.type}"
        context = {"client": client, "service": service, "product": product,
                   "company_name": company_name,
                   "password": secrets.decrypt(service.password) if service.password else ""}
        queue_email(template, to=client.email, client_id=client.id, related_type="service",
                    related_id=service.id, context=context)
        audit.record(admin.login, "service.resend_welcome", "service", service.id,
                     client_id=client.id, description=f"welcome email '{template}' queued again")
        return client.email


# --- addons ---------------------------------------------------------------------------------


def add_addon(service_id: int, admin: Admin, today: pendulum.Date, *,
              catalog_addon_id: int | None = None, name: str = "", price: str = "",
              cycle: str = "", generate_invoice: bool = True) -> ServiceAddon:
    """Add a predefined (catalog price and cycle) or custom addon; invoice it unless unticked."""
    require(admin, EDIT_SERVICES)
    with database.atomic():
        service = Service.get_by_id(service_id)
        setup_fee = Decimal("0.00")
        if catalog_addon_id:
            catalog = CatalogAddon.get_or_none(CatalogAddon.id == catalog_addon_id)
            if catalog is None:
                raise ValidationError("addon", f"there is no catalog addon #{catalog_addon_id}")
            chosen = pricing.catalog_addon_price(catalog, parse_cycle(cycle, "cycle") if cycle else None,
                                                 exact=bool(cycle), field="cycle")
            name, amount, cycle_value, setup_fee = catalog.name, chosen.price, chosen.cycle, chosen.setup_fee
        else:
            name = clean_text(name, "name", 200, required=True)
            amount = parse_amount(price, "price")
            cycle_value = parse_cycle(cycle, "cycle").value
        recurring = Cycle(cycle_value).is_recurring
        ndd = today if recurring or cycle_value == Cycle.ONE_TIME.value else None
        addon = ServiceAddon.create(service=service.id, catalog_addon=catalog_addon_id or None,
                                    name=name, setup_fee=setup_fee, recurring_amount=amount,
                                    billing_cycle=cycle_value, status=ServiceStatus.ACTIVE,
                                    registration_date=today, next_due_date=ndd,
                                    anchor_day=today.day)
        invoice_id = None
        specs = addon_billing.first_invoice_lines(addon, today) if generate_invoice else []
        if specs:
            invoice_id = create_invoice(service.client_id, specs, date=today, due_date=today,
                                        payment_method=service.payment_method,
                                        admin=admin).id
        audit.record(admin.login, "addon.add", "addon", addon.id, client_id=service.client_id,
                     description=f"addon {name} added to service #{service.id}",
                     after={**audit.snapshot(addon), "invoice": invoice_id})
        return addon


def edit_addon(addon_id: int, expected_version: int, form: dict[str, str], admin: Admin) -> ServiceAddon:
    require(admin, EDIT_SERVICES)
    values, errors = {}, []
    parsers = {
        "name": lambda t: clean_text(t, "name", 200, required=True),
        "recurring_amount": lambda t: parse_amount(t, "recurring_amount"),
        "billing_cycle": lambda t: parse_cycle(t, "billing_cycle").value,
        "status": lambda t: _choice(t, "status", ServiceStatus.ALL),
        "next_due_date": lambda t: parse_optional_date(t, "next_due_date"),
        "termination_date": lambda t: parse_optional_date(t, "termination_date"),
        "notes": lambda t: clean_text(t, "notes", 5000),
    }
    for name, text in form.items():
        if name not in parsers:
            errors.append(ValidationError(name, "is not an addon field"))
            continue
        try:
            values[name] = parsers[name](text)
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise ValidationErrors(errors)
    with database.atomic():
        addon = ServiceAddon.get_by_id(addon_id)
        if "next_due_date" in values:
            check_next_due_date_change(ItemType.ADDON, addon, values.get("next_due_date"))
        status = values.get("status", addon.status)
        if "termination_date" in values and values["termination_date"] != addon.termination_date \
                and status not in (ServiceStatus.TERMINATED, ServiceStatus.CANCELLED):
            raise ValidationError("termination_date", "can be edited only while the addon is "
                                                      "terminated or cancelled")
        before = audit.snapshot(addon, values)
        updated = (ServiceAddon.update(**values, version=ServiceAddon.version + 1)
                   .where((ServiceAddon.id == addon_id) & (ServiceAddon.version == expected_version))
                   .execute())
        if updated != 1:
            raise StaleRecordError(f"addon #{addon_id} was changed by someone else; nothing was saved")
        fresh = ServiceAddon.get_by_id(addon_id)
        audit.record(admin.login, "addon.edit", "addon", addon_id, before=before,
                     after=audit.snapshot(fresh, values))
        return fresh


def delete_addon(addon_id: int, admin: Admin) -> None:
    require(admin, DELETE_SERVICES)
    with database.atomic():
        addon = ServiceAddon.get_or_none(ServiceAddon.id == addon_id)
        if addon is None:
            raise ValidationError("addon", f"addon #{addon_id} does not exist")
        ServiceAddon.delete().where(ServiceAddon.id == addon_id).execute()
        audit.record(admin.login, "addon.delete", "addon", addon_id, before=audit.snapshot(addon),
                     description=f"addon {addon.name} deleted from service #{addon.service_id}")


def deleted_service_snapshot(service_id: int) -> dict | None:
    """The record a deletion kept in the activity log (to restore it by hand)."""
    from hostdesk.models.schema import ActivityLog

    row = (ActivityLog.select().where((ActivityLog.object_type == "service")
                                      & (ActivityLog.object_id == service_id)
                                      & (ActivityLog.action == "service.delete"))
           .order_by(ActivityLog.id.desc()).first())
    return json.loads(row.before) if row else None

