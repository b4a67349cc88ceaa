"""The import rules of docs/architecture.md, held: the "may import" column of its rooms table is read, and every
import of another room in a room's code must be one it names (a name covers what lies under it). The rooms'
graph has no cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def rules() -> dict[str, list[str]]:
    """Room (`reelgate.platform`) -> the module names it may import, from the table."""
    found: dict[str, list[str]] = {}
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`reelgate\.\w+`", cells[1]):
            found[cells[1].strip("`")] = re.findall(r"`(reelgate(?:\.\w+)+)`", cells[3])
    return found


def imports(room: str, root: Path = ROOT) -> list[tuple[str, str]]:
    """(module imported, where) for every import of reelgate in a room's code, inside functions too."""
    folder = root / room.removeprefix("reelgate.")
    seen = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from reelgate.gates import scanrules` imports the module reelgate.gates.scanrules.
                names = [f"{node.module}.{a.name}" if node.module.count(".") == 1 else node.module for a in node.names]
            else:
                continue
            where = f"{path.relative_to(root)}:{node.lineno}"
            seen += [(name, where) for name in names if name.startswith("reelgate.")]
    return seen


def covers(allowed: str, module: str) -> bool:
    return module == allowed or module.startswith(allowed + ".")


def test_the_table_names_every_room() -> None:
    assert set(rules()) == {f"reelgate.{r}" for r in ("contract", "platform", "gates", "plugins", "chaos")}
    assert rules()["reelgate.contract"] == []  # the ground floor imports nothing of reelgate


def broken_imports(root: Path = ROOT) -> list[str]:
    return [
        f"{where}: {module} (allowed: {', '.join(allowed) or 'nothing of reelgate'})"
        for room, allowed in rules().items()
        for module, where in imports(room, root)
        if not covers(room, module) and not any(covers(a, module) for a in allowed)
    ]


def test_no_room_imports_what_its_row_does_not_name() -> None:
    broken = broken_imports()
    assert not broken, "imports the rooms table of docs/architecture.md does not allow:\n" + "\n".join(broken)


def test_the_rooms_import_each_other_without_a_cycle() -> None:
    graph = {room: {f"reelgate.{a.split('.')[1]}" for a in allowed} - {room} for room, allowed in rules().items()}
    done: set[str] = set()

    def visit(room: str, path: list[str]) -> None:
        assert room not in path, f"the rooms import each other in a cycle: {' -> '.join([*path, room])}"
        if room not in done:
            for other in graph.get(room, set()):
                visit(other, [*path, room])
            done.add(room)

    for room in graph:
        visit(room, [])


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    """The check itself, on a tree of its own: the platform importing the engine (inside a function, and as
    `from reelgate.gates import ...`) is named with its file and line; what the rows allow is not."""
    (tmp_path / "platform").mkdir()
    (tmp_path / "platform" / "bad.py").write_text(
        "from reelgate.contract import stack\n\n\ndef f():\n    from reelgate.gates import release\n"
    )
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "fine.py").write_text(
        "from reelgate.gates.api import hookimpl\nimport reelgate.chaos.disk\n"
    )
    broken = broken_imports(tmp_path)
    assert [b.split(" (")[0] for b in broken] == ["platform/bad.py:5: reelgate.gates.release"]
    assert not covers("reelgate.gates.api", "reelgate.gates.apiary")
