"""The code that runs inside the function's process: lambdaver's ``/var/runtime/bootstrap.py``.

It is the same code on both start-up paths:

* **fork** - the parent (``lambdaver.runtime.invoke``) forks itself and the child calls
  :func:`run_forked`, which undoes what the child inherited (fds, signals, environment,
  logging, modules the function's directory shadows) and then calls :func:`serve`;
* **spawn** - another interpreter runs this file as a script (``__main__`` at the bottom):
  it reads the job from a pipe and calls :func:`serve`.

:func:`serve` imports the handler (the *init* phase), writes the ``START`` line, calls the
handler once and reports on the result pipe with small frames (:func:`send_frame`).  It
never returns: the process ends with ``os._exit`` so nothing inherited from the parent
(``atexit``, ``finally`` blocks, buffered files) ever runs.

Its behaviour mirrors awslambdaric (the AWS Lambda Python runtime interface client): the
error objects, the ``[ERROR]`` log lines, the logging format, the context object and the
JSON marshalling.  This file must stay importable by every interpreter lambdaver may spawn
(Python 3.8 and later) and must import nothing outside the standard library.
"""

# This file runs first thing in a freshly started interpreter, where importing pathlib
# costs milliseconds: it works on str paths with os.path on purpose.

from __future__ import annotations

import json
import os
import struct
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - typing only, never imported at run time
    from collections.abc import Callable
    from typing import Any, NoReturn

# --- the wire between the function's process and the parent -----------------------------

#: Frame kinds on the result pipe (one byte each).
HELLO = b"H"  # spawn path: the interpreter started and is running this file
INIT_DONE = b"I"  # the handler was imported; the START line is in the log
RESULT = b"R"  # the handler's response bytes
ERROR = b"E"  # a function error: body is the JSON error object for the caller
OUT_OF_MEMORY = b"M"  # the function ran out of memory (MemoryError)

#: Kind, body length, and the sender's ``time.monotonic()`` (a system-wide clock, so the
#: parent can time the phases even when it reads several frames at once).
_FRAME_HEADER = struct.Struct(">cId")

#: Largest response AWS accepts, with the number its error message quotes.
MAX_RESPONSE_BYTES = 6291556
RESPONSE_TOO_LARGE = {
    "errorMessage": (
        f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
    ),
    "errorType": "Function.ResponseSizeTooLarge",
}

#: Address space allowed above the process's start-up size and the function's memory
#: size before allocations fail (see ``_limit_memory``): generous on purpose, it only
#: stops runaway allocations; it must never break a handler that merely starts threads.
MEMORY_HEADROOM_MB = 1024

_THIS_FILE = __file__


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def send_frame(fd: int, kind: bytes, body: bytes = b"") -> None:
    _write_all(fd, _FRAME_HEADER.pack(kind, len(body), time.monotonic()) + body)


def parse_frames(buffer: bytearray) -> list[tuple[bytes, float, bytes]]:
    """Remove and return the complete frames (kind, sent at, body) at the start of ``buffer``."""
    frames = []
    size = _FRAME_HEADER.size
    while len(buffer) >= size:
        kind, length, sent_at = _FRAME_HEADER.unpack_from(buffer)
        if len(buffer) < size + length:
            break
        frames.append((kind, sent_at, bytes(buffer[size : size + length])))
        del buffer[: size + length]
    return frames


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Job:
    """What the function's process needs to know besides its environment."""

    __slots__ = (
        "client_context",
        "code_dir",
        "ensure_ascii",
        "function_version",
        "handler",
        "invoked_function_arn",
        "memory_size",
        "payload",
        "request_id",
        "source_dir",
        "timeout",
    )

    def __init__(
        self,
        code_dir: str,
        handler: str,
        request_id: str,
        function_version: str,
        invoked_function_arn: str,
        timeout: int,
        memory_size: int,
        payload: bytes,
        ensure_ascii: bool,
        source_dir: str = "",
        client_context: dict[str, Any] | None = None,
    ) -> None:
        self.code_dir = code_dir
        self.handler = handler
        self.request_id = request_id
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.timeout = timeout
        self.memory_size = memory_size
        self.payload = payload
        self.ensure_ascii = ensure_ascii
        #: Non-empty: ``code_dir`` copies this directory, and tracebacks name its files.
        self.source_dir = source_dir
        #: The caller's client context (a JSON object), or None.
        self.client_context = client_context

    def encode(self) -> bytes:
        """Header length, JSON header, raw payload: what the spawn path sends on a pipe."""
        fields = {name: getattr(self, name) for name in self.__slots__ if name != "payload"}
        header = json.dumps(fields).encode("utf-8")
        return struct.pack(">I", len(header)) + header + self.payload

    @classmethod
    def decode(cls, data: bytes) -> Job:
        (length,) = struct.unpack_from(">I", data)
        fields = json.loads(data[4 : 4 + length].decode("utf-8"))
        return cls(payload=data[4 + length :], **fields)


