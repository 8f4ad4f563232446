#!/usr/bin/env bash
# Base packages: python3-venv for the venvs, compilers and headers for sdists (libvirt-python needs
# libvirt-dev), procps/psmisc/iproute2 used by fixtures and the lab. groff-base renders the man page
# in its test and in `man pvc`. g++, cmake, dpkg-dev and libsodium-dev build libzmq from Debian's
# source (scripts/libzmq.sh).
# profiles: demo deb test
set -euo pipefail
apt_install python3-venv gcc pkg-config libvirt-dev python3-dev procps iproute2 psmisc groff-base \
  g++ cmake dpkg-dev libsodium-dev
