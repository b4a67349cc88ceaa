"""Tenants never see each other: another tenant's video is a 404 on every route."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.stack import Stack
from tests.integration.videos import upload, wait_final

pytestmark = [pytest.mark.integration]


def test_another_tenants_video_is_404_everywhere(stack: Stack, clip: Path) -> None:
    with stack.client(stack.tenant("owner")) as owner, stack.client(stack.tenant("intruder")) as intruder:
        video = wait_final(owner, upload(owner, clip).json())
        rendition = video["renditions"][0]["url"]
        captions = f"{video['url']}/captions/en"
        assert owner.put(captions, content=b"WEBVTT\n\n00:00.000 --> 00:01.000\nmine\n").status_code == 200
        routes = [
            ("GET", captions),
            ("PUT", captions),
            ("DELETE", captions),
            ("GET", video["url"]),
            ("GET", rendition),
            ("GET", video["thumbnail_url"]),
            ("GET", video["events_url"]),
            ("PATCH", video["url"]),
            ("DELETE", video["url"]),
        ]
        for method, url in routes:
            kwargs = (
                {"json": {"title": "mine now"}}
                if method == "PATCH"
                else {"content": b"WEBVTT\n\n00:00.000 --> 00:01.000\ntheirs\n"}
                if method == "PUT"
                else {}
            )
            answer = intruder.request(method, url, **kwargs)
            assert answer.status_code == 404, (method, url, answer.status_code)
            assert answer.headers["content-type"].startswith("application/problem+json")
        assert video["id"] not in [v["id"] for v in intruder.get("/v1/videos").json()["items"]]
        assert intruder.get("/v1/usage").json()["videos"] == 0
        # The owner still has it, untouched.
        again = owner.get(video["url"]).json()
        assert again["title"] == video["title"] and again["status"] == "ready"
        assert owner.get(rendition).status_code == 200
        assert "mine" in owner.get(captions).text


def test_rate_limit_is_per_tenant(stack: Stack) -> None:
    with (
        stack.client(stack.tenant("limited", "--rate-limit", "5")) as limited,
        stack.client(stack.tenant("free", "--rate-limit", "0")) as free,
    ):
        codes = [limited.get("/v1/videos").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5
        assert codes[5:] == [429] * 3
        refused = limited.get("/v1/videos")
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert all(free.get("/v1/videos").status_code == 200 for _ in range(20))


def test_deleting_a_tenant_removes_its_videos_and_files_and_frees_its_name(stack: Stack, clip: Path) -> None:
    key = stack.tenant("leaving")
    with stack.client(key) as leaving, stack.client(stack.tenant("staying")) as staying:
        mine = wait_final(leaving, upload(leaving, clip).json())
        assert leaving.put(f"{mine['url']}/captions/en", content=b"WEBVTT\n\n00:00.000 --> 00:01.000\nx\n").is_success
        theirs = wait_final(staying, upload(staying, clip).json())
        files = [stack.media / "sources" / mine["id"], stack.media / "captions" / mine["id"]]
        assert all(p.exists() for p in files)
        outputs_before = set((stack.media / "outputs").iterdir())
        listed = {line.split()[0]: line.split()[1] for line in stack.cli("tenant", "list").stdout.splitlines()[1:]}
        assert listed["leaving"] == "1" and listed["staying"] == "1"
        # Without --yes it asks first; with no answer nothing is deleted.
        asked = stack.cli("tenant", "delete", "leaving", check=False)
        assert asked.returncode != 0 and "Delete tenant 'leaving'" in asked.stdout and "aborted" in asked.stderr
        assert all(p.exists() for p in files)
        deleted = stack.cli("tenant", "delete", "--yes", "leaving")
        # Its key may still be in an API process's key cache for a few seconds: an upload is refused, not a 500.
        late = upload(leaving, clip)
        assert late.status_code == 401 and "not valid" in late.json()["detail"], late.text
        assert "with 1 video(s) and 1 set(s) of renditions" in deleted.stdout
        assert not any(p.exists() for p in files)
        assert len(outputs_before - set((stack.media / "outputs").iterdir())) == 1  # only the leaver's
        # Another tenant with the same content keeps everything.
        assert staying.get(theirs["renditions"][0]["url"]).status_code == 200
    again = stack.cli("tenant", "delete", "--yes", "leaving", check=False)
    assert again.returncode == 1 and "there is no tenant named 'leaving'" in again.stderr
    assert "leaving" not in stack.cli("tenant", "list").stdout
    assert stack.tenant("leaving") != key  # the name is free again, with a new key
