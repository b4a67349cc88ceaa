"""The chaos gate's reading of Chaos Toolkit's journal, and its blast-radius rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reelgate.gates.manager import registry
from reelgate.gates.policy import PolicyError, parse_policy
from reelgate.plugins.chaostoolkit import (
    ChaosGate,
    Sample,
    clip_at,
    fault_lifted,
    fault_time,
    journal_problem,
    method_probes,
)


def journal(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "status": "completed",
        "deviated": False,
        "steady_states": {"before": {"steady_state_met": True}, "after": {"steady_state_met": True}},
        "run": [
            {
                "activity": {"name": "kill-worker"},
                "status": "succeeded",
                "start": "2026-12-02T08:04:25+00:00",
                "end": "2026-12-02T08:04:55+00:00",
            }
        ],
    }
    base.update(changes)
    return base


def test_a_steady_state_never_met_is_not_a_pass() -> None:
    """Chaos Toolkit reports `completed`, not deviated, when the steady state failed before the method ran."""
    never = journal(steady_states={"before": {"steady_state_met": False}, "after": None}, run=[])
    assert (
        journal_problem(never) == "the steady state did not hold before the fault, so the experiment measured nothing"
    )
    probes = [
        {"activity": {"name": "color-ready"}, "output": True, "tolerance_met": True},
        {"activity": {"name": "library-scenario-passes"}, "output": False, "tolerance_met": False},
    ]
    missed = journal(steady_states={"before": {"steady_state_met": False, "probes": probes}}, run=[])
    assert (journal_problem(missed) or "").endswith("(library-scenario-passes gave False; chaos.log says more)")
    assert journal_problem(journal()) is None
    assert journal_problem(journal(status="aborted")) == "Chaos Toolkit ended the run 'aborted'"
    broken = journal(run=[{"activity": {"name": "kill-api"}, "status": "failed", "exception": ["no such part"]}])
    assert journal_problem(broken) is not None and "kill-api" in (journal_problem(broken) or "")


def test_the_fault_time_and_the_checks() -> None:
    fault = fault_time(journal())
    assert fault == 1796198665.0 and fault_lifted(journal()) == fault + 30  # e.g. a 30 s outage
    samples = [Sample(at=fault + i, status=s) for i, s in enumerate([200, 200, 0, 503, 200])]
    checks = {c.name: c for c in ChaosGate._checks(samples, fault, fault + 4.5, {"status": "ready"}, journal())}
    assert checks["recovery_s"].value == 4.5 and checks["requests_failed"].value == 2
    after_outage = ChaosGate._checks(samples, fault, fault + 34.5, {"status": "ready"}, journal(), fault + 30)
    assert after_outage[0].name == "recovery_s" and after_outage[0].value == 4.5  # from the outage's end
    assert checks["answered_again_s"].value == 3.0  # the 503 at +3 s was the last failure
    assert checks["availability"].value == 0.6 and checks["jobs_lost"].verdict == "pass"
    lost = ChaosGate._checks(samples, fault, None, {"status": "failed", "failure_reason": "x"}, journal(deviated=True))
    verdicts = {c.name: c.verdict for c in lost}
    assert (
        verdicts["jobs_lost"] == "fail"
        and verdicts["recovery_s"] == "fail"
        and verdicts["steady_state_after"] == "fail"
    )


def test_a_shared_blast_radius_needs_a_reason() -> None:
    text = "gates:\n  - uses: chaostoolkit\n    with: {blast_radius: shared}\n"
    with pytest.raises(PolicyError, match="needs a `reason`"):
        parse_policy(text, "p.yaml", registry().gates)
    ok = text.replace("shared}", "shared, reason: a stack of its own}")
    assert parse_policy(ok, "p.yaml", registry().gates).configs["chaostoolkit"].reason == "a stack of its own"


def test_an_experiment_on_shared_parts_is_refused_without_a_reason(tmp_path: Path) -> None:
    """Refused before anything is uploaded or run: no stack needed."""
    from reelgate.gates.testing import run_gate_sync

    shared = tmp_path / "valkey.yaml"
    shared.write_text("version: 1.0.0\ntitle: Valkey goes away\ntags: [shared]\nmethod: []\n")
    config = {"experiments": [str(shared)], "color": "green"}
    result = run_gate_sync(ChaosGate, config, "http://127.0.0.1:9", tmp_path / "w", api_key="rg_x")
    assert result.verdict == "error" and "acts on what the live color shares" in result.reason


def test_the_methods_probes_become_checks_and_a_background_fault_is_found() -> None:
    """Seconds are reported (how long HAProxy took to mark a killed API down, then up again); true or
    false passes or fails (a scenario run during the fault). A fault run in the background is journaled
    after the probes that ran during it: the fault is still the first action to start."""
    during = {"activity": {"name": "scenario-during", "type": "probe"}, "status": "succeeded", "output": False}
    fault = journal()["run"][0] | {"activity": {"name": "valkey-outage", "type": "action"}}
    run = [
        {"activity": {"name": "router-marks-it-down", "type": "probe"}, "status": "succeeded", "output": 2.4,
         "start": "2026-12-02T08:04:26+00:00"},
        during | {"start": "2026-12-02T08:04:30+00:00"},
        fault,
    ]  # fmt: skip
    checks = {c.name: c for c in method_probes(journal(run=run))}
    assert list(checks) == ["router-marks-it-down", "scenario-during"]
    assert checks["router-marks-it-down"].value == 2.4 and checks["router-marks-it-down"].unit == "s"
    assert checks["scenario-during"].verdict == "fail" and checks["scenario-during"].value == 0
    assert fault_time(journal(run=run)) == 1796198665.0 and fault_lifted(journal(run=run)) == 1796198695.0


def test_every_shipped_experiment_has_the_scenario_steady_state_and_a_rollback() -> None:
    from ruamel.yaml import YAML

    folder = Path(__file__).parents[3] / "chaos" / "experiments"
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    assert names == [
        "api-kill", "disk-full", "latency", "postgres-pause", "postgres-restart", "valkey-outage", "worker-kill",
    ]  # fmt: skip
    for path in folder.glob("*.yaml"):
        data = YAML(typ="safe").load(path.read_text())
        probes = [p["provider"]["func"] for p in data["steady-state-hypothesis"]["probes"]]
        assert probes == ["ready", "scenario_passes"], path.name
        assert data["rollbacks"] and data["method"][0]["type"] == "action", path.name
        assert set(data["tags"]) & {"color", "shared"}, path.name


def test_where_the_clip_stood_when_the_fault_began() -> None:
    """From the reads' answers: a clip done before the fault makes `jobs_lost` prove nothing."""
    samples = [Sample(at=10, status=200, clip="processing"), Sample(at=11, status=0),
               Sample(at=12, status=200, clip="ready"), Sample(at=13, status=200, clip="ready")]  # fmt: skip
    assert clip_at(samples, 11.5) == "processing" and clip_at(samples, 12) == "ready" and clip_at(samples, 9) == ""


def test_a_failed_probe_is_one_sentence_and_its_traceback_stays_in_the_journal() -> None:
    """The demo's verdict once carried Chaos Toolkit's traceback as a list of strings."""
    traceback = [
        "Traceback (most recent call last):\n",
        '  File "/x/chaoslib/provider/python.py", line 57, in run_python_activity\n    return func(**arguments)\n',
        "RuntimeError: HAProxy did not mark blue DOWN within 10 s (last seen: UP)\n",
        "\nDuring handling of the above exception, another exception occurred:\n\n",
        "chaoslib.exceptions.ActivityFailed: RuntimeError: HAProxy did not mark blue DOWN within 10 s "
        "(last seen: UP)\n",
    ]
    run = [{"activity": {"type": "probe", "name": "router-marks-it-down"}, "status": "failed", "exception": traceback}]
    problem = journal_problem(journal(run=run))
    assert problem == (
        "the probe 'router-marks-it-down' failed: RuntimeError: HAProxy did not mark blue DOWN within 10 s "
        "(last seen: UP) (its traceback is in journal.json)"
    )
    assert "Traceback" not in (problem or "") and "During handling" not in (problem or "")
