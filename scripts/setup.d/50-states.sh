#!/usr/bin/env bash
# The state functions' tests: tzdata (timezone.system needs /usr/share/zoneinfo), the tools the
# user/group/pkg modules drive (passwd: useradd/groupadd/gpasswd, util-linux:
# runuser for runas, dpkg-deb builds the test package).
set -euo pipefail
apt_install tzdata passwd util-linux dpkg
