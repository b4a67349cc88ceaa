"""Terminal output for the engine's commands (rich), kept apart from the logic."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
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
        f"[{style}]{result.verdict.upper():>7}[/] {escape(result.gate)} ({result.uses}): {escape(result.reason)} "
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
            escape(c.name),
            value,
            limit,
            "" if c.baseline is None else f"{c.baseline:g}",
            f"[{STYLES[c.verdict]}]{c.verdict}[/]",
            escape(c.waived_by or c.note),
        )
    console.print(table)


def show_decision(decision: Decision) -> None:
    style = "bold green" if decision.outcome == "promote" else "bold red"
    console.print(f"[{style}]{decision.outcome.upper()}[/]: {escape(decision.reason)}")


class GateBoard:
    """How a release shows its gates. On a terminal: a live table of the gates (state, elapsed, verdict)
    under the release's messages. Piped or in CI: one plain line per message and per gate event."""

    def __init__(self, out: Console | None = None) -> None:
        self.out = out or console
        self.started = time.monotonic()
        self.rows: dict[str, dict[str, Any]] = {}
        self.live: Live | None = None

    @property
    def interactive(self) -> bool:
        return self.out.is_terminal

    def __enter__(self) -> GateBoard:
        if self.interactive:
            self.live = Live(self.table(), console=self.out, refresh_per_second=4, get_renderable=self.table)
            self.live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def say(self, message: str) -> None:
        # Messages carry paths and tool output: `[test]` in a build's path is text, not rich markup.
        self.out.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/] {escape(message)}")

    def on_gate(self, kind: str, spec: Any, result: GateResult | None) -> None:
        """A gate started or finished (the runner's events)."""
        row = self.rows.setdefault(spec.id, {"uses": spec.uses, "phase": spec.phase, "started": time.monotonic()})
        if kind == "started":
            row.update(state="running", started=time.monotonic(), result=None)
            if not self.interactive:
                self.say(f"gate {spec.id} ({spec.uses}) started")
        elif result is not None:
            row.update(state="done", result=result, took=result.duration_s)
            if not self.interactive:
                self.say(f"gate {spec.id}: {result.verdict}: {result.reason}")

    def table(self) -> Table:
        table = Table(title="gates", title_justify="left", box=None, padding=(0, 2), header_style="bold")
        for column in ("gate", "type", "phase", "state", "elapsed", "verdict", "reason"):
            table.add_column(column, overflow="fold")
        for gate, row in self.rows.items():
            result: GateResult | None = row.get("result")
            elapsed = row.get("took") if result else time.monotonic() - row["started"]
            verdict = f"[{STYLES[result.verdict]}]{result.verdict}[/]" if result else ""
            table.add_row(
                gate,
                row["uses"],
                row["phase"],
                row.get("state", "waiting"),
                f"{elapsed or 0:.1f} s",
                verdict,
                escape(result.reason) if result else "",
            )
        return table
