"""Secrets planted through every channel the issue names, in a notebook recorded by a real kernel the way
JupyterLab runs it (cell ids, the sidebar's comm), saved with the sidebar's `metadata.repro`, then exported
(plain, `--bundle-data` beside a `.env` and a `key.pem`, and `jupyter nbconvert --to repro`), checked and
logged to MLflow: no planted value may be found in any byte of what leaves the machine (the journal under
`.repro/`, which users commit and share, included), and `check` names the cells that hold one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from repro_kernel.core.hashing import hash_text
from repro_kernel.export.manifest import load_manifest
from repro_kernel.testing import LiveKernel, journal_records, make_notebook, run_cli

GH_OUTPUT = "ghp_" + "R7vK2mQ9xL4pT8wN3" + "bY6cF1hJ5dS0aZ2eG7u"  # built at run time: only the output shows it
GH_FILE = "ghp_N4bT7qW2eR9yU1iO6pA3sD8fG5hJ0kL2zXcV"
ENV_TOKEN = "Tango-Harbor-Velvet-2291"  # word-like: only knowing the environment finds it
PEM_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDf3kq9Zx2RtLmW"

# channel -> the value planted through it
PLANTED = {
    "token printed in an output": GH_OUTPUT,
    "environment token echoed in an output": ENV_TOKEN,
    "token inside an f-string": "Xk4-Velvet-Orbit-27",
    "password in a URL's user info": "Cobalt-Lantern-55",
    "signature query parameter": "Marble-Falcon-Quartz-31",
    "access_token query parameter": "Opal-Thistle-Beacon-62",
    "%env NAME=value": "Juniper-Meadow-4410",
    "'my password is' in a comment": "Copper-Canyon-77",
    "secret in an exception message": "Amber-Willow-8812",
    "token in a data file's name": GH_FILE,
    ".env copied by --bundle-data": "Saffron-Glacier-6620",
    "key.pem copied by --bundle-data": PEM_LINE,
}
SOURCES = [
    "import os, urllib.request\nimport pandas as pd",                                                         # 0
    'tok = "".join(["ghp_", "R7vK2mQ9xL4pT8wN3", "bY6cF1hJ5dS0aZ2eG7u"])\nprint("deploy token:", tok)',      # 1
    'print("service token:", os.environ["SERVICE_AUTH_TOKEN"])',                                             # 2
    'prefix = "svc"\napi_token = f"{prefix}-Xk4-Velvet-Orbit-27"',                                           # 3
    'urllib.request.urlopen("https://analyst:Cobalt-Lantern-55@127.0.0.1:9/data.csv", timeout=1)',         # 4
    'DATA_URL = ("https://store.example.org/exports/sales.csv?sv=2024-05-04&sig=Marble-Falcon-Quartz-31"\n'
    '            "&access_token=Opal-Thistle-Beacon-62")\nprint(DATA_URL)',                                    # 5
    "%env SERVICE_TOKEN=Juniper-Meadow-4410",                                                                # 6
    "# my password is Copper-Canyon-77 (rotate monthly)\nrows = 3",                                          # 7
    'pw = "-".join(["Amber", "Willow", "8812"])\nraise PermissionError(f"login refused: password={pw}")',   # 8
    f'orders = pd.read_csv("orders_{GH_FILE}.csv")\nlen(orders)',                                           # 9
    'settings = open(".env").read()\nkey_text = open("key.pem").read()\n'
    'print(len(settings.splitlines()), "settings,", len(key_text), "key bytes")',                           # 10
]
SECRET_CELLS = [1, 2, 3, 4, 5, 6, 7, 8, 9]  # cell 0 and cell 10 (it reads the files, shows counts) hold none
KEY_PEM = f"-----BEGIN PRIVATE KEY-----\n{PEM_LINE}\n{PEM_LINE[::-1]}\nAB12cd==\n-----END PRIVATE KEY-----\n"
ENV = {"PYTHONHASHSEED": "0", "SERVICE_AUTH_TOKEN": ENV_TOKEN}


def found_in(folder: Path, values: dict[str, str] = PLANTED) -> dict[str, list[str]]:
    """channel -> the files under ``folder`` that hold its value, read as bytes."""
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for channel, value in values.items():
            if value.encode() in data or json.dumps(value)[1:-1].encode() in data:
                hits.setdefault(channel, []).append(str(path.relative_to(folder)))
    return hits


def _record(project: Path) -> Path:
    """Run the notebook in a real kernel as JupyterLab does and save it with the sidebar's metadata.repro."""
    project.mkdir(parents=True)
    (project / ".env").write_text(f"DOTENV_DB_PASSWORD={PLANTED['.env copied by --bundle-data']}\nDEBUG=1\n")
    (project / "key.pem").write_text(KEY_PEM)
    (project / f"orders_{GH_FILE}.csv").write_text("id,total\n1,9.5\n2,3.25\n")
    nb = make_notebook(SOURCES)
    path = project / "leaky.ipynb"
    with LiveKernel(project, path.name, env=ENV, stop_on_error=False, graceful=True, timeout=60) as kernel:
        kernel.run("%load_ext repro_kernel", check=True)
        kernel.open_comm("c1", {"type": "hello", "version": 1, "notebook": path.name})
        kernel.send_comm("c1", {"type": "start"})
        for cell in nb.cells:
            kernel.run_cell(cell)
        kernel.comm_messages.clear()
        page = [{"id": c.id, "cell_type": c.cell_type, "source": c.source, "execution_count": c.execution_count}
                for c in nb.cells]
        kernel.send_comm("c1", {"type": "notebook", "cells": page})
        flags = kernel.wait_for_comm("flags", where=lambda d: bool(d["flags"]))
        reply = next(r for r in kernel.send_comm("c1", {"type": "status"}) if r.get("type") == "status-reply")
    # What src/tracker/sync.ts saves (docs/contracts.md, "Saved copy").
    status = {k: v for k, v in reply["status"].items() if k not in ("timeline", "journal")}
    nb.metadata["repro"] = {"version": 1, "saved_at": time.time(), "status": status, "flags": flags["flags"],
                            "cells": flags["cells"]}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _record(tmp_path_factory.mktemp("secrets") / "project")


