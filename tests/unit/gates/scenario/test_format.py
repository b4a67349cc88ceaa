"""Scenario files: every way a file can be wrong says `file:line:column:` what was expected, what was found."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelgate.gates.scenario import ScenarioError, json_schema, load_scenario
from reelgate.gates.scenario.format import parse_scenario

ROOT = Path(__file__).resolve().parents[4]


def error_of(text: str, folder: Path = ROOT / "scenarios") -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yaml", folder)
    return caught.value


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    loaded = load_scenario(path)
    assert loaded.scenario.steps and all(step.name for step in loaded.scenario.steps)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            "name: x\nsteps:\n  - get: /a\n    expect: {stauts: 200}\n",
            4,
            14,
            "unknown field `stauts`; expected one of: status, headers, json, matches, schema, max_ms",
        ),
        (
            "name: x\nsteps:\n  - get: /a\n    expect: {status: two hundred}\n",
            4,
            14,
            "expected `int | object | array | null`, got `str`",
        ),
        ("name: x\nsteps:\n  - get: /a\n    post: /b\n", 4, 5, "expected exactly one of get, post"),
        ("name: x\nsteps:\n  - name: n\n", 3, 5, "step `n`: expected exactly one of get, post, put"),
        ("name: x\nsteps:\n  - post: /v\n    poll: {until: {$.a: 1}}\n", 4, 5, "a POST is never polled"),
        ("name: x\nsteps:\n  - get: /a\n    capture: {id: id}\n", 4, 5, "expected a path such as `$.status`"),
        (
            "name: x\nsteps:\n  - post: /v\n    multipart: {file: {path: nowhere.mp4}}\n",
            4,
            5,
            "expected a file at nowhere.mp4 (relative to the scenario), found none",
        ),
        ("name: x\nsteps:\n  - post: /v\n    json: {a: 1}\n    body: f.bin\n", 5, 5, "expected one body"),
        ("name: x\nsteps: []\n", 2, 1, "expected at least one step, found none"),
        (
            "name: x\nsteps:\n  - get: /a\n    expect: {matches: {$.a: '(unclosed'}}\n",
            4,
            14,
            "expected a regular expression for $.a, found '(unclosed'",
        ),
        ("steps:\n  - get: /a\n", 1, 1, "missing required field `name`"),
        ("name: x\nsteps:\n  - get: [/a\n", 4, 1, "not valid YAML: expected ',' or ']'"),
        ("- just a list\n", 1, 1, "expected a mapping with `name:` and `steps:`, found CommentedSeq"),
    ],
)
def test_errors_point_at_their_place(text: str, line: int, column: int, message: str) -> None:
    err = error_of(text)
    assert (err.line, err.column) == (line, column), str(err)
    assert message in err.message
    assert str(err).startswith(f"s.yaml:{line}:{column}: ")


def test_step_names_default_to_their_number_and_the_schema_is_for_editors() -> None:
    loaded = parse_scenario("name: x\nsteps:\n  - get: /a\n  - {name: two, delete: /b}\n", "s.yaml", ROOT)
    assert [s.name for s in loaded.scenario.steps] == ["step 1", "two"]
    assert [s.method for s in loaded.scenario.steps] == ["GET", "DELETE"]
    assert json_schema()["title"] == "reelgate scenario"


def test_an_unreadable_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"missing.yaml:1:1: cannot read the scenario"):
        load_scenario(tmp_path / "missing.yaml")


def test_the_load_section_becomes_k6_options() -> None:
    from reelgate.gates.scenario.k6 import to_k6

    text = (
        "name: x\nload: {vus: 4, rate: 20, duration: 30s, thresholds: {http_req_duration: ['p(95)<300']}}\n"
        "steps:\n  - get: /a\n"
    )
    script = to_k6(parse_scenario(text, "s.yaml", ROOT))
    assert '"executor": "constant-arrival-rate"' in script and '"rate": 20' in script and '"maxVUs": 16' in script
    assert '"http_req_duration": [\n      "p(95)<300"\n    ]' in script and '"checks": [\n      "rate==1"' in script
    once = to_k6(parse_scenario("name: x\nsteps:\n  - get: /a\n", "s.yaml", ROOT))
    assert '"executor": "shared-iterations"' in once and '"iterations": 1' in once
    err = error_of("name: x\nload: {rate: 5}\nsteps:\n  - get: /a\n")
    assert (err.line, err.column) == (2, 8) and "expected a `duration` with `rate`" in err.message
