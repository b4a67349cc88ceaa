"""`wapiti`: a dynamic scan of the target with wapiti, a scanner that runs here (no daemon, no Java).

wapiti3 pins old httpx/h11, so it lives in a venv of its own under `var/tools/wapiti`
(`REELGATE_TOOLS_DIR` moves it), installed on first use or by `reelgate tools install`.

It always runs with `--no-bugreport`, every out-of-band endpoint pointed at loopback, DNS kept
local (`--dns-endpoint localhost`), a module list that excludes whatever calls out or is noisy,
and a bounded `--max-scan-time`; it refuses a target that is neither on loopback nor one of the
policy's `allowed_hosts` (a remote candidate's host, chosen by name). The scan is
authenticated: the gates' key as a header for the API (whose routes come from the OpenAPI
document), and a session cookie from signing in for the pages.

Criteria as for ZAP: a rules file (`<module> IGNORE|WARN|FAIL [url regex]`) over a level
threshold. A scan that crawled nothing is `error`, never `pass`.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import click
import msgspec

from reelgate.gates import scanrules
from reelgate.gates.api import (
    Check,
    Finding,
    GateContext,
    GateResult,
    ToolNotFound,
    hookimpl,
    host_refusal,
    measured,
    run_tool,
    unmeasured,
)
from reelgate.gates.model import Severity, Verdict
from reelgate.gates.scanrules import Rule, RulesError
from reelgate.gates.signin import SignInError, page_cookies

WAPITI = "wapiti3==3.2.3"
DEFAULT_MODULES = [
    "xss",
    "permanentxss",
    "sql",
    "exec",
    "file",
    "redirect",
    "crlf",
    "http_headers",
    "csp",
    "cookieflags",
    "csrf",
    "methods",
]
# Modules that stay on the target. Left out on purpose: wapp, nikto, cms, wp_enum (download
# databases), takeover, log4shell (DNS lookups), ssrf, xxe (an external endpoint), buster,
# brute_login_form (noisy guessing), ssl (no TLS on loopback).
ALLOWED_MODULES = frozenset(
    [*DEFAULT_MODULES, "timesql", "ldap", "shellshock", "backup", "htaccess", "upload", "https_redirect"]
)
Level = Literal["info", "low", "medium", "high", "critical"]
LEVELS: list[Severity] = ["info", "low", "medium", "high", "critical"]
"""wapiti's levels 0..4, by name."""
OFFLINE_ENDPOINT = "http://127.0.0.1:9/"
"""Where the out-of-band modules would report to: the discard port on loopback, i.e. nowhere."""


class WapitiConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    modules: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_MODULES))
    """Attack modules; only those that stay on the target are accepted."""
    openapi_path: str = "/schema/openapi.json"
    """Read for the API's routes (empty: crawl the pages only)."""
    pages: bool = True
    """Sign in with the gates' key and crawl the pages with that session."""
    exclude: list[str] = msgspec.field(default_factory=lambda: ["/sign-out"])
    """Paths not to visit (signing out would end the scan's session)."""
    max_scan_s: float = 300
    """The whole scan stops after this long."""
    max_attack_s: float = 60
    """Each attack module stops after this long."""
    depth: int = 10
    request_timeout_s: float = 10
    fail_level: Level = "medium"
    """Findings at or above this level fail the gate, unless the rules say otherwise."""
    rules_file: str = ""
    """`<module> IGNORE|WARN|FAIL [url regex]`, one a line, `#` comments (as zap-baseline's)."""
    allowed_hosts: list[str] = []
    """Hosts besides loopback it may scan (a remote candidate's), named in the policy so a scan never
    wanders onto a host nobody chose."""

    def __post_init__(self) -> None:
        refused = sorted(set(self.modules) - ALLOWED_MODULES)
        if refused:
            raise ValueError(
                f"wapiti modules {', '.join(refused)} are not allowed (they call out or are noisy); "
                f"expected some of {', '.join(sorted(ALLOWED_MODULES))}"
            )
        if not self.modules:
            raise ValueError("expected at least one wapiti module")


