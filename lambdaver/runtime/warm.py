"""Warm execution environments (contract §10), for ``lambdaver serve``.

A :class:`WarmEnvironment` is a long-lived process (another interpreter running
``var_runtime/warm_bootstrap.py``, never a fork of the server) that imports the handler
once and then serves invocations sent over a pipe: module state and ``/tmp`` persist
between invocations, and only the first one's ``REPORT`` line has ``Init Duration``.

A :class:`WarmPool` hands environments out, one invocation at a time each: an idle one of
the same version (same code directory and configuration) is reused, else a new one is
started, so concurrent invocations get separate environments.  An environment that timed
out, crashed or failed its init is stopped and never reused; idle ones are stopped after
``idle_timeout`` seconds; when $LATEST changes (its code or configuration), the
environments of the old $LATEST are stopped instead of being reused.  Stopping is
``SIGKILL`` to the environment's process group (the handler's own children die with it).
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdaver.runtime import (
    TIMED_OUT,
    Environment,
    EnvironmentPool,
    EnvironmentSpec,
    InvokeResult,
    Warn,
    end_of_log,
    error_payload,
    executor_for,
    peak_memory_mb,
    runtime_family,
    timed_out,
)
from lambdaver.runtime.var_runtime import bootstrap

if TYPE_CHECKING:
    from lambdaver.runtime import ClientContext

WARM_BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(bootstrap.__file__)),
                              "warm_bootstrap.py")  # fmt: skip
#: Frame kind the warm bootstrap sends as each invocation begins.
START = b"S"
#: Time the init phase may take on top of the timeout (as runtime/invoke.py).
INIT_ALLOWANCE_SECONDS = 10.0
_LENGTH = struct.Struct(">Q")
_SPAWN_LOCK = threading.Lock()
_CHUNK = 1 << 16
SIGKILL = 9


def _print_warning(message: str) -> None:
    print(f"lambdaver: warning: {message}", file=sys.stderr, flush=True)


def _key(spec: EnvironmentSpec) -> tuple[Any, ...]:
    """What makes two specs the same environment (the log stream name aside)."""
    return (
        os.path.abspath(spec.code_dir), spec.handler, spec.runtime,
        tuple(sorted(spec.environment.items())), spec.function_name, spec.function_version,
        spec.memory_size, spec.timeout, spec.region,
        os.path.abspath(spec.source_dir) if spec.source_dir else None,
    )  # fmt: skip


class WarmEnvironment(Environment):
    """One process serving one version's invocations, one at a time."""

    def __init__(self, spec: EnvironmentSpec, warn: Warn | None = None) -> None:
        from lambdaver.runtime import interpreter
        from lambdaver.runtime.invoke import build_environment, default_log_stream_name

        self.spec = spec
        self.key = _key(spec)
        self.warn = warn or _print_warning
        self.log_stream_name = spec.log_stream_name or default_log_stream_name(
            spec.function_version
        )
        env = build_environment(spec, self.log_stream_name)
        version = interpreter.parse_runtime(spec.runtime)
        self.ensure_ascii = version is None or version < (3, 12)
        choice = interpreter.choose(spec.runtime)
        if choice.warning:
            self.warn(choice.warning)
        self.executable = choice.executable or sys.executable
        self.initialized = False
        self.dead = False
        self.last_used = time.monotonic()
        self.invocations = 0
        self.pid = 0
        self._fds: list[int] = []
        try:
            self._spawn(env)
        except OSError as e:
            if self.executable == sys.executable:
                self._close_all()
                raise
            self.warn(interpreter.fallback_warning(spec.runtime, self.executable, e.strerror or ""))
            self.executable = sys.executable
            self._spawn(env)

    # --- the process ---------------------------------------------------------------------

    def _pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        self._fds += [r, w]
        return r, w

    def _spawn(self, env: dict[str, str]) -> None:
        with _SPAWN_LOCK:  # no other environment may inherit this one's pipe ends
            self._spawn_locked(env)

    def _spawn_locked(self, env: dict[str, str]) -> None:
        import signal

        self._close_all()
        job_r, self.job_w = self._pipe()
        self.result_r, result_w = self._pipe()
        self.log_r, log_w = self._pipe()
        os.set_inheritable(job_r, True)
        os.set_inheritable(result_w, True)
        self.started = time.monotonic()
        self.pid = os.posix_spawn(
            self.executable,
            [self.executable, WARM_BOOTSTRAP, str(job_r), str(result_w)],
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_w, 1),
                (os.POSIX_SPAWN_DUP2, log_w, 2),
            ],
            setpgroup=0,
            setsigmask=(),
            setsigdef=(
                signal.SIGINT,
                signal.SIGTERM,
                signal.SIGHUP,
                signal.SIGCHLD,
                signal.SIGPIPE,
            ),
        )
        for fd in (job_r, result_w, log_w):
            self._fds.remove(fd)
            os.close(fd)
        os.set_blocking(self.result_r, False)
        os.set_blocking(self.log_r, False)
        try:
            self.pidfd = os.pidfd_open(self.pid)
            self._fds.append(self.pidfd)
        except (AttributeError, OSError):
            self.pidfd = -1

    def _close_all(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []

    def stop(self) -> None:
        """Kill the process group and reap it (idempotent)."""
        self.dead = True
        pid, self.pid = self.pid, 0
        if pid:
            for kill, target in ((os.killpg, pid), (os.kill, pid)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(target, SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self._close_all()

    # --- one invocation --------------------------------------------------------------------

    def invoke(
        self,
        payload: bytes,
        *,
        request_id: str,
        invoked_function_arn: str,
        client_context: ClientContext | None = None,
    ) -> InvokeResult:
        spec = self.spec
        if self.dead:
            raise RuntimeError("invoke on a stopped environment")
        cold = not self.initialized
        log = bytearray(self._drain_log())  # what it printed between invocations
        from lambdaver.runtime.invoke import job_for

        job = job_for(
            spec, payload, request_id, invoked_function_arn, ensure_ascii=self.ensure_ascii,
            client_context=client_context,
        )  # fmt: skip
        data = job.encode()
        sent = time.monotonic()
        frames = bytearray()
        init_done: float | None = None
        began: float | None = None
        finished: float | None = None
        frame: tuple[bytes, bytes] | None = None
        exited = False
        timed = False
        pending = memoryview(_LENGTH.pack(len(data)) + data)
        os.set_blocking(self.job_w, False)
        deadline = sent + spec.timeout + (INIT_ALLOWANCE_SECONDS if cold else 0.0)
        poller = select.poll()
        poller.register(self.result_r, select.POLLIN)
        poller.register(self.log_r, select.POLLIN)
        if self.pidfd >= 0:
            poller.register(self.pidfd, select.POLLIN)
        if pending:
            poller.register(self.job_w, select.POLLOUT)
        while frame is None and not exited:
            now = time.monotonic()
            if now >= deadline:
                timed = True
                break
            wait = math.ceil((deadline - now) * 1000)
            for fd, _ev in poller.poll(wait if self.pidfd >= 0 else min(wait, 10)):
                if fd == self.job_w:
                    try:
                        pending = pending[os.write(self.job_w, pending[:_CHUNK]) :]
                    except BlockingIOError:
                        continue
                    except OSError:  # the process is gone
                        pending = memoryview(b"")
                    if not pending:
                        poller.unregister(self.job_w)
                elif fd == self.result_r:
                    chunk = _read(fd)
                    if chunk is None:
                        exited = True
                    else:
                        frames += chunk
                elif fd == self.log_r:
                    chunk = _read(fd)
                    if chunk:
                        log += chunk
                    elif chunk is None:
                        poller.unregister(fd)
                elif fd == self.pidfd:
                    exited = True
            for kind, at, body in bootstrap.parse_frames(frames):
                if kind == bootstrap.INIT_DONE:
                    init_done = at
                    self.initialized = True
                elif kind == START:
                    began = at
                    deadline = at + spec.timeout
                elif kind != bootstrap.HELLO and frame is None:
                    frame, finished = (kind, body), at
            if self.pidfd < 0 and not exited:
                exited = _has_exited(self.pid)
        ended = time.monotonic()
        if frame is not None:
            log += self._drain_log()  # written before the frame: already in the pipe
        max_memory_mb = peak_memory_mb(self.pid)
        status = None
        reusable = (
            not timed and not exited and self.initialized and frame is not None
            and frame[0] in (bootstrap.RESULT, bootstrap.ERROR)
        )  # fmt: skip
        if not reusable:  # gone, stopped at its timeout, or failed its init
            log += self._drain_log()
            status = self._reap_now()
        self.invocations += 1
        self.last_used = time.monotonic()
        return self._result(
            request_id, frame, log, timed, status, max_memory_mb,
            init_ms=(init_done - self.started) * 1000 if cold and init_done is not None else None,
            duration_ms=((finished or ended) - (began or sent)) * 1000,
        )  # fmt: skip

    def _drain_log(self) -> bytes:
        out = bytearray()
        while True:
            chunk = _read(self.log_r)
            if not chunk:
                return bytes(out)
            out += chunk

    def _reap_now(self) -> int | None:
        """Kill and reap the process; its wait status."""
        pid = self.pid
        self.dead = True
        if not pid:
            return None
        for kill, target in ((os.killpg, pid), (os.kill, pid)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(target, SIGKILL)
        # a process that exited on its own keeps its status; a killed one is SIGKILL
        try:
            _pid, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = None
        self.pid = 0
        self._close_all()
        return status

    def _result(
        self,
        rid: str,
        frame: tuple[bytes, bytes] | None,
        log: bytearray,
        timed: bool,
        status: int | None,
        max_memory_mb: int,
        *,
        init_ms: float | None,
        duration_ms: float,
    ) -> InvokeResult:
        from lambdaver.runtime.invoke import _describe_exit, _error_type_of

        spec = self.spec
        kind, body = frame or (b"", b"")
        function_error: str | None = "Unhandled"
        error_type: str | None
        notice = ""
        if timed:
            error_type = TIMED_OUT
            payload, notice = timed_out(rid, spec.timeout)
            duration_ms = spec.timeout * 1000.0
        elif kind == bootstrap.RESULT:
            payload, function_error, error_type = body, None, None
        elif kind == bootstrap.ERROR:
            payload, error_type = body, _error_type_of(body)
        else:
            if kind == bootstrap.OUT_OF_MEMORY:
                error_type, reason = (
                    "Runtime.OutOfMemory",
                    "Runtime exited with error: signal: killed",
                )
            else:
                error_type, reason = "Runtime.ExitError", _describe_exit(status)
            message = f"RequestId: {rid} Error: {reason}"
            payload = error_payload(message, error_type)
            notice = f"{message}\n{error_type}\n"
        billed, end = end_of_log(rid, duration_ms, spec.memory_size, max_memory_mb, init_ms)
        from lambdaver.runtime.invoke import invocation_log

        started = f"START RequestId: {rid} ".encode() in log  # else the init failed first
        text = invocation_log(bytes(log), rid, spec.function_version, started, notice + end)
        return InvokeResult(
            payload=payload,
            function_error=function_error,
            error_type=error_type,
            log=text,
            duration_ms=duration_ms,
            billed_duration_ms=billed,
            max_memory_used_mb=max_memory_mb,
            init_duration_ms=init_ms,
            interpreter=self.executable,
            log_stream_name=self.log_stream_name,
        )


def _read(fd: int) -> bytes | None:
    """What is there (b"" when nothing yet); None at end of file."""
    try:
        data = os.read(fd, _CHUNK)
    except BlockingIOError:
        return b""
    except OSError:
        return None
    return data or None


def _has_exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True

    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
        start = status.index(b"VmHWM:")
        return math.ceil(int(status[start + 6 : status.index(b"kB", start)]) / 1024)
    except (OSError, ValueError):
        return 0


class WarmPool(EnvironmentPool):
    """Warm environments of Python runtimes, kept between invocations (module docstring);
    other runtimes' executors start one per invocation, as the CLI's pool does."""

    def __init__(self, idle_timeout: float = 300.0) -> None:
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        # warm environments of any runtime (WarmEnvironment, runtime/provided.py's): each
        # has key, spec, dead and last_used
        self._idle: dict[tuple[str, str], list[Any]] = {}
        self._busy: set[Environment] = set()
        #: the newest key started for each (function, version): older ones are retired
        self._current: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._closed = False
        self._wake = threading.Event()
        self.started = 0  # environments started, for tests and benchmarks
        self._reaper = threading.Thread(target=self._reap_idle, name="lambdaver-idle", daemon=True)
        self._reaper.start()

    def acquire(self, spec: EnvironmentSpec, warn: Warn | None = None) -> Environment:
        make: Callable[[EnvironmentSpec, Warn | None], Any] = WarmEnvironment
        if runtime_family(spec.runtime) != "python":
            from lambdaver.runtime import warm_environment_for

            factory = warm_environment_for(spec.runtime)  # Node, custom runtimes
            if factory is None:  # a family with no warm environment: one-shot
                once = executor_for(spec.runtime).start(spec, warn)
                with self._lock:
                    self._busy.add(once)
                return once
            make = factory
        key = _key(spec)
        slot = (spec.function_name, spec.function_version)
        retired: list[Any] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("the environment pool is closed")
            self._current[slot] = key
            idle = self._idle.get(slot, [])
            keep = [e for e in idle if e.key == key]
            retired = [e for e in idle if e.key != key]
            found = keep.pop() if keep else None
            self._idle[slot] = keep
            if found is not None:
                self._busy.add(found)
        for e in retired:
            e.stop()
        if found is not None:
            return found  # type: ignore[no-any-return]
        env: Environment = make(spec, warn)
        with self._lock:
            self.started += 1
            self._busy.add(env)
            closed = self._closed
        if closed:
            env.stop()
            raise RuntimeError("the environment pool is closed")
        return env

    def release(self, environment: Environment) -> None:
        warm: Any = environment  # key, spec, dead, last_used when it is a warm one
        with self._lock:
            self._busy.discard(environment)
            key = getattr(warm, "key", None)
            slot = (warm.spec.function_name, warm.spec.function_version) if key else None
            keep = (
                slot is not None
                and not getattr(warm, "dead", True)
                and not self._closed
                and self._current.get(slot) == key
            )
            if keep and slot is not None:
                warm.last_used = time.monotonic()
                self._idle.setdefault(slot, []).append(warm)
        if not keep:
            environment.stop()

    def idle_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())

    def _reap_idle(self) -> None:
        tick = max(0.05, min(1.0, self.idle_timeout / 4))
        while not self._wake.wait(tick):
            now = time.monotonic()
            stale: list[WarmEnvironment] = []
            with self._lock:
                for slot, envs in self._idle.items():
                    stale += [e for e in envs if now - e.last_used >= self.idle_timeout]
                    self._idle[slot] = [e for e in envs if now - e.last_used < self.idle_timeout]
            for e in stale:
                e.stop()

    def close(self) -> None:
        """Stop every environment; the pool starts no more."""
        with self._lock:
            self._closed = True
            envs: list[Environment] = [e for v in self._idle.values() for e in v]
            envs += list(self._busy)
            self._idle.clear()
        self._wake.set()
        for e in envs:
            e.stop()