# --- the context object (awslambdaric's LambdaContext) ------------------------------------


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self) -> None:
        self.cognito_identity_id = None
        self.cognito_identity_pool_id = None

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    __slots__ = (  # noqa: RUF023 - awslambdaric's order
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    )
    installation_id: Any
    app_title: Any
    app_version_name: Any
    app_version_code: Any
    app_package_name: Any

    def __repr__(self) -> str:
        return (
            f"Client([installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    __slots__ = ("custom", "env", "client")  # noqa: RUF023 - awslambdaric's order
    custom: Any
    env: Any
    client: Any

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


def make_obj_from_dict(cls: Any, values: Any) -> Any:
    """awslambdaric's: an instance of ``cls`` whose every slot is ``values.get(slot)``
    (None when ``values`` is None; a ``values`` that is not a dict raises, as there)."""
    if values is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, values.get(field, None))
    return obj


#: The W3C trace-context fields ``context.w3c()`` gives (awslambdaric's allowlist).
W3C_ALLOWED_FIELDS = ("traceparent", "tracestate", "baggage")


def _extract_and_strip_w3c(client_context: Any) -> dict[str, str]:
    """awslambdaric's: pop ``w3c`` out of the client context; its allowlisted strings."""
    if not isinstance(client_context, dict) or "w3c" not in client_context:
        return {}
    raw = client_context.pop("w3c")
    if not isinstance(raw, dict):
        return {}
    return {key: raw[key] for key in W3C_ALLOWED_FIELDS if isinstance(raw.get(key), str)}


class LambdaContext:
    """The handler's second argument; attribute values come from the environment, as in AWS.
    ``client_context`` is the caller's JSON object (or None), made into awslambdaric's
    ``ClientContext`` (``custom``, ``env``, ``client``: a ``Client`` or None)."""

    def __init__(
        self,
        request_id: str,
        invoked_function_arn: str,
        deadline_ms: int,
        client_context: dict[str, Any] | None = None,
    ) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a string
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self._w3c_fields = _extract_and_strip_w3c(client_context)
        self.client_context = make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = make_obj_from_dict(Client, self.client_context.client)
        self.identity = CognitoIdentity()
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def w3c(self) -> dict[str, str]:
        """The W3C trace context the caller sent in the client context's ``w3c``."""
        return dict(self._w3c_fields)

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )


# --- errors ---------------------------------------------------------------------------


class FaultError(Exception):
    """A runtime fault with an AWS error type (``Runtime.ImportModuleError``, ...)."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def make_error(
    message: str, error_type: str, stack_trace: list[str] | None, request_id: str
) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack_trace or [],
    }


def error_from_exception(exc: BaseException, request_id: str) -> dict[str, Any]:
    """AWS's error object for an exception the function raised."""
    import traceback

    frames = [
        (user_path(f.filename), f.lineno, f.name, f.line)
        for f in traceback.extract_tb(exc.__traceback__)
    ]
    while frames and frames[0][0] == _THIS_FILE:  # hide the runtime's own frames
        del frames[0]
    # Plain tuples, as awslambdaric passes them: no 3.11+ "^^^^" marker lines.
    stack = traceback.format_list(frames)  # type: ignore[arg-type]
    return make_error(_safe_str(exc), type(exc).__name__, stack, request_id)


#: (code directory + separator, source directory + separator) when tracebacks should name
#: the source directory's files (set by :func:`serve` from the job).
_source_map: tuple[str, str] | None = None


def user_path(filename: str) -> str:
    """``filename`` in the directory the user edits when the code runs from a copy of it."""
    if _source_map is not None and filename and filename.startswith(_source_map[0]):
        return _source_map[1] + filename[len(_source_map[0]) :]
    return filename


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a user's __str__ may fail in any way
        return f"<unprintable {type(exc).__name__} object>"


