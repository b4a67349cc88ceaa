"""The plugin API: every hook is documented and tested, built-ins go through the same door as
third-party plugins, and a third-party package installed with pip appears with no change to reelgate."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pluggy
import pytest

from reelgate.gates import hookspecs, manager
from reelgate.gates.api import CONTRACTS, contract_members, hookimpl
from reelgate.gates.manager import BUILTIN_PLUGINS, PluginError, Registry, build_manager, contract_problem, plugins

ROOT = Path(__file__).resolve().parents[3]
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "reelgate_spec")]


def test_every_hook_has_a_typed_documented_spec_docs_and_a_test() -> None:
    assert set(HOOKS) == {
        "register_gates",
        "register_routers",
        "register_deployers",
        "register_reporters",
        "register_notifiers",
        "gate_finished",
        "release_decided",
        "release_state_changed",
        "traffic_switched",
    }
    docs = (ROOT / "docs" / "plugins.md").read_text()
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    for name in HOOKS:
        spec = getattr(hookspecs, name)
        assert (spec.__doc__ or "").strip(), f"{name} has no docstring"
        assert spec.__annotations__.get("return") == "None", f"{name} is not typed"
        signature = f"{name}({', '.join(inspect.signature(spec).parameters)})"
        assert f"`{signature}`" in docs, f"docs/plugins.md does not document {signature}"
        assert re.search(rf"def test_hook_{name}\b", tests), f"no test_hook_{name}"


def test_builtins_are_registered_and_check_pending_catches_typos() -> None:
    pm = build_manager()
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert {m.rsplit(".", 1)[-1] for m in BUILTIN_PLUGINS} <= names

    class Typo:
        @hookimpl
        def register_gate(self, register: Any) -> None:  # misspelled: no such hook
            """A typo must fail loudly."""

    pm.register(Typo())
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def test_disable_plugins_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(manager.DISABLE_ENV, "k6, sarif")
    pm = build_manager()
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert "k6" not in names and "sarif" not in names and "coverage" in names


class GoodConfig(msgspec.Struct, forbid_unknown_fields=True):
    limit: int = 1


class SameA:
    name, Config = "same", GoodConfig

    async def run(self, ctx: Any) -> Any: ...


class SameB(SameA):
    pass


def test_registry_refuses_nameless_and_clashing_types() -> None:
    add = Registry().adder("gates")

    class NoName:
        Config = GoodConfig

    with pytest.raises(PluginError, match="no `name`"):
        add(NoName)
    add(SameA)
    add(SameA)  # the same class twice is harmless
    with pytest.raises(PluginError, match="two gates are named 'same'"):
        add(SameB)


class HalfRouter:
    """A router that forgot `switch`."""

    name, Config = "half", GoodConfig

    def __init__(self, config: Any, ctx: Any) -> None: ...

    async def live(self) -> str | None: ...

    async def healthy(self, color: str) -> bool:
        return False


class SyncDeployer:
    """A deployer whose `stop` is not a coroutine function."""

    name, Config = "sync", GoodConfig

    async def deploy(self, release_id: str, ref: str, color: str, say: Any) -> Any: ...

    async def start(self, color: str, build_dir: str | None) -> None: ...

    def stop(self, color: str, drain_to: str | None = None) -> None: ...


class NoSuffixReporter:
    name = "nosuffix"

    def write(self, report: Any, path: Path) -> None: ...


class ConfiglessGate:
    name = "configless"

    async def run(self, ctx: Any) -> Any: ...


@pytest.mark.parametrize(
    ("kind", "cls", "message"),
    [
        ("routers", HalfRouter, r"router 'half' \(.*HalfRouter\) has no `switch`, which every router needs"),
        ("deployers", SyncDeployer, r"deployer 'sync' .*: `stop` must be `async def`"),
        ("reporters", NoSuffixReporter, r"reporter 'nosuffix' .* has no `suffix`"),
        ("gates", ConfiglessGate, r"gate 'configless' .* has no `Config`"),
    ],
)
def test_a_plugin_missing_part_of_its_contract_is_refused_by_name(kind: str, cls: type, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        Registry().adder(kind)(cls)


def test_a_broken_plugin_is_refused_when_plugins_load() -> None:
    """Through the real door: a plugin registering HalfRouter makes loading fail, naming it."""

    class Broken:
        @hookimpl
        def register_routers(self, register: Any) -> None:
            register(HalfRouter)

    pm = build_manager()
    pm.register(Broken())
    registry = Registry()
    with pytest.raises(PluginError, match="has no `switch`"):
        pm.hook.register_routers(register=registry.adder("routers"))


def test_every_builtin_meets_its_contract() -> None:
    registry = plugins()[1]
    for kind in CONTRACTS:
        for cls in getattr(registry, kind).values():
            assert contract_problem(kind, cls) is None


def test_contracts_hookspecs_and_docs_tell_one_truth() -> None:
    """Every member of a contract (gates.api) is named in its hookspec's docstring and in docs/plugins.md."""
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for kind, contract in CONTRACTS.items():
        spec_doc = getattr(hookspecs, f"register_{kind}").__doc__ or ""
        assert contract.__name__ in spec_doc, f"register_{kind} does not name {contract.__name__}"
        section = docs.split(f"### `register_{kind}(register)`")[1].split("###")[0]
        assert contract.__name__ in section, f"docs/plugins.md's register_{kind} does not name {contract.__name__}"
        for member, is_async in contract_members(contract).items():
            for where, text in ((f"register_{kind}'s docstring", spec_doc), (f"docs/plugins.md's {kind}", section)):
                assert re.search(rf"`(async )?{member}\b", text), f"{where} lacks `{member}`"
                if is_async:
                    assert f"`async {member}" in text, f"{where} should say `{member}` is async"


