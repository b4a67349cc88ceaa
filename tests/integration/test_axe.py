"""The axe gate in real headless Chromium: it finds each kind of violation it claims to catch on a
deliberately broken page, and none on a clean one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import msgspec
import pytest

from reelgate.gates.commands import default_policy
from reelgate.gates.manager import registry
from reelgate.gates.policy import load_policy
from reelgate.gates.testing import run_gate_sync
from reelgate.plugins.axe import AxeGate
from tests.http_server import serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PAGES = Path(__file__).parent / "pages"


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serving(partial(Quiet, directory=str(PAGES))) as url:
        yield url


def test_broken_page_fails_with_each_violation(site: str, tmp_path: Path) -> None:
    result = run_gate_sync(AxeGate, {"pages": ["/broken.html"], "min_impact": "moderate"}, site, tmp_path)
    assert result.verdict == "fail"
    found = {f.rule_id for f in result.findings if f.verdict == "fail"}
    assert {"image-alt", "label", "color-contrast", "html-has-lang", "button-name", "link-name"} <= found
    image = next(f for f in result.findings if f.rule_id == "image-alt")
    assert image.help_url.startswith("https://dequeuniversity.com/rules/axe/") and "<img" in image.message
    assert "broken.html" in image.location
    assert any(a.endswith(".png") for a in result.artifacts)
    raw = json.loads(Path(next(a for a in result.artifacts if a.endswith("-axe.json"))).read_text())
    assert raw["testEngine"]["version"] == (Path(__file__).parents[2] / "plugins/axe_core/VERSION").read_text().strip()


def test_clean_page_passes_and_disabled_rules_are_reported(site: str, tmp_path: Path) -> None:
    clean = run_gate_sync(AxeGate, {"pages": ["/clean.html"]}, site, tmp_path / "clean")
    assert clean.verdict == "pass", [f.rule_id for f in clean.findings]
    assert next(c for c in clean.checks if c.name == "violations").value == 0
    waived = run_gate_sync(
        AxeGate,
        {
            "pages": ["/broken.html"],
            "disable": {
                "image-alt": "decorative",
                "label": "x",
                "color-contrast": "x",
                "html-has-lang": "x",
                "button-name": "x",
                "link-name": "x",
            },
        },
        site,
        tmp_path / "waived",
    )
    assert not {f.rule_id for f in waived.findings} & {"image-alt", "label"}
    assert "image-alt (decorative)" in waived.checks[0].note


def test_missing_browser_is_an_error(site: str, tmp_path: Path) -> None:
    result = run_gate_sync(AxeGate, {"chromium": "/nonexistent/chromium"}, site, tmp_path)
    assert result.verdict == "error" and "apt-get install chromium" in result.reason


def test_shipped_policy_audits_every_platform_page_without_violations(stack: Any, tmp_path: Path) -> None:
    """The default policy's own `accessibility` gate (sign in, upload through the upload page, add captions
    on the video page, crawl), made strict: a violation of any impact fails."""
    reg = registry()
    shipped = load_policy(default_policy(), reg.gates, reg.routers, reg.deployers).configs["accessibility"]
    config = msgspec.to_builtins(shipped) | {"min_impact": "minor"}
    result = run_gate_sync(AxeGate, config, stack.router, tmp_path, api_key=stack.tenant("axe-pages"))
    assert result.verdict == "pass", [(f.rule_id, f.verdict, f.location) for f in result.findings]
    checks = {c.name: c.value for c in result.checks}
    assert checks["violations"] == 0 and checks["minor_violations"] == 0 and (checks["pages"] or 0) >= 8
    audited = [json.loads(Path(a).read_text())["url"] for a in result.artifacts if a.endswith("-axe.json")]
    assert any(re.search(r"/videos/[0-9a-f-]{36}$", url) for url in audited), audited  # found by the crawl
    assert any(url.endswith("/delete") for url in audited), audited
    # Nothing left for a person to review either: the player offers the captions the setup added.
    assert result.findings == []


def test_a_failing_setup_step_is_an_error_that_names_it(stack: Any, tmp_path: Path) -> None:
    config = {
        "pages": ["/library"],
        "script_timeout": 3,
        "sign_in": [{"action": "open", "target": "/sign-in"}, {"action": "click", "target": "#no-such-button"}],
    }
    result = run_gate_sync(AxeGate, config, stack.router, tmp_path)
    assert result.verdict == "error" and "step 2 (click #no-such-button) failed" in result.reason


def test_no_new_violations_compared_with_live_is_one_rule(tmp_path: Path) -> None:
    """`baseline: live` on the axe gate: the engine audits the live site too, in the same run, and the
    check fails only on violations live does not have."""
    for name, page in (("live", "broken.html"), ("same", "broken.html"), ("better", "clean.html")):
        (tmp_path / "sites" / name).mkdir(parents=True)
        (tmp_path / "sites" / name / "page.html").write_text((PAGES / page).read_text())
    (tmp_path / "sites" / "worse").mkdir()
    # A kind of violation live does not have: a select with no accessible name (axe counts rules violated).
    worse = (PAGES / "broken.html").read_text().replace("</body>", "<select><option>a</option></select></body>")
    (tmp_path / "sites" / "worse" / "page.html").write_text(worse)
    rule = [{"name": "violations", "op": "<=", "baseline": "live", "max_regression": 0}]
    config = {"pages": ["page.html"], "min_impact": "moderate"}
    with serving(partial(Quiet, directory=str(tmp_path / "sites"))) as base:
        results = {
            name: run_gate_sync(AxeGate, config, f"{base}/{name}/", tmp_path / name, rule, baseline_url=f"{base}/live/")
            for name in ("same", "better", "worse")
        }
    checks = {name: next(c for c in r.checks if c.name == "violations vs live") for name, r in results.items()}
    live = checks["same"].baseline
    assert live is not None and live > 0 and all(c.baseline == live for c in checks.values())
    assert (checks["same"].verdict, checks["same"].delta) == ("pass", 0)
    assert checks["better"].verdict == "pass" and checks["better"].value == 0
    assert checks["worse"].verdict == "fail" and (checks["worse"].delta or 0) > 0
