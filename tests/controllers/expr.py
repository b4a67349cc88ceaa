"""The part of expr-lang (github.com/expr-lang/expr) that the shipped conditions use, with its semantics:
member access on a map gives nil for a missing key, member access on nil is an error unless it is `?.`,
`??` gives its right side for nil, `&&`/`||` short-circuit, `==` compares numbers by value, and the result
must be a bool (Argo: `EvalCondition`, Kargo: `evaluateSuccessCriteria`). Anything else is a parse error."""

from __future__ import annotations

import re
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|(?P<op>\?\?|\?\.|==|!=|<=|>=|&&|\|\||[<>!.()\[\],])|(?P<name>[A-Za-z_]\w*))"
)


class ExprError(Exception):
    """The expression cannot be parsed or run (Argo: a measurement Error)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExprError(f"unexpected {text[pos:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    BINARY = {"??": 1, "||": 2, "or": 2, "&&": 3, "and": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4}

    def __init__(self, text: str) -> None:
        self.items, self.at = _tokens(text), 0

    def peek(self) -> str | None:
        return self.items[self.at][1] if self.at < len(self.items) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.items):
            raise ExprError("unexpected end of expression")
        item = self.items[self.at]
        if expected is not None and item[1] != expected:
            raise ExprError(f"expected {expected!r}, got {item[1]!r}")
        self.at += 1
        return item

    def parse(self, power: int = 0) -> Any:
        left = self.unary()
        while (op := self.peek()) in self.BINARY and self.BINARY[op] > power:
            self.take()
            left = (op, left, self.parse(self.BINARY[op]))
        return left

    def unary(self) -> Any:
        if self.peek() in ("!", "not"):
            self.take()
            return ("not", self.unary())
        node = self.atom()
        while self.peek() in (".", "?."):
            op = self.take()[1]
            kind, name = self.take()
            if kind != "name":
                raise ExprError(f"expected a field name after {op!r}")
            node = (op, node, name)
        return node

    def atom(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "str":
            return ("lit", bytes(text[1:-1], "utf-8").decode("unicode_escape"))
        if text == "(":
            inner = self.parse()
            self.take(")")
            return inner
        if text == "[":
            elements = []
            while self.peek() != "]":
                elements.append(self.parse())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return ("list", elements)
        if kind == "name":
            return {"true": ("lit", True), "false": ("lit", False), "nil": ("lit", None)}.get(text, ("var", text))
        raise ExprError(f"unexpected {text!r}")


def _run(node: Any, env: dict[str, Any]) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "var":
        if node[1] not in env:
            raise ExprError(f"unknown name {node[1]}")
        return env[node[1]]
    if op == "list":
        return [_run(n, env) for n in node[1]]
    if op in (".", "?."):
        base = _run(node[1], env)
        if base is None:
            if op == "?.":
                return None
            raise ExprError(f"cannot fetch {node[2]} from <nil>")
        if not isinstance(base, dict):
            raise ExprError(f"cannot fetch {node[2]} from {type(base).__name__}")
        return base.get(node[2])
    if op == "not":
        value = _run(node[1], env)
        if not isinstance(value, bool):
            raise ExprError("invalid operation: ! on a non-bool")
        return not value
    if op in ("&&", "and", "||", "or"):
        left = _run(node[1], env)
        if not isinstance(left, bool):
            raise ExprError(f"invalid operation: {op} on a non-bool")
        if (op in ("&&", "and")) != left:
            return left
        right = _run(node[2], env)
        if not isinstance(right, bool):
            raise ExprError(f"invalid operation: {op} on a non-bool")
        return right
    if op == "??":
        left = _run(node[1], env)
        return _run(node[2], env) if left is None else left
    left, right = _run(node[1], env), _run(node[2], env)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "in":
        if isinstance(right, dict | list):
            return left in right
        raise ExprError("invalid operation: in on a non-collection")
    if not (isinstance(left, int | float) and isinstance(right, int | float)) or isinstance(left, bool):
        raise ExprError(f"invalid operation: {op} between {type(left).__name__} and {type(right).__name__}")
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def evaluate(text: str, env: dict[str, Any]) -> Any:
    parser = _Parser(text)
    tree = parser.parse()
    if parser.peek() is not None:
        raise ExprError(f"unexpected {parser.peek()!r}")
    return _run(tree, env)


def condition(text: str, env: dict[str, Any]) -> bool:
    """A condition's value; not a bool is an error, as in Argo's `EvalCondition`."""
    value = evaluate(text, env)
    if not isinstance(value, bool):
        raise ExprError(f"expected bool, but got {type(value).__name__}")
    return value
