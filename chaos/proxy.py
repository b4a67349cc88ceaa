"""A proxy between the platform and its dependencies, which experiments slow down or cut.

This kernel has no `tc netem`, so faults on the wire are made the way Toxiproxy makes them: the API
and worker reach PostgreSQL and Valkey through this proxy (unix sockets under `var/run/proxy/`, when
the stack's `dependency_proxy` setting is on; `reelgate chaos run` turns it on for its own stack),
and a fault file per dependency says what to do to the bytes:

- `latency_ms`: each chunk waits this long before it is passed on, in both directions;
- `drop`: every open connection is closed and new ones are refused.

A fault carries its own end (`until`, a Unix time): the proxy ignores an expired one, so the fault
ends on time even when the action that set it was killed. Without a fault the bytes pass untouched.

Run by the stack's supervisor: `python -m reelgate.chaos.proxy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from pathlib import Path

import msgspec

from reelgate.platform.settings import Settings, load_settings

PARTS = ("postgres", "valkey")
CHUNK = 64 * 1024
log = logging.getLogger("reelgate.chaos.proxy")


class Fault(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    latency_ms: float = 0
    drop: bool = False
    until: float = 0
    """Unix time when the fault ends by itself."""

    @property
    def active(self) -> bool:
        return time.time() < self.until


NO_FAULT = Fault()


def socket_path(settings: Settings, part: str) -> Path:
    # PostgreSQL clients find a server's socket as `.s.PGSQL.<port>` in a folder (libpq's `host`).
    name = f".s.PGSQL.{settings.port('postgres')}" if part == "postgres" else "valkey.sock"
    return settings.proxy_dir / name


def fault_file(settings: Settings, part: str) -> Path:
    return settings.proxy_dir / f"{part}.fault.json"


def write_fault(settings: Settings, part: str, fault: Fault) -> None:
    path = fault_file(settings, part)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(msgspec.json.encode(fault))
    os.replace(tmp, path)


def clear_fault(settings: Settings, part: str) -> None:
    fault_file(settings, part).unlink(missing_ok=True)


class Faults:
    """The current fault of each part, read from its file at most every 0.1 s."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._read: dict[str, tuple[float, Fault]] = {}

    def current(self, part: str) -> Fault:
        now = time.monotonic()
        checked, fault = self._read.get(part, (0.0, NO_FAULT))
        if now - checked > 0.1:
            try:
                fault = msgspec.json.decode(fault_file(self.settings, part).read_bytes(), type=Fault)
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                fault = NO_FAULT
            self._read[part] = (now, fault)
        return fault if fault.active else NO_FAULT


class Proxy:
    def __init__(self, settings: Settings, faults: Faults | None = None) -> None:
        self.settings = settings
        self.faults = faults or Faults(settings)
        self.open: dict[str, set[asyncio.StreamWriter]] = {part: set() for part in PARTS}

    async def _pipe(self, part: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(CHUNK):
                fault = self.faults.current(part)
                if fault.drop:
                    break
                if fault.latency_ms:
                    await asyncio.sleep(fault.latency_ms / 1000)
                writer.write(data)
                await writer.drain()

    async def _serve(self, part: str, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.faults.current(part).drop:
            client_w.close()
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.settings.port(part))
        except OSError:
            client_w.close()  # as the dependency itself would: the client sees the connection refused
            return
        ends = {client_w, upstream_w}
        self.open[part] |= ends
        try:
            await asyncio.wait(
                [
                    asyncio.create_task(self._pipe(part, client_r, upstream_w)),
                    asyncio.create_task(self._pipe(part, upstream_r, client_w)),
                ],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            self.open[part] -= ends
            for end in ends:
                end.close()

    async def _cut_when_dropped(self) -> None:
        """Idle pooled connections carry no bytes to notice a drop by: close them from here."""
        while True:
            for part in PARTS:
                if self.faults.current(part).drop and self.open[part]:
                    log.warning("%s: dropping %d connection ends", part, len(self.open[part]))
                    for end in list(self.open[part]):
                        end.close()
            await asyncio.sleep(0.1)

    async def run(self) -> None:
        self.settings.proxy_dir.mkdir(parents=True, exist_ok=True)
        servers = []
        for part in PARTS:
            path = socket_path(self.settings, part)
            path.unlink(missing_ok=True)
            servers.append(await asyncio.start_unix_server(functools.partial(self._serve, part), path=path))
            path.chmod(0o666)
            log.info("%s: %s -> 127.0.0.1:%d", part, path, self.settings.port(part))
        await self._cut_when_dropped()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(Proxy(load_settings()).run())


if __name__ == "__main__":
    main()
