"""Admins: who may use hostdesk, and with which role (rules §12).

Who is acting is decided here from the OS account that runs the command (the caller looks it
up by uid, never from environment variables): that account's admin, or, for a `full` admin
only, another admin it acts as; every activity-log row then names both.
"""

from dataclasses import dataclass

from hostdesk.models import audit
from hostdesk.models.db import database
from hostdesk.models.errors import PermissionDenied, ValidationError
from hostdesk.models.permissions import RESERVED_LOGINS, ROLES, find_admin, normalise_login
from hostdesk.models.schema import Admin

ACT_AS = "act as another admin (full role only)"


@dataclass(frozen=True)
class Identity:
    """Whose permissions apply (`login`) and the OS account really at the keyboard."""

    login: str
    os_login: str

    def describe(self) -> str:
        if self.os_login and self.os_login != self.login:
            return f"{self.os_login} acting as {self.login}"
        return self.login


def checked_new_login(raw: str) -> str:
    login = normalise_login(raw)
    if not login:
        raise ValidationError("login", "is required")
    if len(login) > 100:
        raise ValidationError("login", "is longer than 100 characters")
    if login in RESERVED_LOGINS:
        raise ValidationError("login", f"'{login}' is reserved for the daily run")
    return login


def resolve_identity(os_login: str, requested: str | None = None) -> Identity:
    """The acting admin for the OS account `os_login`, optionally acting as `requested`.

    Refused (PermissionDenied) when `requested` names someone else and the OS account is not
    an active `full` admin, and (ValidationError) for a reserved or malformed login."""
    own = normalise_login(os_login)
    if own in RESERVED_LOGINS:
        raise ValidationError("login", f"the OS account '{own}' is reserved for the daily run")
    if requested is None or normalise_login(requested) == own:
        return Identity(own, own)
    target = normalise_login(requested)
    if not target:
        raise ValidationError("--login", "is blank")
    if target in RESERVED_LOGINS:
        raise ValidationError("--login", f"'{target}' is reserved for the daily run")
    real = find_admin(own)
    if real is None or not real.active or real.role != "full":
        raise PermissionDenied(ACT_AS, own)
    return Identity(target, own)


def acting_admin(identity: Identity) -> Admin:
    """The admin whose permissions apply to `identity`. For a login that is no admin, an
    unsaved inactive one: it holds no permission, so the action's own check refuses it (after
    the input is checked, like any refusal) and names it "not an admin"."""
    admin = find_admin(identity.login)
    if admin is None:
        return Admin(login=identity.login, role="support", active=False)
    return admin


def has_admins() -> bool:
    """Whether the database (maybe not yet migrated) has any admin: `init` on such a
    database needs a full admin."""
    return Admin.table_exists() and Admin.select().exists()


def ensure_first_admin(login: str) -> Admin | None:
    """On an empty database, make `login` the first admin with every permission."""
    login = checked_new_login(login)
    with database.atomic():
        if Admin.select().exists():
            return None
        admin = Admin.create(login=login, name=login, role="full")
        audit.record("system", "admin.create", "admin", admin.id,
                     description=f"first admin {login}", after={"login": login, "role": "full"})
        return admin


def add_admin(actor: Admin, login: str, role: str, name: str = "", email: str = "") -> Admin:
    from hostdesk.models.permissions import MANAGE_ADMINS, require

    require(actor, MANAGE_ADMINS)
    if role not in ROLES:
        raise ValidationError("role", f"'{role}' is not a role; choose one of {', '.join(ROLES)}")
    login = checked_new_login(login)
    with database.atomic():
        if Admin.select().where(Admin.login == login).exists():
            raise ValidationError("login", f"'{login}' is already an admin")
        admin = Admin.create(login=login, role=role, name=name or login, email=email)
        audit.record(actor.login, "admin.create", "admin", admin.id,
                     after={"login": login, "role": role})
    return admin


def notice_recipients(settings) -> list[str]:
    """Who gets the admins' notices (a failed daily run): every active `full` admin with an
    email address, and the `admin_notice_email` setting, each address once."""
    addresses = [a.email.strip() for a in Admin.select(Admin.email)
                 .where((Admin.active == True) & (Admin.role == "full") & (Admin.email != ""))  # noqa: E712
                 .order_by(Admin.id)]
    if settings.admin_notice_email:
        addresses.append(settings.admin_notice_email.strip())
    seen, unique = set(), []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique
def manager_logins() -> list[str]:
    """The active admins who may add or reactivate an admin (shown to a login without access)."""
    from hostdesk.models.permissions import MANAGE_ADMINS

    roles = [role for role, perms in ROLES.items() if MANAGE_ADMINS in perms]
    return [a.login for a in Admin.select(Admin.login)
            .where(Admin.active == True, Admin.role.in_(roles))  # noqa: E712
            .order_by(Admin.login)]
