"""The release's gate display: a live table on a terminal, plain lines when piped."""

from __future__ import annotations

import io

from rich.console import Console

from reelgate.gates.console import GateBoard
from reelgate.gates.model import GateResult
from reelgate.gates.policy import GateSpec


def board(terminal: bool) -> tuple[GateBoard, io.StringIO]:
    out = io.StringIO()
    return GateBoard(Console(file=out, force_terminal=terminal, width=120, color_system=None)), out


def events(gates: GateBoard) -> None:
    read, smoke = GateSpec(uses="k6", id="read"), GateSpec(uses="k6", id="smoke", phase="post")
    gates.on_gate("started", read, None)
    gates.on_gate("started", smoke, None)
    result = GateResult(gate="read", uses="k6", verdict="fail", reason="check `p95_ms` is fail", duration_s=4.25)
    gates.on_gate("finished", read, result)


def test_piped_output_is_one_plain_line_per_event() -> None:
    gates, out = board(terminal=False)
    with gates:
        gates.say("deploying")
        events(gates)
    lines = [line.split("s ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "deploying",
        "gate read (k6) started",
        "gate smoke (k6) started",
        "gate read: fail: check `p95_ms` is fail",
    ]


def test_a_terminal_gets_a_table_of_gates_with_state_elapsed_and_verdict() -> None:
    gates, out = board(terminal=True)
    with gates:
        events(gates)
        rows = {line.split()[0]: line.split() for line in _render(gates).splitlines()[2:]}
    assert rows["read"][:6] == ["read", "k6", "pre", "done", "4.2", "s"] and "fail" in rows["read"]
    assert rows["smoke"][:4] == ["smoke", "k6", "post", "running"]
    assert "gate read (k6) started" not in out.getvalue()  # the table, not lines


def _render(gates: GateBoard) -> str:
    text = io.StringIO()
    Console(file=text, width=120, color_system=None).print(gates.table())
    return text.getvalue()


def test_brackets_in_messages_are_text_not_markup() -> None:
    gates, out = board(terminal=False)
    gates.say("building into var/builds/abc[test]/.venv")
    assert "var/builds/abc[test]/.venv" in out.getvalue()
