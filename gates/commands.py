"""The engine's command groups: `gate`, `policy` and `release` (registered through `reelgate.commands`).

Exit codes: 0 passed / promoted, 1 failed / blocked, 2 usage or policy error, 3 internal error.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import time
from pathlib import Path
from typing import Any

import click

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
@click.option(
    "--target",
    help="`remote` (a candidate not on this machine) or a candidate's URL: also say which gates cannot run on it.",
)
def policy_check(file: Path, target: str | None) -> None:
    """Validate FILE; errors say file:line:column and what was expected. With --target, list the gates that
    cannot run against that candidate (exit 1 when a required one cannot)."""
    from reelgate.gates.api import is_loopback, needs
    from reelgate.gates.remote import refusal

    loaded = _load(file)
    gates = loaded.policy.gates
    click.echo(
        f"{file}: ok: policy `{loaded.policy.name}` with {len(gates)} gates "
        f"({sum(g.required for g in gates)} required, {sum(g.phase == 'post' for g in gates)} post-promotion)"
    )
    if target is None:
        return
    types = _registry().gates
    refused = [(g, why) for g in gates if (why := refusal(types[g.uses], loaded.configs[g.id], target))]
    where = "a remote candidate" if target == "remote" else target
    if not refused:
        click.echo(f"every gate can run against {where}")
    for spec, why in refused:
        click.echo(
            f"cannot run against {where}: `{spec.id}` ({spec.uses}{', required' if spec.required else ''}): {why}"
        )
    for spec in gates if target == "remote" or not is_loopback(target) else []:
        if "source_tree" in needs(types[spec.uses]):
            click.echo(
                f"note: `{spec.id}` ({spec.uses}) reads the candidate's source, not its URL:"
                " send `commit` to have it checked out"
            )
    if any(spec.required for spec, _ in refused):
        raise SystemExit(EXIT_BLOCKED)


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


def parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    """`KEY=VALUE` options (`--set`, `--var`) as a mapping; each value is read as YAML (`3` is a number)."""
    from ruamel.yaml import YAML

    config: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE, not {item!r}")
        config[key] = YAML(typ="safe").load(raw) if raw else ""
    return config


@gate.command("serve")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path), required=True, help="The gate policy.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where to listen.")
@click.option("--port", type=int, default=8390, show_default=True)
@click.option("--expire-after", type=float, default=600, show_default=True, help="Seconds a run may go unpolled.")
@click.option("--max-runs", type=int, default=2, show_default=True, help="Runs executed at once (then 503).")
@click.option(
    "--secrets",
    "secrets_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="A folder of secrets (one file each) that a request may name, e.g. a candidate's API key.",
)
def gate_serve(
    policy_file: Path, host: str, port: int, expire_after: float, max_runs: int, secrets_dir: Path | None
) -> None:
    """Serve the engine to controllers (Argo Rollouts, Flagger, Kargo): `POST /v1/runs` starts (or attaches
    to) the run of a (namespace, name, revision) with POLICY's pre-promotion gates and says where it stands;
    Flagger's hooks are `POST /v1/flagger/<hook>`. Every request needs a token (`gate token create`).
    See docs/gate-service.md."""
    import uvicorn
    from psycopg_pool import AsyncConnectionPool

    from reelgate.gates.service import GateService, ServiceOptions, create_app
    from reelgate.gates.settings import engine_settings

    if expire_after <= 0 or max_runs < 1:
        raise UsageError("--expire-after must be above 0 and --max-runs at least 1")
    loaded = _load_full(policy_file)  # with its deployer: it checks out the commits that runs name
    settings = engine_settings()
    _store(settings).close()  # reachable and migrated, or one line saying why not
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        settings.db_url, min_size=2, max_size=10, open=False, kwargs={"autocommit": True}
    )
    options = ServiceOptions(expire_after=expire_after, max_runs=max_runs, secrets=secrets_dir)
    service = GateService(loaded, _registry(), pool, settings.plugin_context(), options)
    click.echo(f"reelgate gate service: http://{host}:{port}/v1/runs, policy {loaded.policy.name}", err=True)
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")


@gate.command("wait")
@click.option("--service", "service_url", required=True, help="The gate service's base URL.")
@click.option("--namespace", required=True)
@click.option("--name", required=True)
@click.option("--revision", required=True)
@click.option("--candidate-url", required=True)
@click.option("--live-url")
@click.option("--commit")
@click.option("--token-env", default="REELGATE_GATE_TOKEN", show_default=True, help="The variable holding the token.")
@click.option("--interval", type=float, default=10, show_default=True, help="Seconds between polls.")
@click.option("--timeout", type=float, default=3600, show_default=True, help="Seconds to wait for a verdict.")
def gate_wait(
    service_url: str,
    namespace: str,
    name: str,
    revision: str,
    candidate_url: str,
    live_url: str | None,
    commit: str | None,
    token_env: str,
    interval: float,
    timeout: float,
) -> None:
    """Ask the gate service for a verdict and wait for it: exit 0 promote, 1 block, 2 error (no verdict:
    expired, refused, unreachable, timed out). For Argo Rollouts' `job` metric provider."""
    import os

    from reelgate.gates.service.wait import WaitError, wait_for_verdict

    token = os.environ.get(token_env)
    if not token:
        raise UsageError(f"no token: set {token_env} (`reelgate gate token create`)")
    ask = {"namespace": namespace, "name": name, "revision": revision, "candidate_url": candidate_url}
    ask |= {k: v for k, v in (("live_url", live_url), ("commit", commit)) if v} | {"source": "cli"}
    try:
        run = wait_for_verdict(service_url, token, ask, interval, timeout, click.echo)
    except WaitError as exc:
        raise UsageError(str(exc)) from None
    click.echo(f"{run['verdict']}: {run['reason']}")
    if run["verdict"] != "promote":
        raise SystemExit(EXIT_BLOCKED)


