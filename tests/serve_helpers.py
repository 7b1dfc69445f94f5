"""Start ``lambdaver serve --port 0`` as a subprocess (its own process group, 127.0.0.1
only) and talk to it with boto3; shared by the server tests.  Loaded as a pytest plugin
(tests/conftest.py), so its fixtures ``served`` and ``lam`` are there for every module."""

from __future__ import annotations

import io
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LAMBDAVER = Path(sys.executable).parent / "lambdaver"
START_SECONDS = 30.0
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def aws_cli_env(home: Path) -> dict[str, str]:
    """The environment of an aws CLI run as a user runs it: its own config and credentials
    files (region us-east-1, JSON output, any keys) in ``home``, nothing else inherited."""
    (home / "aws-config").write_text("[default]\nregion = us-east-1\noutput = json\n")
    (home / "aws-credentials").write_text(
        "[default]\naws_access_key_id = x\naws_secret_access_key = x\n"
    )
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


class Served:
    """A running server: its process, URL and what it wrote on stderr."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, lines: list[str]) -> None:
        self.proc = proc
        self.url = url
        self.lines = lines
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace"))

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"max_attempts": 1}, read_timeout=60, connect_timeout=5),
        )

    def kill(self) -> None:
        """SIGKILL the server's whole process group and reap it."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self._drain.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` to the server and wait for its exit status."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.kill()


def start(directory: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    """``lambdaver serve DIRECTORY --port 0 ARGS``; returns once it printed its Listening
    line (at most START_SECONDS)."""
    proc = subprocess.Popen(
        [str(LAMBDAVER), "serve", str(directory), "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stderr is not None
    lines: list[str] = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + START_SECONDS
    buffer = b""
    try:
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                text = line.decode(errors="replace")
                lines.append(text + "\n")
                if text.startswith("Listening on http://127.0.0.1:"):
                    return Served(proc, text.split("Listening on ", 1)[1], lines)
    finally:
        sel.close()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
    proc.stderr.close()
    raise AssertionError(f"the server did not start: {''.join(lines)}{buffer.decode()}")


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def error(excinfo: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    """A boto3 ClientError's code, message and HTTP status."""
    e = excinfo.value
    return (
        e.response["Error"]["Code"],
        e.response["Error"]["Message"],
        e.response["ResponseMetadata"]["HTTPStatusCode"],
    )


#: botocore's connection pool (urllib3) sometimes drops a pooled keep-alive connection
#: after an error response without closing its socket; the garbage collector then reports
#: it, at whatever later test it runs in.  Modules of server tests let only that report
#: pass (``pytestmark = DROPPED_SOCKETS``).
DROPPED_SOCKETS = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture(scope="module")
def served(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server on the module's ``project`` directory (a fixture each module defines),
    with a config file of its own; always killed at the end."""
    config = tmp_path_factory.mktemp("cfg") / "config.toml"
    s = start(project, env={"LAMBDAVER_CONFIG": str(config)})
    try:
        yield s
    finally:
        s.kill()


@pytest.fixture
def lam(served: Served) -> Iterator[Any]:
    """A boto3 Lambda client of ``served``, closed at the end (its pooled connections are
    not left to the garbage collector)."""
    client = served.client()
    try:
        yield client
    finally:
        client.close()
