"""The pages' pieces that need no stack: error pages, number formats, the usage chart, redirects."""

from __future__ import annotations

import html
from pathlib import Path
from uuid import uuid4

from litestar import Litestar, get
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from litestar.testing import TestClient

from reelgate.platform.app import _template_globals
from reelgate.platform.http.schemas import Usage, VideoUsage
from reelgate.platform.infra.errors import RateLimited
from reelgate.platform.pipeline.cost import Cost
from reelgate.platform.web import TEMPLATES, formats
from reelgate.platform.web.errors import page_exception_handler, page_internal_error_handler
from reelgate.platform.web.pages import _safe_next


@get("/explode")
async def explode() -> None:
    raise RuntimeError("secret internals /etc/shadow")


@get("/busy")
async def busy() -> None:
    raise RateLimited(
        "This tenant may make 3 requests a minute; try again in 42 seconds.", headers={"Retry-After": "42"}
    )


app = Litestar(
    [explode, busy],
    exception_handlers={HTTPException: page_exception_handler, Exception: page_internal_error_handler},
    template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=_template_globals),
    logging_config=None,
)
HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_500_page_is_plain_and_keeps_the_internals_in_the_log() -> None:
    with TestClient(app) as client:
        page = client.get("/explode", headers={**HTML, "x-request-id": "abc123"})
        problem = client.get("/explode")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Something went wrong on our side</h1>" in page.text
    assert "/etc/shadow" not in page.text and "Traceback" not in page.text
    assert "content-security-policy" in page.headers
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["detail"] in html.unescape(page.text)  # the same sentence either way


def test_429_page_says_when_to_come_back() -> None:
    with TestClient(app) as client:
        page = client.get("/busy", headers=HTML)
    assert page.status_code == 429 and page.headers["retry-after"] == "42"
    assert "try again in 42 seconds" in page.text and "<h1>Too many requests</h1>" in page.text


def test_only_local_paths_are_followed_after_sign_in() -> None:
    assert _safe_next("/videos/1") == "/videos/1"
    for hostile in ("//evil.example", "https://evil.example/", "/\\evil.example", "", None, "javascript:x"):
        assert _safe_next(hostile) == "/library"


def test_formats() -> None:
    assert formats.size(999) == "999 bytes" and formats.size(1_500_000) == "1.5 MB"
    assert formats.size(None) == "—" and formats.size(3_200_000_000) == "3.2 GB"
    assert formats.duration(59.6) == "1:00" and formats.duration(3725) == "1:02:05" and formats.duration(None) == "—"
    assert formats.money(0) == "0 USD" and formats.money(0.00012) == "0.00012 USD"
    assert formats.money(1234.5) == "1,234.50 USD" and formats.money(3.6e-7) == "< 0.000001 USD"
    assert formats.rate(0.00005) == "0.00005"
    assert formats.minutes(2) == "0.03" and formats.minutes(0.1) == "< 0.01" and formats.minutes(0) == "0.00"
    assert formats.minutes(5400) == "90.00"


def test_usage_chart_scales_to_the_most_expensive() -> None:
    def video(title: str, cost: float) -> VideoUsage:
        return VideoUsage(
            id=uuid4(),
            title=title,
            status="ready",
            source_seconds=1,
            output_bytes=1,
            egress_bytes=0,
            cpu_seconds=1,
            cost_estimate=cost,
            cost=Cost(processing=cost, storage=0, egress=0, total=cost),
            cost_per_source_minute=cost * 60,
        )

    usage = Usage(
        tenant="t",
        videos=12,
        source_seconds=1,
        output_bytes=1,
        egress_bytes=0,
        cpu_seconds=1,
        cost_estimate=1,
        cost=Cost(processing=1, storage=0, egress=0, total=1),
        cost_per_source_minute=None,
        currency="USD",
        rates={},
        per_video=[video(f"v{i}", i / 10) for i in range(12)],
    )
    bars = formats.usage_chart(usage)
    assert len(bars) == formats.CHART_BARS and bars[0].label == "v11"
    assert bars[0].width == formats.CHART_WIDTH and bars[-1].width < bars[0].width
    assert (
        formats.usage_chart(
            Usage(
                tenant="t",
                videos=0,
                source_seconds=0,
                output_bytes=0,
                egress_bytes=0,
                cpu_seconds=0,
                cost_estimate=0,
                cost=Cost(processing=0, storage=0, egress=0, total=0),
                cost_per_source_minute=None,
                currency="USD",
                rates={},
                per_video=[],
            )
        )
        == []
    )


def test_every_route_has_a_body_limit(tmp_path: Path) -> None:
    """Only the two upload routes go without Litestar's limit: they stream to disk against
    `max_upload_bytes` themselves. Every other route, pages included, has one."""
    from reelgate.platform.app import create_app
    from reelgate.platform.settings import load_settings

    app = create_app(load_settings({"REELGATE_HOME": str(tmp_path)}))
    unlimited, limits = [], {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                limit = handler.resolve_request_max_body_size()
                limits[(method, route.path)] = limit
                if limit is None:
                    unlimited.append((method, route.path))
    assert sorted(unlimited) == [("POST", "/upload"), ("POST", "/v1/videos")]
    assert limits[("POST", "/sign-in")] == 16 * 1024 and limits[("GET", "/v1/videos")] == 1024 * 1024
