"""The views the sidebar and ``%repro status`` read from the recorder: status, timeline, inputs, snapshots.

:class:`RecorderViews` is mixed into :class:`~repro_kernel.kernel.recorder.Recorder`. The hot path calls
``_index`` once per record to keep the timeline and the table of inputs current, so that building a view never
walks the whole session; the hashing thread calls ``_hashes_landed`` when a record's pending hashes land, the
scrub thread ``_scrub_landed`` when a record's secrets were taken out. What a view shows (the notebook's name,
the git branch, the journal's path, the inputs' paths) passes through the recorder's
:class:`~repro_kernel.kernel.scrub.Scrubber`: the sidebar saves the status in ``metadata.repro``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Optional

from repro_kernel.core.hashing import FileHashCache
from repro_kernel.core.journal import Journal
from repro_kernel.kernel.faults import FaultLog
from repro_kernel.kernel.journal_writer import JournalWriter
from repro_kernel.kernel.scrub import Scrubber


class RecorderViews:
    """The read side of the recorder; the attributes below are the recorder's own, set by ``Recorder``."""

    recording: bool
    session_id: Optional[str]
    started_at: Optional[float]
    notebook: Optional[str]
    writer: Optional[JournalWriter]
    environment: dict[str, Any]
    records: list[dict[str, Any]]
    fault_log: FaultLog
    scrubber: Scrubber
    file_cache: FileHashCache
    _timeline: list[dict[str, Any]]
    _inputs: dict[str, dict[str, Any]]
    _written: set[str]
    _notify: Callable[[str, dict[str, Any]], None]

    TIMELINE_LIMIT = 500

    @property
    def journal(self) -> Optional[Journal]:
        """The journal being written (another one once a deleted journal folder is recreated)."""
        return self.writer.journal if self.writer is not None else None

    @property
    def faults(self) -> list[str]:
        """The latest recorder faults, oldest first (``fault_log.count`` counts them all)."""
        return list(self.fault_log.latest)

    def status(self, timeline_limit: Optional[int] = TIMELINE_LIMIT, *, judging: bool = False) -> dict[str, Any]:
        """The status object of the comm protocol (docs/contracts.md), its texts redacted.

        Built from tables kept up to date as records arrive, so its cost does not grow with the session;
        the timeline holds the latest ``timeline_limit`` executions (``executions`` counts them all).
        ``judging``: the inputs keep their real ``abspath``, for the engine to judge (and redact) them.
        """
        git = self.environment.get("git") or None
        timeline = self._timeline if timeline_limit is None else self._timeline[-timeline_limit:]
        shown = self._shown
        return {
            "recording": self.recording,
            "session_id": self.session_id,
            "started_at": self.started_at,
            "notebook": shown(self.notebook),
            "executions": len(self.records),
            "kernel": {
                "python": self.environment.get("python", {}).get("version"),
                "ipython": self.environment.get("kernel", {}).get("ipython"),
                "ipykernel": self.environment.get("kernel", {}).get("ipykernel"),
            },
            "environment_fingerprint": self.environment.get("fingerprint"),
            "git": None
            if not git or "commit" not in git
            else {"commit": git.get("commit"), "branch": shown(git.get("branch")), "dirty": bool(git.get("dirty"))},
            "journal": shown(str(self.journal.database_path)) if self.journal else None,
            "inputs": self.inputs(judging=judging),
            "timeline": list(timeline),
            "faults": self.fault_log.count,
        }

    def timeline_entry(self, index: int) -> dict[str, Any]:
        return dict(self._timeline[index])

    def _index(self, record: dict[str, Any]) -> None:
        """Keep the timeline and the table of inputs current, one record at a time."""
        random = record["random"]
        self._timeline.append(
            {
                "seq": record["seq"],
                "cell_id": record["cell_id"],
                "execution_count": record["execution_count"],
                "duration_s": record["duration_s"],
                "status": record["status"],
                "random": any(s["before"] != s["after"] for s in random.get("sources", {}).values())
                or bool(random.get("generators")),
                "data": bool(record["files_read"]),
            }
        )
        for f in record["files_read"]:
            if f["path"] not in self._inputs and f["path"] not in self._written:
                self._inputs[f["path"]] = {
                    "path": f["rel"] or f["path"],
                    "abspath": f["path"],
                    "hash": f["hash"],
                    "size": f["size"],
                }
        # A file this session wrote is its own output, not an input, when it is read later.
        self._written.update(f["path"] for f in record["files_written"])

    def inputs(self, *, judging: bool = False) -> list[dict[str, Any]]:
        """Files read this session, each with the hash first seen, their paths redacted (``judging``: the real
        ``abspath`` kept, for the engine). Whether one is preserved or has changed since is the engine's
        verdict (``analysis.judge_inputs``, added by the comm), not the recorder's."""
        shown = self._shown
        return [{**item, "path": shown(item["path"]), "abspath": item["abspath"] if judging else shown(item["abspath"])}
                for item in list(self._inputs.values())]  # list(): one step, safe beside the cell's thread

    def _shown(self, text: Optional[str]) -> Optional[str]:
        """``text`` redacted; while records wait for the scrub thread (their paths not scanned yet), a text not
        scanned yet is shown as ``<redacted>`` rather than scanned on the cell's path (a new status follows)."""
        writer = self.writer
        return self.scrubber.shown(text, scan=writer is None or not writer.scrubs.busy)

    def _hashes_landed(self, record: dict[str, Any], hashes: Mapping[str, Optional[str]]) -> None:
        """The hashing thread completed ``record``: inputs first seen in it get their hash, and the listeners
        (the sidebar) a new status."""
        changed = False
        read = {f.get("path") for f in record.get("files_read") or ()}
        for path, digest in hashes.items():  # the paths as read: the record's may be redacted by now
            if path not in read and self.scrubber.text(path) not in read:
                continue
            item = self._inputs.get(path)
            if item is not None and item["hash"] is None and digest:
                item["hash"] = digest
                changed = True
        if changed and self.recording:
            self._notify("status", self.status())

    def _scrub_landed(self, record: dict[str, Any]) -> None:
        """The scrub thread took the secrets out of ``record`` (written as a placeholder at first): the
        listeners (the sidebar) get a new status, and with it new flags, over the record as kept."""
        if self.recording:
            self._notify("status", self.status())

    def snapshot(self, paths: list[str]) -> list[dict[str, Any]]:
        """Copy files into the journal's content-addressed store."""
        if self.journal is None:
            raise RuntimeError("not recording")
        done = []
        for raw in paths:
            path = Path(raw).expanduser()
            if not path.is_absolute():
                path = Path.cwd() / path
            facts, _ = self.file_cache.lookup(str(path), None)  # hashed now, whatever its size
            if facts.hash is None:
                raise FileNotFoundError(f"cannot snapshot {raw}: {facts.error or 'not a file'}")
            assert self.writer is not None
            with self.writer.lock:  # one connection: never inside the hashing thread's transaction
                self.journal.snapshot_file(path, facts.hash)
            done.append({"path": self.scrubber.text(str(path)), "hash": facts.hash, "size": facts.size})
        return done
