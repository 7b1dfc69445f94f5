"""The Python executor: each invocation of a version in a process of its own ("sandbox").

:meth:`PythonEnvironment.invoke` starts the function's process (a fork of this process,
or another interpreter running ``var_runtime/bootstrap.py``; see
:mod:`lambdaver.runtime.interpreter`), feeds it the job, and supervises it: it collects
the log (the process's stdout and stderr) and the result frames (a separate pipe, so
nothing printed can mix into the payload), enforces the timeout by killing the whole
process group, and turns what happened into AWS's payload, ``FunctionError`` and log text
(``START`` ... ``END``, ``REPORT``).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import select
import sys
import time
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
    interpreter,
    timed_out,
)
from lambdaver.runtime.background import other_threads_running as _other_threads_running
from lambdaver.runtime.var_runtime import bootstrap

if TYPE_CHECKING:
    from lambdaver.runtime import ClientContext

#: Where the bootstrap lives: Lambda's ``LAMBDA_RUNTIME_DIR`` and ``PYTHONPATH``.
BOOTSTRAP = os.path.abspath(bootstrap.__file__)
RUNTIME_DIR = os.path.dirname(BOOTSTRAP)

#: Time the init phase (importing the handler) may take on top of the timeout, which
#: only starts with the handler call, as in AWS (whose init phase is limited to 10 s).
INIT_ALLOWANCE_SECONDS = 10.0
#: After the result arrives, how long the process has to exit before it is killed.
EXIT_GRACE_SECONDS = 2.0
#: After the process is gone, how long to wait for the pipes to close (a daemon that
#: left the process group may hold them open).
DRAIN_SECONDS = 0.25
#: Log bytes kept: the first HEAD and the last TAIL, with a marker for what was dropped.
LOG_HEAD_BYTES = 1 << 20
LOG_TAIL_BYTES = 3 << 20

_CHUNK = 1 << 16


def invocation_log(log: bytes, rid: str, version: str, started: bool, tail: str) -> str:
    """The invocation's log as Lambda shows it: what the process wrote (with a START line
    it did not get to write, when ``started`` is false), then ``tail`` (the platform's
    notice of an error, the END and REPORT lines) on a line of its own."""
    text = log.decode("utf-8", "replace")
    if not started:
        text = bootstrap.start_line(rid, version) + text
    if not text.endswith("\n"):
        text += "\n"
    return text + tail


def job_for(
    spec: EnvironmentSpec,
    payload: bytes,
    request_id: str,
    invoked_function_arn: str,
    *,
    ensure_ascii: bool,
    client_context: ClientContext | None = None,
) -> bootstrap.Job:
    """What the function's process is told to run for one invocation of ``spec``."""
    return bootstrap.Job(
        code_dir=os.path.abspath(spec.code_dir),
        handler=spec.handler,
        request_id=request_id,
        function_version=spec.function_version,
        invoked_function_arn=invoked_function_arn,
        timeout=spec.timeout,
        memory_size=spec.memory_size,
        payload=payload,
        ensure_ascii=ensure_ascii,
        source_dir=os.path.abspath(spec.source_dir) if spec.source_dir else "",
        client_context=client_context,
    )


class PythonExecutor(Executor):
    """Python runtimes: every invocation is a cold start, in a process of its own (a fork
    of this one, or another interpreter; see :mod:`lambdaver.runtime.interpreter`).
    Runtimes of other families run here too, after a warning, until they have their own."""

    def start(self, spec: EnvironmentSpec, warn: Warn | None = None) -> PythonEnvironment:
        return PythonEnvironment(spec, warn or _print_warning)


