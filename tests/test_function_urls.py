"""Function URLs: the config verbs (CLI and boto3 through ``lambdaver serve``), their
refusals in AWS's words, and requests to the URLs themselves (event format 2.0, response
mapping, 403/502, CORS): a promotion, a rollback and weights of the alias all show in
what the URL answers, and the URL never changes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import DROPPED_SOCKETS, Served, start

from conftest import Fn, run_cli

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
URL_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
GONE = (
    '{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: '
    'https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}'
)

APP = """\
import base64

V = 0


def handler(event, context):
    q = event.get("queryStringParameters") or {}
    mode = q.get("mode")
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "str":
        return "hello"
    if mode == "list":
        return ["hello", 3, True]
    if mode == "teapot":
        return {"statusCode": "418", "headers": {"X-A": "b"}, "body": "short",
                "cookies": ["a=1", "b=2"]}
    if mode == "b64":
        return {"statusCode": 200, "isBase64Encoded": True,
                "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(b"\\x00\\x01").decode()}
    return {"v": V, "event": event}
"""

pytestmark = DROPPED_SOCKETS


# --- the CLI verbs ----------------------------------------------------------------------------


@pytest.fixture
def prod(fn: Fn) -> Fn:
    fn.publish()
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


def test_config_lifecycle(prod: Fn) -> None:
    made = prod.ok("create-function-url-config", "--qualifier", "prod", "--auth-type", "NONE")
    assert list(made) == ["FunctionUrl", "FunctionArn", "AuthType", "CreationTime"]
    assert made["FunctionArn"] == f"{ARN}hello:prod"
    url = made["FunctionUrl"]
    url_id = url.split("//", 1)[1].split(".", 1)[0]
    assert len(url_id) == 32 and url_id.isalnum() and url_id == url_id.lower()
    assert url == f"http://{url_id}.lambda-url.us-east-1.localhost:9001/"
    got = prod.ok("get-function-url-config", "--function-name", "hello:prod")
    assert got["InvokeMode"] == "BUFFERED" and got["LastModifiedTime"] == got["CreationTime"]
    upd = prod.ok(
        "update-function-url-config", "--qualifier", "prod", "--auth-type", "AWS_IAM",
        "--cors", "AllowOrigins=https://a.example,https://b.example,MaxAge=60",
    )  # fmt: skip
    assert upd["FunctionUrl"] == url and upd["AuthType"] == "AWS_IAM"
    assert "InvokeMode" not in upd
    assert upd["Cors"] == {"AllowOrigins": ["https://a.example", "https://b.example"], "MaxAge": 60}
    # promotions and rollbacks never change the URL
    prod.publish(**{"app.py": "def handler(e, c):\n    return 2\n"})
    prod.ok("alias", "update", "prod", "--version", "2")
    prod.ok("rollback", "prod")
    assert prod.ok("get-function-url-config", "--qualifier", "prod")["FunctionUrl"] == url
    # the unqualified function's URL is another, and deleting it leaves prod's
    own = prod.ok("create-function-url-config", "--auth-type", "NONE", "--invoke-mode", "BUFFERED")
    assert own["FunctionArn"] == f"{ARN}hello" and own["InvokeMode"] == "BUFFERED"
    listed = prod.ok("list-function-url-configs")["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{ARN}hello", f"{ARN}hello:prod"]
    page = prod.ok("list-function-url-configs", "--max-items", "1")
    assert len(page["FunctionUrlConfigs"]) == 1 and "NextToken" in page
    prod.ok("delete-function-url-config")
    listed = prod.ok("list-function-url-configs")["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]
    # deleting the alias deletes its URL; a new prod gets a new one
    prod.ok("alias", "delete", "prod")
    assert prod.ok("list-function-url-configs") == {"FunctionUrlConfigs": []}
    prod.ok("alias", "create", "prod", "--version", "1")
    again = prod.ok("create-function-url-config", "--qualifier", "prod", "--auth-type", "NONE")
    assert again["FunctionUrl"] != url


def _v(value: str, field: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _pattern(value: str) -> str:
    return _v(value, "qualifier", f"Member must satisfy regular expression pattern: {URL_PATTERN}")


CREATE = ["create-function-url-config", "--auth-type", "NONE"]
BAD_URLS: list[tuple[list[str], str, str]] = [
    ([*CREATE, "--qualifier", "1"], "ValidationException", _pattern("1")),
    ([*CREATE, "--qualifier", "$LATEST"], "ValidationException", _pattern("$LATEST")),
    (["get-function-url-config", "--qualifier", "2"], "ValidationException", _pattern("2")),
    (["delete-function-url-config", "--qualifier", "$LATEST"], "ValidationException",
     _pattern("$LATEST")),
    ([*CREATE, "--function-name", "hello:prod", "--qualifier", "dev"],
     "InvalidParameterValueException",
     "The derived qualifier from the function name does not match the specified qualifier."),
    ([*CREATE, "--qualifier", "nope"], "ResourceNotFoundException", "Function does not exist"),
    (["get-function-url-config", "--qualifier", "nope"], "ResourceNotFoundException",
     "The resource you requested does not exist."),
    (["get-function-url-config"], "ResourceNotFoundException",
     "The resource you requested does not exist."),
    (["update-function-url-config", "--qualifier", "nope", "--auth-type", "NONE"],
     "ResourceNotFoundException", "Function does not exist"),
    ([*CREATE, "--qualifier", "prod"], "ResourceConflictException",
     f"Failed to create function url config for [functionArn = {ARN}hello:prod]. Error "
     "message:  FunctionUrlConfig exists for this Lambda function"),
    (["create-function-url-config", "--auth-type", "BASIC"], "ValidationException",
     _v("BASIC", "authType", "Member must satisfy enum value set: [NONE, AWS_IAM]")),
    ([*CREATE, "--invoke-mode", "UNKNOWN"], "ValidationException",
     _v("UNKNOWN", "invokeMode",
        "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")),
    ([*CREATE, "--cors", '{"MaxAge": 86401}'], "ValidationException",
     _v("86401", "cors.maxAge", "Member must have value less than or equal to 86400")),
    ([*CREATE, "--cors", '{"AllowMethods": ["OPTIONSS"]}'], "ValidationException",
     _v("[OPTIONSS]", "cors.allowMethods",
        "Member must satisfy constraint: [Member must have length less than or equal to 6, "
        "Member must have length greater than or equal to 0, Member must satisfy regular "
        "expression pattern: .*]")),
    ([*CREATE, "--cors", "AllowMethods=GET,PUT,POST,DELETE,PATCH,HEAD,*"],
     "ValidationException",
     _v("[GET, PUT, POST, DELETE, PATCH, HEAD, *]", "cors.allowMethods",
        "Member must have length less than or equal to 6")),
]  # fmt: skip

# refused by the aws CLI itself, before any call (exit 252)
BAD_CORS: list[tuple[str, str]] = [
    ('{"MaxAge": "x"}', "Parameter validation failed: Invalid type for parameter Cors.MaxAge, "
     "value: x, type: <class 'str'>, valid types: <class 'int'>"),
    ('{"MaxAge": -1}', "Parameter validation failed: Invalid value for parameter Cors.MaxAge, "
     "value: -1, valid min value: 0"),
    ('{"AllowOrigin": ["*"]}', 'Parameter validation failed: Unknown parameter in Cors: '
     '"AllowOrigin", must be one of: AllowCredentials, AllowHeaders, AllowMethods, '
     "AllowOrigins, ExposeHeaders, MaxAge"),
    ('{"AllowOrigins": [""]}', "Parameter validation failed: Invalid length for parameter "
     "Cors.AllowOrigins[0], value: 0, valid min length: 1"),
    ('{"AllowCredentials": "yes"}', "Parameter validation failed: Invalid type for parameter "
     "Cors.AllowCredentials, value: yes, type: <class 'str'>, valid types: <class 'bool'>"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "code", "message"), BAD_URLS)
def test_config_refusals(
    prod: Fn, unchanged: Callable[[Path], Iterator[None]], args: list[str], code: str, message: str
) -> None:
    prod.ok("create-function-url-config", "--qualifier", "prod", "--auth-type", "NONE")
    with unchanged(prod.root):
        r = prod(*args)
    assert r.exit_code == 254, r
    op = "".join(p.capitalize() for p in args[0].split("-"))
    assert (
        r.stderr.strip() == f"An error occurred ({code}) when calling the {op} operation: {message}"
    )


@pytest.mark.parametrize(("cors", "message"), BAD_CORS)
def test_cors_refused_by_the_cli(
    prod: Fn, unchanged: Callable[[Path], Iterator[None]], cors: str, message: str
) -> None:
    with unchanged(prod.root):
        r = prod(*CREATE, "--qualifier", "prod", "--cors", cors)
    assert r.exit_code == 252, r
    assert r.stderr.strip() == message


# --- through the server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with function ``web``: versions 1, 2 and 3 (each answers its number)."""
    project = tmp_path_factory.mktemp("urls")
    root = project / "web"
    root.mkdir()
    (root / "app.py").write_text(APP)
    assert run_cli("init", str(root), "--output", "json").exit_code == 0
    for i in (1, 2, 3):
        (root / "app.py").write_text(APP.replace("V = 0", f"V = {i}"))
        assert run_cli("-C", str(root), "publish", "--output", "json").exit_code == 0
    return root


@pytest.fixture(scope="module")
def served(web: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = tmp_path_factory.mktemp("cfg") / "config.toml"
    s = start(web.parent, env={"LAMBDAVER_CONFIG": str(config)})
    SERVER_PORT[:] = [s.url.rsplit(":", 1)[1]]
    try:
        yield s
    finally:
        s.kill()


#: The served port: a URL made by the CLI names the default 9001, and is reached here.
SERVER_PORT: list[str] = []


def cli(web: Path, *args: str) -> Any:
    r = run_cli("-C", str(web), "--output", "json", *args)
    assert r.exit_code == 0, r
    return r.json if r.stdout.strip() else None


class Answer:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str, path: str = "", *, method: str = "GET", body: bytes | None = None,
    headers: dict[str, str] | None = None, by_host: bool = False,
) -> Answer:  # fmt: skip
    """Send a request to a function URL at 127.0.0.1: by its path form, or (``by_host``)
    with the URL's host in the Host header, as a browser resolving *.localhost sends it."""
    host_port = url.split("//", 1)[1].rstrip("/")
    host, _port = host_port.rsplit(":", 1)
    port = SERVER_PORT[0]
    host_port = f"{host}:{port}"
    url_id = host.split(".", 1)[0]
    hdrs = dict(headers or {})
    if by_host:
        target = f"http://127.0.0.1:{port}/{path}"
        hdrs["Host"] = host_port
    else:
        target = f"http://127.0.0.1:{port}/lambda-url/{url_id}/{path}"
    req = urllib.request.Request(target, data=body, method=method, headers=hdrs)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - our own server
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Answer(e.code, e.headers, e.read())


def test_boto3_config_operations(lam: Any, served: Served, web: Path) -> None:
    port = served.url.rsplit(":", 1)[1]
    cli(web, "alias", "create", "b3", "--version", "1")
    made = lam.create_function_url_config(
        FunctionName="web", Qualifier="b3", AuthType="NONE", Cors={"AllowOrigins": ["*"]}
    )
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert made["FunctionUrl"].endswith(f".lambda-url.us-east-1.localhost:{port}/")
    assert made["FunctionArn"] == f"{ARN}web:b3"
    got = lam.get_function_url_config(FunctionName="web:b3")
    assert got["FunctionUrl"] == made["FunctionUrl"] and got["InvokeMode"] == "BUFFERED"
    upd = lam.update_function_url_config(FunctionName="web", Qualifier="b3", AuthType="AWS_IAM")
    assert upd["AuthType"] == "AWS_IAM" and upd["FunctionUrl"] == made["FunctionUrl"]
    pages = lam.get_paginator("list_function_url_configs").paginate(
        FunctionName="web", PaginationConfig={"PageSize": 1}
    )
    urls = [c["FunctionUrl"] for p in pages for c in p["FunctionUrlConfigs"]]
    assert made["FunctionUrl"] in urls and len(urls) == len(set(urls))
    for kwargs, code, message in [
        ({"Qualifier": "1"}, "ValidationException", _pattern("1")),
        ({"Qualifier": "$LATEST"}, "ValidationException", _pattern("$LATEST")),
        ({"Qualifier": "b3"}, "ResourceConflictException", "FunctionUrlConfig exists"),
        ({"Qualifier": "nope"}, "ResourceNotFoundException", "Function does not exist"),
    ]:
        with pytest.raises(lam.exceptions.ClientError) as exc:
            lam.create_function_url_config(FunctionName="web", AuthType="NONE", **kwargs)
        assert exc.value.response["Error"]["Code"] == code
        assert message in exc.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.get_function_url_config(FunctionName="missing")
    assert exc.value.response["Error"]["Message"] == "The resource you requested does not exist."
    lam.delete_function_url_config(FunctionName="web", Qualifier="b3")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName="web", Qualifier="b3")
    assert request(made["FunctionUrl"]).body == GONE.encode()


