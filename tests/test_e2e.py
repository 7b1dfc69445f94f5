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


def test_output_is_complete_when_the_process_ends_without_teardown(tmp_path: Path) -> None:
    """The console script ends with os._exit after flushing (lambdaver/entry.py): a large
    output must still arrive whole, through a pipe and into a file, with the right status."""
    import subprocess

    fn = tmp_path / "big"
    fn.mkdir()
    (fn / "app.py").write_text("def handler(event, context):\n    return 'x' * 300000\n")
    assert run_subprocess("init", cwd=fn).returncode == 0
    for i in range(40):  # 41 entries, about 40 KB of JSON
        (fn / "app.py").write_text(
            f"def handler(event, context):\n    return 'x' * 300000  # {i}\n"
        )
        assert run_subprocess("publish", cwd=fn).returncode == 0
    r = run_subprocess("versions", "list", cwd=fn)
    assert r.returncode == 0
    assert [v["Version"] for v in json.loads(r.stdout)["Versions"]][-1] == "40"
    r = run_subprocess("invoke", "--qualifier", "40", "-", cwd=fn)
    assert (r.returncode, r.stdout) == (0, '"' + "x" * 300000 + '"\n')
    out = tmp_path / "out.json"
    r = run_subprocess("invoke", "--qualifier", "40", str(out), cwd=fn)
    assert r.returncode == 0 and out.read_text() == '"' + "x" * 300000 + '"'
    (fn / "app.py").write_text("def handler(event, context):\n    raise ValueError('no')\n")
    r = run_subprocess("invoke", "-", cwd=fn)
    assert r.returncode == 1 and json.loads(r.stdout)["errorType"] == "ValueError"
    # a reader that stops early: no traceback, no complaint
    proc = subprocess.run(  # noqa: S602 - a shell pipeline is what is tested
        f"{_lambdaver()} versions list | head -c 10",
        shell=True, cwd=fn, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.stdout == '{\n    "Ver'
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr


def test_with_exit_handlers_the_interpreter_exits_normally(tmp_path: Path) -> None:
    """Something registered with atexit (a plugin, a debugger) still runs."""
    import subprocess
    import sys

    marker = tmp_path / "ran"
    code = (
        "import atexit, sys; "
        f"atexit.register(lambda: open({str(marker)!r}, 'w').close()); "
        "sys.argv = ['lambdaver', '--version']; "
        "from lambdaver.entry import main; main()"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0 and r.stdout.startswith("lambdaver, version")
    assert marker.exists()


def _lambdaver() -> str:
    """The command run_subprocess runs, for a shell."""
    import shlex
    import sys

    from conftest import LAMBDAVER_SCRIPT

    if LAMBDAVER_SCRIPT.exists():
        return shlex.quote(str(LAMBDAVER_SCRIPT))
    return f"{shlex.quote(sys.executable)} -m lambdaver"


def test_the_function_runs_with_the_garbage_collector_on(tmp_path: Path) -> None:
    """The command itself runs without the cyclic collector (lambdaver/entry.py); the
    function's process, forked from it, must have it back, as a fresh interpreter does."""
    fn = tmp_path / "gc"
    fn.mkdir()
    (fn / "app.py").write_text(
        "import gc\n\ndef handler(event, context):\n    return {'gc': gc.isenabled()}\n"
    )
    assert run_subprocess("init", cwd=fn).returncode == 0
    r = run_subprocess("invoke", "-", cwd=fn)
    assert (r.returncode, json.loads(r.stdout)) == (0, {"gc": True})


def test_a_packed_function_from_a_shell(tmp_path: Path) -> None:
    """A function of a few hundred files: its first publish writes a pack, and the shell
    sees the same versions, code, invoke, gc and fsck as with loose objects."""
    fn = tmp_path / "big"
    shutil.copytree(EXAMPLE, fn, ignore=shutil.ignore_patterns(".lambdaver"))
    for i in range(300):
        sub = fn / "vendor" / f"lib{i % 9}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"mod{i}.py").write_text(f"VALUE = {i}\n")
    assert run_subprocess("init", cwd=fn).returncode == 0
    r = run_subprocess("publish", "--query", "Version", "--output", "text", cwd=fn)
    assert (r.returncode, r.stdout, r.stderr) == (0, "1\n", "")
    packs = list((fn / ".lambdaver" / "objects" / "pack").glob("*.idx"))
    assert len(packs) == 1
    config = json.loads((fn / ".lambdaver" / "config").read_text())
    assert config["format_version"] == 2
    r = run_subprocess("versions", "show", "1", "--query", "length(Files)", cwd=fn)
    assert int(r.stdout) >= 300
    (fn / "app.py").write_text((fn / "app.py").read_text() + "\n# v2\n")
    r = run_subprocess("invoke", "--qualifier", "1", "--payload", "file://event.json", cwd=fn)
    assert r.returncode == 0, r.stderr
    r = run_subprocess("fsck", "--query", "length(Problems)", cwd=fn)
    assert (r.returncode, r.stdout) == (0, "0\n")
    assert run_subprocess("gc", cwd=fn).returncode == 0
    r = run_subprocess("publish", "--query", "Version", "--output", "text", cwd=fn)
    assert (r.returncode, r.stdout) == (0, "2\n")
    assert list((fn / ".lambdaver" / "objects" / "pack").glob("*.idx")) == packs  # app.py: loose
