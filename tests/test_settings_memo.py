"""The settings memo (``.lambdaver/cache/settings``): read verbs skip platformdirs and the
TOML parser while nothing the answer depends on changed, and never serve stale settings."""

from __future__ import annotations

import marshal
import os
import time
from pathlib import Path

import pytest

from conftest import Fn, run_cli

MEMO = Path(".lambdaver") / "cache" / "settings"


def arn(fn: Fn) -> str:
    r = run_cli("-C", str(fn.root), "config", "show", "--query", "FunctionArn", "--output", "text")
    assert r.exit_code == 0, r
    return r.stdout.strip()


def write_old(path: Path, text: str) -> None:
    """Write ``text`` and date the file a minute back (older than the racy window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    past = time.time() - 60
    os.utime(path, (past, past))


def test_init_writes_the_memo_and_a_read_verb_keeps_it(fn: Fn) -> None:
    memo = fn.root / MEMO
    assert memo.is_file()
    before = memo.read_bytes()
    assert arn(fn).endswith(":us-east-1:000000000000:function:hello")
    assert memo.read_bytes() == before


def test_an_edited_config_file_is_read_again(fn: Fn, tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "user.toml"
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    write_old(cfg, 'region = "eu-west-1"\n')
    assert ":eu-west-1:" in arn(fn)
    assert ":eu-west-1:" in arn(fn)  # now from the memo
    # Same size, same mtime: only the ctime (which no one can set back) tells them apart.
    write_old(cfg, 'region = "eu-west-2"\n')
    assert ":eu-west-2:" in arn(fn)


def test_a_config_file_that_appears_or_goes_is_noticed(fn: Fn, tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "later.toml"
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    assert ":us-east-1:" in arn(fn)
    write_old(cfg, 'region = "sa-east-1"\naccount_id = "123456789012"\n')
    assert ":sa-east-1:123456789012:" in arn(fn)
    cfg.unlink()
    assert ":us-east-1:000000000000:" in arn(fn)


def test_the_platformdirs_location_follows_the_environment(
    fn: Fn, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("LAMBDAVER_CONFIG")
    one, two = tmp_path / "xdg1", tmp_path / "xdg2"
    write_old(one / "lambdaver" / "config.toml", 'region = "eu-north-1"\n')
    write_old(two / "lambdaver" / "config.toml", 'region = "ap-south-1"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(one))
    assert ":eu-north-1:" in arn(fn)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(two))
    assert ":ap-south-1:" in arn(fn)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(one))
    assert ":eu-north-1:" in arn(fn)


@pytest.mark.parametrize("garbage", [b"", b"\x00" * 64, b"not marshal", b"\xa9\x01\xe9\x01"])
def test_a_damaged_memo_is_ignored_and_replaced(fn: Fn, garbage: bytes) -> None:
    memo = fn.root / MEMO
    good = memo.read_bytes()
    memo.write_bytes(garbage)
    assert arn(fn).endswith(":us-east-1:000000000000:function:hello")
    assert marshal.loads(memo.read_bytes()) == marshal.loads(good)  # noqa: S302 - our own file


def test_a_failing_command_does_not_write_the_memo(fn: Fn, tmp_path: Path, monkeypatch) -> None:
    memo = fn.root / MEMO
    before = memo.read_bytes()
    cfg = tmp_path / "other.toml"
    write_old(cfg, 'region = "eu-west-3"\n')
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    r = run_cli("-C", str(fn.root), "config", "show", "--qualifier", "7")
    assert r.exit_code == 254, r
    assert memo.read_bytes() == before
    assert ":eu-west-3:" in arn(fn)  # the next successful command remembers it
    assert memo.read_bytes() != before


def test_a_bad_config_file_is_an_error_every_time(fn: Fn, tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "bad.toml"
    write_old(cfg, 'region = "nowhere"\n')
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    for _ in range(2):
        r = run_cli("-C", str(fn.root), "config", "show")
        assert r.exit_code == 254
        assert "is not an AWS region name" in r.stderr


PROFILES = (
    'region = "eu-west-1"\n[profiles.dev]\nregion = "eu-central-1"\naccount_id = "222222222222"\n'
)


def profile_arn(fn: Fn, profile: str) -> tuple[int, str]:
    r = run_cli("-C", str(fn.root), "--profile", profile, "config", "show", "--query",
                "FunctionArn", "--output", "text")  # fmt: skip
    return r.exit_code, r.stdout.strip() or r.stderr.strip()


def test_profiles_are_remembered_and_read_again(fn: Fn, tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "profiles.toml"
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    write_old(cfg, PROFILES)
    time.sleep(1.1)  # a file changed (ctime) within a second is not remembered (racy)
    assert profile_arn(fn, "dev") == (0, "arn:aws:lambda:eu-central-1:222222222222:function:hello")
    memo = marshal.loads((fn.root / MEMO).read_bytes())  # noqa: S302 - our own file
    assert memo[-1][-1] == (("dev", "eu-central-1", "222222222222", None),)
    assert profile_arn(fn, "dev")[1].startswith("arn:aws:lambda:eu-central-1:")  # from the memo
    assert profile_arn(fn, "qa") == (255, "The config profile (qa) could not be found")
    write_old(cfg, PROFILES + '[profiles.qa]\nregion = "us-west-1"\n')  # a profile appears
    assert profile_arn(fn, "qa")[1].startswith("arn:aws:lambda:us-west-1:000000000000:")
    write_old(cfg, PROFILES.replace("eu-central-1", "eu-south-1"))
    assert profile_arn(fn, "dev")[1].startswith("arn:aws:lambda:eu-south-1:")
    assert profile_arn(fn, "qa")[0] == 255  # and goes


def test_a_memo_of_the_first_format_is_replaced(fn: Fn) -> None:
    memo = fn.root / MEMO
    record = marshal.loads(memo.read_bytes())  # noqa: S302 - our own file
    old = (1, *record[1:-1], ("us-west-2", "000000000000", None))  # format 1: 3 values
    memo.write_bytes(marshal.dumps(old))
    assert arn(fn).endswith(":us-east-1:000000000000:function:hello")
    assert marshal.loads(memo.read_bytes())[0] == 2  # noqa: S302 - our own file


def test_a_profile_from_the_memo_costs_no_toml_parser(fn: Fn, tmp_path: Path, monkeypatch) -> None:
    """--profile and --region on a read verb: the memo's values, no tomllib (nor json)."""
    import subprocess
    import sys

    cfg = tmp_path / "fast.toml"
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    write_old(cfg, PROFILES)
    fn.publish()
    time.sleep(1.1)  # a file changed (ctime) within a second is not remembered (racy)
    args = ["--profile", "dev", "--region", "eu-west-3", "config", "show", "--qualifier", "1",
            "--output", "json"]  # fmt: skip
    assert run_cli("-C", str(fn.root), *args).exit_code == 0  # the memo is written
    code = (f"import sys; sys.argv = {['lambdaver', *args]!r}; "
            "from lambdaver.entry import main; main()")  # fmt: skip
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=fn.root,
                       capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert '"arn:aws:lambda:eu-west-3:222222222222:function:hello:1"' in r.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if "|" in line}
    assert "tomllib" not in imported and "platformdirs" not in imported
    assert "base64" not in imported and "lambdaver.cli.awsinput" not in imported
