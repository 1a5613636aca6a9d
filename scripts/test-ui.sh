#!/usr/bin/env bash
# UI tests: galata / Playwright in Debian's headless Chromium against a real JupyterLab (on
# 127.0.0.1, a free port, a throwaway root folder) with a real kernel running repro_kernel.
# Installs what it needs (chromium, the ui-tests node packages); Playwright starts the server
# and stops it when the run ends. Screenshots land in ui-tests/screenshots/.
#   bash scripts/test-ui.sh [playwright args, e.g. -g "CSV"]
#   bash scripts/test-ui.sh --measure   the 1,000-cell speed measurement (ui-tests/measurements/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PIP_DISABLE_PIP_VERSION_CHECK=1

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ -x .venv/bin/python ]; then
    # shellcheck disable=SC1091
    . .venv/bin/activate
  else
    # shellcheck disable=SC1091
    . scripts/setup.sh
  fi
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "test-ui: installing Debian's chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"

# Test the extension built from this tree: build it and link it into the environment.
if [ ! -d node_modules ]; then
  jlpm install 2>&1 | grep -E "YN0001|Done" || true
fi
jlpm build >/dev/null
jupyter labextension develop --overwrite . >/dev/null
if ! jupyter labextension list 2>&1 | grep -q "jupyter-repro.*enabled.*OK"; then
  echo "test-ui: the jupyter-repro labextension is not enabled" >&2
  exit 2
fi

cd ui-tests
jlpm install --immutable 2>&1 | grep -E "YN0001|YN0028|Done" || true
[ -d node_modules/@jupyterlab/galata ] || { echo "test-ui: jlpm install failed" >&2; exit 2; }

REPRO_UI_PORT="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
JUPYTERLAB_GALATA_ROOT_DIR="$(mktemp -d -t repro-ui-XXXXXX)"
export REPRO_UI_PORT JUPYTERLAB_GALATA_ROOT_DIR
trap 'rm -rf "$JUPYTERLAB_GALATA_ROOT_DIR"' EXIT
rm -rf screenshots

if [ "${1:-}" = "--measure" ]; then
  shift
  export REPRO_MEASURE=1
  jlpm playwright test tests/measure.spec.ts --reporter=list "$@"
else
  jlpm playwright test "$@"
fi
