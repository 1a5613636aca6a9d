"""The README.md of an export: how to replay it, what ``jupyter repro verify`` checks, what it cannot guarantee."""

from __future__ import annotations

from typing import Optional

from repro_kernel._version_info import version
from repro_kernel.export.plan import ExportPlan

# What verify checks, and when: the same list verify's own report ends with (`checked: ...`).
_CHECKS = [
    ("seal", "always", "the manifest and every file the replay reads are the ones exported"),
    ("input files", "always", "each input's content hash, before any step runs and again before the step that reads it"),
    ("pinned packages", "always", "the replay kernel has every package of requirements.txt (a version drift is reported)"),
    ("outputs", "always", "each step's outputs against the recorded ones (documented normalisations only)"),
    ("fresh environment", "with `--fresh-env`", "a new environment built with uv from requirements.txt on the "
     "recorded Python: proves the pins are enough"),
    ("newer releases", "with `--upgrade [PKG ...]`", "replays with newer releases and names the package that changed "
     "each differing step"),
]


def render_readme(nb_name: str, plan: ExportPlan, uses_ipython: bool, url: Optional[str], caveats: list[str],
                  python_version: Optional[str] = None) -> str:
    run = "ipython replay.py" if uses_ipython else "python replay.py   (or ipython replay.py)"
    text = [
        f"# Replay of {nb_name}",
        "",
        f"{len(plan.steps)} steps ({plan.mode} mode), written by jupyter-repro {version}"
        f"{f', recorded on Python {python_version}' if python_version else ''}.",
        "",
        "```",
        "pip install -r requirements.txt",
        run,
        "jupyter repro verify .          # replay in a fresh kernel, compare every output",
        "jupyter repro verify . --fresh-env   # ... in a new environment built from requirements.txt",
        "```",
        "",
        "`replay.ipynb` holds the same steps with their recorded outputs.",
    ]
    if url:
        text += ["", f"Binder: {url}"]
    text += ["", "## What `jupyter repro verify` checks", "", "| check | when | what |", "|---|---|---|"]
    text += [f"| {name} | {when} | {what} |" for name, when, what in _CHECKS]
    text += ["", "Checked when this export was written: recorded session yes, fresh environment: no "
             "(`jupyter repro verify . --fresh-env` checks it; its report says `fresh environment: yes`)."]
    if caveats:
        text += ["", "## What this replay cannot guarantee", ""] + [f"- {c}" for c in caveats]
    return "\n".join(text) + "\n"
