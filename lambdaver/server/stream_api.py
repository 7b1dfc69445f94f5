"""InvokeWithResponseStream (``POST /2021-11-15/functions/{F}/response-streaming-invocations``,
lambda-semantics-2 §1.2): an invocation answered as an ``application/vnd.amazon.eventstream``
body, the framing botocore's ``EventStream`` reads.

The invocation is Invoke's own (:meth:`Api.invoke`: the same qualifier, headers, limits,
warm environments and journal entry); what differs is the answer.  lambdaver's runtimes
hand back a function's whole response at once (none streams while the handler runs), so
the answer is the response cut into ``PayloadChunk`` events of :data:`CHUNK` bytes, then
one ``InvokeComplete`` event: ``{}``, with ``LogResult`` (base64, the log's last 4 KB) when
``X-Amz-Log-Type: Tail`` asked for it.  A function error is no ``PayloadChunk`` and an
``InvokeComplete`` with ``ErrorCode`` (the error's ``errorType``) and ``ErrorDetails`` (its
``errorMessage``), over HTTP 200, as AWS reports an error inside the stream.  Refusals
before the function runs (no such function or qualifier, a bad header, a payload over
6 MB) are ordinary error responses, as for Invoke.  ``X-Amz-Invocation-Type`` is
``RequestResponse`` (the default) or ``DryRun`` (204, nothing run); ``Event`` is not one
of this operation's types.
"""

from __future__ import annotations

import binascii
import json
import struct
from typing import TYPE_CHECKING, Any

from lambdaver.errors import ValidationException

if TYPE_CHECKING:
    from lambdaver.server.app import Api, Call, Result

API = "2021-11-15"
OPERATION = "response-streaming-invocations"
#: Bytes of the response a ``PayloadChunk`` event carries.
CHUNK = 64 * 1024
MEDIA_TYPE = "application/vnd.amazon.eventstream"
INVOCATION_TYPES = ("RequestResponse", "DryRun")
_STRING = 7  # the event-stream header value type of a UTF-8 string


def dispatch(api: Api, call: Call) -> Result | None:
    from lambdaver.server.app import Api as _Api

    s = call.segments
    if len(s) != 4 or s[0] != API or s[1] != "functions" or s[3] != OPERATION:
        return None
    return _Api._method(call.method, {"POST": invoke_with_response_stream})(api, call, s[2])


def invoke_with_response_stream(api: Api, call: Call, fn: str) -> Result:
    kind = call.headers.get("x-amz-invocation-type") or "RequestResponse"
    if kind not in INVOCATION_TYPES:
        raise ValidationException.constraint(
            kind, "invocationType",
            f"Member must satisfy enum value set: [{', '.join(INVOCATION_TYPES)}]",
        )  # fmt: skip
    status, payload, headers = api.invoke(call, fn)
    if status != 200:  # DryRun: 204, nothing to stream
        return status, None, headers
    error = headers.pop("X-Amz-Function-Error", None)
    log_result = headers.pop("X-Amz-Log-Result", None)
    complete: dict[str, Any] = {}
    frames: list[bytes] = []
    body = payload if isinstance(payload, bytes) else b""
    if error is None:
        frames.extend(
            event("PayloadChunk", body[i : i + CHUNK], "application/octet-stream")
            for i in range(0, len(body), CHUNK)
        )
    else:
        complete["ErrorCode"], complete["ErrorDetails"] = _error_parts(body, error)
    if log_result is not None:
        complete["LogResult"] = log_result
    frames.append(event("InvokeComplete", json.dumps(complete).encode(), "application/json"))
    headers["Content-Type"] = MEDIA_TYPE
    return 200, b"".join(frames), headers


def _error_parts(body: bytes, error: str) -> tuple[str, str]:
    """``(ErrorCode, ErrorDetails)`` of a function error's response body: its ``errorType``
    and ``errorMessage``, or the ``X-Amz-Function-Error`` value and the body's text."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and ("errorType" in data or "errorMessage" in data):
        return str(data.get("errorType") or error), str(data.get("errorMessage") or "")
    return error, body.decode("utf-8", "replace")


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """One event-stream message: an ``event`` of ``event_type`` carrying ``payload``."""
    return message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"},
        payload,
    )


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """The event-stream framing (AWS's ``vnd.amazon.eventstream``): total length, headers
    length and the CRC32 of those two (the prelude), the headers (name length, name, type 7,
    value length, value), the payload, and the CRC32 of everything before it."""
    head = b"".join(
        struct.pack("B", len(n)) + n + struct.pack(">BH", _STRING, len(v)) + v
        for n, v in ((k.encode(), value.encode()) for k, value in headers.items())
    )
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    start = prelude + struct.pack(">I", binascii.crc32(prelude)) + head + payload
    return start + struct.pack(">I", binascii.crc32(start))
