"""Shared pieces of the benchmarks: result files, the Markdown table, a throwaway stack."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec

RESULTS = Path(__file__).parent / "results"
REELGATE = str(Path(sys.executable).parent / "reelgate")


class Result(msgspec.Struct):
    name: str
    metric: str
    value: float
    baseline_metric: str
    baseline: float
    ratio: float
    goal: str
    met: bool
    unit: str
    details: dict[str, object] = {}
    machine: str = ""
    at: str = ""


def save(result: Result) -> Result:
    RESULTS.mkdir(exist_ok=True)
    result.machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    result.at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (RESULTS / f"{result.name}.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    verdict = "met" if result.met else "NOT met"
    print(
        f"{result.name}: {result.metric} {result.value:.3f} {result.unit} vs {result.baseline_metric} "
        f"{result.baseline:.3f} -> ratio {result.ratio:.2f} (goal {result.goal}: {verdict})"
    )
    return result


def write_table() -> Path:
    rows = []
    for path in sorted(RESULTS.glob("*.json")):
        r = msgspec.json.decode(path.read_bytes(), type=Result)
        rows.append(
            f"| {r.name} | {r.metric}: {r.value:.3f} {r.unit} | {r.baseline_metric}: {r.baseline:.3f} "
            f"{r.unit} | {r.ratio:.2f}× | {r.goal} | {'yes' if r.met else '**no**'} | {r.at} |"
        )
    table = RESULTS / "RESULTS.md"
    table.write_text(
        "# Benchmark results\n\nWritten by `tox -e bench` (`python -m bench`). Each row compares a measurement "
        "with a baseline taken in the same run; the ratio is the speed-up (ladder) or measured / baseline "
        "(the others).\n\n| benchmark | measured | baseline | ratio | goal | met | at |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    return table


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def timed(cmd: list[str], cwd: Path | str | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    return time.perf_counter() - started


@contextmanager
def throwaway_stack(
    prepare: Callable[[Path], Callable[[], None]] | None = None, **env: str
) -> Iterator[tuple[dict[str, str], str]]:
    """A stack of its own under /tmp on a free port base; yields (env, router URL). `prepare` sees its
    home before the stack starts, and what it returns runs once the stack is down."""
    from tests.integration.stack import free_port_base

    home = Path(tempfile.mkdtemp(prefix="reelgate-bench-"))
    home.chmod(0o755)
    undo = prepare(home) if prepare else None
    base = free_port_base()
    full = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    full.update(REELGATE_HOME=str(home), REELGATE_PORT_BASE=str(base), **env)
    try:
        subprocess.run([REELGATE, "stack", "up"], env=full, check=True, capture_output=True, text=True)
        yield full, f"http://127.0.0.1:{base}"
    finally:
        subprocess.run([REELGATE, "stack", "down"], env=full, check=False, capture_output=True)
        if undo:
            undo()
        shutil.rmtree(home, ignore_errors=True)


def wait_ready(http: httpx.Client, video: dict[str, Any]) -> dict[str, Any]:
    """Follow the video's event stream until it is ready or failed, then read it; the stream says
    `ready` as soon as the worker commits it."""
    with http.stream("GET", video["events_url"], timeout=300) as events:
        for line in events.iter_lines():
            if line.startswith(("event: ready", "event: failed")):
                break
    final: dict[str, Any] = http.get(video["url"]).json()
    return final


def tenant_key(env: dict[str, str], name: str) -> str:
    out = subprocess.run(
        [REELGATE, "tenant", "create", name, "--rate-limit", "0"], env=env, check=True, capture_output=True, text=True
    ).stdout
    return out.strip().splitlines()[-1]


def dump(obj: object) -> str:
    return json.dumps(obj, indent=2, default=str)
