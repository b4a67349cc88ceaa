"""Media and secrets backups with restic (Debian's `restic`): deduplicated, encrypted with the backup key, and
checked by `restic check`. Two repositories: `media` (the media folder; its files are immutable, so each
snapshot adds only what is new) and `secrets` (the session key and database passwords), kept apart from the
data so a restore onto a new machine can get them back with the key alone."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from reelgate.platform.backup.tool import run_tool
from reelgate.platform.settings import Settings
from reelgate.platform.stack.paths import StackError

KEEP = ("--keep-last", "48", "--keep-daily", "14", "--keep-weekly", "8")
"""Retention of each repository's snapshots (`backup run` forgets the rest)."""


def repository(settings: Settings, name: str) -> Path:
    return Path(settings.backup_dir).resolve() / name


def make_key(settings: Settings) -> None:
    """The backup key for new repositories (0600), unless there is one; a copy must be kept apart from them."""
    path = settings.backup_key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(secrets.token_urlsafe(32) + "\n")
        path.chmod(0o600)


def run(settings: Settings, name: str, *args: str, timeout: float = 3600) -> str:
    """One restic command on repository `name`; its output, or a StackError with its last words."""
    if not settings.backup_key.exists():
        raise StackError(
            f"the backup key {settings.backup_key} is missing: put back the copy kept apart from the backups "
            "(or point backup_key_file at it); without it they cannot be read"
        )
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repository(settings, name)),
        "RESTIC_PASSWORD_FILE": str(settings.backup_key),
        "RESTIC_CACHE_DIR": str(settings.var / "cache" / "restic"),
    }
    return run_tool(["restic", "--quiet", *args], env, timeout, f"restic {args[0]} on {name}", "restic")


def ensure(settings: Settings, name: str) -> None:
    if not (repository(settings, name) / "config").exists():
        make_key(settings)
        run(settings, name, "init")


def snapshots(settings: Settings, name: str) -> list[dict[str, Any]]:
    if not (repository(settings, name) / "config").exists():
        return []
    found: list[dict[str, Any]] = json.loads(run(settings, name, "snapshots", "--json") or "[]")
    return sorted(found, key=lambda s: str(s["time"]))


def restore_into(settings: Settings, name: str, snapshot: dict[str, Any], target: Path) -> None:
    """A snapshot's folder (or files) put into `target`, wherever it was when the snapshot was taken (a new
    machine may keep the stack elsewhere): restored beside the target first, then each file moved in, so
    files only the target has stay (the media check sorts them out)."""
    target.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.restoring"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        run(settings, name, "restore", snapshot["id"], "--target", str(staging))
        for taken in snapshot["paths"]:
            origin = staging / taken.lstrip("/")
            if origin.is_file():  # the secrets: single files of one folder
                os.replace(origin, target / origin.name)
                continue
            for path in sorted(origin.rglob("*")):
                if path.is_file():
                    placed = target / path.relative_to(origin)
                    placed.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, placed)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
