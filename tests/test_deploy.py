"""``lambdaver deploy``: strategies and alarms, good and bad releases, hooks, stops,
refusals and a killed deployment.  Schedules run at a high --speed so that each
deployment takes a second or two at most."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdaver.errors import InvalidParameterValueException
from lambdaver.model.deploy import PREDEFINED, VersionStats, parse_alarm, parse_strategy

from conftest import LAMBDAVER_SCRIPT, Fn, run_cli

HANDLER = (
    "import time\n\n"
    "def handler(event, context):\n"
    "    if event.get('fail') and VERSION == {bad}:\n"
    "        raise RuntimeError('boom')\n"
    "    if event.get('slow') and VERSION == {bad}:\n"
    "        time.sleep(0.3)\n"
    "    return {{'version': VERSION}}\n\n"
    "VERSION = {version}\n"
)


def publish(fn: Fn, version: int, bad: int = -1) -> str:
    fn.write("app.py", HANDLER.format(version=version, bad=bad))
    return fn.publish()


@pytest.fixture
def two(fn: Fn) -> Fn:
    """Versions 1 and 2 (2 fails on {"fail": true}); alias prod on 1."""
    assert publish(fn, 1) == "1"
    assert publish(fn, 2, bad=2) == "2"
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


def history(fn: Fn, alias: str = "prod") -> list[dict[str, Any]]:
    return list(fn.ok("alias", "history", alias)["History"])


# --- strategies and alarms ---------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "CodeDeployDefault.Lambda"])
def test_the_nine_strategies(prefix: str) -> None:
    got = {n: [(s.weight, s.wait_seconds) for s in parse_strategy(prefix + n).steps]
           for n in PREDEFINED}  # fmt: skip
    assert got["AllAtOnce"] == [(1.0, 0.0)]
    for minutes in (5, 10, 15, 30):
        assert got[f"Canary10Percent{minutes}Minutes"] == [(0.1, minutes * 60.0), (1.0, 0.0)]
    for name, minutes in (("Every1Minute", 1), ("Every2Minutes", 2), ("Every3Minutes", 3),
                          ("Every10Minutes", 10)):  # fmt: skip
        steps = got[f"Linear10Percent{name}"]
        assert steps == [(k / 10, minutes * 60.0) for k in range(1, 10)] + [(1.0, 0.0)]
    assert parse_strategy(None).name == "AllAtOnce"


def test_custom_strategies() -> None:
    assert [(s.weight, s.wait_seconds) for s in parse_strategy("Canary25Percent45Minutes").steps] \
        == [(0.25, 2700.0), (1.0, 0.0)]  # fmt: skip
    linear = parse_strategy("Linear30PercentEvery2Minutes")
    assert [s.weight for s in linear.steps] == [0.3, 0.6, 0.9, 1.0]
    assert linear.total_seconds == 360.0
    assert [s.weight for s in parse_strategy("Linear50PercentEvery1Minute").steps] == [0.5, 1.0]
    for bad in ("Canary0Percent5Minutes", "Canary100Percent5Minutes", "Canary10Percent",
                "Linear10PercentEvery0Minutes", "canary10percent5minutes", "Blue", ""):  # fmt: skip
        with pytest.raises(InvalidParameterValueException, match="Unknown deployment strategy"):
            parse_strategy(bad)


def test_alarms() -> None:
    stats = VersionStats("2")
    for duration, error in ((10.0, None), (20.0, "Unhandled"), (900.0, "Sandbox.Timedout")):
        stats.add(duration, error)
    assert parse_alarm("errors>1").tripped(stats) is not None
    assert parse_alarm("errors>2").tripped(stats) is None
    assert parse_alarm("timeouts>0").tripped(stats) is not None
    assert parse_alarm(" error-rate > 50% ").tripped(stats) is not None  # 66.7 %
    assert parse_alarm("error-rate>70%").tripped(stats) is None
    assert parse_alarm("p95>800ms").tripped(stats) is not None
    assert parse_alarm("max>900ms").tripped(stats) is None
    why = parse_alarm("p99>100ms").tripped(stats)
    assert why == "alarm 'p99>100ms' tripped: p99 was 900.0ms over 3 invocations of version 2"
    assert parse_alarm("error-rate>1%").tripped(VersionStats("2")) is None  # no traffic yet
    for bad, says in (("errors", "expected errors>N"), ("latency>3ms", "unknown metric"),
                      ("p95>800", "write 'p95>800ms'"), ("errors>1%", "a plain count"),
                      ("errors>1.5", "whole number"), ("error-rate>100%", "never happen"),
                      ("error-rate>1", "write 'error-rate>1%'")):  # fmt: skip
        with pytest.raises(InvalidParameterValueException, match=says):
            parse_alarm(bad)


# --- a good release and a bad one ------------------------------------------------------------


def test_a_good_release(two: Fn) -> None:
    start = time.monotonic()
    r = two("deploy", "prod", "--version", "2", "--strategy", "Canary10Percent5Minutes",
            "--speed", "300", "--alarm", "errors>0")  # fmt: skip
    assert r.exit_code == 0, r
    assert 0.9 < time.monotonic() - start < 5
    out = r.json
    assert out["Status"] == "Succeeded" and out["DeploymentId"].startswith("d-")
    assert len(out["DeploymentId"]) == 11
    assert [s["Weight"] for s in out["Steps"]] == [0.1, 1.0]
    assert r.stderr.splitlines() == [
        f"Deployment {out['DeploymentId']}: alias prod, version 1 -> 2, "
        "Canary10Percent5Minutes, x300",
        "step 1/2: alias prod -> version 1 90%, version 2 10%",
        "step 2/2: alias prod -> version 2 (100%)",
        "Succeeded",
    ]
    alias = two.ok("alias", "get", "prod")
    assert alias["FunctionVersion"] == "2" and "RoutingConfig" not in alias
    h = history(two)
    assert [e["Change"] for e in h] == ["deploy", "deploy", "create"]
    assert h[1]["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    # a deployment is one change: rollback undoes all of it
    assert two.ok("rollback", "prod")["FunctionVersion"] == "1"
    assert two.ok("deploy", "status")["Status"] == "Succeeded"
    listing = two.ok("deploy", "list")["Deployments"]
    assert [d["DeploymentId"] for d in listing] == [out["DeploymentId"]]


def test_all_at_once_is_the_default(two: Fn) -> None:
    out = two.ok("deploy", "prod", "--version", "2")
    assert out["Strategy"] == "AllAtOnce" and [s["Weight"] for s in out["Steps"]] == [1.0]
    assert [e["Change"] for e in history(two)] == ["deploy", "create"]


def test_a_bad_release_trips_an_alarm_and_rolls_back(two: Fn, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"fail": true}\n{"ok": 1}\n')
    r = two("deploy", "prod", "--version", "2", "--strategy", "Canary50Percent10Minutes",
            "--speed", "100", "--alarm", "errors>0", "--traffic", str(events),
            "--rate", "40")  # fmt: skip
    assert r.exit_code == 1, r
    out = r.json
    assert out["Status"] == "Failed" and out["RolledBack"] is True
    assert out["ErrorInformation"]["Code"] == "ALARM_ACTIVE"
    assert out["ErrorInformation"]["Message"].startswith("alarm 'errors>0' tripped: errors was")
    assert r.stderr.splitlines()[-1].startswith("Failed: alarm 'errors>0' tripped")
    assert r.stderr.splitlines()[-1].endswith("; alias prod rolled back to version 1")
    alias = two.ok("alias", "get", "prod")
    assert alias["FunctionVersion"] == "1" and "RoutingConfig" not in alias
    h = history(two)
    assert [e["Change"] for e in h] == ["rollback", "deploy", "create"]
    # the traffic went through the alias, journaled like any invocation
    metrics = {m["Version"]: m for m in two.ok("metrics", "--qualifier", "prod")["Metrics"]}
    assert metrics["2"]["Errors"] >= 1


def test_a_latency_alarm(two: Fn, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"slow": true}\n')
    r = two("deploy", "prod", "--version", "2", "--strategy", "Canary50Percent10Minutes",
            "--speed", "100", "--alarm", "max>200ms", "--traffic", str(events),
            "--rate", "20")  # fmt: skip
    assert r.exit_code == 1, r
    assert "alarm 'max>200ms' tripped: max was" in r.json["ErrorInformation"]["Message"]


# --- hooks ------------------------------------------------------------------------------


def test_command_hooks_see_the_deployment(two: Fn, tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    cmd = f"echo $LAMBDAVER_DEPLOYMENT_ID $LAMBDAVER_ALIAS $LAMBDAVER_TARGET_VERSION >> {seen}"
    out = two.ok("deploy", "prod", "--version", "2", "--pre-traffic-command", cmd,
                 "--post-traffic-command", cmd)  # fmt: skip
    assert out["Status"] == "Succeeded"
    assert seen.read_text().splitlines() == [f"{out['DeploymentId']} prod 2"] * 2


def test_a_failed_pre_traffic_hook_leaves_the_alias(two: Fn) -> None:
    before = two.ok("alias", "get", "prod")
    r = two("deploy", "prod", "--version", "2", "--strategy", "Canary10Percent5Minutes",
            "--pre-traffic-command", "echo smoke test failed; exit 3")  # fmt: skip
    assert r.exit_code == 1, r
    out = r.json
    assert out["Status"] == "Failed" and out["Steps"] == [] and out["RolledBack"] is False
    assert out["ErrorInformation"] == {
        "Code": "HOOK_EXECUTION_FAILURE",
        "Message": "pre-traffic hook echo smoke test failed; exit 3 exited 3: smoke test failed",
    }
    assert two.ok("alias", "get", "prod") == before
    assert [e["Change"] for e in history(two)] == ["create"]


def test_a_failed_post_traffic_hook_rolls_back(two: Fn) -> None:
    r = two("deploy", "prod", "--version", "2", "--post-traffic-command", "false")
    assert r.exit_code == 1, r
    assert r.json["RolledBack"] is True
    assert two.ok("alias", "get", "prod")["FunctionVersion"] == "1"
    assert [e["Change"] for e in history(two)] == ["rollback", "deploy", "create"]


def test_a_hook_that_hangs_times_out(two: Fn) -> None:
    start = time.monotonic()
    r = two("deploy", "prod", "--version", "2", "--pre-traffic-command", "sleep 30",
            "--hook-timeout", "0.5")  # fmt: skip
    assert r.exit_code == 1, r
    assert time.monotonic() - start < 10
    assert r.json["ErrorInformation"]["Message"] == (
        "pre-traffic hook sleep 30 timed out after 0.5 s (--hook-timeout)"
    )
    assert "pre-traffic hook: sleep 30 (timeout 0.5 s)" in r.stderr


def test_function_hooks(two: Fn) -> None:
    # version 2 raises on {"fail": true}; a hook gets CodeDeploy's payload, which it accepts
    out = two.ok("deploy", "prod", "--version", "2", "--pre-traffic", "2",
                 "--post-traffic", "prod")  # fmt: skip
    assert out["Status"] == "Succeeded"
    logs = two.ok("logs", "--qualifier", "2")["Events"]
    hooks = [e for e in logs if e.get("DeploymentId") == out["DeploymentId"]]
    assert len(hooks) == 2
    # a hook whose function fails fails the deployment before traffic moves
    two.write("app.py", "def handler(event, context):\n    raise ValueError(event['DeploymentId'])")
    three = two.publish()
    r = two("deploy", "prod", "--version", "1", "--pre-traffic", three)
    assert r.exit_code == 1, r
    message = r.json["ErrorInformation"]["Message"]
    assert message.startswith(f"pre-traffic hook {three} returned a function error")
    assert r.json["DeploymentId"] in message  # the payload carried the DeploymentId
    assert two.ok("alias", "get", "prod")["FunctionVersion"] == "2"


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--strategy", "Canary10Percent"], "Unknown deployment strategy 'Canary10Percent'"),
        (["--alarm", "errors>"], "Invalid alarm 'errors>'"),
        (["--pre-traffic", "nosuch"], "Function not found: arn:aws:lambda:us-east-1:0000"),
        (["--post-traffic", "9"], "Function not found"),
        (["--pre-traffic", "other:prod"], "Function not found"),
        (["--pre-traffic", "1", "--pre-traffic-command", "true"], "cannot be used together"),
        (["--speed", "0"], "--speed must be above 0"),
        (["--traffic", "missing.jsonl"], "Cannot read --traffic file"),
    ],
)
def test_bad_input_changes_nothing(
    two: Fn, unchanged: Callable[[Path], Any], args: list[str], says: str
) -> None:
    with unchanged(two.root):
        r = two("deploy", "prod", "--version", "2", *args)
    assert r.exit_code == 254, r
    assert says in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "CreateDeployment" in r.stderr


@pytest.mark.parametrize(
    ("alias", "version", "says"),
    [
        ("prod", "1", "Alias prod already points at version 1: nothing to deploy"),
        ("prod", "7", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:7"),
        ("prod", "$LATEST", "Cannot deploy $LATEST"),
        ("nosuch", "2", "Alias not found"),
    ],
)
def test_bad_targets_change_nothing(
    two: Fn, unchanged: Callable[[Path], Any], alias: str, version: str, says: str
) -> None:
    with unchanged(two.root):
        r = two("deploy", alias, "--version", version)
    assert r.exit_code == 254, r
    assert says in r.stderr, r.stderr


def test_a_weighted_alias_is_refused(two: Fn, unchanged: Callable[[Path], Any]) -> None:
    two.ok("alias", "update", "prod", "--weight", "2=0.1")
    with unchanged(two.root):
        r = two("deploy", "prod", "--version", "2")
    assert r.exit_code == 254 and "clear the weights first" in r.stderr, r


def test_an_alias_named_like_a_subcommand(two: Fn) -> None:
    two.ok("alias", "create", "list", "--version", "1")
    assert two.ok("deploy", "start", "list", "--version", "2")["AliasName"] == "list"
    assert two.ok("deploy", "list")["Deployments"][0]["AliasName"] == "list"


def test_an_invalid_traffic_file(two: Fn, tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text('{"a": 1}\nnot json\n')
    r = two("deploy", "prod", "--version", "2", "--traffic", str(events))
    assert r.exit_code == 254 and "line 2: not JSON" in r.stderr, r


# --- a deployment running in another process -------------------------------------------------


def _cmd() -> list[str]:
    return [str(LAMBDAVER_SCRIPT)] if LAMBDAVER_SCRIPT.exists() else [sys.executable, "-m",
                                                                        "lambdaver"]  # fmt: skip


@pytest.fixture
def background(two: Fn) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``lambdaver deploy ...`` in its own process (always killed at the end)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "NO_COLOR": "1"}
        proc = subprocess.Popen(
            [*_cmd(), "-C", str(two.root), "--output", "json", "deploy", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def wait_for_canary(fn: Fn, deadline: float = 20.0) -> None:
    """Until the alias carries the canary's weight (step 1 done)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        r = fn("alias", "get", "prod")
        if r.exit_code == 0 and "RoutingConfig" in r.json:
            return
        time.sleep(0.05)
    raise AssertionError("the deployment never reached its first step")


