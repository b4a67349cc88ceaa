"""Running a scenario against a base URL: each step's request, its expectations, captures and polling.

`run_scenario(path, target)` is a plain function (the chaos experiments use a scenario as their steady
state). A step that fails stops the scenario; its result says which expectation and what was found.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import msgspec

from reelgate.gates.scenario import assertions
from reelgate.gates.scenario.assertions import holds
from reelgate.gates.scenario.format import FilePart, LoadedScenario, Step, load_scenario
from reelgate.gates.scenario.values import MISSING, UnknownVariable, Values, json_path


class StepResult(msgspec.Struct, kw_only=True):
    name: str
    method: str
    url: str
    ok: bool
    reason: str
    status: int | None = None
    ms: float = 0.0
    attempts: int = 1


class ScenarioResult(msgspec.Struct, kw_only=True):
    name: str
    file: str
    steps: list[StepResult]
    duration_s: float
    skipped: str = ""
    """Why the scenario did not run: a setting it `needs` that the target does not have."""

    @property
    def passed(self) -> bool:
        """Every step passed (a skipped scenario did not fail: it says why it did not run)."""
        return all(s.ok for s in self.steps) and (bool(self.steps) or bool(self.skipped))

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if not s.ok]


class _Failed(Exception):
    """One expectation did not hold; the message says which and what was found."""


def _read(response: httpx.Response, where: str) -> Any:
    if where == "body":
        return response.text
    if where.lower().startswith("header:"):
        value = response.headers.get(where[len("header:") :].strip())
        return MISSING if value is None else value
    document = _document(response)
    return MISSING if document is _NOT_JSON else json_path(document, where)


_NOT_JSON = object()


def _document(response: httpx.Response) -> Any:
    """The body parsed once per response, however many paths a step reads from it."""
    cached = response.extensions.get("reelgate_json", MISSING)
    if cached is MISSING:
        try:
            cached = response.json()
        except ValueError:
            cached = _NOT_JSON
        response.extensions["reelgate_json"] = cached
    return cached


def _shown(value: Any) -> str:
    return "nothing" if value is MISSING else repr(value)


def _status(expected: int | list[int] | dict[str, Any] | None, found: int, values: Values) -> str | None:
    """Why the status is not the one expected; unset, a status must be 2xx or 3xx (as in Hurl and Step CI)."""
    if expected is None:
        ok = 200 <= found < 400
        return None if ok else f"expected a 2xx or 3xx status (set `status:` to expect another), found {found}"
    if isinstance(expected, dict):
        why = assertions.check(found, values.render(expected))
        return f"status: {why}, found {found}" if why else None
    wanted = [expected] if isinstance(expected, int) else expected
    return None if found in wanted else f"expected status {' or '.join(map(str, wanted))}, found {found}"


def _check(step: Step, response: httpx.Response, ms: float, values: Values) -> None:
    expect = step.expect
    status = _status(expect.status, response.status_code, values)
    if status:
        raise _Failed(f"{status}: {response.text[:200].replace(chr(10), ' ')}")
    for name, value in expect.headers.items():
        found = _read(response, f"header:{name}")
        why = assertions.explain(found, values.render(value))
        if why:
            raise _Failed(f"header {name}: {why}")
    for path, value in expect.json.items():
        why = assertions.explain(_read(response, path), values.render(value))
        if why:
            raise _Failed(f"{path}: {why}")
    for where, pattern in expect.matches.items():
        found = _read(response, where)
        try:
            matched = found is not MISSING and re.search(values.render(pattern), str(found)) is not None
        except re.error as exc:
            raise _Failed(f"{where}: {values.render(pattern)!r} is not a regular expression ({exc})") from None
        if not matched:
            raise _Failed(f"expected {where} to match /{pattern}/, found {_shown(found)}")
    if expect.schema is not None:
        _check_schema(response, expect.schema)
    if isinstance(expect.max_ms, dict):
        why = assertions.check(round(ms, 3), values.render(expect.max_ms))
        if why:
            raise _Failed(f"time in ms: {why}")
    elif expect.max_ms is not None and ms > expect.max_ms:
        raise _Failed(f"expected an answer within {expect.max_ms:g} ms, it took {ms:.1f} ms")


def _check_schema(response: httpx.Response, schema: Any) -> None:
    """The JSON body against the step's schema (2020-12; `format` is an annotation, as the draft has it)."""
    from jsonschema import Draft202012Validator

    document = _document(response)
    if document is _NOT_JSON:
        raise _Failed(f"expected a JSON body for the schema, found {response.text[:100]!r}")
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise _Failed(f"the body does not match the schema at {first.json_path}: {first.message}{more}")


def _capture(step: Step, response: httpx.Response, values: Values) -> None:
    for name, where in step.capture.items():
        found = _read(response, where)
        if found is MISSING:
            raise _Failed(f"expected {where} to capture `{name}`, found nothing")
        if found is None:
            raise _Failed(f"expected {where} to capture `{name}`, found null")
        values.variables[name] = found


