"""Pins beyond the imports: what the imported distributions require, read from the installed metadata."""

from __future__ import annotations

from importlib import metadata

from repro_kernel.export.pins import dependencies

INSTALLED = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in metadata.distributions()}


def test_requirements_are_followed_transitively_at_the_recorded_versions() -> None:
    found = dependencies(["pandas"], INSTALLED)
    assert found["numpy"] == "pandas" and found["python-dateutil"] == "pandas"
    assert "pandas" not in found
    # python-dateutil's own requirement (six) is reached through it, where it is installed.
    if "six" in INSTALLED and any(r.startswith("six") for r in metadata.requires("python-dateutil") or []):
        assert found["six"] == "python-dateutil"


def test_only_what_the_session_had_installed_and_not_the_kernels_own() -> None:
    recorded = {k: v for k, v in INSTALLED.items() if k != "python-dateutil"}
    found = dependencies(["pandas"], recorded, leave_out=["numpy"])
    assert "python-dateutil" not in found and "numpy" not in found


def test_another_release_than_the_recorded_one_is_not_read() -> None:
    recorded = dict(INSTALLED, pandas="0.0.1")
    assert dependencies(["pandas"], recorded) == {}
    assert dependencies(["no-such-distribution"], INSTALLED) == {}
