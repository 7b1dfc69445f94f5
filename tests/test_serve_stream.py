"""InvokeWithResponseStream through boto3 against ``lambdaver serve``: botocore's own
event-stream reader parses the answer (PayloadChunk events, then InvokeComplete), a
function error and the log tail arrive in InvokeComplete, refusals are ordinary errors."""

from __future__ import annotations

import base64
import binascii
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import DROPPED_SOCKETS, error

from lambdaver.server import stream_api

from conftest import run_cli

pytestmark = DROPPED_SOCKETS

APP = """\
def handler(event, context):
    print("streamed", event.get("n"))
    if event.get("fail"):
        raise ValueError("bad " + event["fail"])
    return {"v": V, "pad": "x" * event.get("size", 0)}

V = 0
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    fn = root / "st"
    fn.mkdir()
    (fn / "app.py").write_text(APP.replace("V = 0", "V = 1"))
    assert run_cli("init", str(fn), "--output", "json").exit_code == 0
    assert run_cli("-C", str(fn), "publish", "--output", "json").exit_code == 0
    r = run_cli("-C", str(fn), "create-alias", "--name", "live", "--function-version", "1")
    assert r.exit_code == 0, r
    (fn / "app.py").write_text(APP.replace("V = 0", "V = 2"))  # $LATEST differs from 1
    return root


def events(response: dict[str, Any]) -> list[dict[str, Any]]:
    return list(response["EventStream"])


def payload_of(evs: list[dict[str, Any]]) -> bytes:
    return b"".join(e["PayloadChunk"]["Payload"] for e in evs if "PayloadChunk" in e)


def test_a_response_arrives_as_chunks_then_invoke_complete(lam) -> None:
    r = lam.invoke_with_response_stream(FunctionName="st:live", Payload=b'{"n": 1}')
    assert r["StatusCode"] == 200
    assert r["ExecutedVersion"] == "1"
    assert r["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    evs = events(r)
    assert "InvokeComplete" in evs[-1] and all("PayloadChunk" in e for e in evs[:-1])
    assert evs[-1]["InvokeComplete"] == {}
    assert json.loads(payload_of(evs)) == {"v": 1, "pad": ""}


def test_a_large_response_is_cut_into_several_chunks_and_unqualified_runs_latest(lam) -> None:
    size = 3 * stream_api.CHUNK // 2
    r = lam.invoke_with_response_stream(FunctionName="st", Payload=json.dumps({"size": size}))
    assert r["ExecutedVersion"] == "$LATEST"
    evs = events(r)
    chunks = [e for e in evs if "PayloadChunk" in e]
    assert len(chunks) == 2
    assert len(chunks[0]["PayloadChunk"]["Payload"]) == stream_api.CHUNK
    assert json.loads(payload_of(evs)) == {"v": 2, "pad": "x" * size}


def test_a_function_error_is_reported_in_invoke_complete_with_the_log_tail(lam) -> None:
    r = lam.invoke_with_response_stream(
        FunctionName="st", Qualifier="live", Payload=b'{"fail": "input", "n": 7}', LogType="Tail"
    )
    assert r["StatusCode"] == 200
    evs = events(r)
    assert [list(e) for e in evs] == [["InvokeComplete"]]
    done = evs[0]["InvokeComplete"]
    assert done["ErrorCode"] == "ValueError"
    assert done["ErrorDetails"] == "bad input"
    log = base64.b64decode(done["LogResult"]).decode()
    assert "streamed 7" in log and "REPORT RequestId" in log


def test_dry_run_runs_nothing_and_event_is_not_one_of_its_types(lam) -> None:
    r = lam.invoke_with_response_stream(FunctionName="st:live", InvocationType="DryRun")
    assert r["StatusCode"] == 204
    assert events(r) == []
    with pytest.raises(lam.exceptions.ClientError) as exc:
        lam.invoke_with_response_stream(FunctionName="st", InvocationType="Event")
    code, message, status = error(exc)
    assert (code, status) == ("ValidationException", 400)
    assert "Member must satisfy enum value set: [RequestResponse, DryRun]" in message


def test_refusals_before_the_function_runs_are_ordinary_errors(lam) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName="st:nope", Payload=b"{}")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName="missing", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke_with_response_stream(FunctionName="st", Payload=b"{not json")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke_with_response_stream(FunctionName="st", ClientContext="not base64!")
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke_with_response_stream(FunctionName="st", Payload=b" " * (6 * 1024 * 1024 + 1))


def test_the_framing_is_aws_event_stream_with_both_crcs() -> None:
    """The bytes of one message, read back field by field (and by botocore's decoder)."""
    from botocore.eventstream import EventStreamBuffer

    msg = stream_api.event("PayloadChunk", b"hello", "application/octet-stream")
    total, head_len, prelude_crc = struct.unpack(">III", msg[:12])
    assert total == len(msg)
    assert prelude_crc == binascii.crc32(msg[:8])
    assert struct.unpack(">I", msg[-4:])[0] == binascii.crc32(msg[:-4])
    assert msg[12 + head_len : -4] == b"hello"
    buf = EventStreamBuffer()
    buf.add_data(msg)
    (decoded,) = list(buf)
    assert decoded.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert decoded.payload == b"hello"
