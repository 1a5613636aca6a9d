#!/usr/bin/env bash
# The recorder's kernel-side tests against an OLD stack: IPython 8, ipykernel 6, NumPy 1.26, pandas 2.x.
# (scripts/test.sh runs the same tests against the new stack in .venv.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x .venv-old/bin/python ]; then
  python3 -m venv .venv-old
fi
# shellcheck disable=SC1091
. .venv-old/bin/activate
python -m pip install -q -U pip
SKIP_JUPYTER_BUILDER=1 python -m pip install -q -e . \
  "ipython>=8,<9" "ipykernel>=6,<7" "numpy>=1.26,<2" "pandas>=2,<2.3" "pytest>=8" "pytest-timeout>=2.2" "pytest-xdist>=3.5" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (old stack)" >/dev/null
python - <<'PY'
import IPython, ipykernel, numpy
print(f"old stack: IPython {IPython.__version__}, ipykernel {ipykernel.__version__}, NumPy {numpy.__version__}")
PY
python -m pytest -q -p no:cacheprovider -m "not torch and not scientific" \
  tests/kernel tests/core/test_environment.py tests/core/test_redact.py tests/cli/test_install_kernel.py "$@"
