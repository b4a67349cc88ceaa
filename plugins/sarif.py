"""`sarif`: gate findings as SARIF 2.1.0, for code-scanning tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from reelgate.gates.api import hookimpl
from reelgate.gates.model import Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning ranks security findings by this number (critical >= 9, high >= 7, medium >= 4).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}


def location(where: str) -> dict[str, Any]:
    """A finding's `path:line` (or URL, or path) as a SARIF physical location."""
    path, _, line = where.rpartition(":")
    if path and line.isdigit() and "://" not in where:
        return {"physicalLocation": {"artifactLocation": {"uri": path}, "region": {"startLine": int(line)}}}
    return {"physicalLocation": {"artifactLocation": {"uri": where}}}


class SarifReporter:
    name = "sarif"
    suffix = ".sarif"

    def write(self, report: Report, path: Path) -> None:
        runs = []
        for result in report.results:
            rules: dict[str, dict[str, Any]] = {}
            results = []
            for finding in result.findings:
                rules.setdefault(
                    finding.rule_id,
                    {
                        "id": finding.rule_id,
                        "shortDescription": {"text": finding.rule_id},
                        **({"helpUri": finding.help_url} if finding.help_url else {}),
                        "properties": {"security-severity": SECURITY_SEVERITY.get(finding.severity, "0.0")},
                    },
                )
                entry: dict[str, Any] = {
                    "ruleId": finding.rule_id,
                    "level": LEVELS.get(finding.severity, "warning"),
                    "message": {"text": finding.message},
                    "properties": {"severity": finding.severity, "verdict": finding.verdict},
                }
                if finding.location:
                    entry["locations"] = [location(finding.location)]
                results.append(entry)
            runs.append(
                {
                    "tool": {"driver": {"name": f"reelgate/{result.uses}", "rules": list(rules.values())}},
                    "automationDetails": {"id": f"{report.release_id}/{result.gate}"},
                    "results": results,
                }
            )
        document = {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}
        path.write_bytes(msgspec.json.format(msgspec.json.encode(document)))


@hookimpl
def register_reporters(register: Any) -> None:
    register(SarifReporter)
