"""Which items may be billed, and for which periods (rules §4, §10): the one check the daily
run and "invoice selected items early" both apply.

An item is refused while its status is not billable, or while its service (itself, or an
addon's parent) has an open cancellation request or the admin's auto-terminate-at-end-of-cycle
tick. A period is refused when it starts on or after the service's fixed-term end
(registration date + the product's `auto_terminate_days`): the service is terminated that day.
Domains have no service here: only their status is judged.

The facts are read in a few batched queries per set of services, so the daily run reads them
per chunk and early invoicing for the ticked items, and both judge them with the same code.
"""

from dataclasses import dataclass
from typing import Iterable

import pendulum

from hostdesk.models.db import ids_in
from hostdesk.models.schema import CancellationRequest, ItemType, Product, Service, ServiceStatus

EARLY_STATUSES = (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)
BATCH = 5000  # ids a query names (as literals): one query for a daily-run chunk


@dataclass(frozen=True)
class ServiceTerms:
    """What a service's state says about billing it and its addons."""

    auto_terminate: bool = False
    cancellation_open: bool = False
    term_end: pendulum.Date | None = None  # the fixed-term end, None when not fixed-term


NO_TERMS = ServiceTerms()


def item_refusal(item_type: str, status: str, terms: ServiceTerms | None,
                 statuses: tuple = ServiceStatus.BILLABLE) -> str:
    """Why a service or addon may not be billed at all ("" when it may)."""
    if status not in statuses:
        allowed = " or ".join(filter(None, (", ".join(statuses[:-1]), statuses[-1])))
        return f"is {status}; only {allowed} items can be invoiced"
    terms = terms or NO_TERMS
    owner = "its service " if item_type == ItemType.ADDON else ""
    if terms.cancellation_open:
        return f"{owner}has an open cancellation request"
    if terms.auto_terminate:
        return f"{owner}is set to terminate at the end of its cycle"
    return ""


def period_refusal(item_type: str, terms: ServiceTerms | None, start: pendulum.Date) -> str:
    """Why the period starting at `start` may not be billed ("" when it may)."""
    end = terms.term_end if terms else None
    if end is not None and start >= end:
        owner = "its service's" if item_type == ItemType.ADDON else "its"
        return f"{owner} fixed term ends on {end}: the period from {start} is not part of it"
    return ""


def fixed_terms() -> dict[int, int]:
    """product id -> `auto_terminate_days`, for the (few) fixed-term products."""
    return dict(Product.select(Product.id, Product.auto_terminate_days)
                .where(Product.auto_terminate_days > 0).tuples())


def open_cancellations(service_ids: Iterable[int]) -> set[int]:
    """The services among `service_ids` with an open cancellation request."""
    ids = sorted(set(service_ids))  # in index order
    found = set()
    for start in range(0, len(ids), BATCH):
        found.update(row[0] for row in CancellationRequest.select(CancellationRequest.service)
                     .where(ids_in(CancellationRequest.service, ids[start:start + BATCH])
                            & (CancellationRequest.status == "open")).tuples())
    return found


def terms_of(services: Iterable[tuple]) -> dict[int, ServiceTerms]:
    """ServiceTerms per service from (id, auto_terminate, registration_date, product_id) rows
    the caller has read; reads the open cancellations and the fixed-term products."""
    services = list(services)
    cancelling = open_cancellations(row[0] for row in services)
    days_by_product = fixed_terms() if services else {}
    terms = {}
    for service_id, auto_terminate, registration_date, product_id in services:
        days = days_by_product.get(product_id)
        end = registration_date.add(days=days) if days and registration_date else None
        cancelled = service_id in cancelling
        terms[service_id] = (ServiceTerms(bool(auto_terminate), cancelled, end)
                             if auto_terminate or cancelled or end is not None
                             else NO_TERMS)  # most services: one shared value, not one each
    return terms


def read_terms(service_ids: Iterable[int]) -> dict[int, ServiceTerms]:
    """ServiceTerms of services by id, read from the database."""
    ids = list(set(service_ids))
    rows = []
    for start in range(0, len(ids), BATCH):
        rows.extend(Service.select(Service.id, Service.auto_terminate_end_of_cycle,
                                   Service.registration_date, Service.product)
                    .where(ids_in(Service.id, ids[start:start + BATCH])).tuples())
    return terms_of(rows)
