"""The code that runs inside a warm execution environment's process (``lambdaver serve``).

Started by :mod:`lambdaver.runtime.warm` as ``python warm_bootstrap.py JOB_FD RESULT_FD``
(stdout and stderr are the log pipe).  It reads jobs from ``JOB_FD`` (each an 8-byte
length, then :meth:`bootstrap.Job.encode`), imports the handler once, with the first job
(the *init* phase), and then runs one invocation per job until ``JOB_FD`` ends, so module
state and ``/tmp`` persist between invocations, as in Lambda.  On ``RESULT_FD`` it sends
bootstrap's frames: ``HELLO`` once, ``INIT_DONE`` once after the import, ``START`` as
each invocation begins, then its ``RESULT``, ``ERROR`` or ``OUT_OF_MEMORY``.

An init failure is reported as that invocation's error and ends the process (the next
invocation starts a new environment, as Lambda retries the init).  The handler, its
errors, the context object and the marshalling are bootstrap.py's, so a warm invocation
behaves exactly as a cold one.  Standard library only; Python 3.8 and later.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - typing only, never imported at run time
    from typing import Any, NoReturn

    from lambdaver.runtime.var_runtime import bootstrap as bs
else:  # beside this file; imported before the function's import path is set
    import bootstrap as bs

#: An invocation begins (the handler is about to be called).
START = b"S"

_LENGTH = struct.Struct(">Q")
_THIS_FILE = __file__


def read_job(fd: int) -> bs.Job | None:
    """The next job, or None when the pipe ended (the environment is being stopped)."""
    head = _read_exactly(fd, _LENGTH.size)
    if head is None:
        return None
    (length,) = _LENGTH.unpack(head)
    data = _read_exactly(fd, length)
    if data is None:
        return None
    return bs.Job.decode(data)


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _error_from_exception(exc: BaseException, request_id: str) -> dict[str, Any]:
    """bootstrap's error object, with this file's frames hidden too."""
    import traceback

    frames = [
        (bs.user_path(f.filename), f.lineno, f.name, f.line)
        for f in traceback.extract_tb(exc.__traceback__)
    ]
    while frames and frames[0][0] in (bs._THIS_FILE, _THIS_FILE):
        del frames[0]
    stack = traceback.format_list(frames)  # type: ignore[arg-type]
    return bs.make_error(bs._safe_str(exc), type(exc).__name__, stack, request_id)


def _report(result_fd: int, error: dict[str, Any], job: bs.Job) -> None:
    bs._report_error(result_fd, error, job)


def _init(job: bs.Job, result_fd: int) -> Any:
    """Import the handler; on failure report it as this invocation's error and return None."""
    if job.source_dir:
        bs._source_map = (os.path.join(job.code_dir, ""), os.path.join(job.source_dir, ""))
    try:
        return bs.load_handler(job.handler)
    except bs.FaultError as e:
        _report(result_fd, bs.make_error(e.message, e.error_type, e.trace, ""), job)
    except (MemoryError, SystemExit, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - the module raised while being imported
        _report(result_fd, _error_from_exception(e, ""), job)
    return None


def _invoke(handler: Any, job: bs.Job, result_fd: int) -> None:
    bs._request_id = job.request_id
    bs._log(bs.start_line(job.request_id, job.function_version))
    bs.send_frame(result_fd, START)
    deadline_ms = int(time.time() * 1000) + job.timeout * 1000
    try:
        try:
            event = json.loads(job.payload) if job.payload else {}
        except ValueError as e:
            raise bs.FaultError(
                "Runtime.UnmarshalError", f"Unable to unmarshal input: {e}"
            ) from None
        context = bs.LambdaContext(
            job.request_id, job.invoked_function_arn, deadline_ms, job.client_context
        )
        body = bs.marshal(handler(event, context), job.ensure_ascii)
    except bs.FaultError as e:
        _report(result_fd, bs.make_error(e.message, e.error_type, e.trace, job.request_id), job)
        return
    except (MemoryError, SystemExit, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - whatever the handler raised
        _report(result_fd, _error_from_exception(e, job.request_id), job)
        return
    if len(body) > bs.MAX_RESPONSE_BYTES:
        _report(result_fd, bs.RESPONSE_TOO_LARGE, job)
        return
    bs._flush_stdio()
    bs.send_frame(result_fd, bs.RESULT, body)


def _serve(job_fd: int, result_fd: int) -> int:
    job = read_job(job_fd)
    if job is None:
        return 0
    bs._prepare_process(job)
    handler = _init(job, result_fd)
    if handler is None:
        return 1
    bs.send_frame(result_fd, bs.INIT_DONE)
    while job is not None:
        _invoke(handler, job, result_fd)
        bs._request_id = ""
        job = read_job(job_fd)
    return 0


def main(argv: list[str]) -> NoReturn:
    here = os.path.realpath(os.path.dirname(_THIS_FILE))
    if sys.path and os.path.realpath(sys.path[0] or ".") == here:
        del sys.path[0]  # the script's directory; PYTHONPATH puts it back after code_dir
    job_fd, result_fd = int(argv[1]), int(argv[2])
    os.set_inheritable(job_fd, False)
    os.set_inheritable(result_fd, False)
    sys.argv[:] = [_THIS_FILE]
    bs.send_frame(result_fd, bs.HELLO)
    try:
        status = _serve(job_fd, result_fd)
    except SystemExit as e:
        status = bs._exit_status(e)
    except MemoryError:
        bs._send_quietly(result_fd, bs.OUT_OF_MEMORY)
        status = 1
    except BaseException:  # noqa: BLE001 - like an uncaught exception at top level
        bs._print_exception()
        status = 1
    bs._flush_stdio()
    os._exit(status)


if __name__ == "__main__":
    main(sys.argv)