def test_hook_register_gates() -> None:
    assert {"k6", "coverage"} <= set(plugins()[1].gates)


def test_hook_register_routers() -> None:
    assert {"haproxy", "nginx"} <= set(plugins()[1].routers)


def test_hook_register_deployers() -> None:
    assert {"local", "external"} <= set(plugins()[1].deployers)


def test_hook_register_reporters() -> None:
    assert {"json", "junit", "sarif", "markdown", "html"} <= set(plugins()[1].reporters)


def test_hook_register_notifiers() -> None:
    assert {"webhook", "slack"} <= set(plugins()[1].notifiers)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def gate_finished(self, result: Any) -> None:
        self.seen.append(("gate_finished", result.gate))

    @hookimpl
    def release_decided(self, release_id: str, decision: Any, results: list[Any]) -> None:
        self.seen.append(("release_decided", decision.outcome))


def test_hook_gate_finished(tmp_path: Path) -> None:
    import asyncio

    from reelgate.gates.policy import parse_policy
    from reelgate.gates.runner import Runner, RunOptions
    from tests.unit.gates.sample_gates import TYPES

    pm, recorder = build_manager(), Recorder()
    pm.register(recorder)
    try:
        loaded = parse_policy("gates:\n  - {id: s, uses: sleep, with: {seconds: 0}}\n", "t", TYPES)
        asyncio.run(Runner(loaded, TYPES, RunOptions(target="http://t", workdir=tmp_path), pm.hook).run())
    finally:
        pm.unregister(recorder)
    assert recorder.seen == [("gate_finished", "s")]


def test_hook_release_decided() -> None:
    from reelgate.gates.model import Decision

    pm, recorder = build_manager(), Recorder()
    pm.register(recorder)
    try:
        pm.hook.release_decided(release_id="r1", decision=Decision(outcome="block", reason="x"), results=[])
    finally:
        pm.unregister(recorder)
    assert recorder.seen == [("release_decided", "block")]


