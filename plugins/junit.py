"""`junit`: JUnit XML (junitparser) with one testcase per gate and one per check, for CI dashboards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from reelgate.gates.api import hookimpl
from reelgate.gates.model import Report, Verdict


def _outcome(verdict: Verdict, message: str) -> list[Any]:
    if verdict == "fail":
        return [Failure(message)]
    if verdict == "error":
        return [Error(message)]
    if verdict == "skipped":
        return [Skipped(message)]
    return []


class JUnitReporter:
    name = "junit"
    suffix = ".junit.xml"

    def write(self, report: Report, path: Path) -> None:
        xml = JUnitXml(name=f"reelgate release {report.release_id}")
        for result in report.results:
            suite = TestSuite(f"{result.phase}.{result.gate}")
            case = TestCase(name=result.gate, classname=f"reelgate.{result.uses}", time=result.duration_s)
            case.result = _outcome(result.verdict, result.reason)
            case.system_out = f"{result.verdict}: {result.reason}"
            suite.add_testcase(case)
            for check in result.checks:
                item = TestCase(name=f"{result.gate}.{check.name}", classname=f"reelgate.{result.uses}.checks")
                value = "no value" if check.value is None else f"{check.value:g} {check.unit}".strip()
                limit = f" {check.op} {check.threshold:g}" if check.op and check.threshold is not None else ""
                item.result = _outcome(check.verdict, f"{value}{limit} {check.note}".strip())
                item.system_out = f"{check.verdict}: {value}{limit}" + (
                    f" (waived: {check.waived_by})" if check.waived_by else ""
                )
                suite.add_testcase(item)
            xml.add_testsuite(suite)
        xml.write(str(path), pretty=True)


@hookimpl
def register_reporters(register: Any) -> None:
    register(JUnitReporter)
