"""One error hierarchy, rendered once as RFC 9457 problem+json.

`detail` is always a plain sentence. Unexpected exceptions are logged with
their traceback and the user sees only a 500 with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from reelgate.platform.pipeline.media import storage_full

log = logging.getLogger("reelgate.platform")

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
    507: "Insufficient storage",
}

STORAGE_RETRY_AFTER_S = 60


class ApplicationError(HTTPException):
    """Base for errors the platform raises on purpose; `detail` is shown to the user."""

    status_code = 400
    problem_type = "about:blank"


class InvalidUpload(ApplicationError):
    status_code = 422
    problem_type = "/problems/invalid-upload"


class UploadTooLarge(ApplicationError):
    status_code = 413
    problem_type = "/problems/upload-too-large"


class Unauthorized(ApplicationError):
    status_code = 401


class RateLimited(ApplicationError):
    status_code = 429


class RangeNotSatisfiable(ApplicationError):
    status_code = 416


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem+json errors a route can return."""
    from reelgate.platform.http.schemas import Problem

    return {
        status: ResponseSpec(Problem, description=TITLES.get(status, "Error"), media_type=PROBLEM_JSON)
        for status in statuses
    }


def problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    type_: str = "about:blank",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": type_,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_detail(exc: ValidationException) -> tuple[str, list[Any] | None]:
    extra = exc.extra if isinstance(exc.extra, list) else None
    if extra:
        first = extra[0] if isinstance(extra[0], dict) else {}
        message = str(first.get("message", "")).rstrip(".")
        key = first.get("key")
        where = f" ({key})" if key else ""
        return f"The request is not valid: {message}{where}.", extra
    return "The request is not valid.", None


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException):
        detail, errors = _validation_detail(exc)
        return problem(request, status, detail, extra={"errors": errors} if errors else None)
    if isinstance(exc, ApplicationError):
        return problem(request, status, exc.detail, exc.problem_type, headers=headers)
    if isinstance(exc, NotFoundException):
        return problem(request, 404, "There is nothing at this address.")
    detail = exc.detail if exc.detail and exc.detail != TITLES.get(status) else _default_detail(status)
    return problem(request, status, detail, headers=headers)


def _default_detail(status: int) -> str:
    return {
        405: "This address does not accept that method.",
        413: "The request body is larger than this address accepts.",
    }.get(status, f"{TITLES.get(status, 'Error')}.")


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if storage_full(exc):
        # Not a bug but a state that passes: the upload's part file was already removed, nothing was kept.
        log.error("the media store is full (%s %s): %s", request.method, request.url.path, exc)
        return problem(
            request,
            507,
            "The media store is full, so nothing was stored. Try again later.",
            "/problems/storage-full",
            headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)},
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong on our side; the error was logged with this request's id.",
    )
