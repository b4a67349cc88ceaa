"""The media store's layout. Nothing here uses a name the user chose.

tmp/<uuid>.part                  an upload being received
sources/<video id>               an accepted upload
work/<video id>/attempt-<n>/     one processing attempt's outputs
outputs/<output id>/             finished renditions and the thumbnail, shared by reference
captions/<video id>/<lang>.vtt   caption tracks (the language tag is checked before it names a file)
trash/<epoch>-<id>/<path>        deleted files, kept for the grace period (`media_grace_s`) so a database
                                 restored to before the deletion finds them; then collected
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from uuid import UUID, uuid4

KEPT = ("sources", "outputs", "captions")
"""The folders whose files the database refers to (the rest are transient)."""


class MediaStore:
    def __init__(self, root: Path, grace_s: int = 0) -> None:
        self.root = root
        self.grace_s = grace_s
        for sub in ("tmp", "sources", "work", "outputs", "captions", "trash"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def part_file(self, upload_id: UUID) -> Path:
        return self.root / "tmp" / f"{upload_id}.part"

    def source(self, video_id: UUID) -> Path:
        return self.root / "sources" / str(video_id)

    def attempt_dir(self, video_id: UUID, attempt: int) -> Path:
        path = self.work_dir(video_id) / f"attempt-{attempt}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def drop_attempt(self, video_id: UUID, attempt: int) -> None:
        """This attempt's leftovers and those of older ones (dead, or fenced out: they can never finish), but
        not a newer attempt's, which may be running beside it."""
        for old in range(1, attempt + 1):
            shutil.rmtree(self.work_dir(video_id) / f"attempt-{old}", ignore_errors=True)
        with contextlib.suppress(OSError):  # not empty: a newer attempt is there
            self.work_dir(video_id).rmdir()

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def work_dir(self, video_id: UUID) -> Path:
        return self.root / "work" / str(video_id)

    def output_dir(self, output_id: UUID) -> Path:
        return self.root / "outputs" / str(output_id)

    def captions_dir(self, video_id: UUID) -> Path:
        return self.root / "captions" / str(video_id)

    def resolve(self, relative: str) -> Path:
        """A stored relative path, refused if it would leave the store."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"path {relative!r} leaves the media store")
        return path

    def remove_video_files(self, video_id: UUID) -> None:
        shutil.rmtree(self.work_dir(video_id), ignore_errors=True)
        self.discard([f"sources/{video_id}", f"captions/{video_id}"])

    def discard(self, relatives: Iterable[str]) -> None:
        """Delete stored files (relative paths); with a grace period they move to `trash/` instead, one
        rename each, and `collect` deletes them once it has passed."""
        batch = self.root / "trash" / f"{int(time.time())}-{uuid4().hex[:8]}"
        for relative in relatives:
            path = self.resolve(relative)
            if not path.exists():
                continue
            if self.grace_s <= 0:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
                continue
            kept = batch / relative
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, kept)

    def collect(self, now: float | None = None) -> int:
        """Delete the trash whose grace period has passed; how many batches went."""
        limit = (now or time.time()) - self.grace_s
        gone = 0
        for batch in (self.root / "trash").iterdir():
            stamp = batch.name.split("-", 1)[0]
            if stamp.isdigit() and int(stamp) <= limit:
                shutil.rmtree(batch, ignore_errors=True)
                gone += 1
        return gone

    def untrash(self, relative: str) -> bool:
        """Put a deleted file back from the trash (the newest copy); whether one was there."""
        for batch in sorted((self.root / "trash").iterdir(), reverse=True):
            kept = batch / relative
            if kept.exists():
                target = self.resolve(relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(kept, target)
                return True
        return False


_UNSAFE = re.compile(r"[^\w.\- ()\[\]]+")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def display_text(value: str, limit: int = 500) -> str:
    """Text people read (titles): control characters (PostgreSQL refuses NUL) become spaces, runs of
    white space collapse, and the ends are trimmed."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def safe_filename(name: str | None) -> str:
    """A display name only: the last path component, printable, at most 200 characters.

    `../../etc/passwd` becomes `passwd`. Files on disk are named by id, never by this.
    """
    if not name:
        return "upload"
    name = unicodedata.normalize("NFKC", name).replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:200] or "upload"


def storage_full(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) is a full disk or an exceeded quota."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
