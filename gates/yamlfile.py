"""YAML files decoded strictly into msgspec Structs, with every error at its place.

ruamel.yaml keeps the line and column of every key and item; msgspec says which
path of the document is wrong and why. Together they give `file:line:column:
what was expected`, never a traceback. Policies and scenario files use this.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import msgspec.inspect
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError


class FileError(Exception):
    """A file that cannot be used: `file:line:column: message`."""

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file, self.line, self.column, self.message = file, line, column, message


def load_yaml(text: str, file: str) -> Any:
    """The round-trip tree (positions kept); a syntax error is a FileError at its place."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise FileError(file, line, col, f"not valid YAML: {exc.problem or exc.context}") from None


def plain(node: Any) -> Any:
    """ruamel's round-trip types (ScalarFloat, CommentedMap...) as plain Python values."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)


_PATH = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")


def position(tree: Any, path: str, unknown_key: str | None = None) -> tuple[int, int]:
    """Line and column (1-based) of a msgspec error path such as `$.gates[0].with.vus`."""
    node, line, col = tree, 0, 0
    steps = [(m.group(1), m.group(2)) for m in _PATH.finditer(path)]
    if unknown_key is not None:
        steps.append((unknown_key, None))
    for key, index in steps:
        try:
            if key is not None and isinstance(node, CommentedMap) and key in node:
                line, col = node.lc.key(key)
                node = node[key]
            elif index is not None and isinstance(node, CommentedSeq) and int(index) < len(node):
                line, col = node.lc.item(int(index))
                node = node[int(index)]
            else:
                break
        except (KeyError, TypeError, AttributeError):
            break
    if (line, col) == (0, 0) and isinstance(tree, CommentedMap):
        line, col = tree.lc.line, tree.lc.col
    return line + 1, col + 1


def _explain(exc: msgspec.ValidationError) -> tuple[str, str, str | None]:
    """(message, path, unknown field) from msgspec's "... - at `$.path`"."""
    text = str(exc)
    message, _, at = text.partition(" - at `")
    path = at.rstrip("`") if at else "$"
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    if unknown:
        return f"unknown field `{unknown.group(1)}`", path, unknown.group(1)
    return message[0].lower() + message[1:], path, None


def known_fields(type_: Any, path: str) -> list[str]:
    """The keys the Struct at `path` (a msgspec error path under `type_`) accepts, for "expected one of"."""
    node: Any = msgspec.inspect.type_info(type_)
    for match in _PATH.finditer(path):
        while isinstance(node, msgspec.inspect.UnionType):  # Optional[X] and the like: the Struct in it
            node = next((t for t in node.types if not isinstance(t, msgspec.inspect.NoneType)), None)
        if match.group(2) is not None and isinstance(node, msgspec.inspect.ListType):
            node = node.item_type
        elif match.group(1) is not None and isinstance(node, msgspec.inspect.StructType):
            node = next((f.type for f in node.fields if f.encode_name == match.group(1)), None)
        elif match.group(1) is not None and isinstance(node, msgspec.inspect.DictType):
            node = node.value_type
        else:
            return []
    while isinstance(node, msgspec.inspect.UnionType):
        node = next((t for t in node.types if isinstance(t, msgspec.inspect.StructType)), None)
    return [f.encode_name for f in node.fields] if isinstance(node, msgspec.inspect.StructType) else []


def decode(tree: Any, data: Any, type_: Any, file: str, prefix: str = "$") -> Any:
    try:
        return msgspec.convert(data, type_, strict=True)
    except msgspec.ValidationError as exc:
        message, path, unknown = _explain(exc)
        if unknown is not None:
            fields = known_fields(type_, path)
            message += f"; expected one of: {', '.join(fields)}" if fields else ""
        full = prefix + path[1:]
        line, col = position(tree, full, unknown)
        raise FileError(file, line, col, f"{message} (at {full})") from None
