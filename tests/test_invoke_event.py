"""invoke --invocation-type Event: 202 at once, the function run by a detached background
worker, its result in `logs`, failed events retried twice, refusals synchronous, and
queued events never lost (docs/cli.md, "invoke"; docs/runtime.md, "Event invocations")."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Fn, run_cli, run_subprocess

HANDLER = """\
import os, time

def handler(event, context):
    gate = event.get("gate")
    if gate:  # wait until the test opens the gate
        end = time.time() + 10
        while not os.path.exists(gate) and time.time() < end:
            time.sleep(0.02)
    counter = event.get("counter")
    if counter:  # count the attempts in a file; fail the first fail_times of them
        n = int(open(counter).read()) if os.path.exists(counter) else 0
        with open(counter, "w") as f:
            f.write(str(n + 1))
        if n < event.get("fail_times", 0):
            raise RuntimeError(f"attempt {n + 1} fails")
    if event.get("fail"):
        raise ValueError("boom")
    print("ran", context.function_version)
    return {"tag": TAG, "version": context.function_version, "event": event}
"""


def code(tag: str) -> str:
    return f"TAG = {tag!r}\n" + HANDLER


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line names ``text`` (the workers of the test's repository,
    and the function processes they fork, which keep their command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry))
    return found


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[], list[int]]]:
    """The background processes of this test's repositories; killed (their process
    groups too) at the end of the test, whatever happened."""
    marker = str(tmp_path)

    def alive() -> list[int]:
        return _processes_mentioning(marker)

    yield alive
    for _ in range(50):
        pids = alive()
        if not pids:
            return
        for pid in pids:
            for kill, target in ((os.killpg, pid), (os.kill, pid)):
                try:
                    kill(target, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        time.sleep(0.05)


@pytest.fixture
def efn(fn: Fn, workers: Callable[[], list[int]], monkeypatch: pytest.MonkeyPatch) -> Fn:
    """The function with the test handler, a 15 s timeout and a short retry delay."""
    monkeypatch.setenv("LAMBDAVER_EVENT_RETRY_DELAY", "0.1")
    fn.ok("config", "set", "--timeout", "15")
    fn.write("app.py", code("latest"))
    return fn


@pytest.fixture
def no_worker(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``with no_worker(): ...``: Event invocations whose worker cannot be started."""

    def cannot_start(*args: Any, **kwargs: Any) -> int:
        raise OSError("no processes left")

    @contextlib.contextmanager
    def context() -> Iterator[None]:
        with monkeypatch.context() as m:
            m.setattr("lambdaver.runtime.background.spawn_detached", cannot_start)
            yield

    return context


def queued(fn: Fn) -> list[str]:
    d = fn.root / ".lambdaver" / "events"
    return sorted(p.name for p in d.glob("*.event")) if d.is_dir() else []


def event_entries(fn: Fn) -> list[dict[str, Any]]:
    return [e for e in fn.ok("logs")["Events"] if e.get("InvocationType") == "Event"]


def wait_for(
    fn: Fn, workers: Callable[[], list[int]], count: int, deadline: float = 20.0
) -> list[dict[str, Any]]:
    """The Event entries of the journal, once there are ``count`` of them and the queue
    is empty and every worker gone (polled; fails after ``deadline`` seconds)."""
    end = time.monotonic() + deadline
    while True:
        entries = event_entries(fn)
        if len(entries) >= count and not queued(fn) and not workers():
            return entries
        assert time.monotonic() < end, (entries, queued(fn), workers())
        time.sleep(0.05)


def event(fn: Fn, *args: str, payload: dict[str, Any] | None = None) -> Any:
    out = fn.root.parent / "out.json"
    r = fn(
        "invoke", "--invocation-type", "Event", "--payload", json.dumps(payload or {}),
        *args, str(out),
    )  # fmt: skip
    assert r.exit_code == 0, r
    assert out.read_bytes() == b""  # written empty, as the aws CLI writes it
    return r.json


