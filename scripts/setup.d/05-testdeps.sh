#!/usr/bin/env bash
# Test-only packages: PostgreSQL for the job-cache tests, libfaketime for the tests of minions whose
# clocks drift.
# profiles: test
set -euo pipefail
apt_install postgresql-15 libpq-dev faketime
