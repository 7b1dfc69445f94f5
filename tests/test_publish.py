"""publish / publish-version, status, and the rules of versions."""

from __future__ import annotations

import base64
import re

from conftest import Fn

AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_first_publish_is_version_1_with_aws_fields(fn: Fn) -> None:
    out = fn.ok("publish", "--description", "first")
    assert out["Version"] == "1"
    assert out["FunctionName"] == "hello"
    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:hello:1"
    assert out["Description"] == "first"
    assert out["Runtime"].startswith("python3.")
    assert out["Handler"] == "app.handler"
    assert (out["MemorySize"], out["Timeout"]) == (128, 3)
    assert AWS_TIME.match(out["LastModified"])
    assert UUID.match(out["RevisionId"])
    assert len(base64.b64decode(out["CodeSha256"])) == 32
    assert out["CodeSize"] == len((fn.root / "app.py").read_bytes())
    assert "Environment" not in out


def test_unchanged_publish_returns_newest_and_ignores_description(fn: Fn, unchanged) -> None:
    first = fn.ok("publish", "--description", "first")
    with unchanged(fn.root):
        again = fn.ok("publish", "--description", "other")
    assert again == first


def test_code_change_publishes_next_number(fn: Fn) -> None:
    assert fn.publish() == "1"
    assert fn.publish(**{"app.py": "def handler(e, c):\n    return 2\n"}) == "2"
    assert fn.publish(**{"lib/util.py": "X = 1\n"}) == "3"


def test_configuration_change_alone_publishes(fn: Fn) -> None:
    fn.publish()
    fn.ok("config", "set", "--description", "now described")
    out = fn.ok("publish")
    assert out["Version"] == "2"
    assert out["Description"] == "now described"  # copied from $LATEST


def test_version_description_does_not_change_latest(fn: Fn) -> None:
    fn.ok("publish", "--description", "v1 notes")
    assert fn.ok("config", "show")["Description"] == ""


def test_numbers_never_reused_after_delete(fn: Fn) -> None:
    fn.publish()
    fn.publish(**{"app.py": "# 2\n"})
    fn.ok("versions", "delete", "2")
    # $LATEST equals the deleted newest: a new number is published, never 2 again
    assert fn.publish() == "3"
    assert [v["Version"] for v in fn.ok("versions", "list")["Versions"]] == ["$LATEST", "1", "3"]


def test_published_version_is_immutable(fn: Fn) -> None:
    fn.publish()
    v1 = fn.ok("config", "show", "--qualifier", "1")
    fn.write("app.py", "changed = True\n")
    fn.ok("config", "set", "--memory-size", "512", "--env", "STAGE=prod")
    assert fn.ok("config", "show", "--qualifier", "1") == v1
    files = fn.ok("versions", "show", "1")["Files"]
    assert [f["Path"] for f in files] == ["app.py"]


def test_revision_id_makes_publish_conditional(fn: Fn, unchanged) -> None:
    rev = fn.ok("config", "show")["RevisionId"]
    fn.write("app.py", "# edited after reading the revision\n")
    with unchanged(fn.root / ".lambdaver"):
        r = fn("publish", "--revision-id", rev)
    assert r.exit_code == 254
    assert r.stderr == (
        "An error occurred (PreconditionFailedException) when calling the PublishVersion "
        "operation: The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id\n"
    )
    rev = fn.ok("config", "show")["RevisionId"]
    assert fn.ok("publish", "--revision-id", rev)["Version"] == "1"


def test_latest_revision_changes_with_publish_and_content(fn: Fn) -> None:
    r0 = fn.ok("config", "show")["RevisionId"]
    assert fn.ok("config", "show")["RevisionId"] == r0  # stable while nothing changes
    fn.publish()
    r1 = fn.ok("config", "show")["RevisionId"]
    assert r1 != r0
    fn.write("app.py", "# new\n")
    assert fn.ok("config", "show")["RevisionId"] != r1


def test_code_sha256_precondition(fn: Fn, unchanged) -> None:
    sha = fn.ok("config", "show")["CodeSha256"]
    with unchanged(fn.root / ".lambdaver"):
        r = fn("publish-version", "--code-sha256", "bm9wZQ==")
    assert r.exit_code == 254
    assert r.stderr.startswith(
        "An error occurred (InvalidParameterValueException) when calling the PublishVersion "
        "operation: CodeSHA256 (bm9wZQ==) is different from current CodeSHA256 in $LATEST ("
    )
    assert fn.ok("publish-version", "--code-sha256", sha)["CodeSha256"] == sha


