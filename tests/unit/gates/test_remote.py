"""Remote candidates: a gate that acts on local processes, or a scanner on a host its policy does not list,
is refused with an `error` naming why (never run, never a pass); `policy check --target` says so first."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import msgspec
from click.testing import CliRunner

from reelgate.gates.api import Check, GateContext, GateResult, measured
from reelgate.gates.commands import policy
from reelgate.gates.policy import parse_policy
from reelgate.gates.runner import Runner, RunOptions


class ScanConfig(msgspec.Struct, forbid_unknown_fields=True):
    allowed_hosts: list[str] = []


class Scanner:
    name = "scan"
    Config = ScanConfig
    needs = frozenset({"url"})
    ran: ClassVar[list[str]] = []

    async def run(self, ctx: GateContext) -> GateResult:
        type(self).ran.append(ctx.target)
        return measured([Check(name="reached", value=1)])


class KillConfig(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Killer:
    name = "kill"
    Config = KillConfig
    needs = frozenset({"url", "local_processes"})

    async def run(self, ctx: GateContext) -> GateResult:
        return measured([Check(name="killed", value=1)])


TYPES: dict[str, type[Any]] = {"scan": Scanner, "kill": Killer}
POLICY = """gates:
  - {id: dast, uses: scan, with: {allowed_hosts: [cand.example]}}
  - {id: chaos, uses: kill}
"""


def _verdicts(target: str, tmp_path: Path) -> dict[str, tuple[str, str]]:
    loaded = parse_policy(POLICY, "p.yaml", TYPES)
    results = asyncio.run(Runner(loaded, TYPES, RunOptions(target=target, workdir=tmp_path)).run("pre"))
    return {r.gate: (r.verdict, r.reason) for r in results}


def test_a_remote_candidate_runs_only_the_gates_that_can_reach_it(tmp_path: Path) -> None:
    Scanner.ran = []
    local = _verdicts("http://127.0.0.1:8080", tmp_path)
    assert {g: v for g, (v, _) in local.items()} == {"dast": "pass", "chaos": "pass"}
    remote = _verdicts("http://cand.example:8080", tmp_path)
    assert remote["dast"][0] == "pass"
    assert remote["chaos"][0] == "error" and "processes on this machine" in remote["chaos"][1]
    elsewhere = _verdicts("http://10.1.2.3", tmp_path)
    assert elsewhere["dast"][0] == "error" and "(cand.example), not 10.1.2.3" in elsewhere["dast"][1]
    assert Scanner.ran == ["http://127.0.0.1:8080", "http://cand.example:8080"]  # never 10.1.2.3


def test_policy_check_target_remote_names_the_gates_that_cannot_run(tmp_path: Path) -> None:
    file = tmp_path / "p.yaml"
    file.write_text(
        "name: p\ngates:\n  - {id: dast, uses: wapiti}\n  - {id: chaos, uses: chaostoolkit, required: false}\n"
        "  - {id: cov, uses: coverage, with: {coverage_json: c.json}}\n"
    )
    remote = CliRunner().invoke(policy, ["check", str(file), "--target", "remote"])
    assert remote.exit_code == 1  # a required gate (dast) cannot run
    assert "`dast` (wapiti, required): it acts only on loopback and the policy's `allowed_hosts`" in remote.output
    assert "`chaos` (chaostoolkit): it acts on the candidate's processes" in remote.output
    assert "`cov` (coverage) reads the candidate's source" in remote.output
    file.write_text("name: p\ngates:\n  - {id: dast, uses: wapiti, with: {allowed_hosts: [cand.example]}}\n")
    named = CliRunner().invoke(policy, ["check", str(file), "--target", "http://cand.example"])
    assert named.exit_code == 0 and "every gate can run against http://cand.example" in named.output
