#!/usr/bin/env bash
# Base packages: compilers for sdists (libvirt-python), procps/iproute2 used by fixtures,
# PostgreSQL for the job-cache tests.
set -euo pipefail
apt_install gcc pkg-config python3-dev procps iproute2 psmisc postgresql-15 libpq-dev