@gate.group("account")
def gate_account() -> None:
    """The release dashboard's accounts: a `viewer` reads, an `approver` also approves."""


@gate_account.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "approver"]), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (one line) instead of a prompt.")
def account_create(name: str, role: str, password_stdin: bool) -> None:
    """Make an account; its password (at least 12 characters) is stored as an Argon2id hash."""
    import sys

    from reelgate.gates.service.accounts import AccountError, create_account
    from reelgate.gates.store import actor

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        create_account(_engine_conn(), name, password, role, actor())  # type: ignore[arg-type]
    except AccountError as exc:
        raise UsageError(str(exc)) from None
    click.echo(f"account {name} ({role}) created; sign in at /dashboard/sign-in of `reelgate gate serve`")


@gate_account.command("list")
def account_list() -> None:
    """The accounts, their roles, and which are disabled."""
    from reelgate.gates.service.accounts import list_accounts

    for name, role, disabled in list_accounts(_engine_conn()):
        click.echo(f"{name:<24} {role:<9} {'disabled' if disabled else 'active'}")


@gate_account.command("disable")
@click.argument("name")
def account_disable(name: str) -> None:
    """Disable an account and end its sessions."""
    from reelgate.gates.service.accounts import AccountError, disable_account

    try:
        disable_account(_engine_conn(), name)
    except AccountError as exc:
        raise UsageError(str(exc)) from None
    click.echo(f"account {name} disabled; its sessions ended")


@gate.group("token")
def gate_token() -> None:
    """The gate service's bearer tokens, each scoped to namespaces."""


@gate_token.command("create")
@click.argument("name")
@click.option(
    "--namespace", "namespaces", multiple=True, required=True, help="A namespace it may ask about (`*`: all)."
)
def token_create(name: str, namespaces: tuple[str, ...]) -> None:
    """Make a token; it is printed once, on the last line, and only its hash is kept."""
    from reelgate.gates.service.tokens import TokenError, create_token
    from reelgate.gates.store import actor

    try:
        token = create_token(_engine_conn(), name, list(namespaces), actor())
    except TokenError as exc:
        raise UsageError(str(exc)) from None
    click.echo(f"token {name} for namespaces {', '.join(namespaces)} (shown once; keep it in a secret):", err=True)
    click.echo(token)


@gate_token.command("list")
def token_list() -> None:
    """The tokens: name, first characters, namespaces, who made it, revoked or not."""
    from reelgate.gates.service.tokens import list_tokens

    for row in list_tokens(_engine_conn()):
        state = "revoked" if row.revoked else "live"
        click.echo(f"{row.name:<24} {row.prefix}...  {state:<8} {','.join(row.namespaces):<24} by {row.created_by}")


