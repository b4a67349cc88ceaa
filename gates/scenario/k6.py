"""A scenario file as a k6 script (`reelgate scenario k6 FILE`).

The script does what `scenario run` does, so both give the same pass or fail:
- files to upload are opened in the init context (k6 allows `open()` only there);
- each request is tagged with its step's name;
- each `expect` becomes k6 checks; a failed check ends the iteration, as a failed step ends a run;
- `poll` becomes a bounded loop with a deadline;
- secrets come from the environment (`-e API_KEY=...`), never written into the script;
- the `load` section becomes k6's executor and thresholds, with `checks: rate==1` and a threshold that fails
  when no check ran at all.
"""

from __future__ import annotations

import json
from typing import Any

from reelgate.gates.scenario import json_schema_js
from reelgate.gates.scenario.format import FilePart, LoadedScenario, Step

RUNTIME = r"""
const checked = new Counter("scenario_checks");
const ENV_RE = /\$\{([A-Za-z_][\w.-]*)\}/g;

function lookup(vars, name) {
  const dot = name.indexOf(".");
  const scope = dot > 0 ? name.slice(0, dot) : "";
  if ((scope === "env" || scope === "secret") && dot < name.length - 1) {
    const value = __ENV[name.slice(dot + 1)];
    if (value === undefined) fail(`\${${name}}: the environment variable ${name.slice(dot + 1)} is not set`);
    return value;
  }
  if (!(name in vars)) fail(`\${${name}} is not a var or an earlier capture`);
  return vars[name];
}

function render(vars, value) {
  if (typeof value === "string") {
    const alone = value.match(/^\$\{([A-Za-z_][\w.-]*)\}$/);
    if (alone) return lookup(vars, alone[1]);
    return value.replace(ENV_RE, (_, name) => String(lookup(vars, name)));
  }
  if (Array.isArray(value)) return value.map((v) => render(vars, v));
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[render(vars, k)] = render(vars, v);
    return out;
  }
  return value;
}

const MISSING = Symbol("missing");

function read(res, where) {
  if (where === "body") return res.body === null ? MISSING : String(res.body);
  if (where.toLowerCase().startsWith("header:")) {
    const wanted = where.slice(7).trim().toLowerCase();
    for (const [name, value] of Object.entries(res.headers)) if (name.toLowerCase() === wanted) return value;
    return MISSING;
  }
  let node;
  try { node = res.json(); } catch (e) { return MISSING; }
  const steps = where.slice(1).match(/\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']+)'\]/g) || [];
  for (const step of steps) {
    if (step.startsWith("[") && !step.startsWith("['")) {
      const index = Number(step.slice(1, -1));
      if (!Array.isArray(node) || index >= node.length) return MISSING;
      node = node[index];
    } else {
      const key = step.startsWith("['") ? step.slice(2, -2) : step.slice(1);
      if (node === null || typeof node !== "object" || Array.isArray(node) || !(key in node)) return MISSING;
      node = node[key];
    }
  }
  return node;
}

function matches(actual, expected) {
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([k, v]) => k in actual && matches(actual[k], v));
  }
  if (typeof expected === "boolean" || typeof actual === "boolean") return actual === expected;
  if (typeof expected === "number" && typeof actual === "number") return actual === expected;
  return JSON.stringify(actual) === JSON.stringify(expected);
}

// The assertions of `assertions.py`, the same rules in JavaScript (a test holds both to the same answers).
const COMPARISONS = { eq: "==", ne: "!=", gt: ">", ge: ">=", lt: "<", le: "<=" };
const ASSERTIONS = [...Object.keys(COMPARISONS), "exists", "absent", "type", "length", "contains", "one_of", "matches"];

function isAssertion(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => ASSERTIONS.includes(k));
}

function typeOf(value) {
  if (value === null) return "null";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "string") return "string";
  return Array.isArray(value) ? "array" : "object";
}

function assertOne(found, name, operand) {
  switch (name) {
    case "eq": return matches(found, operand);
    case "ne": return !matches(found, operand);
    case "gt": return typeof found === "number" && found > operand;
    case "ge": return typeof found === "number" && found >= operand;
    case "lt": return typeof found === "number" && found < operand;
    case "le": return typeof found === "number" && found <= operand;
    case "type": return typeOf(found) === operand || (operand === "number" && typeOf(found) === "integer");
    case "length":
      if (typeof found !== "string" && !Array.isArray(found)) return false;
      return holdsAssertion(typeof found === "string" ? [...found].length : found.length,
        operand !== null && typeof operand === "object" ? operand : { eq: operand });
    case "contains":
      if (Array.isArray(found)) return found.some((item) => matches(item, operand));
      return typeof found === "string" && found.includes(String(operand));
    case "one_of": return operand.some((option) => matches(found, option));
    case "matches": return typeof found === "string" && regex(operand).test(found);
    default: return true;  // exists: true, on a value that is there
  }
}

function holdsAssertion(found, assertion) {
  if ("absent" in assertion || assertion.exists === false) {
    const absent = (assertion.absent === undefined ? true : assertion.absent) &&
      (assertion.exists === undefined ? false : assertion.exists) === false;
    return absent ? found === MISSING : found !== MISSING;
  }
  if (found === MISSING) return false;
  return Object.entries(assertion).every(([name, operand]) => assertOne(found, name, operand));
}

function holds(found, expected) {
  return isAssertion(expected) ? holdsAssertion(found, expected) : found !== MISSING && matches(found, expected);
}

function url(base, raw) {
  return /^https?:\/\//.test(raw) ? raw : `${base}/${raw.replace(/^\/+/, "")}`;
}

function regex(pattern) {
  // Python's inline flags (`(?i)...`) as JavaScript's flags: the same pattern means the same in both runners.
  const flags = pattern.match(/^\(\?([ims]+)\)/);
  return flags ? new RegExp(pattern.slice(flags[0].length), flags[1]) : new RegExp(pattern);
}

function verify(name, res, conditions) {
  const named = {};
  for (const [label, test] of Object.entries(conditions)) named[`${name}: ${label}`] = () => test(res);
  checked.add(Object.keys(named).length);
  return check(res, named, { step: name });
}
"""


