"""The plugin manager: third-party plugins from the `reelgate` entry-point group, then the
built-ins of `plugins/` through the same `register` call, then `check_pending()`.

`REELGATE_DISABLE_PLUGINS=name,name` leaves named plugins out (entry-point names,
or built-in module names such as `k6`).
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import Any

import pluggy

from reelgate.gates import hookspecs

BUILTIN_PLUGINS = (
    "reelgate.plugins.k6",
    "reelgate.plugins.coverage",
    "reelgate.plugins.axe",
    "reelgate.plugins.haproxy",
    "reelgate.plugins.nginx",
    "reelgate.plugins.local_deployer",
    "reelgate.plugins.external_deployer",
    "reelgate.plugins.json_report",
    "reelgate.plugins.junit",
    "reelgate.plugins.sarif",
    "reelgate.plugins.markdown",
    "reelgate.plugins.html_report",
)
DISABLE_ENV = "REELGATE_DISABLE_PLUGINS"


class PluginError(Exception):
    """A plugin could not be loaded or registered something invalid."""


class Registry:
    """Everything the plugins contributed, by name."""

    def __init__(self) -> None:
        self.gates: dict[str, type[Any]] = {}
        self.routers: dict[str, type[Any]] = {}
        self.deployers: dict[str, type[Any]] = {}
        self.reporters: dict[str, type[Any]] = {}

    def adder(self, kind: str) -> Any:
        table: dict[str, type[Any]] = getattr(self, kind)

        def register(cls: type[Any]) -> None:
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(f"{cls!r} registered as one of the {kind} has no `name`")
            if kind in ("gates", "routers", "deployers") and not hasattr(cls, "Config"):
                raise PluginError(f"{kind[:-1]} {name!r} has no `Config` struct")
            if name in table and table[name] is not cls:
                raise PluginError(f"two {kind} are named {name!r}: {table[name]!r} and {cls!r}")
            table[name] = cls

        return register


def _disabled() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


def build_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("reelgate")
    pm.add_hookspecs(hookspecs)
    disabled = _disabled()
    for name in disabled:
        pm.set_blocked(name)
    pm.load_setuptools_entrypoints("reelgate")
    for module_name in BUILTIN_PLUGINS:
        short = module_name.rsplit(".", 1)[-1]
        if short in disabled:
            continue
        pm.register(importlib.import_module(module_name), name=short)
    pm.check_pending()
    return pm


@cache
def plugins() -> tuple[pluggy.PluginManager, Registry]:
    """Load the plugins once per process (lazily: importing reelgate loads nothing)."""
    pm = build_manager()
    registry = Registry()
    pm.hook.register_gates(register=registry.adder("gates"))
    pm.hook.register_routers(register=registry.adder("routers"))
    pm.hook.register_deployers(register=registry.adder("deployers"))
    pm.hook.register_reporters(register=registry.adder("reporters"))
    return pm, registry


def registry() -> Registry:
    return plugins()[1]


def hooks() -> Any:
    return plugins()[0].hook
