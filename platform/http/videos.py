"""/v1/videos and /v1/usage: the end user's API."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import JSONBody, Parameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from reelgate.platform import repo
from reelgate.platform.http.auth import current_tenant, who
from reelgate.platform.http.schemas import Playback, Usage, Video, VideoPage, VideoUpdate
from reelgate.platform.infra.db import tenant_db
from reelgate.platform.infra.errors import problem_responses
from reelgate.platform.pipeline.media import display_text
from reelgate.platform.services.videos import (
    accept_upload,
    event_stream,
    load,
    load_json,
    not_found,
    page_of_videos,
    remove,
    serve_file,
    signed_playback,
    usage_for,
)


class VideoController(Controller):
    path = "/v1"
    tags = ["videos"]
    dependencies = {"tenant": Provide(current_tenant)}

    @post(
        "/videos",
        operation_id="uploadVideo",
        status_code=HTTP_202_ACCEPTED,
        # The body is streamed to disk under our own limit; Litestar's buffering limit does not apply.
        request_max_body_size=None,
        summary="Upload a video (multipart/form-data: `file`, optional `title`)",
        responses=problem_responses(400, 401, 413, 415, 422, 429),
    )
    async def upload(self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow) -> Response[Video]:
        video = await accept_upload(request, state, tenant)
        return Response(video, status_code=HTTP_202_ACCEPTED, headers={"Location": video.url})

    @get(
        "/videos",
        operation_id="listVideos",
        summary="The tenant's videos, newest first",
        responses=problem_responses(400, 401, 429),
    )
    async def list_videos(
        self,
        state: State,
        tenant: repo.TenantRow,
        limit: Annotated[int, Parameter(ge=1, le=100, description="Videos per page")] = 20,
        cursor: Annotated[str | None, Parameter(description="`next_cursor` of the previous page")] = None,
    ) -> VideoPage:
        items, next_cursor = await page_of_videos(
            state, tenant, limit, cursor, "The cursor is not one this API gave out."
        )
        return VideoPage(items=items, next_cursor=next_cursor)

    @get(
        "/videos/{video_id:uuid}",
        operation_id="getVideo",
        summary="One video and its renditions",
        responses=problem_responses(400, 401, 404, 429),
    )
    async def get_video(self, state: State, tenant: repo.TenantRow, video_id: UUID) -> Video | Response[bytes]:
        # The cached JSON is already what the API would encode: send it as it is.
        return Response(await load_json(state, tenant, video_id), media_type=MediaType.JSON)

    @patch(
        "/videos/{video_id:uuid}",
        operation_id="updateVideo",
        summary="Change a video's title",
        request_max_body_size=64 * 1024,
        responses=problem_responses(400, 401, 404, 413, 429),
    )
    async def update_video(
        self, state: State, tenant: repo.TenantRow, video_id: UUID, data: JSONBody[VideoUpdate]
    ) -> Video:
        async with tenant_db(state, tenant) as conn:
            if not await repo.rename_video(conn, tenant.id, video_id, display_text(data.title)):
                raise not_found(video_id)
        await state.cache.invalidate(str(tenant.id), str(video_id))
        return await load(state, tenant, video_id)

    @delete(
        "/videos/{video_id:uuid}",
        operation_id="deleteVideo",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a video; renditions shared with another video stay",
        responses=problem_responses(400, 401, 404, 429),
    )
    async def delete_video(
        self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow, video_id: UUID
    ) -> None:
        await remove(state, tenant, video_id, who(request))

    @get(
        "/videos/{video_id:uuid}/renditions/{name:str}",
        operation_id="downloadRendition",
        summary="Download a rendition (HTTP Range supported)",
        media_type="video/mp4",
        responses=problem_responses(400, 401, 404, 416, 429),
    )
    async def rendition(
        self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow, video_id: UUID, name: str
    ) -> Response[Any]:
        return await serve_file(request, state, tenant, video_id, name, "video/mp4")

    @get(
        "/videos/{video_id:uuid}/thumbnail",
        operation_id="downloadThumbnail",
        summary="The video's JPEG thumbnail",
        media_type="image/jpeg",
        responses=problem_responses(400, 401, 404, 416, 429),
    )
    async def thumbnail(
        self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow, video_id: UUID
    ) -> Response[Any]:
        return await serve_file(request, state, tenant, video_id, None, "image/jpeg")

    @get(
        "/videos/{video_id:uuid}/playback",
        operation_id="videoPlayback",
        summary="Signed, expiring URLs to play the video (HLS master playlist, MP4 fallbacks) without the key",
        responses=problem_responses(400, 401, 404, 409, 429),
    )
    async def playback_urls(self, state: State, tenant: repo.TenantRow, video_id: UUID) -> Playback:
        return await signed_playback(state, tenant, video_id)

    @get(
        "/videos/{video_id:uuid}/events",
        operation_id="videoEvents",
        summary="Server-sent events: status and progress until ready or failed",
        responses=problem_responses(400, 401, 404, 429),
    )
    async def events(self, state: State, tenant: repo.TenantRow, video_id: UUID) -> ServerSentEvent:
        video = await load(state, tenant, video_id)
        return ServerSentEvent(event_stream(state, tenant, video))

    @get(
        "/usage",
        operation_id="getUsage",
        summary="Processing and storage used by this tenant, with costs",
        responses=problem_responses(401, 429),
    )
    async def usage(self, state: State, tenant: repo.TenantRow) -> Usage:
        return await usage_for(state, tenant)
