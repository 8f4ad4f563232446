#!/usr/bin/env bash
# Base packages: compilers and headers for sdists (libvirt-python needs libvirt-dev), procps/iproute2 used by fixtures,
# PostgreSQL for the job-cache tests, libfaketime for the tests of minions whose clocks drift.
set -euo pipefail
apt_install gcc pkg-config libvirt-dev python3-dev procps iproute2 psmisc postgresql-15 libpq-dev faketime
