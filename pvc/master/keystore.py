"""The master's store of minion public keys, one file per key and state (like Salt's).

Layout of the master's ``pki_dir``::

    master.pem  master.pub          the master identity (0600 / 0644)
    minions/<id>                    accepted minion public keys
    minions_pre/<id>                pending (offered, not yet accepted)
    minions_rejected/<id>           rejected
    minions_denied/<id>             a different key offered for an already accepted id

Paths are built only from ids that passed :func:`pvc.ids.validate_minion_id`.

Example::

    store = KeyStore("/var/lib/pvc/pki/master")
    store.offer("web1", raw_pub, auto_accept=False, max_pending=1000)    # -> "pending"
    store.accept("web*")                                                  # -> ["web1"]
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from pvc.crypto import fingerprint
from pvc.errors import InvalidMinionId, KeyStateError
from pvc.ids import validate_minion_id
from pvc.keys import public_pem, raw_from_pem
from pvc.wire.auth import ACCEPTED, BUSY, DENIED, PENDING, REJECTED

STATE_DIRS = {
    ACCEPTED: "minions",
    PENDING: "minions_pre",
    REJECTED: "minions_rejected",
    DENIED: "minions_denied",
}


@dataclass(frozen=True)
class KeyInfo:
    id: str
    state: str
    raw: bytes

    @property
    def finger(self) -> str:
        return fingerprint(self.raw)


class KeyStore:
    """The files are the truth; an in-memory index, read once, answers every lookup (an auth
    costs no directory listing or file read: O(1) per key). Another process (``pvc key``)
    changes the files and then tells the master, which calls :meth:`reload`."""

    def __init__(self, pki_dir: str) -> None:
        self.root = Path(pki_dir)
        for sub in STATE_DIRS.values():
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._index: dict[str, dict[str, bytes]] | None = None

    def _path(self, state: str, mid: str) -> Path:
        return self.root / STATE_DIRS[state] / validate_minion_id(mid)

    @property
    def index(self) -> dict[str, dict[str, bytes]]:
        if self._index is None:
            self._index = {state: self._scan(state) for state in STATE_DIRS}
        return self._index

    def _scan(self, state: str) -> dict[str, bytes]:
        keys = {}
        for p in (self.root / STATE_DIRS[state]).iterdir():
            if not p.name.startswith("."):
                try:
                    keys[validate_minion_id(p.name)] = raw_from_pem(p.read_bytes(), p)
                except (FileNotFoundError, InvalidMinionId):
                    continue
        return keys

    def reload(self) -> None:
        """Forget the index: the next lookup reads the files again."""
        self._index = None

    def get(self, mid: str, state: str) -> bytes | None:
        return self.index[state].get(mid)

    def put(self, state: str, mid: str, raw: bytes) -> None:
        """Write ``mid``'s key in ``state`` (file and index)."""
        path = self._path(state, mid)
        tmp = path.with_name(f".{mid}.tmp")
        tmp.write_bytes(public_pem(raw))
        os.replace(tmp, path)
        self.index[state][mid] = raw

    def remove(self, state: str, mid: str) -> None:
        self._path(state, mid).unlink(missing_ok=True)
        self.index[state].pop(mid, None)

    def count(self, state: str) -> int:
        return len(self.index[state])

    def offer(self, mid: str, raw: bytes, auto_accept: bool, max_pending: int) -> str:
        """Record a key offered at auth and return the resulting state (Salt's rules)."""
        accepted = self.get(mid, ACCEPTED)
        if accepted is not None:
            if accepted == raw:
                return ACCEPTED
            self.put(DENIED, mid, raw)
            return DENIED
        if self.get(mid, REJECTED) is not None:
            return REJECTED
        if auto_accept:
            self.put(ACCEPTED, mid, raw)
            self.remove(PENDING, mid)
            return ACCEPTED
        pending = self.get(mid, PENDING)
        if pending is None:
            if self.count(PENDING) >= max_pending:
                return BUSY
            self.put(PENDING, mid, raw)
        elif pending != raw:
            # the first key offered is the one the operator checks with `pvc key finger`; a
            # second, different offer may be an attacker's, so it never replaces the first
            # (Salt's rule): it goes to denied, where the operator can see it
            self.put(DENIED, mid, raw)
            return DENIED
        return PENDING

    def find(self, pattern: str = "*", states: tuple[str, ...] = tuple(STATE_DIRS)) -> list[KeyInfo]:
        out: list[KeyInfo] = []
        for state in states:
            keys = self.index[state]
            out.extend(KeyInfo(mid, state, keys[mid]) for mid in sorted(keys) if fnmatch.fnmatchcase(mid, pattern))
        return out

    def _move(self, pattern: str, sources: tuple[str, ...], dest: str) -> list[str]:
        moved = []
        for info in self.find(pattern, sources):
            if dest == ACCEPTED and self.get(info.id, ACCEPTED) is not None:
                continue
            self.put(dest, info.id, info.raw)
            self.remove(info.state, info.id)
            moved.append(info.id)
        return moved

    def accept(self, pattern: str, include_rejected: bool = False, finger: str | None = None) -> list[str]:
        """Accept pending keys matching ``pattern``; with ``finger``, only the key with that
        fingerprint (so the key accepted is the one the operator checked)."""
        sources = (PENDING, REJECTED) if include_rejected else (PENDING,)
        if finger is not None:
            want = finger.lower().strip()
            matching = [k for k in self.find(pattern, sources) if k.finger == want]
            if not matching:
                raise KeyStateError(f"no pending key matching '{pattern}' has fingerprint {want}")
            return [mid for k in matching for mid in self._move(k.id, (k.state,), ACCEPTED)]
        return self._move(pattern, sources, ACCEPTED)

    def reject(self, pattern: str, include_accepted: bool = False) -> list[str]:
        sources = (PENDING, ACCEPTED) if include_accepted else (PENDING,)
        return self._move(pattern, sources, REJECTED)

    def delete(self, pattern: str) -> list[str]:
        gone = []
        for info in self.find(pattern):
            self.remove(info.state, info.id)
            gone.append(info.id)
        return sorted(set(gone))

    def require(self, pattern: str) -> list[KeyInfo]:
        found = self.find(pattern)
        if not found:
            raise KeyStateError(f"no key matches '{pattern}'")
        return found
