"""pytest fixtures for real libvirtd + QEMU/KVM (see tests/cluster/libvirt.py).

``libvirt_hosts`` (session): two isolated libvirtd instances, ``{"h1": LibvirtHost, "h2": ...}``
(up in ~0.5 s with a warm QEMU capabilities cache; the first run on a machine primes it, ~4 s).
``virt_node`` (per test): a factory ``virt_node("h1") -> VirtNode`` giving a minion's function
table (the ``pvc call`` path) for that host, with its lifecycle-event watcher running and every
fired event collected in ``node.events``. After each test all guests on both hosts are removed.
Skips only when the kernel or privileges are missing (no /dev/kvm, not root).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from pvc.results import Return
from tests.cluster.libvirt import LibvirtHost, missing_kvm_support
from tests.cluster.wait import wait_for


@pytest.fixture(scope="session")
def libvirt_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LibvirtHost]]:
    reason = missing_kvm_support()
    if reason:
        pytest.skip(reason)
    import libvirt

    base = tmp_path_factory.mktemp("libvirt")
    hosts: dict[str, LibvirtHost] = {}
    try:
        first = hosts["h1"] = LibvirtHost(base / "h1", "h1", migration_port_min=49152).start()
        if not any(first.caps_dir.glob("*.xml")):  # cold cache: probe QEMU once, share with h2 and later runs
            conn = libvirt.open(first.uri)
            conn.getDomainCapabilities(None, "x86_64", None, "kvm")
            conn.close()
            first.save_caps_cache()
        hosts["h2"] = LibvirtHost(base / "h2", "h2", migration_port_min=49216).start()
        yield hosts
    finally:
        for host in hosts.values():
            host.stop()


@dataclass
class EventLog:
    """A list-append event sink, thread-safe, with a bounded wait for a tag."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, tag: str, data: Mapping[str, Any]) -> None:
        with self._lock:
            self.events.append((tag, dict(data)))

    def tags(self) -> list[str]:
        with self._lock:
            return [tag for tag, _ in self.events]

    def wait(self, tag: str, timeout: float = 30) -> dict[str, Any]:
        wait_for(lambda: tag in self.tags(), timeout, f"event {tag} (got {self.tags()})")
        with self._lock:
            return next(data for t, data in self.events if t == tag)


@dataclass
class VirtNode:
    """One simulated hypervisor: its libvirtd and a minion's functions configured for it."""

    host: LibvirtHost
    functions: MinionFunctions
    events: EventLog

    def call(self, fun: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``fun`` like ``pvc call`` does and return its data (failing the test on an error)."""
        ret = self.functions.call(fun, list(args), kwargs)
        assert ret.ok, f"{fun} failed: {ret.error_type}: {ret.error}"
        return ret.data

    def call_ret(self, fun: str, *args: Any, **kwargs: Any) -> Return:
        return self.functions.call(fun, list(args), kwargs)


@pytest.fixture
def virt_node(libvirt_hosts: dict[str, LibvirtHost], tmp_path: Path) -> Iterator[Callable[..., VirtNode]]:
    made: list[VirtNode] = []

    def make(name: str, **options: Any) -> VirtNode:
        host = libvirt_hosts[name]
        config = {"uri": host.uri, "console_dir": str(tmp_path / "console"), "migration_host": "127.0.0.1",
                  **options}
        events = EventLog()
        functions = MinionFunctions(MinionConfig(id=name, modules={"virt": config}), events=events, grains={})
        functions.start_hooks()
        node = VirtNode(host, functions, events)
        made.append(node)
        return node

    yield make
    _remove_guests(libvirt_hosts.values())
    for node in made:
        node.functions.close()


def _remove_guests(hosts: Any) -> None:
    import libvirt

    for host in hosts:
        conn = libvirt.open(host.uri)
        try:
            for dom in conn.listAllDomains():
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    dom.undefine()
        finally:
            conn.close()
