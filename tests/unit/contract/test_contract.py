"""The ground floor's facts: one source for colors, ports, queues, paths and the router's upstream text, and
the docs' table of shared names says the same; the CLI's answers decode strictly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reelgate.contract import answers
from reelgate.contract import stack as contract

ROOT = Path(__file__).resolve().parents[3]


def test_the_docs_port_table_is_the_contracts() -> None:
    table = (ROOT / "docs" / "architecture.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| ports, from `REELGATE_PORT_BASE`"))
    documented = {name.lower(): int(offset) for name, offset in re.findall(r"(\w+) \+(\d)", row)}
    assert documented == {("postgresql" if k == "postgres" else k): v for k, v in contract.PORT_OFFSETS.items()}
    assert f"(default {contract.DEFAULT_PORT_BASE})" in row
    assert "`transcode.blue`, `transcode.green`" in table and contract.queue_for("green") == "transcode.green"


def test_colors_and_ports() -> None:
    assert contract.other("blue") == "green" and contract.other("green") == "blue"
    assert contract.port(8400, "valkey") == 8404 and contract.port(9000, "router") == 9000
    with pytest.raises(ValueError, match="expected the color blue or green, found 'red'"):
        contract.other("red")
    with pytest.raises(ValueError, match="expected one of router, blue, green, postgres, valkey"):
        contract.port(8400, "redis")


def test_the_upstream_text_reads_back() -> None:
    text = "# generated\n" + contract.nginx_upstream(8402)
    assert contract.nginx_upstream_port(text) == 8402
    assert contract.nginx_upstream_port(text + "upstream x {\n    server 127.0.0.1:9;\n}\n") is None  # two servers


def test_answers_decode_strictly_and_failures_are_codes() -> None:
    made = answers.decode('{"name": "a", "id": "1", "api_key": "rg_x"}', answers.TenantCreated)
    assert made == answers.TenantCreated(name="a", id="1", api_key="rg_x")
    failed = answers.decode(
        '{"error": "no_such_tenant", "message": "there is no tenant named \'a\'"}', answers.TenantDeleted
    )
    assert isinstance(failed, answers.Failure) and failed.error == "no_such_tenant"
    with pytest.raises(answers.AnswerError, match="missing required field `api_key`"):
        answers.decode('{"name": "a", "id": "1"}', answers.TenantCreated)
    with pytest.raises(answers.AnswerError, match="Invalid enum value 'gone'"):
        answers.decode('{"error": "gone", "message": "x"}', answers.TenantDeleted)
    with pytest.raises(answers.AnswerError, match="expected ColorStarted as JSON"):
        answers.decode("blue ready at http://127.0.0.1:8401", answers.ColorStarted)
    assert answers.encode(answers.ColorStopped(color="blue", moved_jobs=2, drain_to=None)) == (
        '{"color":"blue","moved_jobs":2,"drain_to":null}'
    )