CANARY = ("prod", "--version", "2", "--strategy", "Canary10Percent30Minutes", "--speed", "60")


def test_while_a_deployment_runs(two: Fn, background: Callable[..., Any]) -> None:
    proc = background(*CANARY)
    wait_for_canary(two)
    # one deployment per alias
    r = two("deploy", "prod", "--version", "2")
    assert r.exit_code == 254 and "ResourceConflictException" in r.stderr, r
    assert "is in progress on alias prod" in r.stderr
    status = two.ok("deploy", "status")
    assert status["Status"] == "InProgress" and status["Process"]["Running"] is True
    # a change by hand stops it, and the alias stays as the user set it
    two.ok("alias", "update", "prod", "--version", "1", "--routing-config", "{}",
           "--description", "by hand")  # fmt: skip
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    result = json.loads(out)
    assert result["Status"] == "Stopped" and result["RolledBack"] is False
    assert result["ErrorInformation"]["Code"] == "MANUAL_STOP"
    assert "changed outside the deployment" in result["ErrorInformation"]["Message"]
    assert two.ok("alias", "get", "prod")["Description"] == "by hand"


def test_the_target_cannot_be_deleted_during_a_deployment(
    two: Fn, background: Callable[..., Any]
) -> None:
    go = two.root.parent / "go"
    proc = background(*CANARY, "--pre-traffic-command", f"while [ ! -f {go} ]; do sleep 0.02; done")
    end = time.monotonic() + 20
    while two("deploy", "status").exit_code != 0 and time.monotonic() < end:
        time.sleep(0.05)
    # during the pre-traffic hook no alias uses version 2 yet: the deployment protects it
    r = two("versions", "delete", "2")
    assert r.exit_code == 254, r
    assert "because deployment d-" in r.stderr and "is moving an alias to it" in r.stderr
    # nor can prune delete it, though it is not the newest any more
    two.publish(**{"app.py": "V = 3\n"})
    pruned = two.ok("versions", "prune", "--keep", "0", "--history-depth", "0")
    assert pruned["Deleted"] == []
    kept = {k["Version"]: k["PinnedBy"] for k in pruned["Kept"]}
    assert any(p.startswith("deployment d-") for p in kept["2"]), kept
    go.touch()
    wait_for_canary(two)
    two.ok("alias", "update", "prod", "--version", "1", "--routing-config", "{}")
    out, _err = proc.communicate(timeout=30)
    assert json.loads(out)["Status"] == "Stopped"
    assert two.ok("versions", "delete", "2") is None  # no longer a deployment's target


