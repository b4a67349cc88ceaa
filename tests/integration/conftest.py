"""One real stack per test session (`tests.integration.stack`), and what a failing test shows of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with running_stack() as running:
        yield running


@pytest.fixture(scope="session")
def key(stack: Stack) -> str:
    return stack.tenant("tenant-a")


@pytest.fixture()
def api(stack: Stack, key: str) -> Iterator[httpx.Client]:
    with stack.client(key) as client:
        yield client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every integration test needs the stack, so every one is `slow`: `-m "not slow"` starts nothing."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test shows the end of its stacks' logs (API, worker, router) beside its traceback."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    for name, stack in getattr(item, "funcargs", {}).items():
        if not isinstance(stack, Stack):
            continue
        for part in ("api-blue", "worker-blue", "api-green", "worker-green", "haproxy", "nginx"):
            log = stack.home / "var" / "log" / f"{part}.log"
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-25:]
                report.sections.append((f"{name}: {part}.log, last lines", "\n".join(tail)))
        report.sections.append((f"{name}: the job queue", _jobs(stack)))


def _jobs(stack: Stack) -> str:
    """What the workers have to do and are doing, for a test that waited on them in vain."""
    import psycopg

    try:
        with psycopg.connect(stack.settings.db_url, connect_timeout=3) as conn:
            waiting = conn.execute(
                "SELECT queue_name, count(*) FROM procrastinate_jobs WHERE status = 'todo' GROUP BY 1 ORDER BY 1"
            ).fetchall()
            doing = conn.execute(
                "SELECT j.queue_name, j.task_name, j.args::text, j.worker_id,"
                " now() - (SELECT max(at) FROM procrastinate_events WHERE job_id = j.id)"
                " FROM procrastinate_jobs j WHERE j.status = 'doing' ORDER BY j.id"
            ).fetchall()
            workers = conn.execute("SELECT id, now() - last_heartbeat FROM procrastinate_workers").fetchall()
    except psycopg.Error as exc:
        return f"(could not read the queue: {exc})"
    lines = [f"{queue}: {n} waiting" for queue, n in waiting]
    lines += [
        f"{queue}: {task} {args} running on worker {worker} for {age}" for queue, task, args, worker, age in doing
    ]
    lines += [f"worker {worker}: last heartbeat {age} ago" for worker, age in workers]
    return "\n".join(lines) or "no job waiting or running"
