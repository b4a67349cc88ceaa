"""The dashboard's pieces that need no database: each gate's place (queued, running, done), the compare view's
rows, commits and policy diff, the watch chart, and the live stream's events (ping first, an update when the
version moves, the last one final, a poll's 204)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.response import ServerSentEvent
from litestar.testing import TestClient

from reelgate.gates.charts import watch_chart
from reelgate.gates.model import Check, GateResult
from reelgate.gates.service import live
from reelgate.gates.service.compare import commits, policy_diff, side_by_side
from reelgate.gates.service.release_page import gate_lines
from reelgate.gates.store import Release

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def _plan(gate: str, started: datetime | None, phase: str = "pre") -> dict[str, Any]:
    return {"phase": phase, "gate": gate, "uses": "k6", "required": True, "started_at": started}


def _result(gate: str, verdict: str = "pass", checks: list[Check] | None = None) -> GateResult:
    return GateResult(gate=gate, uses="k6", verdict=verdict, reason="r", checks=checks or [], duration_s=3.0,  # type: ignore[arg-type]
                      artifacts=[f"/srv/var/releases/r1/gates/pre/{gate}/k6.json", "/elsewhere/x.log"])  # fmt: skip


def test_each_gate_is_queued_running_or_done_in_the_policys_order(tmp_path: Path) -> None:
    plan = [_plan("load", NOW - timedelta(seconds=42)), _plan("a11y", None), _plan("sast", NOW - timedelta(seconds=9))]
    lines = gate_lines(plan, [_result("sast", "fail"), _result("old")], NOW, "/dashboard/releases/r1",
                       Path("/srv/var/releases/r1"))  # fmt: skip
    assert [(g.gate, g.status) for g in lines] == [
        ("load", "running"),
        ("a11y", "queued"),
        ("sast", "fail"),
        ("old", "pass"),
    ]
    assert lines[0].elapsed == 42 and lines[1].elapsed is None and lines[2].elapsed == 3.0
    assert lines[2].links == [
        ("k6.json", "/dashboard/releases/r1/files/gates/pre/sast/k6.json"),
        ("x.log", ""),  # outside the release's folder: named, never linked
    ]


def test_compare_puts_every_check_of_both_side_by_side() -> None:
    this = [_result("load", checks=[Check(name="p95_ms", value=210.0, unit="ms", verdict="fail")])]
    other = [_result("load", checks=[Check(name="p95_ms", value=180.0, unit="ms"), Check(name="errors", value=0.0)])]
    rows = {r.check: r for r in side_by_side(this, other)}
    assert rows["p95_ms"].delta == 30.0 and rows["p95_ms"].this_verdict == "fail"
    assert rows["errors"].this is None and rows["errors"].this_verdict == "" and rows["errors"].delta is None


def _release(release_id: str, text: str | None) -> Release:
    return Release(id=release_id, candidate="HEAD", commit_sha=None, policy_name="p", policy_file="p.yaml",
                   state="promoted", live_before="blue", candidate_color="green", candidate_url=None, decision=None,
                   build_dir=None, policy_text=text, created_by="t", created_at=NOW, updated_at=NOW,
                   finished_at=None)  # fmt: skip


def test_the_policy_diff_and_why_there_is_none() -> None:
    lines, why = policy_diff(_release("r2", "gates:\n  - {id: load}\n"), _release("r1", "gates: []\n"))
    assert "-gates: []" in lines and "+  - {id: load}" in lines and why == ""
    assert policy_diff(_release("r2", "a: 1\n"), _release("r1", "a: 1\n")) == ([], "the same policy text")
    assert "was not kept" in policy_diff(_release("r2", "a: 1\n"), _release("r1", None))[1]


def test_commits_between_two_releases_from_git(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    shas = []
    for n in range(3):
        git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", f"change {n}")
        shas.append(git("rev-parse", "HEAD"))
    found, why = asyncio.run(commits(tmp_path, shas[0], shas[2]))
    assert [line.split(" ", 1)[1] for line in found] == ["change 2", "change 1"] and why == ""
    assert asyncio.run(commits(tmp_path, shas[2], shas[0]))[1].startswith("no commit of")
    assert "does not know" in asyncio.run(commits(tmp_path, "0" * 40, shas[0]))[1]
    assert asyncio.run(commits(tmp_path, None, shas[0])) == ([], "a commit is not recorded for one of the two releases")


def test_the_watch_chart_marks_a_failed_sample() -> None:
    samples = [{"number": 1, "p95_ms": 20.0, "ok": True}, {"number": 2, "p95_ms": 300.0, "ok": False}]
    svg = watch_chart(samples)
    assert "<polyline" in svg and "sample 2 failed" in svg and "sample 1 failed" not in svg
    assert watch_chart([]) == ""


def _app(versions: list[tuple[str, bool] | None]) -> Litestar:
    """A page whose version moves through `versions`, one per check, then stays at the last."""
    seen = list(versions)

    async def version() -> tuple[str, bool] | None:
        return seen.pop(0) if len(seen) > 1 else seen[0]

    async def parts() -> dict[str, str]:
        return {"live-x": f"<p>{len(seen)}</p>"}

    @get("/events")
    async def events(request: Request[Any, Any, Any]) -> ServerSentEvent:
        return live.stream(request, version, parts)

    @get("/live")
    async def poll(request: Request[Any, Any, Any]) -> Response[Any]:
        return await live.poll(request, version, parts)

    return Litestar([events, poll])


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in body.replace("\r\n", "\n").strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_the_stream_pings_then_sends_each_change_and_ends_when_final(monkeypatch: Any) -> None:
    monkeypatch.setattr(live, "CHECK_EVERY", 0.01)
    with TestClient(_app([("v1", False), ("v1", False), ("v2", False), ("v3", True)])) as client:
        answer = client.get("/events", params={"known": "v1"})
    assert answer.headers["x-accel-buffering"] == "no"
    events = _events(answer.text)
    assert [name for name, _ in events] == ["ping", "update", "update"]
    assert events[1][1]["version"] == "v2" and "live-x" in events[1][1]["parts"] and not events[1][1]["final"]
    assert events[2][1]["final"] is True and "hash" in events[2][1]["parts"]["live-x"]


def test_a_poll_answers_204_while_nothing_moved() -> None:
    with TestClient(_app([("v1", False)])) as client:
        assert client.get("/live", params={"known": "v1"}).status_code == 204
        moved = client.get("/live", params={"known": "v0"}).json()
    assert moved["version"] == "v1" and moved["parts"]["live-x"]["html"] == "<p>1</p>"
