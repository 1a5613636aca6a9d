"""The one scanner of what leaves the machine (repro_kernel/core/secrets.py): what redact.py misses is taken,
detect-secrets' formats are found in-process, every secret becomes `<redacted>` with its surroundings kept,
findings never carry the value, ordinary code and outputs stay as they are, and it is fast."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from repro_kernel.core.redact import REDACTED
from repro_kernel.core.secrets import (
    Scanner,
    environment_secrets,
    redact_secrets,
    sensitive_file,
    text_of_outputs,
)
from tests.core.test_redact import DATA_LOCATIONS, NOT_CREDENTIALS, NOT_SECRETS, TOKEN_LOOKALIKES, TYPICAL_CELL

GH = "ghp_N4bT7qW2eR9yU1iO6pA3sD8fG5hJ0kL2zXcV"

# (text, read as code?, what it must become): the gaps redact.py left, each redacted in place.
TAKEN = [
    ('urlopen("https://example.org/data.csv?sv=2024&sig=Marble-Falcon-Quartz-31&x=1")', True,
     'urlopen("https://example.org/data.csv?sv=2024&sig=<redacted>&x=1")'),
    ("https://example.org/a?key=AbC123xyz&page=2", False, "https://example.org/a?key=<redacted>&page=2"),
    ('<a href="https://x.org/f?id=3&amp;token=Zx9Kq2Lm8P">', False, '<a href="https://x.org/f?id=3&amp;token=<redacted>">'),
    (f'git.clone("https://{GH}@github.com/o/r.git")', True, 'git.clone("https://<redacted>@github.com/o/r.git")'),
    ("%env SERVICE_TOKEN=Juniper-Meadow-4410", True, "%env SERVICE_TOKEN=<redacted>"),
    ("%env SERVICE_TOKEN Juniper-Meadow-4410", True, "%env SERVICE_TOKEN <redacted>"),
    ("%set_env DB_PASSWORD='Juniper-Meadow-4410'", True, "%set_env DB_PASSWORD='<redacted>'"),
    ("!export API_KEY=Juniper-Meadow-4410 && run", True, "!export API_KEY=<redacted>"),
    ("env: SERVICE_TOKEN=Juniper-Meadow-4410", False, "env: SERVICE_TOKEN=<redacted>"),
    ("DB_PASSWORD=Juniper-Meadow-4410\nDEBUG=1\n", False, "DB_PASSWORD=<redacted>\nDEBUG=1\n"),
    ("# my password is Copper-Canyon-77 (rotate monthly)\nx = 1", True,
     "# my password is <redacted> (rotate monthly)\nx = 1"),
    ("x = 1  # the password is: Tr0ub4dor&3", True, "x = 1  # the password is: <redacted>"),
    ("# my password is swordfish", True, "# my password is <redacted>"),
    ("the API key is Zx9Kq2Lm8Pz4 for staging", False, "the API key is <redacted> for staging"),
    ('api_token = f"{prefix}-Xk4-Velvet-Orbit-27"', True, 'api_token = f"{prefix}<redacted>"'),
    ('password = f"hunter2-correct-{n}"', True, 'password = f"<redacted>{n}"'),
    ("fetched data from analyst:Cobalt-Lantern-55@db.internal at run time", False,
     "fetched data from analyst:<redacted>@db.internal at run time"),
    ("PermissionError: login refused: password=Amber-Willow-8812", False,
     "PermissionError: login refused: password=<redacted>"),
    (f"/home/me/data/orders_{GH}.csv", False, "/home/me/data/orders_<redacted>.csv"),
    (f'pd.read_csv("orders_{GH}.csv")', True, 'pd.read_csv("<redacted>.csv")'),  # a random run, taken whole
    ("see https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX now", False,
     "see <redacted> now"),
    ('stripe.api_key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"', True, 'stripe.api_key = "<redacted>"'),
    ("AWS key AKIAIOSFODNN7EXAMPLE in the log", False, "AWS key <redacted> in the log"),
]


@pytest.mark.parametrize(("text", "code", "expected"), TAKEN)
def test_the_secret_and_only_the_secret_is_taken_out(text: str, code: bool, expected: str) -> None:
    redacted, findings = redact_secrets(text, code=code)
    assert redacted == expected
    assert findings and all(f.kind for f in findings)


def test_findings_name_the_kind_never_the_value() -> None:
    value = "Juniper-Meadow-4410"
    _, findings = redact_secrets(f"%env SERVICE_TOKEN={value}\n# my password is {value}x", code=True)
    assert {f.kind for f in findings} == {"environment-assignment", "password-in-prose"}
    assert value not in repr(findings) and value not in repr([f.to_dict() for f in findings])


def test_detect_secrets_is_used_in_process_for_its_formats() -> None:
    _, findings = redact_secrets(f"read /data/orders_{GH}.csv")  # redact.py keeps paths whole
    assert [f.kind for f in findings] == ["detect-secrets: GitHub Token"]
    _, findings = redact_secrets("key AKIAIOSFODNN7EXAMPLE")
    assert any(f.kind in ("credential", "detect-secrets: AWS Access Key") for f in findings)


# Outputs as notebooks show them: nothing in them is a secret.
ORDINARY_OUTPUTS = [
    "   customer_id  password_reset  last_login\n0            1           False  2024-01-02\n1            2            True  2024-02-03",
    "RandomForestClassifier(max_depth=8, n_estimators=200, random_state=0)",
    "accuracy: 0.913\nloss: 0.2231",
    "detect-secrets==1.5.0\nnumpy==2.1.3\npython-dotenv==1.0.1",
    "blake3:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "run 123e4567-e89b-12d3-a456-426614174000 finished",
    "Downloading https://example.org/api/v1/items?page=2&limit=50 ...",
    "saved to /home/me/project/out/summary.parquet",
    "git@github.com:example/weather.git",
    "Wall time: 1.2 ms",
    "\x1b[0;31mKeyError\x1b[0m: 'password'",
    "the key is to normalise first; the token is then passed on",
    "the password is stored in the vault",
    "mail bob@example.org at 10:30",
    "{'n': 4, 'pick': 'Lima', 'noise': 0.231}",
]


@pytest.mark.parametrize("code", NOT_SECRETS + DATA_LOCATIONS + TOKEN_LOOKALIKES + NOT_CREDENTIALS + [TYPICAL_CELL])
def test_ordinary_code_is_kept(code: str) -> None:
    assert redact_secrets(code, code=True) == (code, [])


@pytest.mark.parametrize("text", ORDINARY_OUTPUTS + DATA_LOCATIONS)
def test_ordinary_outputs_are_kept(text: str) -> None:
    assert redact_secrets(text) == (text, [])


def test_a_scanner_redacts_a_value_it_found_wherever_it_shows_up_again() -> None:
    scanner = Scanner()
    code, _ = scanner.scan('db_password = "hunter2-correct-horse"', code=True)
    assert code == 'db_password = "<redacted>"'
    printed, findings = scanner.scan("connected with hunter2-correct-horse as alice")
    assert printed == "connected with <redacted> as alice" and [f.kind for f in findings] == ["known-value"]


def test_an_echoed_environment_token_is_known_from_the_environment() -> None:
    env = {"SERVICE_AUTH_TOKEN": "Tango-Harbor-Velvet-2291", "JPY_SESSION_NAME": "/home/me/nb.ipynb",
           "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1", "LANG": "C.UTF-8", "MY_API_KEY": "short"}
    assert environment_secrets(env) == {"Tango-Harbor-Velvet-2291"}
    scanner = Scanner(environment_secrets(env))
    assert scanner.scan("service token: Tango-Harbor-Velvet-2291")[0] == "service token: <redacted>"


def test_json_documents_are_scanned_string_by_string_and_images_left_alone() -> None:
    png = base64.b64encode(b"\x89PNG" + bytes(range(256)) * 4).decode()
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": f"deploy token: {GH}\n"},
        {"output_type": "display_data", "data": {"image/png": png, "text/plain": "<Figure>"}, "metadata": {}},
        {"output_type": "error", "ename": "PermissionError", "evalue": "login refused: password=Amber-Willow-8812",
         "traceback": ["Traceback", "PermissionError: login refused: password=Amber-Willow-8812"]},
    ]
    clean, findings = Scanner().scan_json(outputs)
    assert clean[0]["text"] == "deploy token: <redacted>\n"
    assert clean[1]["data"]["image/png"] == png
    assert "Amber-Willow-8812" not in repr(clean)
    assert {f.where for f in findings} == {"text", "evalue", "traceback"}
    shown, errors = text_of_outputs(outputs)
    assert GH in shown and "Amber-Willow-8812" in errors and png not in shown


@pytest.mark.parametrize("name", [".env", ".env.local", "prod.env", "key.pem", "server.key", "id_rsa", "id_ed25519.pub",
                                  ".netrc", "credentials.json", "cert.p12", ".pgpass", ".npmrc", ".pypirc",
                                  "secrets.yaml", "sub/dir/.env"])
def test_credential_files_are_known_by_name(name: str) -> None:
    assert sensitive_file(name) is not None


def test_credential_files_are_known_by_content(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(f'{{"github": "{GH}"}}')
    (tmp_path / "cert.txt").write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----\n")
    (tmp_path / "data.csv").write_text("id,total,created\n1,9.5,2024-01-02\n2,3.25,2024-02-03\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2" + GH.encode())
    assert "GitHub Token" in (sensitive_file("config.json", tmp_path / "config.json") or "")
    assert sensitive_file("cert.txt", tmp_path / "cert.txt") == "it holds a private key"
    assert sensitive_file("data.csv", tmp_path / "data.csv") is None
    assert sensitive_file("blob.bin", tmp_path / "blob.bin") is None


def test_a_thousand_step_export_is_scanned_in_well_under_two_seconds() -> None:
    """Each text is new (no cache help): 1,000 cells of code and output, and one big HTML output."""
    started = time.perf_counter()
    scanner = Scanner()
    for i in range(1000):
        scanner.scan(f"v{i} = v{i - 1} + random.random()\nprint(round(v{i}, 3))  # step {i}", code=True)
        scanner.scan(f"{i * 0.123:.3f}\n   customer_id  value\n0  {i}  {i * 2}\n")
    html = "".join(f"<tr><td>{i}</td><td>row-{i}</td><td>{i * 3.5}</td></tr>\n" for i in range(40_000))
    scanner.scan(html)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "text",
    ["a" * 200_000, "x=" * 50_000, "https://" + "a." * 50_000, "# password is " * 10_000, "f'" * 50_000,
     "user:" * 30_000 + "@", "?key=" * 40_000, "%env " * 40_000],
    ids=["run", "assignments", "dots", "prose", "fstrings", "userinfo", "parameters", "env"],
)
def test_large_or_odd_texts_stay_linear(text: str) -> None:
    started = time.perf_counter()
    redact_secrets(text, code=True)
    redact_secrets(text)
    assert time.perf_counter() - started < 5.0


def test_the_marker_is_redact_s() -> None:
    assert redact_secrets("%env MY_TOKEN=abcdef123", code=True)[0].endswith(REDACTED)