def test_deploy_stop_of_a_running_deployment(two: Fn, background: Callable[..., Any]) -> None:
    proc = background(*CANARY)
    wait_for_canary(two)
    deployment = two.ok("deploy", "status")["DeploymentId"]
    stopped = two.ok("deploy", "stop", deployment)
    assert stopped["Status"] == "Stopped" and stopped["RolledBack"] is True
    assert two.ok("alias", "get", "prod")["FunctionVersion"] == "1"
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and json.loads(out)["Status"] == "Stopped"
    r = two("deploy", "stop", deployment)
    assert r.exit_code == 254 and "has already ended (Stopped)" in r.stderr


def test_a_killed_deployment_is_found_and_stopped(two: Fn, background: Callable[..., Any]) -> None:
    proc = background(*CANARY)
    wait_for_canary(two)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    status = two.ok("deploy", "status")
    assert status["Status"] == "InProgress"
    assert status["Process"]["Running"] is False
    assert "is gone" in status["StatusReason"]
    assert two.ok("deploy", "list")["Deployments"][0]["Process"]["Running"] is False
    stopped = two.ok("deploy", "stop", status["DeploymentId"])
    assert stopped["Status"] == "Stopped" and stopped["RolledBack"] is True
    alias = two.ok("alias", "get", "prod")
    assert alias["FunctionVersion"] == "1" and "RoutingConfig" not in alias
    assert two("fsck").exit_code == 0


