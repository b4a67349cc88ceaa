"""The scenario file format (`scenarios/*.yaml`): msgspec Structs decoded strictly, errors at `file:line:column`.

version: 1
name: upload and play
vars: {title: "A clip"}
defaults: {headers: {Authorization: "Bearer ${secret.API_KEY}"}, timeout: 30}
steps:
  - name: upload
    post: /v1/videos
    multipart: {file: {path: fixtures/clip-160x120.mp4, content_type: video/mp4}, title: "${title}"}
    expect: {status: 202, json: {$.status: queued}}
    capture: {video: $.url}
  - name: wait until ready
    get: ${video}
    poll: {until: {$.status: ready}, fail_if: {$.status: failed}, interval: 1, timeout: 120}
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import msgspec
from ruamel.yaml.comments import CommentedMap

from reelgate.gates.scenario import assertions
from reelgate.gates.yamlfile import FileError, decode, load_yaml, plain, position

METHODS = ("get", "post", "put", "patch", "delete", "head")


class ScenarioError(FileError):
    """A scenario file that cannot be used: `file:line:column: what was expected, what was found`."""


class Defaults(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    base_url: str = ""
    """Prefix of every relative URL; `--target` (or the gate's target) when empty."""
    headers: dict[str, str] = {}
    timeout: float = 30
    """Seconds a request may take."""


class FilePart(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: str
    """Relative to the scenario file."""
    content_type: str = "application/octet-stream"
    filename: str | None = None


class Expect(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    status: int | list[int] | dict[str, Any] | None = None
    """The status, one of several, or comparisons (`{ge: 200, lt: 300}`). Unset: any 2xx or 3xx."""
    headers: dict[str, str | dict[str, Any]] = {}
    """Headers that must be present with these values, or hold to assertions (`{contains: json}`); names are
    case-insensitive, and a header that is not there fails (`{absent: true}` asks for that)."""
    json: dict[str, Any] = {}
    """`$.path: value`: the value at each path must equal this (a mapping matches as a subset), or hold to an
    assertion (`{gt: 2.5, le: 4}`, `{type: array, length: {ge: 1}}`; see `assertions.py`)."""
    matches: dict[str, str] = {}
    """`$.path`, `header:Name` or `body` (the whole body as text): a regular expression the value must match."""
    schema: str | dict[str, Any] | None = None
    """A JSON Schema (2020-12) the JSON body must validate against: a file relative to the scenario, or inline."""
    max_ms: float | dict[str, Any] | None = None
    """The longest the request may take, or comparisons (`{lt: 500}`)."""


class Poll(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    until: dict[str, Any]
    """`$.path: value` that must all hold to stop polling (the step then passes)."""
    fail_if: dict[str, Any] = {}
    """`$.path: value` that ends the poll as a failure at once."""
    interval: float = 1.0
    timeout: float = 60.0


class Step(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str = ""
    get: str | None = None
    post: str | None = None
    put: str | None = None
    patch: str | None = None
    delete: str | None = None
    head: str | None = None
    headers: dict[str, str] = {}
    json: Any = None
    multipart: dict[str, str | FilePart] = {}
    body: str | None = None
    """A file (relative to the scenario file) sent as the raw body."""
    expect: Expect = msgspec.field(default_factory=Expect)
    capture: dict[str, str] = {}
    """`name: $.path` or `name: header:Name`, for later steps as `${name}`."""
    poll: Poll | None = None

    @property
    def method(self) -> str:
        return next(m for m in METHODS if getattr(self, m) is not None).upper()

    @property
    def url(self) -> str:
        return str(getattr(self, self.method.lower()))

    @property
    def files(self) -> list[str]:
        """The files this step sends (multipart parts and raw body), relative to the scenario."""
        parts = [p.path for p in self.multipart.values() if isinstance(p, FilePart)]
        return parts + ([self.body] if self.body else [])


class Need(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A setting of the target the scenario needs, asked before its first step; a target without it skips
    the scenario with `reason`, so a scenario never fails for a setting it was not written for."""

    reason: str
    """What is needed, in words (`MP4 downloads: the platform's mp4 setting`): what the skip says."""
    get: str
    """What to ask, e.g. `/health/version` (relative to the target; the defaults' headers are sent)."""
    expect: Expect
    """What the answer must hold for the scenario to run."""

    def as_step(self) -> Step:
        """The need as the step both runners ask it with."""
        return Step(name=f"needs {self.reason}", get=self.get, expect=self.expect)


class Load(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How the scenario runs as a k6 load test (`reelgate scenario k6`); without it, one iteration."""

    vus: int = 1
    """Virtual users (closed loop), or pre-allocated VUs with `rate`."""
    duration: str = ""
    """How long (k6's `30s`, `2m`); empty: `iterations` in all, shared by the VUs."""
    iterations: int = 1
    rate: int = 0
    """Iterations a second (open loop, constant arrival rate) for `duration`."""
    thresholds: dict[str, list[str]] = {}
    """More k6 thresholds, in k6's syntax, e.g. `{http_req_duration: ["p(95)<500"]}`."""


class Scenario(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    version: Literal[1] = 1
    name: str
    vars: dict[str, Any] = {}
    defaults: Defaults = msgspec.field(default_factory=Defaults)
    needs: list[Need] = []
    """Settings of the target this scenario needs; without them it is skipped, with their reason."""
    steps: list[Step]
    load: Load | None = None


class LoadedScenario(msgspec.Struct):
    scenario: Scenario
    file: str
    folder: Path


def _step_problem(step: Step, folder: Path) -> tuple[str, str] | None:
    """(what is wrong, the key to point at) for a step that decodes but cannot run."""
    methods = [m for m in METHODS if getattr(step, m) is not None]
    if len(methods) != 1:
        found = ", ".join(methods) or "none"
        return f"expected exactly one of {', '.join(METHODS)}, found {found}", methods[1] if methods else ""
    if step.poll is not None and step.method == "POST":
        return "a POST is never polled (it would repeat its effect): poll with a GET of what it made", "poll"
    bodies = [key for key in ("json", "multipart", "body") if getattr(step, key) not in (None, {})]
    if len(bodies) > 1:
        return f"expected one body, found {' and '.join(bodies)}", bodies[1]
    places = [
        ("expect", [*step.expect.json, *step.expect.matches]),
        ("capture", list(step.capture.values())),
        ("poll", [*step.poll.until, *step.poll.fail_if] if step.poll else []),
    ]
    for key, paths in places:
        bad = [p for p in paths if not (p.startswith("$") or p.lower().startswith("header:") or p == "body")]
        if bad:
            return f"expected a path such as `$.status`, `header:Content-Type` or `body`, found {bad[0]!r}", key
    for where, pattern in step.expect.matches.items():
        if "${" not in pattern:  # with a variable it is only known when the step runs
            try:
                re.compile(pattern)
            except re.error as exc:
                return f"expected a regular expression for {where}, found {pattern!r} ({exc})", "expect.matches"
    asserted = [
        *(("expect.json", p, v) for p, v in step.expect.json.items()),
        *(("expect.headers", f"header {n}", v) for n, v in step.expect.headers.items()),
        *(("poll.until", p, v) for p, v in (step.poll.until.items() if step.poll else ())),
        *(("poll.fail_if", p, v) for p, v in (step.poll.fail_if.items() if step.poll else ())),
    ]
    for key, where, value in asserted:
        if isinstance(value, dict) and not assertions.is_assertion(value) and set(value) & set(assertions.NAMES):
            # `{gt: 1, typo: 2}`: half an assertion is almost certainly a mistake, not a subset to match.
            others = ", ".join(sorted(set(value) - set(assertions.NAMES)))
            return f"{where}: expected assertions ({', '.join(assertions.NAMES)}), found also {others}", key
        why = assertions.problem(value) if assertions.is_assertion(value) else None
        if why:
            return f"{where}: {why}", key
    for key, value in (("expect.status", step.expect.status), ("expect.max_ms", step.expect.max_ms)):
        if isinstance(value, dict):
            why = assertions.problem(value, comparisons_only=True) if value else "expected comparisons, found {}"
            if why or not assertions.is_assertion(value):
                return f"{key.split('.')[1]}: {why or 'expected comparisons such as {ge: 200, lt: 300}'}", key
    missing = [f for f in step.files if "${" not in f and not (folder / f).is_file()]
    if missing:
        return f"expected a file at {missing[0]} (relative to the scenario), found none", (
            "body" if step.body == missing[0] else "multipart"
        )
    return None


def _load_schema(step: Step, folder: Path) -> str | None:
    """The step's JSON Schema as a mapping (read from its file), checked; what is wrong with it, or None."""
    from jsonschema import Draft202012Validator, SchemaError

    schema = step.expect.schema
    if schema is None:
        return None
    if isinstance(schema, str):
        path = folder / schema
        try:
            schema = json.loads(path.read_text())
        except OSError:
            return f"expected a JSON Schema file at {schema} (relative to the scenario), found none"
        except ValueError as exc:
            return f"expected JSON in the schema file {schema}, found: {exc}"
        if not isinstance(schema, dict):
            return f"expected a JSON object in the schema file {schema}, found {type(schema).__name__}"
        step.expect.schema = schema
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"expected a valid JSON Schema (2020-12): {exc.message} (at {exc.json_path})"
    outside = _outside_refs(schema)
    if outside:
        return f"expected `$ref`s inside the schema (`#/$defs/...`) and no `$id`, found {outside!r}"
    return None


def _outside_refs(node: Any) -> str | None:
    """A `$ref` that leaves the schema, or an `$id`: neither runner fetches other documents."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return ref
        if isinstance(node.get("$id"), str):
            return str(node["$id"])
        return next((found for v in node.values() if (found := _outside_refs(v))), None)
    if isinstance(node, list):
        return next((found for v in node if (found := _outside_refs(v))), None)
    return None


def parse_scenario(text: str, file: str, folder: Path) -> LoadedScenario:
    try:
        tree = load_yaml(text, file)
    except FileError as exc:
        raise ScenarioError(exc.file, exc.line, exc.column, exc.message) from None
    if not isinstance(tree, CommentedMap):
        raise ScenarioError(file, 1, 1, f"expected a mapping with `name:` and `steps:`, found {type(tree).__name__}")
    try:
        scenario: Scenario = decode(tree, plain(tree), Scenario, file)
    except FileError as exc:
        raise ScenarioError(exc.file, exc.line, exc.column, exc.message) from None
    if scenario.load is not None and scenario.load.rate and not scenario.load.duration:
        line, col = position(tree, "$.load.rate")
        raise ScenarioError(file, line, col, "expected a `duration` with `rate` (iterations a second, for how long)")
    if not scenario.steps:
        line, col = position(tree, "$.steps")
        raise ScenarioError(file, line, col, "expected at least one step, found none")
    for i, step in enumerate(scenario.steps):
        step.name = step.name or f"step {i + 1}"
        problem = _step_problem(step, folder)
        schema_problem = _load_schema(step, folder) if problem is None else None
        if problem or schema_problem:
            message, key = problem or (str(schema_problem), "expect.schema")
            line, col = position(tree, f"$.steps[{i}].{key}" if key else f"$.steps[{i}]")
            raise ScenarioError(file, line, col, f"step `{step.name}`: {message}")
    return LoadedScenario(scenario=scenario, file=file, folder=folder)


def load_scenario(path: Path | str) -> LoadedScenario:
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ScenarioError(str(path), 1, 1, f"cannot read the scenario: {exc.strerror}") from None
    return parse_scenario(text, str(path), file.resolve().parent)


def json_schema() -> dict[str, Any]:
    schema = msgspec.json.schema(Scenario)
    schema["title"] = "reelgate scenario"
    return schema
