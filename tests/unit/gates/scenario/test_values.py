"""Variables, secrets and JSON paths of scenario files."""

from __future__ import annotations

import pytest

from reelgate.gates.scenario.values import MISSING, UnknownVariable, Values, json_path, matches


def test_a_variable_alone_keeps_its_type_and_inside_text_becomes_text() -> None:
    values = Values({"n": 3, "ok": True, "id": "abc"}, env={})
    assert values.render("${n}") == 3 and values.render("${ok}") is True
    assert values.render("/v/${id}?n=${n}") == "/v/abc?n=3"
    assert values.render({"a": ["${n}", {"b": "${id}"}]}) == {"a": [3, {"b": "abc"}]}


def test_env_and_secrets_and_redaction() -> None:
    values = Values({}, env={"HOST": "h", "API_KEY": "rg_s3cret"})
    assert values.render("Bearer ${secret.API_KEY} at ${env.HOST}") == "Bearer rg_s3cret at h"
    assert values.redact("sent rg_s3cret to h") == "sent *** to h"  # env values are not secrets


def test_an_unknown_variable_says_what_is_known() -> None:
    values = Values({"a": 1}, env={})
    with pytest.raises(UnknownVariable, match=r"`\$\{b\}` is not a var or an earlier capture \(known: a\)"):
        values.render("${b}")
    with pytest.raises(UnknownVariable, match="the environment variable NOPE is not set"):
        values.render("${secret.NOPE}")


def test_json_paths() -> None:
    doc = {"renditions": [{"height": 720}, {"height": 480}], "a": {"b-c": None}}
    assert json_path(doc, "$.renditions[1].height") == 480
    assert json_path(doc, "$.a.b-c") is None
    assert json_path(doc, "$.renditions[5]") is MISSING and json_path(doc, "$.x.y") is MISSING
    assert json_path(doc, "$") is doc


def test_matches_is_equality_with_subset_mappings() -> None:
    assert matches({"a": 1, "b": 2}, {"a": 1}) and not matches({"a": 1}, {"a": 1, "b": 2})
    assert matches(1, 1.0) and not matches(1, True) and not matches("1", 1)
