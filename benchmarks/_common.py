"""Helpers shared by the benchmark scripts (stdlib only)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

MIB = 1024 * 1024


class CommandFailed(RuntimeError):
    """A benchmarked command exited non-zero."""

    def __init__(
        self,
        cmd: Sequence[str],
        cwd: str | os.PathLike[str] | None,
        rc: int,
        stdout: str,
        stderr: str,
    ) -> None:
        self.cmd = list(cmd)
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(self.describe())

    def describe(self) -> str:
        def tail(text: str, lines: int = 15) -> str:
            kept = text.rstrip().splitlines()[-lines:]
            return "\n".join("    " + line for line in kept) or "    (empty)"

        return (
            f"command failed (exit {self.rc}): {' '.join(self.cmd)}\n"
            f"  cwd: {self.cwd}\n  stdout:\n{tail(self.stdout)}\n  stderr:\n{tail(self.stderr)}"
        )


REPO_ROOT = Path(__file__).resolve().parent.parent


def lambdaver_cmd() -> list[str]:
    """How to run lambdaver: the console script next to sys.executable, else ``-m``."""
    script = Path(sys.executable).parent / "lambdaver"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "lambdaver"]


def source_env() -> dict[str, str]:
    """PYTHONPATH=<checkout> when lambdaver is not installed in this interpreter."""
    if importlib.util.find_spec("lambdaver") is not None:
        return {}
    if not (REPO_ROOT / "lambdaver").is_dir():
        return {}
    old = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{old}" if old else str(REPO_ROOT)}


def bench_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment independent of the user's git and lambdaver configuration.

    HOME (and so the user config directories) is ``home``; GIT_* and LAMBDAVER_*
    variables are dropped.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "LAMBDAVER_"))}
    # Bytecode is cached as in a normal install: without this every start recompiles
    # lambdaver from source (an editable install writes its .pyc files on first use).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        # No automatic gc/maintenance: it would run detached after a commit and overlap
        # the next timed command (this favours git slightly).
        GIT_CONFIG_COUNT="2",
        GIT_CONFIG_KEY_0="gc.auto",
        GIT_CONFIG_VALUE_0="0",
        GIT_CONFIG_KEY_1="maintenance.auto",
        GIT_CONFIG_VALUE_1="false",
    )
    env.update(source_env())
    if extra:
        env.update(extra)
    return env


def run(
    cmd: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    capture: bool = True,
    check: bool = True,
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``cmd``; return (wall seconds, completed process).  Raises CommandFailed."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if check and proc.returncode != 0:
        raise CommandFailed(cmd, cwd, proc.returncode, proc.stdout or "", proc.stderr or "")
    return elapsed, proc


def children_cpu() -> float:
    """CPU seconds (user + sys) used so far by this process's waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return num / den


def fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def fmt_x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def fmt_mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / MIB:.1f} MiB"


def verdict(value: float | None, target: float | None) -> str:
    if target is None:
        return ""
    if value is None:
        return "n/a"
    return "met" if value <= target else "MISSED"


def disk_usage(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(apparent bytes of regular files, allocated bytes st_blocks*512 incl. dirs), like du.

    Hard-linked files are counted once.
    """
    apparent = allocated = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirnames, filenames in os.walk(path):
        allocated += os.lstat(dirpath).st_blocks * 512
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def tool_version(cmd: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(
            list(cmd),
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc.__class__.__name__})"
    out = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0 or not out:
        return f"unavailable (exit {proc.returncode})"
    return out[0]


def machine_info() -> dict[str, str | int | None]:
    git = tool_version(["git", "--version"]).removeprefix("git version ")
    lambdaver = tool_version([*lambdaver_cmd(), "--version"], {**os.environ, **source_env()})
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "git": git,
        "lambdaver": lambdaver.removeprefix("lambdaver, version "),
        "lambdaver_from": "source checkout (PYTHONPATH)" if source_env() else "installed",
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(info: Mapping[str, object]) -> str:
    source = str(info.get("lambdaver_from", "")).startswith("source")
    return (
        f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"git {info['git']}, lambdaver {info['lambdaver']}"
        f"{' (source checkout)' if source else ''}, {info['date']}"
    )


# When this process last deleted files (see settle_after_removals).
_last_removal = 0.0


def settle_after_removals() -> float:
    """Wait until files deleted by this process no longer slow down creating new ones;
    return the seconds waited.

    ext4 without a journal (this benchmark machine's disk) skips, when it allocates an
    inode, every inode deleted within the last minute (``RECENTCY_MIN`` in the kernel's
    ``fs/ext4/ialloc.c``; five minutes more while that inode table block is not yet
    written back), looking each one up in the buffer cache: after deleting a 20,000-file
    tree, creating files costs several times more for that minute (``perf`` shows
    ``recently_deleted`` and ``find_get_block_common`` on top).  That is the benchmark's own
    doing, so after a sync (which writes those blocks back) timed runs wait a minute."""
    window = 61.0
    os.sync()
    wait = _last_removal + window - time.monotonic()
    if _last_removal and wait > 0:
        time.sleep(wait)
        return wait
    return 0.0


def remove_tree(path: str | os.PathLike[str]) -> None:
    """rmtree that also copes with read-only directories (content stores often are)."""
    global _last_removal
    if not os.path.lexists(path):
        return
    _last_removal = time.monotonic()
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        for dirpath, dirnames, _filenames in os.walk(path):
            for name in dirnames:
                sub = os.path.join(dirpath, name)
                if not os.path.islink(sub):
                    os.chmod(sub, 0o700)
        shutil.rmtree(path)
    else:
        os.unlink(path)
