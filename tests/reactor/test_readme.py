"""The README's reactor and beacon examples are valid config and do what the README says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pvc.minion.beacons.checks import DiskCheck, LoadCheck, ProcessCheck
from pvc.minion.beacons.config import parse_beacons
from pvc.reactor.config import parse_reactor
from pvc.reactor.engine import Reactor
from pvc.reactor.render import Renderer

README = Path(__file__).resolve().parents[2] / "README.md"


def example(key: str) -> Any:
    """The indented block of the README's reactor section that starts with ``key:``."""
    text = README.read_text().split("## Reactors and beacons", 1)[1].split("\n## ", 1)[0]
    for block in re.findall(r"(?:^    .*\n)+", text, flags=re.MULTILINE):
        if block.startswith(f"    {key}:"):
            return yaml.safe_load("\n".join(line[4:] for line in block.splitlines()))[key]
    raise AssertionError(f"no {key}: example in the README")


def test_reactor_example_does_what_it_says() -> None:
    renderer = Renderer()
    reactor = Reactor(parse_reactor(example("reactor"), renderer), renderer)
    (dead,) = reactor.plan("pvc/node/hv2/dead", {"node": "hv2"}, 1.0)
    assert (dead.rule, dead.kind, dead.fields) == ("dead-node", "notify",
                                                   {"message": "node hv2 is dead", "level": "error"})
    (disk,) = reactor.plan("pvc/beacon/hv1/root-disk", {"path": "/", "percent": 93.5, "state": "crossed"}, 2.0)
    assert disk.fields["message"] == "disk / of hv1: 93.5% (crossed)"
    (vm,) = reactor.plan("pvc/vm/web1/failed", {"reason": "crashed 3 times"}, 3.0)
    assert (vm.kind, vm.fields) == ("runner", {"name": "vm.start", "args": ["web1"], "kwargs": {}})


def test_beacon_example_parses() -> None:
    beacons = {b.name: b for b in parse_beacons(example("beacons"))}
    assert beacons["root-disk"].check == DiskCheck("/", 90) and beacons["root-disk"].interval == 30
    assert beacons["load"].check == LoadCheck(16, "5m")
    assert beacons["libvirtd"].check == ProcessCheck(name="libvirtd")
