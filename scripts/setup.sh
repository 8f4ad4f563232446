#!/usr/bin/env bash
# Make this Debian 12 machine ready to run pvc's demo, tests and benchmarks (root, idempotent).
#   1. every scripts/setup.d/*.sh fragment (apt packages for one backend each, in name order)
#   2. a venv in $VENV (default .venv) from the default python3, with pvc installed editable
#      plus its test/bench extras, and Debian's rados/rbd bindings linked in (no PyPI build exists)
# Starts no daemon: the test fixtures start what they need, as children they own.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/.."
export VENV=${VENV:-$PWD/.venv}
export DEBIAN_FRONTEND=noninteractive
APT="apt-get -o DPkg::Lock::Timeout=900 -q"
export APT

apt_install() {  # apt_install PKG... : install what is missing, running `apt-get update` once if needed
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -f /var/lib/apt/periodic/pvc-updated ]; then
    $APT update >/dev/null && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/pvc-updated
  fi
  echo "setup: apt-get install ${missing[*]}"
  $APT install -y --no-install-recommends "${missing[@]}" >/dev/null
}
export -f apt_install

for frag in scripts/setup.d/*.sh; do
  [ -e "$frag" ] && bash "$frag"
done

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
TAG=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
for m in rados rbd; do
  src=/usr/lib/python3/dist-packages/$m$TAG
  [ -e "$src" ] && ln -sf "$src" "$SITE/$m$TAG"
done
stamp="$VENV/.pvc-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[virt,test,bench]"
  "$VENV/bin/python" -c "import pvc, zmq, libvirt"
  touch "$stamp"
fi
echo "setup: ready ($VENV)"