def _js(value: Any) -> str:
    return json.dumps(value)


def _options(loaded: LoadedScenario) -> dict[str, Any]:
    load = loaded.scenario.load
    if load is None or (not load.duration and not load.rate):
        executor: dict[str, Any] = {
            "executor": "shared-iterations",
            "vus": load.vus if load else 1,
            "iterations": load.iterations if load else 1,
        }
    elif load.rate:
        executor = {
            "executor": "constant-arrival-rate",
            "rate": load.rate,
            "timeUnit": "1s",
            "duration": load.duration,
            "preAllocatedVUs": load.vus,
            "maxVUs": load.vus * 4,
        }
    else:
        executor = {"executor": "constant-vus", "vus": load.vus, "duration": load.duration}
    thresholds = {"checks": ["rate==1"], "scenario_checks": ["count>0"], **(load.thresholds if load else {})}
    return {
        "scenarios": {"scenario": executor},
        "thresholds": thresholds,
        # `scenario run` never follows a redirect: a 3xx is the step's answer in both runners.
        "maxRedirects": 0,
        # The percentiles reelgate's k6 gate reads (k6 reports p(90) and p(95) only, by default).
        "summaryTrendStats": ["avg", "min", "med", "p(90)", "p(95)", "p(99)", "max"],
    }


def _request(step: Step, files: dict[str, str], timeout: float) -> str:
    method = step.method
    body = "null"
    if step.json is not None:
        body = f"JSON.stringify(render(vars, {_js(step.json)}))"
    elif step.body is not None:
        body = files[step.body]
    elif step.multipart:
        parts = []
        for field, part in step.multipart.items():
            if isinstance(part, FilePart):
                name = part.filename or part.path.rsplit("/", 1)[-1]
                parts.append(f"{_js(field)}: http.file({files[part.path]}, {_js(name)}, {_js(part.content_type)})")
            else:
                parts.append(f"{_js(field)}: String(render(vars, {_js(part)}))")
        body = "{" + ", ".join(parts) + "}"
    headers = "Object.assign({}, render(vars, DEFAULT_HEADERS), render(vars, " + _js(step.headers) + "))"
    if step.json is not None:
        headers = f"Object.assign({{'Content-Type': 'application/json'}}, {headers})"
    params = f"{{headers: {headers}, tags: {{name: {_js(step.name)}}}, timeout: {_js(f'{timeout:g}s')}}}"
    return f"http.request({_js(method)}, url(BASE, String(render(vars, {_js(step.url)}))), {body}, {params})"


def _conditions(step: Step, schema: str | None) -> str:
    expect = step.expect
    tests: list[str] = []
    status = expect.status
    if status is None:
        tests.append(f"{_js('status 2xx or 3xx')}: (r) => r.status >= 200 && r.status < 400")
    elif isinstance(status, dict):
        tests.append(f"{_js(f'status {status}')}: (r) => holds(r.status, render(vars, {_js(status)}))")
    else:
        wanted = [status] if isinstance(status, int) else status
        tests.append(f"{_js('status ' + ' or '.join(map(str, wanted)))}: (r) => {_js(wanted)}.includes(r.status)")
    for name, value in expect.headers.items():
        where = _js("header:" + name)
        tests.append(f"{_js(f'header {name}')}: (r) => holds(read(r, {where}), render(vars, {_js(value)}))")
    for path, value in expect.json.items():
        tests.append(f"{_js(path)}: (r) => holds(read(r, {_js(path)}), render(vars, {_js(value)}))")
    for where, pattern in expect.matches.items():
        tests.append(
            f"{_js(where + ' matches')}: (r) => read(r, {_js(where)}) !== MISSING && "
            f"regex(render(vars, {_js(pattern)})).test(String(read(r, {_js(where)})))"
        )
    if schema is not None:
        tests.append(f"{_js('body matches the schema')}: (r) => validates({schema}, r)")
    if isinstance(expect.max_ms, dict):
        tests.append(
            f"{_js(f'time {expect.max_ms}')}: (r) => holds(r.timings.duration, render(vars, {_js(expect.max_ms)}))"
        )
    elif expect.max_ms is not None:
        tests.append(f"{_js(f'within {expect.max_ms:g} ms')}: (r) => r.timings.duration <= {expect.max_ms}")
    tests.append(f"{_js('answered')}: (r) => r.status > 0")
    return "{" + ", ".join(tests) + "}"


