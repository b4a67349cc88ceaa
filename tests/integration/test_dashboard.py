"""The release dashboard (`/dashboard` on `reelgate gate serve`) on the real stack.

- Over HTTP: accounts made with the CLI, sign-in, a viewer who can only read, an approver who waives a check
  and aborts a waiting release (CSRF and a reason each, the account in the audit log, verified); the compare
  view; a gate service run's page and its files (never a file outside its folder); the live page's event
  stream through real nginx with the shipped config (and, without the header that turns buffering off, no
  event arrives); axe in headless Chromium finds no violation of any impact on the pages, signed in.
- In headless Chromium: a release started from the CLI appears on the open releases page and advances on its
  own open page without a reload; an approver approves it with the keyboard alone; it is promoted; then a page
  without EventSource (the polling fallback) follows its rollback from the dashboard. The screenshots in
  docs/images are taken here when `REELGATE_SCREENSHOTS` names a folder."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from reelgate.gates.model import Decision
from reelgate.gates.store import Store
from reelgate.gates.testing import run_gate_sync
from reelgate.plugins.axe import AxeGate, start_chromium
from tests.integration.stack import REELGATE, Stack, free_port_base, gate_service, new_gate_token
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]


def release(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.cli("release", *args, check=False)


def live_color(stack: Stack) -> str:
    return str(httpx.get(f"{stack.router}/health/version", timeout=5).json()["color"])


def _long_release(stack: Stack) -> str:
    """An ended release whose candidate and reason are long and unbroken, as a URL or a path can be: the
    table must wrap them, not let them run over the next cell (axe cannot judge such text's contrast)."""
    store = Store(stack.settings.db_url)
    try:
        release_id = f"rlong-{uuid.uuid4().hex[:8]}"
        store.create(release_id, "refs/heads/" + "x" * 120, "p", "p.yaml", "blue", "green")
        store.update(release_id, decision=Decision(outcome="block", reason="https://example.test/" + "y" * 300))
        store.transition(release_id, "aborted", "a long record for the dashboard's table", "test")
        return release_id
    finally:
        store.close()


def _axe(url: str, name: str, password: str, pages: list[str], workdir: Path) -> Any:
    """The axe gate on the dashboard, signed in through its own form, every impact counted."""
    config = {
        "pages": pages,
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


def _policy(tmp_path: Path) -> Path:
    """A release that waits for approval after two quick gates (the second runs after the first)."""
    policy = tmp_path / "approval.yaml"
    policy.write_text(
        f'deployer: {{uses: local, with: {{repo: "{ROOT}"}}}}\nscale_down_delay: 1\napproval: true\n'
        "gates:\n  - {id: up, uses: k6, with: {script: read, vus: 1, duration: 1s}}\n"
        "  - {id: again, uses: k6, exclusive: true, with: {script: read, vus: 1, duration: 2s}}\n"
    )
    return policy


@contextlib.contextmanager
def _nginx(service: str, folder: Path, ignore_header: bool = False) -> Iterator[str]:
    """Real nginx in front of the gate service with the shipped `deploy/nginx/gate-service.conf` (its ports
    changed to the test's), until the block ends; yields its URL."""
    port = free_port_base()
    site = (ROOT / "deploy/nginx/gate-service.conf").read_text()
    site = site.replace("127.0.0.1:8390", service.removeprefix("http://")).replace(
        "127.0.0.1:8391", f"127.0.0.1:{port}"
    )
    if ignore_header:  # what the shipped file warns against
        site = site.replace("proxy_read_timeout 1h;", "proxy_read_timeout 1h; proxy_ignore_headers X-Accel-Buffering;")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site.conf").write_text(site)
    temp = " ".join(
        f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"daemon off; master_process off; pid {folder / 'nginx.pid'}; error_log stderr warn;\n"
        f"events {{ worker_connections 64; }}\nhttp {{ access_log off; {temp} include {folder / 'site.conf'}; }}\n"
    )
    process = subprocess.Popen(["/usr/sbin/nginx", "-c", str(folder / "nginx.conf"), "-p", str(folder)])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), 15, "nginx in front of the gate service")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _first_event(url: str, cookies: httpx.Cookies, within: float) -> tuple[str, float] | None:
    """The first event's name on the live page's stream, and how long it took; None if none came in `within` s."""
    started = time.monotonic()
    with httpx.Client(cookies=cookies, timeout=httpx.Timeout(within, read=within)) as client:
        try:
            with client.stream("GET", url) as answer:
                assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
                for line in answer.iter_lines():
                    if line.startswith("event: "):
                        return line.removeprefix("event: "), time.monotonic() - started
        except httpx.ReadTimeout:
            return None
    return None


