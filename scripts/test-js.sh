#!/usr/bin/env bash
# Frontend checks: install the node packages with jlpm (from yarn.lock), then the lint check
# (stylelint, prettier, eslint), the TypeScript build and jest (model, connector, badges,
# notebook sync, with the kernel transport mocked).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ -x .venv/bin/jlpm ]; then
    # shellcheck disable=SC1091
    . .venv/bin/activate
  else
    # shellcheck disable=SC1091
    . scripts/setup.sh
  fi
fi

jlpm install --immutable 2>&1 | grep -E "YN0001|YN0028|Done" || true
[ -d node_modules/@jupyterlab/application ] || { echo "test-js: jlpm install failed" >&2; exit 2; }

status=0
echo "--- lint"
jlpm lint:check || status=1
echo "--- tsc"
jlpm build:lib || status=1
echo "--- jest"
jlpm jest --ci || status=1
exit $status