def test_description_too_long_is_refused(fn: Fn, unchanged) -> None:
    with unchanged(fn.root):
        r = fn("publish", "--description", "x" * 257)
    assert r.exit_code == 254
    assert "Member must have length less than or equal to 256" in r.stderr


def test_publish_with_qualified_function_name_is_refused(fn: Fn) -> None:
    r = fn("publish", "--function-name", "hello:1")
    assert r.exit_code == 254
    assert "(InvalidParameterValueException)" in r.stderr


def test_blobs_are_stored_once_across_versions(fn: Fn) -> None:
    big = "x" * 100_000
    fn.publish(**{"data.txt": big})
    objects = fn.root / ".lambdaver" / "objects"
    before = sum(1 for p in objects.rglob("*") if p.is_file())
    fn.publish(**{"app.py": "# only this changed\n"})
    after = sum(1 for p in objects.rglob("*") if p.is_file())
    # one new blob, one new tree, one configuration (unchanged: shared), one version record
    assert after - before == 3


def test_objects_are_read_only(fn: Fn) -> None:
    fn.publish()
    for p in (fn.root / ".lambdaver" / "objects").rglob("*"):
        if p.is_file():
            assert p.stat().st_mode & 0o222 == 0, p


# --- status ---------------------------------------------------------------------------


def test_status_before_first_publish_lists_every_file(fn: Fn) -> None:
    fn.write("lib/a.py", "A = 1\n")
    out = fn.ok("status")
    assert out["Changed"] is True
    assert out["Files"]["Added"] == ["app.py", "lib/a.py"]
    assert out["Configuration"]["MemorySize"] == [None, 128]


def test_status_reports_files_and_configuration(fn: Fn) -> None:
    fn.write("gone.py", "x = 1\n")
    fn.publish()
    assert fn.ok("status")["Changed"] is False
    fn.write("app.py", "# modified\n")
    fn.write("new.py", "# added\n")
    (fn.root / "gone.py").unlink()
    fn.ok("config", "set", "--timeout", "30", "--env", "STAGE=dev")
    out = fn.ok("status")
    assert out["Changed"] is True
    assert out["Version"] == "1"
    assert out["Files"] == {"Added": ["new.py"], "Modified": ["app.py"], "Deleted": ["gone.py"]}
    assert out["Configuration"] == {
        "Environment": [None, {"Variables": {"STAGE": "dev"}}],
        "Timeout": [3, 30],
    }


def test_status_sees_executable_bit(fn: Fn) -> None:
    fn.publish()
    (fn.root / "app.py").chmod(0o755)
    assert fn.ok("status")["Files"]["Modified"] == ["app.py"]
    assert fn.publish() == "2"
    modes = {f["Path"]: f["Mode"] for f in fn.ok("versions", "show", "2")["Files"]}
    assert modes == {"app.py": "100755"}


def test_status_text_output_for_scripts(fn: Fn) -> None:
    fn.publish()
    from conftest import run_cli

    r = run_cli("-C", str(fn.root), "status", "--query", "Changed", "--output", "text")
    assert (r.exit_code, r.stdout) == (0, "False\n")


def test_no_progress_output_on_a_pipe(fn: Fn) -> None:
    fn.write("big.bin", "x" * 3_000_000)
    r = fn("publish")
    assert (r.exit_code, r.stderr) == (0, "")


def test_progress_bar_on_a_terminal_after_half_a_second(monkeypatch) -> None:
    import io

    from lambdaver.cli import commands_functions

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr("sys.stderr", err)
    ticks = iter([100.0, 100.1, 100.7])  # start, then 0.1 s, then 0.7 s in
    monkeypatch.setattr(commands_functions.time, "monotonic", lambda: next(ticks, 101.0))
    progress, close = commands_functions._progress_reporter()
    assert progress is not None
    progress(100, 1000)  # 0.1 s in: nothing yet
    assert err.getvalue() == ""
    progress(400, 1000)  # past half a second: the bar appears
    close()
    assert "publishing" in err.getvalue()
