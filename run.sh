#!/usr/bin/env bash
# One entry point for newcomers and CI:
#   bash run.sh app     set everything up, then start the dashboard (http://localhost:8501)
#   bash run.sh test    set everything up, then lint and run the whole test suite
# Setup is idempotent: a virtual environment in .venv, pinned packages, quantviz itself installed
# editable (so .venv/bin/quantviz runs this clone), and Debian's Chromium for the browser tests
# (installed with apt when missing; needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

setup_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  say "installing Python packages ($1)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$1"
  # The pins above are the dependencies; this adds the `quantviz` command, pointing at this clone.
  # No build isolation: the setuptools that torch brings builds it offline, in seconds.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation --editable .
}

setup_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  say "installing Debian's chromium for the browser tests"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

case "${1:-}" in
  app)
    setup_python requirements.txt
    say "starting quantviz on http://localhost:${PORT:-8501}"
    # headless: no first-run e-mail prompt and no attempt to open a browser on a server
    exec "$VENV/bin/quantviz" app --server.port "${PORT:-8501}" --server.headless true
    ;;
  test)
    setup_python requirements-dev.txt
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      -r requirements-fixtures.txt
    setup_chromium
    say "ruff"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    say "pytest"
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: bash run.sh app | bash run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