@pytest.fixture(scope="module")
def exports(leaky: Path) -> dict[str, Path]:
    """The notebook exported three ways, by the CLI a user types (in the shell that holds the token)."""
    project = leaky.parent
    folders = {"plain": project / "leaky.repro", "bundled": project / "bundled.repro"}
    # History mode keeps every execution (the slice would drop cells whose effects no output needs).
    for name, args in (("plain", ["--mode", "history"]), ("bundled", ["-o", "bundled.repro", "--bundle-data"])):
        result = run_cli("export", leaky.name, *args, cwd=project, env=ENV)
        assert result.returncode == 0, result.stderr[-3000:]
        (project / f"{name}.stdout").write_text(result.stdout)
    converted = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "repro", leaky.name, "--output-dir", "nbc"],
                               cwd=project, capture_output=True, text=True, timeout=240, env={**os.environ, **ENV})
    assert converted.returncode == 0, converted.stderr[-3000:]
    folders["nbconvert"] = project / "nbc"
    assert found_in(project / ".repro") == {}, "a planted value reached the journal (through an export?)"
    return folders


def test_the_journal_holds_no_planted_value(leaky: Path) -> None:
    """The recorder redacts every text before it writes it: code, file paths, URLs, error and fault messages,
    the session's environment; no planted value is in any file under `.repro/` (database, write-ahead log,
    objects)."""
    journal = leaky.parent / ".repro"
    assert journal.is_dir()
    assert found_in(journal) == {}
    records = journal_records(leaky.parent)
    assert len(records) == len(SOURCES)
    for record in records:
        assert record["code_hash"] == hash_text(record["code"]), "the code hash is of the code as kept"
        assert not any("still being searched" in e for e in record["recorder_errors"]), "placeholders rewritten"
    # The cells whose code itself holds a secret (the others build theirs at run time).
    assert [i for i, r in enumerate(records) if r["redacted"]] == [3, 4, 5, 6, 7, 9]


def test_no_planted_value_leaves_through_any_export(leaky: Path, exports: dict[str, Path]) -> None:
    project = leaky.parent
    for how, folder in exports.items():
        assert folder.is_dir(), how
        assert found_in(folder) == {}, f"{how} export leaks"
    printed = "".join(p.read_text() for p in project.glob("*.stdout"))
    assert not [c for c, v in PLANTED.items() if v in printed], "the export's printed notes leak"


def test_the_saved_metadata_carries_no_secret(leaky: Path) -> None:
    saved = json.dumps(nbformat.read(leaky, as_version=4).metadata["repro"])
    assert [c for c, v in PLANTED.items() if v in saved] == []
    kinds = {f["kind"] for f in json.loads(saved)["flags"]}
    assert "secret" in kinds, "the live flags name the cells whose code holds a secret"


