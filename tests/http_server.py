"""A real HTTP server on a free loopback port, in a thread, for tests that need something to answer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def serving(handler: Callable[..., BaseHTTPRequestHandler] | Any) -> Iterator[str]:
    """Serve with `handler` (a request handler class, or a `partial` of one) until the block ends; yields
    the base URL, `http://127.0.0.1:<port>`."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class Candidate:
    """A stand-in candidate for the gate service's tests and bench: every GET answers `{"state": ...}` (what
    the test sets: `wait`, `good`, `bad`), counting the asks and keeping the last `X-Key` header sent."""

    def __init__(self, state: str = "wait") -> None:
        self.state, self.asked, self.key = state, 0, ""
        self.lock = threading.Lock()

    def set(self, state: str) -> None:
        self.state = state


class _CandidateHandler(BaseHTTPRequestHandler):
    def __init__(self, candidate: Candidate, *args: Any) -> None:
        self.candidate = candidate
        super().__init__(*args)

    def do_GET(self) -> None:
        with self.candidate.lock:
            self.candidate.asked += 1
            self.candidate.key = self.headers.get("X-Key", "")
        body = json.dumps({"state": self.candidate.state}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        return None


@contextmanager
def serving_candidate(candidate: Candidate) -> Iterator[str]:
    """Serve `candidate` until the block ends; yields its base URL."""
    with serving(partial(_CandidateHandler, candidate)) as url:
        yield url


class Receiver:
    """A webhook receiver for the notification tests: records every POST (path, headers, body, time) and
    answers each path from its script, then 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes, float]] = []
        self.script: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.lock = threading.Lock()

    def on(self, path: str) -> list[tuple[str, dict[str, str], bytes, float]]:
        return [p for p in self.posts if p[0] == path]


class _ReceiverHandler(BaseHTTPRequestHandler):
    def __init__(self, receiver: Receiver, *args: Any) -> None:
        self.receiver = receiver
        super().__init__(*args)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.receiver.lock:
            self.receiver.posts.append((self.path, dict(self.headers), body, time.monotonic()))
            script = self.receiver.script.get(self.path) or []
            status, headers = script.pop(0) if script else (200, {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:
        return None


@contextmanager
def receiving() -> Iterator[tuple[Receiver, str]]:
    """A Receiver on a free loopback port until the block ends; yields it and its base URL."""
    found = Receiver()
    with serving(partial(_ReceiverHandler, found)) as url:
        yield found, url