def _waiting_release(stack: Stack, policy: Path) -> str:
    waiting = release(stack, "start", "--candidate", "HEAD", "--policy", str(policy))
    assert waiting.returncode == 4, waiting.stdout + waiting.stderr
    found = re.search(r"release (r[0-9a-f-]+)", waiting.stdout)
    assert found
    return found.group(1)


def _audit(stack: Stack, action: str, release_id: str) -> Any:
    with psycopg.connect(stack.settings.db_url) as conn:
        return conn.execute(
            "SELECT actor, address, detail FROM audit_events WHERE action = %s AND detail->>'release' = %s",
            (action, release_id),
        ).fetchone()


def test_viewers_read_approvers_waive_and_abort_and_the_stream_passes_nginx(stack: Stack, tmp_path: Path) -> None:
    """Read-only for a viewer; an approver waives a check and aborts a waiting release from its page (CSRF and
    a reason each), both in the audit log under the account, verified. The compare view, a gate service run's
    page, the files of both (confined to their folders), the event stream through nginx, and axe."""
    suffix = uuid.uuid4().hex[:6]
    viewer, approver, password = f"vera-{suffix}", f"alex-{suffix}", "correct horse battery"
    _account(stack, viewer, "viewer", password)
    _account(stack, approver, "approver", password)
    short = subprocess.run(
        [REELGATE, "gate", "account", "create", f"x-{suffix}", "--password-stdin"],
        input="short\n", env=stack.env, cwd=stack.home, capture_output=True, text=True,
    )  # fmt: skip
    assert short.returncode == 2 and "too short" in short.stderr and "Traceback" not in short.stderr
    policy = _policy(tmp_path)
    long = _long_release(stack)  # a reason and a candidate that do not fit their cells, in the table axe audits
    release_id = _waiting_release(stack, policy)
    page = f"/dashboard/releases/{release_id}"
    token = new_gate_token(stack, "shop")
    with (
        gate_service(stack, policy, tmp_path / "service.log") as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        assert client.get("/dashboard").headers["location"] == "/dashboard/sign-in"
        assert client.get(f"{page}/events").headers["location"] == "/dashboard/sign-in"
        wrong = _sign_in(client, viewer, "not the password")
        assert wrong.status_code == 401 and "Wrong account or password" in wrong.text
        assert _sign_in(client, viewer, password).status_code == 303
        listed = client.get("/dashboard", params={"state": "awaiting_approval"})
        assert listed.status_code == 200 and release_id in listed.text
        assert "content-security-policy" in listed.headers
        shown = client.get(page)
        assert "your account can read only" in shown.text and "Approve and switch" not in shown.text
        # both gates with their verdicts and artefacts; the watch has not started
        assert shown.text.count("state-pass") >= 2 and f"{page}/files/gates/pre/up/" in shown.text
        for action in ("approve", "abort", "waive"):
            refused = client.post(f"{page}/{action}", data={"_csrf": _csrf(shown.text), "reason": "x", "check": "a.b"})
            assert refused.status_code == 403 and "viewer" in refused.text, action
        client.cookies.clear()

        assert _sign_in(client, approver, password).status_code == 303
        shown = client.get(page)
        assert "Approve and switch traffic" in shown.text and "Abort the release" in shown.text
        csrf = _csrf(shown.text)
        # an artefact, as a sandboxed document; nothing outside the release's folder
        artefact = re.search(rf'href="({page}/files/gates/pre/up/[^"]+)"', shown.text)
        assert artefact is not None
        served = client.get(artefact.group(1))
        assert served.status_code == 200 and "sandbox" in served.headers["content-security-policy"]
        for escape in ("../../../reelgate.toml", "%2E%2E/%2E%2E/%2E%2E/reelgate.toml", "/etc/passwd"):
            assert client.get(f"{page}/files/{escape}").status_code == 404, escape

        # the live page's parts: a poll answers 204 while nothing changes, the parts once something does
        version = re.search(r'data-version="([0-9a-f]+)"', shown.text)
        assert version is not None
        assert client.get(f"{page}/live", params={"known": version.group(1)}).status_code == 204
        bad = client.post(f"{page}/waive", data={"_csrf": csrf, "reason": "flaky", "check": "nodot", "hours": "24"})
        assert bad.status_code == 400 and "gate.check" in bad.text
        waived = client.post(
            f"{page}/waive",
            data={
                "_csrf": csrf,
                "reason": "known slow disk",
                "check": "again.p95_ms",
                "hours": "1",
                "scope": "release",
            },
        )
        assert waived.status_code == 303
        moved = client.get(f"{page}/live", params={"known": version.group(1)})
        assert (
            moved.status_code == 200 and "check again.p95_ms waived" in moved.json()["parts"]["live-timeline"]["html"]
        )

        # the event stream straight, through nginx as shipped, and through nginx told to ignore the header
        straight = _first_event(f"{url}{page}/events", client.cookies, 5)
        assert straight is not None and straight[0] == "ping", straight
        with _nginx(url, tmp_path / "nginx") as proxied:
            through = _first_event(f"{proxied}{page}/events", client.cookies, 5)
            assert through is not None and through[1] < 2.0, through
            assert "Approve and switch" in httpx.get(f"{proxied}{page}", cookies=client.cookies).text
        with _nginx(url, tmp_path / "nginx-ignoring", ignore_header=True) as proxied:
            assert _first_event(f"{proxied}{page}/events", client.cookies, 4) is None

        # a gate service run: its page (reading it is not a poll) and its files
        run = httpx.post(
            f"{url}/v1/runs",
            json={"namespace": "shop", "name": "web", "revision": suffix, "candidate_url": stack.router},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert run.status_code == 200, run.text
        run_page = f"/dashboard/runs/shop/web/{suffix}"
        wait_for(lambda: "state-finished" in client.get(run_page).text, 120, "the service run to finish")
        shown_run = client.get(run_page)
        verdict = (
            run.json()["run"]["verdict"]
            or httpx.get(
                f"{url}/v1/runs/shop/web/{suffix}", headers={"Authorization": f"Bearer {token}"}, timeout=10
            ).json()["run"]["verdict"]
        )
        assert f">{verdict}</span>" in shown_run.text and f"{run_page}/files/reports/report.html" in shown_run.text
        assert client.get(f"{run_page}/files/reports/report.html").status_code == 200
        assert client.get(f"{run_page}/files/../../../../reelgate.toml").status_code == 404
        assert client.get("/dashboard/runs/shop/web/nope").status_code == 404

        compared = client.get(f"{page}/compare")  # with the release live before it, if this stack promoted one
        assert compared.status_code == 200 and ("Commits" in compared.text or "nothing to compare" in compared.text)
        compared = client.get(f"{page}/compare", params={"with": long})
        assert "a commit is not recorded" in compared.text and "policy&#39;s text was not kept" in compared.text
        assert compared.text.count("not measured") >= 2  # this release's checks, absent from the other
        assert client.get(f"{page}/compare", params={"with": "r-none"}).status_code == 404

        pages = [
            "/dashboard",
            page,
            f"{page}/compare?with={long}",
            run_page,
            "/dashboard?state=awaiting_approval",
            "/dashboard/sign-in",
        ]
        audit = _axe(url, approver, password, pages, tmp_path / "axe")
        checks = {c.name: c.value for c in audit.checks}
        seen = [(f.rule_id, f.verdict, f.location, f.message) for f in audit.findings]
        assert checks["violations"] == 0 and checks["minor_violations"] == 0, seen
        # What axe cannot decide (a contrast over content it cannot see through) is "needs review", a warning,
        # not a violation; the cells' opaque background leaves it little to guess.
        assert (checks["pages"] or 0) >= 6 and all(f.verdict == "warn" for f in audit.findings), seen

        forged = client.post(f"{page}/abort", data={"_csrf": "forged", "reason": "x"})
        assert forged.status_code == 403
        assert client.post(f"{page}/abort", data={"_csrf": csrf, "reason": ""}).status_code == 400
        aborted = client.post(f"{page}/abort", data={"_csrf": csrf, "reason": "wrong build"})
        assert aborted.status_code == 303
        wait_for(lambda: "state-aborted" in client.get(page).text, 60, "the release to be aborted")
        assert client.post(f"{page}/abort", data={"_csrf": csrf, "reason": "again"}).status_code == 409
    for action, reason in (("release.abort", "wrong build"), ("release.waive", "known slow disk")):
        row = _audit(stack, action, release_id)
        assert row is not None and row[0] == approver and row[1] == "dashboard@127.0.0.1", (action, row)
        assert row[2]["verified"] is True and row[2]["reason"] == reason


@contextlib.contextmanager
def _chromium(without_event_source: bool = False) -> Iterator[Any]:
    """Headless Chromium (a fresh profile); optionally a browser whose pages have no EventSource, as behind a
    proxy that breaks streams: the dashboard must then fall back to polling."""
    profile = tempfile.mkdtemp(prefix="reelgate-dashboard-")
    driver = start_chromium(profile, extra=("--window-size=1280,1400",))
    if without_event_source:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _sign_in_by_keyboard(driver: Any, url: str, name: str, password: str) -> None:
    driver.get(f"{url}/dashboard/sign-in")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    wait_for(lambda: driver.current_url.endswith("/dashboard"), 15, "the releases page after signing in")


def _text(driver: Any, element_id: str) -> str:
    """The element's text now ("" while a page is loading): read in the page, never a stale reference."""
    return str(driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.innerText : '';",
                                     element_id))  # fmt: skip


def _same_page(driver: Any) -> bool:
    """The marker set on the page is still there: nothing reloaded it."""
    return bool(driver.execute_script("return window.reelgateMarker === 'set';"))


def _shot(driver: Any, name: str) -> None:
    folder = os.environ.get("REELGATE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"dashboard-{name}.png"))


def _tab_to(driver: Any, element_id: str, most: int = 60) -> None:
    """Move the focus with the Tab key alone until it reaches `element_id`."""
    for _ in range(most):
        if driver.execute_script("return document.activeElement && document.activeElement.id") == element_id:
            return
        ActionChains(driver).send_keys(Keys.TAB).perform()
    pytest.fail(f"Tab never reached #{element_id}")


def test_a_cli_release_advances_on_open_pages_and_an_approver_approves_it_by_keyboard(
    stack: Stack, tmp_path: Path
) -> None:
    """A release started from the CLI appears on the open releases page and advances on its open page (gates
    running, then passed; waiting for approval) without a reload; approved with the keyboard alone, it is
    switched, watched (its samples on the page) and promoted, seen live again. A browser without EventSource
    follows its rollback from the dashboard by polling."""
    live = live_color(stack)
    name, password = f"ana-{uuid.uuid4().hex[:6]}", "correct horse battery"
    _account(stack, name, "approver", password)
    policy = _policy(tmp_path)
    policy.write_text(
        policy.read_text().replace("approval: true\n", "approval: true\nwatch: {duration: 6s, interval: 2s}\n")
    )
    with gate_service(stack, policy, tmp_path / "service.log") as url, _chromium() as driver:
        _sign_in_by_keyboard(driver, url, name, password)
        driver.execute_script("window.reelgateMarker = 'set';")
        wait_for(lambda: "as they happen" in _text(driver, "live-status"), 20, "the releases page to go live")
        with (tmp_path / "release.log").open("w") as out:
            started = subprocess.Popen(
                [REELGATE, "release", "start", "--candidate", "HEAD", "--policy", str(policy)],
                env=stack.env, cwd=stack.home, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        store = Store(stack.settings.db_url)
        try:
            active = wait_for(store.active, 60, "the CLI's release to be recorded")
        finally:
            store.close()
        wait_for(lambda: active.id in _text(driver, "live-table"), 20, "the new release on the open releases page")
        assert _same_page(driver)
        _shot(driver, "releases")

        driver.get(f"{url}/dashboard/releases/{active.id}")
        driver.execute_script("window.reelgateMarker = 'set';")
        wait_for(lambda: "running for" in _text(driver, "live-gates"), 120, "a gate running on the open page")
        _shot(driver, "gating")
        wait_for(lambda: "awaiting_approval" in _text(driver, "live-facts"), 120, "the release to wait for approval")
        assert _same_page(driver) and "again" in _text(driver, "live-gates")
        assert started.wait(timeout=60) == 4, (tmp_path / "release.log").read_text()
        _shot(driver, "awaiting-approval")

        _tab_to(driver, "approve-reason")
        ActionChains(driver).send_keys("checked the load figures" + Keys.ENTER).perform()
        wait_for(lambda: "switching" in _text(driver, "live-facts") or "watching" in _text(driver, "live-facts")
                 or "promoted" in _text(driver, "live-facts"), 60, "the approved release to switch")  # fmt: skip
        driver.execute_script("window.reelgateMarker = 'set';")
        wait_for(lambda: "promoted" in _text(driver, "live-facts"), 120, "the release to be promoted on the page")
        assert _same_page(driver)
        watch = _text(driver, "live-watch")
        assert "Samples of the new live color" in watch and "pass" in watch, watch
        assert "approved for the switch: checked the load figures" in _text(driver, "live-timeline")
        assert f"({name})" in _text(driver, "live-timeline")  # the signed-in account, not "(unverified)"
        _shot(driver, "promoted")
        driver.get(f"{url}/dashboard/releases/{active.id}/compare")
        _shot(driver, "compare")
    assert live_color(stack) != live

    with (
        gate_service(stack, policy, tmp_path / "service-2.log") as url,
        _chromium(without_event_source=True) as driver,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        _sign_in_by_keyboard(driver, url, name, password)
        driver.get(f"{url}/dashboard/releases/{active.id}")
        driver.execute_script("window.reelgateMarker = 'set';")
        wait_for(lambda: "checking every 3 s" in _text(driver, "live-status"), 20, "the page to poll")
        assert "Switch traffic back" in _text(driver, "live-actions")
        assert _sign_in(client, name, password).status_code == 303
        csrf = _csrf(client.get(f"/dashboard/releases/{active.id}").text)
        rolled = client.post(f"/dashboard/releases/{active.id}/rollback", data={"_csrf": csrf, "reason": "drill"})
        assert rolled.status_code == 303
        wait_for(lambda: "rolled_back" in _text(driver, "live-facts"), 90, "the rollback on the polling page")
        assert _same_page(driver) and "ended" in _text(driver, "live-status")
    assert live_color(stack) == live
    row = _audit(stack, "release.rollback", active.id)
    assert row is not None and row[0] == name and row[2]["verified"] is True and row[2]["reason"] == "drill"
