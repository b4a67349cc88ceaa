"""The plugin manager: third-party plugins from the `reelgate` entry-point group, then the
built-ins of `plugins/` through the same `register` call, then `check_pending()`.

`REELGATE_DISABLE_PLUGINS=name,name` leaves named plugins out (entry-point names,
or built-in module names such as `k6`).
"""

from __future__ import annotations

import importlib
import inspect
import os
from functools import cache
from typing import Any

import msgspec
import pluggy

from reelgate.gates import hookspecs
from reelgate.gates.api import CONTRACTS, contract_members

BUILTIN_PLUGINS = (
    "reelgate.plugins.k6",
    "reelgate.plugins.coverage",
    "reelgate.plugins.axe",
    "reelgate.plugins.scenario",
    "reelgate.plugins.bandit",
    "reelgate.plugins.zap",
    "reelgate.plugins.wapiti",
    "reelgate.plugins.chaostoolkit",
    "reelgate.plugins.vmaf",
    "reelgate.plugins.haproxy",
    "reelgate.plugins.nginx",
    "reelgate.plugins.local_deployer",
    "reelgate.plugins.external_deployer",
    "reelgate.plugins.json_report",
    "reelgate.plugins.junit",
    "reelgate.plugins.sarif",
    "reelgate.plugins.markdown",
    "reelgate.plugins.html_report",
    "reelgate.plugins.webhook",
    "reelgate.plugins.slack",
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
        self.notifiers: dict[str, type[Any]] = {}

    def adder(self, kind: str) -> Any:
        table: dict[str, type[Any]] = getattr(self, kind)

        def register(cls: type[Any]) -> None:
            problem = contract_problem(kind, cls)
            if problem:
                raise PluginError(problem)
            name = cls.name
            if name in table and table[name] is not cls:
                raise PluginError(f"two {kind} are named {name!r}: {table[name]!r} and {cls!r}")
            table[name] = cls

        return register


def contract_problem(kind: str, cls: type[Any]) -> str | None:
    """Why `cls` does not meet its kind's contract (`gates.api`), or None when it does."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        return f"{cls!r} registered as one of the {kind} has no `name`"
    what = f"{kind[:-1]} {name!r} ({cls.__module__}.{cls.__qualname__})"
    for member, is_async in contract_members(CONTRACTS[kind]).items():
        value = getattr(cls, member, None)
        if value is None:
            return f"{what} has no `{member}`, which every {kind[:-1]} needs"
        if is_async and not inspect.iscoroutinefunction(value):
            return f"{what}: `{member}` must be `async def`"
    if hasattr(cls, "Config") and not (isinstance(cls.Config, type) and issubclass(cls.Config, msgspec.Struct)):
        return f"{what}: `Config` must be a msgspec Struct"
    return None


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
    pm.hook.register_notifiers(register=registry.adder("notifiers"))
    return pm, registry


def registry() -> Registry:
    return plugins()[1]


def hooks() -> Any:
    return plugins()[0].hook
