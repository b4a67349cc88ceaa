"""The one load helper of the tests and the benchmarks: bounded GETs from a keep-alive client, as a browser
would send them, in a thread, recording every failure as what happened (a status or an exception)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import httpx


class Load(threading.Thread):
    """About `rate` GETs of `url` a second until stopped, and never for more than `limit_s` seconds."""

    def __init__(self, url: str, key: str | None = None, rate: float = 100, limit_s: float = 300) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.limit_s = url, rate, limit_s
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.ok = 0
        self.failures: list[str] = []
        self.failed_at: list[float] = []
        """When each failure happened (time.monotonic())."""
        self.stop = threading.Event()

    @property
    def failed(self) -> int:
        return len(self.failures)

    def run(self) -> None:
        deadline = time.monotonic() + self.limit_s
        with httpx.Client(headers=self.headers, timeout=10) as client:
            while not self.stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    answer = client.get(self.url)
                    if answer.status_code == 200:
                        self.ok += 1
                    else:
                        self._failed(f"{answer.status_code}: {answer.text[:200]}")
                except httpx.HTTPError as exc:
                    self._failed(f"{type(exc).__name__}: {exc}")
                time.sleep(max(0.0, 1 / self.rate - (time.monotonic() - started)))

    def _failed(self, what: str) -> None:
        self.failures.append(what)
        self.failed_at.append(time.monotonic())

    def __enter__(self) -> Load:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop.set()
        self.join()
