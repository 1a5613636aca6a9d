"""``jupyter repro verify DIR --upgrade [PKG ...]``: replay with newer releases and name the package that changed
each step's result.

Three kinds of replay, each in a fresh environment (:mod:`repro_kernel.export.freshenv`): the export's own pins
(the baseline), every named package at its newest allowed release (or ``PKG==VERSION``), and, for each step that
reproduced in the baseline but differs upgraded, trials that upgrade only part of the changed packages: the set is
halved until one package is left (or a half alone no longer changes the step, or cannot be installed with the
recorded pins, when the culprit is the smaller set that still does; a half that breaks earlier steps tells
nothing, and the other half alone reproducing the step then says the first is needed). Trials are shared between
steps, so ``k`` changed packages cost at most about ``2 log2(k)`` replays per culprit. The report is the upgraded
replay's, each drifted step's detail starting with ``PKG OLD -> NEW:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from repro_kernel.exceptions import BadInputError
from repro_kernel.export.freshenv import (
    FreshEnv,
    Sources,
    build_env,
    export_folder,
    find_interpreter,
    normalise,
    recorded_pins,
    recorded_python,
    replay_needs,
    requirement_lines,
    resolve,
    verify_in,
)
from repro_kernel.export.manifest import load_manifest
from repro_kernel.export.verify import Report


@dataclass
class Drift:
    """One package whose release changed, and the steps its change alone explains."""

    package: str
    recorded: Optional[str]
    replayed: str
    steps: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "recorded": self.recorded, "replayed": self.replayed, "steps": self.steps}


@dataclass
class DriftResult:
    """The upgraded replay's report, what changed, and the trials that were run."""

    report: Report
    drift: list[Drift]
    baseline: Report
    trials: int = 0
    unexplained: list[int] = field(default_factory=list)  # steps that differ only with several changes together


def parse_upgrades(names: Sequence[str], pins: dict[str, Optional[str]]) -> dict[str, Optional[str]]:
    """``--upgrade`` arguments as {pinned name: wanted version or None for the newest}; no names: every pin."""
    if not names:
        return {name: None for name in pins}
    wanted: dict[str, Optional[str]] = {}
    for raw in names:
        name, sep, version = raw.partition("==")
        key = normalise(name.strip())
        if not key or (sep and not version.strip()):
            raise BadInputError(f"--upgrade {raw!r} is not a package name or PKG==VERSION",
                                hint="e.g. --upgrade numpy or --upgrade numpy==2.1.0")
        if key not in pins:
            pinned = ", ".join(sorted(pins)) or "none"
            raise BadInputError(f"{name.strip()} is not one of the export's pinned packages",
                                hint=f"name one of: {pinned}")
        wanted[key] = version.strip() or None
    return wanted


class _Trials:
    """Replays of the export with a subset of the changes applied, remembered by subset."""

    def __init__(self, folder: Path, manifest: dict[str, Any], sources: Sources, options: dict[str, Any],
                 changed: dict[str, tuple[Optional[str], str]]) -> None:
        self.folder, self.sources, self.options, self.changed = folder, sources, options, changed
        self.pins = recorded_pins(manifest)
        self.needs = replay_needs(manifest)
        self.version = recorded_python(manifest)
        self.interpreter = find_interpreter(self.version)
        self.done: dict[frozenset[str], Optional[Report]] = {}
        self.envs: dict[frozenset[str], FreshEnv] = {}
        self.notes: list[str] = []

    def requirements(self, upgraded: frozenset[str], ranged: bool = False) -> list[str]:
        """The pins with ``upgraded`` at their new versions (``ranged``: any release after the recorded one up to
        the new one, the newest that installs with the recorded pins of the others)."""
        pins = {name: (self.changed[name][1] if name in upgraded else version) for name, version in self.pins.items()}
        lines = requirement_lines(pins, self.needs)
        if ranged:
            spans = {name: f"{name}{f'>{self.changed[name][0]},' if self.changed[name][0] else ''}"
                           f"<={self.changed[name][1]}" for name in upgraded}
            lines = [spans.get(line.partition("==")[0], line) for line in lines]
        return lines

    def run(self, upgraded: frozenset[str], strict: bool = False) -> Optional[Report]:
        """The replay with ``upgraded`` at their new versions or, where those need newer releases of the others,
        at the newest releases between that install with the recorded ones (bisecting over versions); None when
        even that mix does not install (``strict``: raise instead)."""
        if upgraded in self.done:
            return self.done[upgraded]
        try:
            env = build_env(self.requirements(upgraded), self.version, self.sources, self.interpreter)
        except BadInputError as exc:
            if strict or "do not resolve" not in exc.message:
                raise
            try:
                env = build_env(self.requirements(upgraded, ranged=True), self.version, self.sources,
                                self.interpreter)
            except BadInputError as again:
                if "do not resolve" not in again.message:
                    raise
                self.done[upgraded] = None
                return None
            used = ", ".join(f"{name} {env.installed.get(name)}" for name in sorted(upgraded))
            self.notes.append(f"{', '.join(sorted(upgraded))} at the newest release(s) does not install with the "
                              f"recorded pins of the others: judged alone with {used}")
        self.envs[upgraded] = env
        self.done[upgraded] = verify_in(env, self.folder, **self.options)
        return self.done[upgraded]