@gate_token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke a token: its next request is a 401."""
    from reelgate.gates.service.tokens import TokenError, revoke_token

    try:
        revoke_token(_engine_conn(), name)
    except TokenError as exc:
        raise UsageError(str(exc)) from None
    click.echo(f"token {name} revoked")


@gate.command("run")
@click.argument("name")
@click.option("--target", required=True, help="Base URL of the service to gate.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    help="Take NAME's config and checks from this policy (NAME is then a gate id).",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="A config value (without --policy).")
@click.option("--baseline-url", help="The live color's URL, for checks with `baseline: live`.")
@click.option("--api-key", envvar="REELGATE_API_KEY", help="Key for routes behind Bearer auth.")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for artifacts and reports.")
def gate_run(
    name: str,
    target: str,
    policy_file: Path | None,
    sets: tuple[str, ...],
    baseline_url: str | None,
    api_key: str | None,
    out: Path | None,
) -> None:
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
            raise UsageError(
                f"{policy_file} has no gate with id `{name}` (it has: {', '.join(g.id for g in loaded.policy.gates)})"
            )
        loaded.policy.gates = specs
    else:
        document = json.dumps({"name": f"gate run {name}", "gates": [{"uses": name, "with": parse_sets(sets)}]})
        try:
            loaded = parse_policy(document, "--set", reg.gates)
        except PolicyError as exc:
            raise UsageError(exc.message) from None
    out = out or Path("var") / "gate-runs" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(target=target, workdir=out, baseline_url=baseline_url, api_key=api_key, home=Path.cwd())
    results = asyncio.run(Runner(loaded, reg.gates, options, hooks()).run(loaded.policy.gates[0].phase))
    for result in results:
        show_result(result)
    written = write_reports(
        f"gate-{name}", target, loaded.policy.name, "finished", None, results, [], out, reg.reporters
    )
    click.echo(f"reports: {', '.join(str(p) for p in written)}")
    if any(r.verdict in ("fail", "error") for r in results):
        raise click.exceptions.Exit(EXIT_BLOCKED)


# -- release ------------------------------------------------------------------------

EXIT_AWAITING = 4


def default_policy() -> Path:
    from importlib import resources

    with resources.as_file(resources.files("reelgate.gates.policies") / "default.yaml") as path:
        return Path(path)


def _load_full(policy_file: Path) -> Any:
    from reelgate.gates.policy import load_policy

    reg = _registry()
    try:
        return load_policy(policy_file, reg.gates, reg.routers, reg.deployers, reg.notifiers)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None


def _engine_conn() -> Any:
    """The engine's database connection for a one-statement command (accounts, tokens), migrated."""
    from reelgate.gates.settings import engine_settings

    return _store(engine_settings()).conn


def _store(settings: Any) -> Any:
    """The engine's store, migrated; an unreachable PostgreSQL is one line, never a traceback."""
    import psycopg

    from reelgate.gates.store import Store

    try:
        store = Store(settings.db_url)
        store.migrate()
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(
            f"cannot reach PostgreSQL ({first}); is the stack up? (`reelgate stack up`)"
        ) from None
    return store


def _manager(board: Any = None) -> Any:
    from reelgate.gates.console import GateBoard
    from reelgate.gates.manager import hooks
    from reelgate.gates.release import ReleaseManager
    from reelgate.gates.settings import engine_settings

    settings = engine_settings()
    store = _store(settings)
    # On a terminal, a live table of the gates; piped or in CI, plain lines.
    board = board or GateBoard()
    manager = ReleaseManager(settings, store, _registry(), hooks(), board.say, board.on_gate)
    atexit.register(manager.close)  # the notifications under way, within their bounded time
    # Every release command first looks for a release whose runner died, and settles it.
    _run_release(manager.recover())
    return manager


def _run_release(action: Any) -> Any:
    from reelgate.gates.api import DeployError, RouterError
    from reelgate.gates.store import StoreError

    try:
        return asyncio.run(action)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    except (RouterError, DeployError) as exc:  # the router or deployer said no: say what, exit 1
        raise click.ClickException(f"{type(exc).__name__.removesuffix('Error').lower()}: {exc}") from None


def _conclude(manager: Any, release: Any) -> None:
    from reelgate.gates.console import console, show_decision, show_result

    for result in manager.store.results(release.id):
        show_result(result)
    if release.decision:
        show_decision(release.decision)
    console.print(f"release {release.id}: [bold]{release.state}[/]")
    console.print(f"report: {manager.report_path(release.id)}")
    if release.state == "promoted":
        return
    raise click.exceptions.Exit(EXIT_AWAITING if release.state == "awaiting_approval" else EXIT_BLOCKED)


@click.group()
def release() -> None:
    """Blue-green releases: start, follow, approve, waive, abort, roll back.

    Exit codes: 0 promoted, 1 blocked / rolled back / aborted, 2 usage or policy error,
    3 internal error, 4 waiting for approval.
    """


@release.command("start")
@click.option("--candidate", required=True, help="The git ref to release (a branch, tag or commit).")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path), help="Default: the shipped policy.")
def release_start(candidate: str, policy_file: Path | None) -> None:
    """Deploy CANDIDATE beside the live color, gate it, then promote or block it."""
    loaded = _load_full(policy_file or default_policy())
    from reelgate.gates.console import GateBoard

    board = GateBoard()
    manager = _manager(board)
    with board:
        final = _run_release(manager.start(candidate, loaded))
    _conclude(manager, final)


