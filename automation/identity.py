"""Who runs this process: the OS account, found by the effective uid (never by LOGNAME, USER
or a flag, which anyone can set), and whether it may run the daily tasks (rules §11, §12).
"""

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from hostdesk.models.admins import Identity, acting_admin
from hostdesk.models.db import database, sqlite_path_from_url
from hostdesk.models.permissions import RUN_DAILY_TASKS, require


@dataclass(frozen=True)
class OsAccount:
    uid: int
    login: str


def current_os_account() -> OsAccount:
    uid = os.geteuid()
    try:
        return OsAccount(uid, pwd.getpwuid(uid).pw_name)
    except KeyError:  # a uid with no passwd entry (some containers): named by its number
        return OsAccount(uid, f"uid{uid}")


def owns_database(account: OsAccount, url: str) -> bool:
    """Whether this process holds the database itself: for SQLite the OS account owns the
    file; for PostgreSQL it is connected as the database's owner (or a superuser). Either
    could change any row without hostdesk, so the daily run refuses them nothing."""
    path = sqlite_path_from_url(url)
    if path is None:
        row = database.execute_sql(
            "SELECT pg_get_userbyid(d.datdba) = current_user OR r.rolsuper "
            "FROM pg_database d, pg_roles r "
            "WHERE d.datname = current_database() AND r.rolname = current_user").fetchone()
        return bool(row and row[0])
    try:
        return path != ":memory:" and Path(path).stat().st_uid == account.uid
    except OSError:
        return False


def require_daily_run(identity: Identity, account: OsAccount, url: str) -> None:
    """`hostdesk cron`: the owner of the database (the account whose crontab runs it), or an
    admin with "run daily tasks"."""
    if identity.login == identity.os_login and owns_database(account, url):
        return
    require(acting_admin(identity), RUN_DAILY_TASKS)
