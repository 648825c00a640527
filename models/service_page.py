"""The service page as one read and one save (rules §6): what the screen shows, and the
function its ctrl+s calls. The screen holds no query and no transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pendulum
from peewee import JOIN

from hostdesk.models import pricing, promotions, services
from hostdesk.models.catalog_addons import addon_choices
from hostdesk.models.cancellations import CANCELLABLE, process_date, set_auto_terminate
from hostdesk.models.clock import Clock
from hostdesk.models.cycles import Cycle
from hostdesk.models.db import database
from hostdesk.models.errors import StaleRecordError, ValidationError
from hostdesk.models.invoicing import unpaid_lines_of_service
from hostdesk.models.money import format_money
from hostdesk.models.orders import orderable_products, product_label
from hostdesk.models.payment_methods import enabled_methods
from hostdesk.models.permissions import EDIT_SERVICES, require
from hostdesk.models.prorata import create_prorata_invoices, plan_prorata
from hostdesk.models.schema import (
    Admin,
    CancellationRequest,
    Client,
    ConfigOption,
    ConfigOptionChoice,
    Domain,
    InvoiceLine,
    ItemType,
    Product,
    Promotion,
    Server,
    Service,
    ServiceAddon,
    ServiceConfigOption,
)
from hostdesk.models.settings import Settings


@dataclass
class ServiceView:
    """One service as its page shows it, read in one go."""

    service: Service
    product: Product
    client: Client
    promotion_code: str
    products: list[tuple[str, int]]
    servers: list[tuple[str, int]]
    addons: list[ServiceAddon]
    catalog_addons: list[tuple[str, int]]
    open_request: CancellationRequest | None
    process_on: pendulum.Date | None
    recurring_how: str
    first_how: str
    config_options: list[tuple[str, str]]
    unpaid_lines: int
    domain_record: bool  # a domain of the client has the service's name (auto-renew tick)
    availability: dict[str, tuple[bool, str]] = field(default_factory=dict)  # module commands
    labels: dict[str, str] = field(default_factory=dict)
    payment_methods: list[str] = field(default_factory=list)  # enabled, in the admin's order

    @property
    def cancellable(self) -> tuple[bool, str]:
        service = self.service
        if self.open_request is not None:
            return False, f"request #{self.open_request.id} is already open"
        if service.billing_cycle == Cycle.FREE.value:
            return False, "free services take no cancellation requests"
        if service.status not in CANCELLABLE:
            return False, f"the service is {service.status}"
        return True, ""


def form_values(service: Service, promotion_code: str) -> dict[str, str]:
    """The fields as the page shows them (and as `parse_service_form` reads them back)."""
    if service.override_suspend:
        override = (service.override_suspend_until.isoformat()
                    if service.override_suspend_until else "never")
    else:
        override = ""
    return {
        "product": str(service.product_id),
        "server": str(service.server_id or ""),
        "domain": service.domain,
        "dedicated_ip": service.dedicated_ip,
        "username": service.username,
        "password": "",
        "status": service.status,
        "registration_date": service.registration_date.isoformat(),
        "quantity": str(service.quantity),
        "subscription_id": service.subscription_id,
        "admin_notes": service.admin_notes,
        "first_payment_amount": str(service.first_payment_amount),
        "recurring_amount": str(service.recurring_amount),
        "billing_cycle": service.billing_cycle,
        "next_due_date": service.next_due_date.isoformat() if service.next_due_date else "",
        "payment_method": service.payment_method,
        "promotion": promotion_code,
        "override_suspend_until": override,
        "suspension_reason": service.suspension_reason,
        "auto_terminate_end_of_cycle": "yes" if service.auto_terminate_end_of_cycle else "no",
        "auto_terminate_reason": service.auto_terminate_reason,
    }


def price_explanations(service: Service, promotion: Promotion | None,
                       currency: str, product: Product | None = None) -> tuple[str, str]:
    """How the recurring and first payment amounts compare with what the catalog gives now
    (`models.pricing.service_recurring_price`, the rule auto recalculate applies)."""
    def money(amount: Decimal) -> str:
        return format_money(amount, currency)

    cycle = Cycle(service.billing_cycle)
    if cycle is Cycle.FREE:
        return "free cycle: nothing is billed", "free cycle: nothing is billed"
    row = pricing.price_for(service.product_id, cycle)
    if row is None:
        why = f"the product has no {cycle.label} price, so this amount is the service's own"
        return why, why
    if product is None or product.id != service.product_id:
        product = Product.get_by_id(service.product_id)
    price = pricing.service_recurring_price(service, product, cycle, None, promotion,
                                            base_price=row.price)
    parts = f"product {money(price.product)} ({cycle.label})"
    if price.options:
        parts += f" + options {money(price.options)}"
    if price.discount:
        parts += f" − promotion {money(price.discount)}"
    if service.recurring_amount == price.total:
        recurring = f"= {parts}"
    else:
        recurring = (f"custom price; the catalog gives {money(price.total)} = {parts} "
                     "(tick auto recalculate to use it)")
    first_discount = promotions.discount_for(promotion, price.full, row.setup_fee).first \
        if promotion is not None else Decimal("0.00")
    catalog_first = price.full + row.setup_fee - first_discount
    first_parts = f"price {money(price.full)} + setup fee {money(row.setup_fee)}"
    if first_discount:
        first_parts += f" − promotion {money(first_discount)}"
    if service.first_payment_amount == catalog_first:
        first = f"= {first_parts}"
    else:
        first = f"as ordered; the catalog now gives {money(catalog_first)} = {first_parts}"
    return recurring, first


def _catalog_addons(product_id: int) -> list[tuple[str, int]]:
    """Catalog addons offered for the product (linked to it, or linked to no product)."""
    return addon_choices(product_id)


def _config_options(service_id: int) -> list[tuple[str, str]]:
    rows = (ServiceConfigOption
            .select(ServiceConfigOption.quantity, ConfigOption.name, ConfigOption.option_type,
                    ConfigOptionChoice.name.alias("choice"))
            .join(ConfigOption).switch(ServiceConfigOption)
            .join(ConfigOptionChoice, JOIN.LEFT_OUTER)
            .where(ServiceConfigOption.service == service_id)
            .order_by(ConfigOption.sort_order, ConfigOption.id).dicts())
    return [(r["name"], str(r["quantity"]) if r["option_type"] == "quantity"
             else (r["choice"] or "—")) for r in rows]


def _service_with_parts(service_id: int) -> Service | None:
    """The service with its product, client and promotion, in one query."""
    return (Service.select(Service, Product, Client, Promotion)
            .join(Product, on=(Service.product == Product.id)).switch(Service)
            .join(Client, on=(Service.client == Client.id)).switch(Service)
            .join(Promotion, JOIN.LEFT_OUTER, on=(Service.promotion == Promotion.id))
            .where(Service.id == service_id).first())


def load_service_view(service_id: int, currency: str) -> ServiceView | None:
    """The service page in one read, in a fixed number of queries whatever the service has
    (addons, options, invoices: `tests/test_query_budget.py`). The module's commands (what
    applies, their labels) are `automation.provisioning.runner`'s to say: the screen adds
    them (the service comes with its product, so they cost no query)."""
    service = _service_with_parts(service_id)
    if service is None:
        return None
    product, client = service.product, service.client
    promotion = service.promotion if service.promotion_id else None
    products = orderable_products()
    if product.id not in {p.id for p in products}:
        products.insert(0, product)  # a retired or hidden product is still where it is
    open_request = (CancellationRequest.select()
                    .where((CancellationRequest.service == service.id)
                           & (CancellationRequest.status == "open")).first())
    if open_request is not None:
        open_request.service = service
    addons = list(ServiceAddon.select().where(ServiceAddon.service == service.id)
                  .order_by(ServiceAddon.id).limit(500))
    recurring_how, first_how = price_explanations(service, promotion, currency, product)
    return ServiceView(
        service=service, product=product, client=client,
        promotion_code=promotion.code if promotion else "",
        products=[(product_label(p.name, p.group_name), p.id)
                  for p in products],
        servers=[(f"{s.name} ({s.module})", s.id)
                 for s in Server.select().order_by(Server.name).limit(500)],
        addons=addons, catalog_addons=_catalog_addons(product.id),
        open_request=open_request,
        process_on=process_date(open_request) if open_request else None,
        recurring_how=recurring_how, first_how=first_how,
        config_options=_config_options(service.id), unpaid_lines=len(unpaid_lines_of_service(service.id)),
        domain_record=bool(service.domain) and Domain.select().where(
            (Domain.client == service.client_id) & (Domain.name == service.domain)).exists(),
        payment_methods=enabled_methods())


# --- saving ------------------------------------------------------------------------------------


@dataclass
class PageSaved:
    """What a service-page save did: `text` for the page, `service` as stored."""

    text: str
    service: Service
    cancelled_lines: list[tuple[int, int, str]] = field(default_factory=list)


def save_service_page(service_id: int, version: int, changed: dict[str, str], admin: Admin, *,
                      clock: Clock, settings: Settings, auto_recalculate: bool = False,
                      create_prorata: bool = False, confirm_far_ndd: bool = False) -> PageSaved:
    """Write what the admin changed on the page, in one transaction; returns what was done.

    The auto-terminate tick goes through `models.cancellations.set_auto_terminate` (it also
    cancels the unpaid lines); a new next due date with "create prorata invoice" ticked
    becomes a prorata invoice instead (the date moves when it is paid, rules §3). A status set
    by hand to cancelled, terminated or fraud ends the addons and the future unpaid lines
    (`models.services.save_service`); the module is not called, and the text says so.
    """
    require(admin, EDIT_SERVICES)
    changed = dict(changed)
    auto_terminate = changed.pop("auto_terminate_end_of_cycle", None)
    today = clock.today()
    with database.atomic():
        edit = services.parse_service_form(changed)
        plan = None
        if create_prorata and "next_due_date" in edit.values:
            new_ndd = edit.values.pop("next_due_date")
            if new_ndd is None:
                raise ValidationError("next_due_date", "a prorata invoice needs the new date")
            plan = plan_prorata([(ItemType.SERVICE, service_id, new_ndd)], settings)
            if plan.refused:
                raise ValidationError("next_due_date", plan.refused[0][2])
        result = None
        if edit.values or edit.password is not None or auto_recalculate:
            result = services.save_service(service_id, version, edit, admin, clock=clock,
                                           auto_recalculate=auto_recalculate,
                                           confirm_far_ndd=confirm_far_ndd)
            saved = result.service
        else:
            saved = Service.get_or_none((Service.id == service_id) & (Service.version == version))
            if saved is None:
                raise StaleRecordError(f"service #{service_id} was changed by someone else since "
                                       "you opened it; nothing was saved — reload to see their "
                                       "changes")
        done = [f"Service #{service_id} saved"]
        if edit.password is not None:
            done.append("password changed")
        if auto_recalculate:
            done.append(f"recurring amount recalculated: "
                        f"{format_money(saved.recurring_amount, settings.currency)}")
        cancelled = []
        if result is not None and result.ended_by_hand:
            cancelled = result.cancelled_lines
            done.append(f"status {saved.status}: {len(result.ended_addons)} addon(s) "
                        f"{saved.status} with it")
            if cancelled:
                done.append("unpaid lines for periods not yet started cancelled: " + ", ".join(
                    f"“{text}” (invoice #{invoice})" for _, invoice, text in cancelled))
            else:
                done.append("no unpaid line for a period not yet started")
            done.append("the module was not called: the account on the server is unchanged")
        if auto_terminate is not None:
            enabled = auto_terminate == "yes"
            set_auto_terminate(service_id, enabled, saved.auto_terminate_reason, admin)
            done.append("auto-terminate at end of cycle " + ("on" if enabled else "off"))
        if plan is not None:
            ids = create_prorata_invoices(plan, today, admin=admin,
                                          company_name=settings.company_name)
            line = plan.lines[0]
            amount = format_money(line.amount, settings.currency)
            done.append(f"prorata invoice #{ids[0]} for {amount} ({line.label}); the next due "
                        "date moves when it is paid")
    return PageSaved("; ".join(done), Service.get_by_id(service_id), cancelled)


# --- what the page's dialogs read -------------------------------------------------------------


def promotion_choices(currency: str, limit: int = 200) -> list[tuple[str, str]]:
    """(code, label) of the newest promotions, for the picker."""
    return [(p.code, f"{p.code} · {promotions.describe(p, currency)}"
             + (f" · until {p.expiry_date}" if p.expiry_date else ""))
            for p in Promotion.select().order_by(Promotion.id.desc()).limit(limit)]


def addon_invoice_id(addon_id: int) -> int | None:
    """The invoice that billed a new addon (None when it was added without one)."""
    line = (InvoiceLine.select(InvoiceLine.invoice).where((InvoiceLine.item_type == ItemType.ADDON)
                                                          & (InvoiceLine.item_id == addon_id))
            .order_by(InvoiceLine.id).first())
    return line.invoice_id if line else None


def client_label(client_id: int) -> str:
    client = Client.get_by_id(client_id)
    return f"{client.display_name} (#{client.id})"
