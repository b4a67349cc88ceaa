"""`zap`: OWASP ZAP drives a dynamic scan of the target through its API (the `zaproxy` client, `zapv2`).

Steps, against a ZAP daemon at `REELGATE_ZAP_URL` with its API key from `REELGATE_ZAP_API_KEY`:
wait for `core.version`; put the gates' key on every request (a replacer rule), and the cookies of a
session signed in with it (another), so pages behind sign-in are scanned too; import the platform's
OpenAPI so the API routes are scanned, not only crawled pages; spider (and the AJAX spider when asked);
wait for the passive scan queue to drain; an active scan only when asked (opt-in, bounded in time); read
the alerts page by page; ask ZAP for its own HTML report. Criteria as zap-baseline users know them: a
rules file (`<pluginId> IGNORE|WARN|FAIL [url regex]`) over a risk and confidence threshold. A scan that
reached no URL of the target is `error`, never `pass`; an unreachable ZAP is `error` naming the URL tried.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any, Literal

import msgspec

from reelgate.gates import scanrules
from reelgate.gates.api import (
    Check,
    Finding,
    GateContext,
    GateResult,
    hookimpl,
    host_refusal,
    measured,
    unmeasured,
)
from reelgate.gates.model import Severity, Verdict
from reelgate.gates.scanrules import Rule, RulesError
from reelgate.gates.signin import SignInError, page_cookies

RISKS: dict[str, int] = {"informational": 0, "low": 1, "medium": 2, "high": 3}
CONFIDENCES: dict[str, int] = {"false positive": 0, "low": 1, "medium": 2, "high": 3, "confirmed": 4}
SEVERITY: dict[str, Severity] = {"informational": "info", "low": "low", "medium": "medium", "high": "high"}


class ZapConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    zap_url: str = ""
    """The ZAP daemon's API address; default `REELGATE_ZAP_URL`."""
    api_key_env: str = "REELGATE_ZAP_API_KEY"
    """The environment variable holding ZAP's API key."""
    openapi_path: str = "/schema/openapi.json"
    """Imported so that the API's routes are scanned (empty: none)."""
    pages: bool = True
    """Sign in with the gates' key and send that session's cookies, so the pages behind sign-in are scanned."""
    exclude: list[str] = msgspec.field(default_factory=lambda: ["/sign-out"])
    """Paths the spider leaves alone (signing out would end the scan's session)."""
    ajax_spider: bool = False
    active_scan: bool = False
    """Attack the target too: opt-in, and only ever against the candidate."""
    max_minutes: float = 5
    """Each of spidering, the passive queue and the active scan stops after this long."""
    fail_risk: Literal["informational", "low", "medium", "high"] = "medium"
    """Alerts at or above this risk (and `min_confidence`) fail the gate, unless the rules say otherwise."""
    min_confidence: Literal["false positive", "low", "medium", "high", "confirmed"] = "medium"
    rules_file: str = ""
    """zap-baseline's rules: `<pluginId> IGNORE|WARN|FAIL [url regex]`, one a line, `#` comments."""
    allowed_hosts: list[str] = []
    """Hosts besides loopback it may scan (a remote candidate's), named in the policy so ZAP never
    attacks a host nobody chose."""


def parse_rules(text: str, file: str) -> list[Rule]:
    return scanrules.parse_rules(text, file, key=r"\d+", key_name="pluginId")


def judge_alert(alert: dict[str, Any], config: ZapConfig, rules: list[Rule]) -> Verdict | None:
    """The verdict of one alert (None: ignored by a rule)."""
    verdict = scanrules.ruled(rules, str(alert.get("pluginId")), str(alert.get("url", "")))
    if verdict != "unruled":
        return verdict
    risk = RISKS.get(str(alert.get("risk", "")).lower(), 0)
    confidence = CONFIDENCES.get(str(alert.get("confidence", "")).lower(), 0)
    over = risk >= RISKS[config.fail_risk] and confidence >= CONFIDENCES[config.min_confidence]
    return "fail" if over else ("warn" if risk >= RISKS["low"] else "pass")


def to_finding(alert: dict[str, Any], verdict: Verdict) -> Finding:
    param = f" parameter `{alert['param']}`" if alert.get("param") else ""
    evidence = f"; evidence: {str(alert['evidence'])[:200]}" if alert.get("evidence") else ""
    cwe = f" (CWE-{alert['cweid']})" if str(alert.get("cweid", "-1")) not in ("", "-1", "0") else ""
    solution = f" Solution: {str(alert['solution'])[:300]}" if alert.get("solution") else ""
    return Finding(
        rule_id=f"zap/{alert.get('pluginId', '?')}",
        severity=SEVERITY.get(str(alert.get("risk", "")).lower(), "info"),
        message=f"{alert.get('alert', '?')}{cwe}{param}, confidence {alert.get('confidence', '?')}"
        f"{evidence}.{solution}",
        location=f"{alert.get('method', 'GET')} {alert.get('url', '')}",
        help_url=str(alert.get("reference", "")).split("\n")[0],
        verdict=verdict,
    )


