#!/usr/bin/env bash
# ZooKeeper for the cluster state layer (pvc/cluster/) and its tests (tests/cluster/zookeeper.py):
# Debian's `zookeeper` package gives the server jar (/usr/share/java/zookeeper.jar) and
# slf4j-simple for its logs; it starts no daemon (that is `zookeeperd`): the fixtures run
# QuorumPeerMain themselves as a child they own. The JVM comes in as a dependency.
# profiles: demo test
set -euo pipefail
apt_install zookeeper