def _differing(report: Optional[Report]) -> Optional[set[int]]:
    if report is None:
        return None
    return {s.index for s in report.steps if s.outcome != "reproduced"}


def _verdict(step: int, upgraded: frozenset[str], trials: _Trials, healthy: set[int]) -> Optional[bool]:
    """Whether ``step`` differs with only ``upgraded`` applied; None when that trial cannot tell: the mix does not
    install, or it breaks an earlier step that reproduces both as recorded and with everything upgraded (a newer
    release next to an old one it does not work with, whose failure every later step inherits)."""
    seen = _differing(trials.run(upgraded))
    if seen is None or any(earlier in seen for earlier in healthy if earlier < step):
        return None
    return step in seen


def _culprit(step: int, candidates: list[str], trials: _Trials, healthy: set[int],
             applied: frozenset[str] = frozenset()) -> tuple[list[str], str]:
    """The part of ``candidates`` (all upgraded: ``step`` differs) that changes ``step``, and how: ``alone`` (one
    package), ``each`` (several, each of which changes the step on its own: both halves are always tried, so a
    second culprit is never hidden behind the first) or ``together`` (only in combination). Where one half alone
    cannot tell, the other half alone reproducing the step says the first one is needed (it is then searched
    with the other applied)."""
    if len(candidates) == 1:
        return candidates, "alone"
    half = len(candidates) // 2
    first, second = candidates[:half], candidates[half:]
    with_first = _verdict(step, applied | frozenset(first), trials, healthy)
    with_second = _verdict(step, applied | frozenset(second), trials, healthy)
    if with_first is True and with_second is True:
        (a, how_a), (b, how_b) = (_culprit(step, part, trials, healthy, applied) for part in (first, second))
        return a + b, "each" if "together" not in (how_a, how_b) else "together"
    if with_first is True:
        return _culprit(step, first, trials, healthy, applied)
    if with_second is True:
        return _culprit(step, second, trials, healthy, applied)
    if with_second is False:
        return _culprit(step, first, trials, healthy, applied | frozenset(second))
    if with_first is False:
        return _culprit(step, second, trials, healthy, applied | frozenset(first))
    return candidates, "together"  # neither half can be judged alone


def _follow_on(upgraded: Report, drifted: list[int], blame: dict[int, tuple[list[str], str]]) -> dict[int, int]:
    """Drifted steps that fail with a NameError after an earlier drifted step failed otherwise (it did not define
    what they use): step -> that earlier step, whose culprit is named first."""
    failed = {s.index: s.detail for s in upgraded.steps if s.outcome == "error"}
    roots = [step for step in drifted if step in failed and "NameError" not in failed[step] and blame[step][0]]
    return {step: max(r for r in roots if r < step) for step in drifted
            if "NameError" in failed.get(step, "") and any(r < step for r in roots)}


