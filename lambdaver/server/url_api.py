"""Function URLs on ``lambdaver serve``: the five config operations of the REST API
(``/2021-10-31/functions/{FunctionName}/url`` and ``.../urls``, lambda-semantics-2 §1.2),
registered in ``server/app.py``'s EXTENSION_MODULES, and the URLs themselves.

A request is a function URL request when its ``Host`` is
``URLID.lambda-url.REGION.localhost[:PORT]``, or when its path starts with
``/lambda-url/URLID`` (for clients that cannot resolve ``*.localhost``; the prefix is not
part of ``rawPath``).  It becomes a payload format 2.0 event (lambda-semantics-2 §2.3), an
invocation of the URL's alias in the server's warm environments (the alias's weights
apply), and the function's result becomes the HTTP response (§2.4).  Refusals as AWS's
(§2.1, §2.4, §2.5): 403 for an unknown or deleted URL and for a request its auth type
does not allow, 502 ``Internal Server Error`` on a function error.

Authorization (a local choice, docs/triggers.md): ``NONE`` needs a statement in the
qualifier's policy allowing principal ``*`` the action ``lambda:InvokeFunctionUrl`` with
the condition ``lambda:FunctionUrlAuthType`` ``NONE`` (AWS's second statement for
``lambda:InvokeFunction``, required since October 2025, is not required here).
``AWS_IAM`` accepts any request signed with SigV4 (an ``Authorization`` header
``AWS4-HMAC-SHA256 Credential=...``): the signature is not verified and identity policies
are not evaluated, as there are no real credentials to check it against.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from lambdaver.errors import (
    LambdaverError,
    ResourceNotFoundException,
    ValidationException,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from lambdaver.server.app import Api, Call, Result
    from lambdaver.service.repository import Repository
    from lambdaver.service.urls import Target

URL_API = "2021-10-31"
PREFIX = "/lambda-url/"
_HOST_RE = re.compile(r"([0-9a-z]{32})\.lambda-url\.([a-z0-9-]+)\.localhost\.?(:\d+)?", re.I)

FORBIDDEN = "Forbidden"
GONE = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)
#: Largest request body a URL takes (Lambda's synchronous payload limit).
MAX_BODY = 6 * 1024 * 1024
#: Content types whose body reaches the function as text (others: base64).
_TEXT_TYPES = re.compile(
    r"(text/.*|application/(json|javascript|xml|.*\+json|.*\+xml)|.*json.*)", re.I
)


# --- the config operations -----------------------------------------------------------------


def dispatch(api: Api, call: Call) -> Result | None:
    s = call.segments
    if len(s) != 4 or s[0] != URL_API or s[1] != "functions" or s[3] not in ("url", "urls"):
        return None
    fn = s[2]
    m = call.method
    if s[3] == "urls":
        return list_configs(api, call, fn) if m == "GET" else None
    ops = {"POST": create, "GET": get, "PUT": update, "DELETE": delete}
    op = ops.get(m)
    return op(api, call, fn) if op is not None else None


def _port(call: Call) -> int:
    from lambdaver.service.urls import DEFAULT_PORT

    try:
        return urlsplit(call.base_url).port or DEFAULT_PORT
    except ValueError:
        return DEFAULT_PORT


def _open(api: Api, call: Call, fn: str, missing: str) -> tuple[Repository, str | None]:
    """The function and the URL qualifier (query or name), checked as AWS checks them: the
    qualifier's pattern before the function's existence."""
    from lambdaver.model.names import merge_qualifier
    from lambdaver.service.urls import validate_url_qualifier

    given = call.query.get("Qualifier")
    validate_url_qualifier(given)
    try:
        repo, in_name = api.open(fn)
    except ResourceNotFoundException as exc:
        raise ResourceNotFoundException(missing) from exc
    qualifier = merge_qualifier(in_name, given)
    validate_url_qualifier(qualifier)
    return repo, qualifier


def create(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import urls

    repo, qualifier = _open(api, call, fn, urls.NO_FUNCTION)
    conf = urls.create_url_config(
        repo,
        qualifier,
        call.required("AuthType", str),
        cors=call.field("Cors", dict),
        invoke_mode=call.field("InvokeMode", str),
        port=_port(call),
    )
    return 201, conf.to_aws(), {}


def get(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import urls

    repo, qualifier = _open(api, call, fn, urls.NOT_FOUND)
    return 200, urls.get_url_config(repo, qualifier, port=_port(call)).to_aws(), {}


def update(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import urls

    repo, qualifier = _open(api, call, fn, urls.NO_FUNCTION)
    conf = urls.update_url_config(
        repo,
        qualifier,
        auth_type=call.field("AuthType", str),
        cors=call.field("Cors", dict),
        invoke_mode=call.field("InvokeMode", str),
        port=_port(call),
    )
    return 200, conf.to_aws(), {}


def delete(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import urls

    repo, qualifier = _open(api, call, fn, urls.NOT_FOUND)
    urls.delete_url_config(repo, qualifier)
    return 204, None, {}


def list_configs(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import urls

    raw = call.query.get("MaxItems")
    if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= urls.LIST_PAGE):
        bound = "less than or equal to 50" if raw.isdigit() else "greater than or equal to 1"
        raise ValidationException.constraint(raw, "maxItems", f"Member must have value {bound}")
    try:
        repo = api.unqualified(fn)
    except ResourceNotFoundException as exc:
        raise ResourceNotFoundException(urls.NO_FUNCTION) from exc
    items = urls.list_url_configs(repo, port=_port(call)).to_aws()["FunctionUrlConfigs"]
    return 200, api._page(call, "FunctionUrlConfigs", items, urls.LIST_PAGE), {}


# --- the URLs -----------------------------------------------------------------------------------


def match(scope: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(URL id, rawPath)`` when the request is for a function URL, else None."""
    host = ""
    for name, value in scope.get("headers") or ():
        if name == b"host":
            host = value.decode("latin-1")
            break
    raw = scope.get("raw_path") or scope.get("path", "/").encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    m = _HOST_RE.fullmatch(host)
    if m:
        return m.group(1).lower(), path or "/"
    if path.startswith(PREFIX) or path == PREFIX.rstrip("/"):
        url_id, _slash, rest = path[len(PREFIX) :].partition("/")
        return url_id.lower(), "/" + rest
    return None


