"""Terminal output for the engine's commands (rich), kept apart from the logic."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from reelgate.gates.model import Decision, GateResult

STYLES = {"pass": "green", "warn": "yellow", "fail": "red", "error": "bold red", "skipped": "dim"}
# Piped output (CI logs, the demo) gets a wide fixed width instead of rich's 80 columns.
WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, soft_wrap=True, width=WIDTH)
errors = Console(stderr=True, highlight=False, soft_wrap=True, width=WIDTH)


def show_result(result: GateResult) -> None:
    style = STYLES[result.verdict]
    console.print(
        f"[{style}]{result.verdict.upper():>7}[/] {result.gate} ({result.uses}): {result.reason} "
        f"[dim]{result.duration_s:.1f} s, {result.attempts} attempt(s)[/]"
    )
    if not result.checks:
        return
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    for column in ("check", "value", "limit", "baseline", "verdict", "note"):
        table.add_column(column)
    for c in result.checks:
        value = "—" if c.value is None else f"{c.value:g} {c.unit}".strip()
        limit = f"{c.op} {c.threshold:g}" if c.op and c.threshold is not None else ""
        table.add_row(
            c.name,
            value,
            limit,
            "" if c.baseline is None else f"{c.baseline:g}",
            f"[{STYLES[c.verdict]}]{c.verdict}[/]",
            c.waived_by or c.note,
        )
    console.print(table)


def show_decision(decision: Decision) -> None:
    style = "bold green" if decision.outcome == "promote" else "bold red"
    console.print(f"[{style}]{decision.outcome.upper()}[/]: {decision.reason}")