def test_event_answers_202_before_the_function_ends_and_logs_keep_its_result(
    efn: Fn, workers: Callable[[], list[int]], tmp_path: Path
) -> None:
    """Run like a shell script: the command returns (its pipes closed: the worker holds
    none of them) while the handler still waits at its gate."""
    gate = tmp_path / "gate"
    out = tmp_path / "out.json"
    payload = json.dumps({"gate": str(gate), "n": 1})
    r = run_subprocess(
        "invoke", "--invocation-type", "Event", "--payload", payload, str(out), cwd=efn.root
    )
    assert r.returncode == 0, r
    assert json.loads(r.stdout) == {"StatusCode": 202}
    assert r.stderr == ""
    assert out.read_bytes() == b""
    assert event_entries(efn) == []  # still waiting at the gate
    assert workers()  # running in the background
    gate.touch()
    [entry] = wait_for(efn, workers, 1)
    assert entry["ExecutedVersion"] == "$LATEST"
    assert entry["Attempt"] == 1
    assert entry["Qualifier"] is None
    assert entry["ErrorType"] is None
    assert entry["Response"] == {
        "tag": "latest",
        "version": "$LATEST",
        "event": {"gate": str(gate), "n": 1},
    }
    assert "ran $LATEST" in entry["Log"]
    assert entry["Log"].startswith(f"START RequestId: {entry['RequestId']} Version: $LATEST")


def test_event_through_an_alias_logs_the_version_that_ran(
    efn: Fn, workers: Callable[[], list[int]]
) -> None:
    efn.publish(**{"app.py": code("one")})
    efn.ok("alias", "create", "live", "--version", "1")
    r = efn("invoke", "--invocation-type", "Event", "--qualifier", "live", "--log-type", "Tail")
    assert r.exit_code == 0, r
    assert json.loads(r.stderr) == {"StatusCode": 202}  # no LogResult: Event is async
    assert r.stdout == ""
    [entry] = wait_for(efn, workers, 1)
    assert (entry["Qualifier"], entry["ExecutedVersion"]) == ("live", "1")
    assert entry["Response"]["tag"] == "one"
    assert efn.ok("logs", "--qualifier", "live")["Events"] == [entry]


def test_an_event_gets_no_client_context(efn: Fn, workers: Callable[[], list[int]]) -> None:
    """AWS passes the client context to synchronous invocations only: checked, then left
    out of the queued event."""
    efn.write("app.py", "def handler(e, c):\n    return repr(c.client_context)\n")
    given = base64.b64encode(b'{"custom": {"a": 1}}').decode()
    event(efn, "--client-context", given)
    [entry] = wait_for(efn, workers, 1)
    assert (entry["ErrorType"], entry["Response"]) == (None, "None")
    r = efn("invoke", "--client-context", given, "-")  # a sync invoke gets it
    assert r.stdout == "\"ClientContext([custom={'a': 1},env=None,client=None])\"\n", r


def test_the_version_is_chosen_when_the_event_runs_and_orphans_are_taken_up(
    efn: Fn, workers: Callable[[], list[int]], no_worker: Any
) -> None:
    """A worker that could not be started leaves the event queued (with a warning); the
    next accepted event's worker runs it, resolving the alias at that moment."""
    efn.publish(**{"app.py": code("one")})
    efn.publish(**{"app.py": code("two")})
    efn.ok("alias", "create", "live", "--version", "1")
    with no_worker():
        r = efn("invoke", "--invocation-type", "Event", "--qualifier", "live",
                "--payload", '{"first": true}', str(efn.root.parent / "out.json"))  # fmt: skip
    assert r.exit_code == 0, r
    assert r.json == {"StatusCode": 202}
    assert r.stderr == (
        "lambdaver: warning: the background worker could not be started (no processes left): "
        "the event stays queued in .lambdaver/events/ and runs when the next Event "
        "invocation is accepted\n"
    )
    assert len(queued(efn)) == 1
    efn.ok("alias", "update", "live", "--version", "2")
    event(efn, "--qualifier", "live", payload={"second": True})
    entries = wait_for(efn, workers, 2)
    assert sorted((e["Response"]["event"] == {"first": True}, e["ExecutedVersion"])
                  for e in entries) == [(False, "2"), (True, "2")]  # fmt: skip


