"""lambdaver completion bash|zsh|fish, and completion of verbs, options, alias names and
version numbers (click's shell completion, driven in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.shell_completion import BashComplete, FishComplete, ShellComplete, ZshComplete

from lambdaver.cli.main import cli

from conftest import Fn, run_cli


def complete(args: list[str], incomplete: str = "") -> list[str]:
    """What the shell would offer after ``lambdaver ARGS INCOMPLETE``."""
    comp = ShellComplete(cli, {}, "lambdaver", "_LAMBDAVER_COMPLETE")
    return [item.value for item in comp.get_completions(args, incomplete)]


@pytest.fixture
def repo(fn: Fn) -> Fn:
    """Versions 1-3; aliases prod -> 2 (weighted 1), beta -> 3, dev -> $LATEST."""
    for i in (1, 2, 3):
        fn.publish(**{"app.py": f"def handler(e, c):\n    return {i}\n"})
    fn.ok("alias", "create", "prod", "--version", "2", "--weight", "1=0.1")
    fn.ok("alias", "create", "beta", "--version", "3")
    fn.ok("alias", "create", "dev", "--version", "$LATEST")
    return fn


# --- the scripts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "cls"), [("bash", BashComplete), ("zsh", ZshComplete), ("fish", FishComplete)]
)
def test_completion_prints_click_s_script(shell: str, cls: Any, tmp_path: Path) -> None:
    r = run_cli("-C", str(tmp_path), "completion", shell)  # needs no repository
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == cls(cli, {}, "lambdaver", "_LAMBDAVER_COMPLETE").source()
    assert f"_LAMBDAVER_COMPLETE={shell}_complete" in r.stdout


def test_completion_script_equals_the_environment_variable_s() -> None:
    r = run_cli("completion", "bash")
    via_env = run_cli(env={"_LAMBDAVER_COMPLETE": "bash_source"})
    assert via_env.exit_code == 0
    assert r.stdout == via_env.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["powershell"], "'powershell' is not one of 'bash', 'zsh', 'fish'."),
        ([], "Missing argument '{bash|zsh|fish}'."),
    ],
)
def test_completion_needs_a_known_shell(
    repo: Fn, unchanged: Any, args: list[str], message: str
) -> None:
    with unchanged(repo.root):
        r = run_cli("-C", str(repo.root), "completion", *args)
    assert (r.exit_code, r.stdout) == (2, "")
    assert message in r.stderr


# --- verbs and options ----------------------------------------------------------------------


def test_completes_verbs_and_subverbs(tmp_path: Path) -> None:
    verbs = complete([])
    for verb in ("init", "publish", "versions", "alias", "invoke", "gc", "fsck", "completion"):
        assert verb in verbs
    assert complete([], "f") == ["fsck"]
    assert complete(["versions"]) == ["delete", "list", "prune", "show"]
    assert complete(["alias"], "h") == ["history"]


def test_completes_options() -> None:
    assert {"--keep", "--older-than", "--history-depth", "--dry-run"} <= set(
        complete(["versions", "prune"], "--")
    )
    assert complete(["gc"], "--gr") == ["--grace"]
    assert complete(["completion"]) == ["bash", "zsh", "fish"]
    assert complete(["invoke", "--log-type"]) == ["None", "Tail"]


# --- values from the repository ---------------------------------------------------------------


def test_completing_changes_nothing(repo: Fn, unchanged: Any) -> None:
    with unchanged(repo.root):
        assert complete(["-C", str(repo.root), "invoke", "--qualifier"], "p") == ["prod"]
        r = run_cli(
            env={
                "_LAMBDAVER_COMPLETE": "fish_complete",
                "COMP_WORDS": f"lambdaver -C {repo.root} versions delete ",
                "COMP_CWORD": "",
            }
        )
    assert r.exit_code == 0
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == [
        "plain,1",
        "plain,2",
        "plain,3",
    ]  # fish: value, tab, hint (the version's LastModified here)


def test_completes_alias_names(repo: Fn) -> None:
    c = ["-C", str(repo.root)]
    for verb in (["alias", "get"], ["alias", "update"], ["alias", "delete"],
                 ["alias", "history"], ["rollback"], ["promote"], ["promote", "prod"]):  # fmt: skip
        assert complete([*c, *verb]) == ["beta", "dev", "prod"], verb
    assert complete([*c, "alias", "get"], "p") == ["prod"]
    assert complete([*c, "alias", "create"]) == []  # a new name: nothing to offer


def test_completes_version_numbers(repo: Fn) -> None:
    c = ["-C", str(repo.root)]
    assert complete([*c, "versions", "delete"]) == ["1", "2", "3"]
    assert complete([*c, "delete-function", "--qualifier"]) == ["1", "2", "3"]
    assert complete([*c, "rollback", "prod", "--to-version"]) == ["1", "2", "3"]
    assert complete([*c, "alias", "create", "x", "--version"]) == ["$LATEST", "1", "2", "3"]
    assert complete([*c, "alias", "update", "prod", "--version"], "$") == ["$LATEST"]
    assert complete([*c, "alias", "list", "--version"], "2") == ["2"]


def test_completes_qualifiers(repo: Fn) -> None:
    c = ["-C", str(repo.root)]
    every = ["$LATEST", "1", "2", "3", "beta", "dev", "prod"]
    for verb in (["invoke"], ["config", "show"], ["get-function"], ["logs"], ["metrics"],
                 ["get-function-configuration"]):  # fmt: skip
        assert complete([*c, *verb, "--qualifier"]) == every, verb
    assert complete([*c, "versions", "show"]) == every
    assert complete([*c, "invoke", "--qualifier"], "b") == ["beta"]


def test_completes_from_the_working_directory(repo: Fn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.root / ".lambdaver")  # found by walking up, like every verb
    assert complete(["alias", "get"]) == ["beta", "dev", "prod"]
    assert complete(["versions", "delete"], "3") == ["3"]


def test_completion_items_carry_help_for_zsh_and_fish(repo: Fn) -> None:
    comp = ShellComplete(cli, {}, "lambdaver", "_LAMBDAVER_COMPLETE")
    items = comp.get_completions(["-C", str(repo.root), "alias", "get"], "")
    assert [(i.value, i.help) for i in items] == [
        ("beta", "alias of 3"),
        ("dev", "alias of $LATEST"),
        ("prod", "alias of 2"),
    ]


def test_completion_fails_silently_outside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert complete(["alias", "get"]) == []
    assert complete(["invoke", "--qualifier"]) == []
    assert complete(["versions", "delete"]) == []


def test_completion_fails_silently_in_a_broken_repository(repo: Fn) -> None:
    (repo.root / ".lambdaver" / "meta.sqlite").write_bytes(b"not a database at all" * 100)
    c = ["-C", str(repo.root)]
    assert complete([*c, "alias", "get"]) == []
    assert complete([*c, "versions", "delete"]) == []


# --- the protocol a shell speaks, end to end through main() -------------------------------------


def test_bash_protocol_end_to_end(repo: Fn) -> None:
    r = run_cli(
        env={
            "_LAMBDAVER_COMPLETE": "bash_complete",
            "COMP_WORDS": f"lambdaver -C {repo.root} rollback p",
            "COMP_CWORD": "4",
        }
    )
    assert (r.exit_code, r.stdout, r.stderr) == (0, "plain,prod\n", "")


def test_zsh_protocol_end_to_end_outside_a_repository(tmp_path: Path) -> None:
    r = run_cli(
        env={
            "_LAMBDAVER_COMPLETE": "zsh_complete",
            "COMP_WORDS": f"lambdaver -C {tmp_path} alias get ",
            "COMP_CWORD": "5",
        }
    )
    assert (r.exit_code, r.stdout, r.stderr) == (0, "\n", "")  # zsh's "no completions"
