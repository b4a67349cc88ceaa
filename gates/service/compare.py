"""The compare view: a release against the one live before it (or any earlier release): the commits between
them, the policy's changes, and every check of both side by side with the difference."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State

from reelgate.gates.api import ToolNotFound, run_tool
from reelgate.gates.model import GateResult
from reelgate.gates.service.engine import GateService, Refused
from reelgate.gates.service.web import page, reader, records
from reelgate.gates.store import Release, StoreError

MAX_COMMITS = 200


class Row(msgspec.Struct, kw_only=True):
    """One check of one gate in both releases (None where a release did not measure it)."""

    phase: str
    gate: str
    check: str
    unit: str
    this: float | None
    this_verdict: str
    other: float | None
    other_verdict: str

    @property
    def delta(self) -> float | None:
        return None if self.this is None or self.other is None else round(self.this - self.other, 6)


def side_by_side(this: list[GateResult], other: list[GateResult]) -> list[Row]:
    """Every (phase, gate, check) of either release, in the first release's order, then the other's."""
    rows: dict[tuple[str, str, str], Row] = {}
    for side, results in (("this", this), ("other", other)):
        for result in results:
            for c in result.checks:
                key = (result.phase, result.gate, c.name)
                row = rows.setdefault(key, Row(phase=result.phase, gate=result.gate, check=c.name, unit=c.unit,
                                               this=None, this_verdict="", other=None, other_verdict=""))  # fmt: skip
                if side == "this":
                    row.this, row.this_verdict = c.value, c.verdict
                else:
                    row.other, row.other_verdict = c.value, c.verdict
    return list(rows.values())


async def commits(repo: Path, older: str | None, newer: str | None) -> tuple[list[str], str]:
    """`git log --oneline older..newer` in the repository (at most MAX_COMMITS), or why there are none."""
    if not older or not newer:
        return [], "a commit is not recorded for one of the two releases"
    if older == newer:
        return [], "both releases are the same commit"
    try:
        run = await run_tool(
            ["git", "log", "--oneline", "--no-decorate", f"-{MAX_COMMITS}", f"{older}..{newer}"],
            cwd=repo,
            kill_after=30,
        )
    except ToolNotFound:
        return [], "git is not installed here"
    if run.exit_code != 0:
        return [], f"git does not know both commits here: {run.tail(2)[:200]}"
    lines = run.stdout.decode(errors="replace").splitlines()
    return lines, "" if lines else f"no commit of {newer[:12]} is newer than {older[:12]} (a rollback to it?)"


def policy_diff(this: Release, other: Release) -> tuple[list[str], str]:
    if this.policy_text is None or other.policy_text is None:
        return [], "the policy's text was not kept for one of the two releases (kept since the dashboard's live page)"
    diff = difflib.unified_diff(
        other.policy_text.splitlines(), this.policy_text.splitlines(),
        fromfile=f"{other.id}: {other.policy_file}", tofile=f"{this.id}: {this.policy_file}", lineterm="",
    )  # fmt: skip
    lines = list(diff)
    return lines, "" if lines else "the same policy text"


@get("/dashboard/releases/{release_id:str}/compare")
async def compare(release_id: str, request: Request[Any, Any, Any], state: State) -> Response[Any]:
    person = await reader(request, state)
    calls = records(state)
    against = request.query_params.get("with", "")
    try:
        this: Release = await calls.call("get", release_id)
        other: Release | None = (
            await calls.call("get", against) if against else await calls.call("release_before", release_id)
        )
    except StoreError as exc:
        raise Refused(404, str(exc)) from None
    if other is None:
        return page("compare.html", person=person, this=this, other=None, rows=[])
    service: GateService = state.service
    found, why = await commits(service.ctx.home, other.commit_sha, this.commit_sha)
    diff, same = policy_diff(this, other)
    rows = side_by_side(await calls.call("results", this.id), await calls.call("results", other.id))
    return page(
        "compare.html", person=person, this=this, other=other, rows=rows,
        commits=found, commits_note=why, diff=diff, diff_note=same, max_commits=MAX_COMMITS,
    )  # fmt: skip


ROUTES = [compare]
