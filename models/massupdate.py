"""Mass update (rules §3, §6, §12): change fields of many services at once, safely.

`preview` shows, before anything is written, each service's values before and after, the
prorata lines, and what is refused and why. `apply` writes every accepted change in ONE
transaction with one activity-log row per service: all or nothing. Work is set-based (one
UPDATE per distinct new value, batched over ids), so 10,000 services take well under a second.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pendulum

from hostdesk.models import audit
from hostdesk.models.cycles import Cycle, parse_cycle
from hostdesk.models.db import database
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.money import sum_money
from hostdesk.models.parsing import parse_amount, parse_date, parse_override_until
from hostdesk.models.payment_methods import check_method
from hostdesk.models.permissions import MASS_UPDATE, require
from hostdesk.models.prorata import ProrataPlan, create_prorata_invoices, plan_prorata
from hostdesk.models.renewals import next_due_date_refusals
from hostdesk.models.schema import Admin, Client, ItemType, ProductPrice, Service, ServiceStatus
from hostdesk.models.settings import Settings

FIELDS = ("recurring_amount", "billing_cycle", "next_due_date", "status", "payment_method",
          "override_suspend_until")
BATCH = 500


@dataclass
class MassChange:
    """The ticked fields, parsed. Only keys present are changed."""

    values: dict
    create_prorata_invoice: bool = False


def parse_mass_change(form: dict[str, str], *, create_prorata_invoice: bool = False) -> MassChange:
    """Parse the ticked fields (name -> typed text); every bad field is reported together."""
    parsers = {
        "recurring_amount": lambda t: parse_amount(t, "recurring_amount"),
        "billing_cycle": lambda t: parse_cycle(t, "billing_cycle").value,
        "next_due_date": lambda t: parse_date(t, "next_due_date"),
        "status": lambda t: _status(t),
        "payment_method": lambda t: check_method(t, "payment_method"),
        "override_suspend_until": lambda t: parse_override_until(t, "override_suspend_until"),
    }
    values, errors = {}, []
    for name, text in form.items():
        if name not in parsers:
            errors.append(ValidationError(name, "cannot be mass updated"))
            continue
        try:
            values[name] = parsers[name](text)
        except ValidationError as exc:
            errors.append(exc)
    if not values and not errors:
        errors.append(ValidationError("fields", "tick at least one field to change"))
    if create_prorata_invoice and "next_due_date" not in values:
        errors.append(ValidationError("create_prorata_invoice", "needs a new next due date"))
    if errors:
        raise ValidationErrors(errors)
    return MassChange(values, create_prorata_invoice)


def _status(text: str) -> str:
    value = (text or "").strip().lower()
    if value not in ServiceStatus.ALL:
        raise ValidationError("status", f"'{text}' is not one of {', '.join(ServiceStatus.ALL)}")
    return value


@dataclass
class ItemPreview:
    service_id: int
    client_id: int
    title: str
    before: dict
    after: dict
    refused: str = ""


@dataclass
class Preview:
    items: list = field(default_factory=list)  # ItemPreview, accepted and refused
    prorata: ProrataPlan | None = None

    @property
    def accepted(self) -> list:
        return [i for i in self.items if not i.refused]

    @property
    def refused(self) -> list:
        return [i for i in self.items if i.refused]

    @property
    def prorata_total(self) -> Decimal:
        return self.prorata.total if self.prorata else Decimal("0.00")


def _column_values(change: MassChange) -> dict:
    """The service columns the change writes (NDD only when no prorata invoice is asked)."""
    columns = {}
    for name, value in change.values.items():
        if name == "override_suspend_until":
            kind, until = value
            columns["override_suspend"] = kind != "clear"
            columns["override_suspend_until"] = until if kind == "date" else None
        elif name == "next_due_date":
            if not change.create_prorata_invoice:
                columns["next_due_date"] = value
                columns["anchor_day"] = value.day
        else:
            columns[name] = value
    return columns


def _shown(service: Service, columns: dict) -> dict:
    return {name: audit._plain(getattr(service, name)) for name in columns}


def preview(service_ids: list[int], change: MassChange, settings: Settings) -> Preview:
    """What `apply` would do, item by item, without writing anything."""
    columns = _column_values(change)
    result = Preview()
    new_cycle = change.values.get("billing_cycle")
    for start in range(0, len(service_ids), BATCH):
        chunk = service_ids[start:start + BATCH]
        services = list(Service.select().where(Service.id.in_(chunk)).order_by(Service.id))
        priced = set()
        if new_cycle and new_cycle not in (Cycle.FREE.value, Cycle.ONE_TIME.value):
            priced = {row[0] for row in ProductPrice.select(ProductPrice.product).where(
                ProductPrice.product.in_({s.product_id for s in services})
                & (ProductPrice.cycle == new_cycle)).tuples()}
        ndd_refusals = (next_due_date_refusals(ItemType.SERVICE, services,
                                               change.values["next_due_date"])
                        if "next_due_date" in change.values else {})
        found = {s.id for s in services}
        for missing in sorted(set(chunk) - found):
            result.items.append(ItemPreview(missing, 0, f"service #{missing}", {}, {},
                                            "no longer exists"))
        for service in services:
            item = ItemPreview(service.id, service.client_id,
                               service.domain or f"service #{service.id}",
                               _shown(service, columns), {k: audit._plain(v) for k, v in columns.items()})
            if new_cycle and new_cycle not in (Cycle.FREE.value, Cycle.ONE_TIME.value) \
                    and service.product_id not in priced:
                item.refused = f"its product has no price for {new_cycle}"
            elif "next_due_date" in change.values and service.billing_cycle in (
                    Cycle.FREE.value, Cycle.ONE_TIME.value) and new_cycle is None:
                item.refused = f"a {service.billing_cycle} service has no next due date"
            elif service.id in ndd_refusals:
                item.refused = ndd_refusals[service.id]
            result.items.append(item)
    if change.create_prorata_invoice:
        new_ndd = change.values["next_due_date"]
        plan = plan_prorata([("service", i.service_id, new_ndd) for i in result.accepted], settings)
        refused = {item_id: reason for _, item_id, reason in plan.refused}
        for item in result.items:
            if item.service_id in refused and not item.refused:
                item.refused = refused[item.service_id]
        result.prorata = plan
    return result


@dataclass
class ApplyResult:
    updated: int
    refused: int
    invoice_ids: list


def apply(service_ids: list[int], change: MassChange, admin: Admin, settings: Settings,
          today: pendulum.Date) -> ApplyResult:
    """Apply the change to every accepted service in one transaction (refused ones are skipped)."""
    require(admin, MASS_UPDATE)
    plan = preview(service_ids, change, settings)
    columns = _column_values(change)
    accepted = plan.accepted
    invoice_ids = []
    with database.atomic():
        ids = [item.service_id for item in accepted]
        if columns:
            now = pendulum.now("UTC")
            for start in range(0, len(ids), BATCH):
                (Service.update(**columns, version=Service.version + 1, updated_at=now)
                 .where(Service.id.in_(ids[start:start + BATCH])).execute())
        if plan.prorata and plan.prorata.lines:
            invoice_ids = create_prorata_invoices(plan.prorata, today, admin=admin,
                                                  company_name=settings.company_name)
        audit.record_many([
            dict(admin_login=admin.login, action="service.mass_update", object_type="service",
                 object_id=item.service_id, client_id=item.client_id,
                 description="mass update" + (" with prorata invoice" if invoice_ids else ""),
                 before=item.before, after=item.after)
            for item in accepted])
    return ApplyResult(updated=len(accepted), refused=len(plan.refused), invoice_ids=invoice_ids)


def totals_by_client(plan: Preview) -> dict:
    """Prorata totals per client, for the preview's summary."""
    totals = defaultdict(list)
    if plan.prorata:
        for line in plan.prorata.lines:
            totals[line.client_id].append(line.amount)
    return {client_id: sum_money(amounts) for client_id, amounts in totals.items()}


# --- what the mass update screen shows ------------------------------------------------------


def client_names(client_ids: list[int]) -> dict[int, str]:
    return {c.id: c.display_name for c in Client.select().where(Client.id.in_(client_ids or [0]))}


def _title(service: Service) -> str:
    return service.domain or f"service #{service.id}"


def service_titles(ids: list[int]) -> dict[int, str]:
    return {s.id: _title(s) for s in
            Service.select(Service.id, Service.domain).where(Service.id.in_(ids or [0]))}


def command_previews(ids: list[int], label: str, refused: dict[int, str]) -> list[ItemPreview]:
    """A bulk module command's preview rows: each service with its status and the command,
    or why it is refused."""
    return [ItemPreview(service.id, service.client_id, _title(service),
                        {"status": service.status}, {"command": label},
                        refused.get(service.id, ""))
            for service in (Service.select(Service.id, Service.client, Service.domain,
                                           Service.status)
                            .where(Service.id.in_(ids or [0])).order_by(Service.id))]
