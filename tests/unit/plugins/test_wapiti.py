"""The wapiti gate's judgement and command line, on a report in wapiti's JSON shape (no scan here:
`tests/integration/test_security.py` runs the real scanner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reelgate.gates.api import GateContext
from reelgate.gates.manager import registry
from reelgate.gates.policy import PolicyError, parse_policy
from reelgate.gates.scanrules import RulesError, parse_rules
from reelgate.plugins.wapiti import WapitiConfig, command, judge

BASE = "http://127.0.0.1:8402"


def item(module: str, path: str, level: int, info: str, parameter: str = "") -> dict[str, Any]:
    return {"method": "GET", "path": path, "info": info, "level": level, "parameter": parameter, "module": module}


REPORT = {
    "classifications": {
        "SQL Injection": {"sol": "Use parameterized statements.", "ref": {"OWASP": "https://owasp.org/sqli"}},
        "Clickjacking Protection": {"sol": "Set X-Frame-Options.", "ref": {}},
    },
    "vulnerabilities": {
        "SQL Injection": [item("sql", "/item", 4, "SQL Injection via injection in the parameter id", "id")],
        "Clickjacking Protection": [item("http_headers", "/", 1, "X-Frame-Options is not set")],
    },
    "anomalies": {"Internal Server Error": [item("xss", "/search", 3, "The server broke", "q")]},
    "additionals": {"HTTP Methods": [item("methods", "/", 0, "Methods found: OPTIONS,GET")]},
    "infos": {"crawled_pages_nbr": 3, "version": "Wapiti 3.2.3"},
}


def test_levels_decide_at_the_threshold_and_the_worst_comes_first() -> None:
    findings = judge(REPORT, WapitiConfig(), [], BASE)
    assert [(f.rule_id, f.severity, f.verdict) for f in findings] == [
        ("wapiti/sql", "critical", "fail"),
        ("wapiti/xss", "high", "fail"),  # an anomaly (a 500 under attack) counts too
        ("wapiti/http_headers", "low", "warn"),
        ("wapiti/methods", "info", "pass"),
    ]
    sql = findings[0]
    assert sql.location == f"GET {BASE}/item" and sql.help_url == "https://owasp.org/sqli"
    assert sql.message.startswith("SQL Injection: SQL Injection via injection in the parameter id")
    assert "(parameter" not in sql.message and "Solution: Use parameterized statements." in sql.message
    assert "(parameter `q`)" in findings[1].message
    assert [f.verdict for f in judge(REPORT, WapitiConfig(fail_level="low"), [], BASE)][:3] == ["fail"] * 3


def test_rules_come_before_the_threshold_and_can_be_narrowed_to_urls() -> None:
    rules = parse_rules("sql IGNORE ^http://127.0.0.1:8402/item$\nhttp_headers FAIL\n# a comment\n", "r.tsv")
    verdicts = {f.rule_id: f.verdict for f in judge(REPORT, WapitiConfig(), rules, BASE)}
    assert "wapiti/sql" not in verdicts and verdicts["wapiti/http_headers"] == "fail"
    elsewhere = parse_rules("sql WARN /other\n", "r.tsv")
    assert judge(REPORT, WapitiConfig(), elsewhere, BASE)[0].verdict == "fail"  # the URL does not match
    with pytest.raises(RulesError, match=r"r.tsv:1: expected `<key> IGNORE\|WARN\|FAIL \[url regex\]`"):
        parse_rules("sql SKIP\n", "r.tsv")
    with pytest.raises(RulesError, match="r.tsv:1: the URL pattern is not a regular expression"):
        parse_rules("sql WARN (\n", "r.tsv")


def test_modules_that_call_out_are_refused_where_the_policy_names_them() -> None:
    text = "gates:\n  - id: security\n    uses: wapiti\n    with: {modules: [sql, ssrf, wapp]}\n"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml", registry().gates)
    assert "p.yaml:4" in str(caught.value) and "wapiti modules ssrf, wapp are not allowed" in str(caught.value)


def test_the_command_keeps_everything_local_and_authenticated(tmp_path: Path) -> None:
    ctx = GateContext(gate_id="security", target=BASE, config=WapitiConfig(), workdir=tmp_path, api_key="rg_secret")
    args = command(Path("/tools/wapiti"), ctx, {"reelgate_session": "s1"}, tmp_path / "out.json")
    joined = " ".join(args)
    assert "--no-bugreport" in args and args[args.index("--dns-endpoint") + 1] == "localhost"
    assert args[args.index("--endpoint") + 1].startswith("http://127.0.0.1:")
    assert args[args.index("--max-scan-time") + 1] == "300"
    assert args[args.index("--swagger") + 1] == f"{BASE}/schema/openapi.json"
    assert args[args.index("--header") + 1] == "Authorization: Bearer rg_secret"
    assert args[args.index("--cookie-value") + 1] == "reelgate_session=s1"
    assert args[args.index("--exclude") + 1] == f"{BASE}/sign-out"
    modules = set(args[args.index("--module") + 1].split(","))
    assert "sql" in modules and not modules & {"ssrf", "xxe", "log4shell", "wapp", "nikto", "takeover"}
    assert str(tmp_path) in joined  # session and config stores in the gate's own folder, not ~/.wapiti
