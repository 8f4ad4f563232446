"""Length-prefixed frames over a raw TCP stream: the enrolment port's framing.

The enrolment port is where strangers talk to the master, so its framing is ours, not
ZeroMQ's: ZeroMQ bounds each frame of a message (``ZMQ_MAXMSGSIZE``) but buffers an endless
multi-part message without limit. Here every frame is ``<u32 length><payload>`` and the
receiver keeps at most one frame's bytes per connection; a length over the limit ends the
connection before any of it is read.

Example::

    d = Deframer(max_frame=4096)
    d.feed(frame(b"hello") + frame(b"wor")[:5])    # [b"hello"]; the rest waits
"""

from __future__ import annotations

import struct

from pvc.errors import ProtocolError

_HEADER = struct.Struct(">I")


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


class Deframer:
    """Reassembles frames from stream chunks, holding at most ``4 + max_frame`` bytes."""

    __slots__ = ("_buf", "max_frame")

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The complete frames ``data`` finishes; ProtocolError if a frame is too long."""
        self._buf += data
        out = []
        while len(self._buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buf)
            if size > self.max_frame:
                raise ProtocolError(f"frame of {size} bytes exceeds the limit of {self.max_frame}")
            end = _HEADER.size + size
            if len(self._buf) < end:
                break
            out.append(bytes(self._buf[_HEADER.size:end]))
            del self._buf[:end]
        return out
