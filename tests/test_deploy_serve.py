"""``lambdaver deploy`` beside ``lambdaver serve`` (docs/deploy.md "Alarms"): invocations
of the alias through the server, which runs them in its warm environments and journals
them itself, count for the deployment's alarms (the deploy reads the journal from its
offset, whoever writes it); and an alias update through the server's API during a
deployment is a change by hand, which stops it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from serve_helpers import Served, start

from conftest import LAMBDAVER_SCRIPT, Fn

pytestmark = pytest.mark.filterwarnings(  # as tests/test_serve.py: botocore's pooled sockets
    r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"
)

HANDLER = (
    "def handler(event, context):\n"
    "    if event.get('fail') and VERSION == 2:\n"
    "        raise RuntimeError('boom')\n"
    "    return {{'version': VERSION}}\n\n"
    "VERSION = {version}\n"
)
#: a canary long enough (30 s) never to end by itself here: the test ends it
CANARY = ("--strategy", "Canary50Percent30Minutes", "--speed", "60")


@pytest.fixture
def two(fn: Fn) -> Fn:
    """Versions 1 and 2 (2 fails on {"fail": true}); alias prod on 1."""
    for version in (1, 2):
        fn.write("app.py", HANDLER.format(version=version))
        assert fn.publish() == str(version)
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


@pytest.fixture
def served(two: Fn) -> Iterator[Served]:
    s = start(two.root.parent)  # the project: the function's parent directory
    try:
        yield s
    finally:
        s.kill()


@pytest.fixture
def deploy(two: Fn) -> Iterator[Any]:
    """Start ``lambdaver deploy prod --version 2 ARGS`` in its own process (killed at the
    end if still running)."""
    procs: list[subprocess.Popen[str]] = []

    def run(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [str(LAMBDAVER_SCRIPT), "-C", str(two.root), "--output", "json", "deploy", "prod",
             "--version", "2", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def wait_for_canary(lam: Any, proc: subprocess.Popen[str], deadline: float = 30.0) -> None:
    """Until the server sees the alias carry the canary's weight (step 1 done)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end and proc.poll() is None:
        if lam.get_alias(FunctionName="hello", Name="prod").get("RoutingConfig"):
            return
        time.sleep(0.05)
    raise AssertionError(f"the deployment never reached its canary: {proc.communicate()}")


def test_failures_through_serve_trip_the_deployment_s_alarm(two: Fn, lam: Any, deploy: Any) -> None:
    proc = deploy(*CANARY, "--alarm", "error-rate>10%")
    wait_for_canary(lam, proc)
    executed: list[tuple[str, str | None]] = []
    end = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < end:
        out = lam.invoke(FunctionName="hello", Qualifier="prod", Payload=b'{"fail": true}')
        executed.append((out["ExecutedVersion"], out.get("FunctionError")))
    out_text, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    # the failures of version 2 came through the server, as a client sees them
    assert ("2", "Unhandled") in executed, executed
    result = json.loads(out_text)
    assert result["Status"] == "Failed" and result["RolledBack"] is True
    assert result["ErrorInformation"]["Code"] == "ALARM_ACTIVE"
    message = result["ErrorInformation"]["Message"]
    assert message.startswith("alarm 'error-rate>10%' tripped: error-rate was 100.0% over ")
    assert message.endswith("of version 2")
    assert "rolled back to version 1" in err
    # the server sees the rollback at once: the next invocations all go to version 1
    assert lam.get_alias(FunctionName="hello", Name="prod")["FunctionVersion"] == "1"
    for _ in range(3):
        out = lam.invoke(FunctionName="hello", Qualifier="prod", Payload=b'{"fail": true}')
        assert out["ExecutedVersion"] == "1" and "FunctionError" not in out
    assert two("fsck").exit_code == 0


def test_an_alias_update_through_serve_stops_the_deployment(two: Fn, lam: Any, deploy: Any) -> None:
    proc = deploy(*CANARY)
    wait_for_canary(lam, proc)
    by_hand = {"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {}}}
    lam.update_alias(FunctionName="hello", Name="prod", Description="by hand", **by_hand)
    out_text, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    result = json.loads(out_text)
    assert result["Status"] == "Stopped" and result["RolledBack"] is False
    assert result["ErrorInformation"]["Code"] == "MANUAL_STOP"
    assert "changed outside the deployment" in result["ErrorInformation"]["Message"]
    alias = lam.get_alias(FunctionName="hello", Name="prod")
    assert (alias["FunctionVersion"], alias["Description"]) == ("1", "by hand")
    assert "RoutingConfig" not in alias or not alias["RoutingConfig"].get(
        "AdditionalVersionWeights"
    )
    assert two("fsck").exit_code == 0