def test_ctrl_c_stops_and_rolls_back(two: Fn, background: Callable[..., Any]) -> None:
    proc = background(*CANARY)
    wait_for_canary(two)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert json.loads(out)["Status"] == "Stopped"
    assert "Interrupted" in err
    assert two.ok("alias", "get", "prod")["FunctionVersion"] == "1"
    assert [e["Change"] for e in history(two)] == ["rollback", "deploy", "create"]


def test_stop_no_rollback_leaves_the_alias(two: Fn, background: Callable[..., Any]) -> None:
    proc = background(*CANARY)
    wait_for_canary(two)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    deployment = two.ok("deploy", "status")["DeploymentId"]
    stopped = two.ok("deploy", "stop", deployment, "--no-rollback")
    assert stopped["Status"] == "Stopped" and stopped["RolledBack"] is False
    assert two.ok("alias", "get", "prod")["RoutingConfig"] == {
        "AdditionalVersionWeights": {"2": 0.1}
    }


def test_status_of_nothing(fn: Fn) -> None:
    r = fn("deploy", "status")
    assert r.exit_code == 254 and "No deployment" in r.stderr
    r = fn("deploy", "status", "d-NOSUCH000")
    assert r.exit_code == 254 and "Deployment d-NOSUCH000 does not exist" in r.stderr
    assert fn.ok("deploy", "list") == {"Deployments": []}


