"""Session fixtures every test may use; the helpers live in modules of their own (`tests.media`,
`tests.waiting`, `tests.integration.stack`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.media import make_clip

# The helpers reelgate ships for third-party gate authors, used by our own tests too.
pytest_plugins = ["reelgate.gates.testing"]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed; run scripts/bootstrap")
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """2 s, 320x240, H.264 + AAC."""
    return make_clip(media_dir / "clip.mp4")
