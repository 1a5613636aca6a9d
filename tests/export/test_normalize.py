"""Output normalisation: what verify treats as the same output, and what it must not."""

from __future__ import annotations

import base64
import time

from repro_kernel.export.normalize import (
    compare_outputs,
    mask_clock,
    matches_redacted,
    normalize_text,
    numbers_close,
)


def out(text: str, kind: str = "text/plain") -> dict:
    return {"output_type": "execute_result", "data": {kind: text}, "metadata": {}, "execution_count": 1}


def test_volatile_parts_are_normalised() -> None:
    assert normalize_text("<Foo object at 0x7f3a2b1c9d40>") == normalize_text("<Foo object at 0x7f00deadbeef>")
    assert normalize_text("saved /tmp/tmpab12cd/out.csv") == normalize_text("saved /tmp/tmpzz99/out.csv")
    assert normalize_text("CPU times: user 3 ms\nWall time: 5.72 µs\n1") == normalize_text(
        "CPU times: user 9 ms\nWall time: 8 ms\n1")
    assert normalize_text('<div id="sk-container-id-3">') == normalize_text('<div id="sk-container-id-1">')
    assert normalize_text("\x1b[31mred\x1b[0m  \r\n") == "red"


def test_real_differences_are_not_normalised_away() -> None:
    assert normalize_text("0.1234") != normalize_text("0.1235")
    assert normalize_text("array([1, 2])") != normalize_text("array([2, 1])")
    assert not compare_outputs([out("1.0")], [out("1.5")]).same


def test_rtol_is_relative_and_only_about_numbers() -> None:
    assert numbers_close("x = 1.000000001, n=3", "x = 1.0, n=3", rtol=1e-6)
    assert not numbers_close("x = 1.01", "x = 1.0", rtol=1e-6)
    assert not numbers_close("x = 1.0 a", "x = 1.0 b", rtol=1.0)
    assert compare_outputs([out("1.000000001")], [out("1.0")], rtol=1e-6).same
    assert not compare_outputs([out("1.000000001")], [out("1.0")]).same


def test_images_compare_by_hash_and_diffs_are_short() -> None:
    png_a = base64.b64encode(b"\x89PNG-a").decode()
    png_b = base64.b64encode(b"\x89PNG-b").decode()
    assert compare_outputs([out(png_a, "image/png")], [out(png_a, "image/png")]).same
    differs = compare_outputs([out(png_a, "image/png")], [out(png_b, "image/png")])
    assert not differs.same and "image/png differs" in differs.diff
    long_a = "\n".join(str(i) for i in range(100))
    long_b = "\n".join(str(i * 2) for i in range(100))
    diff = compare_outputs([out(long_a)], [out(long_b)]).diff
    assert len(diff.splitlines()) <= 8 and "more changed lines" in diff


def test_streams_merge_and_stderr_is_not_compared() -> None:
    recorded = [{"output_type": "stream", "name": "stdout", "text": "a\n"},
                {"output_type": "stream", "name": "stdout", "text": "b\n"},
                {"output_type": "stream", "name": "stderr", "text": "warning 1\n"}]
    replayed = [{"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
                {"output_type": "stream", "name": "stderr", "text": "other warning\n"}]
    assert compare_outputs(recorded, replayed).same
    missing = compare_outputs(recorded, [])
    assert not missing.same and "missing" in missing.diff


def test_a_redacted_recorded_value_matches_whatever_the_replay_prints_there() -> None:
    recorded = [out("token: <redacted> (expires <redacted>)"),
                {"output_type": "error", "ename": "PermissionError", "evalue": "login refused: password=<redacted>"}]
    supplied = [out("token: ghp_R7vK2mQ9xL4pT8wN3bY6 (expires 2026-01-01)"),
                {"output_type": "error", "ename": "PermissionError", "evalue": "login refused: password=Amber-8812"}]
    assert compare_outputs(recorded, supplied).same
    assert compare_outputs(recorded, recorded).same  # a replay that prints the marker too
    # The text around the marker is compared as usual; the marker stands for one character or more.
    assert not compare_outputs([out("token: <redacted> (expires <redacted>)")], [out("key: abc (expires 2026)")]).same
    assert not compare_outputs([out("token: <redacted>!")], [out("token: !")]).same
    assert not compare_outputs([out("a<redacted>b")], [out("ab")]).same
    assert compare_outputs([out("a<redacted>b")], [out("a-b")]).same
    assert not compare_outputs([out("<redacted> rows")], [out("3 rows\nmore")]).same
    # Only a recorded marker is a wildcard: a replayed one where the recording showed a value is a difference.
    assert not compare_outputs([out("token: abc")], [out("token: <redacted>")]).same
    assert not compare_outputs([out("x = 1")], [out("x = 2")]).same


def test_matching_around_many_markers_stays_linear() -> None:
    recorded = "<redacted>a" * 2000 + "b"
    replayed = "xa" * 50_000
    started = time.perf_counter()
    assert not matches_redacted(recorded, replayed)
    assert matches_redacted("<redacted>," * 3000 + "end", "v," * 3000 + "end")
    assert time.perf_counter() - started < 0.5


def test_clock_stamps_inside_the_session_windows_are_masked_and_dates_in_the_data_are_not() -> None:
    from datetime import datetime, timezone

    recorded_at = datetime(2026, 3, 4, 9, 15, 0, tzinfo=timezone.utc).timestamp()
    replayed_at = datetime(2026, 12, 1, 22, 40, 0, tzinfo=timezone.utc).timestamp()
    clock = ([(recorded_at, recorded_at + 600)], [(replayed_at, replayed_at + 30)])
    # statsmodels' summary() prints the date and time of the fit.
    recorded = [out("Date:                Wed, 04 Mar 2026   Prob (F-statistic):   1.2e-05\n"
                    "Time:                        09:17:31   Log-Likelihood:       -12.3\n"
                    "fitted at 2026-03-04 09:16:02.123456, data from 1999-01-01")]
    replayed = [out("Date:                Tue, 01 Dec 2026   Prob (F-statistic):   1.2e-05\n"
                    "Time:                        22:40:09   Log-Likelihood:       -12.3\n"
                    "fitted at 2026-12-01T22:40:05, data from 1999-01-01")]
    assert compare_outputs(recorded, replayed, clock=clock).same
    assert not compare_outputs(recorded, replayed).same, "without the windows, the clock is compared"
    # A date in the data is data: 1999-01-01 changed is a difference.
    changed = [out(replayed[0]["data"]["text/plain"].replace("1999-01-01", "1999-01-02"))]
    assert not compare_outputs(recorded, changed, clock=clock).same
    # A stamp outside the windows (a date the code computed, the day before) is compared as it is.
    assert not compare_outputs([out("due 2026-03-03 09:16:00")], [out("due 2026-11-30 22:40:00")], clock=clock).same
    # A changed number next to a masked stamp is still a difference.
    assert not compare_outputs([out("09:17:31 loss 0.5")], [out("22:40:09 loss 0.6")], clock=clock).same
    # time.ctime()'s form, read as local time.
    local = datetime.fromtimestamp(recorded_at + 60).strftime("%a %b %d %H:%M:%S %Y")
    assert "<CLOCK>" in mask_clock(local, clock[0])
