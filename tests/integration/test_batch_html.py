"""The batch's HTML report opened in headless Chromium: the DOM holds one row per item and each failure's diff, a
hostile name or diff stays text (no element, no script), and the page renders to a screenshot."""

from __future__ import annotations

import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from repro_kernel.export.batch import BatchResult
from repro_kernel.export.batch_report import write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"


class Dom(HTMLParser):
    """The tags, ids and text of the DOM Chromium dumped."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_title:
            self.title += data


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_html_report_in_headless_chromium(tmp_path: Path) -> None:
    results = [
        BatchResult("projects/good/good.repro", "reproduced", 0, 2.1, "local/1",
                    steps=[{"index": 1, "label": "In[2] cell 2", "outcome": "reproduced"}]),
        BatchResult(f"projects/{HOSTILE}.repro", "not-reproduced", 1, 3.4, "local/2",
                    steps=[{"index": 2, "label": "In[3] cell 3", "outcome": "differs",
                            "detail": f"stdout: -0\n+1 {HOSTILE}"}]),
        BatchResult("projects/tampered.repro", "bad-input", 2, 0.2, "local/1",
                    problems=["the manifest's seal does not match: export the notebook again"]),
    ]
    page = tmp_path / "verify.html"
    write_html(page, "verify", results, 4.0, 2)
    dumped = subprocess.run([str(CHROMIUM), *FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                            timeout=120)
    assert dumped.returncode == 0, dumped.stderr[-1500:]
    dom = Dom()
    dom.feed(dumped.stdout)
    tags = [tag for tag, _ in dom.tags]
    rows = [attrs["id"] for tag, attrs in dom.tags if tag == "tr" and (attrs.get("id") or "").startswith("row-")]
    assert rows == ["row-1", "row-2", "row-3"]
    assert "script" not in tags and "img" not in tags  # the hostile name stayed text
    assert dom.title == "jupyter repro verify: 2 of 3 failed"  # no script ran to change it
    text = "".join(dom.text)
    assert HOSTILE in text and "stdout: -0\n+1" in text and "seal does not match" in text
    sections = [attrs.get("id") for tag, attrs in dom.tags if tag == "section"]
    assert sections == ["item-2", "item-3"]
    statuses = [attrs.get("class") for tag, attrs in dom.tags if tag == "td" and "status" in (attrs.get("class") or "")]
    assert statuses == ["status reproduced", "status not-reproduced", "status bad-input"]

    shot = tmp_path / "verify.png"
    subprocess.run([str(CHROMIUM), *FLAGS, f"--screenshot={shot}", "--window-size=1200,800", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1200, 800)
    assert len(png) > 10_000  # a page with a table and text, not a blank one