def tools_dir(home: Path) -> Path:
    return Path(os.environ.get("REELGATE_TOOLS_DIR") or home / "var" / "tools")


LOCK = Path(__file__).with_name("wapiti-lock.txt")
"""wapiti and every package it needs, pinned with their hashes (`scripts/lock` compiles it from WAPITI)."""


def install_wapiti(tools: Path, timeout: float = 600) -> Path:
    """wapiti's command, installed from its lock into `tools/wapiti` first if it is not there (once, under a
    file lock); a changed lock installs it again."""
    venv = tools / "wapiti"
    binary, stamp = venv / "bin" / "wapiti", venv / ".reelgate-installed"
    want = f"{WAPITI} {hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]}"
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return binary
    tools.mkdir(parents=True, exist_ok=True)
    with open(tools / "wapiti.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second gate waits for the first install, then uses it
        if binary.exists() and stamp.exists() and stamp.read_text().strip() == want:
            return binary
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [*pip, "--require-hashes", "--no-deps", "-r", str(LOCK)],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=timeout, check=False)
            if done.returncode != 0:
                tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
                raise RuntimeError(f"installing {WAPITI} into {venv} failed: {tail}")
        stamp.write_text(want + "\n")
    return binary


def command(binary: Path, ctx: GateContext, cookies: dict[str, str], out: Path) -> list[str]:
    config: WapitiConfig = ctx.config
    target = ctx.target.rstrip("/")
    args = [
        str(binary),
        "--url", target + "/",
        "--scope", "folder",
        "--module", ",".join(config.modules),
        "--max-scan-time", f"{config.max_scan_s:g}",
        "--max-attack-time", f"{config.max_attack_s:g}",
        "--depth", str(config.depth),
        "--timeout", f"{config.request_timeout_s:g}",
        "--format", "json",
        "--output", str(out),
        "--flush-session",
        "--store-session", str(ctx.workdir / "wapiti-session"),
        "--store-config", str(ctx.workdir / "wapiti-config"),
        "--no-bugreport",
        "--dns-endpoint", "localhost",
        "--endpoint", OFFLINE_ENDPOINT,
        "--verbose", "1",
    ]  # fmt: skip
    if config.openapi_path:
        args += ["--swagger", target + config.openapi_path]
    if ctx.api_key:
        args += ["--header", f"Authorization: Bearer {ctx.api_key}"]
    if cookies:
        args += ["--cookie-value", "; ".join(f"{k}={v}" for k, v in cookies.items())]
    for path in config.exclude:
        args += ["--exclude", target + path]
    return args


def judge_item(
    item: dict[str, Any], category: str, config: WapitiConfig, rules: list[Rule], base: str
) -> Finding | None:
    """One reported item as a finding (None: ignored by a rule)."""
    module = str(item.get("module", "?"))
    url = base + str(item.get("path", ""))
    level = min(max(int(item.get("level", 0)), 0), 4)
    ruled = scanrules.ruled(rules, module, url)
    if ruled is None:
        return None
    verdict: Verdict
    if ruled != "unruled":
        verdict = ruled
    elif level >= LEVELS.index(config.fail_level):
        verdict = "fail"
    else:
        verdict = "warn" if level >= 1 else "pass"
    info = str(item.get("info", ""))
    param = f" (parameter `{item['parameter']}`)" if item.get("parameter") and item["parameter"] not in info else ""
    wstg = f" ({', '.join(item['wstg'])})" if item.get("wstg") else ""
    return Finding(
        rule_id=f"wapiti/{module}",
        severity=LEVELS[level],
        message=f"{category}: {info}{param}{wstg}",
        location=f"{item.get('method', 'GET')} {url}",
        verdict=verdict,
    )


