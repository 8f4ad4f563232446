#!/usr/bin/env bash
# Make this Debian 12 machine ready to run pvc's tests, demo or package build (root, idempotent).
#   scripts/setup.sh [PROFILE]   PROFILE: test (default: everything), demo (`make demo`), deb (`make deb`)
#   1. the scripts/setup.d/*.sh fragments of PROFILE, in name order (apt packages for one backend each).
#      A fragment names its profiles in a line `# profiles: demo deb test`; one without that line
#      is for `test` only, so `make test` always installs everything.
#   2. (test, demo) a venv in $VENV (default .venv) from the default python3, with pvc installed
#      editable plus the profile's extras, and Debian's rados/rbd bindings linked in (no PyPI build exists)
#   3. (test, demo) pyzmq rebuilt on Debian's libzmq source with small message queues (scripts/libzmq.sh)
#   4. (test, demo) pvc's bytecode compiled
# Starts no daemon: the test fixtures start what they need, as children they own.
set -euo pipefail
PROFILE=${1:-test}
case "$PROFILE" in
  test) EXTRAS="virt,test,bench" ;;
  demo) EXTRAS="virt" ;;
  deb) EXTRAS="" ;;
  *) echo "setup.sh: unknown profile '$PROFILE' (test, demo or deb)" >&2; exit 2 ;;
esac
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

in_profile() {  # in_profile FRAGMENT: does it belong to $PROFILE?
  local line
  line=$(grep -m1 '^# profiles:' "$1" || true)
  [ -z "$line" ] && { [ "$PROFILE" = test ]; return; }
  [[ " ${line#\# profiles:} " == *" $PROFILE "* ]]
}

for frag in scripts/setup.d/*.sh; do
  [ -e "$frag" ] && in_profile "$frag" && bash "$frag"
done
[ -n "$EXTRAS" ] || { echo "setup: ready ($PROFILE)"; exit 0; }

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
TAG=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
for m in rados rbd; do
  src=/usr/lib/python3/dist-packages/$m$TAG
  [ -e "$src" ] && ln -sf "$src" "$SITE/$m$TAG"
done
# One stamp per set of extras; the test set includes the demo's.
stamp="$VENV/.pvc-installed"
[ "$PROFILE" = test ] || stamp="$VENV/.pvc-installed-$PROFILE"
current() { [ -f "$1" ] && [ ! pyproject.toml -nt "$1" ]; }
if ! current "$stamp" && ! current "$VENV/.pvc-installed"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[$EXTRAS]"
  "$VENV/bin/python" -c "import pvc, zmq, libvirt"
  touch "$stamp"
fi
bash scripts/libzmq.sh "$VENV"  # pyzmq on a libzmq with small per-connection queues (rebuilt only when changed)
# pvc's own bytecode, as the .deb ships it: where PYTHONDONTWRITEBYTECODE is set (CI sandboxes),
# every daemon, swarm process and `pvc` call would compile the editable tree again (~0.3 CPU-s per
# master or minion start). A file edited later is recompiled in memory; nothing is stale.
"$VENV/bin/python" -m compileall -q -j0 pvc bench >/dev/null
echo "setup: ready ($PROFILE, $VENV)"
