"""A URL's user info (a password) never reaches the network record, however the client spells the host."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from repro_kernel.testing import START, LiveKernel, journal_records


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_userinfo_is_kept_out_of_hosts_and_urls(notebook_dir: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        with LiveKernel(notebook_dir, notebook="nb.ipynb") as k:
            k.run(START)
            k.run(
                "import urllib.request, http.client\n"
                f"body = urllib.request.urlopen('http://alice:S3cretPW@127.0.0.1:{port}/data').read()\n"
                f"conn = http.client.HTTPConnection('alice:S3cretPW@127.0.0.1', {port}, timeout=0.5)\n"
                "try:\n    conn.request('GET', '/')\nexcept Exception:\n    pass\n",
                cell_id="fetch")
            k.run("%repro stop")
    finally:
        server.shutdown()
    (record,) = [r for r in journal_records(notebook_dir) if r["cell_id"] == "fetch"]
    assert record["network"], record
    text = repr(record["network"])
    assert "S3cretPW" not in text and "alice" not in text, text
    assert any(entry.get("host") == "127.0.0.1" for entry in record["network"])
