"""The session secret (which also keys playback URLs) is the same for every process that starts at once."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from reelgate.platform.settings import load_settings
from reelgate.platform.web.session import session_secret

PROCESSES = 12


def _secret(home: str, start: Barrier, out: Any) -> None:
    settings = load_settings({"REELGATE_HOME": home})
    start.wait()  # all at once, as the API processes of both colors do when the stack starts
    out.put(session_secret(settings))


def test_processes_starting_together_read_one_whole_secret(tmp_path: Path) -> None:
    fork = multiprocessing.get_context("fork")
    for attempt in range(10):
        home = tmp_path / str(attempt)
        home.mkdir()
        start, out = fork.Barrier(PROCESSES), fork.Queue()
        workers = [fork.Process(target=_secret, args=(str(home), start, out)) for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        seen = [out.get(timeout=10) for _ in workers]
        for worker in workers:
            worker.join(10)
        assert len(set(seen)) == 1 and len(seen[0]) >= 40, seen
        assert [p.name for p in (home / "var" / "secrets").iterdir()] == ["session_key"]  # no drafts left
