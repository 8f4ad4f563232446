"""Kernel, CPU and memory grains: parsers and this machine's values."""

from __future__ import annotations

import os
from pathlib import Path

from pvc.grains.hardware import cpu_grains, kernel_grains, mem_grains, parse_cpuinfo, parse_meminfo
from pvc.grains.host import Host
from tests.grains.trees import make_host


def test_this_machine() -> None:
    host = Host()
    kernel = kernel_grains(host)
    assert kernel["kernel"] == "Linux" and kernel["kernelrelease"] == os.uname().release
    assert kernel["cpuarch"] == os.uname().machine
    cpus = cpu_grains(host)
    assert cpus["num_cpus"] == cpus["cpus"] == os.cpu_count()
    mem = mem_grains(host)
    total_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    assert mem["mem_total"] == total_kb // 1024 > 0


def test_parsers() -> None:
    info = parse_cpuinfo("processor\t: 0\nmodel name\t: Fancy CPU\nflags\t\t: fpu hypervisor\n\n"
                         "processor\t: 1\nmodel name\t: Other\n")
    assert info == {"processor": "0", "model name": "Fancy CPU", "flags": "fpu hypervisor"}  # CPU 0 wins
    assert parse_meminfo("MemTotal:  2048000 kB\nSwapTotal: 1024 kB\nJunk: x\n") == {"MemTotal": 2048000,
                                                                                     "SwapTotal": 1024}


def test_arm_model_and_missing_files(tmp_path: Path) -> None:
    host = make_host(tmp_path, {"/proc/cpuinfo": "processor\t: 0\nBogoMIPS\t: 50\n\nModel\t: Raspberry Pi 4\n"})
    assert cpu_grains(host)["cpu_model"] == "Raspberry Pi 4"  # ARM prints the model once, at the end
    assert mem_grains(host) == {}
