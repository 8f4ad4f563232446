#!/usr/bin/env bash
# Ceph: mon/osd/mgr daemons for the memstore test cluster (tests/cluster/ceph.py), Debian's
# rados/rbd Python bindings (setup.sh links them into the venv; no PyPI build exists) and
# qemu-block-extra, QEMU's RBD driver (VM disks on Ceph).
# profiles: test
set -euo pipefail
apt_install ceph-mon ceph-osd ceph-mgr ceph-common python3-rados python3-rbd uuid-runtime qemu-block-extra
