"""Gate policies: YAML decoded strictly into msgspec Structs, with positions kept for errors.

Every error says `file:line:column: what was expected`. A gate's `with:` block
is decoded into that gate type's own `Config`, so a typo there is an error too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec
from ruamel.yaml.comments import CommentedMap

from reelgate.gates.api import Trigger, needs
from reelgate.gates.model import Op
from reelgate.gates.yamlfile import FileError, decode, load_yaml, plain, position


class CheckRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A threshold on one value a gate measures."""

    name: str
    """The measured value's name, as the gate reports it (e.g. `p95_ms`)."""
    op: Op = "<="
    """How the value must compare with the threshold (lower is better for `<`, `<=`)."""
    threshold: float | None = None
    """Absolute limit."""
    baseline: Literal["live", "last_promoted"] | None = None
    """Compare with the live color (measured now) or the last promoted release (stored)."""
    max_regression: float | None = None
    """With `baseline`: how much worse than the baseline the value may be, in percent."""
    tolerance: float = 0.0
    """With `baseline`: differences smaller than this (in the value's unit) never count as worse."""
    severity: Literal["fail", "warn"] = "fail"
    """What a breach makes the check."""


class When(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A condition for running a gate at all; a gate it leaves out is `skipped` on purpose and blocks nothing."""

    changed: list[str] = []
    """Run only when the candidate changes a file matching one of these globs (`platform/*`, `*.js`; `*`
    crosses folders), compared with the commit the live color runs. When that cannot be told, the gate runs."""
    env: list[str] = []
    """Run only when each of these environment variables is set (non-empty), e.g. a scanner's address."""

    def __post_init__(self) -> None:
        if not (self.changed or self.env):
            raise ValueError("expected `changed` or `env` in `when`")


class GateSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    uses: str
    """The gate type (e.g. `k6`, `coverage`)."""
    id: str = ""
    """Unique name in this policy; defaults to `uses`."""
    with_: dict[str, Any] = msgspec.field(name="with", default_factory=dict)
    """The gate type's own configuration."""
    required: bool = True
    """A required gate's `fail` or `error` blocks the release; an advisory one only reports."""
    phase: Literal["pre", "post"] = "pre"
    """`pre`: before the traffic switch, against the candidate; `post`: after it, watching the new live color."""
    timeout: float = 300
    """Seconds before the gate is stopped and counted as `error`."""
    retries: int = 0
    """Extra attempts, for `error` only (a `fail` is an answer, not a glitch)."""
    exclusive: bool = False
    """Run alone: for gates that disturb the target (load, chaos)."""
    checks: list[CheckRule] = []
    when: When | None = None
    """Run the gate only when this holds; otherwise it is skipped on purpose (a required gate that did not run
    for any other reason blocks the release)."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: str | float) -> float:
    """`5m`, `15s`, `500ms`, `1h` or a number of seconds; ValueError for anything else."""
    if isinstance(value, int | float):
        return float(value)
    found = _DURATION.match(value)
    if not found:
        raise ValueError(f"expected a duration such as 15s, 5m or 1h, found {value!r}")
    return float(found.group(1)) * _UNIT_S[found.group(2) or "s"]


class WatchPolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """After the switch, keep judging the new live color for `duration`, one sample every `interval`.

    Each sample reads the new color's own request metrics (5xx share and p95 of the requests answered in
    that interval) and runs the `post` gates again. Any failure switches traffic back at once.
    """

    duration: str | float
    """How long to watch: `5m`, `90s`, or seconds."""
    interval: str | float = "15s"
    """Time between samples."""
    max_error_ratio: float = 0.01
    """The share of 5xx answers an interval may have (0..1)."""
    max_p95_ms: float | None = None
    """The p95 latency an interval may have, in ms (none: not judged)."""
    min_requests: int = 0
    """Fewer requests than this in an interval fail it (0: an idle interval is fine)."""

    @property
    def duration_s(self) -> float:
        return seconds(self.duration)

    @property
    def interval_s(self) -> float:
        return seconds(self.interval)


class Component(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A router or deployer plugin and its configuration."""

    uses: str
    with_: dict[str, Any] = msgspec.field(name="with", default_factory=dict)


class NotifySpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Where to tell what happened to a release: a notifier plugin, its config, and which triggers."""

    uses: str
    with_: dict[str, Any] = msgspec.field(name="with", default_factory=dict)
    on: list[Trigger] = msgspec.field(default_factory=lambda: list(get_args(Trigger)))
    """started, gate_failed, awaiting_approval, promoted, blocked, switched_back, rolled_back, aborted, errored
    (default: all)."""
    name: str = ""
    """How the release's timeline names it when a delivery fails (default: `uses` and its place)."""


