#!/usr/bin/env bash
# Networking backends for the network/frr/dnsmasq modules and their tests (tests/cluster/net.py):
# FRR (zebra + bgpd, run per namespace by the fixtures as the frr user) with frr-pythontools
# (frr-reload.py, how the frr module applies a config), dnsmasq-base (the binary, no system
# service), busybox udhcpc as the DHCP client, iproute2 for `ip netns exec` in the fixtures.
# profiles: test
set -euo pipefail
apt_install frr frr-pythontools dnsmasq-base udhcpc iproute2
