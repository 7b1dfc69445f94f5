"""kill -9 of ``lambdaver deploy`` at random points, a bounded run of
``benchmarks/crash_harness.py --deploy``: the alias is always at a state the deployment
passed through, ``deploy status`` tells the truth, ``deploy stop`` rolls back, ``fsck``
is clean."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HARNESS = Path(__file__).resolve().parent.parent / "benchmarks" / "crash_harness.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_harness_deploy", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_killed_deployments_break_no_invariant(tmp_path: Path) -> None:
    harness = _load()
    summary = harness.run_deploy(8, 20261204, keep=tmp_path / "w", verbose=False)
    assert summary.violations == [], summary.as_json()
    assert summary.rounds == 8
    assert summary.outcomes["deploy:killed in progress, then stopped"] >= 1, summary.as_json()
