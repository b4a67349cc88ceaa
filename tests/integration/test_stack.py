"""`reelgate stack up | down | status` on real services."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import psutil
import pytest

from tests.integration.stack import Stack, free_port_base

pytestmark = [pytest.mark.integration]


def pids(status_output: str) -> dict[str, int]:
    found = re.findall(r"^\s+(\S+)\s+RUNNING\s+pid (\d+)", status_output, re.MULTILINE)
    return {name: int(pid) for name, pid in found}


def test_status_prints_the_router_first_then_every_part(stack: Stack) -> None:
    result = stack.cli("stack", "status")
    lines = result.stdout.splitlines()
    assert lines[0] == f"router: {stack.router}"
    running = pids(result.stdout)
    assert set(running) == {"haproxy", "postgres", "valkey", "api-blue", "worker-blue"}
    assert all(psutil.pid_exists(pid) for pid in running.values())
    assert result.stdout.count("healthy") >= 5 and "unhealthy" not in result.stdout


def test_up_again_changes_nothing(stack: Stack) -> None:
    before = pids(stack.cli("stack", "status").stdout)
    again = stack.cli("stack", "up")
    assert again.stdout.splitlines()[0] == f"router: {stack.router}"
    assert pids(again.stdout) == before


def test_busy_port_is_reported_with_its_holder(stack: Stack) -> None:
    other = Stack(Path(tempfile.mkdtemp(prefix="reelgate-busy-")), {**stack.env})
    other.env["REELGATE_HOME"] = str(other.home)
    try:
        result = other.cli("stack", "up", check=False)
        assert result.returncode == 1
        assert "port" in result.stderr and "is held by pid" in result.stderr
        assert "REELGATE_PORT_BASE" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        shutil.rmtree(other.home, ignore_errors=True)


@pytest.mark.slow
def test_down_stops_exactly_what_up_started(stack: Stack) -> None:
    home = Path(tempfile.mkdtemp(prefix="reelgate-cycle-"))
    home.chmod(0o755)
    env = {**stack.env, "REELGATE_HOME": str(home), "REELGATE_PORT_BASE": str(free_port_base())}
    own = Stack(home, env)
    try:
        assert own.cli("stack", "down").stdout.strip() == "stack was not running"
        started = pids(own.cli("stack", "up").stdout)
        assert len(started) == 5
        supervisor = int((home / "var/run/supervisord.pid").read_text())
        assert {p.pid for p in psutil.Process(supervisor).children()} == set(started.values())
        assert own.cli("stack", "down").stdout.strip() == "stack stopped"
        assert not any(psutil.pid_exists(pid) for pid in [*started.values(), supervisor])
        assert (home / "var/log/api-blue.log").exists()
        status = own.cli("stack", "status", check=False)
        assert status.returncode == 1 and "DOWN" in status.stdout
    finally:
        own.cli("stack", "down", check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_a_checkout_the_postgres_user_cannot_enter_keeps_its_data_elsewhere_and_says_so(stack: Stack) -> None:
    """A checkout under a 0700 home folder: PostgreSQL runs as `postgres`, which cannot enter it, so
    its data goes under /var/lib/reelgate/<hash> and `stack up` says where."""
    private = Path(tempfile.mkdtemp(prefix="reelgate-private-"))  # mkdtemp makes it 0700
    home = private / "checkout"
    home.mkdir(mode=0o755)
    env = {**stack.env, "REELGATE_HOME": str(home), "REELGATE_PORT_BASE": str(free_port_base())}
    own = Stack(home, env)
    moved = None
    try:
        up = own.cli("stack", "up")
        found = re.search(r"PostgreSQL data is in (/var/lib/reelgate/[0-9a-f]{12}/pg)", up.stderr)
        assert found, up.stderr
        moved = Path(found.group(1))
        assert (moved / "PG_VERSION").exists() and not (home / "var/pg").exists()
        assert moved.stat().st_uid != 0  # owned by postgres
        assert own.tenant("private").startswith("rg_")  # the database works
    finally:
        own.cli("stack", "down", check=False)
        shutil.rmtree(private, ignore_errors=True)
        if moved is not None:
            shutil.rmtree(moved.parent, ignore_errors=True)
