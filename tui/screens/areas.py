"""The areas of hostdesk: what `g` + letter, the main screen and the palette can reach."""

from __future__ import annotations

from dataclasses import dataclass

from hostdesk.models.permissions import EDIT_SERVICES, VIEW_CANCELLATIONS, VIEW_SERVICES


@dataclass(frozen=True)
class Area:
    key: str  # also the name of its list source (hostdesk.models.listing.SOURCES) and of its screen
    letter: str  # `g` then this letter goes there
    title: str
    blurb: str  # one line for the main screen and the command palette
    permission: str | None = None


DASHBOARD = Area("dashboard", "d", "Main screen", "every area and the daily run at a glance")

AREAS = (
    Area("clients", "c", "Clients", "every client, newest first"),
    Area("services", "s", "Services", "products and services of every client", VIEW_SERVICES),
    Area("orders", "o", "Orders", "orders, newest first"),
    Area("invoices", "i", "Invoices", "invoices and what is overdue"),
    Area("cancellations", "x", "Cancellation queue", "open and completed cancellation requests",
         VIEW_CANCELLATIONS),
    Area("module_queue", "m", "Module queue", "module commands waiting for a retry"),
    Area("email", "e", "Email log", "every email queued, sent or failed, with retry"),
    Area("activity", "l", "Activity log", "who changed what, and when"),
    Area("products", "p", "Products", "product settings: module, server, emails", EDIT_SERVICES),
    Area("servers", "v", "Servers", "servers, their module settings, test connection",
         EDIT_SERVICES),
    Area("automation", "a", "Automation status", "the last daily runs"),
)

# Setup (issue 15): reached by `g` + letter and the palette, not listed on the main screen.
# Anyone may read the lists; adding and saving need the permission (the form says which).
SETUP_AREAS = (
    Area("client_groups", "u", "Client groups", "client groups and their invoicing"),
    Area("addons", "n", "Addons", "catalog addons, their prices and products"),
    Area("promotions", "r", "Promotions", "promotion codes and their uses"),
    Area("tlds", "t", "TLDs", "domain prices per TLD and number of years"),
    Area("payment_methods", "y", "Payment methods", "the payment methods offered"),
    Area("templates", "w", "Email templates", "email templates, with a live preview"),
)

EVERY_PLACE = (*AREAS, *SETUP_AREAS, DASHBOARD)  # what `g` + letter reaches
BY_KEY = {area.key: area for area in EVERY_PLACE}
BY_LETTER = {area.letter: area for area in EVERY_PLACE}
