"""``bench.authwatch``: when the master heard the last of N session starts, each id once."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import msgpack
import zmq

from bench.authwatch import AuthWatch
from pvc import events


def _bus(tmp_path: Path) -> zmq.Socket:
    """A stand-in for the master's event bus: an XPUB at ``<sock_dir>/events.ipc``."""
    sock = zmq.Context.instance().socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(f"ipc://{tmp_path / 'events.ipc'}")
    return sock


def _fire(bus: zmq.Socket, tag: str) -> None:
    bus.send_multipart([tag.encode(), msgpack.packb({"tag": tag, "data": {}})])


def test_each_id_counts_once_and_other_events_not_at_all(tmp_path: Path) -> None:
    bus = _bus(tmp_path)
    try:
        watch = AuthWatch(SimpleNamespace(sock_dir=str(tmp_path)), ["a", "b"], timeout=30)  # type: ignore[arg-type]
        assert bus.poll(5000) and bus.recv()  # its subscription arrived: nothing fired is missed
        watch.start()
        for tag in (events.minion("a", "start"), events.minion("b", "stop"), events.minion("x", "start"),
                    events.minion("a", "start"), "pvc/minion/a/start/more"):
            _fire(bus, tag)
        time.sleep(0.3)
        assert watch.heard.keys() == {"a"}
        _fire(bus, events.minion("b", "start"))
        deadline = time.monotonic() + 5
        while len(watch.heard) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        result = watch.result()
        assert result["heard"] == result["of"] == 2 and 0 < result["seconds"] < 5
    finally:
        bus.close(0)


def test_not_all_heard_gives_no_time(tmp_path: Path) -> None:
    bus = _bus(tmp_path)
    try:
        watch = AuthWatch(SimpleNamespace(sock_dir=str(tmp_path)), ["a", "b"], timeout=30)  # type: ignore[arg-type]
        assert bus.poll(5000) and bus.recv()
        watch.start()
        _fire(bus, events.minion("a", "start"))
        time.sleep(0.3)
        assert watch.result() == {"seconds": None, "heard": 1, "of": 2}
    finally:
        bus.close(0)
