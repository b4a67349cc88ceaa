"""`markdown`: a short summary for a pull request or a chat message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reelgate.gates.api import hookimpl
from reelgate.gates.model import Check, Report

ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "💥", "skipped": "⏭️"}


def format_check(check: Check) -> str:
    value = "—" if check.value is None else f"{check.value:g} {check.unit}".strip()
    limit = f"{check.op} {check.threshold:g}" if check.op and check.threshold is not None else ""
    base = f"{check.baseline:g}" if check.baseline is not None else ""
    note = check.note or check.waived_by or ""
    return f"| {ICONS[check.verdict]} {check.name} | {value} | {limit} | {base} | {note} |"


class MarkdownReporter:
    name = "markdown"
    suffix = ".md"

    def write(self, report: Report, path: Path) -> None:
        decision = report.decision
        head = f"**{decision.outcome.upper()}** — {decision.reason}" if decision else f"state: {report.state}"
        lines = [
            f"# Release {report.release_id}: {report.candidate}",
            "",
            head,
            "",
            f"Policy `{report.policy}`, state `{report.state}`.",
            "",
            "| gate | phase | required | verdict | reason | time |",
            "|---|---|---|---|---|---|",
        ]
        for r in report.results:
            lines.append(
                f"| {r.gate} ({r.uses}) | {r.phase} | {'yes' if r.required else 'advisory'} | "
                f"{ICONS[r.verdict]} {r.verdict} | {r.reason} | {r.duration_s:.1f} s |"
            )
        for r in report.results:
            if not r.checks:
                continue
            lines += ["", f"## {r.gate}", "", "| check | value | limit | baseline | note |", "|---|---|---|---|---|"]
            lines += [format_check(c) for c in r.checks]
        path.write_text("\n".join(lines) + "\n")


@hookimpl
def register_reporters(register: Any) -> None:
    register(MarkdownReporter)
