"""The independent check of a culprit: the notebook run plainly (nbclient, no jupyter-repro) in a throwaway venv of
the old stack, and again in one where only the named package is at its new release; the cells' outputs compared.

    /work/drift-old-venv/bin/python benchmarks/drift_corpus/check.py venv VARIANT [PKG==VERSION ...]
    /work/drift-old-venv/bin/python benchmarks/drift_corpus/check.py run NOTEBOOK VARIANT [VARIANT ...]
    /work/drift-old-venv/bin/python benchmarks/drift_corpus/check.py diff NOTEBOOK BASE OTHER

``venv`` builds /work/drift-check/venvs/VARIANT from old-stack.in with the given pins replacing the old ones (uv;
``old`` with none), plus ipykernel, and a kernelspec for it; ``run`` executes the notebook's code cells top to
bottom (errors allowed) and keeps each cell's outputs in results/check/NOTEBOOK.VARIANT.json; ``diff`` prints the
cells whose text, error or number of images differ (PNG bytes too, reported apart).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHECK = Path(os.environ.get("REPRO_DRIFT_CHECK", "/work/drift-check"))
os.environ["JUPYTER_PATH"] = str(CHECK)
UV = str(ROOT / ".venv" / "bin" / "uv")
PYTHON = "/root/.pyenv/versions/3.11.7/bin/python"
OUT = HERE / "results" / "check"
SEED = "import numpy as _np, random as _random\n_np.random.seed(20240101)\n_random.seed(20240101)"
sys.path.insert(0, str(HERE))


def venv(variant: str, pins: list[str]) -> None:
    target = CHECK / "venvs" / variant
    swap = {p.partition("==")[0].lower(): p for p in pins}
    lines = []
    for line in (HERE / "old-stack.in").read_text().splitlines():
        name = line.partition("==")[0].strip().lower()
        if line.strip() and not line.startswith("#"):
            lines.append(swap.pop(name, line.strip()))
    lines += list(swap.values()) + ["ipykernel==7.4.0", "ipython==9.18.1"]
    req = CHECK / f"{variant}.txt"
    req.parent.mkdir(parents=True, exist_ok=True)
    req.write_text("\n".join(lines) + "\n")
    subprocess.run([UV, "venv", "-q", "--allow-existing", "--python", PYTHON, str(target)], check=True)
    subprocess.run([UV, "pip", "install", "-q", "--python", str(target / "bin" / "python"), "-r", str(req)],
                   check=True)
    spec = CHECK / "kernels" / f"check-{variant}"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(target / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"check {variant}", "language": "python"}))
    done = subprocess.run([UV, "pip", "freeze", "--python", str(target / "bin" / "python")], capture_output=True,
                          text=True)
    (CHECK / f"{variant}.freeze.txt").write_text(done.stdout)
    print(variant, [l for l in done.stdout.splitlines() if l.split("==")[0].lower() in
                    {"numpy", "pandas", "scipy", "matplotlib", "statsmodels", "patsy", "pillow", "pytz"}])


def _cell_outputs(cell) -> dict:
    text, errors, images = [], [], []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            text.append(out["text"])
        elif out["output_type"] == "error":
            errors.append(f"{out['ename']}: {out['evalue']}")
        else:
            data = out.get("data", {})
            if "image/png" in data:
                images.append(hashlib.sha256(data["image/png"].encode()).hexdigest()[:12])
            if "text/plain" in data and "image/png" not in data:
                text.append(data["text/plain"] if isinstance(data["text/plain"], str) else "".join(data["text/plain"]))
    return {"cell_id": cell.id, "source": cell.source, "text": "".join(text), "errors": errors, "images": images}


def run(notebook: str, variant: str) -> None:
    import nbformat
    from nbclient import NotebookClient
    from run import ENV, source_notebook

    nb = nbformat.read(source_notebook(notebook), as_version=4)
    for i, cell in enumerate(nb.cells):  # the ids record.py gives them (benchmarks/real_corpus/record.py)
        cell.id = cell.get("id") or f"cell-{i}"
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    # The corpus notebooks draw from NumPy's global generator unseeded (predict, glm, ...); the recorder restores
    # the recorded states on replay, so the plain runs here seed it (the same seed in every variant).
    nb.cells = [nbformat.v4.new_code_cell(SEED, id="check-seed"), *cells]
    for c in nb.cells:
        c.outputs, c.execution_count = [], None
    work = CHECK / "work" / notebook / variant
    work.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, kernel_name=f"check-{variant}", timeout=600, allow_errors=True,
                            resources={"metadata": {"path": str(work)}})
    client.execute(env={**os.environ, **ENV})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{notebook}.{variant}.json").write_text(json.dumps([_cell_outputs(c) for c in cells], indent=1) + "\n")
    print(notebook, variant, "cells with errors:", [i + 1 for i, c in enumerate(cells) if _cell_outputs(c)["errors"]])


def _steps(notebook: str) -> dict[str, int]:
    """cell id -> the export's step index (several runs of a cell: the last)."""
    from run import WORK

    manifest = json.loads((WORK / notebook / f"{notebook}.repro" / "manifest.json").read_text())
    return {s["cell_id"]: s["index"] for s in manifest["steps"]}


def _norm(text: str) -> str:
    """Memory addresses and the clock lines of statsmodels' summaries (Date:, Time:) masked."""
    text = re.sub(r"0x[0-9a-f]+", "0x...", text)
    text = re.sub(r"/tmp/ipykernel_\d+/", "/tmp/ipykernel_N/", text)
    text = re.sub(r"/work/drift-check/venvs/[^/]+/", "VENV/", text)
    return re.sub(r"(Date|Time):( +)\S+( \S+)?", r"\1:\2...", text)


def diff(notebook: str, base: str, other: str) -> None:
    a = json.loads((OUT / f"{notebook}.{base}.json").read_text())
    b = json.loads((OUT / f"{notebook}.{other}.json").read_text())
    steps = _steps(notebook)
    for i, (x, y) in enumerate(zip(a, b), start=1):
        what = []
        if x["errors"] != y["errors"]:
            what.append(f"errors {x['errors']} -> {y['errors']}")
        if _norm(x["text"]) != _norm(y["text"]):
            xl, yl = _norm(x["text"]).splitlines(), _norm(y["text"]).splitlines()
            changed = [(p, q) for p, q in zip(xl, yl) if p != q][:2]
            what.append(f"text differs ({len(xl)} vs {len(yl)} lines; first: {changed})"[:400])
        if len(x["images"]) != len(y["images"]):
            what.append(f"images {len(x['images'])} -> {len(y['images'])}")
        elif x["images"] != y["images"]:
            what.append("png bytes differ")
        if what:
            print(f"cell {i} ({x.get('cell_id')}, step {steps.get(x.get('cell_id'), '-')}): {'; '.join(what)}")


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "venv":
        venv(rest[0], rest[1:])
    elif command == "run":
        for variant in rest[1:]:
            run(rest[0], variant)
    else:
        diff(*rest)
