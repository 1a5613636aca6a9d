"""The recorder writes no secret: every text of a record (code, file paths, URLs, hosts, error and fault
messages), the session's environment and what the views show pass through one redaction
(``core.secrets.redact``, ``code=True`` for code) before anything reaches the journal; scanning stays off the
cell's path (cached by text; a big record is written as a placeholder and rewritten by a background thread),
and the code hash is of the code as kept, the same the saved notebook's code gets in ``analysis.sessions``."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

from repro_kernel.analysis.sessions import cells_from_dicts, normalize_source
from repro_kernel.core.hashing import hash_text
from repro_kernel.core.journal import Journal
from repro_kernel.core.records import CellRecord, FileAccess, validate_record
from repro_kernel.kernel.faults import FaultLog
from repro_kernel.kernel.journal_writer import JournalWriter
from repro_kernel.kernel.scrub import Scrubber
from repro_kernel.testing import START, LiveKernel, journal_records
from tests.export.test_secrets_in_exports import SOURCES

GH = "ghp_N4bT7qW2eR9yU1iO6pA3sD8fG5hJ0kL2zXcV"
PASSWORD = "Cobalt-Lantern-55"
ENV_TOKEN = "Tango-Harbor-Velvet-2291"  # word-like: only knowing the environment finds it
RECORDER = "__import__('repro_kernel').get_recorder()"


def record(seq: int, code: str, *, path: str = "/data/plain.csv", url: str = "https://example.org/a.csv",
           error: str = "") -> dict[str, Any]:
    return CellRecord(
        session_id="s" * 32, seq=seq, execution_count=seq, cell_id=f"c{seq}", code=code, code_hash=hash_text(code),
        started_at=1.0, files_read=[FileAccess(path, Path(path).name, 3, 1.0, None, None, True)],
        network=[{"host": "example.org", "port": 443, "url": url}], defined=["x"],
        recorder_errors=[error] if error else [],
    ).to_dict()


def bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_every_text_of_a_record_is_redacted_and_the_hash_is_of_the_code_kept() -> None:
    scrubber = Scrubber([ENV_TOKEN])
    rec = record(1, f'password = "{PASSWORD}"\nx = 1', path=f"/data/orders_{GH}.csv",
                 url=f"https://analyst:{PASSWORD}@example.org/a.csv?sig=Marble-Falcon-Quartz-31",
                 error=f"files: KeyError: token {ENV_TOKEN} refused")
    scrubber.scrub(rec)
    text = json.dumps(rec)
    for value in (PASSWORD, GH, "Marble-Falcon-Quartz-31", ENV_TOKEN):
        assert value not in text
    assert rec["code"] == 'password = "<redacted>"\nx = 1'
    assert rec["code_hash"] == hash_text(rec["code"]) and rec["redacted"] is True
    assert rec["files_read"][0]["path"] == "/data/orders_<redacted>.csv"
    assert rec["files_read"][0]["pending"] is True and rec["defined"] == ["x"] and rec["cell_id"] == "c1"
    validate_record(rec)
    again = copy.deepcopy(rec)
    assert scrubber.scrub(again) == rec  # once a record: scrubbing it again changes nothing
    plain = scrubber.scrub(record(2, "x = 1"))
    assert plain["redacted"] is False and plain["code"] == "x = 1" and plain["code_hash"] == hash_text("x = 1")


def test_code_is_redacted_as_the_saved_notebook_is_so_that_they_still_match() -> None:
    scrubber = Scrubber([ENV_TOKEN])  # environment values are for texts, never code: the notebook has no such list
    for source in SOURCES:
        kept = scrubber.code(source)
        cell = cells_from_dicts([{"id": "a", "cell_type": "code", "source": source}])[0]
        assert cell.source == normalize_source(kept), source
        assert cell.redacted == (kept != source)


def test_a_big_record_is_written_as_a_placeholder_then_rewritten_off_the_cells_path(tmp_path: Path) -> None:
    journal = Journal(tmp_path / ".repro")
    told: list[dict[str, Any]] = []
    landed = threading.Event()
    scrubber = Scrubber()
    writer = JournalWriter(journal, lambda text: None, lambda: (journal, None), scrubber,
                           lambda r: (told.append(r), landed.set()))
    writer.begin_session("s" * 32, None, {"cwd": f"/home/me/{GH}"}, 1.0)
    code = f'api_key = "{PASSWORD}"\n' + "".join(f"step{i} = run(step{i - 1}, 'stage {i}')\n" for i in range(1, 40))
    raw_path = f"/data/orders_{GH}.csv"
    small, big = record(1, "x = 1"), record(2, code, path=raw_path)
    assert scrubber.cheap(small) and not scrubber.cheap(big)
    writer.append(small, None)
    assert small["code"] == "x = 1" and scrubber.done(small)  # scrubbed in place, on the spot
    placeholder = scrubber.placeholder(big)
    assert placeholder["code"] == "<redacted>" and placeholder["files_read"][0]["path"] == "<redacted>"
    assert any("still being searched" in e for e in placeholder["recorder_errors"])
    assert big["code"] == code  # the record itself is left for the thread
    writer.append(big, None)
    assert landed.wait(30)
    assert told == [big] and big["code"].startswith('api_key = "<redacted>"') and big["redacted"] is True
    rows = {r["seq"]: r for r in journal.executions()}
    assert rows[2] == big and rows[2]["code_hash"] == hash_text(rows[2]["code"])
    assert not any("still being searched" in e for e in rows[2]["recorder_errors"])
    # Hashes land for the path as read; the record holds it redacted by now.
    assert big["files_read"][0]["path"] == "/data/orders_<redacted>.csv"
    writer.complete_hashes(big, {raw_path: "blake3:" + "0" * 64}, {})
    for kept in (big, journal.executions()[1]):
        assert kept["files_read"][0]["hash"] == "blake3:" + "0" * 64 and "pending" not in kept["files_read"][0]
    writer.close()
    data = bytes_under(tmp_path / ".repro")
    assert PASSWORD.encode() not in data and GH.encode() not in data


def test_what_is_still_queued_is_scrubbed_and_written_when_the_writer_settles(tmp_path: Path) -> None:
    journal = Journal(tmp_path / ".repro")
    scrubber = Scrubber()
    writer = JournalWriter(journal, lambda text: None, lambda: (journal, None), scrubber)
    writer.begin_session("s" * 32, None, {}, 1.0)
    code = f'secret = "{PASSWORD}"\n' + "y = 2\n" * 200
    big = record(1, code, path=f"/data/{GH}.csv")
    with writer.lock:  # the scrub thread cannot get at it before settle() does
        writer.append(big, None)
        assert writer.settle()
    assert journal.executions()[0]["code"].startswith('secret = "<redacted>"')
    writer.close()
    data = bytes_under(tmp_path / ".repro")
    assert PASSWORD.encode() not in data and GH.encode() not in data


def test_fault_messages_are_redacted_where_told_and_where_kept() -> None:
    shown: list[str] = []

    class Stream:
        closed = False

        def write(self, text: str) -> None:
            shown.append(text)

        def flush(self) -> None:
            pass

    log = FaultLog(None, Scrubber([ENV_TOKEN]).text)
    log.stderr = Stream()
    text = log.report("files", KeyError(f"https://u:{PASSWORD}@host/x token {ENV_TOKEN}"), "your cell is unaffected")
    everything = text + "".join(shown) + "".join(log.latest)
    assert shown and "recorder fault in files" in everything
    assert PASSWORD not in everything and ENV_TOKEN not in everything


def test_a_recording_kernel_writes_no_secret_and_its_views_show_none(notebook_dir: Path) -> None:
    (notebook_dir / f"orders_{GH}.csv").write_text("id\n1\n")
    filler = "".join(f"stage{i} = {i} * 2  # stage {i} of the pipeline\n" for i in range(30))
    with LiveKernel(notebook_dir, env={"SERVICE_AUTH_TOKEN": ENV_TOKEN}) as k:
        k.run(START)
        k.run(f"{RECORDER}.inline_hash_files = 0", cell_id="defer")  # every file's hash from the thread
        k.run(f'rows = open("orders_{GH}.csv").read()', cell_id="read")
        big = k.run(f'password = "{PASSWORD}"\n' + filler, cell_id="big")
        inject = k.run("_r = " + RECORDER + "\n_r._files = lambda *a: (_ for _ in ()).throw("
                       f"KeyError('no https://u:{PASSWORD}@h/ for ' + __import__('os').environ['SERVICE_AUTH_TOKEN']))",
                       cell_id="inject")
        after = k.run("z = 1", cell_id="after")
        k.run(f"print({RECORDER}.writer.hashes.wait(60), {RECORDER}.writer.scrubs.wait(60))", check=True)
        status = k.value(f"__import__('json').dumps({RECORDER}.status())")
        shown = k.run("%repro status", cell_id="status")
        memory = k.value(f"__import__('json').dumps({RECORDER}.records)")
        faults = k.value(f"__import__('json').dumps({RECORDER}.faults)")
    printed = big["stderr"] + inject["stderr"] + after["stderr"] + json.dumps(shown["outputs"])
    assert "recorder fault" in inject["stderr"] + after["stderr"]
    for value in (PASSWORD, GH, ENV_TOKEN):
        assert value not in printed + status + memory + faults, value
    records = {r["cell_id"]: r for r in journal_records(notebook_dir)}
    assert records["big"]["code"].startswith('password = "<redacted>"') and records["big"]["redacted"]
    read = records["read"]["files_read"][0]
    assert read["path"].endswith("orders_<redacted>.csv") and read["hash"] and not read.get("pending")
    assert json.loads(status)["inputs"][0]["hash"] == read["hash"]
    for value in (PASSWORD, GH, ENV_TOKEN):
        assert value.encode() not in bytes_under(notebook_dir / ".repro"), value
