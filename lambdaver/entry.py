"""The console script's entry point.

Kept tiny so that Ctrl-C is handled even while the CLI is still loading (click and
lambdaver's modules take a few tens of milliseconds).

**Ctrl-C.**  Importing this module installs :class:`_Interrupt` as SIGINT's handler; the
console script imports it first thing, so that the handler covers everything from here
on.  While the CLI loads, nothing has been written and no process started: a Ctrl-C
prints ``Interrupted.`` and ends the process with 130 at once, never a
``KeyboardInterrupt`` (which, raised in the middle of an import, would escape as a
traceback, or be lost when it lands in one of importlib's callbacks).  Once the command
runs, a Ctrl-C raises ``KeyboardInterrupt`` as usual, so that the command unwinds (a
half-written temporary removed, the function's process killed) and ``main()``'s error
boundary prints ``Interrupted.`` and exits 130.  Python reports and otherwise ignores an
exception raised in a finaliser or a callback ("Exception ignored in ..."); a
``KeyboardInterrupt`` lost that way is raised again at the next function call or return
(:func:`_unraisable`), so a Ctrl-C is never silently dropped.  Nothing before this
module's first statement can be covered: Python's own start-up and ``site``, and the
console script's ``import re``.

When the command is done, the process ends without tearing the interpreter down:
destroying every module and object of a process that has loaded click costs 6-8 ms, a
fifth of its whole start-up, and buys nothing here (every file lambdaver writes is
closed, and fsync'ed where it matters, before the command returns).  This is done only
when it is safe: nothing is registered with ``atexit`` and no other thread runs; then
stdout and stderr are flushed and the process exits with ``os._exit``.  ``main()`` of
``lambdaver.cli.main`` (what the tests call) exits normally.
"""

from __future__ import annotations

# _signal: built in and loaded by every interpreter (``signal`` costs 0.5 ms to import)
import _signal  # type: ignore[import-not-found,unused-ignore]
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not loaded yet: this module runs before everything else
    from typing import Any

EXIT_INTERRUPTED = 130  # lambdaver.errors.EXIT_INTERRUPTED, which is not loaded yet


class _Interrupt:
    """SIGINT's handler: ends the process while the CLI loads, then raises
    ``KeyboardInterrupt`` (also in a forked function process, until it resets it)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loading = True

    def __call__(self, signum: int, frame: Any) -> None:
        if self.loading and os.getpid() == self.pid:
            _interrupted()
        raise KeyboardInterrupt


def _interrupted() -> None:
    """Say so and end the process: only where nothing needs to unwind."""
    try:
        os.write(2, b"Interrupted.\n")
    except OSError:
        pass
    os._exit(EXIT_INTERRUPTED)


_SIGINT = _Interrupt()
try:
    _signal.signal(_signal.SIGINT, _SIGINT)
except (ValueError, OSError):  # not the main thread (imported by a test, say)
    pass


def main() -> None:
    # A command lives for milliseconds to seconds and makes no reference cycles worth
    # collecting; the cyclic collector's passes over the modules it loads and the entries
    # of a large tree cost time for nothing (a forked function process turns it back on).
    import gc

    gc.disable()
    try:
        from lambdaver.cli.main import main as cli_main
    except KeyboardInterrupt:  # only if SIGINT's handler was not ours
        sys.stderr.write("Interrupted.\n")
        sys.exit(EXIT_INTERRUPTED)
    sys.unraisablehook = _unraisable
    _SIGINT.loading = False  # from now on a Ctrl-C unwinds the command
    try:
        try:
            cli_main()
        except KeyboardInterrupt:  # after the error boundary: in its message, or its flush
            _interrupted()
    except SystemExit as exc:
        _SIGINT.loading = True  # the command is over: a Ctrl-C now ends the process at once
        code = exc.code
        if (code is None or isinstance(code, int)) and _nothing_left_to_tear_down():
            _exit_now(code or 0)
        raise


def _unraisable(unraisable: Any) -> None:
    """``sys.unraisablehook``: a ``KeyboardInterrupt`` that Python would report and drop
    (it was raised in a finaliser or a callback, such as importlib's at the end of every
    import) is raised again, silently, at the next call or return of ordinary code."""
    if unraisable.exc_type is None or not issubclass(unraisable.exc_type, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)
        return
    sys.setprofile(_raise_interrupt)


def _raise_interrupt(frame: Any, event: str, arg: Any) -> None:
    if frame.f_code is _unraisable.__code__:  # the hook returning: not there
        return
    sys.setprofile(None)
    raise KeyboardInterrupt


def _nothing_left_to_tear_down() -> bool:
    import atexit

    count = getattr(atexit, "_ncallbacks", None)
    if count is None or count() != 0:
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _exit_now(code: int) -> None:
    """Flush stdout and stderr, then end the process at once (returns only if a flush
    fails, leaving that to the interpreter's normal exit)."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)
