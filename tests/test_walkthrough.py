"""The walkthrough in docs/cli.md is a script: run every ``$ `` line in order in a fresh
directory and check its exit status and the output the page shows, so the docs cannot drift
from the tool.

In a shown output, ``...`` matches any run of characters within a line.  A command shown
without output must print nothing.  ``cd DIR`` and ``export K=V`` are interpreted; other
non-lambdaver lines run in bash."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import run_cli, run_subprocess

CLI_DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def walkthrough_text() -> str:
    """The walkthrough section of docs/cli.md (between its begin and end markers)."""
    text = CLI_DOC.read_text()
    start = text.index("<!-- walkthrough:begin")
    end = text.index("<!-- walkthrough:end -->")
    return text[text.index("\n", start) + 1 : end]


@dataclass
class Step:
    line: int
    command: str
    expected: list[str] = field(default_factory=list)


def parse(text: str) -> list[Step]:
    steps: list[Step] = []
    in_block = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_block = line.strip() == "```console"
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            steps.append(Step(number, line[2:]))
        else:
            assert steps, f"walkthrough line {number}: output before any command"
            steps[-1].expected.append(line)
    return steps


def matches(expected: list[str], actual: list[str]) -> bool:
    """``...`` within a line: any characters; a line ``...``: any number of lines."""
    if not expected:
        return not actual
    want, rest = expected[0], expected[1:]
    if want == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in want.split("..."))
    return re.fullmatch(pattern, actual[0]) is not None and matches(rest, actual[1:])


def test_the_walkthrough_parses() -> None:
    steps = parse(walkthrough_text())
    commands = [s.command for s in steps]
    assert len(steps) > 15
    for verb in ("alias create", "alias update", "promote", "rollback", "alias history"):
        assert any(c.startswith(f"lambdaver {verb}") for c in commands), verb
    assert any("--weight" in c for c in commands)  # the canary


@pytest.mark.parametrize("how", ["in-process", "installed-script"])
def test_the_walkthrough_runs_as_written(tmp_path: Path, how: str) -> None:
    cwd = tmp_path
    env: dict[str, str] = {}
    for step in parse(walkthrough_text()):
        where = f"cli.md walkthrough line {step.line}: $ {step.command}"
        words = shlex.split(step.command)
        if words[0] == "cd":
            cwd = cwd / words[1]
            continue
        if words[0] == "export":
            key, _, value = words[1].partition("=")
            env[key] = value
            continue
        if words[0] == "lambdaver" and how == "in-process":
            r = run_cli("-C", str(cwd), *words[1:], env=env)
            code, out, err = r.exit_code, r.stdout, r.stderr
        elif words[0] == "lambdaver":
            p = run_subprocess(*words[1:], cwd=cwd, env=env)
            code, out, err = p.returncode, p.stdout, p.stderr
        else:
            p = subprocess.run(
                ["bash", "-c", step.command],
                cwd=cwd,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            code, out, err = p.returncode, p.stdout, p.stderr
        assert code == 0, f"{where}\nexit {code}\n{err}"
        actual = out.splitlines()
        assert matches(step.expected, actual), (
            f"{where}\n--- the page shows:\n"
            + "\n".join(step.expected)
            + "\n--- the tool printed:\n"
            + out
        )
