#!/usr/bin/env bash
# libvirt + QEMU/KVM for the virt module and its tests (tests/cluster/libvirt.py starts libvirtd by hand:
# no systemd here). qemu-block-extra is QEMU's RBD driver (VM disks on Ceph). busybox-static and the kernel
# image are only *downloaded* at test time to build the tiny TCG guest (tests/cluster/guestkernel.py).
set -euo pipefail
apt_install libvirt-daemon-system qemu-system-x86 qemu-utils qemu-block-extra