class PythonEnvironment(Environment):
    """The process environment of one version; each invocation starts a new process, and
    nothing outlives an invocation, so :meth:`stop` has nothing to do."""

    def __init__(self, spec: EnvironmentSpec, warn: Warn) -> None:
        self.spec = spec
        self.warn = warn
        self.log_stream_name = spec.log_stream_name or default_log_stream_name(
            spec.function_version
        )
        self.env = build_environment(spec, self.log_stream_name)
        version = interpreter.parse_runtime(spec.runtime)
        # python3.12 and later return unicode characters unescaped
        self.ensure_ascii = version is None or version < (3, 12)
        choice = interpreter.choose(spec.runtime)
        if choice.warning:
            warn(choice.warning)
        #: None: fork this process.
        self.executable = choice.executable

    def invoke(
        self,
        payload: bytes,
        *,
        request_id: str,
        invoked_function_arn: str,
        client_context: ClientContext | None = None,
    ) -> InvokeResult:
        spec = self.spec
        job = job_for(
            spec, payload, request_id, invoked_function_arn, ensure_ascii=self.ensure_ascii,
            client_context=client_context,
        )  # fmt: skip
        executable = self.executable
        if executable is None and _other_threads_running():
            executable = sys.executable  # forking a threaded process is unsafe
        outcome = _Invocation(job, self.env, executable, spec.timeout).run()
        if outcome.start_failure is not None and executable and executable != sys.executable:
            self.warn(interpreter.fallback_warning(spec.runtime, executable, outcome.start_failure))
            self.executable = None  # the next invocations go straight to this interpreter
            executable = sys.executable if _other_threads_running() else None
            outcome = _Invocation(job, self.env, executable, spec.timeout).run()
        executable = executable or sys.executable
        return _result(spec, request_id, outcome, executable, self.log_stream_name)

    def stop(self) -> None:
        pass


#: The instance :data:`lambdaver.runtime.EXECUTORS` names.
PYTHON = PythonExecutor()


def default_log_stream_name(version: str) -> str:
    """``YYYY/MM/DD/[VERSION]<32 hex>``, as AWS names a new log stream."""
    return f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{version}]{os.urandom(16).hex()}"


