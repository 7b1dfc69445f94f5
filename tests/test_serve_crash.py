"""Crash safety of ``lambdaver serve``, the fast subset: 5 rounds of
benchmarks/crash_serve.py (SIGKILL of the server while boto3 clients publish and move an
alias; then fsck clean, every acknowledged publish and alias change present, a new server
serving at once).  The long run: ``python benchmarks/crash_serve.py --rounds 100``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from serve_helpers import DROPPED_SOCKETS

HARNESS = Path(__file__).resolve().parent.parent / "benchmarks" / "crash_serve.py"

pytestmark = DROPPED_SOCKETS


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_serve", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["crash_serve"] = module
    spec.loader.exec_module(module)
    return module


def test_killed_server_loses_no_acknowledged_change(tmp_path: Path) -> None:
    crash_serve = _load()
    summary = crash_serve.run(5, 3, max_delay_ms=1200.0, keep=tmp_path / "w", verbose=False)
    assert summary["violations"] == []
    assert summary["counts"]["kills"] == 5
    assert summary["counts"]["publish"] > 0 and summary["counts"]["alias"] > 0