class _Answer:
    """An HTTP response: status, headers (repeats allowed) and body."""

    def __init__(
        self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None
    ):
        self.status = status
        self.body = body
        self.headers = headers or []

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))


def _denied(message: str | None) -> _Answer:
    return _Answer(
        403,
        json.dumps({"Message": message}, separators=(",", ":")).encode(),
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")],
    )


async def serve(api: Api, request: Request, url_id: str, raw_path: str) -> Response:
    """Answer one function URL request."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    request_id = str(uuid.uuid4())
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        answer = _Answer(413, b'{"Message":"Request Entity Too Large"}')
    else:
        body = await request.body()
        client = request.scope.get("client") or ("127.0.0.1", 0)
        server = request.scope.get("server") or ("127.0.0.1", 0)
        answer = await run_in_threadpool(
            handle, api, url_id, raw_path, request.method,
            request.scope.get("query_string", b"").decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            body, str(client[0]), int(server[1] or 0), request_id,
        )  # fmt: skip
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [
        (b"content-length", str(len(answer.body)).encode()),
        (b"x-amzn-requestid", request_id.encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers),
    ]
    return response


def _locate(api: Api, url_id: str) -> tuple[Repository, Target] | bool | None:
    """The function and config of ``url_id``; True: a deleted URL; None: unknown."""
    from lambdaver.service.urls import Target, find_url

    gone = False
    for name in api.functions.all():
        try:
            repo, _q = api.open(name)
            found = find_url(repo, url_id)
        except LambdaverError:
            continue
        if isinstance(found, Target):
            return repo, found
        gone = gone or found is True
    return gone or None


def handle(
    api: Api,
    url_id: str,
    raw_path: str,
    method: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    port: int,
    request_id: str,
) -> _Answer:
    located = _locate(api, url_id) if re.fullmatch(r"[0-9a-z]{32}", url_id) else None
    if located is None:
        return _denied(None)
    if located is True or located is False:
        return _denied(GONE)
    repo, target = located
    lower = [(k.lower(), v) for k, v in headers]
    origin = next((v for k, v in lower if k == "origin"), None)
    cors = target.cors or {}
    if (
        method == "OPTIONS"
        and cors
        and origin
        and any(k == "access-control-request-method" for k, _ in lower)
    ):  # a CORS preflight: answered from the config, without invoking the function
        answer = _Answer(200)
        _add_cors(answer, cors, origin, preflight=True)
        return answer
    if not _authorized(repo, target, lower):
        return _denied(FORBIDDEN)
    event = build_event(
        api, url_id, target, raw_path, method, raw_query, lower, body, source_ip, port, request_id
    )
    from lambdaver.service import invoke as svc

    try:
        out = svc.invoke(
            repo,
            qualifier=target.qualifier,
            payload=json.dumps(event).encode(),
            warn=api.warn,
            environments=api.pool,
            trigger=f"function-url:{url_id}",
        )
    except ResourceNotFoundException:
        return _denied(GONE)
    except LambdaverError as exc:
        api.warn(f"function URL {url_id}: {exc.message}")
        return _internal_error()
    if out.function_error is not None:
        return _internal_error()
    answer = map_result(out.payload)
    if cors and origin:
        _add_cors(answer, cors, origin, preflight=False)
    return answer


def _internal_error() -> _Answer:
    return _Answer(502, b"Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")])


def _authorized(repo: Repository, target: Target, headers: list[tuple[str, str]]) -> bool:
    if target.auth_type == "AWS_IAM":
        auth = next((v for k, v in headers if k == "authorization"), "")
        return auth.startswith("AWS4-HMAC-SHA256 ") and "Credential=" in auth
    from lambdaver.service.policy import allows

    return allows(
        repo, target.qualifier, "*", action="lambda:InvokeFunctionUrl", url_auth_type="NONE"
    )


def _access_key(headers: list[tuple[str, str]]) -> str:
    auth = next((v for k, v in headers if k == "authorization"), "")
    m = re.search(r"Credential=([^/,\s]+)", auth)
    return m.group(1) if m else ""


def build_event(
    api: Api,
    url_id: str,
    target: Target,
    raw_path: str,
    method: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    port: int,
    request_id: str,
) -> dict[str, Any]:
    """The payload format 2.0 event of a request (lambda-semantics-2 §2.3)."""
    region = api.settings.region
    domain = f"{url_id}.lambda-url.{region}.localhost"
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    joined.setdefault("x-forwarded-for", source_ip)
    joined.setdefault("x-forwarded-proto", "http")
    joined.setdefault("x-forwarded-port", str(port))
    joined.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")
    now = time.time()
    context: dict[str, Any] = {
        "accountId": "anonymous",
        "apiId": url_id,
        "domainName": domain,
        "domainPrefix": url_id,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if target.auth_type == "AWS_IAM":
        account = api.settings.account_id
        key = _access_key(headers)
        context["accountId"] = account
        context["authorizer"] = {
            "iam": {
                "accessKey": key, "accountId": account, "callerId": key,
                "cognitoIdentity": None, "principalOrgId": None,
                "userArn": f"arn:aws:iam::{account}:root", "userId": key,
            }
        }  # fmt: skip
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if raw_query:
        params: dict[str, str] = {}
        for k, v in parse_qsl(raw_query, keep_blank_values=True):
            params[k] = f"{params[k]},{v}" if k in params else v
        event["queryStringParameters"] = params
    event["requestContext"] = context
    if body:
        content_type = joined.get("content-type", "")
        text = None
        if _TEXT_TYPES.fullmatch(content_type.split(";", 1)[0].strip()):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is not None:
            event["body"] = text
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def map_result(payload: bytes) -> _Answer:
    """The function's result as the HTTP response (lambda-semantics-2 §2.4)."""
    try:
        result = json.loads(payload) if payload.strip() else None
    except ValueError:
        return _internal_error()
    json_type = [("Content-Type", "application/json")]
    if isinstance(result, dict) and "statusCode" in result:
        try:
            status = int(result["statusCode"])
        except (TypeError, ValueError):
            return _internal_error()
        if not 100 <= status <= 599:
            return _internal_error()
        answer = _Answer(status, b"", [])
        headers = result.get("headers") or {}
        if isinstance(headers, dict):
            for k, v in headers.items():
                answer.set(str(k), _header_text(v))
        if answer.header("content-type") is None:
            answer.headers.insert(0, ("Content-Type", "application/json"))
        for cookie in result.get("cookies") or []:
            answer.headers.append(("Set-Cookie", str(cookie)))
        body = result.get("body")
        if body is None:
            answer.body = b""
        elif isinstance(body, str):
            if result.get("isBase64Encoded") is True:
                try:
                    answer.body = base64.b64decode(body)
                except ValueError:
                    return _internal_error()
            else:
                answer.body = body.encode()
        else:
            answer.body = json.dumps(body, separators=(",", ":")).encode()
        return answer
    if isinstance(result, str):
        return _Answer(200, result.encode(), json_type)
    if result is None:
        return _Answer(200, b"", json_type)
    return _Answer(200, json.dumps(result, separators=(",", ":")).encode(), json_type)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _add_cors(answer: _Answer, cors: dict[str, Any], origin: str, *, preflight: bool) -> None:
    """The configured CORS headers, which take precedence over the function's."""
    origins = cors.get("AllowOrigins") or []
    if "*" in origins:
        allowed = "*"
    elif origin in origins:
        allowed = origin
    else:
        return
    answer.set("Access-Control-Allow-Origin", allowed)
    if allowed != "*":
        answer.set("Vary", "Origin")
    if cors.get("AllowCredentials"):
        answer.set("Access-Control-Allow-Credentials", "true")
    if cors.get("ExposeHeaders"):
        answer.set("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"]))
    if preflight:
        if cors.get("AllowMethods"):
            answer.set("Access-Control-Allow-Methods", ",".join(cors["AllowMethods"]))
        if cors.get("AllowHeaders"):
            answer.set("Access-Control-Allow-Headers", ",".join(cors["AllowHeaders"]))
        if cors.get("MaxAge") is not None:
            answer.set("Access-Control-Max-Age", str(cors["MaxAge"]))
