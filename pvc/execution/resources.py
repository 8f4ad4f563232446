"""Per-minion cache of long-lived backend handles (a libvirt connection, a rados cluster).

Adapters take one of these (and a URI or a config), never a job context: the minion's executor,
the state engine and the lab can all hand them the same cache.

Example::

    resources = Resources()
    conn = resources.get("libvirt:qemu:///system", lambda: libvirt.open("qemu:///system"))
    resources.drop("libvirt:qemu:///system")     # it broke: the next get() reopens it
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any


class Resources:
    """Handles by name, opened by the first caller's factory and reused after that.

    Shared by all contexts of one minion; thread-safe because jobs run in a pool.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Any] = {}

    def get(self, name: str, factory: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._items:
                self._items[name] = factory()
            return self._items[name]

    def drop(self, name: str) -> None:
        """Forget a handle (e.g. after its connection broke) so the next call reopens it."""
        with self._lock:
            item = self._items.pop(name, None)
        _close(item)

    def close(self) -> None:
        with self._lock:
            items, self._items = list(self._items.values()), {}
        for item in items:
            _close(item)


def _close(item: Any) -> None:
    for attr in ("close", "shutdown"):
        fn = getattr(item, attr, None)
        if callable(fn):
            with suppress(Exception):  # closing a broken handle must not mask the real error
                fn()
            return
