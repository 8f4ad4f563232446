"""pytest fixtures for real libvirtd + QEMU/KVM (see tests/cluster/libvirt.py).

``libvirt_hosts`` (session): two isolated libvirtd instances, ``{"h1": LibvirtHost, "h2": ...}``
(up in ~0.5 s with a warm QEMU capabilities cache; the first run on a machine primes it, ~4 s).
``bridged_libvirt_host`` (session, on first use): a third instance inside its own network
namespace (``host.netns``) holding the bridge :data:`BRIDGE`, for guests with NICs.
``virt_node`` (per test): a factory ``virt_node("h1" | LibvirtHost) -> VirtNode`` giving a
minion's function table (the ``pvc call`` path) for that host, with its lifecycle-event watcher
running and every fired event collected in ``node.events``. After each test all guests on the
hosts used are removed. ``fake_virt_node`` (per test): the same on libvirt's in-process test
driver with fresh state (no daemon, no events, no migration). Skips only when the kernel or
privileges are missing (no /dev/kvm, not root).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
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
        if "h1" in hosts:
            hosts["h1"].save_caps_cache()  # refreshed when QEMU or its modules changed since the last run
        for host in hosts.values():
            host.stop()


BRIDGE = "pvcbr0"


@pytest.fixture(scope="session")
def bridged_libvirt_host(libvirt_hosts: dict[str, LibvirtHost],
                         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LibvirtHost]:
    from tests.cluster.net import NetLab

    with NetLab() as lab:
        netns = lab.netns("hv")
        lab.bridge(netns, BRIDGE, "10.231.0.1/24")
        with LibvirtHost(tmp_path_factory.mktemp("libvirt-bridged"), "hb", migration_port_min=49344,
                         netns=netns) as host:
            yield host


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
    """One simulated hypervisor: a minion's functions configured for one libvirt URI."""

    uri: str
    functions: MinionFunctions
    events: EventLog
    host: LibvirtHost | None = None

    def call(self, fun: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``fun`` like ``pvc call`` does and return its data (failing the test on an error)."""
        ret = self.functions.call(fun, list(args), kwargs)
        assert ret.ok, f"{fun} failed: {ret.error_type}: {ret.error}"
        return ret.data

    def call_ret(self, fun: str, *args: Any, **kwargs: Any) -> Return:
        return self.functions.call(fun, list(args), kwargs)


def make_virt_node(node_id: str, uri: str, console_dir: Path, host: LibvirtHost | None = None,
                   **options: Any) -> VirtNode:
    """A :class:`VirtNode` whose start hooks (the event watcher) already run; close its functions."""
    config = {"uri": uri, "console_dir": str(console_dir), "migration_host": "127.0.0.1", **options}
    events = EventLog()
    functions = MinionFunctions(MinionConfig(id=node_id, modules={"virt": config}), events=events, grains={})
    functions.start_hooks()
    return VirtNode(uri, functions, events, host)


@pytest.fixture
def virt_node(libvirt_hosts: dict[str, LibvirtHost], tmp_path: Path) -> Iterator[Callable[..., VirtNode]]:
    made: list[VirtNode] = []

    def make(host: str | LibvirtHost, **options: Any) -> VirtNode:
        found = libvirt_hosts[host] if isinstance(host, str) else host
        node = make_virt_node(found.name, found.uri, tmp_path / "console", found, **options)
        made.append(node)
        return node

    yield make
    hosts = list(libvirt_hosts.values())
    for node in made:
        if node.host is not None and node.host not in hosts:
            hosts.append(node.host)
    _remove_guests(hosts)
    for node in made:
        node.functions.close()


@pytest.fixture
def fake_virt_node(tmp_path: Path) -> Iterator[VirtNode]:
    node_xml = tmp_path / "node.xml"  # test:///<file> gives each connection fresh, private state
    node_xml.write_text("<node><cpu><mhz>2000</mhz></cpu><memory>8388608</memory></node>")
    node = make_virt_node("fake", f"test://{node_xml}", tmp_path / "console", events=False)
    yield node
    node.functions.close()


def _remove_guests(hosts: Iterable[LibvirtHost]) -> None:
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
