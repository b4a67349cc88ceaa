"""The release dashboard (`/dashboard` on `reelgate gate serve`) on the real stack: accounts made with the CLI,
sign-in, a viewer who can only read, an approver whose approval (with CSRF and a reason) switches a waiting
release, recorded in the audit log under the account; and axe in headless Chromium finds no violation of any
impact on its pages, signed in, the approval form included."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from reelgate.gates.model import Decision
from reelgate.gates.store import Store
from reelgate.gates.testing import run_gate_sync
from reelgate.plugins.axe import AxeGate
from tests.integration.stack import REELGATE, Stack, gate_service
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]


def release(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.cli("release", *args, check=False)


def live_color(stack: Stack) -> str:
    return str(httpx.get(f"{stack.router}/health/version", timeout=5).json()["color"])


def _long_release(stack: Stack) -> None:
    """An ended release whose candidate and reason are long and unbroken, as a URL or a path can be: the
    table must wrap them, not let them run over the next cell (axe cannot judge such text's contrast)."""
    store = Store(stack.settings.db_url)
    try:
        release_id = f"rlong-{uuid.uuid4().hex[:8]}"
        store.create(release_id, "refs/heads/" + "x" * 120, "p", "p.yaml", "blue", "green")
        store.update(release_id, decision=Decision(outcome="block", reason="https://example.test/" + "y" * 300))
        store.transition(release_id, "aborted", "a long record for the dashboard's table", "test")
    finally:
        store.close()


def _axe(url: str, name: str, password: str, release_id: str, workdir: Path) -> Any:
    """The axe gate on the dashboard, signed in through its own form, every impact counted."""
    config = {
        "pages": ["/dashboard", f"/dashboard/releases/{release_id}", "/dashboard?state=awaiting_approval"],
        "exclude": ["/dashboard/sign-out", "/dashboard/static/"],
        "sign_in": [
            {"action": "open", "target": "/dashboard/sign-in"},
            {"action": "fill", "target": "#name", "value": name},
            {"action": "fill", "target": "#password", "value": password},
            {"action": "click", "target": "form button[type=submit]"},
            {"action": "wait", "target": "table"},
        ],
        "min_impact": "minor",
    }
    return run_gate_sync(AxeGate, config, url, workdir)


def _account(stack: Stack, name: str, role: str, password: str) -> None:
    made = subprocess.run(
        [REELGATE, "gate", "account", "create", name, "--role", role, "--password-stdin"],
        input=password + "\n", env=stack.env, cwd=stack.home, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def _sign_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    client.get("/dashboard/sign-in").raise_for_status()
    form = {"name": name, "password": password, "_csrf": client.cookies["reelgate_gate_csrf"]}
    return client.post("/dashboard/sign-in", data=form)


def _csrf(page: str) -> str:
    found = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_the_dashboard_shows_a_waiting_release_and_an_approver_approves_it(stack: Stack, tmp_path: Path) -> None:
    """Read-only for a viewer, an approval for an approver (with CSRF and a reason): the waiting release then
    switches in the service's process, and the audit log names the signed-in account, verified."""
    live = live_color(stack)
    suffix = uuid.uuid4().hex[:6]
    viewer, approver, password = f"vera-{suffix}", f"alex-{suffix}", "correct horse battery"
    _account(stack, viewer, "viewer", password)
    _account(stack, approver, "approver", password)
    short = subprocess.run(
        [REELGATE, "gate", "account", "create", f"x-{suffix}", "--password-stdin"],
        input="short\n", env=stack.env, cwd=stack.home, capture_output=True, text=True,
    )  # fmt: skip
    assert short.returncode == 2 and "too short" in short.stderr and "Traceback" not in short.stderr
    policy = tmp_path / "approval.yaml"
    policy.write_text(
        f'deployer: {{uses: local, with: {{repo: "{ROOT}"}}}}\nscale_down_delay: 1\napproval: true\n'
        "gates:\n  - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}\n"
    )
    _long_release(stack)  # a reason and a candidate that do not fit their cells, in the table axe audits
    waiting = release(stack, "start", "--candidate", "HEAD", "--policy", str(policy))
    assert waiting.returncode == 4, waiting.stdout + waiting.stderr
    found = re.search(r"release (r[0-9a-f-]+)", waiting.stdout)
    assert found
    release_id = found.group(1)
    with (
        gate_service(stack, policy, tmp_path / "service.log") as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        assert client.get("/dashboard").headers["location"] == "/dashboard/sign-in"
        wrong = _sign_in(client, viewer, "not the password")
        assert wrong.status_code == 401 and "Wrong account or password" in wrong.text
        assert _sign_in(client, viewer, password).status_code == 303
        listed = client.get("/dashboard", params={"state": "awaiting_approval"})
        assert listed.status_code == 200 and release_id in listed.text
        assert "content-security-policy" in listed.headers
        shown = client.get(f"/dashboard/releases/{release_id}")
        assert "your account can read only" in shown.text and "Approve and switch" not in shown.text
        refused = client.post(
            f"/dashboard/releases/{release_id}/approve", data={"_csrf": _csrf(shown.text), "reason": "ship it"}
        )
        assert refused.status_code == 403 and "viewer" in refused.text
        client.cookies.clear()

        assert _sign_in(client, approver, password).status_code == 303
        shown = client.get(f"/dashboard/releases/{release_id}")
        assert "Approve and switch traffic" in shown.text
        audit = _axe(url, approver, password, release_id, tmp_path / "axe")
        checks = {c.name: c.value for c in audit.checks}
        seen = [(f.rule_id, f.verdict, f.location, f.message) for f in audit.findings]
        assert checks["violations"] == 0 and checks["minor_violations"] == 0, seen
        # What axe cannot decide (a contrast over content it cannot see through) is "needs review", a warning,
        # not a violation; the cells' opaque background leaves it little to guess.
        assert (checks["pages"] or 0) >= 3 and all(f.verdict == "warn" for f in audit.findings), seen
        forged = client.post(f"/dashboard/releases/{release_id}/approve", data={"_csrf": "forged", "reason": "x"})
        assert forged.status_code == 403
        approved = client.post(
            f"/dashboard/releases/{release_id}/approve", data={"_csrf": _csrf(shown.text), "reason": "load test passed"}
        )
        assert approved.status_code == 303

        def promoted() -> bool:
            return "state-promoted" in client.get(f"/dashboard/releases/{release_id}").text

        wait_for(promoted, 180, "the approved release to be promoted")
    assert live_color(stack) != live
    with psycopg.connect(stack.settings.db_url) as conn:
        row = conn.execute(
            "SELECT actor, address, detail FROM audit_events WHERE action = 'release.approve'"
            " AND detail->>'release' = %s",
            (release_id,),
        ).fetchone()
    assert row is not None and row[0] == approver and row[1] == "dashboard@127.0.0.1"
    assert row[2]["verified"] is True and row[2]["reason"] == "load test passed"
    assert release(stack, "rollback").returncode == 0 and live_color(stack) == live
