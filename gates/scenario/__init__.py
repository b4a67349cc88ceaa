"""QA's scenario files: one YAML that runs as a functional test (and, with the scenario gate, as a release
gate). The format is in `format.py` and docs/scenarios.md; `run_scenario(path, target)` runs one."""

from reelgate.gates.scenario.format import LoadedScenario, Scenario, ScenarioError, json_schema, load_scenario
from reelgate.gates.scenario.run import ScenarioResult, StepResult, run_loaded, run_scenario

__all__ = [
    "LoadedScenario",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "StepResult",
    "json_schema",
    "load_scenario",
    "run_loaded",
    "run_scenario",
]