@pytest.mark.slow
def test_third_party_package_installed_with_pip_appears(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pip install` the example package (into a folder on sys.path), then load plugins as usual."""
    target, source = tmp_path / "site", tmp_path / "src"
    shutil.copytree(ROOT / "tests" / "plugin_example", source)  # the build leaves files beside the source
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    monkeypatch.syspath_prepend(str(target))
    plugins.cache_clear()
    try:
        registry = plugins()[1]
        assert "http-status" in registry.gates
        assert registry.gates["http-status"].__module__ == "reelgate_example.plugin"
    finally:
        plugins.cache_clear()


def test_old_builds_are_pruned_but_never_one_a_color_runs(tmp_path: Path) -> None:
    from reelgate.plugins.local_deployer import prune_builds

    builds = tmp_path / "var" / "builds"
    for age, name in enumerate(["new", "newer-2", "newer-3", "old-live", "old-idle", "unfinished"]):
        (builds / name / ".venv").mkdir(parents=True)
        if name != "unfinished":  # a build that never finished is the next deploy's to redo, not ours
            (builds / name / "complete").write_text(name)
            os.utime(builds / name / "complete", (1_000_000 - age * 100, 1_000_000 - age * 100))
    (tmp_path / "var" / "colors").mkdir()
    (tmp_path / "var" / "colors" / "blue").symlink_to(builds / "old-live" / ".venv")
    removed = prune_builds(tmp_path, keep=3)
    assert [b.name for b in removed] == ["old-idle"]
    assert sorted(p.name for p in builds.iterdir()) == ["new", "newer-2", "newer-3", "old-live", "unfinished"]
    assert prune_builds(tmp_path / "elsewhere", keep=3) == []  # no builds yet: nothing to do


def test_a_build_folder_name_holds_no_glob_character() -> None:
    """A build with extras was `<commit>[test]`; coverage 7.18 read that folder as a pattern and measured
    nothing of it."""
    import glob

    from reelgate.contract.stack import build_dir

    var = Path("/srv/reelgate/var")
    assert build_dir(var, "abc123", ["test", "granian"]) == var / "builds" / "abc123+granian+test"
    assert build_dir(var, "abc123").name == "abc123"
    assert glob.escape(str(build_dir(var, "abc123", ["test"]))) == str(build_dir(var, "abc123", ["test"]))


def _cli(tmp_path: Path, body: str) -> str:
    """A stand-in for the checkout's `reelgate` command: a real executable that answers as the script says."""
    script = tmp_path / "reelgate"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def test_the_local_deployer_decides_on_the_clis_failure_code_not_its_words(tmp_path: Path) -> None:
    """`tenant delete --json` of a tenant that never was answers `no_such_tenant`: cleanup after a deploy that
    failed early carries on; any other failure, an answer that is not JSON, or a hung CLI is a DeployError."""
    import asyncio

    import msgspec

    from reelgate.gates.api import DeployError, PluginContext
    from reelgate.plugins.local_deployer import LocalDeployer, LocalDeployerConfig

    def deployer(body: str, timeout: float = 30) -> LocalDeployer:
        ctx = PluginContext(home=tmp_path, reelgate=_cli(tmp_path, body))
        return LocalDeployer(msgspec.convert({"step_timeout": timeout}, LocalDeployerConfig), ctx)

    gone = 'echo \'{"error": "no_such_tenant", "message": "there is no tenant named x"}\'; exit 1'
    asyncio.run(deployer(gone).cleanup("r1"))  # nothing to delete: not an error
    refused = 'echo \'{"error": "database_unreachable", "message": "cannot reach PostgreSQL"}\'; exit 1'
    with pytest.raises(DeployError, match="deleting the gates' tenant failed: cannot reach PostgreSQL") as caught:
        asyncio.run(deployer(refused).cleanup("r1"))
    assert caught.value.code == "database_unreachable"
    with pytest.raises(DeployError, match="expected ColorStarted as JSON"):
        asyncio.run(deployer("echo 'blue ready'").start("blue", None))
    with pytest.raises(DeployError, match="did not finish within 0.5 s"):
        asyncio.run(deployer("sleep 10", timeout=0.5).start("blue", None))
    asyncio.run(deployer('echo \'{"color": "blue", "url": "http://127.0.0.1:8401", "pid": 7}\'').start("blue", None))
