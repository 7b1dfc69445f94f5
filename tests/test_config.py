"""config show/set, update-function-configuration, lambdaver.toml validation."""

from __future__ import annotations

import pytest

from conftest import Fn


def test_config_set_writes_toml_and_shows_environment(fn: Fn) -> None:
    out = fn.ok("config", "set", "--memory-size", "256", "--env", "STAGE=dev", "--timeout", "10")
    assert (out["MemorySize"], out["Timeout"]) == (256, 10)
    assert out["Environment"] == {"Variables": {"STAGE": "dev"}}
    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:hello"
    text = (fn.root / "lambdaver.toml").read_text()
    assert "memory_size = 256" in text
    assert "[environment]" in text
    assert 'STAGE = "dev"' in text


def test_unset_last_variable_leaves_empty_environment(fn: Fn) -> None:
    fn.ok("config", "set", "--env", "STAGE=dev")
    out = fn.ok("config", "set", "--unset-env", "STAGE")
    assert out["Environment"] == {"Variables": {}}


def test_aws_spelling_replaces_environment(fn: Fn) -> None:
    fn.ok("config", "set", "--env", "OLD=1")
    out = fn.ok("update-function-configuration", "--environment", "Variables={A1=x,B2=y}")
    assert out["Environment"] == {"Variables": {"A1": "x", "B2": "y"}}
    out = fn.ok("update-function-configuration", "--environment", '{"Variables": {"C3": "z"}}')
    assert out["Environment"] == {"Variables": {"C3": "z"}}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--timeout", "901"], "ValidationException",
         "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
         "Member must have value less than or equal to 900"),
        (["--timeout", "0"], "ValidationException",
         "Member must have value greater than or equal to 1"),
        (["--memory-size", "127"], "ValidationException",
         "Value '127' at 'memorySize' failed to satisfy constraint: Member must have value "
         "greater than or equal to 128"),
        (["--memory-size", "10241"], "ValidationException",
         "Member must have value less than or equal to 10240"),
        (["--description", "d" * 257], "ValidationException",
         "at 'description' failed to satisfy constraint: Member must have length less than or "
         "equal to 256"),
        (["--env", "A=1"], "ValidationException",
         "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy "
         "constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"),
        (["--env", "AWS_REGION=x"], "InvalidParameterValueException",
         "Reserved keys used in this request: AWS_REGION"),
        (["--env", "BIG=" + "x" * 4100], "InvalidParameterValueException",
         "exceeded the 4KB limit. String measured: {\"BIG\":\"xxx"),
        (["--runtime", "PYTHON3.9"], "InvalidParameterValueException",
         "Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
         "value set"),
        (["--handler", "has space"], "ValidationException",
         "at 'handler' failed to satisfy constraint"),
        (["--env", "NOEQUALS"], "InvalidParameterValueException", "expected KEY=VALUE"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_and_change_nothing(
    fn: Fn, unchanged, args: list[str], code: str, message: str
) -> None:
    with unchanged(fn.root):
        r = fn("config", "set", *args)
    assert r.exit_code == 254, r
    assert r.stderr.startswith(
        f"An error occurred ({code}) when calling the UpdateFunctionConfiguration operation: "
    )
    assert message in r.stderr
    assert r.stderr.count("\n") == 1


def test_two_problems_are_reported_together(fn: Fn) -> None:
    r = fn("config", "set", "--timeout", "901", "--memory-size", "1")
    assert "2 validation errors detected: " in r.stderr
    assert "'1' at 'memorySize'" in r.stderr
    assert "; Value '901' at 'timeout'" in r.stderr


def test_hand_edited_toml_errors_name_file_and_line(fn: Fn) -> None:
    toml = fn.root / "lambdaver.toml"
    toml.write_text(toml.read_text().replace("timeout = 3", "timeout = 901"))
    r = fn("status")
    assert r.exit_code == 254
    lines = toml.read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if t.startswith("timeout"))
    assert f"{toml}, line {line}: 1 validation error detected: Value '901' at 'timeout'" in r.stderr
    toml.write_text('name = "hello"\nruntime = "python3.12"\ntimeout = = 3\n')
    r = fn("publish")
    assert r.exit_code == 254
    assert f"{toml}, line 3: invalid TOML" in r.stderr
    toml.write_text('name = "hello"\nruntime = "python3.12"\nmemory-size = 256\n')
    r = fn("status")
    assert f"{toml}, line 3: unknown key 'memory-size'" in r.stderr
    toml.write_text('name = "hello"\nruntime = "python3.12"\ntimeout = "3"\n')
    assert f"{toml}, line 3: 'timeout' must be an integer" in fn("status").stderr
    toml.write_text('name = "hello"\nruntime = "python3.12"\n\n[environment]\nX = "1"\n')
    assert f"{toml}, line 4: 1 validation error" in fn("status").stderr


def test_show_via_alias_like_name_missing(fn: Fn) -> None:
    r = fn("config", "show", "--qualifier", "prod")
    assert r.exit_code == 254
    assert r.stderr.endswith(
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:prod\n"
    )


def test_update_with_stale_revision_id(fn: Fn, unchanged) -> None:
    rev = fn.ok("config", "show")["RevisionId"]
    fn.ok("config", "set", "--timeout", "5", "--revision-id", rev)
    with unchanged(fn.root):
        r = fn("config", "set", "--timeout", "6", "--revision-id", rev)
    assert r.exit_code == 254
    assert "(PreconditionFailedException)" in r.stderr