class Scan:
    """One scan's calls to ZAP, in a worker thread (the client is synchronous)."""

    def __init__(
        self, zap: Any, config: ZapConfig, target: str, key: str | None, cookies: dict[str, str], workdir: Path
    ) -> None:
        self.zap, self.config, self.target, self.key, self.workdir = zap, config, target.rstrip("/"), key, workdir
        self.cookies = cookies
        self.deadline_s = config.max_minutes * 60

    def _wait(self, done: Any, what: str) -> None:
        deadline = time.monotonic() + self.deadline_s
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not finish within {self.config.max_minutes:g} min")
            time.sleep(1)

    def run(self) -> tuple[str, list[dict[str, Any]], int, list[str]]:
        zap, target = self.zap, self.target
        version = zap.core.version
        if self.key:
            zap.replacer.add_rule(
                description="reelgate gates key",
                enabled="true",
                matchtype="REQ_HEADER",
                matchregex="false",
                matchstring="Authorization",
                replacement=f"Bearer {self.key}",
            )
        if self.cookies:
            zap.replacer.add_rule(
                description="reelgate page session",
                enabled="true",
                matchtype="REQ_HEADER",
                matchregex="false",
                matchstring="Cookie",
                replacement="; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            )
        for path in self.config.exclude:
            zap.spider.exclude_from_scan(re.escape(target + path) + ".*")
        if self.config.openapi_path:
            zap.openapi.import_url(target + self.config.openapi_path)
        spider = zap.spider.scan(target)
        self._wait(lambda: int(zap.spider.status(spider)) >= 100, "the spider")
        if self.config.ajax_spider:
            zap.ajaxSpider.scan(target)
            self._wait(lambda: zap.ajaxSpider.status != "running", "the AJAX spider")
        self._wait(lambda: int(zap.pscan.records_to_scan) == 0, "the passive scan")
        if self.config.active_scan:
            active = zap.ascan.scan(target)
            self._wait(lambda: int(zap.ascan.status(active)) >= 100, "the active scan")
        alerts: list[dict[str, Any]] = []
        while True:
            page = zap.core.alerts(baseurl=target, start=len(alerts), count=500)
            alerts += page
            if len(page) < 500:
                break
        urls = zap.core.urls(baseurl=target)
        artifacts = []
        try:
            report = zap.reports.generate(
                title="reelgate ZAP scan",
                template="traditional-html",
                reportdir=str(self.workdir),
                reportfilename="zap-report.html",
                sites=target,
            )
            if report and Path(str(report)).exists():
                artifacts.append(str(report))
        except Exception:  # ZAP's own report is a nicety; a ZAP without the reports add-on still scans
            pass
        return str(version), alerts, len(urls), artifacts


class ZapGate:
    name = "zap"
    needs = frozenset({"url"})
    Config = ZapConfig

    async def run(self, ctx: GateContext) -> GateResult:
        config: ZapConfig = ctx.config
        refused = host_refusal(ctx.target, config.allowed_hosts)
        if refused:
            return unmeasured(f"ZAP will not scan {ctx.target}: {refused}")
        url = config.zap_url or os.environ.get("REELGATE_ZAP_URL", "")
        if not url:
            return unmeasured("no ZAP to drive: set REELGATE_ZAP_URL (or `zap_url`)")
        try:
            rules = scanrules.rules_for(config.rules_file, ctx.source_dir or ctx.home, key=r"\d+", key_name="pluginId")
        except RulesError as exc:
            return unmeasured(f"the rules file cannot be used: {exc}")
        cookies: dict[str, str] = {}
        if config.pages and ctx.api_key:
            try:
                cookies = await page_cookies(ctx.target, ctx.api_key)
            except SignInError as exc:
                return unmeasured(f"cannot sign in to scan the pages: {exc}")
        import requests
        from zapv2 import ZAPv2

        zap = ZAPv2(apikey=os.environ.get(config.api_key_env, ""), proxies={"http": url, "https": url})
        scan = Scan(zap, config, ctx.target, ctx.api_key, cookies, ctx.workdir)
        try:
            version, alerts, urls, artifacts = await asyncio.to_thread(scan.run)
        except requests.RequestException as exc:
            return unmeasured(f"ZAP at {url} is unreachable: {type(exc).__name__}")
        except TimeoutError as exc:
            return unmeasured(str(exc))
        except Exception as exc:  # ZAP answered with an API error (a bad key, a missing add-on)
            return unmeasured(f"ZAP at {url} refused a step: {exc}")
        raw = ctx.workdir / "zap-alerts.json"
        raw.write_bytes(msgspec.json.format(msgspec.json.encode(alerts)))
        if not urls:
            return unmeasured(f"ZAP {version} reached no URL of {ctx.target}: it checked nothing")
        findings = [to_finding(a, v) for a in alerts if (v := judge_alert(a, config, rules)) is not None]
        checks = [
            Check(name="urls_scanned", value=float(urls), unit="URLs"),
            Check(name="alerts", value=float(len(findings)), unit="alerts", note=f"ZAP {version}"),
            scanrules.failing_check("alerts_failing", findings, "alerts"),
        ]
        return measured(
            checks=checks,
            findings=findings,
            artifacts=[str(raw), *artifacts],
        )


@hookimpl
def register_gates(register: Any) -> None:
    register(ZapGate)
