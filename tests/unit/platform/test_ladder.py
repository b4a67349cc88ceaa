from __future__ import annotations

import pytest

from reelgate.platform.pipeline.ladder import Rung, displayed_size, ladder_key, plan

RUNGS = [1080, 720, 480, 360]


def sizes(rungs: list[Rung]) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in rungs]


def test_1080p_landscape_gets_every_rung() -> None:
    assert sizes(plan(1920, 1080, RUNGS)) == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]


def test_never_upscales() -> None:
    assert [r.name for r in plan(1280, 720, RUNGS)] == ["720p", "480p", "360p"]
    assert [r.name for r in plan(854, 480, RUNGS)] == ["480p", "360p"]


def test_portrait_is_planned_by_its_short_side() -> None:
    assert sizes(plan(1080, 1920, RUNGS))[:2] == [("1080p", 1080, 1920), ("720p", 720, 1280)]


def test_rotation_swaps_the_displayed_size() -> None:
    assert displayed_size(1920, 1080, 90) == (1080, 1920)
    assert displayed_size(1920, 1080, -90) == (1080, 1920)
    assert displayed_size(1920, 1080, 180) == (1920, 1080)
    assert displayed_size(1920, 1080, 270) == (1080, 1920)
    assert displayed_size(1920, 1080, 0) == (1920, 1080)


def test_tiny_source_gets_one_rendition_at_its_own_even_size() -> None:
    assert sizes(plan(320, 240, RUNGS)) == [("240p", 320, 240)]
    assert sizes(plan(175, 143, RUNGS)) == [("144p", 176, 144)]
    assert sizes(plan(1, 1, RUNGS)) == [("2p", 2, 2)]


def test_odd_sizes_give_even_dimensions() -> None:
    for rung in plan(1921, 1081, RUNGS) + plan(999, 1777, RUNGS) + plan(641, 361, RUNGS):
        assert rung.width % 2 == 0 and rung.height % 2 == 0


def test_ultra_wide_keeps_its_aspect() -> None:
    top = plan(2560, 1080, RUNGS)[0]
    assert (top.width, top.height) == (2560, 1080)
    assert plan(2560, 1080, RUNGS)[1].width == 1706  # 2560 * 720 / 1080, rounded to even


def test_bitrate_falls_with_the_rung() -> None:
    rates = [r.max_kbps for r in plan(1920, 1080, RUNGS)]
    assert rates == sorted(rates, reverse=True)


def test_invalid_size_is_refused() -> None:
    with pytest.raises(ValueError):
        plan(0, 1080, RUNGS)


def test_ladder_key_ignores_order_and_duplicates() -> None:
    assert ladder_key([360, 720, 720]) == ladder_key([720, 360])
    assert ladder_key([720]) != ladder_key([720, 360])
    assert ladder_key([720], hls=True) != ladder_key([720])
    assert ladder_key([720], hls=True, mp4=False) != ladder_key([720], hls=True)
