"""What a scenario may assert about a value beyond equality, as Hurl, Tavern and Step CI let QA write it.

An assertion is a mapping whose keys are all assertion names; anything else is a value to equal (a mapping
then matches as a subset). To compare with a mapping whose keys are assertion names, say `{eq: {...}}`.

    $.duration_s: {gt: 2.5, le: 4}          # comparisons: eq, ne, gt, ge, lt, le
    $.error: {absent: true}                 # exists / absent
    $.renditions: {type: array, length: {ge: 1}}
    $.tags: {contains: demo}                # an array member, or a substring
    $.status: {one_of: [queued, ready]}
    $.id: {matches: "^[0-9a-f-]{36}$"}      # a string matching a regular expression

Every assertion but `absent` (and `exists: false`) fails on a value that is not there. `check` returns why a
value fails, or None; `problem` says what is wrong with an assertion before anything runs. The k6 runtime
(`k6.py`) holds the same rules in JavaScript, and a test holds the two to the same answers.
"""

from __future__ import annotations

import re
from typing import Any

from reelgate.gates.scenario.values import MISSING, matches

COMPARISONS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
NAMES = (*COMPARISONS, "exists", "absent", "type", "length", "contains", "one_of", "matches")
TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")


def is_assertion(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(key in NAMES for key in value)


def _shown(value: Any) -> str:
    return "nothing" if value is MISSING else repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _variable(value: Any) -> bool:
    """A `${...}` operand is only known when the step runs."""
    return isinstance(value, str) and "${" in value


def problem(assertion: dict[str, Any], comparisons_only: bool = False) -> str | None:
    """What is wrong with an assertion, or None (operands that are `${variables}` are checked when they run)."""
    for name, operand in assertion.items():
        if comparisons_only and name not in COMPARISONS and name != "one_of":
            return f"expected a number or a comparison ({', '.join(COMPARISONS)}, one_of), found `{name}`"
        if _variable(operand):
            continue
        if name in ("gt", "ge", "lt", "le") and not _is_number(operand):
            return f"expected a number for `{name}`, found {operand!r}"
        if name in ("exists", "absent") and not isinstance(operand, bool):
            return f"expected true or false for `{name}`, found {operand!r}"
        if name == "type" and operand not in TYPES:
            return f"expected one of {', '.join(TYPES)} for `type`, found {operand!r}"
        if name == "length":
            if isinstance(operand, dict):
                if not is_assertion(operand) or set(operand) - set(COMPARISONS):
                    return f"expected a number or comparisons ({', '.join(COMPARISONS)}) for `length`"
                inner = problem(operand)
                if inner:
                    return f"`length`: {inner}"
            elif not isinstance(operand, int) or isinstance(operand, bool) or operand < 0:
                return f"expected a whole number or comparisons for `length`, found {operand!r}"
        if name == "one_of" and not isinstance(operand, list):
            return f"expected a list for `one_of`, found {operand!r}"
        if name == "matches":
            if not isinstance(operand, str):
                return f"expected a regular expression for `matches`, found {operand!r}"
            try:
                re.compile(operand)
            except re.error as exc:
                return f"expected a regular expression for `matches`, found {operand!r} ({exc})"
    return None


def _compare(found: Any, name: str, operand: Any) -> bool:
    if name == "eq":
        return matches(found, operand)
    if name == "ne":
        return not matches(found, operand)
    if not (_is_number(found) and _is_number(operand)):
        return False
    return {"gt": found > operand, "ge": found >= operand, "lt": found < operand, "le": found <= operand}[name]


def check(found: Any, assertion: dict[str, Any]) -> str | None:
    """Why `found` does not hold to `assertion` (operands already rendered), or None when it does."""
    if "absent" in assertion or assertion.get("exists") is False:
        wants_absent = assertion.get("absent", True) and assertion.get("exists", False) is False
        if wants_absent and found is not MISSING:
            return f"expected nothing there, found {_shown(found)}"
        if not wants_absent and found is MISSING:
            return "expected a value, found nothing"
        return None
    if found is MISSING:
        return "expected a value, found nothing"
    for name, operand in assertion.items():
        failure = _one(found, name, operand)
        if failure:
            return failure
    return None


def _one(found: Any, name: str, operand: Any) -> str | None:
    if name in COMPARISONS:
        if name in ("gt", "ge", "lt", "le") and not _is_number(found):
            return f"expected a number {COMPARISONS[name]} {operand!r}, found {_shown(found)}"
        return None if _compare(found, name, operand) else f"expected {COMPARISONS[name]} {operand!r}, found {found!r}"
    if name == "type":
        actual = type_of(found)
        ok = actual == operand or (operand == "number" and actual == "integer")
        return None if ok else f"expected a value of type {operand}, found {actual} {found!r}"
    if name == "length":
        if not isinstance(found, str | list):
            return f"expected a string or an array to measure, found {type_of(found)} {found!r}"
        wanted = operand if isinstance(operand, dict) else {"eq": operand}
        inner = check(len(found), wanted)
        return f"length {len(found)}: {inner}" if inner else None
    if name == "contains":
        if isinstance(found, list):
            ok = any(matches(item, operand) for item in found)
        elif isinstance(found, str):
            ok = str(operand) in found
        else:
            return f"expected a string or an array to search, found {type_of(found)} {found!r}"
        return None if ok else f"expected it to contain {operand!r}, found {found!r}"
    if name == "one_of":
        ok = any(matches(found, option) for option in operand)
        return None if ok else f"expected one of {operand!r}, found {found!r}"
    if name == "matches":
        if not isinstance(found, str):
            return f"expected a string matching /{operand}/, found {type_of(found)} {found!r}"
        return None if re.search(operand, found) else f"expected a match for /{operand}/, found {found!r}"
    return None  # "exists: true" on a value that is there


def holds(found: Any, expected: Any) -> bool:
    """An assertion holds, or the value equals `expected` (a mapping as a subset)."""
    if is_assertion(expected):
        return check(found, expected) is None
    return found is not MISSING and matches(found, expected)


def explain(found: Any, expected: Any) -> str | None:
    """Why `found` does not hold to `expected` (an assertion or a value to equal), or None."""
    if is_assertion(expected):
        return check(found, expected)
    if found is not MISSING and matches(found, expected):
        return None
    return f"expected {expected!r}, found {_shown(found)}"
