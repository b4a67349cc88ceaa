"""A real stack of the tests' own (PostgreSQL, Valkey/Redis, HAProxy, API, worker) on a free port base,
and what the tests do with it: its CLI, a tenant, an API client, a signed-in page session."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from reelgate.gates.api import PluginContext
from reelgate.platform.settings import Settings, load_settings

REELGATE = str(Path(sys.executable).parent / "reelgate")
MAX_UPLOAD = 8 * 1024 * 1024


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port_base() -> int:
    rng = random.Random()
    for _ in range(200):
        # Below Linux's ephemeral range (32768-60999): a client socket of some other test must not
        # take one of these ports between this check and the server's bind.
        base = rng.randrange(20000, 32700, 10)
        if all(_free(base + i) for i in range(5)):
            return base
    raise RuntimeError("no free port base found")


class Stack:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.settings: Settings = load_settings(env)
        self.router = f"http://127.0.0.1:{self.settings.port('router')}"
        self.ctx = PluginContext(home=home, port_base=self.settings.port_base, reelgate=REELGATE)
        """What the release runner builds routers and deployers with, for this stack."""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [REELGATE, *args], env=self.env, cwd=self.home, capture_output=True, text=True, timeout=180, check=False
        )
        if check and result.returncode != 0:
            logs = "".join(
                f"\n--- {p.name}\n{p.read_text()[-1500:]}"
                for p in sorted((self.home / "var/log").glob("*.log"))
                if args[:2] == ("stack", "up")
            )
            raise AssertionError(f"reelgate {' '.join(args)} failed ({result.returncode}): {result.stderr}{logs}")
        return result

    def tenant(self, name: str, *extra: str) -> str:
        return self.cli("tenant", "create", name, *extra).stdout.strip().splitlines()[-1]

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.router, headers=headers, timeout=30)

    @property
    def media(self) -> Path:
        return self.settings.media


@contextmanager
def running_stack(**settings: str) -> Iterator[Stack]:
    """A stack of its own, up until the block ends; `settings` are REELGATE_* variables."""
    # Not under pytest's 0700 temp root: the postgres user must be able to enter it.
    home = Path(tempfile.mkdtemp(prefix="reelgate-stack-"))
    home.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    env.update(
        REELGATE_HOME=str(home), REELGATE_PORT_BASE=str(free_port_base()), REELGATE_MAX_UPLOAD_BYTES=str(MAX_UPLOAD)
    )
    env.update(settings)
    running = Stack(home, env)
    try:
        running.cli("stack", "up")  # a failure shows the parts' logs
        yield running
    finally:
        running.cli("stack", "down", check=False)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def sign_in(stack: Stack, key: str) -> Iterator[httpx.Client]:
    """A client holding a page session, as a browser would after the sign-in form."""
    with httpx.Client(base_url=stack.router, headers={"Accept": "text/html"}, timeout=30) as client:
        client.get("/sign-in").raise_for_status()
        response = client.post("/sign-in", data={"api_key": key, "_csrf_token": client.cookies["reelgate_csrf"]})
        assert response.status_code == 303, response.text
        yield client


@contextmanager
def gate_service(
    stack: Stack, policy: Path, log: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`reelgate gate serve --policy POLICY` on a free port with the stack's database, its output in `log`,
    until the block ends; yields its base URL."""
    import signal

    from tests.waiting import wait_for

    port = free_port_base()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [REELGATE, "gate", "serve", "--policy", str(policy), "--port", str(port), *options],
            env=stack.env | (env or {}),
            cwd=stack.home,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the gate service exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, f"the gate service to answer (log: {log})")
        yield url
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def new_gate_token(stack: Stack, *namespaces: str) -> str:
    """A gate service token for `namespaces`, made with the CLI (its last line)."""
    import uuid

    name = f"t-{uuid.uuid4().hex[:8]}"
    flags = [f"--namespace={n}" for n in namespaces]
    return stack.cli("gate", "token", "create", name, *flags).stdout.strip().splitlines()[-1]
