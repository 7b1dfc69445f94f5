"""End to end: the installed ``lambdaver`` command, run like a shell script runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import run_subprocess

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"


def test_bundled_example_round_trip(tmp_path: Path) -> None:
    fn = tmp_path / "hello"
    shutil.copytree(EXAMPLE, fn, ignore=shutil.ignore_patterns(".lambdaver"))
    r = run_subprocess("init", cwd=fn)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["FunctionName"] == "hello"  # json: stdout is a pipe
    r = run_subprocess(
        "publish", "--description", "first", "--query", "Version", "--output", "text", cwd=fn
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "1\n", "")
    (fn / "app.py").write_text((fn / "app.py").read_text() + "\n# v2\n")
    (fn / "debug.log").write_text("ignored by .lambdaverignore\n")
    r = run_subprocess("status", cwd=fn)
    assert json.loads(r.stdout)["Files"] == {"Added": [], "Modified": ["app.py"], "Deleted": []}
    assert run_subprocess("publish", cwd=fn).returncode == 0
    r = run_subprocess("alias", "create", "prod", "--version", "1", cwd=fn)
    assert r.returncode == 0, r.stderr
    r = run_subprocess("update-alias", "--name", "prod", "--function-version", "2",
                       "--routing-config", "-", cwd=fn,
                       input=b'{"AdditionalVersionWeights": {"1": 0.25}}')  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    r = run_subprocess("versions", "delete", "1", cwd=fn)
    assert r.returncode == 254
    assert r.stderr == (
        "An error occurred (ResourceConflictException) when calling the DeleteFunction "
        "operation: Unable to delete version because the following aliases reference it: [prod]\n"
    )
    r = run_subprocess("rollback", "prod", "--query", "FunctionVersion", "--output", "text", cwd=fn)
    assert (r.returncode, r.stdout) == (0, "1\n")
    r = run_subprocess("list-versions-by-function", "--query", "Versions[].[Version, Aliases[0]]",
                       "--output", "text", cwd=fn)  # fmt: skip
    assert r.stdout == "$LATEST\tNone\n1\tprod\n2\tNone\n"


def test_exit_statuses_from_a_shell(tmp_path: Path) -> None:
    r = run_subprocess("status", cwd=tmp_path)
    assert r.returncode == 253
    assert r.stderr.count("\n") == 1 and "RepositoryNotFound" in r.stderr
    r = run_subprocess("frobnicate", cwd=tmp_path)
    assert r.returncode == 2
    r = run_subprocess("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("lambdaver, version")
    assert run_subprocess("init", cwd=tmp_path).returncode == 0
    r = run_subprocess("config", "set", "--timeout", "901", cwd=tmp_path)
    assert r.returncode == 254
    assert "Traceback" not in r.stderr


def test_python_dash_m(tmp_path: Path) -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "lambdaver", "--version"], capture_output=True,
                       text=True, check=False)  # fmt: skip
    assert r.returncode == 0
    assert r.stdout.startswith("lambdaver, version")
