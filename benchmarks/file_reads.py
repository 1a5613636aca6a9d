"""Cost of recording file reads on the cell's path, side by side with the same cells in an unrecorded kernel
in the same run: a cell that opens N small files, and a cell that reads 10 bytes of one large file.

    python benchmarks/file_reads.py [--files 10000] [--big-mib 2048] [--repeat 5]

Both kernels run alternately, each workload `--repeat` times (new files each time, so nothing is cached by the
recorder); the report gives the kernel's own per-cell time (medians) and the ratio recorded / plain. Hashes are
taken off the cell's path (a background worker completes the record), so both ratios should stay small and
flat in N and in the file's size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro_kernel.testing import START, LiveKernel  # noqa: E402


def many_files(kernel: LiveKernel, folder: Path, count: int) -> float:
    folder.mkdir()
    for index in range(count):
        (folder / f"f{index}.txt").write_text(f"row {index}\n")
    code = f"for _n in os.listdir({str(folder)!r}):\n    open(os.path.join({str(folder)!r}, _n)).close()"
    return float(kernel.run(code, check=True)["kernel_s"])


def big_file_head(kernel: LiveKernel, path: Path, mib: int) -> float:
    with open(path, "wb") as handle:  # a sparse file: the size is real, the disk use is not
        handle.truncate(mib << 20)
    os.utime(path)
    return float(kernel.run(f"_head = open({str(path)!r}, 'rb').read(10)", check=True)["kernel_s"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--big-mib", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="repro-file-reads-"))
    times: dict[tuple[str, str], list[float]] = {}
    (root / "plain").mkdir()
    (root / "recorded").mkdir()
    with LiveKernel(root / "plain", timeout=600) as plain, LiveKernel(root / "recorded", timeout=600) as recorded:
        plain.run("import os", check=True)
        recorded.run(START + "\nimport os", check=True)
        for attempt in range(args.repeat):
            for name, kernel in (("plain", plain), ("recorded", recorded)):
                folder = root / name
                times.setdefault((name, "files"), []).append(many_files(kernel, folder / f"many{attempt}", args.files))
                times.setdefault((name, "big"), []).append(
                    big_file_head(kernel, folder / f"big{attempt}.bin", args.big_mib))
    print(f"{'workload':<40} {'plain s':>10} {'recorded s':>11} {'ratio':>7}")
    for workload, label in (("files", f"open {args.files} small files"),
                            ("big", f"read 10 bytes of a {args.big_mib} MiB file")):
        plain_s = statistics.median(times[("plain", workload)])
        recorded_s = statistics.median(times[("recorded", workload)])
        print(f"{label:<40} {plain_s:>10.4f} {recorded_s:>11.4f} {recorded_s / plain_s:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