def test_help() -> None:
    r = run_cli("deploy", "--help")
    assert r.exit_code == 0 and "deploy start NAME" in r.stdout
    r = run_cli("deploy", "start", "--help")
    assert r.exit_code == 0 and "--hook-timeout" in r.stdout and "Exit statuses" in r.stdout


# --- docs/deploy.md ----------------------------------------------------------------------

DEPLOY_DOC = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"


def _between(begin: str, end: str) -> str:
    text = DEPLOY_DOC.read_text()
    start = text.index(begin)
    return text[text.index("\n", start) + 1 : text.index(end)]


def test_the_recorded_live_view_is_what_the_view_draws() -> None:
    from lambdaver.cli.commands_deploy import render_live_text
    from lambdaver.service.deploy import Progress

    shown = _between("<!-- live-view:begin", "<!-- live-view:end")
    shown = shown.split("```text\n", 1)[1].split("```", 1)[0]
    progress = Progress(
        "d-7ZETUW57K", "shifting", 1, 2, "1", {"2": 0.1}, 3.2,
        [{"Version": "1", "Invocations": 212, "Errors": 0, "DurationP95Ms": 41.0},
         {"Version": "2", "Invocations": 23, "Errors": 0, "DurationP95Ms": 38.0}],
    )  # fmt: skip
    header = "Deployment d-7ZETUW57K: alias prod, version 1 -> 2, Canary10Percent5Minutes, x60"
    drawn = render_live_text(
        header, progress, parse_alarms_for_doc(["error-rate>1%", "p95>800ms"]), width=100
    )
    assert [ln.rstrip() for ln in drawn.splitlines()] == shown.splitlines()


