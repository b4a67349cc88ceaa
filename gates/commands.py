"""The engine's command groups: `gate`, `policy` and `release` (registered through `reelgate.commands`).

Exit codes: 0 passed / promoted, 1 failed / blocked, 2 usage or policy error, 3 internal error.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import click
import msgspec

from reelgate.gates.policy import PolicyError

EXIT_BLOCKED, EXIT_USAGE = 1, 2


class UsageError(click.ClickException):
    exit_code = EXIT_USAGE


def _registry() -> Any:
    from reelgate.gates.manager import PluginError, registry

    try:
        return registry()
    except PluginError as exc:
        raise UsageError(f"plugin error: {exc}") from None


def _load(policy: Path) -> Any:
    from reelgate.gates.policy import load_policy

    try:
        return load_policy(policy, _registry().gates)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None


# -- policy ------------------------------------------------------------------------


@click.group()
def policy() -> None:
    """Gate policies: check one, or print the JSON Schema for editors."""


@policy.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def policy_check(file: Path) -> None:
    """Validate FILE; errors say file:line:column and what was expected."""
    loaded = _load(file)
    gates = loaded.policy.gates
    click.echo(f"{file}: ok: policy `{loaded.policy.name}` with {len(gates)} gates "
               f"({sum(g.required for g in gates)} required, {sum(g.phase == 'post' for g in gates)} post-promotion)")


@policy.command("schema")
def policy_schema() -> None:
    """Print the JSON Schema of policy files, including each installed gate type's `with:`."""
    from reelgate.gates.policy import json_schema

    click.echo(json.dumps(json_schema(_registry().gates), indent=2))


# -- gate ----------------------------------------------------------------------------


@click.group()
def gate() -> None:
    """Run one gate against a URL, outside any release."""


@gate.command("list")
def gate_list() -> None:
    """The installed gate types, routers, deployers and reporters."""
    reg = _registry()
    for kind in ("gates", "routers", "deployers", "reporters"):
        names = ", ".join(sorted(getattr(reg, kind))) or "none"
        click.echo(f"{kind}: {names}")


def _parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    from ruamel.yaml import YAML

    config: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE, not {item!r}")
        config[key] = YAML(typ="safe").load(raw) if raw else ""
    return config


@gate.command("run")
@click.argument("name")
@click.option("--target", required=True, help="Base URL of the service to gate.")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path),
              help="Take NAME's config and checks from this policy (NAME is then a gate id).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="A config value (without --policy).")
@click.option("--baseline-url", help="The live color's URL, for checks with `baseline: live`.")
@click.option("--api-key", envvar="REELGATE_API_KEY", help="Key for routes behind Bearer auth.")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for artifacts and reports.")
def gate_run(name: str, target: str, policy_file: Path | None, sets: tuple[str, ...], baseline_url: str | None,
             api_key: str | None, out: Path | None) -> None:
    """Run gate NAME (a gate type, or a gate id of --policy) against --target."""
    from reelgate.gates.console import show_result
    from reelgate.gates.manager import hooks
    from reelgate.gates.policy import parse_policy
    from reelgate.gates.reports import write_reports
    from reelgate.gates.runner import Runner, RunOptions

    reg = _registry()
    if policy_file:
        if sets:
            raise UsageError("--set and --policy do not mix: change the policy instead")
        loaded = _load(policy_file)
        specs = [g for g in loaded.policy.gates if g.id == name]
        if not specs:
            raise UsageError(f"{policy_file} has no gate with id `{name}` "
                             f"(it has: {', '.join(g.id for g in loaded.policy.gates)})")
        loaded.policy.gates = specs
    else:
        document = json.dumps({"name": f"gate run {name}", "gates": [{"uses": name, "with": _parse_sets(sets)}]})
        try:
            loaded = parse_policy(document, "--set", reg.gates)
        except PolicyError as exc:
            raise UsageError(exc.message) from None
    out = out or Path("var") / "gate-runs" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(target=target, workdir=out, baseline_url=baseline_url, api_key=api_key,
                         home=Path.cwd())
    results = asyncio.run(Runner(loaded, reg.gates, options, hooks()).run(loaded.policy.gates[0].phase))
    for result in results:
        show_result(result)
    written = write_reports(f"gate-{name}", target, loaded.policy.name, "finished", None, results, [], out)
    click.echo(f"reports: {', '.join(str(p) for p in written)}")
    if any(r.verdict in ("fail", "error") for r in results):
        raise click.exceptions.Exit(EXIT_BLOCKED)


def encode(obj: Any) -> str:
    return msgspec.json.encode(obj).decode()
