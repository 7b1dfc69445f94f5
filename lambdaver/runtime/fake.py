"""A fake executor for tests: handlers are Python callables, called in this process.

``FakeExecutor(handlers={"app.handler": fn})`` runs ``fn(event, context)`` for every
environment whose spec names the handler ``app.handler``, and records what it was asked
(:attr:`FakeExecutor.started`, each environment's ``invocations`` and ``stopped``), so a
test can check what the service layer handed to the runtime without running a process.

It keeps the interface's promises (see :class:`lambdaver.runtime.Environment`): the
function's failures come back in the result with AWS's error types, a handler that ran
past the timeout gives ``Sandbox.Timedout`` (it is not interrupted: keep such handlers
short), and an invocation after ``stop()`` is an error of the caller's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from lambdaver import runtime

Handler = Callable[[Any, Any], object]


class FakeContext:
    """The handler's context: the attributes awslambdaric's has, from the spec."""

    def __init__(
        self,
        spec: runtime.EnvironmentSpec,
        request_id: str,
        arn: str,
        deadline: float,
        client_context: runtime.ClientContext | None = None,
    ):
        self.client_context: Any = None
        if client_context is not None:  # the Python runtime's object (imported only then)
            from lambdaver.runtime.var_runtime import bootstrap

            # a copy, as a function's process decodes its own (awslambdaric changes it)
            copy = json.loads(json.dumps(client_context))
            self.client_context = bootstrap.LambdaContext("", arn, 0, copy).client_context
        self.function_name = spec.function_name
        self.function_version = spec.function_version
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = str(spec.memory_size)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = spec.log_stream_name
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


class FakeExecutor(runtime.Executor):
    def __init__(self, handlers: dict[str, Handler] | None = None) -> None:
        self.handlers: dict[str, Handler] = dict(handlers or {})
        #: Every environment started, in order.
        self.environments: list[FakeEnvironment] = []

    @property
    def started(self) -> list[runtime.EnvironmentSpec]:
        return [environment.spec for environment in self.environments]

    def start(
        self, spec: runtime.EnvironmentSpec, warn: runtime.Warn | None = None
    ) -> FakeEnvironment:
        environment = FakeEnvironment(self, spec)
        self.environments.append(environment)
        return environment


class FakeEnvironment(runtime.Environment):
    def __init__(self, executor: FakeExecutor, spec: runtime.EnvironmentSpec) -> None:
        self.executor = executor
        self.spec = spec
        #: (payload, request id, invoked function ARN) of every invocation.
        self.invocations: list[tuple[bytes, str, str]] = []
        #: The client context of every invocation (None where there was none).
        self.client_contexts: list[runtime.ClientContext | None] = []
        self.stopped = False

    def invoke(
        self,
        payload: bytes,
        *,
        request_id: str,
        invoked_function_arn: str,
        client_context: runtime.ClientContext | None = None,
    ) -> runtime.InvokeResult:
        if self.stopped:
            raise RuntimeError("invoked a stopped environment")
        self.invocations.append((payload, request_id, invoked_function_arn))
        self.client_contexts.append(client_context)
        spec = self.spec
        started = time.monotonic()
        error_type: str | None = None
        try:
            body = self._call(payload, request_id, invoked_function_arn, started, client_context)
        except Exception as e:  # noqa: BLE001 - whatever the handler raised
            error_type = getattr(e, "error_type", type(e).__name__)
            error = {"errorMessage": str(e), "errorType": error_type}
            body = json.dumps({**error, "requestId": request_id, "stackTrace": []}).encode()
        duration = (time.monotonic() - started) * 1000
        notice = ""
        if duration > spec.timeout * 1000:  # as if it had been stopped at the deadline
            duration = spec.timeout * 1000.0
            error_type = runtime.TIMED_OUT
            body, notice = runtime.timed_out(request_id, spec.timeout)
        billed, end = runtime.end_of_log(request_id, duration, spec.memory_size, 1, None)
        return runtime.InvokeResult(
            payload=body,
            function_error=None if error_type is None else "Unhandled",
            error_type=error_type,
            log=f"START RequestId: {request_id} Version: {spec.function_version}\n{notice}{end}",
            duration_ms=duration,
            billed_duration_ms=billed,
            max_memory_used_mb=1,
            init_duration_ms=None,
            interpreter="fake",
            log_stream_name=spec.log_stream_name,
        )

    def _call(
        self,
        payload: bytes,
        request_id: str,
        arn: str,
        started: float,
        client_context: runtime.ClientContext | None,
    ) -> bytes:
        spec = self.spec
        handler = self.executor.handlers.get(spec.handler)
        if handler is None:
            module, _, name = spec.handler.rpartition(".")
            message = f"Handler '{name}' missing on module '{module}'"
            raise _Fault("Runtime.HandlerNotFound", message)
        try:
            event = json.loads(payload) if payload.strip() else {}
        except ValueError as e:
            raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}") from None
        context = FakeContext(spec, request_id, arn, started + spec.timeout, client_context)
        return json.dumps(handler(event, context)).encode("utf-8")

    def stop(self) -> None:
        self.stopped = True


class _Fault(Exception):
    """A runtime fault with an AWS error type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
