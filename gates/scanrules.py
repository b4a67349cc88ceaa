"""Rules files for the dynamic scanners (ZAP, wapiti), in zap-baseline's format.

One rule a line: `<key> IGNORE|WARN|FAIL [url regex]`, `#` starts a comment. The key is what
the scanner calls its check (ZAP's numeric plugin id, wapiti's module name). The first rule
whose key matches, and whose URL pattern (if any) is found in the finding's URL, decides the
finding's verdict before the risk threshold does; IGNORE drops the finding.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import msgspec

from reelgate.gates.model import Check, Finding, Verdict

Action = Literal["IGNORE", "WARN", "FAIL"]


class Rule(msgspec.Struct, frozen=True):
    key: str
    action: Action
    url: re.Pattern[str] | None


class RulesError(Exception):
    """A rules file line that is not `<key> IGNORE|WARN|FAIL [url regex]`; the message says where."""


def parse_rules(text: str, file: str, key: str = r"\S+", key_name: str = "key") -> list[Rule]:
    """The rules in `text`; `key` is the pattern a key must match, `key_name` how errors call it."""
    line_pattern = re.compile(rf"^\s*({key})\s+(IGNORE|WARN|FAIL)(?:\s+(\S.*?))?\s*$")
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = line_pattern.match(line.split("\t#")[0])
        if not found:
            raise RulesError(f"{file}:{number}: expected `<{key_name}> IGNORE|WARN|FAIL [url regex]`, found {line!r}")
        try:
            url = re.compile(found.group(3)) if found.group(3) else None
        except re.error as exc:
            raise RulesError(f"{file}:{number}: the URL pattern is not a regular expression: {exc}") from None
        rules.append(Rule(key=found.group(1), action=found.group(2), url=url))  # type: ignore[arg-type]
    return rules


def read_rules(path: Path, key: str = r"\S+", key_name: str = "key") -> list[Rule]:
    """`parse_rules` of a file; RulesError when it cannot be read."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file: {exc.strerror}") from None
    return parse_rules(text, str(path), key, key_name)


def ruled(rules: list[Rule], key: str, url: str) -> Verdict | None | Literal["unruled"]:
    """The verdict the first matching rule gives (None: ignored), or "unruled" when no rule matches."""
    for rule in rules:
        if rule.key == key and (rule.url is None or rule.url.search(url)):
            return None if rule.action == "IGNORE" else ("warn" if rule.action == "WARN" else "fail")
    return "unruled"


def rules_for(rules_file: str, root: Path, key: str, key_name: str) -> list[Rule]:
    """A gate's `rules_file` (relative to `root`, the candidate's source or the checkout), or none."""
    if not rules_file:
        return []
    path = Path(rules_file)
    return read_rules(path if path.is_absolute() else root / path, key, key_name)


def failing_check(name: str, findings: list[Finding], unit: str, none_note: str = "") -> Check:
    """The check that blocks: how many findings fail (0 allowed), naming the first."""
    failing = [f for f in findings if f.verdict == "fail"]
    first = failing[0] if failing else None
    return Check(
        name=name,
        value=float(len(failing)),
        unit=unit,
        op="==",
        threshold=0,
        verdict="fail" if failing else "pass",
        note=f"the first: {first.rule_id} {first.message[:200]} at {first.location}" if first else none_note,
    )
