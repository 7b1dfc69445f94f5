"""Bad requests to ``lambdaver serve``: each is a 4xx with AWS's ``x-amzn-ErrorType`` (and,
where boto3 can send it, boto3's exception class), the function's directory is
byte-identical afterwards (a hash of every file, repository included), and the server
still answers the next request.

boto3 checks types, required members and minimums itself, so what it cannot send goes
through urllib as raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import DROPPED_SOCKETS, Served, zip_of

from conftest import run_cli, snapshot

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
F = "/2015-03-31/functions/fn"
APP = "def handler(event, context):\n    return event\n"
EMPTY_ZIP = base64.b64encode(zip_of({"app.py": APP})).decode()

pytestmark = DROPPED_SOCKETS


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One function ``fn`` with versions 1 and 2 and alias ``live`` -> 1."""
    project = tmp_path_factory.mktemp("project")
    root = project / "fn"
    root.mkdir()
    (root / "app.py").write_text(APP)
    assert run_cli("init", str(root), "--output", "json").exit_code == 0
    for i in (1, 2):
        (root / "app.py").write_text(APP + f"V = {i}\n")
        assert run_cli("-C", str(root), "publish", "--output", "json").exit_code == 0
    r = run_cli("-C", str(root), "alias", "create", "live", "--version", "1", "--output", "json")
    assert r.exit_code == 0, r
    return project


@pytest.fixture(scope="module")
def lam(served: Served) -> Iterator[Any]:
    client = served.client()
    try:
        yield client
    finally:
        client.close()


def digest(root: Path) -> str:
    """One hash of every file under ``root`` (names, bytes and modes)."""
    h = hashlib.sha256()
    for name, data in sorted(snapshot(root).items()):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


@pytest.fixture
def unchanged(project: Path, lam: Any, served: Served) -> Iterator[None]:
    """The function's directory is byte-identical after the test, and the server alive."""
    before = digest(project / "fn")
    yield
    assert digest(project / "fn") == before, "a refused request changed the repository"
    assert served.proc.poll() is None, "the server died"
    assert lam.get_function_configuration(FunctionName="fn")["FunctionName"] == "fn"


