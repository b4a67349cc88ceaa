"""`axe`: accessibility audit of pages in real headless Chromium (selenium + axe-selenium-python).

axe-core is a current, pinned release vendored from the npm registry
(`plugins/axe_core/VERSION`, `scripts/update-axe-core`): the one bundled with
axe-selenium-python 2.1.6 (axe-core 3.1.1) hangs on the wcag21 tags.
`violations` at or above `min_impact` fail; below it they warn; `incomplete`
("needs review") results are kept as `warn` findings, never dropped, since they
hide contrast problems. Each page's raw axe JSON is an artifact, and so is a
screenshot of every page with violations.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlparse

import msgspec

from reelgate.contract.media import clip_command
from reelgate.gates.api import Check, Finding, GateContext, GateResult, hookimpl, measured, unmeasured

Impact = Literal["minor", "moderate", "serious", "critical"]
IMPACTS: tuple[str, ...] = ("minor", "moderate", "serious", "critical")
SEVERITY = {"minor": "low", "moderate": "medium", "serious": "high", "critical": "critical"}
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)


class Step(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One step before the audit: open a path, fill a field, click, choose a file, or wait for an element."""

    action: Literal["open", "fill", "click", "upload", "wait"]
    target: str
    """A path for `open`; a CSS selector for the others."""
    value: str = ""
    """For `fill` (`${API_KEY}` is the gates' key) and `upload` (a file path, `${SAMPLE_VIDEO}`: a 2 s
    clip made with ffmpeg, so pages that only exist once there is a video can be audited, or
    `${SAMPLE_CAPTIONS}`: WebVTT captions for it)."""


class AxeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pages: list[str] = msgspec.field(default_factory=lambda: ["/"])
    """Paths to audit."""
    crawl: int = 0
    """Also follow same-origin links from the pages, up to this many pages in all."""
    exclude: list[str] = msgspec.field(default_factory=lambda: ["/sign-out", "/static/", "/schema"])
    """Path prefixes the crawl never opens (download links are never followed either)."""
    sign_in: list[Step] = []
    """Steps before the audit, in one browser session: sign in, and make content worth auditing."""
    tags: list[str] = msgspec.field(default_factory=lambda: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    min_impact: Impact = "serious"
    """Violations at or above this impact fail; lighter ones warn."""
    disable: dict[str, str] = {}
    """Rules to switch off, each with the reason (kept in the report)."""
    script_timeout: float = 30.0
    chromium: str = "/usr/bin/chromium"
    chromedriver: str = "/usr/bin/chromedriver"


def axe_script() -> Path:
    with resources.as_file(resources.files("reelgate.plugins.axe_core") / "axe.min.js") as path:
        return Path(path)


def axe_version() -> str:
    return (resources.files("reelgate.plugins.axe_core") / "VERSION").read_text().strip()


def start_chromium(
    profile: str,
    chromium: str = "/usr/bin/chromium",
    chromedriver: str = "/usr/bin/chromedriver",
    timeout: float = 30.0,
    extra: tuple[str, ...] = (),
) -> Any:
    """Headless Chromium through chromedriver with a fresh profile and no calls home (also used by the
    browser tests and the page-load benchmark)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, *extra):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_script_timeout(timeout)
    driver.set_page_load_timeout(timeout)
    return driver


def sample_video(folder: Path) -> Path:
    clip = folder / "sample.mp4"
    if not clip.exists():
        subprocess.run(
            clip_command(clip, 2, audio=True),
            check=True,
            capture_output=True,
            timeout=60,
        )
    return clip


def sample_captions(folder: Path) -> Path:
    captions = folder / "sample.vtt"
    captions.write_text(
        "WEBVTT\n\n00:00.000 --> 00:01.000\nA test pattern.\n\n00:01.000 --> 00:02.000\n[A steady tone]\n"
    )
    return captions


SAMPLES = {"${SAMPLE_VIDEO}": sample_video, "${SAMPLE_CAPTIONS}": sample_captions}


class StepFailed(Exception):
    pass


def _said(exc: Exception, limit: int, otherwise: str = "") -> str:
    """An exception in one line for a gate's reason: its type and the first line of its message
    (selenium's messages go on with a stack of the driver's own)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:limit] if text else otherwise}"


def _sign_in(driver: Any, base: str, steps: list[Step], key: str, workdir: Path, timeout: float) -> None:
    for number, step in enumerate(steps, 1):
        try:
            _step(driver, base, step, key, workdir, timeout)
        except Exception as exc:  # say which step, in the gate's reason
            raise StepFailed(
                f"step {number} ({step.action} {step.target}) failed: {_said(exc, 200, 'timed out or not found')}"
            ) from exc


def _step(driver: Any, base: str, step: Step, key: str, workdir: Path, timeout: float) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    if step.action == "open":
        driver.get(urljoin(base, step.target))
    elif step.action == "wait":
        WebDriverWait(driver, timeout).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, step.target))
        )
    else:
        element = driver.find_element(By.CSS_SELECTOR, step.target)
        if step.action == "fill":
            element.clear()
            element.send_keys(step.value.replace("${API_KEY}", key))
        elif step.action == "upload":
            path = SAMPLES[step.value](workdir) if step.value in SAMPLES else Path(step.value)
            element.send_keys(str(path.resolve()))
        else:
            element.click()


