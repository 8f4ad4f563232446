"""The merge of custom grains onto probed ones, and grains as plain wire-safe data.

(Colon-path lookup, ``traverse``, lives in :mod:`pvc.targeting.grainpath`: grain targets use it,
and target matching must not import the probes.)

Example::

    merge({"virt_caps": {"kvm": True}}, {"virt_caps": {"qemu": True}})
    # {"virt_caps": {"kvm": True, "qemu": True}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` on top of ``base``: mappings merge key by key (recursively), anything else
    in ``overlay`` (a string, a list) replaces the value in ``base``."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def plain(value: Any) -> Any:
    """A deep copy built of dicts and lists only. Config mappings are read-only proxies, which
    neither ``copy.deepcopy`` nor msgpack accept; grains must travel on the wire."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
