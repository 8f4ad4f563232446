#!/usr/bin/env bash
# libvirt + QEMU/KVM for the virt module, its tests and the lab's nodes (tests/cluster/libvirt.py and
# pvc/lab start libvirtd by hand: no systemd here). busybox-static and the kernel image are only
# *downloaded* at first use to build the tiny TCG guest (pvc/lab/guestkernel.py). QEMU's RBD driver
# (qemu-block-extra) is in 20-ceph.sh: the demo's guests have no disk.
# profiles: demo test
set -euo pipefail
apt_install libvirt-daemon-system qemu-system-x86 qemu-utils
