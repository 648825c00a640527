"""One secret key per database (issue 19): the database keeps its key's fingerprint, refuses
a process started with another key, and re-encrypts every secret when the key is rotated.

A rotation is resumable: its target and how far each table got are stored after every batch,
and while it lasts both keys read (MultiFernet), so it can be stopped and run again. Until
it ends the stored fingerprint stays the old key's, and every other command is refused.
"""

import json

from hostdesk.models import secrets
from hostdesk.models.db import database
from hostdesk.models.errors import HostdeskError
from hostdesk.models.schema import Domain, EmailOutbox, Product, Server, Service, Setting

FINGERPRINT = "secret_key.fingerprint"
ROTATION = "secret_key.rotation"
BATCH = 500


class KeyMismatch(HostdeskError):
    pass


def _text_secret(model, column):
    """Rows holding a secret as the whole column value."""
    field = getattr(model, column)
    return (model, column, field != "", lambda value: secrets.reencrypt(value))


def _json_secrets(model, column):
    """Rows whose JSON settings hold encrypted values among clear ones."""
    field = getattr(model, column)

    def rotate(value):
        settings = json.loads(value or "{}")
        return json.dumps({k: secrets.reencrypt(v) if isinstance(v, str) and
                           v.startswith(secrets.PREFIX) else v for k, v in settings.items()},
                          sort_keys=True)
    return (model, column, field.contains(secrets.PREFIX), rotate)


def _targets():
    return [_text_secret(Service, "password"), _text_secret(Domain, "epp_code"),
            _json_secrets(Server, "settings"), _json_secrets(Product, "module_settings"),
            (EmailOutbox, "body", EmailOutbox.body_encrypted == True,  # noqa: E712
             lambda value: secrets.reencrypt(value))]


def _get(key: str) -> str:
    row = Setting.get_or_none(Setting.key == key)
    return row.value if row is not None else ""


def _put(key: str, value: str) -> None:
    if Setting.update(value=value, version=Setting.version + 1).where(Setting.key == key).execute() == 0:
        Setting.create(key=key, value=value)


def stored_fingerprint() -> str:
    return _get(FINGERPRINT)


def rotation_in_progress() -> dict | None:
    text = _get(ROTATION)
    return json.loads(text) if text else None


def _sample_secret() -> str | None:
    for model, column, holds, _ in _targets():
        row = model.select(getattr(model, column)).where(holds).limit(1).tuples().first()
        if row is not None:
            value = row[0]
            if model in (Server, Product):
                value = next(v for v in json.loads(value).values()
                             if isinstance(v, str) and v.startswith(secrets.PREFIX))
            return value
    return None


def holds_secrets() -> bool:
    return bool(stored_fingerprint()) or _sample_secret() is not None


def check_key() -> None:
    """Refuse (KeyMismatch) a process whose key is not this database's, or any process but the
    rotation itself while a rotation is unfinished."""
    current = secrets.current_fingerprint()
    rotation = rotation_in_progress()
    if rotation is not None:
        raise KeyMismatch(f"a secret key rotation to {rotation['to']} is unfinished: run "
                          "'hostdesk key rotate' with the same new key file to finish it")
    stored = stored_fingerprint()
    if stored and current and stored != current:
        raise KeyMismatch(f"the configured secret key ({current}) is not this database's key "
                          f"({stored}): configure the database's key; nothing was changed")


def adopt_key() -> None:
    """Record the configured key as the database's (once). A database that already holds
    secrets is adopted only if the key reads them."""
    check_key()
    if stored_fingerprint() or not secrets.is_configured():
        return
    with database.atomic():
        sample = _sample_secret()
        if sample is not None:
            try:
                secrets.decrypt(sample)
            except secrets.UnreadableSecret:
                raise KeyMismatch(f"the configured secret key ({secrets.current_fingerprint()}) "
                                  "cannot read the secrets this database holds: configure the "
                                  "key they were written with") from None
        _put(FINGERPRINT, secrets.current_fingerprint())


def rotate(old_key: str, new_key: str, *, batch: int = BATCH, progress=None) -> int:
    """Re-encrypt every secret from `old_key` to `new_key`, `batch` rows per transaction,
    resuming a rotation that was stopped. Returns the number of rows rewritten. The caller
    holds the daily-run lock; the process's key is left as it found it."""
    old_fp, new_fp = secrets.fingerprint(old_key), secrets.fingerprint(new_key)
    if old_fp == new_fp:
        raise KeyMismatch("the new key is the key in use")
    stored = stored_fingerprint()
    state = rotation_in_progress()
    if state is not None and state["to"] != new_fp:
        raise KeyMismatch(f"a rotation to {state['to']} is unfinished; finish it with that key "
                          f"first (this new key is {new_fp})")
    if state is None and stored and stored != old_fp:
        raise KeyMismatch(f"the configured secret key ({old_fp}) is not this database's key "
                          f"({stored})")
    if state is None:
        state = {"from": old_fp, "to": new_fp, "done": {}}
        with database.atomic():
            _put(ROTATION, json.dumps(state))
    secrets.configure(new_key, previous_key=old_key)
    rewritten = 0
    try:
        for model, column, holds, rewrite in _targets():
            name = f"{model._meta.table_name}.{column}"
            field = getattr(model, column)
            while True:
                last = state["done"].get(name, 0)
                rows = list(model.select(model.id, field).where(holds & (model.id > last))
                            .order_by(model.id).limit(batch).tuples())
                if not rows:
                    break
                with database.atomic():
                    for row_id, value in rows:
                        model.update({field: rewrite(value)}).where(model.id == row_id).execute()
                    state["done"][name] = rows[-1][0]
                    _put(ROTATION, json.dumps(state))
                rewritten += len(rows)
                if progress:
                    progress(name, rewritten)
        with database.atomic():
            _put(FINGERPRINT, new_fp)
            Setting.delete().where(Setting.key == ROTATION).execute()
    finally:
        secrets.configure(old_key)
    return rewritten
