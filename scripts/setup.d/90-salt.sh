#!/usr/bin/env bash
# Real SaltStack for the side-by-side benchmark (bench/), in its own venv outside the repo:
# `pip install salt` (resolves to 3008.4 here; ~70 s, sdists are built) into $SALT_VENV.
# Idempotent: skipped when that venv already imports salt. The harness runs this same script on
# first use when the venv is missing (see bench/salt.py).
# profiles: test
set -euo pipefail
SALT_VENV=${SALT_VENV:-/var/cache/pvc-bench/salt-venv}
SALT_PYTHON=${SALT_PYTHON:-python3}
if [ -x "$SALT_VENV/bin/python" ] && "$SALT_VENV/bin/python" -c "import salt.client" 2>/dev/null; then
  exit 0
fi
echo "setup: installing salt into $SALT_VENV (about 70 s)"
rm -rf "$SALT_VENV"
mkdir -p "$(dirname "$SALT_VENV")"
"$SALT_PYTHON" -m venv "$SALT_VENV"
# The local index mirrors list locations that do not exist for most packages: drop those warnings.
"$SALT_VENV/bin/pip" install -q --disable-pip-version-check salt 2>&1 | { grep -v "is ignored: it is neither" || true; }
"$SALT_VENV/bin/python" -c "import salt.client, salt.version; print('setup: salt', salt.version.__version__)"
