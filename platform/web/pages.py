"""The pages: sign in, library, upload, video, usage. Session-authenticated, CSRF-protected.

Each page reads through the same functions as /v1 (`reelgate.platform.http.videos`),
so a page and the API never disagree. Forms post without JavaScript; the upload
form also streams through XHR with the CSRF token in a header, for its progress
bar, and the video page follows processing over its own event stream.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import Provide
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_303_SEE_OTHER

from reelgate.platform import repo
from reelgate.platform.http import playback
from reelgate.platform.http.auth import client_address, count_failure, key_label, refuse_if_throttled, who
from reelgate.platform.http.uploads import Received
from reelgate.platform.infra.db import connection, tenant_db
from reelgate.platform.pipeline import webvtt
from reelgate.platform.services import captions, videos
from reelgate.platform.web import session
from reelgate.platform.web.csrf import CSRF_EXPIRED, CSRF_HEADER, CSRFFailed, valid_csrf
from reelgate.platform.web.formats import usage_chart

PAGE_SIZE = 12


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never `//evil.example` or a full URL."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/library"


def _sign_in_context(state: State, next_page: str | None, error: str | None = None) -> dict[str, Any]:
    hours = state.settings.session_max_age_s / 3600
    return {
        "next": _safe_next(next_page),
        "error": error,
        "nav": "sign-in",
        "session_length": f"{hours:g} hours" if hours != 1 else "1 hour",
    }


NOTICES = {
    "captions-added": "The captions were saved. Choose them in the player's captions menu.",
    "captions-removed": "The captions were removed.",
}


async def _video_page(
    state: State,
    tenant: repo.TenantRow,
    video_id: UUID,
    notice: str | None = None,
    caption_error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    video = await videos.load(state, tenant, video_id)
    ready = video.status == "ready"
    return Template(
        "video.html",
        status_code=status,
        context={
            "tenant": tenant,
            "nav": "library",
            "video": video,
            "playback": playback.urls(state.session_secret, video, state.settings.playback_ttl_s) if ready else None,
            "notice": notice,
            "caption_error": caption_error,
            "form": form or {"lang": "en", "label": "English"},
        },
    )


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return "application/json" in request.headers.get("accept", "")


class PublicPages(Controller):
    """Pages before sign-in."""

    include_in_schema = False

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Redirect:
        return Redirect("/library" if session.signed_in_key(request) else "/sign-in", status_code=HTTP_303_SEE_OTHER)

    @get("/sign-in")
    async def sign_in_form(self, state: State, next: str | None = None) -> Template:  # noqa: A002 - the query's name
        return Template("sign_in.html", context=_sign_in_context(state, next))

    @post("/sign-in", request_max_body_size=16 * 1024)
    async def sign_in(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        form = await request.form()
        key = str(form.get("api_key", "")).strip()
        target = _safe_next(str(form.get("next", "")))
        found = None
        if key:
            client = client_address(request)
            await refuse_if_throttled(state, client, key)
            async with connection(state.pool) as conn:
                found = await repo.sign_in_key(conn, key)
                actor = key_label(key)
                if found is None:
                    await repo.record(conn, "auth.failed", actor=actor, address=client, via="page")
                else:
                    tenant = found[0]
                    await repo.record(
                        conn, "auth.sign_in", actor=actor, address=client, tenant_id=tenant.id, tenant=tenant.name
                    )
            if found is None:
                await count_failure(state, client, key)
        if found is None:
            error = "That API key is not valid. Check that you copied all of it." if key else "Enter your API key."
            return Template("sign_in.html", status_code=401, context=_sign_in_context(state, target, error))
        response: Response[Any] = Redirect(target, status_code=HTTP_303_SEE_OTHER)
        session.start(request, response, found[1])
        return response

    @post("/sign-out", request_max_body_size=16 * 1024)
    async def sign_out(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        key_id = session.signed_in_key(request)
        if key_id is not None:
            async with connection(state.pool) as conn:
                tenant = await repo.tenant_for_key_id(conn, key_id)
                if tenant is not None:
                    await repo.record(
                        conn,
                        "auth.sign_out",
                        actor=f"session:{key_id}",
                        address=client_address(request),
                        tenant_id=tenant.id,
                        tenant=tenant.name,
                    )
        response: Response[Any] = Redirect("/sign-in?signed_out=1", status_code=HTTP_303_SEE_OTHER)
        session.end(response)
        return response


class Pages(Controller):
    """Pages behind sign-in."""

    include_in_schema = False
    dependencies = {"tenant": Provide(session.page_tenant)}

    @get("/library")
    async def library(
        self, state: State, tenant: repo.TenantRow, cursor: str | None = None, deleted: str | None = None
    ) -> Template:
        items, next_cursor = await videos.page_of_videos(
            state, tenant, PAGE_SIZE, cursor, "That page of the library does not exist; start from the first page."
        )
        return Template(
            "library.html",
            context={
                "tenant": tenant,
                "nav": "library",
                "videos": items,
                "deleted": deleted,
                "next_url": f"/library?{urlencode({'cursor': next_cursor})}" if next_cursor else None,
                "first_url": "/library" if cursor else None,
            },
        )

    @get("/library/status")
    async def library_status(
        self, state: State, tenant: repo.TenantRow, id: list[UUID] | None = None
    ) -> dict[str, Any]:  # noqa: A002 - the query's name
        """Where the library's unfinished videos are, so the page can update them in place."""
        async with tenant_db(state, tenant) as conn:
            found = await repo.video_states(conn, tenant.id, (id or [])[: PAGE_SIZE * 4])
        return {
            "videos": [
                {"id": str(v), "status": status, "progress": round(progress, 3)} for v, status, progress in found
            ]
        }

    @get("/upload")
    async def upload_form(self, state: State, tenant: repo.TenantRow) -> Template:
        return Template(
            "upload.html", context={"tenant": tenant, "nav": "upload", "max_bytes": state.settings.max_upload_bytes}
        )

    @post("/upload", request_max_body_size=None, opt={"exclude_from_csrf": True})
    async def upload(self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow) -> Response[Any]:
        # Litestar's CSRF middleware would parse (and buffer) the whole multipart body looking for the
        # token, so this route checks it itself: from the header (XHR) or the form field (no JavaScript).
        header = request.headers.get(CSRF_HEADER, "")

        def check(received: Received) -> None:
            if not valid_csrf(request, header or received.csrf_token):
                raise CSRFFailed(CSRF_EXPIRED)

        video = await videos.accept_upload(request, state, tenant, check=check)
        page = f"/videos/{video.id}"
        if _wants_json(request):
            return Response(
                {"id": str(video.id), "page": page, "events": f"{page}/events", "status": video.status},
                status_code=HTTP_202_ACCEPTED,
                headers={"Location": page},
            )
        return Redirect(page, status_code=HTTP_303_SEE_OTHER)

    @get("/videos/{video_id:uuid}")
    async def video(self, state: State, tenant: repo.TenantRow, video_id: UUID, done: str | None = None) -> Template:
        return await _video_page(state, tenant, video_id, notice=NOTICES.get(done or ""))

    @post("/videos/{video_id:uuid}/captions", request_max_body_size=webvtt.MAX_BYTES + 64 * 1024)
    async def add_captions(
        self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow, video_id: UUID
    ) -> Response[Any]:
        form = await request.form()
        upload = form.get("file")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        lang, label = str(form.get("lang", "")).strip(), str(form.get("label", "")).strip()
        try:
            await captions.save(state, tenant, video_id, lang, label, data)
        except captions.InvalidCaptions as exc:
            # The page again, with what was wrong beside the form and the user's language and label kept.
            return await _video_page(
                state,
                tenant,
                video_id,
                caption_error=str(exc.detail),
                form={"lang": lang, "label": label},
                status=exc.status_code,
            )
        return Redirect(f"/videos/{video_id}?done=captions-added#captions", status_code=HTTP_303_SEE_OTHER)

    @get("/videos/{video_id:uuid}/captions/{lang:str}")
    async def caption_track(self, state: State, tenant: repo.TenantRow, video_id: UUID, lang: str) -> Response[bytes]:
        return await captions.track_file(state, tenant, video_id, lang)

    @post("/videos/{video_id:uuid}/captions/{lang:str}/delete", request_max_body_size=16 * 1024)
    async def remove_captions(self, state: State, tenant: repo.TenantRow, video_id: UUID, lang: str) -> Redirect:
        await captions.remove(state, tenant, video_id, lang)
        return Redirect(f"/videos/{video_id}?done=captions-removed#captions", status_code=HTTP_303_SEE_OTHER)

    @get("/videos/{video_id:uuid}/events")
    async def events(self, state: State, tenant: repo.TenantRow, video_id: UUID) -> ServerSentEvent:
        video = await videos.load(state, tenant, video_id)
        return ServerSentEvent(videos.event_stream(state, tenant, video))

    @get("/videos/{video_id:uuid}/delete")
    async def confirm_delete(self, state: State, tenant: repo.TenantRow, video_id: UUID) -> Template:
        video = await videos.load(state, tenant, video_id)
        return Template("delete.html", context={"tenant": tenant, "nav": "library", "video": video})

    @post("/videos/{video_id:uuid}/delete", request_max_body_size=16 * 1024)
    async def delete(
        self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow, video_id: UUID
    ) -> Redirect:
        video = await videos.load(state, tenant, video_id)
        await videos.remove(state, tenant, video_id, who(request))
        return Redirect(
            f"/library?{urlencode({'deleted': video.title or video.filename})}", status_code=HTTP_303_SEE_OTHER
        )

    @get("/videos/{video_id:uuid}/renditions/{name:str}")
    async def rendition(
        self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow, video_id: UUID, name: str
    ) -> Response[Any]:
        return await videos.serve_file(request, state, tenant, video_id, name, "video/mp4")

    @get("/videos/{video_id:uuid}/thumbnail")
    async def thumbnail(
        self, request: Request[Any, Any, Any], state: State, tenant: repo.TenantRow, video_id: UUID
    ) -> Response[Any]:
        return await videos.serve_file(request, state, tenant, video_id, None, "image/jpeg")

    @get("/usage")
    async def usage(self, state: State, tenant: repo.TenantRow) -> Template:
        usage = await videos.usage_for(state, tenant)
        return Template(
            "usage.html", context={"tenant": tenant, "nav": "usage", "usage": usage, "chart": usage_chart(usage)}
        )
