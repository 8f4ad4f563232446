"""A state run as Salt returns it: ``{tag: {result, comment, changes, name, __id__, ...}}``.

This is the data ``state.apply`` returns over the wire and what ``--out json`` prints, so
scripts written for Salt's highstate JSON read pvc's unchanged. ``duration`` is in
milliseconds and ``start_time`` is ``HH:MM:SS.ffffff``, as in Salt.

Example::

    salt_shape(run, started=time.time())
    # {"file_|-motd_|-/etc/motd_|-managed": {"result": True, "__run_num__": 0, ...}}
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pvc.states.chunks import Chunk
from pvc.states.result import StateRun


def salt_shape(run: StateRun, started: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    at = started
    for item in run.results:
        res, chunk = item.result, item.chunk
        stamp = time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at % 1 * 1e6):06d}"
        entry: dict[str, Any] = {
            "__id__": chunk.id, "__run_num__": item.run_num, "__sls__": chunk.sls, "name": chunk.name,
            "result": res.result, "comment": res.comment, "changes": dict(res.changes),
            "duration": round(res.duration * 1000, 3), "start_time": stamp,
        }
        if res.warnings:
            entry["warnings"] = list(res.warnings)
        out[chunk.tag] = entry
        at += res.duration
    return out


def high_shape(chunks: list[Chunk], saltenv: str = "base") -> dict[str, Any]:
    """Salt's ``state.show_sls`` view of compiled chunks: id -> state -> [args..., fun]."""
    out: dict[str, Any] = {}
    for chunk in chunks:
        entry = out.setdefault(chunk.id, {"__sls__": chunk.sls, "__env__": saltenv})
        args: list[Any] = [{"name": chunk.name}] if chunk.name != chunk.id else []
        args += [{k: v} for k, v in chunk.args.items() if k != "name"]
        args += [{req.kind: [{req.state or "id": req.target}]} for req in chunk.requisites]
        args += [chunk.fun, {"order": chunk.order}]
        entry[chunk.state] = args
    return out


def failed(data: Mapping[str, Any]) -> bool:
    """Whether a Salt-shaped run has a failed state (Salt's exit code 2)."""
    return any(isinstance(v, Mapping) and v.get("result") is False for v in data.values())
