"""The minion config's ``beacons:`` section as typed beacons, validated once at start.

Each beacon has a name (the last part of its event tag), one check and an ``interval`` in
seconds (default 10)::

    beacons:
      root-disk: {disk: {path: /, max_percent: 90}, interval: 30}
      load:      {load: {max: 8, average: 5m}}
      memory:    {memory: {max_percent: 95}}
      frr:       {process: {name: bgpd}}
      ceph-mon:  {process: {pid_file: /run/ceph/mon.pid}}
      libvirtd:  {service: {name: libvirtd}}              # systemd hosts only
      hosts:     {file: {path: /etc/hosts}, interval: 5}

Example::

    parse_beacons(cfg.beacons)        # (Beacon(name="root-disk", interval=30.0, check=DiskCheck(...)), ...)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvc.errors import ConfigError
from pvc.minion.beacons.checks import CHECKS, Check
from pvc.typedconf import build, coerce

WHERE = "minion: beacons"
DEFAULT_INTERVAL = 10.0
MIN_INTERVAL, MAX_INTERVAL = 0.1, 86400.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Beacon:
    name: str
    interval: float
    check: Check


def parse_beacons(raw: Mapping[str, Any], where: str = WHERE) -> tuple[Beacon, ...]:
    return tuple(_beacon(name, entry, f"{where}.{name}") for name, entry in raw.items())


def _beacon(name: Any, entry: Any, where: str) -> Beacon:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: a beacon name is letters, digits, '_', '.', '-' (at most 64)")
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected {{CHECK: {{...}}, interval: SECONDS}} with CHECK one of "
                          f"{', '.join(CHECKS)}")
    kinds = [key for key in entry if key != "interval"]
    if len(kinds) != 1 or kinds[0] not in CHECKS:
        raise ConfigError(f"{where}: give exactly one check, one of {', '.join(CHECKS)} (got {', '.join(map(str, kinds)) or 'none'})")
    kind = kinds[0]
    interval = coerce(float, entry.get("interval", DEFAULT_INTERVAL), f"{where}: option 'interval'")
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ConfigError(f"{where}: interval must be between {MIN_INTERVAL} and {MAX_INTERVAL:g} seconds")
    check = build(CHECKS[kind], entry[kind], f"{where}.{kind}")
    check.validate(f"{where}.{kind}")
    return Beacon(name, interval, check)
