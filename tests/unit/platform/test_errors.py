"""Problem details (RFC 9457) from every kind of error, with no traceback."""

from __future__ import annotations

import msgspec
from litestar import Litestar, get, post
from litestar.exceptions import HTTPException
from litestar.params import JSONBody
from litestar.testing import TestClient

from reelgate.platform.infra.errors import ApplicationError, http_exception_handler, internal_error_handler


class Payload(msgspec.Struct, forbid_unknown_fields=True):
    name: str


@get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals /etc/shadow")


@get("/refused")
async def refused() -> None:
    raise ApplicationError("The thing was refused.")


@post("/strict")
async def strict(data: JSONBody[Payload]) -> str:
    return data.name


app = Litestar(
    [boom, refused, strict],
    exception_handlers={HTTPException: http_exception_handler, Exception: internal_error_handler},
    logging_config=None,
)


def test_unexpected_error_is_a_plain_500() -> None:
    with TestClient(app) as client:
        answer = client.get("/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["title"] == "Internal server error"
    assert "secret" not in answer.text and "Traceback" not in answer.text


def test_application_error_keeps_its_sentence() -> None:
    with TestClient(app) as client:
        body = client.get("/refused").json()
    assert body == {
        "type": "about:blank",
        "title": "Bad request",
        "status": 400,
        "detail": "The thing was refused.",
        "instance": "/refused",
    }


def test_unknown_field_names_the_field() -> None:
    with TestClient(app) as client:
        answer = client.post("/strict", json={"name": "x", "nmae": "typo"})
    assert answer.status_code == 400
    assert "nmae" in answer.json()["detail"]


def test_not_found_and_method() -> None:
    with TestClient(app) as client:
        assert client.get("/nope").json()["detail"] == "There is nothing at this address."
        assert client.delete("/refused").status_code == 405
