"""The disk actions fill only a bounded volume of their own: on a real 64 MiB loop volume, `fill` takes
every byte for its time and gives it back; an ordinary folder (the real disk) is refused."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from reelgate.chaos.disk import FILLER, fill, free, mount_volume, unmount_volume


def test_fill_refuses_a_folder_that_is_not_a_volume_of_its_own(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="never the real disk"):
        fill(1, configuration={"home": str(tmp_path)})
    assert not (tmp_path / "var/media" / FILLER).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a loop volume needs root")
def test_fill_takes_the_volume_for_its_time_and_gives_it_back(tmp_path: Path) -> None:
    media = tmp_path / "var" / "media"
    mount_volume(media, tmp_path / "media.img", 64)
    try:
        assert os.path.ismount(media) and (tmp_path / "media.img").stat().st_size == 64 * 1024**2
        before = shutil.disk_usage(media).free
        seen: list[int] = []
        probe = threading.Timer(1.0, lambda: seen.append(shutil.disk_usage(media).free))
        probe.start()
        started = time.monotonic()
        outcome = fill(2, configuration={"home": str(tmp_path)})
        assert 2 <= time.monotonic() - started < 10
        assert seen and seen[0] < 1024**2  # full while the fault lasted
        assert outcome["free_mb"] < 1 and outcome["filled_mb"] > 50
        assert shutil.disk_usage(media).free == before and not (media / FILLER).exists()
        assert free(configuration={"home": str(tmp_path)}) == "free"
    finally:
        unmount_volume(media)
    assert not os.path.ismount(media)
