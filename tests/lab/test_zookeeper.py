"""The lab's ZooKeeper start: a server that exits before it serves is started once more, and a
second exit is reported with how it ended and its log. Real servers (Debian's jars) on
127.0.0.1; the first exit is a real one, caused by a config ZooKeeper rejects, repaired by the
progress hook (standing in for whatever killed the server the first time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvc.lab import zookeeper
from pvc.lab.state import ZkServer
from tests.cluster.ports import free_port

ADDRESS = "127.0.0.1"


def _broken(server: ZkServer) -> str:
    """Make ``server``'s config one ZooKeeper refuses; returns the good one."""
    cfg = Path(server.dir) / "zoo.cfg"
    good = cfg.read_text()
    cfg.write_text(good.replace(f"clientPort={server.client_port}", "clientPort=not-a-port"))
    return good


def test_a_server_that_exits_is_started_once_more(tmp_path: Path) -> None:
    (server,) = zookeeper.configure(tmp_path, ADDRESS, 1, lambda _usual: free_port())
    good = _broken(server)
    said: list[str] = []

    def repair(msg: str) -> None:
        said.append(msg)
        (Path(server.dir) / "zoo.cfg").write_text(good)

    (started,) = zookeeper.start_ready(ADDRESS, [server], say=repair)
    try:
        assert zookeeper.mode(ADDRESS, started.client_port) == "standalone"
        assert len(said) == 1 and "ZooKeeper 1" in said[0] and "exit code" in said[0], said
        assert said[0].startswith("starting ZooKeeper 1 once more: ZooKeeper 1 (pid ")
    finally:
        assert zookeeper.stop(started)


def test_a_second_exit_says_how_it_ended_and_quotes_the_log(tmp_path: Path) -> None:
    (server,) = zookeeper.configure(tmp_path, ADDRESS, 1, lambda _usual: free_port())
    _broken(server)
    with pytest.raises(zookeeper.ServerExited) as caught:
        zookeeper.start_ready(ADDRESS, [server])
    msg = str(caught.value)
    assert caught.value.server == 1 and "exit code" in msg and "not-a-port" in msg, msg
