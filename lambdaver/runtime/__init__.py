"""The only place that runs user code, behind one seam: executors and their environments.

An :class:`Executor` starts an :class:`Environment` for one version of a function (its
materialised code directory and configuration, an :class:`EnvironmentSpec`); the
environment runs invocations (payload in, :class:`InvokeResult` out) until it is stopped.
:func:`executor_for` picks the executor registered for a runtime (:data:`EXECUTORS`);
an :class:`EnvironmentPool` decides when environments are started and stopped: the
default, :class:`OneShotPool`, starts one per invocation and stops it right after.

This module imports nothing but :mod:`lambdaver.value`: executors are imported by name,
when a runtime first needs one.  Executors: :mod:`lambdaver.runtime.invoke` (Python, one
process per invocation), :mod:`lambdaver.runtime.node` (Node.js),
:mod:`lambdaver.runtime.provided` (custom runtimes, through the Runtime API),
:mod:`lambdaver.runtime.fake` (tests).  The invocation journal
lives in :mod:`lambdaver.runtime.journal`.  See docs/runtime.md.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from lambdaver.value import Value

if TYPE_CHECKING:
    from typing import Any

    from lambdaver.storage.fileutil import StrPath

    #: A client context as the function receives it: the JSON object the caller sent
    #: (base64-decoded and checked by ``service.invoke.parse_client_context``).
    ClientContext = dict[str, Any]

#: Receives one-line warnings (an executor's default prints them to stderr).
Warn = Callable[[str], None]

#: ``LogResult`` is the last 4 KB of the log.
LOG_RESULT_BYTES = 4096


class EnvironmentSpec(Value):
    """What an environment is started with: one version's code and configuration.

    ``log_stream_name`` empty: the executor makes one (``YYYY/MM/DD/[VERSION]<32 hex>``).
    """

    code_dir: StrPath
    handler: str
    runtime: str
    environment: dict[str, str]
    function_name: str
    function_version: str
    memory_size: int
    timeout: int
    region: str
    log_stream_name: str = ""
    #: The directory ``code_dir`` is a byte-identical copy of, if any ($LATEST's function
    #: directory): tracebacks then name its files, which the user edits, not the copy's.
    source_dir: StrPath | None = None


class InvokeResult(Value):
    """What one invocation produced.  ``function_error`` is ``"Unhandled"`` for every
    failure of the function (then ``payload`` is AWS's error object); ``log`` is the
    whole log text, ``START`` ... ``REPORT``."""

    payload: bytes
    function_error: str | None
    error_type: str | None
    log: str
    duration_ms: float
    billed_duration_ms: int
    max_memory_used_mb: int
    #: None when the invocation had no init phase (a warm environment, a failed init).
    init_duration_ms: float | None
    #: The program that ran the handler (``sys.executable`` when forked).
    interpreter: str = ""
    #: The log stream name the function saw.
    log_stream_name: str = ""


class Environment(ABC):
    """A started execution environment for one version: invoked any number of times,
    one invocation at a time, until :meth:`stop`."""

    @abstractmethod
    def invoke(
        self,
        payload: bytes,
        *,
        request_id: str,
        invoked_function_arn: str,
        client_context: ClientContext | None = None,
    ) -> InvokeResult:
        """Run the handler on ``payload`` (JSON bytes; empty means ``{}``).  The function
        sees ``client_context`` as AWS's runtimes show it (Python's
        ``context.client_context``, Node's ``context.clientContext``, the Runtime API's
        ``Lambda-Runtime-Client-Context`` header); None: it was not given.

        Never raises for the function's own failures (errors, timeouts, crashes, running
        out of memory): they are in the result.  Raises only for lambdaver's own
        problems, and re-raises ``KeyboardInterrupt`` once nothing of the function runs.
        """

    @abstractmethod
    def stop(self) -> None:
        """Release everything the environment holds; it is not invoked again."""


class Executor(ABC):
    """Starts environments for the runtimes it is registered for (:data:`EXECUTORS`)."""

    @abstractmethod
    def start(self, spec: EnvironmentSpec, warn: Warn | None = None) -> Environment:
        """An environment for ``spec``.  ``warn`` receives one-line warnings, now and
        during its invocations (by default they are printed to stderr)."""


class EnvironmentPool(ABC):
    """Where the service gets an environment for one invocation, and gives it back."""

    @abstractmethod
    def acquire(self, spec: EnvironmentSpec, warn: Warn | None = None) -> Environment:
        """An environment for ``spec`` that no other invocation is using."""

    @abstractmethod
    def release(self, environment: Environment) -> None:
        """The invocation is over: keep ``environment`` for another one, or stop it."""


class OneShotPool(EnvironmentPool):
    """A new environment for every invocation, stopped right after it (the CLI's way)."""

    def acquire(self, spec: EnvironmentSpec, warn: Warn | None = None) -> Environment:
        return executor_for(spec.runtime).start(spec, warn)

    def release(self, environment: Environment) -> None:
        environment.stop()


#: Executors by runtime name or family (``python3.12``, ``python``): an instance, or
#: ``"module:attribute"`` naming one, imported when first needed.
EXECUTORS: dict[str, Executor | str] = {
    "python": "lambdaver.runtime.invoke:PYTHON",
    "nodejs": "lambdaver.runtime.node:NODE",
    "provided": "lambdaver.runtime.provided:PROVIDED",
}
#: Warm environments (``lambdaver serve``) of families other than Python, by family: a
#: callable ``(spec, warn) -> Environment`` whose environments serve many invocations in
#: turn and have the attributes a warm pool reads (``key``, ``spec``, ``dead``,
#: ``last_used``), or ``"module:attribute"`` naming one.
WARM_ENVIRONMENTS: dict[str, Callable[..., Environment] | str] = {
    "nodejs": "lambdaver.runtime.node:warm_environment",
    "provided": "lambdaver.runtime.provided:RuntimeApiEnvironment",
}
#: The family whose executor runs a runtime nothing is registered for (it warns).
DEFAULT_FAMILY = "python"


def runtime_family(runtime: str) -> str:
    """The letters a runtime name starts with: ``python3.12`` -> ``python``,
    ``nodejs20.x`` -> ``nodejs``, ``provided.al2023`` -> ``provided``."""
    for i, char in enumerate(runtime):
        if not char.isalpha():
            return runtime[:i]
    return runtime


def register(name: str, executor: Executor | str) -> None:
    """Run the runtime ``name`` (or every runtime of the family ``name``) with ``executor``."""
    EXECUTORS[name] = executor


def executor_for(runtime: str) -> Executor:
    """The executor registered for ``runtime``'s exact name, else for its family, else
    the default family's (which runs the handler as best it can, after a warning)."""
    for name in (runtime, runtime_family(runtime), DEFAULT_FAMILY):
        found = EXECUTORS.get(name)
        if found is None:
            continue
        if isinstance(found, str):  # imported now, as an import statement would
            module, _, attribute = found.partition(":")
            found = EXECUTORS[name] = getattr(__import__(module, fromlist=[attribute]), attribute)
        return found
    raise LookupError(f"no executor for runtime {runtime!r}")


def warm_environment_for(runtime: str) -> Callable[..., Environment] | None:
    """The warm environment factory registered for ``runtime``'s family, if any."""
    family = runtime_family(runtime)
    found = WARM_ENVIRONMENTS.get(runtime) or WARM_ENVIRONMENTS.get(family)
    if isinstance(found, str):
        module, _, attribute = found.partition(":")
        found = WARM_ENVIRONMENTS[family] = getattr(
            __import__(module, fromlist=[attribute]), attribute
        )
    return found


# --- what Lambda's platform adds around any runtime ---------------------------------------

#: ``errorType`` of an invocation stopped at its timeout.
TIMED_OUT = "Sandbox.Timedout"


def peak_memory_mb(pid: int) -> int:
    """A live process's peak resident memory (VmHWM), in MB; 0 when unknown."""
    if not pid:
        return 0
    import math

    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
        start = status.index(b"VmHWM:")
        return math.ceil(int(status[start + 6 : status.index(b"kB", start)]) / 1024)
    except (OSError, ValueError):
        return 0


def error_payload(message: str, error_type: str) -> bytes:
    """The platform's error object (a timeout, a runtime that exited)."""
    import json  # loaded already whenever an invocation runs

    return json.dumps({"errorMessage": message, "errorType": error_type}).encode("utf-8")


def timed_out(request_id: str, timeout: int) -> tuple[bytes, str]:
    """The payload and the log line of an invocation stopped at its timeout."""
    message = f"Task timed out after {timeout:.2f} seconds"
    payload = error_payload(f"RequestId: {request_id} Error: {message}", TIMED_OUT)
    return payload, f"{_iso_now()} {request_id} {message}\n"


def end_of_log(
    request_id: str,
    duration_ms: float,
    memory_size: int,
    max_memory_mb: int,
    init_duration_ms: float | None,
) -> tuple[int, str]:
    """The billed duration (whole milliseconds, at least 1) and the ``END`` and ``REPORT``
    lines that close every invocation's log."""
    import math  # built in: nothing to load

    billed = max(1, math.ceil(duration_ms))
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {memory_size} MB\t"
        f"Max Memory Used: {max_memory_mb} MB\t"
    )
    if init_duration_ms is not None:
        report += f"Init Duration: {init_duration_ms:.2f} ms\t"
    return billed, f"END RequestId: {request_id}\n{report}\n"


def _iso_now() -> str:
    import time  # loaded already whenever an invocation runs

    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def log_tail_base64(log: str) -> str:
    """``LogResult``: base64 of the last 4096 bytes of the UTF-8 log."""
    import base64  # only for --log-type Tail

    return base64.b64encode(log.encode("utf-8")[-LOG_RESULT_BYTES:]).decode("ascii")


__all__ = [
    "DEFAULT_FAMILY",
    "EXECUTORS",
    "Environment",
    "EnvironmentPool",
    "EnvironmentSpec",
    "Executor",
    "InvokeResult",
    "OneShotPool",
    "TIMED_OUT",
    "WARM_ENVIRONMENTS",
    "Warn",
    "end_of_log",
    "error_payload",
    "executor_for",
    "log_tail_base64",
    "register",
    "runtime_family",
    "timed_out",
    "warm_environment_for",
]
