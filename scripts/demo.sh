#!/usr/bin/env bash
# The main job on a fresh machine: install, record the demo notebook in a real kernel, check it,
# export it, and verify the replay in a fresh kernel. Output lands in demo-run/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
. scripts/setup.sh
python scripts/demo.py
