"""Session environment: git state, allowed variables, and no secret ever reaching the journal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

from repro_kernel.core.journal import Journal
from repro_kernel.core.redact import REDACTED, filter_environment, looks_secret_value, redact_url
from repro_kernel.export import export_notebook
from repro_kernel.testing import START, LiveKernel, make_notebook

SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "GITHUB_TOKEN": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "OPENAI_API_KEY": "sk-proj-abcdefghijklmnopqrstuvwx1234",
    "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyzABCD",
    "DB_PASSWORD": "correct horse battery staple",
    "SLACK_WEBHOOK": "xoxb-123456789012-abcdefghijkl",
}
# Values that look like credentials even under an innocent, allow-listed name.
SNEAKY = {
    "LANG": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "PYTHONPATH": "https://deploy:s3cr3tP4ss@example.org/lib",
    "TZ": "password=hunter2hunter2",
    "OMP_NUM_THREADS": "AIzaSyA1234567890abcdefghijklmnopqrstuv",
}


# Credentials written into cells, in the forms people write them (`{v}` stands for the value).
CODE_SECRETS = [
    ('import os\nos.environ["AWS_SECRET_ACCESS_KEY"] = "{v}"', "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ('client = dict(service="s3", aws_secret_access_key="{v}")', "aWsS3cr3tK3yAbCdEfGhIjKlMnOpQrStUvWxYz12"),
    ('headers = {"Authorization": "Bearer {v}"}', "3f9a8c7d6e5b4a39281706f5e4d3c2b1"),
    ("password = '{v}'", "hunter2-correct-horse"),
    ('dsn = "postgresql://user:{v}@host/db"', "s3cretpass"),
    ('jwt = "{v}"', "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjZWxsIn0.Qm9ndXNTaWduYXR1cmVGb3JUZXN0aW5nT25seQ"),
    ('pem = """-----BEGIN RSA PRIVATE KEY-----\n{v}\n-----END RSA PRIVATE KEY-----"""',
     "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9OiZ1Bv0l5aF2xGx3HTdYl9yM+dBsDrq8OQ=="),
    ('payload = {"data": "{v}"}', "x9Kq2Lm8Pz4Rt6Vw1Yb3"),
    ("%env DB_PASSWORD={v}", "correct-horse-battery-9"),
]


@pytest.mark.parametrize("value", list(SECRETS.values())[:5] + list(SNEAKY.values()))
def test_credential_values_are_recognised(value: str) -> None:
    assert looks_secret_value(value)


@pytest.mark.parametrize("value", ["4", "en_US.UTF-8", "Europe/Paris", "/opt/lib:/usr/lib", ":4096:8", "0"])
def test_ordinary_values_are_kept(value: str) -> None:
    assert not looks_secret_value(value)
    assert filter_environment({"OMP_NUM_THREADS": value}) == {"OMP_NUM_THREADS": value}


def test_environment_filter_is_an_allow_list() -> None:
    kept = filter_environment({**SECRETS, **SNEAKY, "HOME": "/root", "PYTHONHASHSEED": "0"})
    assert set(kept) == set(SNEAKY) | {"PYTHONHASHSEED"}
    assert all(kept[name] == REDACTED for name in SNEAKY)
    assert kept["PYTHONHASHSEED"] == "0"
    assert redact_url("https://user:pw@host.org/x?token=abc&page=2") == (
        "https://host.org/x?token=<redacted>&page=2"
    )


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.slow
def test_git_state_and_no_secret_in_the_journal(notebook_dir: Path) -> None:
    _git(notebook_dir, "init", "-q", "-b", "main")
    _git(notebook_dir, "config", "user.email", "t@example.org")
    _git(notebook_dir, "config", "user.name", "T")
    (notebook_dir / "data.csv").write_text("a\n1\n")
    _git(notebook_dir, "add", "data.csv")
    _git(notebook_dir, "commit", "-qm", "data")
    _git(notebook_dir, "remote", "add", "origin", f"https://bot:{SECRETS['GITHUB_TOKEN']}@github.com/o/r.git")
    (notebook_dir / "data.csv").write_text("a\n2\n")  # dirty
    commit = _git(notebook_dir, "rev-parse", "HEAD")
    secret_code = f"token = {SECRETS['GITHUB_TOKEN']!r}"
    with LiveKernel(notebook_dir, env={**SECRETS, **SNEAKY, "PYTHONHASHSEED": "3"}) as k:
        k.run(START)
        status = k.run("%repro status")["outputs"][0]["data"]["text/plain"]
        assert commit[:10] in status and "(dirty)" in status
        k.run("x = open('data.csv').read()", cell_id="read")
        k.run(secret_code, cell_id="secret")
        for index, (form, value) in enumerate(CODE_SECRETS):
            assert k.run(form.replace("{v}", value), cell_id=f"code{index}")["reply"]["status"] == "ok"
    with Journal(notebook_dir / ".repro", create=False) as journal:
        env = journal.sessions()[0]["environment"]
    git = env["git"]
    assert git["commit"] == commit and git["branch"] == "main"
    assert git["dirty"] == ["data.csv"] and git["diff_hash"]
    assert git["remote"] == "https://github.com/o/r.git"
    assert env["environment_variables"]["PYTHONHASHSEED"] == "3"
    assert all(env["environment_variables"][name] == REDACTED for name in SNEAKY)
    assert not set(SECRETS) & set(env["environment_variables"])

    values = list(SECRETS.values()) + list(SNEAKY.values()) + [value for _, value in CODE_SECRETS]
    blobs = b"".join(p.read_bytes() for p in (notebook_dir / ".repro").rglob("*") if p.is_file())
    for value in values:
        assert value.encode() not in blobs, f"{value} leaked into the journal"
    with Journal(notebook_dir / ".repro", create=False) as journal:
        records = {r["cell_id"]: r for r in journal.executions()}
    assert records["secret"]["code"] == "token = '<redacted>'"
    # The hash is of the code as shown (redacted): a guessable value cannot be confirmed from it offline.
    assert records["secret"]["code_hash"] == journal_hash_of("token = '<redacted>'")
    assert records["secret"]["redacted"] is True
    for index, (form, _value) in enumerate(CODE_SECRETS):  # just the value gone, the code around it kept
        assert records[f"code{index}"]["code"] == form.replace("{v}", REDACTED)
        assert records[f"code{index}"]["code_hash"] == journal_hash_of(form.replace("{v}", REDACTED))

    # Nor into an export: its manifest, replay script and notebook are made from the journal.
    sources = [START, "x = open('data.csv').read()", secret_code] + [f.replace("{v}", v) for f, v in CODE_SECRETS]
    nbformat.write(make_notebook(sources), notebook_dir / "nb.ipynb")
    folder = export_notebook(notebook_dir / "nb.ipynb", mode="history")
    assert (folder / "manifest.json").is_file()
    exported = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for value in values:
        leaks = [str(path) for path, data in exported.items() if value.encode() in data]
        assert not leaks, f"{value} leaked into {leaks}"


def journal_hash_of(code: str) -> str:
    from repro_kernel.core.hashing import hash_text

    return hash_text(code)


def test_standard_library_lookups_never_rebuild_the_distribution_table() -> None:
    """Rebuilding the module -> distribution table costs ~100 ms; a cell importing `os` or `time` must not
    trigger it (it once did, on every such cell)."""
    from repro_kernel.core import environment

    environment._module_to_distributions()
    before = environment._module_to_distributions.cache_info()
    for name in ("os", "time", "json", "sys", "itertools"):
        assert environment.distribution_of(name) == (None, None)
    after = environment._module_to_distributions.cache_info()
    assert after.misses == before.misses and after.currsize == 1
    assert environment.distribution_of("numpy")[0] == "numpy"
