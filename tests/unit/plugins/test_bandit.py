"""The bandit gate: real bandit over a small project of our own, thresholds, a baseline with reasons,
and findings that point at their line (in SARIF too)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reelgate.gates.api import GateContext
from reelgate.gates.yamlfile import FileError
from reelgate.plugins.bandit import BanditConfig, BanditGate, load_baseline
from reelgate.plugins.sarif import location

RISKY = """import subprocess


def run(command):
    return subprocess.call(command, shell=True)


PASSWORD = "hunter2"
"""


def gate(tmp_path: Path, **config: object) -> object:
    project = tmp_path / "proj"
    (project / "app").mkdir(parents=True, exist_ok=True)
    (project / "app" / "risky.py").write_text(RISKY)
    ctx = GateContext(
        gate_id="static",
        target="http://unused",
        config=BanditConfig(**{"paths": ["app"], **config}),  # type: ignore[arg-type]
        workdir=tmp_path,
        source_dir=project,
    )
    return asyncio.run(BanditGate().run(ctx))


def test_a_shell_injection_fails_and_points_at_its_line(tmp_path: Path) -> None:
    result = gate(tmp_path)
    blocking = [f for f in result.findings if f.verdict == "fail"]  # type: ignore[attr-defined]
    assert [(f.rule_id, f.severity, f.location) for f in blocking] == [("bandit/B602", "high", "app/risky.py:5")]
    low = {f.rule_id for f in result.findings if f.verdict == "pass"}  # type: ignore[attr-defined]
    assert {"bandit/B404", "bandit/B105"} <= low  # below the threshold: reported, not blocking
    checks = {c.name: c for c in result.checks}  # type: ignore[attr-defined]
    assert checks["findings_blocking"].value == 1 and checks["findings_blocking"].verdict == "fail"
    assert "the first: bandit/B602 at app/risky.py:5" in checks["findings_blocking"].note
    assert checks["lines_scanned"].value > 0 and result.artifacts[0].endswith("bandit.json")  # type: ignore[attr-defined]


def test_a_baseline_accepts_with_a_reason_and_thresholds_move(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "accepted.yaml").write_text(
        "accepted:\n  - {test_id: B602, file: app/risky.py, line: 5, reason: the command is a constant}\n"
    )
    result = gate(tmp_path, baseline="accepted.yaml")
    assert not [f for f in result.findings if f.verdict == "fail"]  # type: ignore[attr-defined]
    shell = next(f for f in result.findings if f.rule_id == "bandit/B602")  # type: ignore[attr-defined]
    assert shell.message.endswith("; accepted: the command is a constant")
    strict = gate(tmp_path, severity="low", confidence="low")
    assert {f.rule_id for f in strict.findings if f.verdict == "fail"} >= {"bandit/B602", "bandit/B105"}  # type: ignore[attr-defined]


def test_a_bad_baseline_says_where(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("accepted:\n  - {test_id: B602, file: a.py}\n")
    with pytest.raises(FileError, match=r"b.yaml:2:5: object missing required field `reason`"):
        load_baseline(path)


def test_nothing_to_scan_is_an_error(tmp_path: Path) -> None:
    result = gate(tmp_path, paths=["nowhere"])
    assert result.verdict == "error" and "none of nowhere exists" in result.reason  # type: ignore[attr-defined]


def test_sarif_locations_carry_the_line() -> None:
    assert location("app/risky.py:5") == {
        "physicalLocation": {"artifactLocation": {"uri": "app/risky.py"}, "region": {"startLine": 5}}
    }
    assert location("http://t:8080/x") == {"physicalLocation": {"artifactLocation": {"uri": "http://t:8080/x"}}}


def test_reelgates_own_source_passes_the_shipped_policys_bandit_gate(tmp_path: Path) -> None:
    """The `static-security` gate of the default policy, as a release runs it on this checkout: a new finding
    (one the baseline does not accept with a reason) would block every release of reelgate itself."""
    root = Path(__file__).resolve().parents[3]
    ctx = GateContext(
        gate_id="static-security", target="http://unused", config=BanditConfig(baseline="bandit-baseline.yaml"),
        workdir=tmp_path, source_dir=root,
    )  # fmt: skip
    result = asyncio.run(BanditGate().run(ctx))
    blocking = [f"{f.rule_id} {f.location}" for f in result.findings if f.verdict == "fail"]
    assert result.verdict != "error" and not blocking, (result.reason, blocking)
