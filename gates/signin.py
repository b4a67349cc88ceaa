"""Signing in to the platform's pages as the gates' tenant, for scanners that crawl pages.

The pages take a session cookie, not the API key: this walks the sign-in form as a browser
would (the CSRF cookie and the form's token, then the key) and returns the cookies to send.
"""

from __future__ import annotations

import re

import httpx

TOKEN = re.compile(r'name="_csrf_token"\s+value="([^"]+)"')


class SignInError(Exception):
    """The sign-in form did not give a session; the message says what it answered."""


async def page_cookies(target: str, api_key: str, within: float = 10) -> dict[str, str]:
    """The session (and CSRF) cookies of `api_key` signed in at `target`'s `/sign-in`."""
    base = target.rstrip("/")
    async with httpx.AsyncClient(base_url=base, timeout=within, follow_redirects=False) as client:
        try:
            form = await client.get("/sign-in")
            token = TOKEN.search(form.text)
            if form.status_code != 200 or token is None:
                raise SignInError(f"{base}/sign-in answered {form.status_code} without a sign-in form")
            answer = await client.post("/sign-in", data={"_csrf_token": token.group(1), "api_key": api_key})
        except httpx.HTTPError as exc:
            raise SignInError(f"{base}/sign-in is unreachable: {type(exc).__name__}") from None
        if answer.status_code != 303 or "reelgate_session" not in client.cookies:
            raise SignInError(f"signing in at {base}/sign-in answered {answer.status_code}, not a session")
        return {name: value for name, value in client.cookies.items()}
