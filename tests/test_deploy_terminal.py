"""``lambdaver deploy``'s live view as a person sees it: the installed command runs under
a real pseudo-terminal of 80x24 (its controlling terminal, TERM=xterm-256color), and
what it writes is fed to pyte, a terminal emulator, for the screen left at the end.
Checked: no line wider than the terminal, the view's columns, the final result, the exit
statuses (0 good, 1 alarmed, 130 Ctrl-C) and a sane terminal after Ctrl-C (the cursor,
which rich's live view hides, shown again)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pyte
import pytest

from conftest import LAMBDAVER_SCRIPT, Fn

COLUMNS, ROWS = 80, 24
#: CSI (colours, cursor moves, erase, ?25l/?25h), OSC (titles, links), and charset picks
ANSI = re.compile(
    rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]"
)
SHOW_CURSOR, HIDE_CURSOR = b"\x1b[?25h", b"\x1b[?25l"

HANDLER = (
    "def handler(event, context):\n"
    "    if event.get('fail') and VERSION == 2:\n"
    "        raise RuntimeError('boom')\n"
    "    return {{'version': VERSION}}\n\n"
    "VERSION = {version}\n"
)


@pytest.fixture
def two(fn: Fn) -> Fn:
    """Versions 1 and 2 (2 fails on {"fail": true}); alias prod on 1."""
    for version in (1, 2):
        fn.write("app.py", HANDLER.format(version=version))
        assert fn.publish() == str(version)
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


@dataclass
class Session:
    status: int
    raw: bytes  # everything the command wrote on its terminal
    screen: list[str]  # what the 80x24 screen shows at the end
    cursor_hidden: bool  # at the end
    interrupted_at: int | None  # offset in ``raw`` when Ctrl-C was typed

    def lines(self) -> list[str]:
        """The lines written, escape sequences taken out (a redraw's lines included), and
        the terminal's own echo of a typed Ctrl-C (``^C``, which the line discipline writes
        wherever the cursor is, even at the end of a full line)."""
        text = ANSI.sub(b"", self.raw).replace(b"^C", b"").decode("utf-8", "replace")
        return re.split(r"\r\n|\n|\r", text)


def in_terminal(
    root: Path, *args: str, ctrl_c_after: str | None = None, timeout: float = 60.0
) -> Session:
    """Run ``lambdaver -C ROOT ARGS`` on a new pseudo-terminal and read all it writes
    until it exits (at most ``timeout`` seconds).  ``ctrl_c_after``: type Ctrl-C once
    the screen shows this text."""
    master, slave = os.openpty()

    def controlling_terminal() -> None:  # in the child, after setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(ROWS))
    proc = subprocess.Popen(
        [str(LAMBDAVER_SCRIPT), "-C", str(root), *args],
        stdin=slave, stdout=slave, stderr=slave, env=env,
        start_new_session=True, preexec_fn=controlling_terminal,  # noqa: PLW1509
    )  # fmt: skip
    os.close(slave)
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    raw = b""
    interrupted_at = None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                raw += chunk
                stream.feed(chunk)
            elif proc.poll() is not None:
                break
            if (
                ctrl_c_after is not None
                and interrupted_at is None
                and any(ctrl_c_after in line for line in screen.display)
            ):
                interrupted_at = len(raw)
                os.write(master, b"\x03")
        else:
            raise AssertionError(f"still running after {timeout} s: {raw[-2000:]!r}")
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    return Session(status, raw, list(screen.display), screen.cursor.hidden, interrupted_at)


def check_view(session: Session) -> None:
    """What every run must show: lines within 80 columns, the view's columns, a cursor
    that is visible at the end."""
    too_wide = [line for line in session.lines() if len(line) > COLUMNS]
    assert too_wide == [], too_wide
    assert HIDE_CURSOR in session.raw  # the live view was drawn, not the pipe's lines
    header = next((ln for ln in session.screen if ln.startswith("Version")), None)
    assert header is not None, "\n".join(session.screen)
    assert header.split() == ["Version", "Weight", "Invocations", "Errors", "p95", "ms"]
    assert not session.cursor_hidden
    assert session.raw.rfind(SHOW_CURSOR) > session.raw.rfind(HIDE_CURSOR)


def shown(session: Session) -> str:
    return "\n".join(line.rstrip() for line in session.screen)


def rows_of(session: Session) -> dict[str, list[str]]:
    """The view's rows per version as the final screen shows them."""
    at = next(i for i, ln in enumerate(session.screen) if ln.startswith("Version"))
    out = {}
    for line in session.screen[at + 1 :]:
        cells = line.split()
        if len(cells) != 5 or not cells[0].isdigit():
            break
        out[cells[0]] = cells[1:]
    return out


