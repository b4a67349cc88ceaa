"""Every folder with Python files is a listed package, so the wheel holds what the checkout has."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_folder_with_python_files_is_a_listed_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    rooms = config["tool"]["setuptools"]["package-dir"]
    wanted = set()
    for package, folder in rooms.items():
        for py in (ROOT / folder).rglob("*.py"):
            relative = py.parent.relative_to(ROOT / folder)
            if "__pycache__" in relative.parts:
                continue
            wanted.add(".".join([package, *relative.parts]))
    assert wanted <= listed, f"folders with .py files missing from [tool.setuptools] packages: {wanted - listed}"


def test_platform_room_never_shadows_the_standard_library() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()
    import platform

    assert not Path(platform.__file__).resolve().is_relative_to(ROOT)
