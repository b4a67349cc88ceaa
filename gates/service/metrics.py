"""The gate service's Prometheus metrics, named after Flagger's `flagger_canary_*`: runs by state (read from
PostgreSQL at each scrape, so every replica reports the same), verdicts landed by this process, and how long
runs took. Served at `GET /metrics`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

STATES = ("running", "finished", "expired")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Gauge("reelgate_gate_runs", "Runs in the history, by state.", ["state"], registry=self.registry)
        self.in_progress = Gauge(
            "reelgate_gate_runs_in_progress", "Runs this process is executing now.", registry=self.registry
        )
        self.verdicts = Counter(
            "reelgate_gate_verdicts_total",
            "Runs ended by this process, by how they ended (promote, block, expired) and who asked.",
            ["verdict", "source"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "reelgate_gate_run_duration_seconds",
            "Seconds from a run's start to its verdict.",
            ["source"],
            buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
            registry=self.registry,
        )

    def ended(self, verdict: str, source: str, seconds: float | None = None) -> None:
        self.verdicts.labels(verdict=verdict, source=source).inc()
        if seconds is not None:
            self.duration.labels(source=source).observe(seconds)

    def render(self, counts: dict[str, int], in_progress: int) -> bytes:
        for state in STATES:
            self.runs.labels(state=state).set(counts.get(state, 0))
        self.in_progress.set(in_progress)
        return generate_latest(self.registry)
