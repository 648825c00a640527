import pytest

from models import secrets


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
