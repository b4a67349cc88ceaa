"""Variables in scenario files, and the paths that read a response.

`${name}` is a variable of the file's `vars` or a value captured by an earlier
step; `${env.NAME}` an environment variable; `${secret.NAME}` one too, whose
value is redacted from every output. `${x}` standing alone keeps its type, so
numbers stay numbers. `$.renditions[0].height` reads a JSON body;
`header:Content-Range` a response header.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

_VARIABLE = re.compile(r"\$\{([A-Za-z_][\w.-]*)\}")
_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']+)'\]")
MISSING = object()


class UnknownVariable(Exception):
    """A `${name}` no var, capture or environment variable provides."""


class Values:
    def __init__(self, variables: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
        self.variables = dict(variables)
        self.env = dict(os.environ if env is None else env)
        self.secrets: set[str] = set()

    def lookup(self, name: str) -> Any:
        scope, _, rest = name.partition(".")
        if scope in ("env", "secret") and rest:
            if rest not in self.env:
                raise UnknownVariable(f"`${{{name}}}`: the environment variable {rest} is not set")
            if scope == "secret":
                self.secrets.add(self.env[rest])
            return self.env[rest]
        if name not in self.variables:
            known = ", ".join(sorted(self.variables)) or "none"
            raise UnknownVariable(f"`${{{name}}}` is not a var or an earlier capture (known: {known})")
        return self.variables[name]

    def render(self, value: Any) -> Any:
        """`value` with every `${...}` replaced; a string that is one `${x}` alone becomes x's own value."""
        if isinstance(value, str):
            alone = _VARIABLE.fullmatch(value)
            if alone:
                return self.lookup(alone.group(1))
            return _VARIABLE.sub(lambda m: str(self.lookup(m.group(1))), value)
        if isinstance(value, dict):
            return {self.render(k): self.render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v) for v in value]
        return value

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def json_path(document: Any, path: str) -> Any:
    """The value at `$.a.b[0]` in `document`, or MISSING."""
    if path == "$":
        return document
    if not path.startswith("$"):
        raise ValueError(f"expected a path starting with `$`, found {path!r}")
    node = document
    rest = path[1:]
    for match in _STEP.finditer(rest):
        key, index = match.group(1) or match.group(3), match.group(2)
        if key is not None:
            if not isinstance(node, dict) or key not in node:
                return MISSING
            node = node[key]
        else:
            position = int(index)
            if not isinstance(node, list) or position >= len(node):
                return MISSING
            node = node[position]
    return node


def matches(actual: Any, expected: Any) -> bool:
    """Equality, where a mapping matches as a subset and numbers compare as numbers."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(actual[k], v) for k, v in expected.items())
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(actual) == float(expected)
    return bool(actual == expected)
