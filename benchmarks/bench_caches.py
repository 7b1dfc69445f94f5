"""What each cache of derived data saves (cited by docs/performance.md, "Caches").

Every file of derived data (storage/derived.py) is there only to make a command faster,
so each must pay for itself.  This benchmark builds the start-up benchmark's repository
(``--versions`` versions of a 100-file, 2 MiB function, an alias), then, for each cache in
turn, times read verbs with the cache working and with it disabled, interleaved (after
untimed warm-up runs), and reports the medians and what the cache saves.

A cache is disabled by putting a non-empty directory where its file goes: reading it
fails (a miss, as for a missing file) and so does every attempt to save it, so each run
pays the full cost of doing without, and nothing else.  Run it with the Python of a
virtual environment where lambdaver is installed (``pip install .``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_env, lambdaver_cmd, machine_info, machine_line, median, run
from bench_startup import build_repository

WARMUP = 2

#: cache -> its file, relative to .lambdaver/
CACHES = {
    "stat cache": "index",
    "function": "cache/function",
    "settings": "cache/settings",
    "refs": "cache/refs",
    "versions listing": "cache/versions",
    "latest listing": "cache/latest",
}

COMMANDS = {
    "versions list": ["versions", "list", "--output", "json"],
    "config show": ["config", "show", "--output", "json"],
    "alias get": ["alias", "get", "prod", "--output", "json"],
    "invoke 1": ["invoke", "--qualifier", "1", "--output", "json", "/dev/null"],
}


def log(msg: str) -> None:
    print(f"[bench_caches {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Switch:
    """Turns one cache file off (a directory in its place) and on again (its saved copy)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved = path.with_name(path.name + ".bench-saved")

    def off(self) -> None:
        if self.path.is_file():
            self.path.replace(self.saved)
        (self.path / "blocked").mkdir(parents=True, exist_ok=True)

    def on(self) -> None:
        if self.path.is_dir():
            shutil.rmtree(self.path)
        if self.saved.exists():
            shutil.copy2(self.saved, self.path)


def measure(repo: Path, env: dict[str, str], repeat: int) -> dict[str, dict[str, list[float]]]:
    lv = lambdaver_cmd()
    results: dict[str, dict[str, list[float]]] = {}
    for cache, rel in CACHES.items():
        switch = Switch(repo / ".lambdaver" / rel)
        for _ in range(WARMUP):  # make every cache, then save this one's copy
            for args in COMMANDS.values():
                run([*lv, *args], repo, env, capture=False, check=False)
        if switch.path.is_file():
            shutil.copy2(switch.path, switch.saved)
        else:
            log(f"{cache}: no file {rel} after warm-up; measured as always missing")
        for command, args in COMMANDS.items():
            on: list[float] = []
            off: list[float] = []
            for i in range(repeat):
                order = [(True, on), (False, off)] if i % 2 == 0 else [(False, off), (True, on)]
                for enabled, samples in order:
                    switch.on() if enabled else switch.off()
                    elapsed, _ = run([*lv, *args], repo, env, capture=False, check=False)
                    samples.append(elapsed)
            switch.on()
            results.setdefault(cache, {})[command] = [median(on) or 0.0, median(off) or 0.0]
            log(f"{cache:16} {command:14} with {on[0] * 1e3:.1f}.. without {off[0] * 1e3:.1f}..")
        switch.on()
        switch.saved.unlink(missing_ok=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=1000, help="versions (default 1000)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs each (default 15)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lambdaver-bench-caches-"))
    try:
        env = bench_env(work / "home")
        repo = work / "function"
        log(f"building a repository with {args.versions} versions")
        build_repository(repo, args.versions, env, files=100, size_mb=2)
        run([*lambdaver_cmd(), "alias", "create", "prod", "--version", "1"], repo, env)
        results = measure(repo, env, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(machine_line(machine_info()))
    print(f"\ncaches ({args.versions} versions; medians of {args.repeat}; ms with / without)")
    header = f"{'cache':18}" + "".join(f"{c:>22}" for c in COMMANDS)
    print(header)
    for cache, by_command in results.items():
        cells = []
        for command in COMMANDS:
            with_s, without_s = by_command[command]
            saved = (without_s - with_s) * 1e3
            cells.append(f"{with_s * 1e3:6.1f}/{without_s * 1e3:6.1f} ({saved:+5.1f})")
        print(f"{cache:18}" + "".join(f"{c:>22}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
