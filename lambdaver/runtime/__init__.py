"""The only place that runs user code: one invocation of a version, in its own process.

``run(spec)`` -> ``InvokeResult``; ``log_tail_base64(log)`` -> ``LogResult``.  The
invocation journal lives in :mod:`lambdaver.runtime.journal`.  See docs/runtime.md.
"""

from __future__ import annotations

from lambdaver.runtime.invoke import InvokeResult, InvokeSpec, log_tail_base64, run

__all__ = ["InvokeResult", "InvokeSpec", "log_tail_base64", "run"]