def log_error(error: dict[str, Any]) -> None:
    """Write an error to the log the way awslambdaric does (newline-separated lines)."""
    line = "[ERROR]"
    if error.get("errorType"):
        line += " " + error["errorType"]
    if error.get("errorMessage"):
        line += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [line]
    if "stackTrace" in error:
        lines.append("Traceback (most recent call last):")
        for element in error["stackTrace"]:
            lines.extend(element.splitlines() if element else [""])
    _log("\n".join(lines) + "\n")


def _log(text: str) -> None:
    """Write the runtime's own lines straight to the log descriptor."""
    _write_all(1, text.encode("utf-8", "backslashreplace"))


# --- marshalling (awslambdaric's Encoder) ----------------------------------------------


def _encode_default(obj: object) -> object:
    import decimal

    if isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            return float("nan")
        exponent = obj.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            return int(obj)
        return float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def marshal(response: object, ensure_ascii: bool) -> bytes:
    if isinstance(response, bytes):
        return response
    try:
        encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, default=_encode_default)
        return encoder.encode(response).encode("utf-8")
    except Exception as e:  # noqa: BLE001 - every failure is a marshal error
        raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {e}") from None


def to_json(obj: object, ensure_ascii: bool = True) -> bytes:
    return json.dumps(obj, ensure_ascii=ensure_ascii).encode("utf-8", "backslashreplace")


# --- the function's process ----------------------------------------------------------------

_request_id = ""  # what the logging filter stamps on records: "" during init, as in AWS


def serve(job: Job, result_fd: int) -> NoReturn:
    """Run one invocation and end the process.  stdout/stderr (fds 1, 2) are the log."""
    try:
        _prepare_process(job)
        _serve(job, result_fd)
        status = 0
    except SystemExit as e:
        status = _exit_status(e)
    except MemoryError:
        _send_quietly(result_fd, OUT_OF_MEMORY)
        status = 1
    except KeyboardInterrupt:
        _flush_stdio()
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        status = 130
    except BaseException:  # noqa: BLE001 - like an uncaught exception at top level
        _print_exception()
        status = 1
    _flush_stdio()
    os._exit(status)


