"""Write a report with every installed reporter."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reelgate.gates.model import Decision, Event, GateResult, Report

log = logging.getLogger("reelgate.gates.reports")


def write_reports(
    release_id: str,
    candidate: str,
    policy: str,
    state: str,
    decision: Decision | None,
    results: list[GateResult],
    timeline: list[Event],
    folder: Path,
    reporters: dict[str, type[Any]],
) -> list[Path]:
    """Write one file per reporter in `reporters` (the registry's table) into `folder`."""
    report = Report(
        release_id=release_id,
        candidate=candidate,
        policy=policy,
        state=state,
        decision=decision,
        results=results,
        timeline=timeline,
        finished_at=datetime.now(UTC),
    )
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, reporter in sorted(reporters.items()):
        path = folder / f"report{reporter.suffix}"
        try:
            reporter().write(report, path)
            written.append(path)
        except Exception:  # one broken reporter must not hide the others
            log.exception("reporter %s failed", name)
    return written
