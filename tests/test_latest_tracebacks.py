"""Tracebacks of $LATEST name the user's files; a published version's name its frozen copy."""

from __future__ import annotations

import base64
import json

from conftest import Fn

RAISING = (
    "def helper():\n    raise ValueError('boom')\n\ndef handler(event, context):\n    helper()\n"
)


def _invoke(fn: Fn, *args: str) -> tuple[dict[str, object], str]:
    r = fn("invoke", "--log-type", "Tail", *args)
    assert r.exit_code == 1, r  # a function error
    meta = json.loads(r.stderr)
    return json.loads(r.stdout), base64.b64decode(meta["LogResult"]).decode()


def test_latest_tracebacks_name_the_function_directorys_files(fn: Fn) -> None:
    fn.write("app.py", RAISING)
    error, log = _invoke(fn)
    user_file = str(fn.root / "app.py")
    trace = error["stackTrace"]
    assert isinstance(trace, list)
    assert [line.split(",")[0] for line in trace] == [f'  File "{user_file}"'] * 2
    assert f'File "{user_file}", line 5, in handler' in log
    assert ".lambdaver" not in json.dumps(error) and ".lambdaver" not in log


def test_latest_syntax_errors_name_the_function_directorys_file(fn: Fn) -> None:
    fn.write("app.py", "def handler(e, c:\n    pass\n")
    error, log = _invoke(fn)
    assert error["stackTrace"] == [f'  File "{fn.root / "app.py"}" Line 1\n    def handler(e, c:\n']
    assert ".lambdaver" not in log


def test_a_published_versions_tracebacks_name_its_frozen_copy(fn: Fn) -> None:
    version = fn.publish(**{"app.py": RAISING})
    fn.write("app.py", "def handler(event, context):\n    return 'edited since'\n")
    error, log = _invoke(fn, "--qualifier", version)
    trace = error["stackTrace"]
    assert isinstance(trace, list) and len(trace) == 2
    copy = str(fn.root / ".lambdaver" / "cache" / "run")
    assert all(line.startswith(f'  File "{copy}') for line in trace), trace
    assert f'File "{fn.root / "app.py"}"' not in log
