"""Admins: who may use hostdesk, and with which role (rules §12)."""

from models import audit
from models.db import database
from models.errors import ValidationError
from models.permissions import ROLES
from models.schema import Admin


def ensure_first_admin(login: str) -> Admin | None:
    """On an empty database, make `login` the first admin with every permission."""
    with database.atomic():
        if Admin.select().exists():
            return None
        admin = Admin.create(login=login, name=login, role="full")
        audit.record("system", "admin.create", "admin", admin.id,
                     description=f"first admin {login}", after={"login": login, "role": "full"})
        return admin


def add_admin(actor: Admin, login: str, role: str, name: str = "", email: str = "") -> Admin:
    from models.permissions import MANAGE_ADMINS, require

    require(actor, MANAGE_ADMINS)
    if role not in ROLES:
        raise ValidationError("role", f"'{role}' is not a role; choose one of {', '.join(ROLES)}")
    login = login.strip()
    if not login:
        raise ValidationError("login", "is required")
    with database.atomic():
        if Admin.select().where(Admin.login == login).exists():
            raise ValidationError("login", f"'{login}' is already an admin")
        admin = Admin.create(login=login, role=role, name=name or login, email=email)
        audit.record(actor.login, "admin.create", "admin", admin.id,
                     after={"login": login, "role": role})
    return admin


def manager_logins() -> list[str]:
    """The active admins who may add or reactivate an admin (shown to a login without access)."""
    from models.permissions import MANAGE_ADMINS

    roles = [role for role, perms in ROLES.items() if MANAGE_ADMINS in perms]
    return [a.login for a in Admin.select(Admin.login)
            .where(Admin.active == True, Admin.role.in_(roles))  # noqa: E712
            .order_by(Admin.login)]
