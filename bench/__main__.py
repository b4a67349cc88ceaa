"""`python -m bench [ladder|pipeline|api ...]`: run the benchmarks, write bench/results/*.json and RESULTS.md."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import (
    api_load,
    backup,
    chaos,
    cost,
    db,
    gate_service,
    ladder,
    pages,
    pipeline,
    runner,
    scenario,
    switch,
    users,
    watch,
)
from bench.common import write_table

SUITES: dict[str, Callable[[], object]] = {
    "ladder": ladder.run,
    "pipeline": pipeline.run,
    "api": api_load.run,
    "switch": switch.run,
    "runner": runner.run,
    "pages": pages.run,
    "watch": watch.run,
    "scenario": scenario.run,
    "chaos": chaos.run,
    "cost": cost.run,
    "db": db.run,
    "users": users.run,
    "gate-service": gate_service.run,
    "backup": backup.run,
}


def main(argv: list[str]) -> int:
    wanted = argv or list(SUITES)
    unknown = [name for name in wanted if name not in SUITES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    for name in wanted:
        SUITES[name]()
    print(f"table: {write_table()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
