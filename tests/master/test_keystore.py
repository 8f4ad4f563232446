import pytest

from pvc.crypto import Ed25519PrivateKey, public_bytes
from pvc.errors import InvalidMinionId
from pvc.keys import load_or_create_identity
from pvc.master.keystore import KeyStore


def _raw():
    return public_bytes(Ed25519PrivateKey.generate().public_key())


def test_states(tmp_path):
    store = KeyStore(str(tmp_path))
    k1, k2 = _raw(), _raw()
    assert store.offer("m1", k1, auto_accept=False, max_pending=10) == "pending"
    assert store.accept("m*") == ["m1"]
    assert store.offer("m1", k1, False, 10) == "accepted"
    assert store.offer("m1", k2, False, 10) == "denied"
    assert {(k.id, k.state) for k in store.find()} == {("m1", "accepted"), ("m1", "denied")}
    assert store.reject("m1", include_accepted=True) == ["m1"]
    assert store.offer("m1", k1, True, 10) == "rejected"
    assert store.delete("*") == ["m1"]
    assert store.find() == []


def test_pending_cap(tmp_path):
    store = KeyStore(str(tmp_path))
    assert store.offer("a", _raw(), False, 1) == "pending"
    assert store.offer("b", _raw(), False, 1) == "busy"


@pytest.mark.parametrize("bad", ["../../etc/x", "a/b", "", "..", "x\x00y", ".hidden", "a" * 200])
def test_bad_ids_never_touch_the_filesystem(tmp_path, bad):
    store = KeyStore(str(tmp_path))
    with pytest.raises(InvalidMinionId):
        store.offer(bad, _raw(), True, 10)
    assert not (tmp_path.parent / "etc").exists()


def test_identity_created_once_with_private_mode(tmp_path):
    k1 = load_or_create_identity(str(tmp_path), "minion")
    k2 = load_or_create_identity(str(tmp_path), "minion")
    assert public_bytes(k1.public_key()) == public_bytes(k2.public_key())
    assert (tmp_path / "minion.pem").stat().st_mode & 0o777 == 0o600
