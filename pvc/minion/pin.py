"""The minion's pin on the master key: by fingerprint from config, or trust on first use.

With ``master_finger`` set, only a master key with that fingerprint is ever accepted. Without
it, the first master key seen is written to ``minion_master.pub`` and every later key must be
identical (a changed master key is refused and logged, never silently adopted).
"""

from __future__ import annotations

import logging
import os

from pvc.crypto import Ed25519PublicKey, fingerprint, load_public
from pvc.errors import AuthError
from pvc.keys import public_pem, raw_from_pem

log = logging.getLogger(__name__)


class MasterPin:
    def __init__(self, pki_dir: str, finger: str) -> None:
        self.path = os.path.join(pki_dir, "minion_master.pub")
        self.finger = finger.lower().strip()
        self.raw: bytes | None = None
        if os.path.exists(self.path):
            with open(self.path, "rb") as fh:
                self.raw = raw_from_pem(fh.read(), self.path)
        if self.raw is not None and self.finger and fingerprint(self.raw) != self.finger:
            raise AuthError(f"{self.path} does not match master_finger {self.finger}")
        self.key: Ed25519PublicKey | None = load_public(self.raw) if self.raw else None

    def check(self, raw: bytes) -> Ed25519PublicKey:
        """Return the master key if ``raw`` may be used; :meth:`commit` pins it once the reply
        it came with has been verified."""
        if self.raw is not None:
            if raw != self.raw:
                raise AuthError("master key differs from the pinned key: refusing this master")
            assert self.key is not None
            return self.key
        if self.finger and fingerprint(raw) != self.finger:
            raise AuthError(f"master key fingerprint {fingerprint(raw)} does not match master_finger")
        return load_public(raw)

    def commit(self, raw: bytes) -> None:
        if self.raw is None:
            with open(self.path, "wb") as fh:
                fh.write(public_pem(raw))
            self.raw, self.key = raw, load_public(raw)
            log.info("pinned master key %s", fingerprint(raw))
