"""Kernel, CPU and memory grains (Salt's names; ``mem_total`` in MiB as in Salt).

Example::

    parse_meminfo("MemTotal:  16318780 kB\\n")["MemTotal"]     # 16318780 (kB)
"""

from __future__ import annotations

import os
import platform
from typing import Any

from pvc.grains.host import Host


def parse_cpuinfo(text: str) -> dict[str, str]:
    """``/proc/cpuinfo`` fields, first occurrence wins: the first CPU's ``model name`` and
    ``flags``, plus trailer fields some architectures print once (ARM's ``Model``)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` as ``{field: kB}``."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        number = value.split()[0] if sep and value.split() else ""
        if number.isdigit():
            fields[key.strip()] = int(number)
    return fields


def kernel_grains(host: Host) -> dict[str, Any]:
    """``kernel`` (``Linux``), ``kernelrelease``, ``kernelversion``, ``cpuarch``, ``nodename``."""
    uname = os.uname()
    return {
        "kernel": platform.system(),
        "kernelrelease": uname.release,
        "kernelversion": uname.version,
        "cpuarch": uname.machine,
        "nodename": uname.nodename,
    }


def cpu_grains(host: Host) -> dict[str, Any]:
    """``num_cpus`` (online CPUs; ``cpus`` is the same number under pvc's short name) and
    ``cpu_model``."""
    count = os.cpu_count() or 1
    grains: dict[str, Any] = {"num_cpus": count, "cpus": count}
    info = parse_cpuinfo(host.read("/proc/cpuinfo") or "")
    model = info.get("model name") or info.get("Model") or info.get("cpu model") or info.get("cpu")
    if model:
        grains["cpu_model"] = model
    return grains


def mem_grains(host: Host) -> dict[str, Any]:
    """``mem_total`` and ``swap_total`` in MiB."""
    info = parse_meminfo(host.read("/proc/meminfo") or "")
    if "MemTotal" not in info:
        return {}
    return {"mem_total": info["MemTotal"] // 1024, "swap_total": info.get("SwapTotal", 0) // 1024}
