"""Global options, output formats, help texts, exit statuses."""

from __future__ import annotations

import json

import pytest

from conftest import Fn, run_cli


def test_output_formats(fn: Fn) -> None:
    fn.publish()
    base = ("-C", str(fn.root))
    r = run_cli(*base, "versions", "list", "--output", "json")
    assert r.stdout.startswith('{\n    "Versions": [\n        {\n')  # indented like the aws CLI
    r = run_cli(*base, "versions", "list", "--query", "Versions[].Version", "--output", "text")
    assert r.stdout == "$LATEST\t1\n"
    r = run_cli(*base, "config", "show", "--qualifier", "1", "--output", "text")
    lines = r.stdout.splitlines()
    scalars = lines[0].split("\t")  # scalar fields, keys sorted: CodeSha256 ... Version
    assert (scalars[1], scalars[-2], scalars[-1]) == (
        str(len((fn.root / "app.py").read_bytes())),
        "3",
        "1",
    )
    assert lines[1:] == ["ARCHITECTURES\tx86_64", "TRACINGCONFIG\tPassThrough"]
    r = run_cli(*base, "versions", "list", "--output", "table")
    assert r.exit_code == 0
    assert "Versions" in r.stdout and "$LATEST" in r.stdout and "│" in r.stdout


def test_text_output_sorts_keys_like_aws(fn: Fn) -> None:
    r = run_cli("-C", str(fn.root), "config", "show", "--output", "text",
                "--query", "{b: Timeout, a: MemorySize}")  # fmt: skip
    assert r.stdout == "128\t3\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["--output", "text", "versions", "list"],
        ["versions", "--output", "text", "list"],
        ["versions", "list", "--output", "text"],
    ],
)
def test_global_options_before_or_after_the_verb(fn: Fn, argv: list[str]) -> None:
    r = run_cli("-C", str(fn.root), *argv, "--query", "Versions[0].Version")
    assert (r.exit_code, r.stdout) == (0, "$LATEST\n")


def test_dash_c_after_the_verb(fn: Fn) -> None:
    r = run_cli("config", "show", "-C", str(fn.root), "--query", "FunctionName", "--output", "text")
    assert (r.exit_code, r.stdout) == (0, "hello\n")


def test_default_output_is_json_when_piped_and_env_overrides(fn: Fn) -> None:
    r = run_cli("-C", str(fn.root), "config", "show")
    assert json.loads(r.stdout)["FunctionName"] == "hello"
    r = run_cli("-C", str(fn.root), "config", "show", "--query", "Timeout",
                env={"LAMBDAVER_OUTPUT": "text"})  # fmt: skip
    assert r.stdout == "3\n"


def test_user_config_sets_region_account_and_output(fn: Fn, tmp_path, monkeypatch) -> None:
    cfg = tmp_path / "user.toml"
    cfg.write_text('region = "eu-west-1"\naccount_id = "123456789012"\noutput = "text"\n')
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    r = run_cli("-C", str(fn.root), "config", "show", "--query", "FunctionArn")
    assert r.stdout == "arn:aws:lambda:eu-west-1:123456789012:function:hello\n"
    cfg.write_text('region = "nowhere"\n')
    r = run_cli("-C", str(fn.root), "config", "show")
    assert r.exit_code == 254
    assert "is not an AWS region name" in r.stderr


def test_bad_query_is_a_usage_error(fn: Fn) -> None:
    r = run_cli("-C", str(fn.root), "config", "show", "--query", "[[")
    assert r.exit_code == 2
    assert "Bad value for --query" in r.stderr


def test_usage_errors_exit_2(fn: Fn) -> None:
    r = run_cli("-C", str(fn.root), "publish", "--bogus")
    assert r.exit_code == 2
    assert "No such option '--bogus'" in r.stderr
    r = run_cli("-C", str(fn.root), "versions", "show")
    assert r.exit_code == 2
    assert "Missing argument" in r.stderr