def judge(report: dict[str, Any], config: WapitiConfig, rules: list[Rule], base: str) -> list[Finding]:
    """Every vulnerability, anomaly and additional finding of a wapiti JSON report, worst first."""
    classes = report.get("classifications", {})
    findings = []
    for section in ("vulnerabilities", "anomalies", "additionals"):
        for category, items in (report.get(section) or {}).items():
            about = classes.get(category, {})
            refs = list((about.get("ref") or {}).values())
            for item in items:
                finding = judge_item(item, category, config, rules, base)
                if finding is None:
                    continue
                if about.get("sol"):
                    finding.message += f". Solution: {str(about['sol'])[:300]}"
                finding.help_url = str(refs[0]) if refs else ""
                findings.append(finding)
    findings.sort(key=lambda f: (f.verdict != "fail", -LEVELS.index(f.severity), f.location))
    return findings


class WapitiGate:
    name = "wapiti"
    needs = frozenset({"url"})
    Config = WapitiConfig

    async def run(self, ctx: GateContext) -> GateResult:
        config: WapitiConfig = ctx.config
        refused = host_refusal(ctx.target, config.allowed_hosts)
        if refused:
            return unmeasured(f"wapiti will not scan {ctx.target}: {refused}")
        try:
            rules = scanrules.rules_for(
                config.rules_file, ctx.source_dir or ctx.home, key=r"[a-z_0-9]+", key_name="module"
            )
        except RulesError as exc:
            return unmeasured(f"the rules file cannot be used: {exc}")
        try:
            binary = await asyncio.to_thread(install_wapiti, tools_dir(ctx.home))
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
            return unmeasured(f"wapiti is not available: {exc}")
        cookies: dict[str, str] = {}
        if config.pages and ctx.api_key:
            try:
                cookies = await page_cookies(ctx.target, ctx.api_key)
            except SignInError as exc:
                return unmeasured(f"cannot sign in to scan the pages: {exc}")
        out, log = ctx.workdir / "wapiti.json", ctx.workdir / "wapiti.log"
        started = time.monotonic()
        try:
            # wapiti stops itself at max_scan_s; the kill is for a scanner that hangs past it.
            run = await run_tool(
                command(binary, ctx, cookies, out), kill_after=2 * config.max_scan_s + 60, log=log, merge_stderr=True
            )
        except ToolNotFound as exc:
            return unmeasured(str(exc))
        seconds = time.monotonic() - started
        if run.timed_out:
            return unmeasured(f"wapiti did not stop within {2 * config.max_scan_s + 60:g} s")
        if not out.exists():
            return unmeasured(f"wapiti wrote no report (exit {run.exit_code}): {run.tail()}")
        report = json.loads(out.read_text())
        crawled = int((report.get("infos") or {}).get("crawled_pages_nbr") or 0)
        if not crawled:
            return unmeasured(f"wapiti crawled no page of {ctx.target}: it checked nothing ({run.tail(2)})")
        base = f"{urlsplit(ctx.target).scheme}://{urlsplit(ctx.target).netloc}"
        findings = judge(report, config, rules, base)
        checks = [
            Check(name="pages_crawled", value=float(crawled), unit="pages"),
            Check(name="scan_duration", value=round(seconds, 1), unit="s", note=str(report["infos"].get("version"))),
            Check(name="findings", value=float(len(findings)), unit="findings"),
            scanrules.failing_check(
                "findings_failing", findings, "findings", f"none at or above level {config.fail_level}"
            ),
        ]
        return measured(
            checks=checks,
            findings=findings,
            artifacts=[str(out), str(log)],
        )


@hookimpl
def register_gates(register: Any) -> None:
    register(WapitiGate)


@click.group()
def tools() -> None:
    """The scanners that live in venvs of their own."""


@tools.command("install")
def tools_install() -> None:
    """Install wapiti into `var/tools/wapiti` (or `$REELGATE_TOOLS_DIR`) if it is missing."""
    from reelgate.gates.settings import engine_settings

    try:
        binary = install_wapiti(tools_dir(engine_settings().home))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wapiti: {binary}")
