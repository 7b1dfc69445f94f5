"""Custom runtimes (``provided.al2``, ``provided.al2023``) through the Lambda Runtime API.

A :class:`RuntimeApiEnvironment` serves the Runtime API (version ``2018-06-01``) on a
free loopback port (:mod:`lambdaver.runtime.runtime_api`) and runs the function's
``bootstrap`` with ``AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT``, in a process group of its
own.  The bootstrap asks for work (``GET /runtime/invocation/next``), answers it
(``POST /runtime/invocation/{id}/response`` or ``.../error``) and asks again; a failed
init is ``POST /runtime/init/error``.  The same process serves every invocation of the
environment: the CLI's one-shot pool stops it after one, ``lambdaver serve`` keeps it
warm.  The warm Node environment is one of these, running lambdaver's own Node runtime.

Timeouts kill the process group (``Sandbox.Timedout``); a process that exits without
answering is ``Runtime.ExitError``; a missing or non-executable ``bootstrap`` is
``Runtime.InvalidEntrypoint``.
"""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdaver.runtime import (
    TIMED_OUT,
    Environment,
    EnvironmentSpec,
    Executor,
    InvokeResult,
    Warn,
    end_of_log,
    error_payload,
    peak_memory_mb,
    timed_out,
)

if TYPE_CHECKING:
    from lambdaver.runtime import ClientContext

API = "/2018-06-01/runtime/"
#: Time the init phase (up to the first ``/next``) may take, as in AWS.
INIT_ALLOWANCE_SECONDS = 10.0
MAX_RESPONSE_BYTES = 6291556
SIGKILL = 9


def provided_environment(spec: EnvironmentSpec, log_stream_name: str) -> dict[str, str]:
    """What Lambda sets for a custom runtime (no Python variables of ours)."""
    from lambdaver.runtime.invoke import build_environment

    env = build_environment(spec, log_stream_name)
    for key in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE"):
        if key not in spec.environment:
            env.pop(key, None)
    env.pop("LAMBDA_RUNTIME_DIR", None)
    return env


class ProvidedExecutor(Executor):
    def start(self, spec: EnvironmentSpec, warn: Warn | None = None) -> RuntimeApiEnvironment:
        return RuntimeApiEnvironment(spec, warn)


PROVIDED = ProvidedExecutor()


class _Invocation:
    def __init__(
        self, request_id: str, payload: bytes, arn: str, client_context: ClientContext | None
    ) -> None:
        self.request_id = request_id
        self.payload = payload
        self.arn = arn
        self.client_context = client_context
        self.taken_at: float | None = None  # monotonic time of the /next that took it
        self.answer: tuple[str, bytes, str | None] | None = None  # (kind, body, error type)
        self.answered_at = 0.0
        self.log_before = b""  # output before it was taken (init, or after the last one)
        self.log = b""  # output while it ran


