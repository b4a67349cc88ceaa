"""The main job on the local stack: a clip goes in, renditions come out.

Starts the stack (idempotent), creates a tenant, generates a 4 s clip with
ffmpeg, uploads it through the router, follows its progress and prints the
renditions' URLs. Exits non-zero, with the reason, if any step fails.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from reelgate.platform.settings import get_settings

REELGATE = str(Path(sys.executable).parent / "reelgate")


def run(*args: str) -> str:
    result = subprocess.run([REELGATE, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"demo: `reelgate {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def main() -> None:
    settings = get_settings()
    print(run("stack", "up"), end="")
    key = run("tenant", "create", f"demo-{int(time.time())}").strip().splitlines()[-1]
    router = f"http://127.0.0.1:{settings.port('router')}"
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "demo.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi",
             "-i", "sine=frequency=440:sample_rate=48000", "-t", "4", "-c:v", "mpeg4", "-q:v", "5",
             "-c:a", "aac", "-shortest", str(clip)],
            check=True,
        )
        with httpx.Client(base_url=router, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            with clip.open("rb") as fh:
                answer = http.post("/v1/videos", files={"file": ("demo.mp4", fh, "video/mp4")},
                                   data={"title": "reelgate demo"})
            if answer.status_code != 202:
                sys.exit(f"demo: upload refused: {answer.status_code} {answer.text}")
            video = answer.json()
            print(f"uploaded {video['id']} ({video['source_bytes']} bytes); processing", end="", flush=True)
            deadline = time.monotonic() + 120
            while video["status"] not in ("ready", "failed"):
                if time.monotonic() > deadline:
                    sys.exit("\ndemo: the video was not ready within 120 s")
                time.sleep(0.5)
                print(".", end="", flush=True)
                video = http.get(video["url"]).json()
    print()
    if video["status"] == "failed":
        sys.exit(f"demo: processing failed: {video['failure_reason']}")
    print(f"ready: {video['title']} ({video['duration_s']:.1f} s, {video['width']}x{video['height']})")
    for rendition in video["renditions"]:
        print(f"  {rendition['name']:>6}  {rendition['width']}x{rendition['height']}  "
              f"{rendition['bytes']:>9} bytes  {router}{rendition['url']}")
    print(f"  thumbnail  {router}{video['thumbnail_url']}")
    print(f"(download with: curl -H 'Authorization: Bearer {key}' URL -o file)")


if __name__ == "__main__":
    main()
