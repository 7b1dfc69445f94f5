"""Ctrl-C during ``invoke``: honoured at every point of the command's life.

A Ctrl-C at a terminal sends SIGINT to the terminal's whole process group: lambdaver and,
until it moves to a process group of its own, the function's process.  Wherever it lands
(loading, resolving, starting the function's process, the handler's sleep, tearing
down), lambdaver must exit 130 with ``Interrupted.`` on stderr, print no traceback, and
leave no process behind; a Ctrl-C after the handler returned may instead let the command
finish (exit 0).  See docs/runtime.md ("Ctrl-C").

Every run is bounded (10 s) and everything it started is killed afterwards: lambdaver's
process group, the function's process group and any process carrying the run's token in
its environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdaver.runtime import interpreter

from conftest import LAMBDAVER_SCRIPT, Fn

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and LAMBDAVER_SCRIPT.exists()),
    reason="needs /proc and the installed lambdaver script",
)

SLEEP_S = 0.5
HANDLER = """\
import os, time
_dir = os.environ["SIGTEST_DIR"]
with open(os.path.join(_dir, "pids"), "a") as f:
    f.write(f"{os.getpid()} {os.getpgid(0)}\\n")
def handler(event, context):
    time.sleep(event["sleep"])
    open(os.path.join(_dir, "done"), "w").close()
    return "slept"
"""


class Harness:
    """Run ``invoke`` of a sleeping handler and interrupt it; check what is left."""

    def __init__(self, fn: Fn, work: Path, spawn: bool) -> None:
        self.fn = fn
        self.work = work
        self.token = uuid.uuid4().hex
        fn.write("app.py", HANDLER)
        env = {"PATH": os.environ.get("PATH", os.defpath)}
        runtime = interpreter.CURRENT_RUNTIME
        if spawn:  # another runtime name, found on PATH: the function is spawned, not forked
            runtime = "python3.12" if runtime != "python3.12" else "python3.11"
            bindir = work / "bin"
            bindir.mkdir()
            (bindir / runtime).symlink_to(sys.executable)
            env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
        self.env = {**os.environ, **env, "SIGTEST_TOKEN": self.token}
        fn.ok("config", "set", "--runtime", runtime, "--timeout", "30",
              "--env", f"SIGTEST_DIR={work}", "--env", f"SIGTEST_TOKEN={self.token}")  # fmt: skip

    def start(self) -> tuple[subprocess.Popen[bytes], Path, Path]:
        for name in ("pids", "done"):
            (self.work / name).unlink(missing_ok=True)
        out, err = self.work / "stdout", self.work / "stderr"
        with out.open("wb") as o, err.open("wb") as e:
            p = subprocess.Popen(
                [str(LAMBDAVER_SCRIPT), "-C", str(self.fn.root), "--output", "json", "invoke",
                 "--payload", json.dumps({"sleep": SLEEP_S})],
                stdin=subprocess.DEVNULL, stdout=o, stderr=e, start_new_session=True,
                # import times on stderr tell when lambdaver's own code started running
                env={**self.env, "PYTHONPROFILEIMPORTTIME": "1"},
            )  # fmt: skip
        return p, out, err

    def wait_for(
        self, p: subprocess.Popen[bytes], ready: Callable[[], bool], limit: float = 10
    ) -> None:
        until = time.monotonic() + limit
        while not ready() and p.poll() is None and time.monotonic() < until:
            time.sleep(0.0005)

    def run(self, anchor: str, delay: float) -> dict[str, object]:
        """One interrupted invoke: SIGINT to its process group ``delay`` s after
        ``anchor`` ("loaded": lambdaver's entry module ran; "done": the handler returned)."""
        p, out, err = self.start()
        try:
            if anchor == "loaded":
                self.wait_for(p, lambda: b"| lambdaver.entry\n" in err.read_bytes())
            else:
                self.wait_for(p, (self.work / "done").exists)
            time.sleep(delay)
            after_handler = (self.work / "done").exists()
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"Ctrl-C {delay * 1000:.1f} ms after {anchor} not honoured in 10 s")
            left = self.processes()
            groups = [pg for pg in self.function_groups() if _group_exists(pg)]
            return {
                "status": p.returncode,
                "stdout": out.read_text(),
                "stderr": "".join(
                    line
                    for line in err.read_text().splitlines(keepends=True)
                    if not line.startswith("import time:")
                ),
                "after_handler": after_handler,
                "left": left,
                "groups": groups,
            }
        finally:
            self.kill_all(p)

    def function_groups(self) -> list[int]:
        try:
            text = (self.work / "pids").read_text()
        except FileNotFoundError:
            return []
        return [int(line.split()[1]) for line in text.splitlines() if line.strip()]

    def processes(self) -> list[int]:
        """Live processes carrying this harness's token (lambdaver's or the function's)."""
        found = []
        needle = f"SIGTEST_TOKEN={self.token}".encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if needle in f.read():
                        found.append(int(entry))
            except OSError:
                pass
        return found

    def kill_all(self, p: subprocess.Popen[Any]) -> None:
        for group in [p.pid, *self.function_groups()]:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if p.poll() is None:
            p.kill()
        p.wait()


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check(r: dict[str, object], where: str) -> None:
    stderr = str(r["stderr"])
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, (where, r)
    assert r["left"] == [], (where, r)  # nothing left running...
    assert r["groups"] == [], (where, r)  # ...and the function's process group is gone
    if r["status"] == 0 and r["after_handler"]:  # too late to stop it: it finished
        assert r["stdout"] == '"slept"\n', (where, r)  # the payload; metadata on stderr
        assert json.loads(stderr)["StatusCode"] == 200, (where, r)
        return
    if r["status"] == 130 and r["after_handler"] and r["stdout"]:
        # the Ctrl-C landed after the whole answer was written, as the command ended: the
        # answer stands, whole, and the exit says it was interrupted
        assert r["stdout"] == '"slept"\n', (where, r)
        metadata, _, last = stderr.strip().rpartition("\n")
        assert last == "Interrupted.", (where, r)
        assert not metadata or json.loads(metadata)["StatusCode"] == 200, (where, r)
        return
    assert (r["status"], stderr.strip()) == (130, "Interrupted."), (where, r)


