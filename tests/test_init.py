"""init (create-function): defaults, starter code, adoption, refusals."""

from __future__ import annotations

import sys

from conftest import run_cli


def test_init_empty_directory_writes_starter_and_defaults(tmp_path) -> None:
    d = tmp_path / "my-fn"
    r = run_cli("init", str(d), "--output", "json")
    assert r.exit_code == 0, r
    out = r.json
    assert out["FunctionName"] == "my-fn"
    assert out["Runtime"] == f"python3.{sys.version_info.minor}"
    assert (out["Handler"], out["MemorySize"], out["Timeout"]) == ("app.handler", 128, 3)
    assert out["Version"] == "$LATEST"
    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:my-fn"
    assert (d / "app.py").read_text().startswith("import json")
    assert (d / ".lambdaver" / "config").is_file()
    assert 'name = "my-fn"' in (d / "lambdaver.toml").read_text()


def test_init_keeps_existing_code(tmp_path) -> None:
    (tmp_path / "main.py").write_text("def go(e, c):\n    return 1\n")
    args = ["--name", "svc", "--handler", "main.go", "--memory-size", "512", "--timeout", "30"]
    r = run_cli("-C", str(tmp_path), "init", *args, "--description", "d", "--output", "json")
    assert r.exit_code == 0, r
    assert not (tmp_path / "app.py").exists()
    out = r.json
    assert (out["FunctionName"], out["Handler"], out["MemorySize"], out["Timeout"]) == (
        "svc", "main.go", 512, 30,
    )  # fmt: skip


def test_init_twice_is_refused(tmp_path, unchanged) -> None:
    assert run_cli("init", str(tmp_path / "f")).exit_code == 0
    with unchanged(tmp_path):
        r = run_cli("init", str(tmp_path / "f"))
    assert r.exit_code == 254
    assert r.stderr == (
        "An error occurred (ResourceConflictException) when calling the CreateFunction "
        "operation: Function already exist: f\n"
    )


def test_init_bad_values_write_nothing(tmp_path) -> None:
    d = tmp_path / "f"
    d.mkdir()
    for args, needle in [
        (["--timeout", "901"], "Value '901' at 'timeout'"),
        (["--name", "bad.name"], "at 'functionName' failed to satisfy constraint"),
        (["--name", "x" * 65], "Member must have length less than or equal to 64"),
        (["--runtime", "cobol"], "Value cobol at 'runtime'"),
    ]:
        r = run_cli("init", str(d), *args)
        assert r.exit_code == 254, r
        assert needle in r.stderr
        assert list(d.iterdir()) == []


def test_init_adopts_existing_toml(tmp_path) -> None:
    (tmp_path / "lambdaver.toml").write_text(
        'name = "kept"\nruntime = "python3.12"\nhandler = "h.main"\ntimeout = 9\n'
    )
    (tmp_path / "h.py").write_text("def main(e, c):\n    return 0\n")
    r = run_cli("init", str(tmp_path), "--output", "json")
    assert r.exit_code == 0, r
    assert (r.json["FunctionName"], r.json["Handler"], r.json["Timeout"]) == ("kept", "h.main", 9)


def test_commands_outside_a_repository(tmp_path) -> None:
    r = run_cli("-C", str(tmp_path), "versions", "list")
    assert r.exit_code == 253
    assert r.stderr.startswith(
        "An error occurred (RepositoryNotFound) when calling the ListVersionsByFunction operation: "
        f"No lambdaver repository (.lambdaver/) in {tmp_path}"
    )
    assert "lambdaver init" in r.stderr


def test_repository_found_from_a_subdirectory(fn) -> None:
    sub = fn.root / "pkg" / "deep"
    sub.mkdir(parents=True)
    r = run_cli("-C", str(sub), "config", "show", "--output", "json")
    assert r.exit_code == 0, r
    assert r.json["FunctionName"] == "hello"
