"""Secrets at rest: service passwords, EPP codes and module secrets are stored encrypted.

The key comes from configuration (`secret_key` or HOSTDESK_SECRET_KEY). There is no plain-text
fallback: without a key, storing or reading a secret raises `MissingSecretKey`.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from models.errors import HostdeskError

PREFIX = "enc:"
_fernet: Fernet | None = None


class MissingSecretKey(HostdeskError):
    def __init__(self):
        super().__init__("no secret key is configured: set secret_key in hostdesk.toml or "
                         "HOSTDESK_SECRET_KEY (hostdesk init creates one)")


class UnreadableSecret(HostdeskError):
    pass


def configure(secret_key: str) -> None:
    """Install the key for this process (called once at start-up by the CLI and the tests)."""
    global _fernet
    if not secret_key:
        _fernet = None
        return
    digest = hashlib.sha256(secret_key.encode()).digest()
    _fernet = Fernet(base64.urlsafe_b64encode(digest))


def is_configured() -> bool:
    return _fernet is not None


def new_key() -> str:
    return Fernet.generate_key().decode()


def encrypt(plain: str) -> str:
    if not plain:
        return ""
    if _fernet is None:
        raise MissingSecretKey()
    return PREFIX + _fernet.encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    if _fernet is None:
        raise MissingSecretKey()
    if not stored.startswith(PREFIX):
        raise UnreadableSecret("a stored secret is not encrypted; refusing to use it")
    try:
        return _fernet.decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("a stored secret cannot be decrypted with the configured key") from None
