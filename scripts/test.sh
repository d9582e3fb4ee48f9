#!/usr/bin/env bash
# Set up a virtualenv with the dev extras (once) and run the whole test suite.
# PostgreSQL and Redis: MEDIAQ_TEST_POSTGRES_URL / MEDIAQ_TEST_REDIS_URL, else the local servers,
# else throwaway servers started from the binaries; tests needing them skip locally, fail in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,neural]'
exec .venv/bin/python -m pytest "$@"
