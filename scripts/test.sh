#!/usr/bin/env bash
# Every test suite, on a fresh machine or again: installs what it needs, then runs
#   0. ruff on the Python code
#   1. mypy on the package (repro_kernel), and the layer contracts (import-linter, pyproject [tool.importlinter])
#   2. pytest against real kernels (new stack: IPython 9, ipykernel 7, NumPy 2)
#   3. the recorder's tests against the old stack (IPython 8, ipykernel 6, NumPy 1.26)
#   4. jest (the frontend model and connector) and the lint check
#   5. the UI tests: galata/Playwright in Debian's headless Chromium against a real JupyterLab
#   6. the main job itself, scripts/demo.sh (record, check, export, verify the demo notebook)
# Exit status is non-zero if any suite failed; every suite runs regardless.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
. scripts/setup.sh || { echo "test.sh: setup failed" >&2; exit 1; }
set +e

declare -a NAMES=() CODES=()
suite() {
  local name="$1"; shift
  echo
  echo "=== $name ==="
  local start=$SECONDS
  "$@"
  local code=$?
  NAMES+=("$name ($((SECONDS - start)) s)"); CODES+=("$code")
}

suite "ruff (Python lint)" ruff check repro_kernel tests benchmarks scripts
suite "mypy (Python types)" mypy repro_kernel
suite "import-linter (layers, no cycles)" lint-imports
# Debian's headless Chromium: the UI tests drive it, and a pytest opens batch verify's HTML report in it.
if ! command -v chromium >/dev/null 2>&1; then
  echo "test.sh: installing Debian's chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# One test file per worker, a worker per core (REPRO_TEST_WORKERS to choose): module fixtures stay whole.
WORKERS="${REPRO_TEST_WORKERS:-auto}"
suite "pytest (new stack)" python -m pytest -q -n "$WORKERS" --dist loadfile
suite "pytest (old stack)" bash scripts/test-old-stack.sh -n "$WORKERS" --dist loadfile
suite "jest + lint" bash scripts/test-js.sh
suite "UI tests (galata, headless Chromium)" bash scripts/test-ui.sh
suite "main job (scripts/demo.sh)" bash scripts/demo.sh

echo
echo "=== summary ==="
failed=0
for i in "${!NAMES[@]}"; do
  if [ "${CODES[$i]}" = 0 ]; then echo "ok      ${NAMES[$i]}"; else echo "FAILED  ${NAMES[$i]} (exit ${CODES[$i]})"; failed=1; fi
done
exit $failed