def _release_policy(manager: Any, release_id: str | None) -> tuple[Any, Any]:
    from reelgate.gates.store import StoreError

    try:
        found = manager.store.get(release_id) if release_id else (manager.store.active() or manager.store.latest())
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    if found is None:
        raise UsageError("there is no release yet")
    return found, _load_full(Path(found.policy_file))


@release.command("approve")
@click.argument("release_id", required=False)
def release_approve(release_id: str | None) -> None:
    """Approve a release waiting for approval; traffic then switches."""
    manager = _manager()
    found, loaded = _release_policy(manager, release_id)
    _conclude(manager, _run_release(manager.approve(found.id, loaded)))


@release.command("abort")
@click.option("--reason", default="aborted by hand", show_default=True)
def release_abort(reason: str) -> None:
    """Stop the running release before any switch; the candidate is stopped."""
    manager = _manager()
    active = manager.store.active()
    if active is None:
        raise UsageError("no release is running")
    _, loaded = _release_policy(manager, active.id)
    _conclude(manager, _run_release(manager.abort(loaded, reason)))


@release.command("rollback")
@click.option("--reason", default="rolled back by hand", show_default=True)
def release_rollback(reason: str) -> None:
    """Switch traffic back to the previous color at once (no gates)."""
    manager = _manager()
    found, loaded = _release_policy(manager, None)
    final = _run_release(manager.rollback(loaded, reason))
    from reelgate.gates.console import console

    console.print(f"release {final.id}: [bold]{final.state}[/]; traffic is on {final.live_before}")


@release.command("waive")
@click.option("--gate", "gate_id", required=True)
@click.option("--check", "check_name", required=True)
@click.option("--reason", required=True)
@click.option("--expires", default="24h", show_default=True, help="How long: 30m, 12h, 7d.")
@click.option("--release", "release_id", help="Only for this release (default: the running one, else all).")
def release_waive(gate_id: str, check_name: str, reason: str, expires: str, release_id: str | None) -> None:
    """Turn one named check advisory, with a reason and an expiry."""
    from datetime import UTC, datetime, timedelta

    from reelgate.gates.decision import Waiver
    from reelgate.gates.store import actor

    units = {"m": 60, "h": 3600, "d": 86400}
    if not expires[:-1].isdigit() or expires[-1] not in units:
        raise UsageError(f"--expires takes a number and m, h or d (e.g. 24h), not {expires!r}")
    manager = _manager()
    target = release_id or (manager.store.active().id if manager.store.active() else None)
    waiver = Waiver(
        gate=gate_id,
        check=check_name,
        reason=reason,
        author=actor(),
        expires_at=datetime.now(UTC) + timedelta(seconds=int(expires[:-1]) * units[expires[-1]]),
    )
    manager.store.add_waiver(target, waiver)
    scope = f"release {target}" if target else "every release"
    click.echo(f"waived {gate_id}.{check_name} for {scope} until {waiver.expires_at:%Y-%m-%d %H:%M} UTC")


@release.command("status")
def release_status() -> None:
    """The running release (or the last one) and the live color."""
    manager = _manager()
    found = manager.store.active() or manager.store.latest()
    live, build = manager.store.live()
    click.echo(f"live color: {live}" + (f" ({build})" if build else ""))
    if found is None:
        click.echo("no release yet")
        return
    click.echo(f"release {found.id}: {found.state} - {found.candidate} as {found.candidate_color}")
    if found.decision:
        click.echo(f"decision: {found.decision.outcome}: {found.decision.reason}")


@release.command("history")
@click.option("--limit", default=20, show_default=True)
def release_history(limit: int) -> None:
    """Past releases and gate service runs, newest first, each with its source (`cli` for a release, the
    controller's name for a run)."""
    manager = _manager()
    for item in manager.store.history_with_runs(limit)[0]:
        click.echo(
            f"{item.started:%Y-%m-%d %H:%M}  {item.source:<8} {item.id:<36} {item.state:<17} "
            f"{item.candidate:<24} by {item.by}" + (f" - {item.reason}" if item.reason else "")
        )


@release.command("show")
@click.argument("release_id")
def release_show(release_id: str) -> None:
    """One release: its timeline, gates and reports."""
    from rich.markup import escape

    from reelgate.gates.console import console, show_result
    from reelgate.gates.store import StoreError

    manager = _manager()
    try:
        found = manager.store.get(release_id)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    console.print(f"release {found.id}: [bold]{found.state}[/] - {found.candidate} ({found.commit_sha or '?'})")
    for event in manager.store.timeline(found.id):
        console.print(f"  {event.at:%H:%M:%S} {event.kind:<18} {escape(event.message)} [dim]({event.actor})[/]")
    for result in manager.store.results(found.id):
        show_result(result)
    console.print(f"report: {manager.report_path(found.id)}")