def build_environment(spec: EnvironmentSpec, log_stream_name: str) -> dict[str, str]:
    """The function's environment: nothing of ours but PATH, HOME and TMPDIR."""
    code_dir = os.path.abspath(spec.code_dir)
    env = {key: os.environ[key] for key in ("PATH", "HOME", "TMPDIR") if key in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        {  # set by Lambda, may be overridden by the function's own variables
            "LANG": "en_US.UTF-8",
            "LC_CTYPE": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": RUNTIME_DIR,
            "PWD": code_dir,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
    )
    env.update(spec.environment)
    env.update(
        {  # reserved: the function cannot override them
            "_HANDLER": spec.handler,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": spec.function_version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
            "LAMBDA_TASK_ROOT": code_dir,
            "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
            "PYTHONDONTWRITEBYTECODE": "1",  # the code directory is frozen
        }
    )
    return env


def _print_warning(message: str) -> None:
    print(f"lambdaver: warning: {message}", file=sys.stderr, flush=True)


# --- one run of the function's process -------------------------------------------------


class _Outcome:
    """What one run observed (a plain class: dataclasses cost start-up time)."""

    def __init__(self, started: float) -> None:
        self.started = started  # time.monotonic() before the process was started
        self.init_done: float | None = None  # the handler was imported
        self.finished: float | None = None  # the result (or error) frame arrived
        self.ended = 0.0  # the process was seen gone (or was killed)
        # (kind, body) of RESULT / ERROR / OUT_OF_MEMORY
        self.frame: tuple[bytes, bytes] | None = None
        self.timed_out = False
        self.wait_status: int | None = None
        self.max_rss_kb = 0
        self.log = b""
        #: Why the interpreter could not start (it never ran the bootstrap), else None.
        self.start_failure: str | None = None


class _Invocation:
    """Start the process, pump its pipes until it is gone, reap it."""

    #: The script the function's process runs (``executable bootstrap JOB_FD RESULT_FD``).
    script = BOOTSTRAP

    def __init__(
        self, job: bootstrap.Job, env: dict[str, str], executable: str | None, timeout: int
    ) -> None:
        self.job = job
        self.env = env
        self.executable = executable
        self.timeout = timeout
        self.pid = 0
        self.pidfd = -1
        self.fds: list[int] = []  # every descriptor we own, closed at the end
        self.log = _LogBuffer()
        self.frames = bytearray()
        self.hello = False
        self.pending_job = memoryview(b"")

    def run(self) -> _Outcome:
        outcome = _Outcome(started=time.monotonic())
        job_w = -1
        try:
            log_r, log_w = self._pipe()
            result_r, result_w = self._pipe()
            if self.executable is None:
                with _InterruptsHeld():
                    self._fork(log_w, result_w)
            else:
                job_r, job_w = self._pipe()
                try:
                    with _InterruptsHeld():
                        self._spawn(log_w, result_w, job_r)
                except OSError as e:
                    outcome.start_failure = e.strerror or str(e)
                    return outcome
                self.pending_job = memoryview(self.job.encode())
                self._close(job_r)
                os.set_blocking(job_w, False)
            self._close(log_w)
            self._close(result_w)
            self._supervise(outcome, log_r, result_r, job_w)
        except BaseException:
            if self.pid:  # interrupted (Ctrl-C) or a bug: leave nothing running
                _kill_group(self.pid)
                _reap(self.pid)
            raise
        finally:
            for fd in self.fds:
                os.close(fd)
        outcome.log = self.log.getvalue()
        never_ran = not self.hello and outcome.frame is None and not outcome.timed_out
        if self.executable is not None and never_ran:  # the interpreter did not start
            outcome.start_failure = _start_failure_reason(outcome)
        return outcome

    # -- descriptors

    def _pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        r, w = _above_stdio(r), _above_stdio(w)
        self.fds += [r, w]
        return r, w

    def _close(self, fd: int) -> None:
        self.fds.remove(fd)
        os.close(fd)

    # -- starting

    def _fork(self, log_w: int, result_w: int) -> None:
        # Both sides need resource: the child for its memory limit, and os.wait4 here to
        # build the rusage it returns.  Imported once, before the fork, it is paid once.
        import resource  # noqa: F401

        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:  # whatever is buffered must not be written twice
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; coverage cannot follow os._exit
            try:
                bootstrap.run_forked(self.job, self.env, log_w, result_w)
            finally:
                os._exit(70)
        self.pid = pid
        try:
            os.setpgid(pid, pid)  # the child does it too: whoever comes first wins
        except OSError:
            pass

    def _spawn(self, log_w: int, result_w: int, job_r: int) -> None:
        if self.executable is None:
            raise ValueError("nothing to spawn")
        os.set_inheritable(job_r, True)
        os.set_inheritable(result_w, True)
        import signal  # imported when used: its enums take half a millisecond to build

        self.pid = os.posix_spawn(
            self.executable,
            [self.executable, self.script, str(job_r), str(result_w)],
            self.env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_w, 1),
                (os.POSIX_SPAWN_DUP2, log_w, 2),
            ],
            setpgroup=0,
            setsigmask=(),
            setsigdef=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD),
        )

    # -- supervising

    def _supervise(self, outcome: _Outcome, log_r: int, result_r: int, job_w: int) -> None:
        poller = select.poll()
        readers = {log_r, result_r}
        for fd in readers:
            os.set_blocking(fd, False)
            poller.register(fd, select.POLLIN)
        if job_w >= 0:
            poller.register(job_w, select.POLLOUT)
        try:
            self.pidfd = os.pidfd_open(self.pid)
            self.fds.append(self.pidfd)
            poller.register(self.pidfd, select.POLLIN)
        except (AttributeError, OSError):
            self.pidfd = -1  # no pidfd (not Linux, old kernel): poll for the exit
        deadline = outcome.started + INIT_ALLOWANCE_SECONDS + self.timeout
        exited = False
        while not exited:
            now = time.monotonic()
            if now >= deadline:
                outcome.timed_out = outcome.frame is None
                break
            wait_ms = math.ceil((deadline - now) * 1000)
            for fd, _event in poller.poll(wait_ms if self.pidfd >= 0 else min(wait_ms, 10)):
                if fd == self.pidfd:
                    exited = True
                elif fd == job_w:
                    if not self._feed_job(job_w):
                        poller.unregister(job_w)
                        self._close(job_w)
                        job_w = -1
                elif not self._read(fd, log_r):
                    poller.unregister(fd)
                    readers.discard(fd)
            had_init, had_frame = outcome.init_done, outcome.frame
            self._take_frames(outcome)
            if outcome.init_done is not None and had_init is None:
                deadline = outcome.init_done + self.timeout  # the timeout starts now
            if outcome.frame is not None and had_frame is None:
                deadline = min(deadline, time.monotonic() + EXIT_GRACE_SECONDS)
            if self.pidfd < 0 and not exited:
                exited = _has_exited(self.pid) if hasattr(os, "waitid") else not readers
        outcome.ended = time.monotonic()
        _kill_group(self.pid)  # the handler's own children die with it, as in a sandbox
        self._drain(readers, log_r)
        self._take_frames(outcome)
        pid, self.pid = self.pid, 0
        reaped = _reap(pid)
        if reaped is not None:
            outcome.wait_status, outcome.max_rss_kb = reaped

    def _take_frames(self, outcome: _Outcome) -> None:
        """Act on the complete frames read so far."""
        for kind, sent_at, body in bootstrap.parse_frames(self.frames):
            if kind == bootstrap.HELLO:
                self.hello = True
            elif kind == bootstrap.INIT_DONE:
                outcome.init_done = sent_at
            elif outcome.frame is None:
                outcome.frame = (kind, body)
                outcome.finished = sent_at
        if outcome.frame is None and len(self.frames) > 2 * bootstrap.MAX_RESPONSE_BYTES:
            # only a process writing garbage gets here: the bootstrap checks the size
            outcome.frame = (bootstrap.ERROR, bootstrap.to_json(bootstrap.RESPONSE_TOO_LARGE))
            outcome.finished = time.monotonic()
            self.frames.clear()

    def _read(self, fd: int, log_r: int) -> bool:
        """Read what is there; False at end of file."""
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return True
        if not data:
            return False
        if fd == log_r:
            self.log.add(data)
        else:
            self.frames += data
        return True

    def _feed_job(self, job_w: int) -> bool:
        """Write more of the job; False when it is all written or nobody reads it."""
        try:
            written = os.write(job_w, self.pending_job[:_CHUNK])
        except BlockingIOError:
            return True
        except OSError:  # the process is gone (EPIPE)
            return False
        self.pending_job = self.pending_job[written:]
        return bool(self.pending_job)

    def _drain(self, readers: set[int], log_r: int) -> None:
        """Read both pipes to their end, for at most DRAIN_SECONDS."""
        poller = select.poll()
        for fd in readers:
            poller.register(fd, select.POLLIN)
        until = time.monotonic() + DRAIN_SECONDS
        while readers:
            remaining = until - time.monotonic()
            if remaining <= 0:
                break
            for fd, _event in poller.poll(math.ceil(remaining * 1000)):
                if fd in readers and not self._read(fd, log_r):
                    poller.unregister(fd)
                    readers.discard(fd)


