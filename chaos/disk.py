"""Actions on the media volume: fill it up for N seconds, and free it again.

They act only on a volume of bounded size mounted at the stack's media folder (a loop file that
`reelgate chaos run` makes and mounts; see `mount_volume`), never on the real disk: an unmounted
media folder, or a volume larger than MAX_VOLUME_BYTES, is refused. The loop file is allocated in
full when it is made, so filling the volume takes no more of the real disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from reelgate.chaos.deadman import armed
from reelgate.chaos.services import bounded
from reelgate.chaos.stack import settings_for

MAX_VOLUME_BYTES = 4 * 1024**3
FILLER = ".chaos-filler"


def _volume(configuration: dict[str, Any] | None) -> Path:
    media = settings_for(configuration).media
    if not os.path.ismount(media):
        raise RuntimeError(
            f"{media} is not a volume of its own: the disk actions fill only a bounded volume, never the real "
            "disk (`reelgate chaos run` mounts one)"
        )
    total = shutil.disk_usage(media).total
    if total > MAX_VOLUME_BYTES:
        raise RuntimeError(f"{media} holds {total / 1024**3:.1f} GiB; the disk actions fill at most 4 GiB")
    return media


def _fill(path: Path, leave_bytes: int) -> int:
    """Allocate `path` until the volume has `leave_bytes` free (or none); return the bytes taken.
    fallocate, not writes: the volume is full at once, not over the seconds writing would take."""
    taken, want = 0, shutil.disk_usage(path.parent).free
    with path.open("wb") as fh:
        while want >= 4096 and (free := shutil.disk_usage(path.parent).free) > leave_bytes:
            size = min(want, free - leave_bytes)
            try:
                os.posix_fallocate(fh.fileno(), taken, size)
                taken += size
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                want = size // 2  # the file's own block map takes room too: ask for less
        return os.fstat(fh.fileno()).st_blocks * 512  # a refused call may have allocated part of it


def fill(seconds: float, leave_mb: float = 0, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill the media volume to `leave_mb` free for `seconds`, then free it (in a `finally`)."""
    bounded(seconds)
    media = _volume(configuration)
    filler = media / FILLER
    started = time.monotonic()
    with armed(seconds, __name__, "free", {}, configuration):
        try:
            written = _fill(filler, int(leave_mb * 1024**2))
            left = shutil.disk_usage(media).free
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        finally:
            filler.unlink(missing_ok=True)
    return {"part": "media", "filled_mb": round(written / 1024**2, 1), "free_mb": round(left / 1024**2, 1)}


def free(configuration: dict[str, Any] | None = None) -> str:
    """Rollback of `fill`: the filler file is gone."""
    media = settings_for(configuration).media
    (media / FILLER).unlink(missing_ok=True)
    return "free"


def mount_volume(folder: Path, image: Path, size_mb: int) -> None:
    """Make `folder` a new, empty `size_mb` ext4 volume in the loop file `image` (allocated in full, no
    reserved blocks). A folder already mounted is left as it is. Needs root.

    Empty each time: the experiments store their clips there, and a volume kept from run to run would
    fill up by itself (what the stack's database says of older videos' files no longer holds)."""
    if os.path.ismount(folder):
        return
    if size_mb * 1024**2 > MAX_VOLUME_BYTES:
        raise ValueError(f"expected a volume of at most {MAX_VOLUME_BYTES // 1024**2} MiB, found {size_mb}")
    folder.mkdir(parents=True, exist_ok=True)
    image.unlink(missing_ok=True)
    with image.open("wb") as fh:
        os.posix_fallocate(fh.fileno(), 0, size_mb * 1024**2)
    _run("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
    _run("mount", "-o", "loop", str(image), str(folder))


def unmount_volume(folder: Path) -> None:
    with contextlib.suppress(RuntimeError):
        if os.path.ismount(folder):
            _run("umount", str(folder))


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
