from __future__ import annotations

from reelgate.platform.pipeline.progress import Progress, ProgressParser, cpu_seconds, fraction

BLOCK = """frame=50
fps=0.00
stream_0_0_q=28.0
bitrate=N/A
total_size=48
out_time_us=1500000
out_time_ms=1500000
out_time=00:00:01.500000
dup_frames=0
drop_frames=0
speed=3.01x
progress=continue
"""


def feed(parser: ProgressParser, text: str) -> list[Progress]:
    return [p for line in text.splitlines() if (p := parser.feed(line)) is not None]


def test_block_gives_one_progress_in_seconds() -> None:
    [update] = feed(ProgressParser(), BLOCK)
    # out_time_ms is in microseconds despite its name: 1500000 is 1.5 s, not 1500 s.
    assert update.out_time_s == 1.5
    assert update.speed == 3.01
    assert update.frame == 50
    assert not update.done


def test_end_block_and_na_values() -> None:
    parser = ProgressParser()
    updates = feed(
        parser,
        "frame=0\nout_time_us=N/A\nout_time_ms=N/A\nspeed=N/A\nprogress=continue\n"
        "frame=100\nout_time_us=4000000\nprogress=end\n",
    )
    assert updates[0].out_time_s == 0.0 and updates[0].speed is None
    assert updates[1].done and updates[1].out_time_s == 4.0


def test_fraction_is_capped_until_the_end() -> None:
    assert fraction(Progress(out_time_s=1.0), 4.0) == 0.25
    assert fraction(Progress(out_time_s=5.0), 4.0) == 0.99
    assert fraction(Progress(out_time_s=5.0, done=True), 4.0) == 1.0
    assert fraction(Progress(out_time_s=1.0), None) == 0.0


def test_cpu_seconds_from_benchmark_line() -> None:
    lines = [
        "[info] Output #0, mp4",
        "[info] bench: utime=1.250s stime=0.125s rtime=0.900s",
        "[info] bench: maxrss=123456kB",
    ]
    assert cpu_seconds(lines) == 1.375
    assert cpu_seconds(["[error] nothing here"]) == 0.0
