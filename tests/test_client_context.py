"""The client context reaches the function, as AWS passes it: `X-Amz-Client-Context`
through `lambdaver serve` (boto3's ``ClientContext``) and `invoke --client-context`,
checked by one function, to Python's ``context.client_context`` (one-shot and warm),
Node's ``context.clientContext`` and a custom runtime's ``Lambda-Runtime-Client-Context``
header (AWS's own runtime interface client, unchanged); synchronous invocations only
(docs/serve.md, docs/runtime.md, docs/cli.md)."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import DROPPED_SOCKETS

from lambdaver.runtime.fake import FakeExecutor

from conftest import LAMBDAVER_SCRIPT, Fn, run_cli

pytestmark = DROPPED_SOCKETS

GIVEN = {
    "client": {"installation_id": "i-1", "app_title": "Shop", "app_version_code": "7"},
    "custom": {"cart": [1, 2], "note": "caf\u00e9"},
    "env": {"platform": "Android"},
}
B64 = base64.b64encode(json.dumps(GIVEN).encode()).decode()

#: Shows the client context as the handler sees it (and logs it, for Event invocations).
PY_HANDLER = """\
def handler(event, context):
    cc = context.client_context
    print("mark", event.get("mark"), "client context:", repr(cc))
    if cc is None:
        return None
    client = cc.client
    fields = ("installation_id", "app_title", "app_version_name", "app_version_code",
              "app_package_name")
    return {"repr": repr(cc), "custom": cc.custom, "env": cc.env,
            "client": None if client is None else {f: getattr(client, f) for f in fields}}
"""
#: What PY_HANDLER returns for GIVEN: awslambdaric's objects, every Client slot present.
SEEN_BY_PYTHON = {
    "repr": "ClientContext([custom={'cart': [1, 2], 'note': 'caf\u00e9'},env={'platform': "
    "'Android'},client=Client([installation_id=i-1,app_title=Shop,app_version_name=None,"
    "app_version_code=7,app_package_name=None])])",
    "custom": {"cart": [1, 2], "note": "caf\u00e9"},
    "env": {"platform": "Android"},
    "client": {"installation_id": "i-1", "app_title": "Shop", "app_version_name": None,
               "app_version_code": "7", "app_package_name": None},
}  # fmt: skip

NODE_HANDLER = """\
export const handler = async (event, context) => ({
  cc: context.clientContext === undefined ? "undefined" : context.clientContext,
});
"""

HAVE_NODE = shutil.which("node") is not None
HAVE_RIC = importlib.util.find_spec("awslambdaric") is not None


def _make(project: Path, name: str, files: dict[str, str], runtime: str) -> None:
    root = project / name
    root.mkdir()
    for rel, text in files.items():
        (root / rel).write_text(text)
    if "bootstrap" in files:
        (root / "bootstrap").chmod(0o755)
    r = run_cli("init", str(root), "--runtime", runtime, "--output", "json")
    assert r.exit_code == 0, r


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Functions ``py`` (Python), ``node`` (Node.js 20, when node is installed) and
    ``custom`` (provided.al2023 whose bootstrap runs awslambdaric, when installed)."""
    project = tmp_path_factory.mktemp("project")
    _make(project, "py", {"app.py": PY_HANDLER}, "python3.11")
    if HAVE_NODE:
        _make(project, "node", {"index.mjs": NODE_HANDLER}, "nodejs20.x")
    if HAVE_RIC:
        bootstrap = f"#!/bin/sh\nexec {sys.executable} -m awslambdaric app.handler\n"
        _make(project, "custom", {"app.py": PY_HANDLER, "bootstrap": bootstrap},
              "provided.al2023")  # fmt: skip
    return project


def _invoke(lam: Any, name: str, **how: Any) -> tuple[Any, str]:
    out = lam.invoke(FunctionName=name, LogType="Tail", **how)
    assert out["StatusCode"] == 200 and "FunctionError" not in out, out
    return json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()


# --- through lambdaver serve (boto3) ---------------------------------------------------


def test_serve_passes_it_to_a_warm_python_environment(lam: Any) -> None:
    first, first_log = _invoke(lam, "py", ClientContext=B64)
    none, none_log = _invoke(lam, "py")
    again, again_log = _invoke(lam, "py", ClientContext=B64)
    assert first == again == SEEN_BY_PYTHON
    assert none is None
    # one warm environment served all three: the context is per invocation
    assert ["Init Duration" in log for log in (first_log, none_log, again_log)] == [
        True,
        False,
        False,
    ]


@pytest.mark.skipif(not HAVE_NODE, reason="Node.js ('node') is not installed")
def test_serve_passes_it_to_node_as_the_parsed_object(lam: Any) -> None:
    assert _invoke(lam, "node", ClientContext=B64)[0] == {"cc": GIVEN}
    assert _invoke(lam, "node")[0] == {"cc": "undefined"}
    assert _invoke(lam, "node", ClientContext=base64.b64encode(b"{}").decode())[0] == {"cc": {}}


@pytest.mark.skipif(not HAVE_RIC, reason="awslambdaric is not installed")
def test_serve_passes_it_to_awslambdaric_in_a_custom_runtime(lam: Any) -> None:
    """AWS's own Python runtime interface client, run unchanged as a ``bootstrap``, reads
    the Runtime API's Lambda-Runtime-Client-Context header: it sees what lambdaver's
    Python runtime shows."""
    assert _invoke(lam, "custom", ClientContext=B64)[0] == SEEN_BY_PYTHON
    assert _invoke(lam, "custom")[0] is None