def test_version_and_help() -> None:
    r = run_cli("--version")
    assert r.exit_code == 0
    assert r.stdout.startswith("lambdaver, version ")
    r = run_cli("--help")
    assert r.exit_code == 0
    for verb in ("init", "config", "status", "publish", "versions", "publish-version",
                 "list-versions-by-function", "get-function-configuration",
                 "update-function-configuration", "delete-function"):  # fmt: skip
        assert verb in r.stdout


@pytest.mark.parametrize(
    "verb",
    [
        ["init"], ["config", "show"], ["config", "set"], ["status"], ["publish"],
        ["versions", "list"], ["versions", "show"], ["versions", "delete"], ["publish-version"],
        ["list-versions-by-function"], ["get-function-configuration"],
        ["update-function-configuration"], ["delete-function"], ["get-function"],
    ],
)  # fmt: skip
def test_every_help_ends_with_example_and_exit_statuses(verb: list[str]) -> None:
    r = run_cli(*verb, "--help")
    assert r.exit_code == 0
    assert "Examples:\n    lambdaver " in r.stdout
    assert r.stdout.rstrip().endswith("255 internal error.")


def test_debug_shows_traceback_for_expected_errors(tmp_path) -> None:
    r = run_cli("-C", str(tmp_path), "status", "--debug")
    assert r.exit_code == 253
    assert "Traceback" in r.stderr
    r = run_cli("-C", str(tmp_path), "status")
    assert "Traceback" not in r.stderr


def test_lazy_verb_table_matches_the_modules() -> None:
    """Every lazily loaded command is listed under the module that defines it (in the
    root's table or a group's), and every command a module defines is listed."""
    import importlib

    import click

    from lambdaver.cli.app import LazyGroup
    from lambdaver.cli.main import VERB_MODULES, cli

    assert cli.lazy is VERB_MODULES
    listed: dict[str, set[str]] = {}
    groups: list[click.Group] = [cli]
    ctx = click.Context(cli)
    for group in groups:
        assert isinstance(group, LazyGroup)
        for module, names in group.lazy.items():
            listed.setdefault(module, set()).update(names)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None, name
            if isinstance(cmd, LazyGroup):
                groups.append(cmd)
    assert "prune" in listed["lambdaver.cli.commands_lifecycle"]  # the versions group's table
    for module, names in listed.items():
        assert set(importlib.import_module(module).COMMANDS) == names, module


def test_table_output_fits_80_columns_and_shows_empty_listings(fn: Fn) -> None:
    fn.ok("config", "set", "--description", "a fairly long description of this function")
    fn.publish()
    r = run_cli("-C", str(fn.root), "versions", "list", "--output", "table", env={"COLUMNS": "80"})
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("LastModified" in line for line in lines)
    assert any("+0000" in line for line in lines)  # timestamps are never folded
    r = run_cli("-C", str(fn.root), "alias", "list", "--output", "table", env={"COLUMNS": "80"})
    assert "FunctionVersion" in r.stdout