def test_check_names_each_cell_that_holds_a_secret(leaky: Path) -> None:
    result = run_cli("check", leaky.name, "--json", cwd=leaky.parent, env=ENV)
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads(result.stdout)
    ids = [c.id for c in nbformat.read(leaky, as_version=4).cells]
    flagged = sorted({ids.index(c) for f in report["flags"] if f["kind"] == "secret" for c in f["cells"]})
    assert flagged == SECRET_CELLS
    secret = [f for f in report["flags"] if f["kind"] == "secret"]
    assert all(f["severity"] == "error" and "environment variable" in f["fix"] for f in secret)
    by_cell = {ids.index(f["cells"][0]): f["details"]["where"] for f in secret}
    assert "outputs" in by_cell[1] and "outputs" in by_cell[2] and "error output" in by_cell[8]
    assert [c for c, v in PLANTED.items() if v in result.stdout] == [], "check's own report leaks"


def test_the_manifest_says_what_was_redacted_never_the_value(exports: dict[str, Path]) -> None:
    manifest = json.loads((exports["plain"] / "manifest.json").read_text())
    redacted = manifest["redacted"]
    by_step = {(e["step"], e["where"]) for e in redacted}
    steps = {s["cell_index"]: s["index"] for s in manifest["steps"] if s["cell_index"] is not None}
    assert (steps[1], "outputs") in by_step and (steps[2], "outputs") in by_step
    assert (steps[3], "code") in by_step and (steps[8], "error output") in by_step
    assert any(e["where"] == "inputs" for e in redacted), "the data file's name is redacted in the inputs"
    assert any(n.startswith("redacted ") for n in manifest["notes"])
    assert any("held a secret" in c for c in manifest["not_guaranteed"])
    # One note names every step whose code holds a redacted value, and says that the user must supply it.
    held = [c for c in manifest["not_guaranteed"] if "credentials in its code" in c]
    assert len(held) == 1, manifest["not_guaranteed"]
    assert "environment variable" in held[0] and "supply" in held[0]
    named = {int(n) for n in re.findall(r"\d+", held[0].split(":")[0])}
    assert named == {steps[i] for i in (3, 4, 5, 6, 7, 9)}


def test_bundle_data_leaves_credential_files_out(exports: dict[str, Path]) -> None:
    folder = exports["bundled"]
    manifest = json.loads((folder / "manifest.json").read_text())
    bundled = sorted(p.name for p in (folder / "files").rglob("*") if p.is_file())
    assert ".env" not in bundled and "key.pem" not in bundled
    assert not [n for n in bundled if n.startswith("orders_")], "a file whose name is a secret is not copied"
    notes = [n for n in manifest["notes"] if n.startswith("not bundled: ")]
    assert len(notes) == 3 and all("\n" not in n for n in notes)
    assert any(".env" in c and "left out" in c for c in manifest["not_guaranteed"])
    load_manifest(folder)  # sealed after redaction: the folder checks as written


def test_bundle_secrets_copies_them_when_asked(leaky: Path, exports: dict[str, Path]) -> None:
    project = leaky.parent
    result = run_cli("export", leaky.name, "-o", "with-secrets.repro", "--bundle-data", "--bundle-secrets",
                     cwd=project, env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    files = project / "with-secrets.repro" / "files"
    assert (files / ".env").is_file() and (files / "key.pem").is_file()


def test_mlflow_params_tags_and_artifacts_pass_through_the_scanner(leaky: Path, exports: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from repro_kernel.export.mlflow_log import log_export

    folder = tmp_path / "edited.repro"
    shutil.copytree(exports["plain"], folder)
    # An export edited by hand after it was written: the artifacts logged must still be clean.
    with (folder / "requirements.txt").open("a") as handle:
        handle.write(f"# index token {GH_FILE}\n")
    store = tmp_path / "store"
    store.mkdir()
    logged = log_export(folder, notebook=leaky, tracking_uri="sqlite:///" + str(store / "mlflow.db"))
    assert logged.run_id
    assert found_in(store) == {}


def leak_counts(folder: Path) -> dict[str, Any]:
    """For the report: which planted values a folder holds, and which of them in replay.ipynb's outputs."""
    outputs = json.dumps([c.get("outputs") for c in json.loads((folder / "replay.ipynb").read_text())["cells"]])
    return {"anywhere": sorted(found_in(folder)), "outputs": sorted(c for c, v in PLANTED.items() if v in outputs)}