class Policy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    version: Literal[1] = 1
    name: str = "policy"
    fail_fast: bool = False
    """Cancel the remaining gates once a required gate fails."""
    approval: bool = False
    """Wait for `reelgate release approve` before switching traffic."""
    router: Component = msgspec.field(default_factory=lambda: Component(uses="haproxy"))
    """How traffic switches: `haproxy` (runtime API) or `nginx` (upstream file, graceful reload)."""
    deployer: Component = msgspec.field(default_factory=lambda: Component(uses="local"))
    """How the candidate starts: `local` (build REF here) or `external` (a URL deployed elsewhere)."""
    scale_down_delay: float = 30
    """Seconds the old color keeps running after the post-promotion gates pass."""
    watch: WatchPolicy | None = None
    """Watch the new live color after the switch (post gates again, and its live traffic); none: the post
    gates run once."""
    on_missing_baseline: Literal["skip", "warn", "error"] = "warn"
    """What a `baseline: last_promoted` check is when no promoted release measured it yet: `skip` (not
    judged), `warn` (advisory) or `error` (blocks a required gate). Never a pass."""
    gates: list[GateSpec]
    notify: list[NotifySpec] = []
    """Notifications of the release's transitions (delivered once each, never blocking the release)."""


class PolicyError(FileError):
    """A policy file that cannot be used: `file:line:column: what was expected`."""


class LoadedPolicy(msgspec.Struct):
    policy: Policy
    configs: dict[str, Any]
    """Each gate id's decoded Config."""
    source: str
    text: str = ""
    """The policy file's text as it was loaded (a release keeps it, for the dashboard's compare view)."""
    router_config: Any = None
    deployer_config: Any = None
    notifier_configs: list[Any] = []
    """Each `notify:` entry's decoded Config, in order (when the policy was loaded with the notifiers)."""


def _decode_policy(tree: Any, data: Any, type_: Any, file: str, prefix: str = "$") -> Any:
    try:
        return decode(tree, data, type_, file, prefix)
    except FileError as exc:
        raise PolicyError(exc.file, exc.line, exc.column, exc.message) from None


def load_policy(
    path: Path | str,
    gate_types: dict[str, type[Any]],
    routers: dict[str, type[Any]] | None = None,
    deployers: dict[str, type[Any]] | None = None,
    notifiers: dict[str, type[Any]] | None = None,
) -> LoadedPolicy:
    """Read and validate a policy file; raise PolicyError pointing at the first problem."""
    file = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PolicyError(file, 1, 1, f"cannot read the policy: {exc.strerror}") from None
    return parse_policy(text, file, gate_types, routers, deployers, notifiers)


