"""pvc.minion.mineschedule: a plain minion imports no mine code at start; one with
mine_functions schedules them, and a bad entry stops it at start with the reason."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pvc.config import minion_from_mapping
from pvc.errors import ConfigError
from pvc.minion.daemon import MinionProcess

PROBE = """
import sys
from pvc.config import minion_from_mapping
from pvc.minion.daemon import MinionProcess
cfg = minion_from_mapping({{"id": "hv1", "root_dir": {root!r}, "master": "127.0.0.1", "master_port": 1,
                           "mine_functions": {mine!r}}}, {root!r})
proc = MinionProcess(cfg)
print(proc.mine is not None, sorted(m for m in sys.modules if m in ("pvc.minion.mineschedule", "pvc.modules.mine")))
proc.close()
"""


def probe(root: str, mine: dict) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=root, mine=mine)], capture_output=True, text=True,
                         check=True, timeout=60)
    return out.stdout.strip()


def test_only_a_minion_with_mine_functions_loads_the_mine(tmp_path) -> None:
    assert probe(str(tmp_path / "plain"), {}) == "False []"
    assert probe(str(tmp_path / "mine"), {"grains.items": []}) == "True ['pvc.minion.mineschedule', 'pvc.modules.mine']"


@pytest.mark.parametrize(("functions", "interval", "message"), [
    ({"x": "grains.items"}, 60, "mine_functions.x: give a list"),
    ({"alias": {"mine_function": "nodot"}}, 60, "name an execution function"),
    ({"loop": {"mine_function": "mine.update"}}, 60, "not mine"),
    ({"grains.items": []}, 0, "mine_interval must be a positive"),
])
def test_bad_mine_config_stops_the_minion_at_start(tmp_path, functions, interval, message) -> None:
    cfg = minion_from_mapping({"id": "hv1", "root_dir": str(tmp_path), "master": "127.0.0.1", "master_port": 1,
                               "mine_functions": functions, "mine_interval": interval}, tmp_path)
    with pytest.raises(ConfigError, match=message):
        MinionProcess(cfg)