def _entry_marked(root: Path, mark: str, deadline: float = 30.0) -> dict[str, Any]:
    end = time.monotonic() + deadline
    while True:
        r = run_cli("-C", str(root), "logs", "--output", "json")
        assert r.exit_code == 0, r
        for e in r.json.get("Events", []):
            if f"mark {mark} " in e.get("Log", ""):
                return dict(e)
        assert time.monotonic() < end, r.json
        time.sleep(0.1)


def test_serve_keeps_it_from_an_event_invocation(lam: Any, project: Path) -> None:
    """AWS passes the client context to synchronous invocations only."""
    mark = uuid.uuid4().hex
    out = lam.invoke(
        FunctionName="py", InvocationType="Event", ClientContext=B64,
        Payload=json.dumps({"mark": mark}).encode(),
    )  # fmt: skip
    assert out["StatusCode"] == 202
    entry = _entry_marked(project / "py", mark)
    assert f"mark {mark} client context: None\n" in entry["Log"]


# --- through the CLI ---------------------------------------------------------------------


@pytest.fixture
def shown(fn: Fn) -> Fn:
    fn.write("app.py", PY_HANDLER)
    return fn


def test_cli_option_reaches_a_one_shot_python_handler(shown: Fn) -> None:
    r = shown("invoke", "--client-context", B64, "-")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout) == SEEN_BY_PYTHON
    assert json.loads(r.stderr) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    r = shown("invoke", "-")
    assert (r.exit_code, r.stdout) == (0, "null\n")


def test_cli_input_json_client_context_is_the_option(shown: Fn) -> None:
    r = shown("invoke", "--cli-input-json", json.dumps({"ClientContext": B64}))
    assert r.exit_code == 0, r
    assert json.loads(r.stdout) == SEEN_BY_PYTHON
    assert "no meaning" not in r.stderr


def test_the_aws_cli_way_in_a_shell(shown: Fn) -> None:
    """The aws CLI's documented form, run by a real shell: base64 text from $(...)."""
    line = (
        "lambdaver invoke --function-name hello --client-context "
        """$(echo -n '{"custom":{"a":1}}' | base64) out.json"""
    )
    env = {**os.environ, "PATH": f"{LAMBDAVER_SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(
        ["bash", "-c", line], cwd=shown.root, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r
    assert json.loads(r.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads((shown.root / "out.json").read_text()) == {
        "repr": "ClientContext([custom={'a': 1},env=None,client=None])",
        "custom": {"a": 1},
        "env": None,
        "client": None,
    }


LONG = base64.b64encode(json.dumps({"custom": {"k": "x" * 3000}}).encode()).decode()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("!!!", "Client context must be a valid Base64-encoded JSON object."),
        (base64.b64encode(b"not json").decode(),
         "Client context must be a valid Base64-encoded JSON object."),
        (base64.b64encode(b"[1, 2]").decode(),
         "Client context must be a valid Base64-encoded JSON object."),
        (base64.b64encode(b'{"a": NaN}').decode(),
         "Client context must be a valid Base64-encoded JSON object."),
        ("", "Client context must be a valid Base64-encoded JSON object."),
        (LONG, "Client context must be at most 3583 bytes of base64-encoded data"),
    ],
    ids=["not-base64", "not-json", "not-an-object", "nan", "empty", "too-long"],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["RequestResponse", "Event", "DryRun"])
def test_cli_refuses_a_bad_client_context_and_changes_nothing(
    shown: Fn, unchanged: Callable[[Path], Iterator[None]], given: str, message: str, kind: str
) -> None:
    """One line, exit 254 (an InvalidRequestContentException, as every refusal of the
    service), before anything runs: no journal entry, no event queued, and the OUTFILE in
    the function's directory neither written nor added to .lambdaverignore."""
    with unchanged(shown.root):
        r = run_cli(
            "-C", str(shown.root), "invoke", "--invocation-type", kind,
            "--client-context", given, "response.json",
        )  # fmt: skip
    assert r.exit_code == 254
    assert r.stderr == (
        "An error occurred (InvalidRequestContentException) when calling the Invoke "
        f"operation: {message}\n"
    )
    assert r.stdout == ""
    assert shown.ok("logs")["Events"] == []


def test_the_service_hands_it_to_the_executor(shown: Fn, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI -> service -> Environment.invoke: the decoded object, for each of --repeat's
    invocations; a DryRun runs nothing."""
    fake = FakeExecutor({"app.handler": lambda event, context: context.client_context.custom})
    monkeypatch.setattr("lambdaver.runtime.EXECUTORS", {"python": fake})
    r = shown("invoke", "--client-context", B64, "--repeat", "2")
    assert r.exit_code == 0, r
    assert [cc for e in fake.environments for cc in e.client_contexts] == [GIVEN, GIVEN]
    r = shown("invoke", "--client-context", B64, "-")
    assert (r.exit_code, json.loads(r.stdout)) == (0, GIVEN["custom"])
    r = shown("invoke", "--client-context", B64, "--invocation-type", "DryRun")
    assert (r.exit_code, json.loads(r.stderr)) == (0, {"StatusCode": 204})
    assert len(fake.environments) == 3