def _start_failure_reason(outcome: _Outcome) -> str:
    """One line on why an interpreter did not start: its error, else how it exited."""
    lines = [line.strip() for line in outcome.log.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return _describe_exit(outcome.wait_status)
    errors = [line for line in lines if "Error:" in line]  # a Python traceback's last line
    return errors[-1] if errors else lines[0]  # else, say, "pyenv: python3.12: command not found"


def _above_stdio(fd: int) -> int:
    """Keep pipe ends off 0-2 (possible when this process's stdio is closed)."""
    if fd > 2:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


SIGKILL = 9  # the same number on every platform; the signal module costs 0.5 ms to import


class _InterruptsHeld:
    """Hold SIGINT back while the function's process is started and recorded.

    A Ctrl-C that Python acts on between ``fork`` (or ``posix_spawn``) returning and
    ``self.pid`` being set would unwind with no process to kill: the function, already in
    a process group of its own where the terminal's Ctrl-C does not reach it, would run
    on.  Blocked, the signal stays pending and is raised once the process is recorded,
    where :meth:`_Invocation.run` kills it.  The child starts with it blocked too; the
    bootstrap (fork) and ``posix_spawn``'s ``setsigmask`` (spawn) unblock it.
    """

    def __enter__(self) -> None:
        import _signal  # type: ignore[import-not-found,unused-ignore]  # built in, loaded

        self.restore = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})

    def __exit__(self, *exc: object) -> None:
        import _signal  # type: ignore[import-not-found,unused-ignore]

        _signal.pthread_sigmask(_signal.SIG_SETMASK, self.restore)