class RuntimeApiEnvironment(Environment):
    """One process speaking the Runtime API, for any number of invocations in turn."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        warn: Warn | None = None,
        *,
        command: list[str] | None = None,
        environment: Callable[[EnvironmentSpec, str], dict[str, str]] | None = None,
    ) -> None:
        from lambdaver.runtime.invoke import default_log_stream_name

        self.spec = spec
        self.warn = warn
        self.code_dir = os.path.abspath(spec.code_dir)
        self.command = command
        self.log_stream_name = spec.log_stream_name or default_log_stream_name(
            spec.function_version
        )
        self.env = (environment or provided_environment)(spec, self.log_stream_name)
        # what a warm pool looks at (the same fields as runtime/warm.py's environments)
        self.key = (
            self.code_dir, spec.handler, spec.runtime, tuple(sorted(spec.environment.items())),
            spec.function_name, spec.function_version, spec.memory_size, spec.timeout,
            spec.region, os.path.abspath(spec.source_dir) if spec.source_dir else None,
        )  # fmt: skip
        self.dead = False
        self.last_used = time.monotonic()
        self.cond = threading.Condition()
        self.proc: subprocess.Popen[bytes] | None = None
        self.server: Any = None
        self.started_at = 0.0
        self.initialised = False  # a /next has been called
        self.init_error: tuple[bytes, str | None] | None = None
        self.exit_status: int | None = None
        self.pending: _Invocation | None = None  # waiting for /next
        self.current: _Invocation | None = None  # taken, not answered
        self.log_fd = -1
        self.log_lock = threading.Lock()
        self.log_buf = bytearray()
        self.stopping = False

    # -- the process

    def _start(self) -> str | None:
        """Start the server and the process; the reason it could not start, else None."""
        from lambdaver.runtime.runtime_api import LoopbackServer

        if self.command is None:
            bootstrap = os.path.join(self.code_dir, "bootstrap")
            if not os.path.isfile(bootstrap):
                return f"Couldn't find valid bootstrap(s): [{bootstrap} /opt/bootstrap]"
            if not os.access(bootstrap, os.X_OK):
                return f"fork/exec {bootstrap}: permission denied"
            command = [bootstrap]
        else:
            command = self.command
        self.server = LoopbackServer(self._handle)
        env = dict(self.env, AWS_LAMBDA_RUNTIME_API=self.server.address)
        log_r, log_w = os.pipe()
        self.started_at = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                command,
                cwd=self.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_w,
                stderr=log_w,
                start_new_session=True,
            )
        except OSError as e:
            os.close(log_r)
            os.close(log_w)
            self.server.close()
            return f"fork/exec {command[0]}: {(e.strerror or str(e)).lower()}"
        os.close(log_w)
        os.set_blocking(log_r, False)
        self.log_fd = log_r
        threading.Thread(target=self._pump_log, name="lambdaver-log", daemon=True).start()
        threading.Thread(target=self._wait_exit, name="lambdaver-wait", daemon=True).start()
        return None

    def _pump_log(self) -> None:
        fd = self.log_fd
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            poller.poll(100)
            with self.log_lock:
                if self.log_fd < 0:
                    return
                if not self._drain_log():
                    return

    def _drain_log(self) -> bool:
        """Read what the pipe holds (caller holds log_lock); False at end of file."""
        while True:
            try:
                data = os.read(self.log_fd, 1 << 16)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            self.log_buf += data

    def _cut_log(self) -> bytes:
        with self.log_lock:
            if self.log_fd >= 0:
                self._drain_log()
            taken = bytes(self.log_buf)
            self.log_buf.clear()
        return taken

    def _wait_exit(self) -> None:
        proc = self.proc
        assert proc is not None  # noqa: S101 - started before this thread
        status = proc.wait()
        with self.cond:
            self.exit_status = status
            self.cond.notify_all()

    def _kill(self) -> None:
        proc = self.proc
        if proc is None:
            return
        for kill, target in ((os.killpg, proc.pid), (os.kill, proc.pid)):
            try:
                kill(target, SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    # -- the Runtime API

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        path = target.partition("?")[0]
        if not path.startswith(API):
            return _error(404, "UnknownRoute", f"{method} {path} is not a Runtime API route")
        route = path[len(API) :]
        if route == "invocation/next" and method == "GET":
            return self._next()
        if route == "init/error" and method == "POST":
            with self.cond:
                if self.initialised:
                    return _error(403, "InvalidStateTransition", "Init already completed")
                self.init_error = (body, headers.get("lambda-runtime-function-error-type"))
                self.cond.notify_all()
            return 202, [("Content-Type", "application/json")], b'{"status":"OK"}'
        parts = route.split("/")
        if len(parts) == 3 and parts[0] == "invocation" and method == "POST":
            request_id, kind = parts[1], parts[2]
            if kind in ("response", "error"):
                return self._answer(request_id, kind, body, headers)
        return _error(404, "UnknownRoute", f"{method} {path} is not a Runtime API route")

    def _next(self) -> tuple[int, list[tuple[str, str]], bytes]:
        before = self._cut_log()
        with self.cond:
            self.initialised = True
            self.cond.notify_all()
            while self.pending is None and not self.stopping:
                self.cond.wait()
            inv = self.pending
            if inv is None:  # stopping
                return _error(500, "ServiceUnavailable", "The environment is shutting down")
            self.pending = None
            inv.taken_at = time.monotonic()
            inv.log_before = before
            self.current = inv
            self.cond.notify_all()
        deadline_ms = int(time.time() * 1000) + self.spec.timeout * 1000
        out = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", inv.arn),
            ("Lambda-Runtime-Trace-Id", _trace_id()),
        ]
        if inv.client_context is not None:  # JSON text; ASCII, as a header must be
            text = json.dumps(inv.client_context, separators=(",", ":"))
            out.append(("Lambda-Runtime-Client-Context", text))
        return 200, out, inv.payload or b"{}"

    def _answer(
        self, request_id: str, kind: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        with self.cond:
            inv = self.current
            if inv is None or inv.request_id != request_id:
                return _error(400, "InvalidRequestID", "Invalid request ID")
            log = self._cut_log()  # what it wrote before answering
            if kind == "response" and len(body) > MAX_RESPONSE_BYTES:
                answer: tuple[str, bytes, str | None] = (
                    "error",
                    error_payload(
                        "Response payload size exceeded maximum allowed payload size "
                        f"({MAX_RESPONSE_BYTES} bytes).",
                        "Function.ResponseSizeTooLarge",
                    ),
                    "Function.ResponseSizeTooLarge",
                )
                status, reply = (
                    413,
                    _error(
                        413,
                        "RequestEntityTooLarge",
                        f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
                    ),
                )
            else:
                error_type = None
                if kind == "error":
                    error_type = headers.get("lambda-runtime-function-error-type") or _error_type(
                        body
                    )
                answer = (kind, body, error_type)
                status, reply = 202, (202, [("Content-Type", "application/json")],
                                      b'{"status":"OK"}')  # fmt: skip
            inv.answer = answer
            inv.answered_at = time.monotonic()
            inv.log = log
            self.current = None
            self.cond.notify_all()
        del status
        return reply

    # -- Environment

    def invoke(
        self,
        payload: bytes,
        *,
        request_id: str,
        invoked_function_arn: str,
        client_context: ClientContext | None = None,
    ) -> InvokeResult:
        inv = _Invocation(request_id, payload, invoked_function_arn, client_context)
        first = self.proc is None
        if first:
            problem = self._start()
            if problem is not None:
                self.dead = True
                message = f"RequestId: {request_id} Error: {problem}"
                return self._result(
                    inv, error_payload(message, "Runtime.InvalidEntrypoint"),
                    "Runtime.InvalidEntrypoint", f"{message}\nRuntime.InvalidEntrypoint\n", None,
                )  # fmt: skip
        with self.cond:
            self.pending = inv
            self.cond.notify_all()
            # until the bootstrap takes it (init phase, for the first one)
            limit = (self.started_at + INIT_ALLOWANCE_SECONDS) if first else math.inf
            while inv.taken_at is None:
                if self.init_error is not None or self.exit_status is not None:
                    break
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(min(remaining, 3600))
            if inv.taken_at is not None:
                deadline = inv.taken_at + self.spec.timeout
                while inv.answer is None and self.exit_status is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
            self.pending = None
        init_ms = (
            ((inv.taken_at or time.monotonic()) - self.started_at) * 1000
            if first and self.init_error is None
            else None
        )
        if inv.answer is not None:
            kind, body, error_type = inv.answer
            if kind == "response":
                return self._result(inv, body, None, "", init_ms, ok=True)
            return self._result(inv, body, error_type, "", init_ms)
        self.dead = True
        self._kill()
        if self.init_error is not None:
            body, error_type = self.init_error
            inv.log_before = self._cut_log()
            return self._result(inv, body, error_type or _error_type(body), "", None)
        if self.exit_status is not None or (inv.taken_at is None and self._wait_gone()):
            reason = _describe(self.exit_status)
            message = f"RequestId: {request_id} Error: {reason}"
            if inv.taken_at is None:
                inv.log_before = self._cut_log()
            else:
                inv.log = self._cut_log()
            return self._result(
                inv, error_payload(message, "Runtime.ExitError"), "Runtime.ExitError",
                f"{message}\nRuntime.ExitError\n", init_ms,
            )  # fmt: skip
        body, notice = timed_out(request_id, self.spec.timeout)
        if inv.taken_at is None:
            inv.log_before = self._cut_log()
        else:
            inv.log = self._cut_log()
        return self._result(inv, body, TIMED_OUT, notice, init_ms, timed_out=True)

    def _wait_gone(self) -> bool:
        with self.cond:
            self.cond.wait_for(lambda: self.exit_status is not None, timeout=1.0)
            return self.exit_status is not None

    def _result(
        self,
        inv: _Invocation,
        payload: bytes,
        error_type: str | None,
        notice: str,
        init_ms: float | None,
        *,
        ok: bool = False,
        timed_out: bool = False,
    ) -> InvokeResult:
        spec = self.spec
        if timed_out:
            duration = spec.timeout * 1000.0
        elif inv.taken_at is not None:
            duration = ((inv.answered_at or time.monotonic()) - inv.taken_at) * 1000
        else:
            duration = 0.0
        memory = peak_memory_mb(self.proc.pid) if self.proc is not None else 0
        billed, end = end_of_log(inv.request_id, duration, spec.memory_size, memory, init_ms)
        text = inv.log_before.decode("utf-8", "replace")
        if text and not text.endswith("\n"):
            text += "\n"
        text += f"START RequestId: {inv.request_id} Version: {spec.function_version}\n"
        text += inv.log.decode("utf-8", "replace")
        if text and not text.endswith("\n"):
            text += "\n"
        text += notice + end
        self.last_used = time.monotonic()
        return InvokeResult(
            payload=payload,
            function_error=None if ok else "Unhandled",
            error_type=error_type,
            log=text,
            duration_ms=duration,
            billed_duration_ms=billed,
            max_memory_used_mb=memory,
            init_duration_ms=init_ms,
            interpreter=(self.command or [os.path.join(self.code_dir, "bootstrap")])[0],
            log_stream_name=self.log_stream_name,
        )

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.dead = True
            self.cond.notify_all()
        self._kill()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
                pass
        if self.server is not None:
            self.server.close()
        with self.log_lock:
            if self.log_fd >= 0:
                os.close(self.log_fd)
                self.log_fd = -1


def _error(status: int, error_type: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return status, [("Content-Type", "application/json")], body


def _error_type(body: bytes) -> str | None:
    try:
        value = json.loads(body)
        return str(value["errorType"]) if isinstance(value, dict) else None
    except (ValueError, KeyError):
        return None


def _trace_id() -> str:
    return (
        f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};"
        f"Parent={os.urandom(8).hex()};Sampled=0"
    )


def _describe(returncode: int | None) -> str:
    """Lambda's words for how the runtime process ended (Popen's return code)."""
    if returncode is None or returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        import signal

        name = signal.strsignal(-returncode) or f"signal {-returncode}"
        return f"Runtime exited with error: signal: {name[:1].lower()}{name[1:]}"
    return f"Runtime exited with error: exit status {returncode}"
