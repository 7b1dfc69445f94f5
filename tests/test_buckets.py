"""Buckets: a local folder whose changes invoke an alias with S3 event records."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from lambdaver.service import buckets
from lambdaver.service.repository import Repository

from conftest import Fn

ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"
ECHO = (
    "import json\ndef handler(event, context):\n"
    "    print(json.dumps(event))\n    return {'v': VERSION}\n"
)


@pytest.fixture
def prod(fn: Fn, tmp_path: Path) -> Fn:
    """hello with versions 1 and 2, alias prod -> 1, bucket ``uploads`` in tmp/up."""
    fn.publish(**{"app.py": ECHO.replace("VERSION", "1")})
    fn.publish(**{"app.py": ECHO.replace("VERSION", "2")})
    fn.ok("alias", "create", "prod", "--version", "1")
    fn.ok("bucket", "create", "uploads", "--path", str(tmp_path / "up"))
    return fn


def _allow(fn: Fn, qualifier: str = "prod", bucket: str = "uploads") -> None:
    fn.ok("add-permission", "--statement-id", f"s3-{bucket}", "--action",
          "lambda:InvokeFunction", "--principal", "s3.amazonaws.com",
          "--source-arn", f"arn:aws:s3:::{bucket}", "--qualifier", qualifier)  # fmt: skip


def _notify(fn: Fn, *extra: str, qualifier: str = "prod") -> Any:
    return fn.ok("bucket", "notify", "uploads", "--function-arn", f"{ARN}:{qualifier}", *extra)


def _records(fn: Fn) -> list[dict[str, Any]]:
    """The S3 records the function printed."""
    out = []
    for entry in fn.ok("logs")["Events"]:
        if entry.get("Trigger") == "bucket:uploads":
            (record,) = json.loads(entry["Log"].splitlines()[1])["Records"]
            out.append(record)
    return out


def _sync(fn: Fn) -> list[dict[str, Any]]:
    return list(fn.ok("bucket", "sync")["Deliveries"])


def test_create_list_delete(prod: Fn, tmp_path: Path) -> None:
    assert (tmp_path / "up").is_dir()
    (row,) = prod.ok("bucket", "list")["Buckets"]
    assert row["Name"] == "uploads"
    assert row["Path"] == str((tmp_path / "up").resolve())
    assert row["Notifications"] == 0
    r = prod("bucket", "create", "uploads", "--path", str(tmp_path / "other"))
    assert r.exit_code == 254
    assert "(BucketAlreadyOwnedByYou) when calling the CreateBucket operation" in r.stderr
    (tmp_path / "up" / "keep.txt").write_text("x")
    assert prod("bucket", "delete", "uploads").exit_code == 0
    assert prod.ok("bucket", "list") == {"Buckets": []}
    assert (tmp_path / "up" / "keep.txt").read_text() == "x"  # the folder stays
    r = prod("bucket", "delete", "uploads")
    assert r.exit_code == 254
    assert "(NoSuchBucket) when calling the DeleteBucket operation: " in r.stderr
    assert "The specified bucket does not exist" in r.stderr


@pytest.mark.parametrize(
    "name",
    ["ab", "UPPER", "has_underscore", "-dash", "dash-", "two..dots", "192.168.1.1",
     "xn--punycode", "name-s3alias", "a" * 64, "dot.-dash"],
)  # fmt: skip
def test_s3_bucket_naming_rules(fn: Fn, tmp_path: Path, unchanged, name: str) -> None:
    with unchanged(fn.root):
        r = fn("bucket", "create", "--path", str(tmp_path / "b"), "--", name)
    assert r.exit_code == 254
    assert r.stderr == (
        "An error occurred (InvalidBucketName) when calling the CreateBucket operation: "
        "The specified bucket is not valid.\n"
    )


def test_notify_is_refused_without_a_permission_as_s3_refuses_it(prod: Fn, unchanged) -> None:
    with unchanged(prod.root):
        r = prod("bucket", "notify", "uploads", "--function-arn", f"{ARN}:prod")
    assert r.exit_code == 254
    assert r.stderr.startswith(
        "An error occurred (InvalidArgument) when calling the PutBucketNotificationConfiguration "
        "operation: Unable to validate the following destination configurations"
    )
    assert f"Not authorized to invoke function [{ARN}:prod]" in r.stderr
    assert "--principal s3.amazonaws.com" in r.stderr  # says how to fix it
    _allow(prod, "1")  # a permission on another qualifier does not count
    r = prod("bucket", "notify", "uploads", "--function-arn", f"{ARN}:prod")
    assert r.exit_code == 254
    _allow(prod)
    out = _notify(prod, "--id", "all")
    assert out == {
        "LambdaFunctionConfigurations": [
            {"Id": "all", "LambdaFunctionArn": f"{ARN}:prod", "Events": ["s3:ObjectCreated:*"]}
        ]
    }


def test_the_refusal_path_through_a_monkeypatched_policy(prod: Fn, monkeypatch) -> None:
    seen = []

    def allows(repo, qualifier, principal, source_arn=None, source_account=None, **kw):
        seen.append((qualifier, principal, source_arn, source_account))
        return False

    from lambdaver.service import policy

    monkeypatch.setattr(policy, "allows", allows)
    r = prod("bucket", "notify", "uploads", "--function-arn", f"{ARN}:prod")
    assert r.exit_code == 254
    assert "Unable to validate the following destination configurations" in r.stderr
    assert seen == [("prod", "s3.amazonaws.com", "arn:aws:s3:::uploads", "000000000000")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--function-arn", "hello:prod"], "(InvalidArgument) when calling the "
         "PutBucketNotificationConfiguration operation: The ARN could not be parsed"),
        (["--function-arn", f"{ARN}:nope"], "Unable to validate the following destination"),
        (["--function-arn", "arn:aws:lambda:us-east-1:000000000000:function:other:prod"],
         "Unable to validate the following destination"),
        (["--function-arn", f"{ARN}:prod", "--events", "s3:ObjectCreated:Nope"],
         "The event is not supported for notifications"),
    ],
)  # fmt: skip
def test_bad_destinations(prod: Fn, unchanged, args: list[str], message: str) -> None:
    _allow(prod)
    with unchanged(prod.root):
        r = prod("bucket", "notify", "uploads", *args)
    assert r.exit_code == 254
    assert message in r.stderr


def test_created_changed_removed_files_are_delivered_once_each(prod: Fn, tmp_path: Path) -> None:
    up = tmp_path / "up"
    (up / "before.txt").write_text("already here")  # not delivered: it predates the notification
    _allow(prod)
    _notify(prod, "--events", "s3:ObjectCreated:*", "--events", "s3:ObjectRemoved:*",
            "--id", "cfg")  # fmt: skip
    assert _sync(prod) == []
    (up / "photos").mkdir()
    (up / "photos" / "red flower@home+1.jpg").write_bytes(b"0123456789")
    rows = _sync(prod)
    assert [(r["Key"], r["EventName"], r["ExecutedVersion"]) for r in rows] == [
        ("photos/red flower@home+1.jpg", "ObjectCreated:Put", "1")]  # fmt: skip
    assert _sync(prod) == []  # once
    (record,) = _records(prod)
    assert list(record) == [
        "eventVersion", "eventSource", "awsRegion", "eventTime", "eventName",
        "userIdentity", "requestParameters", "responseElements", "s3",
    ]  # fmt: skip
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == 24
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3 = record["s3"]
    assert s3["s3SchemaVersion"] == "1.0"
    assert s3["configurationId"] == "cfg"
    assert s3["bucket"]["name"] == "uploads"
    assert s3["bucket"]["arn"] == "arn:aws:s3:::uploads"
    assert "principalId" in s3["bucket"]["ownerIdentity"]
    obj = s3["object"]
    assert obj["key"] == "photos/red+flower%40home%2B1.jpg"  # form-urlencoded, / kept
    assert obj["size"] == 10
    assert obj["eTag"] == hashlib.md5(b"0123456789").hexdigest()  # noqa: S324
    assert isinstance(obj["sequencer"], str)

    (up / "photos" / "red flower@home+1.jpg").write_bytes(b"changed!")
    (up / "before.txt").unlink()
    rows = _sync(prod)
    assert sorted((r["Key"], r["EventName"]) for r in rows) == [
        ("before.txt", "ObjectRemoved:Delete"),
        ("photos/red flower@home+1.jpg", "ObjectCreated:Put"),
    ]
    records = _records(prod)
    puts = [r["s3"]["object"] for r in records if r["eventName"] == "ObjectCreated:Put"]
    assert sorted(o["size"] for o in puts) == [8, 10]
    (removed,) = [r["s3"]["object"] for r in records if r["eventName"] == "ObjectRemoved:Delete"]
    assert removed["key"] == "before.txt"
    assert "size" not in removed and "eTag" not in removed
    assert _sync(prod) == []


def test_a_touch_without_a_change_is_not_an_event(prod: Fn, tmp_path: Path) -> None:
    f = tmp_path / "up" / "a.txt"
    f.write_text("same")
    _allow(prod)
    _notify(prod)
    os.utime(f, ns=(10**18, 10**18))
    assert _sync(prod) == []


def test_filters_by_prefix_suffix_and_event_type(prod: Fn, tmp_path: Path) -> None:
    up = tmp_path / "up"
    _allow(prod)
    _notify(prod, "--prefix", "photos/", "--suffix", ".jpg", "--id", "jpgs")
    out = _notify(prod, "--events", "s3:ObjectRemoved:Delete", "--prefix", "docs/", "--id", "gone")
    assert out["LambdaFunctionConfigurations"][0]["Filter"] == {"Key": {"FilterRules": [
        {"Name": "Prefix", "Value": "photos/"}, {"Name": "Suffix", "Value": ".jpg"}]}}  # fmt: skip
    for rel in ("photos/a.jpg", "photos/a.png", "other/b.jpg", "docs/c.txt"):
        (up / rel).parent.mkdir(parents=True, exist_ok=True)
        (up / rel).write_text(rel)
    assert [(r["Key"], r["EventName"]) for r in _sync(prod)] == [
        ("photos/a.jpg", "ObjectCreated:Put")]  # fmt: skip
    for rel in ("photos/a.jpg", "docs/c.txt"):
        (up / rel).unlink()
    assert [(r["Key"], r["EventName"]) for r in _sync(prod)] == [
        ("docs/c.txt", "ObjectRemoved:Delete")]  # fmt: skip
    assert _sync(prod) == []
    # an overlapping configuration is refused, as S3 refuses it
    r = prod("bucket", "notify", "uploads", "--function-arn", f"{ARN}:prod", "--prefix", "photos/")
    assert r.exit_code == 254
    assert "Configurations overlap." in r.stderr
    rows = buckets.describe(Repository.discover(prod.root))
    assert [(row["Id"], row["Qualifier"]) for row in rows] == [
        ("uploads/jpgs", "prod"), ("uploads/gone", "prod")]  # fmt: skip
    assert rows[0]["Source"] == "arn:aws:s3:::uploads"
    assert rows[0]["State"] == "Enabled, s3:ObjectCreated:*, prefix photos/, suffix .jpg"


def test_changes_made_while_nothing_ran_are_delivered_at_the_next_poll(
    prod: Fn, tmp_path: Path
) -> None:
    _allow(prod)
    _notify(prod)
    (tmp_path / "up" / "offline.txt").write_text("made while nothing ran")
    # a new process (the installed command) finds and delivers it
    from conftest import run_subprocess

    p = run_subprocess("bucket", "sync", "--output", "json", cwd=prod.root)
    assert p.returncode == 0, p.stderr
    assert [d["Key"] for d in json.loads(p.stdout)["Deliveries"]] == ["offline.txt"]
    assert _sync(prod) == []


def test_a_failed_delivery_is_offered_again(prod: Fn, tmp_path: Path) -> None:
    _allow(prod)
    _notify(prod)
    (tmp_path / "up" / "x.txt").write_text("x")
    repo = Repository.discover(prod.root)
    (d,) = buckets.pending(repo, repo.clock())
    assert (d.kind, d.trigger, d.qualifier) == ("bucket", "bucket:uploads", "prod")

    def broken(qualifier: str | None, payload: bytes, trigger: str) -> Any:
        raise OSError("the engine crashed")

    with pytest.raises(OSError, match="crashed"):
        buckets.deliver(repo, d, broken)
    (again,) = buckets.pending(repo, repo.clock())  # at-least-once
    calls = []
    buckets.deliver(repo, again, lambda q, p, t: calls.append((q, t)))
    assert calls == [("prod", "bucket:uploads")]
    assert buckets.pending(repo, repo.clock()) == []


def test_promotion_changes_what_a_bucket_invokes(prod: Fn, tmp_path: Path) -> None:
    _allow(prod)
    _notify(prod)
    before = prod.ok("bucket", "list")
    (tmp_path / "up" / "a.txt").write_text("a")
    assert _sync(prod)[0]["ExecutedVersion"] == "1"
    prod.ok("alias", "update", "prod", "--version", "2")
    (tmp_path / "up" / "b.txt").write_text("b")
    assert _sync(prod)[0]["ExecutedVersion"] == "2"
    prod.ok("rollback", "prod")
    (tmp_path / "up" / "c.txt").write_text("c")
    assert _sync(prod)[0]["ExecutedVersion"] == "1"
    assert prod.ok("bucket", "list") == before


def test_a_deleted_alias_keeps_the_change_for_later(prod: Fn, tmp_path: Path) -> None:
    _allow(prod)
    _notify(prod, "--id", "cfg")
    prod.ok("alias", "delete", "prod")
    (tmp_path / "up" / "a.txt").write_text("a")
    (row,) = _sync(prod)
    assert "no longer exists" in row["Error"]
    assert row["Error"].startswith("ResourceNotFoundException: Function not found: ")
    prod.ok("alias", "create", "prod", "--version", "2")
    (row,) = _sync(prod)  # still pending: delivered now
    assert row["ExecutedVersion"] == "2"


def test_a_vanished_folder_is_said_and_nothing_crashes(prod: Fn, tmp_path: Path) -> None:
    _allow(prod)
    _notify(prod)
    (tmp_path / "up" / "a.txt").write_text("a")
    assert len(_sync(prod)) == 1
    import shutil

    shutil.rmtree(tmp_path / "up")
    r = prod("bucket", "sync")
    assert r.exit_code == 0, r
    assert r.json == {"Deliveries": []}  # no removal storm
    assert "its folder" in r.stderr and "does not exist" in r.stderr
    assert prod.ok("bucket", "list")["Buckets"][0]["Folder"] == "missing"
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "a.txt").write_text("a")  # back as it was: nothing to deliver
    (tmp_path / "up" / "b.txt").write_text("b")
    assert [r["Key"] for r in _sync(prod)] == ["b.txt"]


def test_a_bucket_inside_the_function_is_warned_about(fn: Fn) -> None:
    r = fn("bucket", "create", "inside", "--path", str(fn.root / "data"))
    assert r.exit_code == 0
    assert "inside the function's directory" in r.stderr
