"""The one mapping from lambdaver's errors to the REST API's error responses.

AWS sends, for an error, its HTTP status, the header ``x-amzn-ErrorType: <Code>`` and a
JSON body ``{"Type": "User", "Message": ...}`` or ``{"Type": "User", "message": ...}``
(the spelling depends on the error shape; lambda-semantics-2 §1.5).  botocore takes the
code from the header and the message from either key, so boto3 raises
``client.exceptions.<Code>`` with AWS's message.  An ordinary refusal is never a 5xx or a
429: botocore retries those, five times with back-off.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lambdaver import errors

if TYPE_CHECKING:
    from starlette.responses import Response

#: HTTP status of each error code lambdaver raises (anything else: 400).
STATUS: dict[str, int] = {
    "ResourceNotFoundException": 404,
    "ResourceConflictException": 409,
    "InvalidParameterValueException": 400,
    "ValidationException": 400,
    "InvalidRequestContentException": 400,
    "RequestEntityTooLargeException": 413,
    "RequestTooLargeException": 413,
    "UnsupportedMediaTypeException": 415,
    "PreconditionFailedException": 412,
    "AccessDeniedException": 403,
    "UnknownOperationException": 404,
    "MethodNotAllowedException": 405,
    "ServiceException": 500,
}

#: lambdaver's code -> the error shape AWS's Lambda API sends for it.
WIRE_CODE = {"RequestEntityTooLargeException": "RequestTooLargeException"}

#: Shapes whose message member is ``Message`` (capital M); the others use ``message``.
CAPITAL_MESSAGE = frozenset(
    {"ResourceNotFoundException", "ResourceInUseException", "ServiceException",
     "NoPublishedVersionException", "UnknownOperationException", "AccessDeniedException"}
)  # fmt: skip


class ApiError(Exception):
    """An error of the HTTP layer itself (an unknown path, a malformed body)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_parts(exc: BaseException) -> tuple[int, str, dict[str, Any]]:
    """Status, error code and JSON body for ``exc``."""
    if not isinstance(exc, (errors.LambdaverError, ApiError)):
        from lambdaver.service.storage_errors import translate

        exc = translate(exc)
    if isinstance(exc, ApiError):
        code, message = exc.code, exc.message
    elif isinstance(exc, errors.IncompleteOperation):
        # an interrupted checkout waits for 'lambdaver recover': a conflict, not a fault
        code, message = "ResourceConflictException", exc.message
    elif isinstance(exc, errors.RepositoryError):
        code, message = "ServiceException", exc.message  # real corruption or I/O failure
    elif isinstance(exc, errors.LambdaverError):
        code, message = exc.code, exc.message
    else:
        code, message = "ServiceException", f"Internal error: {type(exc).__name__}: {exc}"
    code = WIRE_CODE.get(code, code)
    status = STATUS.get(code, 400)
    if code == "ValidationException":
        body: dict[str, Any] = {"message": message}
    else:
        key = "Message" if code in CAPITAL_MESSAGE else "message"
        body = {"Type": "Service" if status >= 500 else "User", key: message}
    return status, code, body


def error_response(exc: BaseException, request_id: str) -> Response:
    """The starlette Response for ``exc``."""
    from starlette.responses import Response

    status, code, body = error_parts(exc)
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
    )


def query_action(method: str, path: str, content_type: str, body: bytes) -> str | None:
    """The ``Action`` of a query-protocol request (``POST /`` with a form body, as botocore
    sends CloudFormation's, STS's or SQS's calls), or None for anything else.  The Lambda
    API never sends one; a client whose every service points at this server
    (``AWS_ENDPOINT_URL``) does, e.g. ``sam remote invoke NAME`` asking CloudFormation
    which stack NAME belongs to."""
    if method != "POST" or path.strip("/") or "x-www-form-urlencoded" not in content_type:
        return None
    from urllib.parse import parse_qs

    found = parse_qs(body.decode("latin-1")).get("Action")
    return found[0] if found else ""


def query_error_response(action: str, request_id: str) -> Response:
    """``InvalidAction`` (400) in the query protocol's XML, which botocore parses into a
    ClientError (a JSON error would be a ResponseParserError, which clients do not expect
    and SAM reports as a crash)."""
    from xml.sax.saxutils import escape

    from starlette.responses import Response

    message = escape(
        f"The action {action} is not valid for this web service: lambdaver serve answers "
        "the Lambda API only"
    )
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>"
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    )
    return Response(
        xml,
        status_code=400,
        media_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )
