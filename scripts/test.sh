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
# the dashboard's browser tests drive Debian's Chromium; as root with apt, install it when missing
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { apt-get update -q >/dev/null \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
    || echo "could not install chromium: the browser tests will skip (fail with CI=true)" >&2
fi
exec .venv/bin/python -m pytest "$@"
