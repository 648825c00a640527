"""Rules §12: each role may do exactly what its permissions name; a refusal names the
permission and writes nothing. One row per permission, tried by every role."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.automation.provisioning.runner import run_command
from hostdesk.models import admins, clients, massupdate, products, services, upgrades
from hostdesk.models.cancellations import request_cancellation
from hostdesk.models.clock import Clock
from hostdesk.models.errors import PermissionDenied
from hostdesk.models.orders import LineRequest, OrderRequest, place_order
from hostdesk.models.permissions import (
    ADD_ORDER,
    DELETE_SERVICES,
    EDIT_SERVICES,
    GENERATE_DUE_INVOICES,
    MANAGE_ADMINS,
    MANAGE_CANCELLATIONS,
    MANAGE_CATALOG,
    MANAGE_CLIENTS,
    MASS_UPDATE,
    ROLES,
    SERVER_OPERATIONS,
    UPGRADE_ORDERS,
    find_admin,
)
from hostdesk.models.renewals import invoice_selected_items
from hostdesk.models.schema import ActivityLog, Admin
from hostdesk.models.settings import Settings
from tests import factories as make

TODAY = pendulum.date(2026, 5, 1)
SETTINGS = Settings()


def world():
    make.ensure_template("invoice_created")
    small = make.product(prices={"monthly": "10.00"}, name="Small")
    big = make.product(prices={"monthly": "20.00"}, name="Big")
    service = make.service(product_row=small, next_due_date=TODAY.add(days=20))
    return {"small": small, "big": big, "service": service, "server": make.server()}


ACTIONS = {
    EDIT_SERVICES: lambda a, w: services.save_service(
        w["service"].id, w["service"].version,
        services.parse_service_form({"admin_notes": "checked"}), a, clock=Clock()),
    DELETE_SERVICES: lambda a, w: services.delete_service(w["service"].id, a),
    SERVER_OPERATIONS: lambda a, w: run_command(
        w["service"].id, "suspend", admin=a, clock=Clock("UTC", TODAY),
        settings=SETTINGS, reason="test"),
    UPGRADE_ORDERS: lambda a, w: upgrades.create_upgrade(
        w["service"].id, w["big"].id, "monthly", TODAY, SETTINGS, admin=a),
    GENERATE_DUE_INVOICES: lambda a, w: invoice_selected_items(
        [("service", w["service"].id)], TODAY, SETTINGS, admin=a),
    ADD_ORDER: lambda a, w: place_order(
        OrderRequest(client_id=w["service"].client_id, lines=[LineRequest(product=w["small"].id)]),
        a, TODAY),
    MANAGE_CANCELLATIONS: lambda a, w: request_cancellation(
        w["service"].id, "immediate", "leaving", admin=a),
    MASS_UPDATE: lambda a, w: massupdate.apply(
        [w["service"].id], massupdate.parse_mass_change({"recurring_amount": "9.00"}), a,
        SETTINGS, TODAY),
    MANAGE_ADMINS: lambda a, w: admins.add_admin(a, f"new-{a.role}", "support"),
    MANAGE_CLIENTS: lambda a, w: clients.add_client(
        {"first_name": "New", "last_name": "Client", "email": f"{a.role}@example.com"},
        admin=a),
    MANAGE_CATALOG: lambda a, w: products.add_product(
        {"name": f"Plan of {a.role}", "module": "none", "prices": {"monthly": "5.00"}},
        admin=a, modules=("none",)),
}


@pytest.mark.parametrize("permission", sorted(ACTIONS))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_may_do_exactly_what_it_is_granted(db, role, permission):
    admin = Admin.create(login=f"{role}-admin", role=role)
    setting = world()
    before = ActivityLog.select().count()
    if permission in ROLES[role]:
        ACTIONS[permission](admin, setting)
        assert ActivityLog.select().count() > before  # it happened, and it was logged
    else:
        with pytest.raises(PermissionDenied) as refused:
            ACTIONS[permission](admin, setting)
        assert refused.value.permission == permission
        assert permission in str(refused.value)
        assert ActivityLog.select().count() == before


def test_unknown_and_deactivated_logins_may_do_nothing(db):
    Admin.create(login="gone", role="full", active=False)
    setting = world()
    for login in ("nobody", "gone"):
        with pytest.raises(PermissionDenied):
            request_cancellation(setting["service"].id, "immediate", "x",
                                 admin=find_admin(login))
        with pytest.raises(PermissionDenied):
            run_command(setting["service"].id, "suspend", admin=find_admin(login),
                        clock=Clock("UTC", TODAY), settings=SETTINGS, reason="x")
    assert ActivityLog.select().count() == 0
    assert Decimal("10.00") == setting["service"].recurring_amount
