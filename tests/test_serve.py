"""``lambdaver serve`` through boto3: every operation of lambda-semantics-2 §1.2 for
functions, versions, aliases and invoke, each refusal's exception class and message
(one HTTP attempt: retries are off, so a wrong 5xx fails at once), paging, and the
server's start, bind address and shutdown."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import DROPPED_SOCKETS, Served, error, start, zip_of

from conftest import run_cli

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
APP = "def handler(event, context):\n    return {'v': V, 'event': event}\n\nV = 0\n"


pytestmark = DROPPED_SOCKETS


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


_counter = [0]


def make_fn(project: Path, versions: int = 1) -> str:
    """A new function under the project with ``versions`` published versions."""
    _counter[0] += 1
    name = f"fn{_counter[0]}"
    root = project / name
    root.mkdir()
    (root / "app.py").write_text(APP)
    assert run_cli("init", str(root), "--output", "json").exit_code == 0
    for i in range(1, versions + 1):
        (root / "app.py").write_text(APP.replace("V = 0", f"V = {i}"))
        r = run_cli("-C", str(root), "publish", "--output", "json")
        assert r.exit_code == 0, r
    return name


# --- start-up ---------------------------------------------------------------------------


def test_listening_line_names_the_loopback_address(served: Served) -> None:
    assert served.url.startswith("http://127.0.0.1:")
    assert int(served.url.rsplit(":", 1)[1]) > 0  # --port 0: the real port
    assert not any("warning" in line for line in served.lines)


def test_non_loopback_hosts_are_told_apart() -> None:
    from lambdaver.server.run import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")  # noqa: S104


# --- functions --------------------------------------------------------------------------


def test_get_function_and_its_code_location(lam: Any, project: Path, served: Served) -> None:
    name = make_fn(project)
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["FunctionName"] == name
    assert got["Configuration"]["Version"] == "$LATEST"
    assert got["Code"]["RepositoryType"] == "S3"
    location = got["Code"]["Location"]
    assert location.startswith(served.url + "/")
    with urllib.request.urlopen(location, timeout=30) as r:  # noqa: S310 - our own server
        data = r.read()
    out = project / f"{name}-export.zip"
    r2 = run_cli("-C", str(project / name), "export", "--output", "json", "-o", str(out))
    assert r2.exit_code == 0, r2
    assert data == out.read_bytes()  # the same bytes as lambdaver export
    one = lam.get_function(FunctionName=name, Qualifier="1")
    with urllib.request.urlopen(one["Code"]["Location"], timeout=30) as r:  # noqa: S310
        names = zipfile.ZipFile(io.BytesIO(r.read())).namelist()
    assert names == ["app.py"]


@pytest.mark.parametrize(
    "form",
    ["{n}", "{n}:1", f"{ARN}{{n}}", f"{ARN}{{n}}:1", "000000000000:function:{n}",
     "us-east-1:000000000000:function:{n}:1"],
)  # fmt: skip
def test_function_name_forms(lam: Any, project: Path, form: str) -> None:
    name = make_fn(project)
    conf = lam.get_function_configuration(FunctionName=form.format(n=name))
    assert conf["FunctionName"] == name
    assert conf["Version"] == ("1" if form.endswith(":1") else "$LATEST")


def test_missing_function_and_bad_names(lam: Any, project: Path) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_function_configuration(FunctionName="nope")
    assert error(e) == ("ResourceNotFoundException", f"Function not found: {ARN}nope", 404)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_function(FunctionName="arn:aws:lambda:eu-west-1:000000000000:function:x")
    assert "not reachable in this region" in error(e)[1]
    name = make_fn(project)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_function_configuration(FunctionName=name, Qualifier="7")
    assert error(e)[1] == f"Function not found: {ARN}{name}:7"
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.get_function_configuration(FunctionName=f"{name}:1", Qualifier="2")
    assert "does not match the specified qualifier" in error(e)[1]


def test_list_functions_pages(lam: Any, project: Path) -> None:
    made = {make_fn(project) for _ in range(3)}
    pages = list(lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}))
    names = [f["FunctionName"] for p in pages for f in p["Functions"]]
    assert made <= set(names) and len(names) == len(set(names))
    everything = lam.list_functions(FunctionVersion="ALL")["Functions"]
    versions = {(f["FunctionName"], f["Version"]) for f in everything}
    assert all((n, "$LATEST") in versions and (n, "1") in versions for n in made)


def test_update_configuration_with_revision_id(lam: Any, project: Path) -> None:
    name = make_fn(project)
    conf = lam.get_function_configuration(FunctionName=name)
    new = lam.update_function_configuration(
        FunctionName=name, Timeout=9, Environment={"Variables": {"KEY": "v"}},
        RevisionId=conf["RevisionId"],
    )  # fmt: skip
    assert new["Timeout"] == 9 and new["Environment"] == {"Variables": {"KEY": "v"}}
    assert "timeout = 9" in (project / name / "lambdaver.toml").read_text()
    with pytest.raises(lam.exceptions.PreconditionFailedException) as e:
        lam.update_function_configuration(FunctionName=name, Timeout=10, RevisionId="stale")
    assert error(e)[0::2] == ("PreconditionFailedException", 412)
    assert error(e)[1].startswith("The Revision Id provided does not match")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName=f"{name}:1", Timeout=10)


def test_update_code_publish_and_list_versions(lam: Any, project: Path) -> None:
    name = make_fn(project)
    zipped = zip_of({"app.py": APP.replace("V = 0", "V = 42")})
    latest = lam.update_function_code(FunctionName=name, ZipFile=zipped)
    assert latest["Version"] == "$LATEST"
    assert "V = 42" in (project / name / "app.py").read_text()
    published = lam.publish_version(FunctionName=name, Description="second")
    assert published["Version"] == "2" and published["Description"] == "second"
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.publish_version(FunctionName=name, CodeSha256="nope")
    assert "CodeSHA256 (nope) is different" in error(e)[1]
    again = lam.update_function_code(
        FunctionName=name, ZipFile=zip_of({"app.py": APP.replace("V = 0", "V = 43")}),
        Publish=True,
    )  # fmt: skip
    assert again["Version"] == "3"
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_code(FunctionName=name, ZipFile=b"not a zip")
    assert error(e)[1].startswith("Could not unzip uploaded file")
    pages = list(
        lam.get_paginator("list_versions_by_function").paginate(
            FunctionName=name, PaginationConfig={"PageSize": 1}
        )
    )
    assert [v["Version"] for p in pages for v in p["Versions"]] == ["$LATEST", "1", "2", "3"]
    assert len(pages) == 4 and "NextMarker" not in pages[-1]


def test_create_function_from_a_zip_and_delete_it(lam: Any, project: Path) -> None:
    code = zip_of({"main.py": "def go(event, context):\n    return {'made': True}\n"})
    made = lam.create_function(
        FunctionName="created", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="main.go", Code={"ZipFile": code}, Timeout=5,
        Environment={"Variables": {"STAGE": "dev"}}, Publish=True,
    )  # fmt: skip
    assert (made["FunctionName"], made["Version"], made["Handler"]) == ("created", "1", "main.go")
    root = project / "created"
    assert (root / ".lambdaver").is_dir() and (root / "main.py").is_file()
    assert not (root / "app.py").exists()  # init's starter app was replaced by the zip
    assert 'STAGE = "dev"' in (root / "lambdaver.toml").read_text()
    out = lam.invoke(FunctionName="created")
    assert json.loads(out["Payload"].read()) == {"made": True}
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.create_function(FunctionName="created", Runtime="python3.11", Role="r",
                            Handler="main.go", Code={"ZipFile": code})  # fmt: skip
    assert error(e) == ("ResourceConflictException", "Function already exist: created", 409)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(FunctionName="badzip", Runtime="python3.11", Role="r",
                            Handler="main.go", Code={"ZipFile": b"nope"})  # fmt: skip
    assert not (project / "badzip").exists()  # a refused create leaves nothing
    # qualified: one version; unqualified: the whole function, never its code
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.delete_function(FunctionName="created", Qualifier="$LATEST")
    assert lam.delete_function(FunctionName="created", Qualifier="1")["StatusCode"] == 204
    assert [
        v["Version"] for v in lam.list_versions_by_function(FunctionName="created")["Versions"]
    ] == ["$LATEST"]
    assert lam.delete_function(FunctionName="created")["StatusCode"] == 204
    assert not (root / ".lambdaver").exists() and not (root / "lambdaver.toml").exists()
    assert (root / "main.py").is_file()
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="created")


# --- aliases ----------------------------------------------------------------------------


def test_alias_lifecycle_and_refusals(lam: Any, project: Path) -> None:
    name = make_fn(project, versions=2)
    a = lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1", Description="d")
    assert a["AliasArn"] == f"{ARN}{name}:prod" and a["FunctionVersion"] == "1"
    got = lam.get_alias(FunctionName=name, Name="prod")
    assert got["RevisionId"] == a["RevisionId"]
    moved = lam.update_alias(
        FunctionName=name, Name="prod", FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}}, RevisionId=a["RevisionId"],
    )  # fmt: skip
    assert moved["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName=name, Name="prod", RevisionId=a["RevisionId"])
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    assert error(e) == ("ResourceConflictException", f"Alias already exists: {ARN}{name}:prod", 409)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_alias(FunctionName=name, Name="nope")
    assert error(e) == (
        "ResourceNotFoundException",
        f"Cannot find alias arn: {ARN}{name}:nope",
        404,
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="9")
    assert error(e)[1] == f"Function not found: {ARN}{name}:9"
    with pytest.raises(lam.exceptions.ClientError) as e:
        lam.create_alias(FunctionName=name, Name="123", FunctionVersion="1")
    assert error(e)[0::2] == ("ValidationException", 400)
    assert error(e)[1].startswith("1 validation error detected: Value '123' at 'name'")
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert "aliases reference it: [prod]" in error(e)[1]
    for n in ("a1", "a2", "a3"):
        lam.create_alias(FunctionName=name, Name=n, FunctionVersion="1")
    pages = list(lam.get_paginator("list_aliases").paginate(
        FunctionName=name, PaginationConfig={"PageSize": 1}))  # fmt: skip
    assert [x["Name"] for p in pages for x in p["Aliases"]] == ["a1", "a2", "a3", "prod"]
    only = lam.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]
    assert [x["Name"] for x in only] == ["prod"]
    lam.delete_alias(FunctionName=name, Name="prod")
    lam.delete_alias(FunctionName=name, Name="prod")  # a missing alias is no error, as AWS
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=name, Name="prod")


# --- invoke -----------------------------------------------------------------------------


def test_an_event_is_journaled_as_the_queue_worker_journals_it(tmp_path: Path) -> None:
    """Serve's Event invocations: the request id the 202 answered with, ``InvocationType:
    Event``, ``Attempt`` 1-3 and the kept ``Response``; a function error retried twice
    (after LAMBDAVER_EVENT_RETRY_DELAY), a success not at all."""
    root = tmp_path / "ev"
    root.mkdir()
    (root / "app.py").write_text(
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('no')\n"
        "    return {'got': event}\n"
    )
    assert run_cli("init", str(root), "--output", "json").exit_code == 0
    s = start(root, env={"LAMBDAVER_EVENT_RETRY_DELAY": "0.05"})
    lam = s.client()
    try:
        good = lam.invoke(FunctionName="ev", InvocationType="Event", Payload=b'{"k": 1}')
        bad = lam.invoke(FunctionName="ev", InvocationType="Event", Payload=b'{"fail": 1}')
        ids = [r["ResponseMetadata"]["RequestId"] for r in (good, bad)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            logs = run_cli("-C", str(root), "logs", "--output", "json")
            events = json.loads(logs.stdout).get("Events", [])
            if len(events) >= 4:
                break
            time.sleep(0.1)
        time.sleep(0.3)  # nothing more is to come
        events = json.loads(run_cli("-C", str(root), "logs", "--output", "json").stdout)["Events"]
    finally:
        lam.close()
        s.kill()
    assert all(e["InvocationType"] == "Event" for e in events)
    by_id = {rid: [e for e in events if e["RequestId"] == rid] for rid in ids}
    assert [e["Attempt"] for e in by_id[ids[0]]] == [1]
    assert by_id[ids[0]][0]["Response"] == {"got": {"k": 1}}
    assert [e["Attempt"] for e in by_id[ids[1]]] == [1, 2, 3]
    assert all(e["ErrorType"] == "ValueError" for e in by_id[ids[1]])
    assert len(events) == 4


def test_invoke_kinds_and_refusals(lam: Any, project: Path) -> None:
    name = make_fn(project, versions=1)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    out = lam.invoke(FunctionName=name, Qualifier="live", Payload=b'{"a": 1}', LogType="Tail")
    assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "1"
    assert json.loads(out["Payload"].read()) == {"v": 1, "event": {"a": 1}}
    log = base64.b64decode(out["LogResult"]).decode()
    rid = out["ResponseMetadata"]["RequestId"]  # x-amzn-RequestId: the invocation's own id
    assert log.startswith(f"START RequestId: {rid} ") and f"REPORT RequestId: {rid}\t" in log
    dry = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204 and dry["Payload"].read() == b""
    event = lam.invoke(FunctionName=f"{name}:live", InvocationType="Event", Payload=b'{"e": 1}')
    assert event["StatusCode"] == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = run_cli("-C", str(project / name), "logs", "--output", "json")
        events = json.loads(logs.stdout).get("Events", [])
        if sum(e.get("Qualifier") == "live" for e in events) == 2:  # RequestResponse + Event
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the Event invocation never reached the journal")
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as e:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert error(e)[0::2] == ("InvalidRequestContentException", 400)
    with pytest.raises(lam.exceptions.RequestTooLargeException) as e:
        lam.invoke(FunctionName=name, Payload=b"[" + b"1," * 3_200_000 + b"1]")
    assert error(e)[2] == 413
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Qualifier="missing")


def test_function_errors_are_200_with_function_error(lam: Any, project: Path) -> None:
    name = make_fn(project)
    (project / name / "app.py").write_text(
        "def handler(event, context):\n    raise KeyError('k')\n"
    )
    out = lam.invoke(FunctionName=name)
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"].read())["errorType"] == "KeyError"


def test_latest_changes_are_seen_by_the_next_invoke(lam: Any, project: Path) -> None:
    name = make_fn(project)
    first = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    (project / name / "app.py").write_text(APP.replace("V = 0", "V = 99"))
    second = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert (first["v"], second["v"]) == (1, 99)


def test_sigterm_stops_the_server_and_its_environments(tmp_path: Path) -> None:
    root = tmp_path / "one"
    root.mkdir()
    (root / "app.py").write_text("import os\ndef handler(e, c):\n    return os.getpid()\n")
    assert run_cli("init", str(root), "--output", "json").exit_code == 0
    s = start(root)  # a function directory: that function alone
    try:
        lam = s.client()
        assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["one"]
        pid = json.loads(lam.invoke(FunctionName="one")["Payload"].read())
        assert pid != s.proc.pid  # user code never runs in the server's process
        os.kill(pid, 0)  # warm: still there after the invocation
        assert s.stop(signal.SIGTERM) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        s.kill()
