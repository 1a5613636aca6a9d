"""Rules about data read from the network."""

from __future__ import annotations

from repro_kernel.analysis.model import Cell, Execution, Flag
from repro_kernel.analysis.rules.common import _cells_of, _labels

_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")

def recorded(executions: list[Execution], by_id: dict[str, Cell]) -> list[Flag]:

    hosts: dict[str, list[Execution]] = {}
    for execution in executions:
        if "network" not in execution.tags:
            continue
        for access in (execution.record or {}).get("network") or ():
            host = str(access.get("host") or access.get("url") or "?")
            if host.startswith(_LOOPBACK):
                continue
            hosts.setdefault(host, [])
            if execution not in hosts[host]:
                hosts[host].append(execution)
    flags = []
    for host, readers in hosts.items():
        cells = _cells_of(readers, by_id)
        urls = [a.get("url") for e in readers for a in (e.record or {}).get("network") or () if a.get("url")]
        flags.append(Flag(
            "network-input", cells, f"{_labels(cells, by_id, readers)} fetched data from {host} at run time",
            "download the data once into the project, snapshot it (`%repro snapshot`) and read the local copy",
            details={"host": host, "urls": urls[:10]},
        ))
    return flags


def static(executions: list[Execution], by_id: dict[str, Cell]) -> list[Flag]:

    flags = []
    for execution in executions:
        facts = execution.facts
        what = facts.urls[:1] or facts.network_calls[:1]
        if what and execution.cell in by_id:
            flags.append(Flag(
                "network-input", [execution.cell], f"{by_id[execution.cell].label} fetches {what[0]} at run time",
                "download the data once into the project and read the local copy",
                details={"urls": facts.urls, "calls": facts.network_calls},
            ))
    return flags
