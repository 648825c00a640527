import pytest

from hostdesk.models import secrets


@pytest.fixture(autouse=True)
def key():
    secrets.configure("unit-test-key")
    yield
    secrets.configure("")


def test_round_trip_and_ciphertext_hides_the_value():
    stored = secrets.encrypt("hunter2")
    assert stored.startswith("enc:") and "hunter2" not in stored
    assert secrets.decrypt(stored) == "hunter2"
    assert secrets.encrypt("hunter2") != stored  # random IV


def test_no_key_means_no_secret_stored_or_read():
    stored = secrets.encrypt("x")
    secrets.configure("")
    with pytest.raises(secrets.MissingSecretKey, match="secret_key"):
        secrets.encrypt("x")
    with pytest.raises(secrets.MissingSecretKey):
        secrets.decrypt(stored)


def test_wrong_key_or_plain_text_is_refused():
    stored = secrets.encrypt("x")
    secrets.configure("another key")
    with pytest.raises(secrets.UnreadableSecret, match="cannot be decrypted"):
        secrets.decrypt(stored)
    with pytest.raises(secrets.UnreadableSecret, match="not encrypted"):
        secrets.decrypt("plain")
    assert secrets.encrypt("") == "" and secrets.decrypt("") == ""


def test_a_fingerprint_names_a_key_without_revealing_it():
    key = secrets.new_key()
    fingerprint = secrets.fingerprint(key)
    assert fingerprint.startswith("sha256:") and len(fingerprint) == len("sha256:") + 16
    assert fingerprint == secrets.fingerprint(key) != secrets.fingerprint(secrets.new_key())
    assert key not in fingerprint and key[:8] not in fingerprint


@pytest.mark.parametrize("weak", ["", "x" * 31, "a" * 64, "0123" * 10, "passwordpassword" * 3])
def test_weak_keys_are_refused(weak):
    with pytest.raises(secrets.WeakSecretKey, match="too weak"):
        secrets.check_strength(weak)


def test_generated_keys_are_strong():
    for _ in range(20):
        secrets.check_strength(secrets.new_key())


def test_during_a_rotation_both_keys_read_and_the_new_one_writes():
    old_secret = secrets.encrypt("written before")
    new_key = secrets.new_key()
    secrets.configure(new_key, previous_key="unit-test-key")
    assert secrets.current_fingerprint() == secrets.fingerprint(new_key)
    rotated = secrets.reencrypt(old_secret)
    assert secrets.decrypt(old_secret) == secrets.decrypt(rotated) == "written before"
    secrets.configure(new_key)
    assert secrets.decrypt(rotated) == "written before"
    with pytest.raises(secrets.UnreadableSecret):
        secrets.decrypt(old_secret)
