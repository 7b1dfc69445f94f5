"""Shared fixtures: run the CLI in-process (fast) through the real error boundary, make
repositories in tmp_path, and snapshot a repository's bytes to prove a refusal changed
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lambdaver.cli.main import main

# the server tests' helpers and fixtures (``served``, ``lam``)
pytest_plugins = ("serve_helpers",)

LAMBDAVER_SCRIPT = Path(sys.executable).parent / "lambdaver"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"Result(exit={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def run_cli(
    *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
) -> Result:
    """Run ``lambdaver ARGS`` in this process, through ``main()`` (the single error
    boundary), capturing stdout and stderr separately."""
    runner = CliRunner()
    code = 0
    cwd = os.getcwd()  # -C changes directory, as it does in a real process
    with runner.isolation(input=input, env={"NO_COLOR": "1", "COLUMNS": "120", **(env or {})}) as (
        out,
        err,
        _,
    ):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os.chdir(cwd)
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


def run_subprocess(
    *args: str, cwd: Path, input: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``lambdaver`` command like a shell script would."""
    cmd = (
        [str(LAMBDAVER_SCRIPT)]
        if LAMBDAVER_SCRIPT.exists()
        else [sys.executable, "-m", "lambdaver"]
    )
    return subprocess.run(
        [*cmd, *args],
        cwd=cwd,
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.fixture(autouse=True)
def _isolated_settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read the developer's own config file or output preference."""
    cfg = tmp_path_factory.mktemp("config") / "config.toml"
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    monkeypatch.delenv("LAMBDAVER_OUTPUT", raising=False)


class Fn:
    """A function directory in tmp_path with helpers to drive the CLI on it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, input: str | bytes | None = None) -> Result:
        return run_cli("-C", str(self.root), "--output", "json", *args, input=input)

    def ok(self, *args: str, input: str | bytes | None = None) -> Any:
        r = self(*args, input=input)
        assert r.exit_code == 0, r
        return r.json if r.stdout.strip() else None

    def write(self, rel: str, text: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    def publish(self, **files: str) -> str:
        for rel, text in files.items():
            self.write(rel, text)
        return str(self.ok("publish")["Version"])


@pytest.fixture
def fn(tmp_path: Path) -> Fn:
    """An initialised function ``hello`` with one file ``app.py``."""
    root = tmp_path / "hello"
    root.mkdir()
    (root / "app.py").write_text("def handler(event, context):\n    return {'v': 0}\n")
    r = run_cli("init", str(root), "--output", "json")
    assert r.exit_code == 0, r
    return Fn(root)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (the repository included) with its bytes and mode."""
    out: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = b"->" + os.readlink(p).encode()
            elif not p.is_file():  # FIFOs, sockets: never open them
                out[rel] = f"special|mode={p.lstat().st_mode:o}".encode()
            else:
                out[rel] = p.read_bytes() + f"|mode={p.stat().st_mode:o}".encode()
    return out


@pytest.fixture
def unchanged() -> Callable[[Path], Iterator[None]]:
    """``with unchanged(root): ...`` asserts that nothing under root changed."""
    import contextlib

    @contextlib.contextmanager
    def check(root: Path) -> Iterator[None]:
        before = snapshot(root)
        yield
        after = snapshot(root)
        assert after == before, sorted(set(after.items()) ^ set(before.items()))[:5]

    return check
