"""Secrets at rest: service passwords, EPP codes and module secrets are stored encrypted.

The key comes from configuration (`secret_key` or HOSTDESK_SECRET_KEY). There is no plain-text
fallback: without a key, storing or reading a secret raises `MissingSecretKey`. A key is
known by its fingerprint (a hash of a hash: it reveals nothing of the key), which the
database keeps so that a second key is refused before it can write anything
(`models.keyring`). During a key rotation both keys are installed: new secrets are written
with the new key, and either key reads.
"""

import base64
import hashlib
import math
import zlib
from collections import Counter

from hostdesk.models.errors import HostdeskError

PREFIX = "enc:"
MIN_KEY_LENGTH = 32
MIN_KEY_BITS = 128  # estimated from the key's character frequencies and its compressed size
_ZLIB_OVERHEAD = len(zlib.compress(b"", 9))
# The installed keys, the one that writes first. Their cipher is built (and cryptography
# imported) when a secret is first read or written: most commands never touch one.
_keys: tuple[str, ...] = ()
_fernet = None
_fingerprints: tuple[str, ...] = ()


class MissingSecretKey(HostdeskError):
    def __init__(self):
        super().__init__("no secret key is configured: set secret_key in hostdesk.toml or "
                         "HOSTDESK_SECRET_KEY (hostdesk init creates one)")


class WeakSecretKey(HostdeskError):
    pass


class UnreadableSecret(HostdeskError):
    pass


def _derived(secret_key: str) -> bytes:
    return hashlib.sha256(secret_key.encode()).digest()


def fingerprint(secret_key: str) -> str:
    """A short public name of a key: safe to print, store and compare."""
    return "sha256:" + hashlib.sha256(b"hostdesk key fingerprint:" + _derived(secret_key)).hexdigest()[:16]


def check_strength(secret_key: str) -> None:
    """Refuse a key that could be guessed: too short, or too few distinct characters."""
    if len(secret_key) < MIN_KEY_LENGTH:
        raise WeakSecretKey(f"the secret key is too weak: {len(secret_key)} characters, at least "
                            f"{MIN_KEY_LENGTH} are needed (hostdesk init generates a random one)")
    counts = Counter(secret_key)
    per_char = -sum(n / len(secret_key) * math.log2(n / len(secret_key)) for n in counts.values())
    # What is left after compression: a repeated word compresses to almost nothing.
    compressed_bits = (len(zlib.compress(secret_key.encode(), 9)) - _ZLIB_OVERHEAD) * 8
    if min(per_char * len(secret_key), compressed_bits) < MIN_KEY_BITS:
        raise WeakSecretKey("the secret key is too weak: it repeats itself too much to be "
                            "random (hostdesk init generates a random one)")


def configure(secret_key: str, previous_key: str = "") -> None:
    """Install the key for this process (called once at start-up by the CLI and the tests).
    With `previous_key` (a rotation in progress), secrets written with it still read."""
    global _keys, _fernet, _fingerprints
    _keys = tuple(k for k in (secret_key, previous_key) if k) if secret_key else ()
    _fernet = None
    _fingerprints = tuple(fingerprint(k) for k in _keys)


def _cipher():
    """The installed keys' cipher, MissingSecretKey without one."""
    global _fernet
    if not _keys:
        raise MissingSecretKey()
    if _fernet is None:
        from cryptography.fernet import Fernet, MultiFernet

        fernets = [Fernet(base64.urlsafe_b64encode(_derived(k))) for k in _keys]
        _fernet = fernets[0] if len(fernets) == 1 else MultiFernet(fernets)
    return _fernet


def is_configured() -> bool:
    return bool(_keys)


def current_fingerprint() -> str:
    """The fingerprint of the key new secrets are written with ('' without a key)."""
    return _fingerprints[0] if _fingerprints else ""


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def encrypt(plain: str) -> str:
    if not plain:
        return ""
    return PREFIX + _cipher().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    cipher = _cipher()
    if not stored.startswith(PREFIX):
        raise UnreadableSecret("a stored secret is not encrypted; refusing to use it")
    from cryptography.fernet import InvalidToken

    try:
        return cipher.decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("a stored secret cannot be decrypted with the configured key") from None


def reencrypt(stored: str) -> str:
    """The same secret written with the current key (read with any installed key)."""
    return encrypt(decrypt(stored)) if stored else ""
