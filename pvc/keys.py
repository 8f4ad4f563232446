"""Key files: each daemon's own Ed25519 identity, and the text form of public keys.

Key files hold the raw 32-byte Ed25519 key in base64 between ``-----BEGIN PVC ED25519 ...
KEY-----`` lines (the seed libsodium derives the key pair from): nothing needs PKCS#8, and
parsing it would mean a second crypto library in every daemon. (The master's store of minion
keys is :mod:`pvc.master.keystore`.)

Example::

    key = load_or_create_identity("/var/lib/pvc/pki/minion", "minion")   # made on first start
"""

from __future__ import annotations

import base64
import os

from pvc.crypto import Ed25519PrivateKey, load_public, public_bytes
from pvc.errors import PvcError

_PRIVATE = "PVC ED25519 PRIVATE KEY"
_PUBLIC = "PVC ED25519 PUBLIC KEY"


def _armor(label: str, raw: bytes) -> bytes:
    return f"-----BEGIN {label}-----\n{base64.b64encode(raw).decode()}\n-----END {label}-----\n".encode()


def _unarmor(label: str, data: bytes, where: object) -> bytes:
    lines = data.decode("ascii", "replace").strip().splitlines()
    if len(lines) != 3 or lines[0] != f"-----BEGIN {label}-----" or lines[2] != f"-----END {label}-----":
        raise PvcError(f"{where}: not a {label.lower()} file")
    try:
        raw = base64.b64decode(lines[1], validate=True)
    except ValueError:
        raise PvcError(f"{where}: key is not valid base64") from None
    if len(raw) != 32:
        raise PvcError(f"{where}: key must be 32 bytes")
    return raw


def public_pem(raw: bytes) -> bytes:
    """The text form of a raw Ed25519 public key, as written to key files."""
    load_public(raw)
    return _armor(_PUBLIC, raw)


def raw_from_pem(data: bytes, where: object = "key file") -> bytes:
    return _unarmor(_PUBLIC, data, where)


def load_or_create_identity(pki_dir: str, name: str) -> Ed25519PrivateKey:
    """Load ``<name>.pem`` or create it (0600) together with ``<name>.pub`` on first start."""
    os.makedirs(pki_dir, mode=0o700, exist_ok=True)
    pem = os.path.join(pki_dir, f"{name}.pem")
    if os.path.exists(pem):
        with open(pem, "rb") as fh:
            return Ed25519PrivateKey.from_private_bytes(_unarmor(_PRIVATE, fh.read(), pem))
    key = Ed25519PrivateKey.generate()
    tmp = pem + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_armor(_PRIVATE, key.private_bytes_raw()))
    os.replace(tmp, pem)
    with open(os.path.join(pki_dir, f"{name}.pub"), "wb") as fh:
        fh.write(public_pem(public_bytes(key.public_key())))
    return key
