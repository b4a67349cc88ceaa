"""The dead man's switch runs an action's rollback when the action's process could not (killed), and
does nothing once the action disarmed it."""

from __future__ import annotations

from pathlib import Path

from reelgate.chaos.deadman import arm, armed
from reelgate.chaos.disk import FILLER


def _filler(home: Path) -> Path:
    media = home / "var" / "media"
    media.mkdir(parents=True)
    (media / FILLER).write_bytes(b"\0" * 1024)
    return media / FILLER


def test_an_armed_switch_runs_the_rollback_when_nobody_disarms_it(tmp_path: Path) -> None:
    filler = _filler(tmp_path)
    switch = arm(0.2, "reelgate.chaos.disk", "free", {}, {"home": str(tmp_path)}, grace_s=0)
    assert switch.wait(30) == 0  # as if the action had been killed: the switch frees the volume itself
    assert not filler.exists()


def test_the_end_of_the_block_disarms_it(tmp_path: Path) -> None:
    filler = _filler(tmp_path)
    with armed(0.5, "reelgate.chaos.disk", "free", {}, {"home": str(tmp_path)}) as switch:
        pass
    assert switch.returncode == -15 and filler.exists()  # terminated before its time: nothing ran
