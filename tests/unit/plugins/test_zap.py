"""The ZAP gate's client logic, against recorded responses in ZAP's documented API shapes.

A test double, and only because the ZAP daemon (Java, not in this machine's registries) cannot run here:
a small HTTP server stands where ZAP's API proxy would, answers `http://zap/JSON/<component>/<view|action>/
<name>/` with the JSON shapes ZAP documents, and records every call. The gate itself uses the real
`zapv2` client. `tests/integration/test_zap_real.py` runs a real scan whenever REELGATE_ZAP_URL is set.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from reelgate.gates.api import GateContext
from reelgate.plugins.zap import RulesError, ZapConfig, ZapGate, parse_rules
from tests.http_server import serving

TARGET = "http://127.0.0.1:8402"


def alert(plugin: str, name: str, risk: str, confidence: str, url: str = f"{TARGET}/v1/videos") -> dict[str, Any]:
    return {
        "pluginId": plugin,
        "alert": name,
        "risk": risk,
        "confidence": confidence,
        "cweid": "693",
        "url": url,
        "method": "GET",
        "param": "x-frame-options",
        "evidence": "<none>",
        "solution": "Set the header.",
        "reference": "https://www.zaproxy.org/docs/alerts/10020/\nmore",
    }


ALERTS = [
    alert("10020", "Missing Anti-clickjacking Header", "Medium", "Medium"),
    alert("10021", "X-Content-Type-Options Header Missing", "Low", "Medium"),
    alert("10038", "Content Security Policy Header Not Set", "Medium", "High", f"{TARGET}/static/app.css"),
    alert("90022", "Application Error Disclosure", "Medium", "Low"),
]


class FakeZap(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict[str, list[str]]]] = []
    answers: dict[str, Any] = {}

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        url = urlparse(self.path)  # absolute: the client talks to ZAP as to a proxy
        query = parse_qs(url.query)
        type(self).calls.append((url.path, query))
        answer = self.answers.get(url.path)
        if callable(answer):
            answer = answer(query)
        body = json.dumps(answer if answer is not None else {"Result": "OK"}).encode()
        self.send_response(200 if answer is not None or "/action/" in url.path else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def zap(tmp_path: Path) -> Iterator[str]:
    pending = iter(["3", "0"])  # the passive queue drains between two polls
    FakeZap.calls = []
    FakeZap.answers = {
        "/JSON/core/view/version/": {"version": "2.16.1"},
        "/JSON/openapi/action/importUrl/": {"importUrl": []},
        "/JSON/spider/action/scan/": {"scan": "4"},
        "/JSON/spider/view/status/": {"status": "100"},
        "/JSON/ascan/action/scan/": {"scan": "7"},
        "/JSON/ascan/view/status/": {"status": "100"},
        "/JSON/pscan/view/recordsToScan/": lambda q: {"recordsToScan": next(pending, "0")},
        "/JSON/core/view/alerts/": lambda q: {"alerts": ALERTS[int(q["start"][0]) :]},
        "/JSON/core/view/urls/": {"urls": [f"{TARGET}/", f"{TARGET}/v1/videos"]},
        "/JSON/reports/action/generate/": {"generate": str(tmp_path / "nowhere" / "zap-report.html")},
    }
    with serving(FakeZap) as url:
        yield url


def scan(url: str, tmp_path: Path, target: str = TARGET, **config: Any) -> Any:
    config.setdefault("pages", target != TARGET)  # TARGET is a name only: nothing there to sign in to
    ctx = GateContext(
        gate_id="dast",
        target=target,
        config=ZapConfig(zap_url=url, **config),
        workdir=tmp_path,
        api_key="rg_gates",
        source_dir=tmp_path,
    )
    return asyncio.run(ZapGate().run(ctx))


def test_a_scan_imports_the_api_spiders_drains_and_judges_the_alerts(zap: str, tmp_path: Path) -> None:
    result = scan(zap, tmp_path)
    paths = [p for p, _ in FakeZap.calls]
    assert paths[0] == "/JSON/core/view/version/"
    rule = next(q for p, q in FakeZap.calls if p == "/JSON/replacer/action/addRule/")
    assert rule["matchString"] == ["Authorization"] and rule["replacement"] == ["Bearer rg_gates"]
    imported = next(q for p, q in FakeZap.calls if p == "/JSON/openapi/action/importUrl/")
    assert imported["url"] == [f"{TARGET}/schema/openapi.json"]
    assert paths.count("/JSON/pscan/view/recordsToScan/") == 2  # waited for the passive queue to drain
    assert "/JSON/ascan/action/scan/" not in paths  # active scanning is opt-in
    verdicts = {f.rule_id: f.verdict for f in result.findings}
    assert verdicts == {"zap/10020": "fail", "zap/10021": "warn", "zap/10038": "fail", "zap/90022": "warn"}
    clickjacking = next(f for f in result.findings if f.rule_id == "zap/10020")
    assert clickjacking.severity == "medium" and clickjacking.location == f"GET {TARGET}/v1/videos"
    assert (
        "(CWE-693) parameter `x-frame-options`" in clickjacking.message
        and "Solution: Set the header." in clickjacking.message
    )
    assert clickjacking.help_url == "https://www.zaproxy.org/docs/alerts/10020/"
    checks = {c.name: c.value for c in result.checks}
    assert checks == {"urls_scanned": 2, "alerts": 4, "alerts_failing": 2}
    assert json.loads((tmp_path / "zap-alerts.json").read_text()) == ALERTS


def test_rules_ignore_warn_or_fail_by_plugin_and_url(zap: str, tmp_path: Path) -> None:
    (tmp_path / "rules.tsv").write_text("# zap-baseline's format\n10020\tIGNORE\n10038\tWARN\t/static/\n90022\tFAIL\n")
    result = scan(zap, tmp_path, rules_file="rules.tsv", active_scan=True)
    verdicts = {f.rule_id: f.verdict for f in result.findings}
    assert verdicts == {"zap/10021": "warn", "zap/10038": "warn", "zap/90022": "fail"}
    assert "/JSON/ascan/action/scan/" in [p for p, _ in FakeZap.calls]


def test_a_bad_rules_line_says_where() -> None:
    with pytest.raises(RulesError, match=r"r.tsv:2: expected `<pluginId> IGNORE\|WARN\|FAIL \[url regex\]`"):
        parse_rules("10020 IGNORE\n10021 SKIP\n", "r.tsv")


def test_a_scan_that_reached_nothing_is_an_error(zap: str, tmp_path: Path) -> None:
    FakeZap.answers["/JSON/core/view/urls/"] = {"urls": []}
    result = scan(zap, tmp_path)
    assert result.verdict == "error" and "reached no URL" in result.reason and "checked nothing" in result.reason


def test_an_unreachable_zap_is_an_error_naming_the_url(tmp_path: Path) -> None:
    result = scan("http://127.0.0.1:9", tmp_path)
    assert result.verdict == "error" and result.reason.startswith("ZAP at http://127.0.0.1:9 is unreachable")


def test_no_zap_configured_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REELGATE_ZAP_URL", raising=False)
    result = scan("", tmp_path)
    assert result.verdict == "error" and "set REELGATE_ZAP_URL" in result.reason


class SignInPage(BaseHTTPRequestHandler):
    """The platform's sign-in form, as far as a scanner sees it: a CSRF cookie and token, then a session."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        body = b'<form method="post"><input type="hidden" name="_csrf_token" value="tok1"></form>'
        self.send_response(200)
        self.send_header("Set-Cookie", "reelgate_csrf=tok1; Path=/; HttpOnly")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        good = (
            form == {"_csrf_token": ["tok1"], "api_key": ["rg_gates"]}
            and "reelgate_csrf=tok1" in self.headers["Cookie"]
        )
        self.send_response(303 if good else 401)
        if good:
            self.send_header("Set-Cookie", "reelgate_session=signed; Path=/; HttpOnly")
        self.send_header("Location", "/library")
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_the_pages_are_scanned_signed_in_and_sign_out_is_left_alone(zap: str, tmp_path: Path) -> None:
    site = ThreadingHTTPServer(("127.0.0.1", 0), SignInPage)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{site.server_address[1]}"
    try:
        result = scan(zap, tmp_path, target=target)
    finally:
        site.shutdown()
    assert result.verdict != "error", result.reason
    rules = [q for p, q in FakeZap.calls if p == "/JSON/replacer/action/addRule/"]
    session = next(q for q in rules if q["matchString"] == ["Cookie"])
    assert session["replacement"] == ["reelgate_csrf=tok1; reelgate_session=signed"]
    excluded = next(q for p, q in FakeZap.calls if p == "/JSON/spider/action/excludeFromScan/")
    assert excluded["regex"] == [re.escape(f"{target}/sign-out") + ".*"]


def test_a_sign_in_that_gives_no_session_is_an_error(zap: str, tmp_path: Path) -> None:
    result = scan(zap, tmp_path, target="http://127.0.0.1:9")
    assert result.verdict == "error" and result.reason.startswith("cannot sign in to scan the pages")


def test_zap_scans_only_loopback_and_the_hosts_the_policy_allows(zap: str, tmp_path: Path) -> None:
    away = scan(zap, tmp_path, target="http://10.9.9.9:8080", pages=False)
    assert away.verdict == "error" and "`allowed_hosts` (none), not 10.9.9.9" in away.reason
    assert "10.9.9.9" not in str(FakeZap.calls)  # refused before ZAP was asked anything
