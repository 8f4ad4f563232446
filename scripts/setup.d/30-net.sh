#!/usr/bin/env bash
# Networking backends for the network/frr/dnsmasq modules and their tests (tests/cluster/net.py):
# FRR (zebra + bgpd, run by the fixtures per namespace as the frr user), dnsmasq-base (the binary,
# no system service), busybox udhcpc as the DHCP client, iproute2 for `ip netns exec`.
set -euo pipefail
apt_install frr dnsmasq-base udhcpc iproute2