def test_a_failed_event_is_retried_twice(
    efn: Fn, workers: Callable[[], list[int]], tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    event(efn, payload={"counter": str(counter), "fail_times": 5})
    entries = wait_for(efn, workers, 3)
    assert [e["Attempt"] for e in entries] == [1, 2, 3]
    assert {e["ErrorType"] for e in entries} == {"RuntimeError"}
    assert len({e["RequestId"] for e in entries}) == 1  # one event, three attempts
    assert entries[0]["Response"]["errorMessage"] == "attempt 1 fails"
    assert counter.read_text() == "3"
    assert len(event_entries(efn)) == 3  # and no fourth


def test_an_event_that_succeeds_on_retry_stops_there(
    efn: Fn, workers: Callable[[], list[int]], tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    event(efn, payload={"counter": str(counter), "fail_times": 1})
    entries = wait_for(efn, workers, 2)
    assert [(e["Attempt"], e["ErrorType"]) for e in entries] == [(1, "RuntimeError"), (2, None)]
    assert counter.read_text() == "2"


def test_an_event_whose_alias_is_gone_when_it_runs_is_logged_not_retried(
    efn: Fn, workers: Callable[[], list[int]], no_worker: Any
) -> None:
    efn.publish()
    efn.ok("alias", "create", "gone", "--version", "1")
    with no_worker():
        assert efn("invoke", "--invocation-type", "Event", "--qualifier", "gone").exit_code == 0
    assert len(queued(efn)) == 1
    efn.ok("alias", "delete", "gone")
    event(efn)  # its worker takes the orphan too
    entries = wait_for(efn, workers, 2)
    gone = [e for e in entries if e["Qualifier"] == "gone"]
    assert len(gone) == 1
    assert gone[0]["ErrorType"] == "ResourceNotFoundException"
    assert gone[0]["ExecutedVersion"] is None
    assert (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:gone"
        in (gone[0]["Log"])
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--qualifier", "7"],
            "An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:7",
        ),
        (
            ["--qualifier", "nope"],
            "An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:nope",
        ),
        (
            ["--payload", "{not json"],
            "An error occurred (InvalidRequestContentException) when calling the Invoke "
            "operation: Could not parse request body into json: Could not parse payload into "
            "json: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (
            ["--payload", json.dumps({"k": "x" * 1_048_576})],
            "An error occurred (RequestEntityTooLargeException) when calling the Invoke "
            "operation: 1048585 byte payload is too large for the Event invocation type "
            "(limit 1048576 bytes)",
        ),
    ],
)
def test_refusals_are_synchronous_and_queue_nothing(
    efn: Fn, workers: Callable[[], list[int]], unchanged: Any, args: list[str], message: str
) -> None:
    efn.publish()
    with unchanged(efn.root):
        r = efn("invoke", "--invocation-type", "Event", *args)
    assert r.exit_code == 254, r
    assert r.stderr.strip() == message
    assert r.stdout == ""
    assert not (efn.root / ".lambdaver" / "events").exists()
    assert workers() == []


def test_a_sync_payload_over_1_mb_is_still_fine(efn: Fn) -> None:
    big = json.dumps({"k": "x" * 1_048_576})
    r = efn("invoke", "--payload", big, str(efn.root.parent / "out.json"))
    assert r.exit_code == 0, r


def test_repeat_cannot_queue_events(efn: Fn) -> None:
    r = efn("invoke", "--invocation-type", "Event", "--repeat", "3")
    assert r.exit_code == 2
    assert "--repeat counts the versions that ran: it cannot be an Event invocation" in r.stderr