def test_a_good_release_on_a_terminal(two: Fn) -> None:
    s = in_terminal(
        two.root, "deploy", "prod", "--version", "2", "--strategy", "Canary10Percent5Minutes",
        "--speed", "600", "--alarm", "errors>0", "--output", "text", "--query", "Status",
    )  # fmt: skip
    assert s.status == 0, shown(s)
    check_view(s)
    screen = shown(s)
    assert "step 2/2 (done), finished" in screen
    assert rows_of(s) == {"1": ["0%", "0", "0", "0"], "2": ["100%", "0", "0", "0"]}
    assert "alarms: errors>0" in screen
    # the view's outcome, then the result in the chosen output format (stdout)
    assert screen.rstrip().splitlines()[-2:] == ["Succeeded", "Succeeded"]


def test_an_alarmed_release_on_a_terminal(two: Fn) -> None:
    events = two.root.parent / "events.jsonl"
    events.write_text('{"fail": true}\n')
    s = in_terminal(
        two.root, "deploy", "prod", "--version", "2", "--strategy", "Canary50Percent30Minutes",
        "--speed", "600", "--alarm", "errors>0", "--traffic", str(events), "--rate", "20",
        "--output", "text", "--query", "[Status, ErrorInformation.Code]",
    )  # fmt: skip
    assert s.status == 1, shown(s)
    check_view(s)
    screen = shown(s)
    assert "step 1/2 (done), finished" in screen
    version_2 = rows_of(s)["2"]
    assert version_2[0] == "0%" and int(version_2[2]) >= 1  # rolled back, after errors
    # the outcome, wrapped within 80 columns by the view, then the result
    joined = " ".join(ln.strip() for ln in s.screen if ln.strip())
    assert "Failed: alarm 'errors>0' tripped: errors was" in joined
    assert "alias prod rolled back to version 1" in joined
    assert screen.rstrip().splitlines()[-1].split() == ["Failed", "ALARM_ACTIVE"]
    assert two.ok("alias", "get", "prod")["FunctionVersion"] == "1"


def test_ctrl_c_on_a_terminal_stops_rolls_back_and_shows_the_cursor(two: Fn) -> None:
    s = in_terminal(
        two.root, "deploy", "prod", "--version", "2", "--strategy", "Canary10Percent30Minutes",
        "--speed", "600", "--output", "text", "--query", "Status",
        ctrl_c_after="step 1/2 (shifting)",
    )  # fmt: skip
    assert s.interrupted_at is not None, shown(s)
    assert s.status == 130, shown(s)
    check_view(s)
    assert s.raw.find(SHOW_CURSOR, s.interrupted_at) != -1  # the terminal was given back
    screen = shown(s)
    assert "Stopped: interrupted (Ctrl-C); alias prod rolled back to version 1" in screen
    assert rows_of(s)["1"][0] == "100%"  # the last frame shows the rollback
    assert screen.rstrip().splitlines()[-2:] == [
        "Stopped",
        "Interrupted: the deployment was stopped and rolled back.",
    ]
    alias = two.ok("alias", "get", "prod")
    assert alias["FunctionVersion"] == "1" and "RoutingConfig" not in alias
    assert [e["Change"] for e in two.ok("alias", "history", "prod")["History"]] == [
        "rollback", "deploy", "create",
    ]  # fmt: skip
