"""Policies decode strictly, and every error says file:line:column and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelgate.gates.manager import registry
from reelgate.gates.policy import PolicyError, json_schema, load_policy, parse_policy

DEFAULT = Path(__file__).resolve().parents[3] / "gates" / "policies" / "default.yaml"


def parse(text: str):
    reg = registry()
    return parse_policy(text, "p.yaml", reg.gates, reg.routers, reg.deployers, reg.notifiers)


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse(text)
    return caught.value


def test_shipped_policy_loads_with_typed_configs() -> None:
    reg = registry()
    loaded = load_policy(DEFAULT, reg.gates, reg.routers, reg.deployers)
    ids = [g.id for g in loaded.policy.gates]
    assert ids == [
        "unit-tests",
        "static-security",
        "security",
        "security-zap",
        "accessibility",
        "scenarios",
        "read-latency",
        "video-quality",
        "chaos",
        "smoke-after-switch",
    ]
    assert loaded.configs["scenarios"].files == ["scenarios/*.yaml"]
    assert loaded.configs["read-latency"].vus == 10
    assert loaded.configs["video-quality"].size == "1920x1080"  # every rung of the default ladder
    axe = loaded.configs["accessibility"]
    assert axe.min_impact == "moderate" and axe.sign_in[1].value == "${API_KEY}" and "/usage" in axe.pages
    assert loaded.policy.router.uses == "haproxy" and loaded.deployer_config.extras == ["test"]


def test_unknown_top_level_field() -> None:
    err = error_of("name: x\ngates: []\nfail_fats: true\n")
    assert (err.line, err.column) == (3, 1)
    assert "unknown field `fail_fats`" in str(err) and str(err).startswith("p.yaml:3:1:")


def test_unknown_gate_type_names_the_known_ones() -> None:
    err = error_of("gates:\n  - uses: k7\n")
    assert (err.line, err.column) == (2, 5)
    assert "unknown gate type `k7`" in err.message and "k6" in err.message


def test_wrong_type_inside_with_points_at_the_value() -> None:
    err = error_of("gates:\n  - uses: k6\n    with:\n      vus: ten\n")
    assert (err.line, err.column) == (4, 7)
    assert "expected `int`, got `str`" in err.message and "$.gates[0].with.vus" in err.message


def test_unknown_field_inside_with() -> None:
    err = error_of("gates:\n  - uses: k6\n    with:\n      vus: 1\n      duraton: 5s\n")
    assert (err.line, err.column) == (5, 7)
    assert "unknown field `duraton`" in err.message


def test_duplicate_gate_ids() -> None:
    err = error_of("gates:\n  - uses: k6\n  - uses: k6\n")
    assert err.line == 3 and "used twice" in err.message


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("{name: p95_ms}", "needs a `threshold`"),
        ("{name: p95_ms, baseline: live}", "go together"),
        ("{name: p95_ms, baseline: live, max_regression: -5}", ">= 0"),
        ("{name: p95_ms, op: '==', baseline: live, max_regression: 5}", "ordering op"),
        ("{name: p95_ms, op: '=<', threshold: 5}", "invalid enum value '=<'"),
    ],
)
def test_bad_check_rules(rule: str, words: str) -> None:
    err = error_of(f"gates:\n  - uses: k6\n    checks:\n      - {rule}\n")
    assert err.line == 4 and words in err.message


def test_unknown_router_and_bad_router_config() -> None:
    err = error_of("router: {uses: envoy}\ngates: []\n")
    assert err.line == 1 and "unknown router `envoy`" in err.message
    err = error_of("router:\n  uses: haproxy\n  with: {sockt: x}\ngates: []\n")
    assert err.line == 3 and "unknown field `sockt`" in err.message


def test_invalid_yaml_and_wrong_shape() -> None:
    err = error_of("gates:\n  - uses: k6\n   with: {]\n")
    assert err.line in (2, 3) and "not valid YAML" in err.message
    assert "mapping" in error_of("- just\n- a list\n").message
    assert "gates" in error_of("name: no gates\n").message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml", registry().gates)


def test_json_schema_covers_gate_configs() -> None:
    schema = json_schema(registry().gates)
    assert schema["title"] == "reelgate gate policy"
    variants = schema["$defs"]["GateSpec"]["allOf"]
    k6 = next(v for v in variants if v["if"]["properties"]["uses"]["const"] == "k6")
    assert k6["then"]["properties"]["with"]["$ref"] == "#/$defs/k6.K6Config"
    assert "vus" in schema["$defs"]["k6.K6Config"]["properties"]
    assert "command" in schema["$defs"]["coverage.CoverageConfig"]["properties"]


def test_a_policy_without_a_required_pre_gate_is_refused() -> None:
    advisory = error_of("gates:\n  - {uses: k6, required: false}\n  - {uses: k6, id: after, phase: post}\n")
    assert advisory.line == 1 and "expected at least one required `pre` gate" in advisory.message
    assert "required `pre` gate" in error_of("gates: []\n").message


def test_on_missing_baseline_takes_only_skip_warn_or_error() -> None:
    err = error_of("on_missing_baseline: pass\ngates:\n  - {uses: k6}\n")
    assert err.line == 1 and "on_missing_baseline" in err.message
    assert parse("on_missing_baseline: skip\ngates:\n  - {uses: k6}\n").policy.on_missing_baseline == "skip"


def test_baseline_live_on_a_gate_that_measures_no_url_is_refused() -> None:
    err = error_of(
        "gates:\n  - uses: coverage\n    with: {command: [-m, pytest]}\n    checks:\n"
        "      - {name: total_percent, op: '>=', baseline: live, max_regression: 1}\n"
    )
    assert (err.line, err.column) == (5, 9) and "does not measure the target URL" in err.message


def test_watch_is_decoded_and_checked_with_its_position() -> None:
    loaded = parse("watch: {duration: 5m, interval: 15s, max_p95_ms: 300}\ngates:\n  - {uses: k6}\n")
    assert loaded.policy.watch is not None and loaded.policy.watch.duration_s == 300
    bad = error_of("watch:\n  duration: soon\ngates:\n  - {uses: k6}\n")
    assert (bad.line, bad.column) == (2, 3) and "expected a duration such as 15s" in bad.message
    unknown = error_of("watch: {duration: 1m, every: 5s}\ngates:\n  - {uses: k6}\n")
    assert "unknown field `every`" in unknown.message


def test_an_unknown_field_names_the_fields_expected_there() -> None:
    err = error_of("gates:\n  - uses: k6\n    with: {vuz: 3}\n")
    assert (err.line, err.column) == (3, 12)
    assert "unknown field `vuz`; expected one of: script, scenario, vus, duration" in err.message


def test_notify_targets_are_checked_where_they_are_written() -> None:
    gates = "gates:\n  - {uses: k6}\n"
    unknown = error_of(gates + "notify:\n  - {uses: pager}\n")
    assert (unknown.line, "unknown notifier `pager`") == (4, unknown.message.split(" (")[0])
    assert "slack" in unknown.message and "webhook" in unknown.message
    trigger = error_of(gates + "notify:\n  - uses: slack\n    on: [promoted, exploded]\n")
    assert str(trigger) == "p.yaml:5:20: invalid enum value 'exploded' (at $.notify[0].on[1])"
    config = error_of(gates + "notify:\n  - uses: webhook\n    with: {adress: x}\n")
    assert config.line == 5 and "unknown field `adress`" in config.message
    loaded = parse(gates + "notify:\n  - {uses: webhook, with: {url: http://x}, on: [blocked]}\n  - {uses: slack}\n")
    assert [(t.name, t.on) for t in loaded.policy.notify][0] == ("webhook#1", ["blocked"])
    assert len(loaded.policy.notify[1].on) == 9 and loaded.notifier_configs[0].url == "http://x"