def test_dash_c_makes_relative_paths_relative_to_dir(fn: Fn, tmp_path, monkeypatch) -> None:
    """`-C DIR` is "run as if started in DIR", as with git: OUTFILE and file:// too."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    fn.write("event.json", '{"k": 1}')
    fn.write("app.py", "def handler(e, c):\n    return e\n")
    fn.write(".lambdaverignore", "out.json\n")  # else OUTFILE would become code: refused
    r = run_cli("-C", str(fn.root), "invoke", "--payload", "file://event.json", "out.json")
    assert r.exit_code == 0, r
    assert (fn.root / "out.json").read_text() == '{"k": 1}'
    assert not (elsewhere / "out.json").exists()
    r = run_cli("-C", str(tmp_path / "missing"), "status")
    assert r.exit_code == 2
    assert "is not a directory (No such file or directory)" in r.stderr


def test_read_verbs_keep_heavy_modules_off_the_start_up_path(fn: Fn) -> None:
    """Start-up speed is a goal (docs/performance.md): json output of a read verb must not
    import rich, jmespath, pathspec, tomllib, or the modules of other verbs."""
    import subprocess
    import sys
    import time

    time.sleep(1.1)  # files older than a second may be cached (the racy-clean rule)
    fn.publish()

    import os
    import sysconfig

    import lambdaver

    # Without site (-S): an editable install's import hook would load pathlib first.
    path = [os.path.dirname(os.path.dirname(lambdaver.__file__)),
            sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]  # fmt: skip

    def modules(code: str) -> set[str]:
        code = f"import sys; sys.path[:0] = {path!r}; {code}"
        r = subprocess.run(
            [sys.executable, "-S", "-X", "importtime", "-c", code],
            cwd=fn.root, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if "|" in line}

    click_itself = modules("import click")
    assert "click.core" in click_itself

    def imported(*args: str) -> set[str]:
        argv = ["lambdaver", *args, "--output", "json"]
        code = f"sys.argv = {argv!r}; from lambdaver.entry import main; main()"
        return modules(code) - click_itself

    # pathlib, platformdirs (through the settings memo), dataclasses, tempfile and shutil
    # each cost a millisecond or more: a tenth of click's own start-up.
    heavy = {"rich", "jmespath", "pathspec", "tomllib", "concurrent.futures",
             "lambdaver.service.lifecycle", "lambdaver.service.code", "lambdaver.runtime",
             "lambdaver.service.aliases", "click.shell_completion", "pathlib",
             "platformdirs", "dataclasses", "tempfile", "shutil", "random"}  # fmt: skip
    # $LATEST is unchanged since the publish: the stat cache knows its tree hash
    assert imported("versions", "list") & (heavy | {"hashlib", "base64"}) == set()
    # the listing is now cached with the metadata's change counter: no SQLite either
    assert imported("versions", "list") & (heavy | {"hashlib", "sqlite3"}) == set()
    assert imported("config", "show", "--qualifier", "1") & (heavy | {"hashlib"}) == set()
    # version 1's ref is now remembered with the metadata's change counter: no SQLite
    assert imported("config", "show", "--qualifier", "1") & (heavy | {"sqlite3"}) == set()
    fn.write("app.py", "def handler(event, context):\n    return 2\n")
    assert "hashlib" in imported("versions", "list")  # changed: hashed again


def test_exit_statuses_of_every_help_come_from_errors_py() -> None:
    """Each status an exception of errors.py exits with, and each EXIT_* constant, is
    explained in the root's --help; a verb rewords some of them in its own."""
    import re

    from lambdaver import errors
    from lambdaver.cli.options import exit_statuses

    def subclasses(cls: type) -> list[type]:
        return [cls] + [s for sub in cls.__subclasses__() for s in subclasses(sub)]

    root = run_cli("--help").stdout
    said = root.split("Exit statuses:")[1]
    statuses = {int(n) for n in re.findall(r"(?:^|;|:)\s+(\d+) ", said)}
    error_statuses = {cls.exit_status for cls in subclasses(errors.LambdaverError)}
    constants = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert error_statuses <= statuses
    assert constants == statuses
    assert "1 invoke: the function failed" in " ".join(said.split())
    assert exit_statuses({errors.EXIT_OK: "equal"}).startswith("Exit statuses: 0 equal; 2 usage")
    assert all(len(line) <= 76 for line in exit_statuses().splitlines())


def test_each_run_has_its_own_state(fn: Fn) -> None:
    """The operation named in an error and --debug belong to one run (the App on click's
    context), not to the process."""
    r = run_cli("-C", str(fn.root), "alias", "get", "nope", "--debug")
    assert r.exit_code == 254 and "Traceback" in r.stderr
    assert "when calling the GetAlias operation" in r.stderr
    r = run_cli("-C", str(fn.root), "status", "--function-name", "other")
    assert r.exit_code == 254 and "Traceback" not in r.stderr
    assert "when calling the Status operation" in r.stderr
    r = run_cli("-C", str(fn.root / "missing"), "status")
    assert r.exit_code == 2 and "operation" not in r.stderr