def raw(
    served: Served, method: str, path: str, body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    req = urllib.request.Request(  # noqa: S310 - our own server
        served.url + path, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - our own server
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        data = e.read()
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(data or b"{}")


# --- raw HTTP: what boto3 refuses to send ------------------------------------------------

W = '{"Name": "x", "FunctionVersion": "1", "RoutingConfig": %s}'

RAW_CASES = [
    # (id, method, path, body, headers, status, code, message start or part)
    ("unknown-path", "GET", "/nowhere", None, None, 404, "UnknownOperationException",
     "No operation at GET /nowhere"),
    ("unknown-subresource", "GET", F + "/nope", None, None, 404, "UnknownOperationException",
     "No operation at GET"),
    ("too-deep", "GET", F + "/aliases/live/x", None, None, 404, "UnknownOperationException",
     "No operation at GET"),
    ("bad-percent-encoding", "GET", "/2015-03-31/functions/%ff", None, None, 404,
     "UnknownOperationException", "Malformed path"),
    ("method-patch", "PATCH", F, None, None, 405, "MethodNotAllowedException",
     "Method PATCH is not allowed here"),
    ("method-options", "OPTIONS", F + "/versions", None, None, 405,
     "MethodNotAllowedException", "Method OPTIONS is not allowed here (allowed: GET, POST)"),
    ("method-put-invocations", "PUT", F + "/invocations", b"{}", None, 405,
     "MethodNotAllowedException", "allowed: POST"),
    ("json-malformed", "PUT", F + "/configuration", b"{oops", None, 400,
     "InvalidRequestContentException", "Could not parse request body into json"),
    ("json-not-utf8", "PUT", F + "/configuration", b"\xff\xfe", None, 400,
     "InvalidRequestContentException", "Could not parse request body into json"),
    ("json-array", "PUT", F + "/configuration", b"[1]", None, 400,
     "InvalidRequestContentException", "Could not parse request body into json"),
    ("json-null", "POST", F + "/aliases", b"null", None, 400,
     "InvalidRequestContentException", "Could not parse request body into json"),
    ("int-as-string", "PUT", F + "/configuration", b'{"Timeout": "ten"}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'Timeout': str"),
    ("int-as-float", "PUT", F + "/configuration", b'{"MemorySize": 1.5}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'MemorySize'"),
    ("int-as-bool", "PUT", F + "/configuration", b'{"MemorySize": true}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'MemorySize'"),
    ("int-overflow", "PUT", F + "/configuration", b'{"Timeout": 1e400}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'Timeout'"),
    ("string-as-int", "PUT", F + "/configuration", b'{"Description": 5}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'Description'"),
    ("string-as-list", "PUT", F + "/configuration", b'{"Handler": ["a"]}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'Handler'"),
    ("struct-as-list", "PUT", F + "/configuration", b'{"Environment": []}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'Environment'"),
    ("map-as-list", "PUT", F + "/configuration", b'{"Environment": {"Variables": []}}', None,
     400, "InvalidRequestContentException", "Environment.Variables must map strings"),
    ("map-value-as-int", "PUT", F + "/configuration",
     b'{"Environment": {"Variables": {"A": 1}}}', None, 400,
     "InvalidRequestContentException", "Environment.Variables must map strings"),
    ("revision-id-as-int", "PUT", F + "/aliases/live", b'{"RevisionId": 5}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'RevisionId'"),
    ("version-as-int", "POST", F + "/aliases", b'{"Name": "x", "FunctionVersion": 1}', None,
     400, "InvalidRequestContentException", "Unexpected value type for field 'FunctionVersion'"),
    ("routing-as-list", "POST", F + "/aliases", (W % "[]").encode(), None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'RoutingConfig'"),
    ("weights-as-list", "POST", F + "/aliases",
     (W % '{"AdditionalVersionWeights": []}').encode(), None, 400,
     "InvalidRequestContentException", "RoutingConfig.AdditionalVersionWeights must map"),
    ("weight-as-string", "POST", F + "/aliases",
     (W % '{"AdditionalVersionWeights": {"2": "half"}}').encode(), None, 400,
     "InvalidRequestContentException", "RoutingConfig.AdditionalVersionWeights must map"),
    ("zip-not-base64", "PUT", F + "/code", b'{"ZipFile": "!!"}', None, 400,
     "InvalidRequestContentException", "Could not parse request body into json: ZipFile"),
    ("zip-as-int", "PUT", F + "/code", b'{"ZipFile": 5}', None, 400,
     "InvalidRequestContentException", "Unexpected value type for field 'ZipFile'"),
    ("code-as-string", "POST", "/2015-03-31/functions", b'{"FunctionName": "n", "Code": "x"}',
     None, 400, "InvalidRequestContentException", "Unexpected value type for field 'Code'"),
    ("required-missing", "POST", F + "/aliases", b"{}", None, 400, "ValidationException",
     "1 validation error detected: Value null at 'name' failed to satisfy constraint: "
     "Member must not be null"),
    ("max-items-0", "GET", F + "/versions?MaxItems=0", None, None, 400, "ValidationException",
     "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
     "Member must have value between 1 and 10000"),
    ("max-items-minus-1", "GET", F + "/aliases?MaxItems=-1", None, None, 400,
     "ValidationException", "Value '-1' at 'maxItems'"),
    ("max-items-abc", "GET", F + "/versions?MaxItems=abc", None, None, 400,
     "ValidationException", "Value 'abc' at 'maxItems'"),
    ("max-items-10001", "GET", "/2015-03-31/functions?MaxItems=10001", None, None, 400,
     "ValidationException", "Value '10001' at 'maxItems'"),
    ("marker-not-base64", "GET", F + "/versions?Marker=%25%25%25", None, None, 400,
     "InvalidParameterValueException", "Invalid marker: %%%"),
    ("marker-negative", "GET", F + "/aliases?Marker=LTE%3D", None, None, 400,
     "InvalidParameterValueException", "Invalid marker: LTE="),
    ("marker-not-a-number", "GET", "/2015-03-31/functions?Marker=YWJj", None, None, 400,
     "InvalidParameterValueException", "Invalid marker: YWJj"),
    ("name-dotdot", "GET", "/2015-03-31/functions/..", None, None, 400, "ValidationException",
     "1 validation error detected: Value '..' at 'functionName' failed to satisfy constraint"),
    ("name-encoded-dotdot-slash", "GET", "/2015-03-31/functions/..%2Fetc", None, None, 400,
     "ValidationException", "Value '../etc' at 'functionName'"),
    ("name-encoded-slash", "GET", "/2015-03-31/functions/a%2Fb/aliases", None, None, 400,
     "ValidationException", "Value 'a/b' at 'functionName'"),
    ("name-nul", "GET", "/2015-03-31/functions/fn%00", None, None, 400, "ValidationException",
     "at 'functionName'"),
    ("code-download-traversal", "GET", "/_lambdaver/code/%2e%2e%2fetc", None, None, 400,
     "ValidationException", "Value '../etc' at 'functionName'"),
    ("list-functions-version", "GET", "/2015-03-31/functions?FunctionVersion=x", None, None, 400,
     "ValidationException", "Member must satisfy enum value set: [ALL]"),
    ("body-over-the-cap", "POST", "/2015-03-31/functions", None,
     {"Content-Length": str(71 * 1024 * 1024)}, 413, "RequestTooLargeException",
     "Request must be smaller than 73400320 bytes"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code", "message"),
    [pytest.param(*c[1:], id=c[0]) for c in RAW_CASES],
)
@pytest.mark.usefixtures("unchanged")
def test_raw_bad_request(
    served: Served, method: str, path: str, body: bytes | None, headers: dict[str, str] | None,
    status: int, code: str, message: str,
) -> None:  # fmt: skip
    if headers and "Content-Length" in headers:
        got, got_headers, data = declared_only(served, method, path, headers)
    else:
        got, got_headers, data = raw(served, method, path, body, headers)
    assert (got, got_headers.get("x-amzn-errortype")) == (status, code), data
    text = data.get("message") or data.get("Message") or ""
    assert message in text, data
    assert got_headers.get("x-amzn-requestid")


def declared_only(
    served: Served, method: str, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], Any]:
    """Send only the headers (a Content-Length past the cap): the server answers before
    reading a byte of the body."""
    host, port = served.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, path)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        conn.send(b'{"FunctionName": "x"')  # a start, never the whole
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(r.read())
    finally:
        conn.close()


def test_there_are_at_least_thirty_bad_requests() -> None:
    assert len(RAW_CASES) + len(BOTO_CASES) >= 30


# --- through boto3: the exception class a client sees --------------------------------------

BIG = b"[" + b"1," * 3_200_000 + b"1]"  # 6.4 MB of JSON
EVENT_BIG = b"[" + b"1," * 530_000 + b"1]"  # 1.06 MB
CONTEXT_LONG = base64.b64encode(json.dumps({"custom": {"k": "x" * 3000}}).encode()).decode()

BOTO_CASES: list[tuple[str, Callable[[Any], Any], str, int, str]] = [
    # (id, call, code (boto3 class when modeled), status, message start or part)
    ("invoke-over-6mb", lambda c: c.invoke(FunctionName="fn", Payload=BIG),
     "RequestTooLargeException", 413,
     "Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
    ("event-over-1mb",
     lambda c: c.invoke(FunctionName="fn", InvocationType="Event", Payload=EVENT_BIG),
     "RequestTooLargeException", 413, "Request must be smaller than 1048576 bytes"),
    ("invoke-payload-not-json", lambda c: c.invoke(FunctionName="fn", Payload=b"{nope"),
     "InvalidRequestContentException", 400,
     "Could not parse request body into json: Could not parse payload into json"),
    ("invocation-type", lambda c: c.invoke(FunctionName="fn", InvocationType="Sync"),
     "ValidationException", 400,
     "1 validation error detected: Value 'Sync' at 'invocationType' failed to satisfy "
     "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"),
    ("log-type", lambda c: c.invoke(FunctionName="fn", LogType="Full"),
     "ValidationException", 400,
     "Value 'Full' at 'logType' failed to satisfy constraint: Member must satisfy enum value "
     "set: [Tail, None]"),
    ("client-context-not-base64", lambda c: c.invoke(FunctionName="fn", ClientContext="!!!"),
     "InvalidRequestContentException", 400,
     "Client context must be a valid Base64-encoded JSON object."),
    ("client-context-not-json",
     lambda c: c.invoke(FunctionName="fn", ClientContext=base64.b64encode(b"x").decode()),
     "InvalidRequestContentException", 400,
     "Client context must be a valid Base64-encoded JSON object."),
    ("client-context-too-long",
     lambda c: c.invoke(FunctionName="fn", ClientContext=CONTEXT_LONG),
     "InvalidRequestContentException", 400, "Client context must be at most 3583 bytes"),
    ("name-dotdot", lambda c: c.get_function(FunctionName=".."), "ValidationException", 400,
     "Value '..' at 'functionName' failed to satisfy constraint: Member must satisfy regular "
     "expression pattern"),
    ("name-slash", lambda c: c.get_alias(FunctionName="a/b", Name="live"),
     "ValidationException", 400, "Value 'a/b' at 'functionName'"),
    ("name-percent-2f", lambda c: c.get_function_configuration(FunctionName="fn%2F.."),
     "ValidationException", 400, "Value 'fn%2F..' at 'functionName'"),
    ("name-over-256", lambda c: c.get_function(FunctionName="f" * 257),
     "ValidationException", 400, "at 'functionName' failed to satisfy constraint"),
    ("qualifier-pattern", lambda c: c.get_function(FunctionName="fn", Qualifier="a/b"),
     "ValidationException", 400,
     "Value 'a/b' at 'qualifier' failed to satisfy constraint: Member must satisfy regular "
     "expression pattern"),
    ("qualifier-too-long", lambda c: c.invoke(FunctionName="fn", Qualifier="q" * 129),
     "ValidationException", 400, "at 'qualifier' failed to satisfy constraint"),
    ("qualifier-latest-suffix",
     lambda c: c.get_function_configuration(FunctionName="fn", Qualifier="$LATEST.X"),
     "ValidationException", 400, "Value '$LATEST.X' at 'qualifier'"),
    ("qualifier-mismatch",
     lambda c: c.get_function_configuration(FunctionName="fn:1", Qualifier="2"),
     "InvalidParameterValueException", 400,
     "The derived qualifier from the function name does not match the specified qualifier."),
    ("alias-name-digits", lambda c: c.delete_alias(FunctionName="fn", Name="12"),
     "ValidationException", 400, "Value '12' at 'name'"),
    ("alias-version-pattern",
     lambda c: c.create_alias(FunctionName="fn", Name="x", FunctionVersion="abc"),
     "ValidationException", 400, "Value 'abc' at 'functionVersion'"),
    ("routing-two-weights",
     lambda c: c.update_alias(FunctionName="fn", Name="live",
                              RoutingConfig={"AdditionalVersionWeights": {"2": 0.5, "3": 0.1}}),
     "InvalidParameterValueException", 400,
     "Number of items in AdditionalVersionWeights cannot be greater than 1"),
    ("routing-weight-1.5",
     lambda c: c.update_alias(FunctionName="fn", Name="live",
                              RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}}),
     "ValidationException", 400,
     "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' "
     "failed to satisfy constraint: Map value must satisfy constraint"),
    ("routing-latest-key",
     lambda c: c.create_alias(FunctionName="fn", Name="x", FunctionVersion="1",
                              RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}}),
     "ValidationException", 400, "Map keys must satisfy constraint"),
    ("routing-on-latest",
     lambda c: c.update_alias(FunctionName="fn", Name="live", FunctionVersion="$LATEST",
                              RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}),
     "InvalidParameterValueException", 400,
     "$LATEST is not supported for an alias pointing to more than 1 version"),
    ("alias-revision-mismatch",
     lambda c: c.update_alias(FunctionName="fn", Name="live", FunctionVersion="2",
                              RevisionId="00000000-0000-0000-0000-000000000000"),
     "PreconditionFailedException", 412,
     "The Revision Id provided does not match the latest Revision Id. Call the "
     "GetFunction/GetAlias API to retrieve the latest Revision Id"),
    ("config-revision-mismatch",
     lambda c: c.update_function_configuration(FunctionName="fn", Timeout=9, RevisionId="x"),
     "PreconditionFailedException", 412, "The Revision Id provided does not match"),
    ("publish-revision-mismatch", lambda c: c.publish_version(FunctionName="fn", RevisionId="x"),
     "PreconditionFailedException", 412, "The Revision Id provided does not match"),
    ("code-revision-mismatch",
     lambda c: c.update_function_code(FunctionName="fn", ZipFile=zip_of({"app.py": "x = 1\n"}),
                                      RevisionId="x"),
     "PreconditionFailedException", 412, "The Revision Id provided does not match"),
    ("publish-code-sha", lambda c: c.publish_version(FunctionName="fn", CodeSha256="nope"),
     "InvalidParameterValueException", 400, "CodeSHA256 (nope) is different"),
    ("missing-alias", lambda c: c.update_alias(FunctionName="fn", Name="nope"),
     "ResourceNotFoundException", 404, f"Alias not found: {ARN}fn:nope"),
    ("missing-version-invoke", lambda c: c.invoke(FunctionName="fn", Qualifier="9"),
     "ResourceNotFoundException", 404, f"Function not found: {ARN}fn:9"),
    ("delete-latest", lambda c: c.delete_function(FunctionName="fn", Qualifier="$LATEST"),
     "InvalidParameterValueException", 400,
     "$LATEST version cannot be deleted without deleting the function."),
    ("delete-alias-through-function",
     lambda c: c.delete_function(FunctionName="fn", Qualifier="live"),
     "InvalidParameterValueException", 400, "Deletion of aliases is not currently supported."),
    ("delete-version-of-alias", lambda c: c.delete_function(FunctionName="fn", Qualifier="1"),
     "ResourceConflictException", 409,
     "Unable to delete version because the following aliases reference it: [live]"),
    ("create-existing", lambda c: c.create_function(
        FunctionName="fn", Runtime="python3.11", Role="r", Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": APP})}),
     "ResourceConflictException", 409, "Function already exist: fn"),
    ("update-code-not-a-zip",
     lambda c: c.update_function_code(FunctionName="fn", ZipFile=b"not a zip"),
     "InvalidParameterValueException", 400, "Could not unzip uploaded file"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "code", "status", "message"),
    [pytest.param(*c[1:], id=c[0]) for c in BOTO_CASES],
)
@pytest.mark.usefixtures("unchanged")
def test_boto3_bad_request(
    lam: Any, call: Callable[[Any], Any], code: str, status: int, message: str
) -> None:
    from botocore.exceptions import ClientError

    modeled = getattr(lam.exceptions, code, None)
    with pytest.raises(ClientError) as e:
        call(lam)
    if modeled is not None:  # ValidationException is not a modeled shape: ClientError
        assert isinstance(e.value, modeled), type(e.value)
    err = e.value.response["Error"]
    assert (err["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        code,
        status,
    )
    assert message in err["Message"], err["Message"]


def test_a_refused_invoke_is_neither_run_nor_journaled(lam: Any, project: Path) -> None:
    def count() -> int:
        out = run_cli("-C", str(project / "fn"), "logs", "--output", "json")
        return len(json.loads(out.stdout).get("Events", []))

    before = count()  # (reading the journal makes its lock file: before the digest)
    files = digest(project / "fn")
    for kind in ("RequestResponse", "Event"):
        with pytest.raises(lam.exceptions.InvalidRequestContentException):
            lam.invoke(FunctionName="fn", InvocationType=kind, ClientContext="!!!")
    assert digest(project / "fn") == files
    assert count() == before
    ok = base64.b64encode(b'{"custom": {"a": "b"}}').decode()
    assert lam.invoke(FunctionName="fn", ClientContext=ok)["StatusCode"] == 200
