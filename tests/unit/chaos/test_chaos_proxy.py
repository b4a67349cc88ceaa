"""The chaos proxy on real sockets: bytes pass untouched, a latency fault delays both ways, a drop
closes open connections and refuses new ones, and a fault past its end is ignored."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest
import pytest_asyncio

from reelgate.chaos.network import _proxied
from reelgate.chaos.proxy import Fault, Proxy, clear_fault, socket_path, write_fault
from reelgate.platform.settings import Settings, load_settings


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest_asyncio.fixture(loop_scope="function")
async def proxied() -> AsyncIterator[Settings]:
    """A proxy whose `valkey` is an echo server on loopback."""
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = echo.sockets[0].getsockname()[1]
    home = Path(tempfile.mkdtemp(prefix="px"))  # short: a unix socket's path has a limit
    settings = load_settings(
        {"REELGATE_HOME": str(home), "REELGATE_PORT_BASE": str(port - 4), "REELGATE_DEPENDENCY_PROXY": "1"}
    )
    task = asyncio.create_task(Proxy(settings).run())
    for _ in range(250):  # the proxy makes its sockets at once; allow 5 s
        if socket_path(settings, "valkey").exists():
            break
        await asyncio.sleep(0.02)
    yield settings
    task.cancel()
    echo.close()
    shutil.rmtree(home, ignore_errors=True)


# A round trip with no fault in force. Loopback takes well under a millisecond, but a busy 2-core machine
# (a stack starting beside the tests) has taken 117 ms; the smallest fault these tests set adds 300 ms.
UNDELAYED_S = 0.25


async def _round_trip(settings: Settings, payload: bytes = b"ping") -> tuple[bytes, float]:
    reader, writer = await asyncio.open_unix_connection(socket_path(settings, "valkey"))
    started = time.monotonic()
    writer.write(payload)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(1024), 5)
    writer.close()
    return answer, time.monotonic() - started


async def _closed(reading: Awaitable[object]) -> bool:
    """Whether the proxy closed the connection: end of stream, or reset."""
    try:
        answer = await asyncio.wait_for(reading, 2)
    except ConnectionError:
        return True
    return answer == b"" or (isinstance(answer, tuple) and answer[0] == b"")


async def test_bytes_pass_untouched_without_a_fault(proxied: Settings) -> None:
    answer, took = await _round_trip(proxied, b"PING\r\n")
    assert answer == b"PING\r\n" and took < UNDELAYED_S


async def test_latency_delays_each_direction(proxied: Settings) -> None:
    write_fault(proxied, "valkey", Fault(latency_ms=150, until=time.time() + 30))
    await asyncio.sleep(0.15)  # the proxy reads the fault file at most every 0.1 s
    answer, took = await _round_trip(proxied)
    assert answer == b"ping" and 0.3 <= took < 1.0
    clear_fault(proxied, "valkey")
    await asyncio.sleep(0.15)
    assert (await _round_trip(proxied))[1] < UNDELAYED_S


async def test_a_fault_past_its_end_is_ignored(proxied: Settings) -> None:
    """An action killed before it could clear its fault still ends it on time."""
    write_fault(proxied, "valkey", Fault(latency_ms=2000, drop=True, until=time.time() - 1))
    await asyncio.sleep(0.15)
    answer, took = await _round_trip(proxied)
    assert answer == b"ping" and took < UNDELAYED_S


async def test_a_drop_closes_open_connections_and_refuses_new_ones(proxied: Settings) -> None:
    reader, writer = await asyncio.open_unix_connection(socket_path(proxied, "valkey"))
    writer.write(b"hello")
    assert await asyncio.wait_for(reader.read(5), 5) == b"hello"
    write_fault(proxied, "valkey", Fault(drop=True, until=time.time() + 30))
    assert await _closed(reader.read(5))  # an idle connection, closed by the proxy
    writer.close()
    assert await _closed(_round_trip(proxied))  # a new one is refused
    clear_fault(proxied, "valkey")
    await asyncio.sleep(0.15)
    assert (await _round_trip(proxied))[0] == b"ping"


def test_the_network_actions_refuse_a_stack_without_the_proxy(tmp_path: Path) -> None:
    configuration = {"home": str(tmp_path)}
    with pytest.raises(RuntimeError, match="does not reach postgres through the chaos proxy"):
        _proxied("postgres", configuration)
    with pytest.raises(ValueError, match="expected postgres or valkey"):
        _proxied("disk", configuration)