def verify_upgrade(target: Path, upgrade: Sequence[str] = (), sources: Optional[Sources] = None,
                   **options: Any) -> DriftResult:
    """Replay ``target`` with newer releases of ``upgrade`` (every pin when empty) and name each drifted step's
    culprit (see the module docstring)."""
    sources = sources or Sources()
    with export_folder(target) as folder:
        manifest = load_manifest(folder)
        pins = recorded_pins(manifest)
        if not pins:
            raise BadInputError("the export pins no packages, so there is nothing to upgrade",
                                hint="verify it with --fresh-env instead")
        wanted = parse_upgrades(upgrade, pins)
        trials = _Trials(folder, manifest, sources, options, {})
        asked = {**pins, **wanted}
        newest = resolve(requirement_lines(asked, trials.needs), trials.interpreter[0], sources)
        changed = {name: (pins[name], newest[name]) for name in wanted
                   if newest.get(name) and newest[name] != pins[name]}
        trials.changed = changed
        baseline = trials.run(frozenset(), strict=True)
        assert baseline is not None
        if not changed:
            baseline.warnings.insert(0, "nothing to upgrade: " + ", ".join(
                f"{name} stays at the recorded {pins[name]}" for name in sorted(wanted))
                + " (the newest allowed release, or the version asked for, is the recorded one)")
            return DriftResult(baseline, [], baseline, len(trials.done))
        everything = frozenset(changed)
        upgraded = trials.run(everything, strict=True)
        assert upgraded is not None
        broke_alone = (_differing(baseline) or set())
        drifted = sorted((_differing(upgraded) or set()) - broke_alone)
        healthy = {s.index for s in upgraded.steps if s.outcome == "reproduced"} - broke_alone
        blame = {step: _culprit(step, sorted(everything), trials, healthy) for step in drifted}
        after = _follow_on(upgraded, drifted, blame)
        drift = [Drift(name, old, new, sorted(s for s, (names, how) in blame.items()
                                              if (name in names and how != "together")
                                              or (s in after and name in blame[after[s]][0])))
                 for name, (old, new) in sorted(changed.items())]
        unexplained = sorted(s for s, (names, how) in blame.items() if how == "together")

        def said(names: list[str], how: str) -> str:
            return ", ".join(f"{n} {changed[n][0]} -> {changed[n][1]}" for n in names) + \
                {"together": " (together)", "each": " (each alone changes this step)"}.get(how, "")

        for result in upgraded.steps:
            names, how = blame.get(result.index, ([], ""))
            if result.index in after:
                root = after[result.index]
                alone = f"; alone: {said(names, how)}" if names and names != blame[root][0] else ""
                result.detail = f"{said(*blame[root])} (step {root} failed first{alone}): {result.detail}"
            elif names:
                result.detail = f"{said(names, how)}: {result.detail}".rstrip(": ")
        upgraded.environment = dict(upgraded.environment, upgraded={n: {"recorded": o, "replayed": v}
                                                                    for n, (o, v) in changed.items()})
        upgraded.warnings += trials.notes
        upgraded.warnings.append("baseline in the recorded pins: "
                                 f"{sum(s.outcome == 'reproduced' for s in baseline.steps)} of {len(baseline.steps)} "
                                 f"steps reproduced; {len(trials.done)} replays in all")
        return DriftResult(upgraded, drift, baseline, len(trials.done), unexplained)


def drift_json(result: DriftResult) -> dict[str, Any]:
    """The verify JSON report with ``drift`` (and the baseline's step outcomes) added."""
    body = result.report.to_json()
    body["drift"] = [d.to_json() for d in result.drift]
    body["drift_unexplained_steps"] = result.unexplained
    body["baseline"] = {"exit_code": result.baseline.exit_code,
                        "steps": {s.index: s.outcome for s in result.baseline.steps}, "replays": result.trials}
    return body


def upgrade_argv(argv: Sequence[str]) -> list[str]:
    """``--upgrade [PKG ...]`` as the command line's parser takes it: ``--upgrade`` and one ``--upgrade-package PKG``
    per name. The names are the words after ``--upgrade`` up to the next option or the first word that names an
    existing folder or a notebook (the export to verify)."""
    out: list[str] = []
    taking = False
    for word in argv:
        if word == "--upgrade":
            out.append(word)
            taking = True
            continue
        if taking and not word.startswith("-") and not word.endswith(".ipynb") and not Path(word).exists():
            out += ["--upgrade-package", word]
            continue
        taking = False
        out.append(word)
    return out
