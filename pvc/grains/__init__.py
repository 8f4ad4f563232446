"""Grains: static facts about a minion, collected once at start-up, used for targeting (``-G``).

Each probe is a small function ``probe(host) -> dict`` reading files through a
:class:`~pvc.grains.host.Host`; :func:`collect` runs them all, then lays the minion config's
``grains:`` mapping on top (mappings merge key by key, other values replace; ``id`` always
stays the minion id). Collection never raises and never blocks: no subprocess, no DNS, no
heavy imports; a failing probe only leaves its grains out (logged at debug). It takes a few
milliseconds, which matters when hundreds of minions start at once.

Grains (Salt's names where Salt has one): ``id``, ``pvc_version``, ``os``, ``os_family``,
``osfullname``, ``osrelease``, ``osmajorrelease``, ``oscodename``, ``osfinger``, ``kernel``,
``kernelrelease``, ``kernelversion``, ``cpuarch``, ``nodename``, ``num_cpus``, ``cpus``,
``cpu_model``, ``mem_total``, ``swap_total`` (MiB), ``hostname``, ``host``, ``fqdn``, ``domain``,
``ipv4``, ``ipv6``, ``virtual``, ``virtual_subtype``, and the capability grains ``virt``,
``storage``, ``network`` with their ``*_caps`` details (see :mod:`pvc.grains.caps`).

Example::

    grains = collect(load_minion("/etc/pvc"))
    grains["os_family"], grains["virt"]         # ("Debian", ["kvm", "libvirt", "qemu"])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pvc import __version__
from pvc.grains import caps, hardware, netinfo, osinfo, virtual
from pvc.grains.host import Host
from pvc.grains.lookup import merge, plain

if TYPE_CHECKING:
    from pvc.config import MinionConfig

log = logging.getLogger(__name__)

Probe = Callable[[Host], dict[str, Any]]

PROBES: tuple[Probe, ...] = (
    osinfo.os_grains,
    hardware.kernel_grains,
    hardware.cpu_grains,
    hardware.mem_grains,
    netinfo.name_grains,
    netinfo.address_grains,
    virtual.detect,
    caps.virt_grains,
    caps.storage_grains,
    caps.network_grains,
)


# the Salt release whose SLS dialect pvc's states implement: public formulas gate features on
# these grains (``grains['saltversioninfo'] >= [2018, 3, 1]``)
SALT_DIALECT = {"saltversion": "3006.0", "saltversioninfo": [3006, 0]}


def probe_all(host: Host, probes: tuple[Probe, ...] = PROBES) -> dict[str, Any]:
    """Run every probe; one that fails is skipped (logged at debug), never raised."""
    grains: dict[str, Any] = {}
    for probe in probes:
        try:
            grains.update(probe(host))
        except Exception:  # a broken probe must not stop the minion
            log.debug("grain probe %s failed; its grains are left out", probe.__name__, exc_info=True)
    return grains


def collect(config: MinionConfig, host: Host | None = None) -> dict[str, Any]:
    """All grains of this minion: probed facts, then the config's custom grains on top."""
    start = time.perf_counter()
    grains = merge(probe_all(host or Host()), plain(config.grains))
    grains.update(id=config.id, pvc_version=__version__, **SALT_DIALECT)
    log.debug("grains collected in %.1f ms", (time.perf_counter() - start) * 1000)
    return grains
