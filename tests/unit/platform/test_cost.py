"""The cost model: each part at its own price, and the per-minute figure."""

from __future__ import annotations

import pytest

from reelgate.platform.pipeline.cost import cost_of, per_source_minute, rates
from reelgate.platform.settings import Settings


def test_each_part_is_priced_by_its_own_setting() -> None:
    settings = Settings(cost_per_cpu_second=0.001, cost_per_gb_month=0.5, cost_per_egress_gb=2.0)
    spent = cost_of(settings, cpu_seconds=100, output_bytes=2_000_000_000, egress_bytes=500_000_000)
    assert spent.processing == pytest.approx(0.1)
    assert spent.storage == pytest.approx(1.0)
    assert spent.egress == pytest.approx(1.0)
    assert spent.total == pytest.approx(2.1)
    assert rates(settings) == {"per_cpu_second": 0.001, "per_gb_month": 0.5, "per_egress_gb": 2.0}


def test_defaults_price_a_ten_minute_video_in_cents() -> None:
    # The documented defaults: c7i.large per vCPU-second, S3 Standard, data transfer out.
    spent = cost_of(Settings(), cpu_seconds=600 * 2, output_bytes=500_000_000, egress_bytes=0)
    assert spent.processing == pytest.approx(1200 * 0.0000124)
    assert spent.storage == pytest.approx(0.5 * 0.023)
    assert spent.total < 0.30


def test_per_source_minute() -> None:
    assert per_source_minute(0.3, 600) == pytest.approx(0.03)
    assert per_source_minute(0.3, 0) is None