def _serve(job: Job, result_fd: int) -> None:
    global _request_id, _source_map
    if job.source_dir:
        _source_map = (os.path.join(job.code_dir, ""), os.path.join(job.source_dir, ""))
    try:
        handler = load_handler(job.handler)
    except FaultError as e:
        _report_error(result_fd, make_error(e.message, e.error_type, e.trace, ""), job)
        return
    except (MemoryError, SystemExit, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - the module raised while being imported
        _report_error(result_fd, error_from_exception(e, ""), job)
        return

    _request_id = job.request_id
    _log(start_line(job.request_id, job.function_version))
    send_frame(result_fd, INIT_DONE)
    deadline_ms = int(time.time() * 1000) + job.timeout * 1000

    try:
        try:
            event = json.loads(job.payload) if job.payload else {}
        except ValueError as e:
            raise FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}") from None
        context = LambdaContext(
            job.request_id, job.invoked_function_arn, deadline_ms, job.client_context
        )
        body = marshal(handler(event, context), job.ensure_ascii)
    except FaultError as e:
        _report_error(result_fd, make_error(e.message, e.error_type, e.trace, job.request_id), job)
        return
    except (MemoryError, SystemExit, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - whatever the handler raised
        _report_error(result_fd, error_from_exception(e, job.request_id), job)
        return

    if len(body) > MAX_RESPONSE_BYTES:
        _report_error(result_fd, RESPONSE_TOO_LARGE, job)
        return
    _flush_stdio()
    send_frame(result_fd, RESULT, body)


def _report_error(result_fd: int, error: dict[str, Any], job: Job) -> None:
    _flush_stdio()
    log_error(error)
    send_frame(result_fd, ERROR, to_json(error, job.ensure_ascii))


def load_handler(handler: str) -> Callable[[Any, LambdaContext], object]:
    """Import ``module.function`` the way awslambdaric does, with its fault types."""
    import importlib

    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultError(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultError(
            "Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}"
        ) from None
    except SyntaxError as e:
        filename = user_path(e.filename) if e.filename else e.filename
        trace = [f'  File "{filename}" Line {e.lineno}\n    {e.text}']
        raise FaultError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace
        ) from None
    try:
        function: Callable[[Any, LambdaContext], object] = getattr(module, fname)
    except AttributeError:
        raise FaultError(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        ) from None
    return function


def _prepare_process(job: Job) -> None:
    """Working directory, import path, memory limit, stdio and logging: both paths."""
    os.chdir(job.code_dir)
    sys.dont_write_bytecode = True  # the code directory is a frozen, hashed tree
    _set_import_path(job.code_dir)
    _forget_shadowed_modules(job.code_dir)
    _limit_memory(job.memory_size)
    _install_stdio()
    _install_logging()


def _set_import_path(code_dir: str) -> None:
    """``code_dir`` first, then ``PYTHONPATH`` (the fork child kept its parent's path)."""
    wanted = [code_dir] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    rest = [p for p in sys.path if p not in wanted and p not in ("", ".")]
    sys.path[:] = wanted + rest
    sys.path_importer_cache.pop(code_dir, None)


def _forget_shadowed_modules(code_dir: str) -> None:
    """Drop already-imported non-standard modules that a file in ``code_dir`` shadows.

    A fresh interpreter has imported nothing outside the standard library, so a package
    vendored into the function's directory (``pip install -t .``) wins.  A forked child has
    its parent's modules (click, ...) in ``sys.modules``; forgetting those the directory
    provides gives the function its own copy, exactly as a fresh interpreter would.
    """
    stdlib = getattr(sys, "stdlib_module_names", None)
    if stdlib is None:  # Python < 3.10 is only ever spawned fresh: nothing to forget
        return
    shadowed = set()
    for entry in os.listdir(code_dir):
        name, dot, _ = entry.partition(".")
        if entry.endswith((".py", ".pyc", ".so", ".pyd")) or (
            not dot and os.path.exists(os.path.join(code_dir, entry, "__init__.py"))
        ):
            shadowed.add(name)
    shadowed = {n for n in shadowed if n in sys.modules and n not in stdlib}
    if shadowed:
        for module_name in list(sys.modules):
            if module_name.partition(".")[0] in shadowed:
                del sys.modules[module_name]


def _limit_memory(memory_size: int) -> None:
    """Best effort: make allocations fail with MemoryError well past the memory size.

    RLIMIT_DATA (private writable memory) rather than RLIMIT_AS: reserved-but-unused
    address space (thread arenas, other runtimes' heaps in subprocesses) does not count.
    """
    try:
        import resource

        with open("/proc/self/status", "rb") as f:
            status = f.read()
        start = status.index(b"VmData:")
        in_use_kb = int(status[start + 7 : status.index(b"kB", start)])
        limit = (in_use_kb * 1024) + (memory_size + MEMORY_HEADROOM_MB) * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (OSError, ValueError, ImportError):
        pass  # no /proc (macOS) or not allowed: no limit


class Unbuffered:
    """awslambdaric's wrapper: every write reaches the log at once."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.stream, attr)

    def write(self, msg: str) -> int:
        n: int = self.stream.write(msg)
        self.stream.flush()
        return n

    def writelines(self, msgs: Any) -> None:
        self.stream.writelines(msgs)
        self.stream.flush()


def _install_stdio() -> None:
    # They live as long as the process: no context manager.
    out = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
    err = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)  # noqa: SIM115
    sys.stdout = Unbuffered(out)
    sys.stderr = Unbuffered(err)


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001,S110 - the handler may have replaced or closed it
            pass


def _install_logging() -> None:
    """Give the root logger awslambdaric's handler, when ``logging`` is first imported.

    Importing logging costs a few milliseconds, a third of a forked invocation's own
    overhead, so a handler that never logs never pays for it.
    """
    if "logging" in sys.modules:
        _configure_logging()
    else:
        sys.meta_path.insert(0, _LoggingImportHook())


class _LoggingImportHook:
    """Meta path finder: on the first ``import logging``, configure it once loaded."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "logging":
            return None
        sys.meta_path.remove(self)
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _ConfiguringLoader(spec.loader)  # type: ignore[assignment]
        return spec


class _ConfiguringLoader:
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.loader, attr)

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        try:
            _configure_logging()
        except Exception:  # noqa: BLE001 - a "logging.py" of the function's own, say
            _print_exception()


