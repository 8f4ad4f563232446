"""pvc.wire.sealed: numbered AEAD boxes between one minion and the master."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from pvc.crypto import Aead
from pvc.errors import AuthError, ProtocolError, ReplayError
from pvc.wire import sealed as sealed_mod
from pvc.wire.codec import decode, pack
from pvc.wire.inner import Ack, Bye, EventMsg, Heartbeat, JobBox, Pong, Rekey, Ret
from pvc.wire.messages import MASTER_CHANNEL_KINDS, Sealed
from pvc.wire.sealed import WINDOW, Channel, ReplayWindow
from tests.wire import samples

KEY = bytes(range(32))
MAX = 1 << 20


def box_of(data: bytes) -> Sealed:
    return Sealed.from_map(decode(data, MASTER_CHANNEL_KINDS, MAX))


@pytest.fixture
def pair() -> tuple[Channel, Channel]:
    """(minion end, master end) of one channel."""
    return Channel("web1", KEY), Channel("web1", KEY)


def test_round_trip_up(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    for rec in samples.UP_RECORDS:
        assert master.open_up(box_of(minion.seal_up(rec)), MAX) == rec


def test_round_trip_down(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    for rec in samples.DOWN_RECORDS:
        assert minion.open_down(box_of(master.seal_down(rec)), MAX) == rec


def test_boxes_are_numbered_per_direction(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    ups = [box_of(minion.seal_up(Bye())) for _ in range(3)]
    downs = [box_of(master.seal_down(Pong(1.0))) for _ in range(2)]
    assert [b.c for b in ups] == [0, 1, 2] and [b.c for b in downs] == [0, 1]
    assert len({b.ct for b in ups}) == 3  # same body, fresh nonce each time
    assert all(b.id == "web1" for b in ups + downs)


def test_a_record_of_the_other_direction_is_refused_by_the_receiver(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    # the sender does not check (Kinds.tagged takes any record); the receiver's table does
    with pytest.raises(ProtocolError, match="unknown message kind"):
        master.open_up(box_of(minion.seal_up(Ack(["j"]))), MAX)
    with pytest.raises(ProtocolError, match="unknown message kind"):
        minion.open_down(box_of(master.seal_down(Heartbeat())), MAX)


def test_replayed_box_refused(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    box = box_of(minion.seal_up(Ret("j1", samples.RET)))
    master.open_up(box, MAX)
    with pytest.raises(ReplayError):
        master.open_up(box, MAX)
    down = box_of(master.seal_down(Ack(["j1"])))
    minion.open_down(down, MAX)
    with pytest.raises(ReplayError):
        minion.open_down(down, MAX)


def test_out_of_order_within_the_window_accepted_once(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    boxes = [box_of(minion.seal_up(Heartbeat([f"vm{i}"]))) for i in range(6)]
    for i in (4, 1, 5, 0, 2, 3):
        assert master.open_up(boxes[i], MAX) == Heartbeat([f"vm{i}"])
    for i in range(6):
        with pytest.raises(ReplayError):
            master.open_up(boxes[i], MAX)


def test_window_edge(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    boxes = [box_of(minion.seal_up(Bye())) for _ in range(WINDOW + 2)]
    master.open_up(boxes[-1], MAX)  # number WINDOW + 1
    master.open_up(boxes[2], MAX)   # WINDOW - 1 behind: the oldest still inside
    for old in (boxes[0], boxes[1]):
        with pytest.raises(ReplayError, match="too old"):
            master.open_up(old, MAX)


def test_reflected_box_refused(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    up = box_of(minion.seal_up(Bye()))
    with pytest.raises(AuthError):
        minion.open_down(up, MAX)  # sent back to the minion as if from the master
    with pytest.raises(AuthError):
        master.open_down(up, MAX)
    down = box_of(master.seal_down(Pong(1.0)))
    with pytest.raises(AuthError):
        master.open_up(down, MAX)
    assert master.open_up(up, MAX) == Bye()  # the failures did not burn the number


def test_box_for_another_id_refused() -> None:
    m1, m2 = Channel("web1", KEY), Channel("web2", KEY)  # even under the same key
    box = box_of(m2.seal_up(Bye()))
    with pytest.raises(AuthError, match="another minion"):
        Channel("web1", KEY).open_up(box, MAX)
    relabelled = dataclasses.replace(box, id="web1")
    with pytest.raises(AuthError):
        Channel("web1", KEY).open_up(relabelled, MAX)  # the AAD binds the id
    assert Channel("web2", KEY).open_up(box, MAX) == Bye()
    assert m1.open_up(box_of(Channel("web1", KEY).seal_up(Bye())), MAX) == Bye()


def test_wrong_key_refused(pair: tuple[Channel, Channel]) -> None:
    minion, _ = pair
    with pytest.raises(AuthError):
        Channel("web1", b"\x01" * 32).open_up(box_of(minion.seal_up(Bye())), MAX)


def test_renumbered_or_tampered_box_refused(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    box = box_of(minion.seal_up(EventMsg("pvc/beacon/web1/x", {"a": 1})))
    for forged in (dataclasses.replace(box, c=box.c + 1), dataclasses.replace(box, ct=box.ct[:-1] + b"\x00"),
                   dataclasses.replace(box, ct=b""), dataclasses.replace(box, ct=box.ct[:15])):
        with pytest.raises(AuthError):
            master.open_up(forged, MAX)
    assert master.open_up(box, MAX).tag == "pvc/beacon/web1/x"


def test_a_failed_box_does_not_advance_the_window(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    first = box_of(minion.seal_up(Bye()))
    # a forgery numbered far ahead: if it moved the window, box 0 would be "too old"
    with pytest.raises(AuthError):
        master.open_up(Sealed("web1", 10 * WINDOW, b"\x00" * 40), MAX)
    with pytest.raises(AuthError):
        master.open_up(Sealed("web1", 2**63, first.ct), MAX)
    assert master.open_up(first, MAX) == Bye()
    # a forgery reusing a number not yet seen does not burn it either
    second = box_of(minion.seal_up(Heartbeat()))
    with pytest.raises(AuthError):
        master.open_up(dataclasses.replace(second, ct=second.ct[::-1]), MAX)
    assert master.open_up(second, MAX) == Heartbeat()


def _seal_raw(plain: bytes, c: int) -> Sealed:
    """An authentic box with an arbitrary body (what a buggy minion could send)."""
    aad = sealed_mod._UP + b"web1"
    ct = Aead(KEY).seal_with(sealed_mod._UP_NONCE + struct.pack(">Q", c), plain, aad)
    return Sealed("web1", c, ct)


@pytest.mark.parametrize("plain", [pack({"t": "nope"}), pack([1]), b"\xc1", pack({"t": "ret", "jid": 5}),
                                   pack({"t": "hb", "vms": [float("nan")]}), pack({"t": "ack", "jids": []})])
def test_authentic_box_with_a_bad_body_is_a_protocol_error(plain: bytes) -> None:
    with pytest.raises(ProtocolError):
        Channel("web1", KEY).open_up(_seal_raw(plain, 0), MAX)


def test_body_size_is_bounded(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    box = box_of(minion.seal_up(EventMsg("pvc/beacon/web1/x", {"pad": "x" * 10_000})))
    with pytest.raises(ProtocolError, match="exceeds"):
        master.open_up(box, 4096)


def test_sealed_jobs_and_rekeys_go_down(pair: tuple[Channel, Channel]) -> None:
    minion, master = pair
    assert minion.open_down(box_of(master.seal_down(JobBox(samples.JOB))), MAX) == JobBox(samples.JOB)
    rk = Rekey(3, b"\x09" * 32)
    assert minion.open_down(box_of(master.seal_down(rk)), MAX) == rk


# -- the window alone ---------------------------------------------------------------------------

def test_replay_window_unit() -> None:
    w = ReplayWindow()
    w.check(0)
    with pytest.raises(ReplayError):
        w.check(0)
    w.check(5)
    w.check(3)
    with pytest.raises(ReplayError):
        w.check(3)
    w.check(5 + WINDOW - 1)
    with pytest.raises(ReplayError, match="already received"):
        w.check(5)  # exactly WINDOW-1 behind, and seen
    w.check(6)  # WINDOW-2 behind, never seen
    with pytest.raises(ReplayError):
        w.check(4)  # WINDOW behind: too old even though never seen


def test_replay_window_huge_jump_and_bits_bounded() -> None:
    w = ReplayWindow()
    w.check(2**63)
    with pytest.raises(ReplayError):
        w.check(0)
    assert w.bits == 1
    w.check(2**63 - 1)
    assert w.bits.bit_length() <= WINDOW
    for c in range(2**63 + 1, 2**63 + 3 * WINDOW):
        w.check(c)
    assert w.bits.bit_length() <= WINDOW
