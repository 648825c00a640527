"""Where each area and each kind of record opens: `g` + letter, the main screen and the
palette reach an area (`AREA_SCREENS`); enter on a row, ctrl+k and `#id` reach a record
(`RECORD_SCREENS`). A screen's module is imported the first time it opens, so starting the
app does not load every screen.
"""

from __future__ import annotations

import importlib

from textual.screen import Screen

# area key (areas.py) -> "module:Class" of its list screen, built with no arguments.
# An area not named here is a plain ListScreen over its list source.
AREA_SCREENS = {
    "services": "services_list:ServiceListScreen",
    "invoices": "invoices:InvoiceListScreen",
    "cancellations": "cancellation_queue:CancellationQueueScreen",
    "module_queue": "module_queue:ModuleQueueScreen",
    "email": "email_log:EmailLogScreen",
    "products": "catalog:ProductListScreen",
    "servers": "catalog:ServerListScreen",
    "client_groups": "client_setup:ClientGroupListScreen",
    "addons": "catalog_setup:AddonListScreen",
    "promotions": "catalog_setup:PromotionListScreen",
    "tlds": "catalog_setup:TldListScreen",
    "payment_methods": "catalog_setup:PaymentMethodListScreen",
    "templates": "template_setup:TemplateListScreen",
}

# Areas whose plain list screen is another class of lists.py, built with (area, source).
LIST_SCREENS = {"automation": "lists:AutomationScreen"}

# record kind (a list source's name) -> "module:Class" of its page, built with the record's
# id. A kind not named here opens the generic record view (DetailScreen).
RECORD_SCREENS = {
    "services": "service:ServiceScreen",
    "clients": "client_summary:ClientSummaryScreen",
    "invoices": "invoices:InvoiceScreen",
    "automation": "run_report:RunReportScreen",
    "products": "catalog:ProductSettingsScreen",
    "servers": "catalog:ServerSettingsScreen",
}

# Screens built ahead, off the stack, while the admin reads another
# (`HostdeskApp.build_screens_ahead`): each class has a `build_ahead(app, back_on)` class
# method.
AHEAD = ("order_form:OrderFormScreen", "service:ServiceScreen", "mass_update:MassUpdateScreen")


def screen_class(where: str) -> type[Screen]:
    """The class a table entry names (`module:Class` below hostdesk.tui.screens)."""
    module_name, _, class_name = where.partition(":")
    module = importlib.import_module(f"hostdesk.tui.screens.{module_name}")
    return getattr(module, class_name)
