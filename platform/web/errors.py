"""Errors on pages: the same status and sentence as the API's problem details, as a plain page.

A request gets a page when it is not for the API (/v1, /health, /metrics,
/schema) and its Accept header asks for HTML; everything else keeps
problem+json. A page that needs a session redirects to the sign-in page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from reelgate.platform.infra.errors import TITLES, http_exception_handler, internal_error_handler
from reelgate.platform.web import SECURITY_HEADERS
from reelgate.platform.web.session import SignInRequired

API_PREFIXES = ("/v1/", "/health/", "/metrics", "/schema")

# What each page says, in plain words, above the detail the API would give.
HEADINGS = {
    400: "That request did not work",
    401: "Please sign in",
    403: "That was not allowed",
    404: "Page not found",
    405: "That action is not available here",
    413: "That file is too large",
    415: "That file type is not accepted",
    422: "That file could not be used",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "The service is briefly unavailable",
    507: "Storage is full for the moment",
}


def wants_page(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith(API_PREFIXES) or path == "/v1":
        return False
    return "text/html" in request.headers.get("accept", "")


def _page(request: Request[Any, Any, Any], status: int, detail: str, headers: dict[str, str]) -> Response[Any]:
    context = {
        "status": status,
        "heading": HEADINGS.get(status, TITLES.get(status, "Error")),
        "detail": detail,
        "request_id": request.scope.get("state", {}).get("request_id"),
        "retry_after": headers.get("Retry-After"),
    }
    return Template("error.html", context=context, status_code=status, headers={**headers, **SECURITY_HEADERS})


def page_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if not wants_page(request):
        return http_exception_handler(request, exc)
    if isinstance(exc, SignInRequired):
        return Redirect(f"/sign-in?{urlencode({'next': request.url.path})}", status_code=HTTP_303_SEE_OTHER)
    problem = http_exception_handler(request, exc)
    return _page(request, exc.status_code, str(problem.content["detail"]), dict(exc.headers or {}))


def page_internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    problem = internal_error_handler(request, exc)  # logs the traceback once
    if not wants_page(request):
        return problem
    return _page(request, problem.status_code or 500, str(problem.content["detail"]), dict(problem.headers))