SCHEMA_RUNTIME = """
// JSON Schema 2020-12 with @cfworker/json-schema; `format` stays an annotation, as in `scenario run`.
for (const name of Object.keys(format)) delete format[name];

function validates(validator, res) {
  let document;
  try { document = res.json(); } catch (e) { return false; }
  return validator.validate(document).valid;
}
"""


def _needs(loaded: LoadedScenario) -> list[str]:
    """The scenario's `needs`, asked once in k6's setup: a target without them aborts the test with the
    reason (k6 has no "skipped"; `scenario run` and the gate skip the scenario instead)."""
    if not loaded.scenario.needs:
        return []
    lines = ["export function setup() {", f"  const vars = render({{}}, {_js(loaded.scenario.vars)});"]
    timeout = loaded.scenario.defaults.timeout
    for i, need in enumerate(loaded.scenario.needs):
        probe = need.as_step()
        lines += [
            f"  const need{i} = {_request(probe, {}, timeout)};",
            f"  if (!Object.values({_conditions(probe, None)}).every((test) => test(need{i}))) "
            f"exec.test.abort({_js(f'skipped: needs {need.reason}')});",
        ]
    return [*lines, "}", ""]


def to_k6(loaded: LoadedScenario) -> str:
    """The k6 script for one scenario (files referenced by absolute path, secrets from `__ENV`)."""
    scenario = loaded.scenario
    files: dict[str, str] = {}
    opens: list[str] = []
    for step in scenario.steps:
        for path in step.files:
            if path not in files:
                files[path] = f"FILE_{len(files)}"
                opens.append(f"const {files[path]} = open({_js(str(loaded.folder / path))}, 'b');")
    schemas: dict[int, str] = {}
    for index, step in enumerate(scenario.steps):
        if step.expect.schema is not None:
            schemas[index] = f"SCHEMA_{len(schemas)}"
            opens.append(f"const {schemas[index]} = new Validator({_js(step.expect.schema)}, '2020-12', false);")
    imports = (
        [
            f"import {_js(str(json_schema_js.FOLDER / 'url-shim.js'))};",
            f"import {{ Validator, format }} from {_js(str(json_schema_js.FOLDER / 'index.js'))};",
        ]
        if schemas
        else []
    )
    lines = [
        f"// Generated by `reelgate scenario k6` from {loaded.file}: {scenario.name}",
        'import http from "k6/http";',
        'import { check, fail, sleep } from "k6";',
        'import { Counter } from "k6/metrics";',
        *(['import exec from "k6/execution";'] if scenario.needs else []),
        *imports,
        RUNTIME,
        *([SCHEMA_RUNTIME] if schemas else []),
        *opens,
        f"const BASE = (__ENV.BASE_URL || {_js(scenario.defaults.base_url)}).replace(/\\/+$/, '');",
        f"const DEFAULT_HEADERS = {_js(scenario.defaults.headers)};",
        f"export const options = {json.dumps(_options(loaded), indent=2)};",
        "",
        *_needs(loaded),
        "export default function () {",
        f"  const vars = render({{}}, {_js(scenario.vars)});",
        "  let res;",
    ]
    timeout = scenario.defaults.timeout
    for index, step in enumerate(scenario.steps):
        name = _js(step.name)
        lines.append(f"  // {step.name}")
        lines.append(f"  res = {_request(step, files, timeout)};")
        if step.poll is not None:
            poll = step.poll
            holds = "holds(read(res, {}), render(vars, {}))"
            until = " && ".join(holds.format(_js(p), _js(v)) for p, v in poll.until.items())
            fail_if = " || ".join(holds.format(_js(p), _js(v)) for p, v in poll.fail_if.items())
            lines += [
                f"  {{ const deadline = Date.now() + {poll.timeout * 1000:g};",
                "    while (true) {",
                *(
                    [f"      if ({fail_if}) {{ verify({name}, res, {{'poll fail_if': () => false}}); return; }}"]
                    if fail_if
                    else []
                ),
                f"      if ({until}) break;",
                f"      if (Date.now() + {poll.interval * 1000:g} > deadline) "
                f"{{ verify({name}, res, {{'poll timed out': () => false}}); return; }}",
                f"      sleep({poll.interval:g});",
                f"      res = {_request(step, files, timeout)};",
                "    }",
                "  }",
            ]
        lines.append(f"  if (!verify({name}, res, {_conditions(step, schemas.get(index))})) return;")
        for var, where in step.capture.items():
            lines.append(f"  vars[{_js(var)}] = read(res, {_js(where)});")
            lines.append(
                f"  if (vars[{_js(var)}] === MISSING || vars[{_js(var)}] === null) {{ verify({name}, res, "
                f"{{{_js('capture ' + var)}: () => false}}); return; }}"
            )
    lines.append("}")
    return "\n".join(lines) + "\n"
