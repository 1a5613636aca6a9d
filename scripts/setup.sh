#!/usr/bin/env bash
# Create .venv and install jupyter-repro (editable, with its labextension built) plus the test tools.
# Safe to run again. Source it to get the venv activated: `. scripts/setup.sh`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js is needed to build the JupyterLab extension; installing Debian's nodejs" >&2
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q -U pip
python -m pip install -q -c requirements/lock.txt -e ".[test,test-torch]" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
# A kernelspec inside the venv, so every test kernel runs this environment's Python.
python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (jupyter-repro dev)" >/dev/null
set +u
