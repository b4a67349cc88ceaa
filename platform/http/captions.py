"""Caption tracks: /v1/videos/{id}/captions/{lang}, and the functions the pages share with it.

A track is checked (`webvtt.parse`) and stored as WebVTT, whether it came as
WebVTT or SubRip, so every browser's `<track>` reads it. One track per video
and language; sending the same language again replaces it.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, put
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from reelgate.platform import repo
from reelgate.platform.http.auth import current_tenant
from reelgate.platform.http.schemas import Caption
from reelgate.platform.infra.errors import problem_responses
from reelgate.platform.pipeline import webvtt
from reelgate.platform.services.captions import remove, save, track_file


class CaptionController(Controller):
    path = "/v1/videos/{video_id:uuid}/captions"
    tags = ["captions"]
    dependencies = {"tenant": Provide(current_tenant)}

    @put(
        "/{lang:str}",
        operation_id="putCaptions",
        request_max_body_size=webvtt.MAX_BYTES,
        summary="Add or replace the captions in one language (the body: a WebVTT or SubRip file)",
        responses=problem_responses(400, 401, 404, 413, 422, 429),
    )
    async def put_captions(
        self,
        request: Request[Any, Any, Any],
        state: State,
        tenant: repo.TenantRow,
        video_id: UUID,
        lang: str,
        label: Annotated[
            str | None, Parameter(max_length=100, description="Shown in the player's menu; default: the language tag")
        ] = None,
    ) -> Caption:
        # The raw body, whatever its content type: the file itself says whether it is WebVTT or SubRip.
        return await save(state, tenant, video_id, lang, label, await request.body())

    @get(
        "/{lang:str}",
        operation_id="getCaptions",
        summary="The captions in one language, as WebVTT",
        media_type="text/vtt",
        responses=problem_responses(400, 401, 404, 422, 429),
    )
    async def get_captions(self, state: State, tenant: repo.TenantRow, video_id: UUID, lang: str) -> Response[bytes]:
        return await track_file(state, tenant, video_id, lang)

    @delete(
        "/{lang:str}",
        operation_id="deleteCaptions",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove the captions in one language",
        responses=problem_responses(400, 401, 404, 422, 429),
    )
    async def delete_captions(self, state: State, tenant: repo.TenantRow, video_id: UUID, lang: str) -> None:
        await remove(state, tenant, video_id, lang)
