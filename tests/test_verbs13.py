"""Issue #13's verbs: diff's exit status, configuration in its patch and an alias's weights;
invoke's OUTFILE that would become code, the payload and empty-qualifier hints, --repeat;
logs --since and --follow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import Fn, run_cli

SCRIPT = Path(sys.executable).parent / "lambdaver"
CMD = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "lambdaver"]


@pytest.fixture
def canary(fn: Fn) -> Fn:
    """Versions 1 and 2 (timeout 10, different code), prod on 1 sending 10% to 2."""
    assert fn.publish() == "1"
    fn.write("app.py", "def handler(event, context):\n    return {'v': 2}\n")
    fn.ok("config", "set", "--timeout", "10")
    assert fn.publish() == "2"
    fn.ok("alias", "create", "prod", "--version", "1", "--weight", "2=0.1")
    return fn


def _journal(fn: Fn) -> list[dict[str, Any]]:
    path = fn.root / ".lambdaver" / "journal" / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- diff ------------------------------------------------------------------------------


def test_diff_exits_0_when_the_sides_differ_and_1_only_with_exit_code(canary: Fn) -> None:
    r = canary("diff", "1", "2", "--query", "Files.Modified", "--output", "text")
    assert (r.exit_code, r.stdout) == (0, "app.py\n")  # a `set -e` script goes on
    assert canary("diff", "1", "2", "--exit-code").exit_code == 1
    assert canary("diff", "2", "--exit-code").exit_code == 0  # $LATEST is version 2


def test_diff_patch_shows_configuration_changes(canary: Fn) -> None:
    canary.ok("config", "set", "--env", "STAGE=dev", "--description", "new")
    patch = canary.ok("diff", "2", "--patch")["Patch"]
    assert patch == (
        "# configuration 2 -> $LATEST\n"
        '# -description = ""\n'
        '# +description = "new"\n'
        '# +environment.STAGE = "dev"\n'
    )
    r = run_cli("-C", str(canary.root), "diff", "1", "2", "--patch", "--output", "text")
    assert r.exit_code == 0
    assert r.stdout.endswith("# configuration 1 -> 2\n# -timeout = 3\n# +timeout = 10\n")


def test_diff_with_a_weighted_alias_shows_the_weights_and_is_not_equal(canary: Fn) -> None:
    r = canary("diff", "1", "prod")
    assert r.exit_code == 0
    assert r.json == {
        "Equal": False,  # prod is version 1 for 90% of its invocations only
        "From": "1",
        "To": "prod",
        "Files": {"Added": [], "Modified": [], "Deleted": []},
        "Configuration": {},
        "Routing": {
            "To": {
                "Alias": "prod",
                "FunctionVersion": "1",
                "AdditionalVersionWeights": {"2": 0.1},
            }
        },
    }
    assert canary("diff", "1", "prod", "--exit-code").exit_code == 1
    patch = canary.ok("diff", "prod", "1", "--patch")["Patch"]
    assert patch == (
        "# routing: prod runs version 1 and sends 10% of its invocations to version 2 (not shown)\n"
    )
    same = canary.ok("diff", "prod", "prod")
    assert same["Equal"] is True
    assert set(same["Routing"]) == {"From", "To"}
    canary.ok("alias", "create", "plain", "--version", "1")
    assert "Routing" not in canary.ok("diff", "1", "plain")
    assert canary.ok("diff", "1", "plain")["Equal"] is True


# --- invoke: OUTFILE, payload, empty qualifiers ------------------------------------------


def test_invoke_outfile_in_the_function_directory_is_written_and_left_out(
    fn: Fn, tmp_path: Path
) -> None:
    """AWS's documented form (``invoke ... response.json``) works, and the response never
    becomes code: its path is added to .lambdaverignore, with a note on stderr."""
    fn.publish()
    ignore_before = (fn.root / ".lambdaverignore").read_text()
    r = fn("invoke", "--qualifier", "1", "--payload", "{}", "response.json")
    assert r.exit_code == 0, r
    assert json.loads((fn.root / "response.json").read_text()) == {"v": 0}
    assert "added /response.json to .lambdaverignore" in r.stderr
    assert (fn.root / ".lambdaverignore").read_text() == ignore_before + "/response.json\n"
    assert fn.ok("status")["Changed"] is False
    # a second time: already left out, nothing more added, no note
    r = fn("invoke", "--payload", "{}", "response.json")
    assert r.exit_code == 0, r
    assert "note" not in r.stderr
    assert (fn.root / ".lambdaverignore").read_text().count("/response.json") == 1
    # in a subdirectory, with a name that is a pattern: escaped, still left out
    sub = fn.root / "out"
    sub.mkdir()
    r = fn("invoke", "--payload", "{}", str(sub / "r[1].json"))
    assert r.exit_code == 0, r
    assert "/out/r\\[1\\].json" in (fn.root / ".lambdaverignore").read_text()
    assert fn.ok("status")["Changed"] is False
    # elsewhere: written, the ignore file untouched
    out = tmp_path / "response.json"
    before = (fn.root / ".lambdaverignore").read_text()
    assert fn("invoke", "--payload", "{}", str(out)).exit_code == 0
    assert json.loads(out.read_text()) == {"v": 0}
    assert (fn.root / ".lambdaverignore").read_text() == before


def test_invoke_refuses_an_outfile_that_is_code(fn: Fn) -> None:
    fn.publish()
    before = (fn.root / "app.py").read_bytes()
    r = fn("invoke", "--payload", "{}", "app.py")
    assert r.exit_code == 254, r
    assert "Cannot write app.py: it is a file of $LATEST's code" in r.stderr
    assert (fn.root / "app.py").read_bytes() == before
    assert "/app.py" not in (fn.root / ".lambdaverignore").read_text()


def test_payload_naming_a_file_says_to_write_file_prefix(fn: Fn, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")
    r = fn("invoke", "--payload", str(event))
    assert r.exit_code == 254
    assert r.stderr.startswith(
        "An error occurred (InvalidRequestContentException) when calling the Invoke "
        "operation: Could not parse request body into json"
    )
    assert f"to read the file, write --payload file://{event}" in r.stderr
    r = fn("invoke", "--payload", "not-a-file")  # no such file: no hint
    assert r.exit_code == 254 and "file://" not in r.stderr
    assert fn("invoke", "--payload", f"file://{event}").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["invoke", "--qualifier"],
        ["alias", "create", "prod", "--version"],
        ["alias", "create", "prod", "--version", "--description", "x"],
        ["create-alias", "--name", "prod", "--function-version"],
        ["config", "show", "--qualifier"],
    ],
)
def test_unquoted_latest_that_the_shell_removed_says_to_quote_it(fn: Fn, args: list[str]) -> None:
    r = fn(*args)
    assert r.exit_code == 2, r
    option = next(a for a in args if a in ("--qualifier", "--version", "--function-version"))
    assert "requires an argument" in r.stderr
    assert f"if you wrote {option} $LATEST, the shell replaced $LATEST with nothing" in r.stderr
    assert f"{option} '$LATEST'" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["invoke", "--qualifier", ""],
        ["alias", "create", "prod", "--version", ""],
        ["logs", "--qualifier", ""],
    ],
)
def test_empty_latest_from_double_quotes_says_to_quote_it(fn: Fn, args: list[str]) -> None:
    r = fn(*args)
    assert r.exit_code == 254, r
    assert "(ValidationException)" in r.stderr
    assert "Member must have length greater than or equal to 1" in r.stderr
    assert "'$LATEST'" in r.stderr
    assert fn("alias", "create", "prod", "--version", "$LATEST").exit_code == 0


# --- invoke --repeat -------------------------------------------------------------------


def test_repeat_counts_versions_and_journals_each_invocation(canary: Fn) -> None:
    before = len(_journal(canary))
    r = canary("invoke", "--qualifier", "prod", "--repeat", "20")
    assert r.exit_code == 0, r
    out = r.json
    assert set(out) == {"Invocations", "Versions", "FunctionErrors"}
    assert out["Invocations"] == 20 and out["FunctionErrors"] == 0
    assert set(out["Versions"]) <= {"1", "2"} and sum(out["Versions"].values()) == 20
    entries = _journal(canary)[before:]
    assert len(entries) == 20
    assert all(e["Qualifier"] == "prod" for e in entries)
    ran = {v: sum(e["ExecutedVersion"] == v for e in entries) for v in out["Versions"]}
    assert ran == out["Versions"]
    r = run_cli(
        "-C", str(canary.root), "invoke", "--qualifier", "1", "--repeat", "3", "--output", "text"
    )
    assert r.stdout.splitlines()[0] == "0\t3"
    assert r.stdout.splitlines()[1] == "VERSIONS\t3"


def test_repeat_exits_1_when_any_failed_and_refuses_outfile(fn: Fn) -> None:
    fn.write("app.py", "def handler(event, context):\n    raise ValueError(event['x'])\n")
    r = fn("invoke", "--repeat", "3", "--payload", '{"x": 1}')
    assert r.exit_code == 1, r
    assert r.json == {"Invocations": 3, "Versions": {"$LATEST": 3}, "FunctionErrors": 3}
    r = fn("invoke", "--repeat", "3", "out.json")
    assert r.exit_code == 2 and "leave out OUTFILE" in r.stderr
    assert fn("invoke", "--repeat", "0").exit_code == 2
    assert fn("invoke", "--repeat", "2", "--invocation-type", "DryRun").exit_code == 2


def test_repeat_interrupted_exits_130_with_whole_journal_entries(fn: Fn) -> None:
    fn.write("app.py", "import time\ndef handler(event, context):\n    time.sleep(0.2)\n")
    p = subprocess.Popen(
        [*CMD, "-C", str(fn.root), "--output", "json", "invoke", "--repeat", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_journal(fn)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_journal(fn)) >= 2
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, err
    assert out == ""  # no summary of a run cut short
    assert err.strip().endswith("Interrupted.")
    entries = _journal(fn)  # every line whole (json.loads above would fail otherwise)
    assert 2 <= len(entries) < 200
    assert all(e["ExecutedVersion"] == "$LATEST" for e in entries)


# --- logs --since, --follow ------------------------------------------------------------


def test_logs_since_keeps_recent_entries(fn: Fn) -> None:
    from lambdaver.runtime.journal import Journal

    journal = Journal(fn.root / ".lambdaver" / "journal")
    old = {"RequestId": "old", "Time": "2020-01-01T00:00:00.000+0000", "ExecutedVersion": "1"}
    journal.append({**old, "Qualifier": None, "Log": "old\n"})
    fn.ok("invoke")
    recent = [e["RequestId"] for e in fn.ok("logs", "--since", "10m")["Events"]]
    assert len(recent) == 1 and "old" not in recent
    assert len(fn.ok("logs", "--since", "1d")["Events"]) == 1
    assert len(fn.ok("logs")["Events"]) == 2
    assert len(fn.ok("logs", "--since", "3650d")["Events"]) == 2
    assert len(fn.ok("logs", "--since", "1h30m")["Events"]) == 1


@pytest.mark.parametrize("bad", ["10", "10x", "m", "-5m", "1.5h", ""])
def test_logs_since_refuses_a_bad_duration(fn: Fn, bad: str) -> None:
    r = fn("logs", "--since", bad)
    assert r.exit_code == 2, r
    assert "30s, 10m, 2h, 1d" in r.stderr


def _reader(stream: Any, lines: list[str]) -> threading.Thread:
    def read() -> None:
        for line in stream:
            lines.append(line)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


def _wait_for(lines: list[str], text: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in "".join(lines):
            return True
        time.sleep(0.05)
    return False


def test_logs_follow_prints_new_invocations_until_interrupted(fn: Fn) -> None:
    fn.write("app.py", "def handler(event, context):\n    print('said', event)\n")
    fn.ok("invoke", "--payload", '"first"')
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(
        [*CMD, "-C", str(fn.root), "--output", "json", "logs", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        reader = _reader(p.stdout, lines)
        assert _wait_for(lines, "said first", 30), lines
        fn.ok("invoke", "--payload", '"second"')
        fn.ok("invoke", "--qualifier", "$LATEST", "--payload", '"third"')
        assert _wait_for(lines, "said third", 30), lines
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()
    assert p.returncode == 130
    text = "".join(lines)
    assert text.count("said first") == 1 and text.count("said second") == 1
    assert text.index("said first") < text.index("said second") < text.index("said third")
    # each batch is a JSON document {"Events": [...]}
    docs = []
    decoder = json.JSONDecoder()
    pos = 0
    while pos < len(text.strip()):
        doc, end = decoder.raw_decode(text, pos)
        docs.append(doc)
        pos = end + 1
    assert all(set(d) == {"Events"} for d in docs) and len(docs) >= 2


def _next_within(batches: Any, seconds: float) -> Any:
    """The generator's next batch, or a failure after ``seconds`` (follow_logs never
    ends: a missed entry would otherwise hang the test)."""
    import queue

    got: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=lambda: got.put(next(batches)), daemon=True).start()
    try:
        return got.get(timeout=seconds)
    except queue.Empty:
        pytest.fail(f"no batch within {seconds} s")


def test_logs_follow_survives_a_journal_rotation(fn: Fn) -> None:
    from lambdaver.runtime.journal import Journal
    from lambdaver.service import invoke as svc
    from lambdaver.service.repository import Repository

    follow = svc.follow_logs(Repository.discover(fn.root), poll_seconds=0.01)
    assert _next_within(follow, 30) == []
    small = Journal(fn.root / ".lambdaver" / "journal", max_bytes=200, keep=2)

    def add(request_id: str, size: int) -> None:
        small.append({"RequestId": request_id, "Time": "2026-01-01T00:00:00.000+0000",
                      "Log": "x" * size})  # fmt: skip

    add("a", 300)  # created and rotated at once
    assert [e["RequestId"] for e in _next_within(follow, 30)] == ["a"]
    add("b", 1)
    assert [e["RequestId"] for e in _next_within(follow, 30)] == ["b"]
    add("c", 300)  # b and c rotated together: c is read from the rotated file
    add("d", 1)
    seen: list[str] = []
    while len(seen) < 2:  # one batch or two, depending on when the poll falls
        seen += [e["RequestId"] for e in _next_within(follow, 30)]
    assert seen == ["c", "d"]
