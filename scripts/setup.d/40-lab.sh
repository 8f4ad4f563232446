#!/usr/bin/env bash
# `pvc lab` (pvc/lab/): a whole cluster on one machine. ZooKeeper from Debian's jars (the
# `zookeeper` package starts no daemon; the lab runs QuorumPeerMain itself as a child it owns),
# OpenIPMI's `ipmi_sim` as each node's BMC, `ipmitool` to drive it (power on/off/status), and
# util-linux/iproute2 for the node namespaces (unshare, nsenter, ip netns). libvirt and QEMU come
# from 10-virt.sh; the guest kernel is only downloaded (apt-get download) on first use.
# profiles: demo test
set -euo pipefail
apt_install zookeeper openipmi ipmitool util-linux iproute2