def test_boto3_policy_operations(lam: Any, web: Path) -> None:
    cli(web, "alias", "create", "pol", "--version", "1")
    out = lam.add_permission(
        FunctionName="web", Qualifier="pol", StatementId="s3", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket",
    )  # fmt: skip
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(out["Statement"])["Resource"] == f"{ARN}web:pol"
    got = lam.get_policy(FunctionName="web:pol")
    assert [s["Sid"] for s in json.loads(got["Policy"])["Statement"]] == ["s3"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.add_permission(
            FunctionName="web:pol", StatementId="s3", Action="lambda:InvokeFunction",
            Principal="*",
        )  # fmt: skip
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.remove_permission(
            FunctionName="web", Qualifier="pol", StatementId="s3", RevisionId="nope"
        )
    lam.remove_permission(
        FunctionName="web", Qualifier="pol", StatementId="s3", RevisionId=got["RevisionId"]
    )
    for call, message in [
        (lambda: lam.get_policy(FunctionName="web:pol"),
         "The resource you requested does not exist."),
        (lambda: lam.get_policy(FunctionName="doesnotexist"),
         "The resource you requested does not exist."),
        (lambda: lam.remove_permission(FunctionName="doesnotexist", StatementId="x"),
         f"No policy found for: {ARN}doesnotexist"),
        (lambda: lam.remove_permission(FunctionName="web", StatementId="x"),
         "No policy is associated with the given resource."),
        (lambda: lam.add_permission(FunctionName="doesnotexist", StatementId="x",
                                    Action="lambda:InvokeFunction", Principal="*"),
         f"Function not found: {ARN}doesnotexist"),
    ]:  # fmt: skip
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
            call()
        assert exc.value.response["Error"]["Message"] == message


def _public(web: Path, alias: str) -> str:
    cli(web, "alias", "create", alias, "--version", "1")
    url = cli(web, "create-function-url-config", "--qualifier", alias, "--auth-type", "NONE")
    cli(
        web, "add-permission", "--qualifier", alias, "--statement-id", "url",
        "--action", "lambda:InvokeFunctionUrl", "--principal", "*",
        "--function-url-auth-type", "NONE",
    )  # fmt: skip
    return str(url["FunctionUrl"])


def test_url_follows_the_alias(served: Served, web: Path) -> None:
    """alias update, rollback and weights all show in what the URL answers; the URL and the
    trigger's configuration are never touched."""
    url = _public(web, "prod")
    assert url.endswith(".localhost:9001/")  # made by the CLI: the default port
    assert request(url).json["v"] == 1
    cli(web, "alias", "update", "prod", "--version", "2")
    assert request(url).json["v"] == 2
    assert request(url, by_host=True).json["v"] == 2
    cli(web, "rollback", "prod")
    assert request(url).json["v"] == 1
    cli(web, "alias", "update", "prod", "--version", "3", "--weight", "1=0.5")
    seen = {request(url).json["v"] for _ in range(30)}
    assert seen == {1, 3}
    assert cli(web, "get-function-url-config", "--qualifier", "prod")["FunctionUrl"] == url


def test_request_event(web: Path) -> None:
    url = _public(web, "ev")
    a = request(
        url, "a/b%2Fc?x=1&x=%2F&flag=", method="POST", body=b'{"k": 1}',
        headers={"Content-Type": "application/json", "X-Weird-CaPs": "Va Lue",
                 "Cookie": "c1=v1; c2=v2", "User-Agent": "tester/1"},
    )  # fmt: skip
    assert a.status == 200 and a.headers["Content-Type"] == "application/json"
    ev = a.json["event"]
    url_id = url.split("//", 1)[1].split(".", 1)[0]
    assert ev["version"] == "2.0" and ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/a/b%2Fc"  # as sent, without the /lambda-url/ID prefix
    assert ev["rawQueryString"] == "x=1&x=%2F&flag="
    assert ev["queryStringParameters"] == {"x": "1,/", "flag": ""}
    assert ev["cookies"] == ["c1=v1", "c2=v2"]
    assert ev["headers"]["x-weird-caps"] == "Va Lue"
    assert ev["headers"]["user-agent"] == "tester/1"
    assert "cookie" not in ev["headers"]
    ctx = ev["requestContext"]
    assert ctx["accountId"] == "anonymous" and ctx["apiId"] == url_id
    assert ctx["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert ctx["http"] == {
        "method": "POST", "path": "/a/b%2Fc", "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1", "userAgent": "tester/1",
    }  # fmt: skip
    assert ctx["routeKey"] == "$default" and ctx["stage"] == "$default"
    assert isinstance(ctx["timeEpoch"], int) and ctx["time"].endswith(" +0000")
    assert ev["body"] == '{"k": 1}' and ev["isBase64Encoded"] is False
    # by host: the whole path is rawPath; no query: no queryStringParameters
    ev = request(url, "x/y", by_host=True).json["event"]
    assert ev["rawPath"] == "/x/y" and ev["rawQueryString"] == ""
    assert "queryStringParameters" not in ev and "body" not in ev
    # a binary body arrives base64-encoded
    ev = request(
        url, method="PUT", body=b"\x00\xff", headers={"Content-Type": "application/octet-stream"}
    ).json["event"]
    assert ev["body"] == "AP8=" and ev["isBase64Encoded"] is True


def test_response_mapping(web: Path) -> None:
    url = _public(web, "map")
    a = request(url, "?mode=teapot")
    assert a.status == 418 and a.body == b"short"
    assert a.headers["X-A"] == "b" and a.headers["Content-Type"] == "application/json"
    assert a.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    a = request(url, "?mode=str")
    assert (a.status, a.body) == (200, b"hello")  # the quotes stripped
    assert request(url, "?mode=list").body == b'["hello",3,true]'
    a = request(url, "?mode=b64")
    assert a.body == b"\x00\x01" and a.headers["Content-Type"] == "application/octet-stream"
    a = request(url, "?mode=raise")
    assert (a.status, a.body) == (502, b"Internal Server Error")


def test_refusals_of_requests(web: Path) -> None:
    cli(web, "alias", "create", "closed", "--version", "1")
    url = cli(web, "create-function-url-config", "--qualifier", "closed", "--auth-type", "NONE")
    url = url["FunctionUrl"]
    a = request(url)  # no permission for principal *
    assert (a.status, a.body) == (403, b'{"Message":"Forbidden"}')
    assert a.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    # a permission without the FunctionUrlAuthType condition is not the URL's
    cli(
        web, "add-permission", "--qualifier", "closed", "--statement-id", "inv",
        "--action", "lambda:InvokeFunction", "--principal", "*",
    )  # fmt: skip
    assert request(url).status == 403
    # AWS_IAM: a signed request passes, an unsigned one does not
    cli(web, "update-function-url-config", "--qualifier", "closed", "--auth-type", "AWS_IAM")
    assert request(url).body == b'{"Message":"Forbidden"}'
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/"
              "lambda/aws4_request, SignedHeaders=host, Signature=abc"}  # fmt: skip
    ev = request(url, headers=signed).json["event"]
    assert ev["requestContext"]["authorizer"]["iam"]["accessKey"] == "AKIDEXAMPLE"
    # the alias deleted: its URL answers as AWS's deleted URLs do
    cli(web, "alias", "delete", "closed")
    a = request(url)
    assert (a.status, a.body) == (403, GONE.encode())
    host_port = url.split("//", 1)[1].rstrip("/")
    never = "http://" + "0" * 32 + host_port[32:] + "/"
    a = request(never)
    assert (a.status, a.body) == (403, b'{"Message":null}')
    assert a.headers["Content-Type"] == "application/json"


def test_cors(web: Path) -> None:
    url = _public(web, "cors")
    cli(
        web, "update-function-url-config", "--qualifier", "cors", "--cors",
        json.dumps({"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
                    "AllowHeaders": ["x-custom"], "MaxAge": 300, "AllowCredentials": True,
                    "ExposeHeaders": ["x-a"]}),
    )  # fmt: skip
    pre = request(
        url, method="OPTIONS",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )  # fmt: skip
    assert pre.status == 200 and pre.body == b""
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert pre.headers["Access-Control-Allow-Headers"] == "x-custom"
    assert pre.headers["Access-Control-Max-Age"] == "300"
    assert pre.headers["Access-Control-Allow-Credentials"] == "true"
    a = request(url, headers={"Origin": "https://app.example"})
    assert a.json["v"] == 1
    assert a.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert a.headers["Access-Control-Expose-Headers"] == "x-a"
    other = request(url, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
