"""Roles and the permissions they grant (rules §12). A refused action names the permission."""

import unicodedata

from hostdesk.models.errors import PermissionDenied, ValidationError
from hostdesk.models.schema import Admin

VIEW_SERVICES = "view products/services"
EDIT_SERVICES = "edit products/services"
DELETE_SERVICES = "delete products/services"
SERVER_OPERATIONS = "perform server operations"
UPGRADE_ORDERS = "create upgrade/downgrade orders"
GENERATE_DUE_INVOICES = "generate due invoices"
ADD_ORDER = "add new order"
VIEW_CANCELLATIONS = "view cancellation requests"
MANAGE_CANCELLATIONS = "manage cancellation requests"
MASS_UPDATE = "mass update"
MANAGE_INVOICES = "manage invoices"
MANAGE_ADMINS = "manage admins"
MANAGE_CLIENTS = "manage clients"
MANAGE_CATALOG = "manage catalog"  # products, prices, addons, promotions, TLDs, servers,
# payment methods, email templates
RUN_DAILY_TASKS = "run daily tasks"
BACKUP_RESTORE = "backup/restore"

ALL_PERMISSIONS = frozenset({
    VIEW_SERVICES, EDIT_SERVICES, DELETE_SERVICES, SERVER_OPERATIONS, UPGRADE_ORDERS,
    GENERATE_DUE_INVOICES, ADD_ORDER, VIEW_CANCELLATIONS, MANAGE_CANCELLATIONS, MASS_UPDATE,
    MANAGE_INVOICES, MANAGE_ADMINS, MANAGE_CLIENTS, MANAGE_CATALOG, RUN_DAILY_TASKS,
    BACKUP_RESTORE,
})

ROLES = {
    "full": ALL_PERMISSIONS,
    "sales": frozenset({VIEW_SERVICES, EDIT_SERVICES, UPGRADE_ORDERS, GENERATE_DUE_INVOICES,
                        ADD_ORDER, VIEW_CANCELLATIONS, MANAGE_INVOICES, MANAGE_CLIENTS}),
    "support": frozenset({VIEW_SERVICES, EDIT_SERVICES, SERVER_OPERATIONS, VIEW_CANCELLATIONS,
                          MANAGE_CANCELLATIONS}),
}

SYSTEM_LOGIN = "system"  # the daily run acts as this login, with every permission
RESERVED_LOGINS = frozenset({SYSTEM_LOGIN})


def permissions_of(role: str) -> frozenset:
    return ROLES.get(role, frozenset())


def has_permission(admin: Admin | None, permission: str) -> bool:
    """Whether `admin`'s role grants `permission`; None (no such admin) and an inactive admin
    have none."""
    if admin is None or not admin.active:
        return False
    return permission in permissions_of(admin.role)


def require(admin: Admin | None, permission: str) -> None:
    """The one permission check of every action: PermissionDenied naming `permission` unless
    `admin` has it (None, no such admin, never has)."""
    if not has_permission(admin, permission):
        raise PermissionDenied(permission, _named(admin))


def _named(admin: Admin | None) -> str | None:
    if admin is None:
        return None
    never_stored = admin.id is None and not admin.active  # `admins.acting_admin` of a stranger
    return f"{admin.login} (not an admin)" if never_stored else admin.login


def find_admin(login: str) -> Admin | None:
    """The admin with this login (normalised); never one holding a reserved login."""
    login = normalise_login(login, strict=False)
    if not login or login in RESERVED_LOGINS:
        return None
    return Admin.get_or_none(Admin.login == login)


def normalise_login(raw: str, *, strict: bool = True) -> str:
    """A login as stored and compared: NFKC, lower case, no surrounding blanks. With `strict`,
    one holding an invisible or control character (or a blank inside) is refused."""
    login = unicodedata.normalize("NFKC", str(raw or "")).strip().lower()
    bad = [c for c in login if unicodedata.category(c)[0] in "CZ"]
    if bad:
        if strict:
            raise ValidationError("login", f"contains an invisible, blank or control character "
                                           f"(U+{ord(bad[0]):04X})")
        return ""
    return login


# The actor of unattended work (the daily run, the demo builder, the WHMCS import). Never
# saved: its login is reserved, so no stored admin can hold it, and the activity log keeps
# logins, not admin ids.
SYSTEM_ADMIN = Admin(login=SYSTEM_LOGIN, name="Daily run", role="full", active=True)
