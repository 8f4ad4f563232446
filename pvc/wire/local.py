"""Messages between local clients (CLI, Python API) and the master, over a 0700 IPC socket.

Filesystem permissions on the socket directory are the authentication here (like Salt's
``sock_dir``): only root (or the master's user) can connect. Requests are still validated
strictly, because a bug in a client must not crash the master.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pvc.errors import InvalidArgument
from pvc.wire.codec import field

CLIENT_SOCKET = "client.ipc"
REQUEST_KINDS = frozenset({"publish", "job_get", "job_list", "keys_changed", "event_fire", "expected", "ping"})
REPLY_KINDS = frozenset({"published", "ret", "done", "job", "jobs", "ok", "error", "minions"})
_FUN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*\Z")


def validate_fun(fun: str) -> str:
    if not isinstance(fun, str) or not _FUN_RE.match(fun):
        raise InvalidArgument(f"'{fun}' is not a function name: use module.function, e.g. test.ping")
    return fun


@dataclass(frozen=True)
class PublishRequest:
    tgt: str
    tgt_type: str
    fun: str
    args: list[Any]
    kwargs: dict[str, Any]
    timeout: float
    stream: bool

    def to_map(self) -> dict[str, Any]:
        return {"tgt": self.tgt, "tgt_type": self.tgt_type, "fun": self.fun, "args": self.args,
                "kwargs": self.kwargs, "timeout": self.timeout, "stream": self.stream}

    @classmethod
    def from_msg(cls, m: dict[str, Any]) -> PublishRequest:
        timeout = float(field(m, "timeout", (int, float)))
        if not 0 < timeout <= 86400:
            raise InvalidArgument("timeout must be between 0 and 86400 seconds")
        return cls(field(m, "tgt", str, 8192), field(m, "tgt_type", str, 16), validate_fun(field(m, "fun", str, 256)),
                   field(m, "args", list), field(m, "kwargs", dict), timeout, bool(m.get("stream", True)))
