"""The disaster-recovery drill (tests/integration/drill.py) as a benchmark: a stack with backups on at the
shipped `archive_timeout_s` (30 s), a minute of load (uploads, processing, reads, releases, canaries, media
snapshots every 15 s), then the disk lost and `reelgate restore --to latest`.

The disaster strikes 25 s after the newest WAL segment the drill waited for was archived, near the worst
case of the archive's bound. Baselines in the same run: the RPO against that bound (`archive_timeout_s`),
and the RTO against a cold `stack up` of the same stack."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import Result, save
from tests.integration import drill
from tests.integration.stack import running_stack

ARCHIVE_TIMEOUT_S = 30


def run() -> list[Result]:
    backups = Path(tempfile.mkdtemp(prefix="reelgate-bench-backups-"))
    settings = {
        "REELGATE_BACKUP_DIR": str(backups),
        "REELGATE_ARCHIVE_TIMEOUT_S": str(ARCHIVE_TIMEOUT_S),
        "REELGATE_MAX_UPLOAD_BYTES": str(300 * 1024**2),
    }
    try:
        with running_stack(**settings) as stack, tempfile.TemporaryDirectory() as work:
            stack.cli("stack", "down")
            started = time.monotonic()
            stack.cli("stack", "up")
            cold = time.monotonic() - started
            figures = drill.run(stack, Path(work), load_s=60, media_every_s=15, tail_s=25)
    finally:
        shutil.rmtree(backups, ignore_errors=True)
    figures.pop("key")
    ok = not figures["lost"] and not figures["missing_files"] and figures["in_flight"]["after"] in ("ready", None)
    details = {**figures, "cold_stack_up_s": round(cold, 2), "cores": os.cpu_count()}
    return [
        save(Result(
            name="backup-drill-rpo", metric="database RPO (disaster minus newest canary row restored)",
            value=figures["rpo_database_s"], baseline_metric="archive_timeout_s (the bound)",
            baseline=ARCHIVE_TIMEOUT_S, ratio=figures["rpo_database_s"] / ARCHIVE_TIMEOUT_S,
            goal="<= 60 s, nothing in the manifest lost", met=ok and figures["rpo_database_s"] <= 60,
            unit="s", details=details,
        )),
        save(Result(
            name="backup-drill-rto", metric="RTO (restore start to API healthy and a new upload ready)",
            value=figures["rto_s"], baseline_metric="cold stack up", baseline=cold,
            ratio=figures["rto_s"] / cold, goal="<= 300 s", met=ok and figures["rto_s"] <= 300, unit="s",
            details=details,
        )),
    ]  # fmt: skip