class Runner:
    def __init__(self, loaded: LoadedScenario, target: str, values: Values, client: httpx.AsyncClient) -> None:
        self.loaded, self.target, self.values, self.client = loaded, target, values, client
        defaults = loaded.scenario.defaults
        self.base = (values.render(defaults.base_url) or target).rstrip("/")

    def _url(self, raw: str) -> str:
        url = str(self.values.render(raw))
        return url if re.match(r"https?://", url) else f"{self.base}/{url.lstrip('/')}"

    async def _send(self, step: Step, url: str) -> tuple[httpx.Response, float]:
        defaults = self.loaded.scenario.defaults
        headers = {**self.values.render(defaults.headers), **self.values.render(step.headers)}
        with ExitStack() as stack:
            kwargs: dict[str, Any] = {"headers": headers, "timeout": defaults.timeout}
            if step.json is not None:
                kwargs["json"] = self.values.render(step.json)
            if step.body is not None:
                kwargs["content"] = (self.loaded.folder / str(self.values.render(step.body))).read_bytes()
            if step.multipart:
                files, data = {}, {}
                for field, part in step.multipart.items():
                    if isinstance(part, FilePart):
                        path = self.loaded.folder / str(self.values.render(part.path))
                        handle = stack.enter_context(path.open("rb"))
                        files[field] = (part.filename or path.name, handle, part.content_type)
                    else:
                        data[field] = str(self.values.render(part))
                kwargs["files"], kwargs["data"] = files, data
            started = time.perf_counter()
            response = await self.client.request(step.method, url, **kwargs)
            return response, (time.perf_counter() - started) * 1000

    async def step(self, step: Step) -> StepResult:
        url = step.url
        result = StepResult(name=step.name, method=step.method, url=url, ok=False, reason="")
        try:
            url = result.url = self._url(step.url)
            response, ms = await self._send(step, url)
            attempts = 1
            if step.poll is not None:
                deadline = time.monotonic() + step.poll.timeout
                while True:
                    if any(holds(_read(response, p), self.values.render(v)) for p, v in step.poll.fail_if.items()):
                        raise _Failed(f"poll ended by fail_if: {self._describe(response, step.poll.fail_if)}")
                    if all(holds(_read(response, p), self.values.render(v)) for p, v in step.poll.until.items()):
                        break
                    if time.monotonic() + step.poll.interval > deadline:
                        raise _Failed(
                            f"poll timed out after {step.poll.timeout:g} s and {attempts} requests: "
                            f"{self._describe(response, step.poll.until)}"
                        )
                    await asyncio.sleep(step.poll.interval)
                    response, ms = await self._send(step, url)
                    attempts += 1
            result.status, result.ms, result.attempts = response.status_code, round(ms, 3), attempts
            _check(step, response, ms, self.values)
            _capture(step, response, self.values)
            result.ok, result.reason = True, f"{response.status_code} in {ms:.1f} ms"
        except _Failed as exc:
            result.reason = str(exc)
        except UnknownVariable as exc:
            result.reason = str(exc)
        except httpx.HTTPError as exc:
            result.reason = f"the request failed: {type(exc).__name__}: {exc}"
        except OSError as exc:
            result.reason = f"cannot read a file to send: {exc}"
        result.url, result.reason = self.values.redact(result.url), self.values.redact(result.reason)
        return result

    async def unmet_need(self) -> str:
        """Why the target lacks a setting the scenario needs ("" when it has them all)."""
        for need in self.loaded.scenario.needs:
            result = await self.step(need.as_step())
            if not result.ok:
                return f"needs {need.reason} ({result.reason})"
        return ""

    def _describe(self, response: httpx.Response, paths: dict[str, Any]) -> str:
        return ", ".join(f"{p} is {_shown(_read(response, p))}" for p in paths)


async def run_loaded(
    loaded: LoadedScenario, target: str, variables: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> ScenarioResult:
    started = time.monotonic()
    values = Values({**loaded.scenario.vars, **(variables or {})}, env)
    steps: list[StepResult] = []
    async with httpx.AsyncClient(follow_redirects=False) as client:
        runner = Runner(loaded, target, values, client)
        unmet = await runner.unmet_need()
        if unmet:
            name, file, took = loaded.scenario.name, loaded.file, round(time.monotonic() - started, 3)
            return ScenarioResult(name=name, file=file, steps=[], duration_s=took, skipped=unmet)
        for step in loaded.scenario.steps:
            result = await runner.step(step)
            steps.append(result)
            if not result.ok:
                break
    return ScenarioResult(
        name=loaded.scenario.name, file=loaded.file, steps=steps, duration_s=round(time.monotonic() - started, 3)
    )


def run_scenario(path: Path | str, target: str, variables: dict[str, Any] | None = None) -> ScenarioResult:
    """Load and run one scenario file against `target` (raises ScenarioError for a bad file)."""
    return asyncio.run(run_loaded(load_scenario(path), target, variables))


def write_junit(results: list[ScenarioResult], path: Path) -> None:
    from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

    xml = JUnitXml()
    for result in results:
        suite = TestSuite(result.name)
        if result.skipped:
            case = TestCase("needs", classname=result.file)
            case.result = [Skipped(result.skipped)]
            suite.add_testcase(case)
        for step in result.steps:
            case = TestCase(step.name, classname=result.file, time=step.ms / 1000)
            if not step.ok:
                case.result = [Failure(step.reason)]
            suite.add_testcase(case)
        xml.add_testsuite(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path), pretty=True)
