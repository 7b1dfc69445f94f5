"""Starting a process that outlives the command that starts it: the worker that runs
``invoke --invocation-type Event`` in the background (docs/runtime.md, "Event
invocations").

:func:`spawn_detached` starts a program in a session of its own (so the terminal's
Ctrl-C and hang-up do not reach it), with standard input and output on ``/dev/null`` and
standard error appended to a log file (so a shell's command substitution, a pipe or
``make`` is never held open by it), and not as a child of this process (a fork in between
exits at once), so that neither this process nor a long-lived caller is left with a
process to reap.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

#: ``python -I -S -c INTERMEDIATE ARGV...``: the fork in between, when this process has
#: threads and must not fork itself.
_INTERMEDIATE = (
    "import os,sys\n"
    "a=sys.argv[1:];n=int(a[0]);log=a[1];argv=a[2:]\n"
    "fa=[(os.POSIX_SPAWN_OPEN,0,os.devnull,os.O_RDONLY,0),"
    "(os.POSIX_SPAWN_OPEN,1,os.devnull,os.O_WRONLY,0),"
    "(os.POSIX_SPAWN_OPEN,2,log,os.O_WRONLY|os.O_APPEND|os.O_CREAT,0o644)]\n"
    "os.write(n,str(os.posix_spawn(argv[0],argv,os.environ,file_actions=fa,setsid=True))"
    ".encode())\n"
)


def spawn_detached(
    argv: Sequence[str], *, log_path: str, env: Mapping[str, str] | None = None
) -> int:
    """Start ``argv`` detached (see the module's doc); return its process id.

    Raises ``OSError`` when it could not be started (``argv[0]`` missing, no processes
    left)."""
    argv = [os.fspath(a) for a in argv]
    environment = dict(os.environ if env is None else env)
    r, w = os.pipe()
    try:
        if other_threads_running():
            # A fork of a threaded process may deadlock in its child: go through a small
            # interpreter that starts the program and exits.
            os.set_inheritable(w, True)
            middle = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", "-c", _INTERMEDIATE, str(w), log_path, *argv],
                environment,
                file_actions=_stdio(os.devnull),
            )
        else:
            middle = _fork_and_spawn(argv, environment, log_path, w)
        os.close(w)
        w = -1
        answer = _read_all(r)
        _reap(middle)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    if answer.startswith(b"!") or not answer.strip().isdigit():
        message = answer[1:].decode("utf-8", "replace") or "the process could not be started"
        raise OSError(message)
    return int(answer)


def _fork_and_spawn(argv: list[str], env: dict[str, str], log_path: str, w: int) -> int:
    actions = _stdio(log_path)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; coverage cannot follow os._exit
        status = 1
        try:
            child = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
            os.write(w, str(child).encode())
            status = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            try:
                os.write(w, b"!" + str(exc).encode("utf-8", "replace"))
            except OSError:
                pass
        finally:
            os._exit(status)
    return pid


def _stdio(log_path: str) -> list[tuple[int, int, str, int, int]]:
    """``/dev/null`` as standard input and output, ``log_path`` (appended) as error."""
    return [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
    ]


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(fd, 4096)
        except InterruptedError:  # pragma: no cover - retried by Python itself (PEP 475)
            continue
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # pragma: no cover - reaped by a SIGCHLD handler of the caller
        pass


def other_threads_running() -> bool:
    """Does this process have threads besides this one (then it must not fork)?

    Counts the OS's threads where it can, so that threads started by C libraries count
    too (Python 3.12+ warns when forking with any of them).
    """
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        return int(stat.rsplit(b")", 1)[1].split()[17]) > 1  # field 20: num_threads
    except (OSError, ValueError, IndexError):
        threading = sys.modules.get("threading")
        return threading is not None and threading.active_count() > 1
