"""The activity log: who did what to which record, with the values before and after."""

import json
from decimal import Decimal

import pendulum

from hostdesk.models.db import insert_rows
from hostdesk.models.schema import ActivityLog, utcnow

REDACTED = "[secret]"
_operator = ""  # the OS account running this process, set once by the CLI at start-up
SECRET_FIELDS = frozenset({"password", "epp_code", "secret", "smtp_password"})


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (pendulum.Date, pendulum.DateTime)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def snapshot(record, names=None) -> dict:
    """The record's field values as plain JSON-ready data, secrets redacted."""
    result = {}
    for field in record._meta.sorted_fields:
        if names is not None and field.name not in names:
            continue
        value = record.__data__.get(field.name)
        result[field.name] = REDACTED if field.name in SECRET_FIELDS and value else _plain(value)
    return result


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def set_operator(os_login: str) -> None:
    """Name the OS account behind every row this process writes (the `hostdesk` command)."""
    global _operator
    _operator = os_login or ""


def who(row: ActivityLog) -> str:
    """"X acting as Y" when the OS account differs from the admin whose permissions applied."""
    if row.operator and row.operator != row.admin_login:
        return f"{row.operator} acting as {row.admin_login}"
    return row.admin_login


def record(admin_login: str, action: str, object_type: str, object_id=None, *,
           client_id=None, description: str = "", before=None, after=None,
           at=None) -> ActivityLog:
    """Write one activity-log row (call inside the transaction that makes the change).
    `at` is the moment it happened when not now (the demo data replays a past)."""
    return ActivityLog.create(
        at=at or utcnow(),
        admin_login=admin_login,
        action=action,
        object_type=object_type,
        object_id=object_id,
        client_id=client_id,
        description=description,
        before=json.dumps(before, default=_plain, sort_keys=True) if before is not None else "",
        after=json.dumps(after, default=_plain, sort_keys=True) if after is not None else "",
        operator=_operator,
    )


ACTIVITY_COLUMNS = ("at", "admin_login", "action", "object_type", "object_id", "client_id",
                    "description", "before", "after", "operator")


def _json(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=_plain, sort_keys=True)


def record_many(rows: list[dict]) -> None:
    """Bulk activity-log rows (mass updates, the daily run): dicts of `record`'s arguments,
    plus an optional `at`."""
    to_db = ActivityLog.at.db_value
    now = to_db(utcnow())
    insert_rows(ActivityLog, ACTIVITY_COLUMNS,
                [(to_db(row["at"]) if "at" in row else now, row["admin_login"], row["action"],
                  row["object_type"], row.get("object_id"), row.get("client_id"),
                  row.get("description", ""), _json(row.get("before")), _json(row.get("after")),
                  _operator)
                 for row in rows])
