"""`json`: the whole report as JSON (msgspec), for machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from reelgate.gates.api import hookimpl
from reelgate.gates.model import Report


class JsonReporter:
    name = "json"
    suffix = ".json"

    def write(self, report: Report, path: Path) -> None:
        path.write_bytes(msgspec.json.format(msgspec.json.encode(report)))


@hookimpl
def register_reporters(register: Any) -> None:
    register(JsonReporter)
