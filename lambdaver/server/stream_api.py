"""InvokeWithResponseStream (``POST /2021-11-15/functions/{F}/response-streaming-
invocations``), the operation the SAM CLI's ``sam remote invoke`` calls instead of Invoke
when the function's URL config has ``InvokeMode: RESPONSE_STREAM`` (and that boto3 calls
as ``invoke_with_response_stream``).

The invocation itself is Invoke's (:meth:`Api.invoke`: the same checks of the qualifier,
the payload, ``X-Amz-Log-Type`` and ``X-Amz-Client-Context``, the same execution
environments); only the answer differs.  lambdaver's runtimes return a handler's result
whole (as AWS's Python runtime does: it has no streaming handlers), so the stream is:

- a ``PayloadChunk`` event holding the whole result, when the function succeeded;
- then an ``InvokeComplete`` event: ``{}``; ``LogResult`` (base64, the log's last 4 KB)
  with ``X-Amz-Log-Type: Tail``; and for a function error ``ErrorCode`` (Invoke's
  ``X-Amz-Function-Error``, ``Unhandled``) and ``ErrorDetails`` (the error document Invoke
  returns as its payload) instead of a ``PayloadChunk``.

in AWS's event-stream framing (``application/vnd.amazon.eventstream``: each message a
prelude of total and header lengths with its CRC32, string headers ``:event-type``,
``:content-type`` and ``:message-type``, the payload and the message's CRC32), answered
with status 200 and ``X-Amz-Executed-Version``.  The API's ``InvocationType`` is
``RequestResponse`` or ``DryRun`` (204, no stream); ``Event`` is refused as AWS's model
refuses it.  Registered in ``server/app.py``'s EXTENSION_MODULES."""

from __future__ import annotations

import binascii
import json
import struct
from typing import TYPE_CHECKING

from lambdaver.errors import ValidationException

if TYPE_CHECKING:
    from lambdaver.server.app import Api, Call, Result

API = "2021-11-15"
OPERATION = "response-streaming-invocations"
CONTENT_TYPE = "application/vnd.amazon.eventstream"
INVOCATION_TYPES = ("RequestResponse", "DryRun")


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
            kind, "invocationType", "Member must satisfy enum value set: [RequestResponse, DryRun]"
        )
    status, payload, headers = api.invoke(call, fn)
    if status != 200:  # DryRun: 204, nothing to stream
        return status, payload, headers
    body = b""
    complete: dict[str, str] = {}
    error = headers.pop("X-Amz-Function-Error", None)
    if error is None:
        body += event("PayloadChunk", "application/octet-stream", payload or b"")
    else:
        complete["ErrorCode"] = error
        complete["ErrorDetails"] = (payload or b"").decode("utf-8", errors="replace")
    log = headers.pop("X-Amz-Log-Result", None)
    if log is not None:
        complete["LogResult"] = log
    body += event("InvokeComplete", "application/json", json.dumps(complete).encode())
    return 200, body, {**headers, "Content-Type": CONTENT_TYPE}


def event(event_type: str, content_type: str, payload: bytes) -> bytes:
    """One event-stream message: an ``event`` of ``event_type`` carrying ``payload``."""
    headers = b"".join(
        _string_header(name, value)
        for name, value in (
            (":event-type", event_type),
            (":content-type", content_type),
            (":message-type", "event"),
        )
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


def _string_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name)) + raw_name
        + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    )  # fmt: skip
