"""What an export pins beyond what the session imported: the distributions those depend on.

A session that imports pandas also runs python-dateutil, pytz and tzdata, but the kernel may have loaded some of
them before recording started (jupyter_client imports dateutil), so no record shows them as new. Left unpinned,
a fresh environment installs their newest releases and the replay no longer runs what the session ran. Each
pinned distribution's own requirements (``Requires-Dist``, markers evaluated for this machine, extras left out)
are followed, transitively, and every one the session had installed is pinned at the version it had.

The requirements are read from the distributions installed where the export runs, and only where the installed
release is the recorded one: another release may require other things, and a guess would pin the wrong set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import metadata

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependencies(pinned: Iterable[str], recorded: Mapping[str, str], leave_out: Iterable[str] = ()) -> dict[str, str]:
    """The distributions ``pinned`` need, transitively, that the session had installed (``recorded``: name ->
    version, as the session's environment lists them): name -> the pinned distribution that needs it first.
    Names in ``leave_out`` (the kernel's own) and in ``pinned`` are not returned."""
    versions = {_normal(k): v for k, v in recorded.items()}
    skip = {_normal(n) for n in leave_out}
    queue = [_normal(n) for n in pinned]
    seen = set(queue)
    found: dict[str, str] = {}
    while queue:
        name = queue.pop(0)
        try:
            dist = metadata.distribution(name)
        except (metadata.PackageNotFoundError, ValueError):
            continue
        if versions.get(name) is not None and dist.version != versions[name]:
            continue  # not the release the session ran: its requirements may not be that release's
        for line in dist.requires or []:
            try:
                requirement = Requirement(line)
                if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                    continue
            except (InvalidRequirement, UndefinedEnvironmentName):
                continue
            dep = _normal(requirement.name)
            if dep in seen or dep in skip or dep not in versions:
                continue
            seen.add(dep)
            found[dep] = name
            queue.append(dep)
    return found