def test_a_killed_worker_leaves_its_event_queued_and_the_next_worker_finishes_it(
    efn: Fn, workers: Callable[[], list[int]], tmp_path: Path
) -> None:
    """SIGTERM stops the worker as Ctrl-C stops an invoke (the function's process dies
    with it); the event stays queued and runs again with the next accepted event."""
    gate = tmp_path / "gate"
    event(efn, payload={"gate": str(gate), "killed": True})
    end = time.monotonic() + 10
    while len(workers()) < 2:  # the worker and the function's process it forked
        assert time.monotonic() < end
        time.sleep(0.02)
    [worker] = [p for p in workers() if _parent(p) not in workers()]  # not the function
    os.kill(worker, signal.SIGTERM)
    while workers():
        assert time.monotonic() < end, workers()
        time.sleep(0.02)
    assert len(queued(efn)) == 1
    assert event_entries(efn) == []
    gate.touch()
    event(efn, payload={"after": True})
    entries = wait_for(efn, workers, 2)
    assert sorted(json.dumps(e["Response"]["event"], sort_keys=True) for e in entries) == [
        '{"after": true}',
        json.dumps({"gate": str(gate), "killed": True}, sort_keys=True),
    ]


def test_the_worker_can_be_run_by_hand_on_orphans(
    efn: Fn, workers: Callable[[], list[int]], no_worker: Any
) -> None:
    """`python -m lambdaver.service.event_worker ROOT` runs every queued event (what a
    machine that rebooted with events queued needs, if no new event comes)."""
    import subprocess
    import sys

    with no_worker():
        efn("invoke", "--invocation-type", "Event")
        efn("invoke", "--invocation-type", "Event", "--payload", '{"fail": true}')
    assert len(queued(efn)) == 2
    done = subprocess.run(
        [sys.executable, "-m", "lambdaver.service.event_worker", str(efn.root)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "LAMBDAVER_EVENT_RETRY_DELAY": "0"},
    )  # fmt: skip
    assert done.returncode == 0, done
    entries = wait_for(efn, workers, 4)
    assert sorted((e["ErrorType"] or "", e["Attempt"]) for e in entries) == [
        ("", 1), ("ValueError", 1), ("ValueError", 2), ("ValueError", 3),
    ]  # fmt: skip


def test_event_invocations_count_in_metrics(efn: Fn, workers: Callable[[], list[int]]) -> None:
    event(efn)
    wait_for(efn, workers, 1)
    [m] = efn.ok("metrics")["Metrics"]
    assert (m["Version"], m["Invocations"]) == ("$LATEST", 1)


def test_sync_entries_say_their_invocation_type(efn: Fn) -> None:
    r = run_cli("-C", str(efn.root), "invoke", str(efn.root.parent / "o.json"))
    assert r.exit_code == 0, r
    [entry] = efn.ok("logs")["Events"]
    assert entry["InvocationType"] == "RequestResponse"
    assert "Attempt" not in entry


def test_a_timed_out_event_is_retried_too(efn: Fn, workers: Callable[[], list[int]]) -> None:
    efn.ok("config", "set", "--timeout", "1")
    efn.write("app.py", "import time\ndef handler(event, context):\n    time.sleep(5)\n")
    event(efn)
    entries = wait_for(efn, workers, 3)
    assert [(e["Attempt"], e["ErrorType"]) for e in entries] == [
        (1, "Sandbox.Timedout"), (2, "Sandbox.Timedout"), (3, "Sandbox.Timedout"),
    ]  # fmt: skip
    assert entries[2]["Response"]["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_the_worker_is_outside_the_commands_process_group(
    efn: Fn, workers: Callable[[], list[int]], tmp_path: Path
) -> None:
    """Ctrl-C or a hang-up sent to the command's process group (a terminal's job, make's
    children) cannot reach the worker: once the command has exited the group is empty."""
    import subprocess
    import sys

    from conftest import LAMBDAVER_SCRIPT

    gate = tmp_path / "gate"
    payload = json.dumps({"gate": str(gate)})
    cmd = (
        [str(LAMBDAVER_SCRIPT)]
        if LAMBDAVER_SCRIPT.exists()
        else [sys.executable, "-m", "lambdaver"]
    )
    proc = subprocess.Popen(
        [*cmd, "invoke", "--invocation-type", "Event", "--payload", payload, str(tmp_path / "o")],
        cwd=efn.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert json.loads(out) == {"StatusCode": 202}
    assert workers()
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    gate.touch()
    [entry] = wait_for(efn, workers, 1)
    assert entry["ErrorType"] is None
