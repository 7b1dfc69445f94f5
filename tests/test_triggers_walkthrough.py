"""The walkthrough at the end of docs/triggers.md is a script: every ``$ `` line is run, in
order, in a fresh directory, against a real ``lambdaver serve``, and every output the page
shows is checked, so the page cannot drift from the tool.

How the lines are run: ``cd DIR`` and ``export K=V`` are interpreted; ``lambdaver serve
... &`` starts the server with tests/serve_helpers.py (127.0.0.1, a free port, always
killed); ``curl -i URL`` is sent with urllib to that server and printed as curl prints it;
``kill %1`` stops the server; every other line runs in bash with the installed
``lambdaver`` first on PATH.

In a shown output, ``...`` matches any run of characters within a line, and a line that is
only ``...`` any number of lines.  The URL id and the port the page shows are examples:
they stand for the ones ``create-function-url-config`` and ``serve`` printed.  A
``lambdaver logs`` line is retried (for at most LOGS_SECONDS) until its output matches,
since the server delivers a bucket's changes within about half a second."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from serve_helpers import Served, start
from test_walkthrough import matches, parse

from conftest import Fn, run_cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "triggers.md"
HEADING = "## Walkthrough: triggers follow the alias"
EXAMPLE_URL_ID = "k4v0q3m8x2b7d9f1h5j6l0n2p4r8t3w1"
EXAMPLE_PORT = "41237"
BIN = str(Path(sys.executable).parent)
LOGS_SECONDS = 30.0


def walkthrough_text() -> str:
    text = DOC.read_text()
    start_at = text.index(HEADING)
    end = text.find("\n## ", start_at + len(HEADING))
    return text[start_at : end if end >= 0 else len(text)]


class Session:
    """The state a shell would keep: directory, exported variables, the background
    server, and the URL id and port the examples stand for."""

    def __init__(self, root: Path) -> None:
        self.cwd = root
        self.env: dict[str, str] = {}
        self.served: Served | None = None
        self.url_id: str | None = None
        self.port: str | None = None

    def real(self, text: str) -> str:
        """``text`` with the page's example URL id and port replaced by this run's."""
        if self.url_id:
            text = text.replace(EXAMPLE_URL_ID, self.url_id)
        if self.port:
            text = text.replace(f":{EXAMPLE_PORT}", f":{self.port}")
        return text

    def run(self, command: str) -> tuple[int, str]:
        words = shlex.split(command)
        if words[0] == "cd":
            self.cwd = self.cwd / words[1]
            return 0, ""
        if words[0] == "export":
            key, _, value = words[1].partition("=")
            self.env[key] = value
            return 0, ""
        if words[:2] == ["lambdaver", "serve"]:
            assert words[-1] == "&" and "--port" in words, command
            assert self.served is None, "a second server"
            self.served = start(self.cwd, env=self.env)
            self.port = self.served.url.rsplit(":", 1)[1]
            return 0, f"Listening on {self.served.url}\n"
        if words[0] == "curl":
            return 0, self.curl(words)
        if words == ["kill", "%1"]:
            assert self.served is not None
            code = self.served.stop()
            self.served = None
            return code, ""
        p = subprocess.run(
            ["bash", "-c", command],
            cwd=self.cwd,
            env={**os.environ, **self.env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert not p.stderr.strip() or p.returncode != 0, f"stderr: {p.stderr}"
        if "create-function-url-config" in command and p.returncode == 0:
            url = json.loads(p.stdout)["FunctionUrl"]
            self.url_id = url.split("//", 1)[1].split(".", 1)[0]
        return p.returncode, p.stdout + (p.stderr if p.returncode else "")

    def curl(self, words: list[str]) -> str:
        """``curl -i URL`` sent to the background server, printed as curl prints it."""
        assert words[1:2] == ["-i"] and len(words) == 3, words
        assert self.served is not None, "curl before the server started"
        url = self.real(words[2])
        m = re.fullmatch(r"http://([^/:]+):(\d+)(/.*)", url)
        assert m, url
        headers = {}
        if m.group(1) != "127.0.0.1":  # the *.localhost form: the host goes in Host
            headers["Host"] = f"{m.group(1)}:{m.group(2)}"
        target = f"{self.served.url}{m.group(3)}"
        req = urllib.request.Request(target, headers=headers)  # noqa: S310 - our own server
        try:
            with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310
                status, reason, got, body = r.status, r.reason, r.headers, r.read()
        except urllib.error.HTTPError as e:
            with e:
                status, reason, got, body = e.code, e.reason, e.headers, e.read()
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in got.items()), ""]
        return "\n".join(lines) + "\n" + body.decode() + "\n"

    def close(self) -> None:
        if self.served is not None:
            self.served.kill()


def test_the_walkthrough_parses() -> None:
    commands = [s.command for s in parse(walkthrough_text())]
    for needed in (
        "lambdaver add-permission --qualifier prod --statement-id s3",
        "lambdaver add-permission --qualifier prod --statement-id url",
        "lambdaver create-function-url-config --qualifier prod --auth-type NONE",
        "lambdaver bucket create",
        "lambdaver bucket notify",
        "lambdaver serve --port 0 &",
        "lambdaver alias update prod --version 2",
        "lambdaver alias update prod --version 3",
        "lambdaver rollback prod",
    ):
        assert any(c.startswith(needed) for c in commands), needed
    assert sum(c.startswith("curl ") for c in commands) == 4
    assert sum(c.startswith("lambdaver triggers list") for c in commands) == 2
    assert commands[-1] == "kill %1"


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    session = Session(tmp_path)
    outputs: dict[str, list[str]] = {}
    try:
        for step in parse(walkthrough_text()):
            where = f"triggers.md walkthrough line {step.line}: $ {step.command}"
            deadline = time.monotonic() + LOGS_SECONDS
            while True:
                code, out = session.run(step.command)
                expected = [session.real(line) for line in step.expected]
                ok = code == 0 and matches(expected, out.splitlines())
                retry = step.command.startswith("lambdaver logs ")
                if ok or not retry or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert code == 0, f"{where}\nexit {code}\n{out}"
            assert ok, (
                f"{where}\n--- the page shows:\n"
                + "\n".join(expected)
                + "\n--- the tool printed:\n"
                + out
            )
            outputs.setdefault(step.command, []).append(out)
    finally:
        session.close()
    # the key facts, beyond the shown outputs: the triggers are untouched, ids included,
    # and the URL answered versions 1, 2, then 2 again (3 answered 502)
    lists = [
        o for c, outs in outputs.items() if c.startswith("lambdaver triggers list") for o in outs
    ]
    assert len(lists) == 2 and lists[0] == lists[-1]
    statuses = []
    for command, outs in outputs.items():
        if command.startswith("curl "):
            statuses += [o.splitlines()[0].split()[1] + " " + o.splitlines()[-1] for o in outs]
    assert [s.split(" ", 1)[0] for s in statuses] == ["200", "200", "502", "200"]
    versions = [json.loads(s.split(" ", 1)[1])["version"] for s in statuses if s[:3] == "200"]
    assert versions == ["1", "2", "2"]


def test_url_invocations_name_their_trigger(fn: Fn, tmp_path: Path) -> None:
    """An invocation through a function URL is journaled as a RequestResponse whose
    Trigger is ``function-url:URLID``; a plain invoke carries no Trigger."""
    fn.ok("publish")
    fn.ok("alias", "create", "prod", "--version", "1")
    fn.ok(
        "add-permission", "--qualifier", "prod", "--statement-id", "url",
        "--action", "lambda:InvokeFunctionUrl", "--principal", "*",
        "--function-url-auth-type", "NONE",
    )  # fmt: skip
    conf = fn.ok("create-function-url-config", "--qualifier", "prod", "--auth-type", "NONE")
    url_id = conf["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
    fn.ok("invoke", "--qualifier", "prod", str(tmp_path / "out.json"))
    served = start(fn.root)
    try:
        target = f"{served.url}/lambda-url/{url_id}/x"
        with urllib.request.urlopen(target, timeout=60) as r:  # noqa: S310 - our own server
            assert r.status == 200
    finally:
        served.kill()
    events = fn.ok("logs")["Events"]
    assert len(events) == 2
    assert "Trigger" not in events[0]
    assert events[1]["InvocationType"] == "RequestResponse"
    assert events[1]["Trigger"] == f"function-url:{url_id}"
    assert events[1]["Qualifier"] == "prod" and events[1]["ExecutedVersion"] == "1"
    r = run_cli("-C", str(fn.root), "logs", "--output", "text", "--query", "Events[].[Trigger]")
    assert r.stdout.split() == ["None", f"function-url:{url_id}"]