def _links(driver: Any, base: str, exclude: list[str]) -> list[str]:
    from selenium.webdriver.common.by import By

    origin = urlparse(base).netloc
    found = []
    for anchor in driver.find_elements(By.CSS_SELECTOR, "a[href]:not([download])"):
        href = (anchor.get_attribute("href") or "").split("#")[0]
        url = urlparse(href)
        if url.netloc == origin and not url.path.startswith(tuple(exclude)) and href not in found:
            found.append(href)
    return found


def audit(config: AxeConfig, base: str, workdir: Path, key: str) -> tuple[list[Finding], list[Check], list[str]]:
    """Blocking: drive Chromium over the pages; returns findings, checks and artifacts."""
    from axe_selenium_python import Axe

    options = {
        "runOnly": {"type": "tag", "values": config.tags},
        "rules": {rule: {"enabled": False} for rule in config.disable},
    }
    threshold = IMPACTS.index(config.min_impact)
    findings: list[Finding] = []
    artifacts: list[str] = []
    failing = warned = incomplete = audited = 0
    profile = tempfile.mkdtemp(prefix="reelgate-axe-")
    driver = start_chromium(profile, config.chromium, config.chromedriver, config.script_timeout)
    try:
        _sign_in(driver, base, config.sign_in, key, workdir, config.script_timeout)
        queue = [urljoin(base, page) for page in config.pages]
        seen: list[str] = []
        while queue and len(seen) < max(len(config.pages), config.crawl):
            url = queue.pop(0)
            if url in seen:
                continue
            seen.append(url)
            driver.get(url)
            axe = Axe(driver, script_url=str(axe_script()))
            axe.inject()
            results = axe.run(options=json.dumps(options))
            audited += 1
            name = f"page-{len(seen)}"
            raw = workdir / f"{name}-axe.json"
            raw.write_text(json.dumps(results, indent=1))
            artifacts.append(str(raw))
            for violation in results.get("violations", []):
                impact = violation.get("impact") or "minor"
                fails = IMPACTS.index(impact) >= threshold
                failing += fails
                warned += not fails
                for node in violation.get("nodes", [])[:20]:
                    findings.append(
                        Finding(
                            rule_id=violation["id"],
                            severity=SEVERITY[impact],  # type: ignore[arg-type]
                            message=f"{violation['help']} ({impact}): {node.get('html', '')[:300]}",
                            location=f"{url} {' '.join(map(str, node.get('target', [])))}",
                            help_url=violation.get("helpUrl", ""),
                            verdict="fail" if fails else "warn",
                        )
                    )
            for review in results.get("incomplete", []):
                incomplete += 1
                findings.append(
                    Finding(
                        rule_id=review["id"],
                        severity="medium",
                        help_url=review.get("helpUrl", ""),
                        message=f"needs review: {review['help']}",
                        location=url,
                        verdict="warn",
                    )
                )
            if results.get("violations"):
                shot = workdir / f"{name}.png"
                driver.save_screenshot(str(shot))
                artifacts.append(str(shot))
            if config.crawl:
                queue.extend(link for link in _links(driver, base, config.exclude) if link not in seen)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    checks = [
        Check(
            name="violations",
            value=float(failing),
            op="==",
            threshold=0,
            verdict="fail" if failing else "pass",
            note=f"at or above {config.min_impact}",
        ),
        Check(name="minor_violations", value=float(warned), verdict="warn" if warned else "pass"),
        Check(name="needs_review", value=float(incomplete), verdict="pass"),
        Check(name="pages", value=float(audited), verdict="pass" if audited else "error"),
    ]
    return findings, checks, artifacts


class AxeGate:
    name = "axe"
    needs = frozenset({"url"})
    Config = AxeConfig

    async def run(self, ctx: GateContext) -> GateResult:
        config: AxeConfig = ctx.config
        for tool in (config.chromium, config.chromedriver):
            if not Path(tool).exists():
                return unmeasured(f"{tool} is not installed (apt-get install chromium chromium-driver)")
        try:
            findings, checks, artifacts = await asyncio.to_thread(
                audit, config, ctx.target.rstrip("/") + "/", ctx.workdir, ctx.api_key or ""
            )
        except StepFailed as exc:
            return unmeasured(f"the audit could not start: {exc}")
        except Exception as exc:  # a browser that cannot start or a page that times out measured nothing
            return unmeasured(f"the audit could not run: {_said(exc, 300)}")
        note = f"axe-core {axe_version()}; disabled: " + (
            ", ".join(f"{rule} ({why})" for rule, why in config.disable.items()) or "none"
        )
        checks[0].note += f"; {note}"
        return measured(
            checks=checks,
            findings=findings,
            artifacts=artifacts,
        )


@hookimpl
def register_gates(register: Any) -> None:
    register(AxeGate)
