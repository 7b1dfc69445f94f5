"""The Node.js executor (``nodejs18.x``, ``nodejs20.x``, ``nodejs22.x``, ...).

Every runtime of the family runs with the ``node`` found on ``PATH`` (docs/runtime.md,
"Node.js"): when its major version is not the runtime's, the handler still runs, after a
warning.  No ``node`` at all: :class:`~lambdaver.errors.InvalidRuntimeException` before
anything runs (exit 254).

One-shot (the CLI): each invocation is a ``node var_runtime/bootstrap.cjs JOB_FD
RESULT_FD`` process, supervised exactly as a spawned Python interpreter is
(:mod:`lambdaver.runtime.invoke`: the same job encoding, result frames, log pipe, timeout
and process-group kill); the bootstrap speaks the same frames.  Warm (``lambdaver
serve``): :class:`NodeWarmEnvironment` runs ``bootstrap.cjs --runtime-api``, a long-lived
process that takes its invocations from lambdaver's Lambda Runtime API
(:mod:`lambdaver.runtime.provided`).
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from lambdaver.errors import InvalidRuntimeException
from lambdaver.runtime import Environment, EnvironmentSpec, Executor, InvokeResult, Warn
from lambdaver.runtime import invoke as _py
from lambdaver.runtime.var_runtime import bootstrap

if TYPE_CHECKING:
    from lambdaver.runtime import ClientContext

#: lambdaver's Node runtime, the file ``node`` runs.
BOOTSTRAP_JS = os.path.join(os.path.dirname(os.path.abspath(bootstrap.__file__)), "bootstrap.cjs")
RUNTIME_DIR = os.path.dirname(BOOTSTRAP_JS)


def runtime_major(runtime: str) -> int | None:
    """``nodejs20.x`` -> 20."""
    digits = runtime.removeprefix("nodejs").removesuffix(".x")
    return int(digits) if runtime.startswith("nodejs") and digits.isdigit() else None


def find_node(runtime: str) -> str:
    """The ``node`` that runs ``runtime``, or InvalidRuntimeException."""
    found = shutil.which("node")
    if found is None:
        major = runtime_major(runtime)
        raise InvalidRuntimeException(
            f"The runtime {runtime} needs Node.js, but no 'node' was found on PATH: install "
            f"Node.js{f' {major}' if major else ''} (https://nodejs.org) or put its bin "
            "directory on PATH"
        )
    return found


def mismatch_warning(runtime: str, executable: str, version: str) -> str | None:
    """The warning when ``node`` (``version``, ``v20.1.0``) is not ``runtime``'s major."""
    wanted = runtime_major(runtime)
    major = version.lstrip("v").partition(".")[0]
    if wanted is None or not major.isdigit() or int(major) == wanted:
        return None
    return (
        f"{runtime} asks for Node.js {wanted}, but {executable} is Node.js "
        f"{version.lstrip('v')}; running the handler with it"
    )


def node_environment(spec: EnvironmentSpec, log_stream_name: str) -> dict[str, str]:
    """The environment Lambda gives a Node function (no Python variables of ours)."""
    env = _py.build_environment(spec, log_stream_name)
    for key in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE"):
        if key not in spec.environment:
            env.pop(key, None)
    code_dir = os.path.abspath(spec.code_dir)
    env["NODE_PATH"] = os.pathsep.join(
        [os.path.join(RUNTIME_DIR, "node_modules"), RUNTIME_DIR, code_dir]
    )
    env["LAMBDA_RUNTIME_DIR"] = RUNTIME_DIR
    return env


class NodeExecutor(Executor):
    """Node.js runtimes, one process per invocation."""

    def start(self, spec: EnvironmentSpec, warn: Warn | None = None) -> NodeEnvironment:
        return NodeEnvironment(spec, warn or _py._print_warning)


class NodeEnvironment(Environment):
    """One version's Node environment: each invocation starts a new ``node``."""

    def __init__(self, spec: EnvironmentSpec, warn: Warn) -> None:
        self.spec = spec
        self.warn = warn
        self.executable = find_node(spec.runtime)
        self.log_stream_name = spec.log_stream_name or _py.default_log_stream_name(
            spec.function_version
        )
        self.env = node_environment(spec, self.log_stream_name)
        self.warned = False

    def invoke(
        self,
        payload: bytes,
        *,
        request_id: str,
        invoked_function_arn: str,
        client_context: ClientContext | None = None,
    ) -> InvokeResult:
        spec = self.spec
        job = _py.job_for(
            spec, payload, request_id, invoked_function_arn, ensure_ascii=False,
            client_context=client_context,
        )  # fmt: skip
        run = _NodeInvocation(job, self.env, self.executable, spec.timeout)
        outcome = run.run()
        if run.version and not self.warned:
            self.warned = True
            warning = mismatch_warning(spec.runtime, self.executable, run.version)
            if warning:
                self.warn(warning)
        return _py._result(spec, request_id, outcome, self.executable, self.log_stream_name)

    def stop(self) -> None:
        pass


class _NodeInvocation(_py._Invocation):
    """The Python executor's supervision, with ``node bootstrap.cjs`` as the process."""

    version = ""
    script = BOOTSTRAP_JS

    def _take_frames(self, outcome: _py._Outcome) -> None:
        # The HELLO frame carries node's version (process.version): keep it for the
        # version check, then let the Python executor's logic see the frames.
        if not self.version and len(self.frames) >= 13 and self.frames[:1] == bootstrap.HELLO:
            length = int.from_bytes(self.frames[1:5], "big")
            if len(self.frames) >= 13 + length:
                self.version = bytes(self.frames[13 : 13 + length]).decode("ascii", "replace")
        super()._take_frames(outcome)


#: The instance :data:`lambdaver.runtime.EXECUTORS` names.
NODE = NodeExecutor()


def warm_environment(spec: EnvironmentSpec, warn: Warn | None = None) -> Environment:
    """A warm Node environment for ``lambdaver serve``: one long-lived ``node`` that takes
    its invocations from lambdaver's Runtime API (see :mod:`lambdaver.runtime.provided`)."""
    from lambdaver.runtime.provided import RuntimeApiEnvironment

    executable = find_node(spec.runtime)
    return RuntimeApiEnvironment(
        spec,
        warn or _py._print_warning,
        command=[executable, BOOTSTRAP_JS, "--runtime-api"],
        environment=node_environment,
    )