def _kill_group(pid: int) -> None:
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        try:
            kill(target, SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _has_exited(pid: int) -> bool:
    """Has the child exited?  Leaves it unreaped, so its process group id stays ours."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _reap(pid: int) -> tuple[int, int] | None:
    """Wait for the (killed) child: its wait status and peak RSS in KB."""
    interrupted = False
    while True:
        try:
            _pid, status, usage = os.wait4(pid, 0)
            break
        except ChildProcessError:
            return None
        except KeyboardInterrupt:
            interrupted = True  # it is already killed: finish reaping, then re-raise
    if interrupted:
        raise KeyboardInterrupt
    peak = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
    return status, peak


# --- the result ----------------------------------------------------------------------------


def _result(
    spec: EnvironmentSpec, rid: str, outcome: _Outcome, executable: str, log_stream_name: str
) -> InvokeResult:
    max_memory_mb = math.ceil(outcome.max_rss_kb / 1024)
    status = outcome.wait_status
    notice = ""  # the platform's own log lines (timeout, runtime exit)
    kind, body = outcome.frame or (b"", b"")
    function_error: str | None = "Unhandled"
    error_type: str | None
    if outcome.timed_out:
        error_type = TIMED_OUT
        payload, notice = timed_out(rid, spec.timeout)
    elif kind == bootstrap.RESULT:
        payload, function_error, error_type = body, None, None
    elif kind == bootstrap.ERROR:
        payload, error_type = body, _error_type_of(body)
    else:
        if kind == bootstrap.OUT_OF_MEMORY or _killed_for_memory(status, max_memory_mb, spec):
            error_type, reason = "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"
        else:
            error_type, reason = "Runtime.ExitError", _describe_exit(status)
        message = f"RequestId: {rid} Error: {reason}"
        payload = error_payload(message, error_type)
        notice = f"{message}\n{error_type}\n"

    if outcome.timed_out:
        duration = spec.timeout * 1000.0
    else:
        begin = outcome.init_done or outcome.started
        duration = ((outcome.finished or outcome.ended) - begin) * 1000
    init_duration = (
        (outcome.init_done - outcome.started) * 1000 if outcome.init_done is not None else None
    )
    billed, end = end_of_log(rid, duration, spec.memory_size, max_memory_mb, init_duration)
    started = outcome.init_done is not None  # else the process never wrote its START line
    text = invocation_log(outcome.log, rid, spec.function_version, started, notice + end)

    return InvokeResult(
        payload=payload,
        function_error=function_error,
        error_type=error_type,
        log=text,
        duration_ms=duration,
        billed_duration_ms=billed,
        max_memory_used_mb=max_memory_mb,
        init_duration_ms=init_duration,
        interpreter=executable,
        log_stream_name=log_stream_name,
    )


def _error_type_of(body: bytes) -> str | None:
    try:
        error: Any = json.loads(body)
        return str(error["errorType"])
    except (ValueError, KeyError, TypeError):
        return None


def _killed_for_memory(status: int | None, max_memory_mb: int, spec: EnvironmentSpec) -> bool:
    """SIGKILLed by someone else (the kernel's OOM killer) while over its memory size."""
    return (
        status is not None
        and os.WIFSIGNALED(status)
        and os.WTERMSIG(status) == SIGKILL
        and max_memory_mb >= spec.memory_size
    )


def _describe_exit(status: int | None) -> str:
    """Lambda's words (Go's ``os.ProcessState``) for how the process ended."""
    if status is None or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        return "Runtime exited without providing a reason"
    if os.WIFSIGNALED(status):
        import signal

        number = os.WTERMSIG(status)
        name = signal.strsignal(number) or f"signal {number}"
        return f"Runtime exited with error: signal: {name[:1].lower()}{name[1:]}"
    return f"Runtime exited with error: exit status {os.WEXITSTATUS(status)}"


class _LogBuffer:
    """The log as read from the pipe, bounded: the first and the last bytes are kept."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = LOG_HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > 2 * LOG_TAIL_BYTES:
            self._trim()

    def _trim(self) -> None:
        excess = len(self.tail) - LOG_TAIL_BYTES
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def getvalue(self) -> bytes:
        self._trim()
        if not self.dropped:
            return bytes(self.head + self.tail)
        marker = f"\n[lambdaver: {self.dropped} bytes of log output dropped]\n".encode()
        return bytes(self.head) + marker + bytes(self.tail)