def _configure_logging() -> None:
    """awslambdaric's root handler: ``[LEVEL]\\t<UTC time>Z\\t<request id>\\t<message>``."""
    import logging

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sys.stdout.write(self.format(record))

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.aws_request_id = _request_id
            return True

    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    for inherited in list(root.handlers):  # a forked child's parent may have some
        root.removeHandler(inherited)
    root.setLevel(logging.WARNING)
    logging.disable(logging.NOTSET)
    handler = LambdaLoggerHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(LambdaLoggerFilter())
    root.addHandler(handler)


def _exit_status(e: SystemExit) -> int:
    """The status the interpreter would exit with for an uncaught SystemExit."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    _flush_stdio()
    _log(f"{e.code}\n")
    return 1


def _print_exception() -> None:
    import traceback

    try:
        _log(traceback.format_exc())
    except BaseException:  # noqa: BLE001,S110 - we are on the way out regardless
        pass


def _send_quietly(fd: int, kind: bytes) -> None:
    try:
        send_frame(fd, kind)
    except OSError:
        pass


# --- entry points --------------------------------------------------------------------------


def run_forked(job: Job, environment: dict[str, str], log_fd: int, result_fd: int) -> NoReturn:
    """Entry point of a child made by ``os.fork()`` in lambdaver's own process."""
    try:
        os.setpgid(0, 0)  # its own process group, so a timeout kills everything it started
        import gc

        gc.freeze()  # never finalise the parent's objects (their fds are closed below)
        gc.enable()  # the lambdaver command runs without it (lambdaver/entry.py); user code not
        sys.unraisablehook = sys.__unraisablehook__  # lambdaver/entry.py's, for Ctrl-C
        sys.setprofile(None)
        _reset_signals()
        _install_fds(log_fd, result_fd)
        os.environ.clear()
        os.environ.update(environment)
        time.tzset()
        _forget_parent_path_entries()
        sys.argv[:] = [_THIS_FILE]
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        serve(job, result_fd)
    finally:
        os._exit(70)


def _forget_parent_path_entries() -> None:
    """Drop the parent's script directory and working directory from ``sys.path``.

    A fresh interpreter running this file has neither (its own script directory is
    removed in ``_main_spawned``); the function must not import from the directory
    lambdaver happened to be started in (a $LATEST tree, say).
    """
    drop = {"", ".", os.getcwd()}
    if sys.argv and sys.argv[0]:
        drop.add(os.path.dirname(os.path.abspath(sys.argv[0])))
    sys.path[:] = [entry for entry in sys.path if entry not in drop]


def _reset_signals() -> None:
    """Signal dispositions as a fresh interpreter has them.

    Through ``_signal``, the C module that ``signal`` wraps in enums (building those enums
    is half a millisecond of every invocation); ``signal`` itself where it is missing."""
    try:
        import _signal as signal  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - every CPython has it
        import signal

    signal.set_wakeup_fd(-1)
    signal.setitimer(signal.ITIMER_REAL, 0)
    for sig in signal.valid_signals():
        try:
            handler = signal.getsignal(sig)
        except (OSError, ValueError):
            continue
        if callable(handler) and handler is not signal.default_int_handler:
            signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _install_fds(log_fd: int, result_fd: int) -> None:
    """stdin from /dev/null, stdout and stderr to the log; close every other inherited fd."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    top = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536
    os.closerange(3, result_fd)
    os.closerange(result_fd + 1, max(top, result_fd + 2))


def _main_spawned(argv: list[str]) -> NoReturn:
    """Entry point in a freshly started interpreter: ``bootstrap.py JOB_FD RESULT_FD``."""
    here = os.path.realpath(os.path.dirname(_THIS_FILE))
    if sys.path and os.path.realpath(sys.path[0] or ".") == here:
        del sys.path[0]  # the script's directory; PYTHONPATH puts it back after code_dir
    job_fd, result_fd = int(argv[1]), int(argv[2])
    os.set_inheritable(job_fd, False)
    os.set_inheritable(result_fd, False)
    send_frame(result_fd, HELLO)
    chunks = []
    while True:
        chunk = os.read(job_fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(job_fd)
    sys.argv[:] = [_THIS_FILE]
    serve(Job.decode(b"".join(chunks)), result_fd)


if __name__ == "__main__":
    _main_spawned(sys.argv)