def parse_policy(
    text: str,
    file: str,
    gate_types: dict[str, type[Any]],
    routers: dict[str, type[Any]] | None = None,
    deployers: dict[str, type[Any]] | None = None,
    notifiers: dict[str, type[Any]] | None = None,
) -> LoadedPolicy:
    try:
        tree = load_yaml(text, file)
    except FileError as exc:
        raise PolicyError(exc.file, exc.line, exc.column, exc.message) from None
    if not isinstance(tree, CommentedMap):
        raise PolicyError(file, 1, 1, "expected a mapping with `gates:` at the top level")
    policy: Policy = _decode_policy(tree, plain(tree), Policy, file)
    configs: dict[str, Any] = {}
    for i, spec in enumerate(policy.gates):
        here = f"$.gates[{i}]"
        if not spec.id:
            spec.id = spec.uses
        if spec.id in configs:
            line, col = position(tree, f"{here}.id" if "id" in tree["gates"][i] else here)
            raise PolicyError(file, line, col, f"gate id `{spec.id}` is used twice; give each gate its own `id`")
        gate_type = gate_types.get(spec.uses)
        if gate_type is None:
            line, col = position(tree, f"{here}.uses")
            known = ", ".join(sorted(gate_types)) or "none installed"
            raise PolicyError(file, line, col, f"unknown gate type `{spec.uses}` (known: {known})")
        configs[spec.id] = _decode_policy(tree, spec.with_, gate_type.Config, file, f"{here}.with")
        if spec.timeout <= 0 or spec.retries < 0:
            line, col = position(tree, here)
            raise PolicyError(file, line, col, "expected `timeout` > 0 and `retries` >= 0")
        for j, rule in enumerate(spec.checks):
            problem = _rule_problem(rule)
            if rule.baseline == "live" and "url" not in needs(gate_type):
                problem = (
                    f"check `{rule.name}`: gate type `{spec.uses}` does not measure the target URL, so "
                    "`baseline: live` has nothing to compare; use `baseline: last_promoted`"
                )
            if problem:
                line, col = position(tree, f"{here}.checks[{j}]")
                raise PolicyError(file, line, col, problem)
    loaded = LoadedPolicy(policy=policy, configs=configs, source=file, text=text)
    for kind, table in (("router", routers), ("deployer", deployers)):
        if table is None:
            continue
        component: Component = getattr(policy, kind)
        plugin = table.get(component.uses)
        if plugin is None:
            line, col = position(tree, f"$.{kind}.uses" if kind in tree else "$")
            known = ", ".join(sorted(table)) or "none installed"
            raise PolicyError(file, line, col, f"unknown {kind} `{component.uses}` (known: {known})")
        setattr(loaded, f"{kind}_config", _decode_policy(tree, component.with_, plugin.Config, file, f"$.{kind}.with"))
    for n, target in enumerate(policy.notify if notifiers is not None else []):
        where = f"$.notify[{n}]"
        notifier = notifiers.get(target.uses) if notifiers else None
        if notifier is None:
            line, col = position(tree, f"{where}.uses")
            known = ", ".join(sorted(notifiers or {})) or "none installed"
            raise PolicyError(file, line, col, f"unknown notifier `{target.uses}` (known: {known})")
        target.name = target.name or f"{target.uses}#{n + 1}"
        loaded.notifier_configs.append(_decode_policy(tree, target.with_, notifier.Config, file, f"{where}.with"))
    if policy.watch is not None:
        for name in ("duration", "interval"):
            try:
                value = seconds(getattr(policy.watch, name))
            except ValueError as exc:
                line, col = position(tree, f"$.watch.{name}")
                raise PolicyError(file, line, col, str(exc)) from None
            if value <= 0:
                line, col = position(tree, f"$.watch.{name}")
                raise PolicyError(file, line, col, f"expected `watch.{name}` > 0")
        if not 0 <= policy.watch.max_error_ratio <= 1:
            line, col = position(tree, "$.watch.max_error_ratio")
            raise PolicyError(file, line, col, "expected `max_error_ratio` between 0 and 1")
    if not any(spec.required and spec.phase == "pre" for spec in policy.gates):
        line, col = position(tree, "$.gates" if "gates" in tree else "$")
        raise PolicyError(
            file, line, col, "expected at least one required `pre` gate: a release with no evidence never promotes"
        )
    return loaded


def _rule_problem(rule: CheckRule) -> str | None:
    if rule.threshold is None and rule.baseline is None:
        return f"check `{rule.name}` needs a `threshold`, or a `baseline` with `max_regression`"
    if (rule.baseline is None) != (rule.max_regression is None):
        return f"check `{rule.name}`: `baseline` and `max_regression` go together"
    if rule.max_regression is not None and rule.max_regression < 0:
        return f"check `{rule.name}`: `max_regression` is a percentage >= 0"
    if rule.baseline is not None and rule.op in ("==", "!="):
        return f"check `{rule.name}`: a baseline comparison needs an ordering op (<, <=, >, >=)"
    return None


def json_schema(gate_types: dict[str, type[Any]]) -> dict[str, Any]:
    """JSON Schema of a policy file, with each gate type's `with:` for editors."""
    schema = msgspec.json.schema(Policy)
    defs = schema.setdefault("$defs", {})
    variants = []
    for name, gate_type in sorted(gate_types.items()):
        # Every gate's struct is called `Config`: give each its own names in `$defs`.
        config_schema = msgspec.json.schema(gate_type.Config)
        own = config_schema.pop("$defs", {})
        text = msgspec.json.encode(config_schema).decode()
        for key in own:
            text = text.replace(f'"#/$defs/{key}"', f'"#/$defs/{name}.{key}"')
        for key, body in own.items():
            body_text = msgspec.json.encode(body).decode()
            for other in own:
                body_text = body_text.replace(f'"#/$defs/{other}"', f'"#/$defs/{name}.{other}"')
            defs[f"{name}.{key}"] = msgspec.json.decode(body_text)
        variants.append(
            {
                "if": {"properties": {"uses": {"const": name}}},
                "then": {"properties": {"with": msgspec.json.decode(text)}},
            }
        )
    if "GateSpec" in defs and variants:
        defs["GateSpec"]["allOf"] = variants
    schema["title"] = "reelgate gate policy"
    return schema
