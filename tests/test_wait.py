"""`wait ...`: the aws CLI's `lambda wait` commands, decided at once, failing with
botocore's waiter messages and exit 255 (docs/cli.md, "wait")."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Fn, run_cli, run_subprocess

ARN = "arn:aws:lambda:us-east-1:000000000000:function"
WAITERS = {
    "function-exists": "FunctionExists",
    "function-active": "FunctionActive",
    "function-active-v2": "FunctionActiveV2",
    "function-updated": "FunctionUpdated",
    "function-updated-v2": "FunctionUpdatedV2",
    "published-version-active": "PublishedVersionActive",
}
NOT_FOUND_RETRIED = (
    "Max attempts exceeded. Previously accepted state: "
    "Matched expected service error code: ResourceNotFoundException"
)


@pytest.fixture
def live(fn: Fn) -> Fn:
    """Version 1 and alias live -> 1."""
    fn.publish()
    fn.ok("alias", "create", "live", "--version", "1")
    return fn


@pytest.mark.parametrize("subcommand", list(WAITERS))
@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--function-name", "hello"],
        ["--function-name", f"{ARN}:hello"],
        ["--function-name", "hello", "--qualifier", "1"],
        ["--function-name", "hello", "--qualifier", "live"],
        ["--function-name", f"{ARN}:hello:live"],
        ["--qualifier", "$LATEST"],
    ],
)
def test_a_condition_that_holds_exits_0_at_once_printing_nothing(
    live: Fn, subcommand: str, args: list[str]
) -> None:
    r = live("wait", subcommand, *args)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")


def _failure(waiter: str, reason: str) -> str:
    return f"Waiter {waiter} failed: {reason}\n"


@pytest.mark.parametrize("subcommand", list(WAITERS))
@pytest.mark.parametrize(
    ("args", "arn"),
    [
        (["--function-name", "other"], f"{ARN}:other"),
        (["--function-name", f"{ARN}:other:live"], f"{ARN}:other"),
        (["--qualifier", "9"], f"{ARN}:hello:9"),
        (["--function-name", "hello", "--qualifier", "nope"], f"{ARN}:hello:nope"),
        (["--function-name", f"{ARN}:hello:nope"], f"{ARN}:hello:nope"),
    ],
)
def test_a_missing_function_version_or_alias_fails_as_botocore_says(
    live: Fn, subcommand: str, args: list[str], arn: str
) -> None:
    waiter = WAITERS[subcommand]
    r = live("wait", subcommand, *args)
    assert r.exit_code == 255
    assert r.stdout == ""
    if waiter == "FunctionExists":  # retried on ResourceNotFoundException until it gives up
        assert r.stderr == _failure(waiter, NOT_FOUND_RETRIED)
    else:  # no acceptor for an error: the error itself
        reason = f"An error occurred (ResourceNotFoundException): Function not found: {arn}"
        assert r.stderr == _failure(waiter, reason)


@pytest.mark.parametrize("subcommand", ["function-exists", "function-active-v2"])
def test_a_function_name_with_no_repository_anywhere(tmp_path: Path, subcommand: str) -> None:
    waiter = WAITERS[subcommand]
    r = run_cli("-C", str(tmp_path), "wait", subcommand, "--function-name", "ghost")
    assert r.exit_code == 255
    if waiter == "FunctionExists":
        assert r.stderr == _failure(waiter, NOT_FOUND_RETRIED)
    else:
        assert r.stderr == _failure(
            waiter,
            f"An error occurred (ResourceNotFoundException): Function not found: {ARN}:ghost",
        )


def test_no_function_name_and_no_repository_says_how_to_make_one(tmp_path: Path) -> None:
    r = run_cli("-C", str(tmp_path), "wait", "function-exists")
    assert r.exit_code == 253
    assert "create one with 'lambdaver init'" in r.stderr


def test_other_errors_are_reported_as_botocore_reports_them(live: Fn) -> None:
    r = live("wait", "function-exists", "--function-name", "bad name!")
    assert r.exit_code == 255
    assert r.stderr.startswith(
        "Waiter FunctionExists failed: An error occurred (ValidationException): 1 validation "
        "error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint"
    )
    r = live("wait", "function-active", "--function-name", "hello:1", "--qualifier", "2")
    assert r.exit_code == 255
    assert r.stderr == _failure(
        "FunctionActive",
        "An error occurred (InvalidParameterValueException): The derived qualifier from the "
        "function name does not match the specified qualifier.",
    )


def test_a_deleted_version_is_no_longer_active(live: Fn) -> None:
    live.publish(**{"app.py": "def handler(e, c):\n    return 2\n"})
    assert live("wait", "published-version-active", "--qualifier", "2").exit_code == 0
    live.ok("versions", "delete", "2")
    r = live("wait", "published-version-active", "--qualifier", "2")
    assert r.exit_code == 255
    assert r.stderr == _failure(
        "PublishedVersionActive",
        f"An error occurred (ResourceNotFoundException): Function not found: {ARN}:hello:2",
    )


def test_wait_in_a_shell_script(live: Fn) -> None:
    """As a script runs it: the aws CLI's command line, the installed command."""
    ok = run_subprocess("wait", "function-updated", "--function-name", "hello", cwd=live.root)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    bad = run_subprocess("wait", "function-exists", "--qualifier", "7", cwd=live.root)
    assert (bad.returncode, bad.stdout) == (255, "")
    assert bad.stderr == _failure("FunctionExists", NOT_FOUND_RETRIED)


def test_wait_needs_a_known_condition(live: Fn) -> None:
    r = live("wait", "function-ready")
    assert r.exit_code == 2
    assert "No such command 'function-ready'" in r.stderr