def parse_alarms_for_doc(texts: list[str]) -> Any:
    from lambdaver.model.deploy import parse_alarms

    return parse_alarms(texts)


def test_the_deploy_walkthrough_runs_as_written(tmp_path: Path) -> None:
    import re
    import shlex

    text = _between("<!-- deploy-walkthrough:begin", "<!-- deploy-walkthrough:end")
    steps: list[tuple[str, int, list[str]]] = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = line.strip() == "```console"
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            command, status = line[2:], 0
            m = re.search(r"\s+# exits (\d+)$", command)
            if m:
                command, status = command[: m.start()], int(m.group(1))
            steps.append((command, status, []))
        else:
            steps[-1][2].append(line)
    assert len(steps) > 10
    cwd = tmp_path
    for command, status, expected in steps:
        words = shlex.split(command)
        if words[0] == "cd":
            cwd = cwd / words[1]
            continue
        if words[0] == "lambdaver":
            r = run_cli("-C", str(cwd), *words[1:])
            code, out, err = r.exit_code, r.stdout, r.stderr
        else:
            p = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                               check=False, timeout=60)  # fmt: skip
            code, out, err = p.returncode, p.stdout, p.stderr
        assert code == status, f"$ {command}\nexit {code}\n{err}"
        assert out.splitlines() == expected, f"$ {command}\n{out}"
