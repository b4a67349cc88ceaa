"""`reelgate scenario check|schema|run` (registered through `reelgate.commands`).

Exit codes like the release commands: 0 passed, 1 a step failed, 2 a file that cannot be used.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import click

from reelgate.gates.commands import UsageError, parse_sets
from reelgate.gates.scenario.format import LoadedScenario, ScenarioError, json_schema, load_scenario
from reelgate.gates.scenario.run import run_loaded, write_junit

EXIT_FAILED = 1


def _load_all(files: tuple[Path, ...]) -> list[LoadedScenario]:
    """Every file, or every error (each `file:line:column: ...`) at once."""
    loaded, errors = [], []
    for file in files:
        try:
            loaded.append(load_scenario(file))
        except ScenarioError as exc:
            errors.append(str(exc))
    if errors:
        raise UsageError("\n".join(errors))
    return loaded


@click.group()
def scenario() -> None:
    """QA's scenario files: check them, print their JSON Schema, run them against a URL."""


@scenario.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def scenario_check(files: tuple[Path, ...]) -> None:
    """Validate FILES; errors say file:line:column, what was expected and what was found."""
    for loaded in _load_all(files):
        click.echo(f"{loaded.file}: ok: `{loaded.scenario.name}`, {len(loaded.scenario.steps)} steps")


@scenario.command("schema")
def scenario_schema() -> None:
    """Print the JSON Schema of scenario files, for editors."""
    click.echo(json.dumps(json_schema(), indent=2))


@scenario.command("k6")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Write the script here (default: standard output).")
def scenario_k6(file: Path, out: Path | None) -> None:
    """Write FILE as a k6 script. Run it with `k6 run -e BASE_URL=... -e API_KEY=... SCRIPT`; its secrets come
    from the environment, never from the script."""
    from reelgate.gates.scenario.k6 import to_k6

    [loaded] = _load_all((file,))
    script = to_k6(loaded)
    if out is None:
        click.echo(script, nl=False)
        return
    try:
        out.write_text(script)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"{out}: k6 script for `{loaded.scenario.name}`", err=True)


@scenario.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--target", required=True, help="Base URL the scenarios' relative URLs go to.")
@click.option("--api-key", envvar="REELGATE_API_KEY", help="Given to the scenarios as ${secret.API_KEY}.")
@click.option("--var", "sets", multiple=True, metavar="NAME=VALUE", help="Set or override a var.")
@click.option("--junit", type=click.Path(path_type=Path), help="Also write the results as JUnit XML here.")
def scenario_run(
    files: tuple[Path, ...], target: str, api_key: str | None, sets: tuple[str, ...], junit: Path | None
) -> None:
    """Run FILES against --target, step by step, with each step's result and time."""
    loaded = _load_all(files)
    variables: dict[str, Any] = parse_sets(sets)
    env = {**os.environ, **({"API_KEY": api_key} if api_key else {})}
    results = []
    for one in loaded:
        result = asyncio.run(run_loaded(one, target, variables, env))
        results.append(result)
        verdict = "SKIP" if result.skipped else "PASS" if result.passed else "FAIL"
        click.echo(f"{verdict} {result.name} ({result.file}, {result.duration_s:.2f} s)")
        if result.skipped:
            click.echo(f"  {result.skipped}")
            continue
        for step in result.steps:
            mark = "ok  " if step.ok else "FAIL"
            click.echo(f"  {mark} {step.name}: {step.method} {step.url}: {step.reason}")
        skipped = len(one.scenario.steps) - len(result.steps)
        if skipped:
            click.echo(f"  ({skipped} later steps not run)")
    if junit:
        try:
            write_junit(results, junit)
        except OSError as exc:
            raise UsageError(f"cannot write {junit}: {exc.strerror}") from None
        click.echo(f"junit: {junit}")
    if not all(r.passed for r in results):
        raise click.exceptions.Exit(EXIT_FAILED)