@pytest.fixture
def harness(fn: Fn, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Harness]:
    work = tmp_path / "sigtest"
    work.mkdir()
    yield Harness(fn, work, spawn=request.param == "spawn")


@pytest.mark.parametrize(("harness", "points"), [("fork", 24), ("spawn", 10)], indirect=["harness"])
def test_ctrl_c_at_any_point_of_invoke_is_honoured(harness: Harness, points: int) -> None:
    # How long an uninterrupted invoke takes, from lambdaver's start to its end.
    p, _, err = harness.start()
    try:
        harness.wait_for(p, lambda: b"| lambdaver.entry\n" in err.read_bytes())
        began = time.monotonic()
        assert p.wait(timeout=30) == 0
        span = time.monotonic() - began
    finally:
        harness.kill_all(p)
    # Spread over start-up, the start of the function's process and the handler's sleep
    # (denser at first, where most happens in least time), then just after the handler.
    for i in range(points):
        delay = span * (i / points) ** 2
        check(harness.run("loaded", delay), f"{delay * 1000:.1f} ms after loading")
    for delay in (0.0, 0.001, 0.003, 0.01):
        check(harness.run("done", delay), f"{delay * 1000:.1f} ms after the handler")


# --- interrupts Python itself would drop -------------------------------------------------

INTERRUPT_INSIDE = """
import os, runpy, signal, sys

WHERE = sys.argv[1]
if WHERE == "fork":
    # SIGINT while the function's process is being started: the parent's at-fork hook
    # runs inside os.fork(), before lambdaver can record the new process.
    os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))
else:
    # SIGINT acted on inside a finaliser (as in importlib's callback that ends every
    # import): Python reports such an exception as "ignored" and drops it.
    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)

    class Hook:
        def find_spec(self, name, path=None, target=None):
            if name == "lambdaver.runtime.invoke":
                sys.meta_path.remove(self)
                Finalised()
            return None

    sys.meta_path.insert(0, Hook())
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
"""


@pytest.mark.parametrize("where", ["fork", "finaliser"])
@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_a_ctrl_c_python_would_drop_still_interrupts_invoke(harness: Harness, where: str) -> None:
    p = subprocess.Popen(
        [sys.executable, "-c", INTERRUPT_INSIDE, where, str(LAMBDAVER_SCRIPT),
         "-C", str(harness.fn.root), "--output", "json", "invoke",
         "--payload", json.dumps({"sleep": 5})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=harness.env,
    )  # fmt: skip
    try:
        _, stderr = p.communicate(timeout=4)  # well before the handler's 5 s are over
    except subprocess.TimeoutExpired:
        pytest.fail(f"the Ctrl-C ({where}) was lost: invoke ran on")
    finally:
        left = harness.processes()
        groups = [pg for pg in harness.function_groups() if _group_exists(pg)]
        harness.kill_all(p)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert (p.returncode, stderr.strip()) == (130, "Interrupted.")
    assert (left, groups) == ([], [])
