"""pvc.master.zap: who may finish a CURVE handshake, how often, and the ROUTER's routing ids."""

from __future__ import annotations

import subprocess
import sys

import zmq

from pvc.master.zap import CHANNEL_DOMAIN, HANDSHAKES_PER_AUTH, ZapHandler

KEY = b"k" * 32


def _ask(zap: ZapHandler, client: zmq.Socket, key: bytes) -> bytes:
    """One ZAP request for ``key``, as libzmq sends it; returns the status code."""
    zap_peer = b"libzmq"
    zap.handle([zap_peer, b"", b"1.0", b"1", CHANNEL_DOMAIN, b"127.0.0.1", b"", b"CURVE", key], 0.0)
    reply = client.recv_multipart()
    return reply[3]


def test_a_key_completes_a_few_handshakes_per_auth() -> None:
    ctx = zmq.Context()
    zap = ZapHandler(ctx)
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.ROUTING_ID, b"libzmq")
    client.setsockopt(zmq.LINGER, 0)
    client.connect("inproc://zeromq.zap.01")
    client.send(b"hello")  # the ROUTER learns the peer
    zap.sock.recv_multipart()
    try:
        assert _ask(zap, client, KEY) == b"400"  # no auth yet
        zap.allow("m1", KEY)
        assert [_ask(zap, client, KEY) for _ in range(HANDSHAKES_PER_AUTH + 2)] == \
            [b"200"] * HANDSHAKES_PER_AUTH + [b"400", b"400"]
        zap.allow("m1", KEY)  # a new auth, a new budget
        assert _ask(zap, client, KEY) == b"200"
        zap.revoke("m1")
        assert _ask(zap, client, KEY) == b"400"
    finally:
        client.close(0)
        zap.close()
        ctx.term()


_FIRST_ID = """
import sys, zmq
if sys.argv[1] == "seeded":
    from pvc.master.zap import unpredictable_routing_ids
    unpredictable_routing_ids()
c = zmq.Context(); r = c.socket(zmq.ROUTER); port = r.bind_to_random_port("tcp://127.0.0.1")
d = c.socket(zmq.DEALER); d.connect(f"tcp://127.0.0.1:{port}"); d.send(b"x")
print(r.recv_multipart()[0].hex())
"""


def test_routing_ids_are_unpredictable_once_seeded() -> None:
    """Unseeded, libzmq names the first connection of a process's first ROUTER the same on
    every run (what a peer would claim); seeded, each run starts elsewhere."""
    def first_id(mode: str) -> str:
        return subprocess.run([sys.executable, "-c", _FIRST_ID, mode], capture_output=True, text=True,
                              check=True, timeout=60).stdout.strip()

    assert first_id("plain") == first_id("plain")
    seeded = {first_id("seeded") for _ in range(3)}
    assert len(seeded) == 3
