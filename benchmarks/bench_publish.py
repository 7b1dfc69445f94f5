"""Benchmark ``lambdaver publish`` against ``git add -A && git commit`` on the same tree.

For each size (small: 2,000 files / 50 MiB, large: 20,000 files / 500 MiB) a synthetic
function tree is generated (gen_tree.py) in a fresh temporary directory, and for each
repeat two identical copies are made, one for git and one for lambdaver.  Measured:

* first commit (``git add -A`` + ``git commit``, after an untimed ``git init``) vs the
  first ``lambdaver publish --output json`` (after an untimed ``lambdaver init``);
* the same after editing one file (the same file, the same edit, in both copies);
* the store size after 11 versions differing by one file each (first repeat only):
  apparent size of ``.lambdaver/`` over the tree's own size (``.git/`` for reference).

The page cache cannot be dropped without root; instead every timed command runs on a
fresh copy for each repeat, ``os.sync()`` runs before each timed command, the order of
git and lambdaver alternates between repeats, and the median is reported (with each
run, the CPU time of the commands, and the per-repeat lambdaver/git ratios).  Both tools
run with their defaults: lambdaver syncs the filesystem before recording a version, git
does not fsync loose objects; git's automatic gc is turned off so that it cannot run in
the background during a later measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    CommandFailed,
    bench_env,
    children_cpu,
    disk_usage,
    fmt_mib,
    fmt_s,
    fmt_x,
    lambdaver_cmd,
    machine_info,
    machine_line,
    median,
    ratio,
    remove_tree,
    run,
    settle_after_removals,
    verdict,
)
from gen_tree import edit_one_file, generate_tree, tree_bytes

SIZES: dict[str, tuple[int, float]] = {"small": (2_000, 50.0), "large": (20_000, 500.0)}
TARGET_FIRST = {"small": 0.3, "large": 0.2}
TARGET_EDIT = {"large": 3.0}
TARGET_STORE = 1.05
STORE_VERSIONS = 11


def log(msg: str) -> None:
    print(f"[bench_publish {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Git:
    name = "git"

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def init(self, repo: Path) -> None:
        run(["git", "-c", "init.defaultBranch=main", "init", "-q"], repo, self.env)

    def commit(self, repo: Path, message: str) -> float:
        t_add, _ = run(["git", "add", "-A"], repo, self.env)
        t_commit, _ = run(["git", "commit", "-q", "-m", message], repo, self.env)
        return t_add + t_commit

    def count_versions(self, repo: Path) -> int:
        _, proc = run(["git", "rev-list", "--count", "HEAD"], repo, self.env)
        return int(proc.stdout.strip())

    store_dir = ".git"


class Lambdaver:
    name = "lambdaver"

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.cmd = lambdaver_cmd()
        self.published: dict[Path, int] = {}

    def init(self, repo: Path) -> None:
        run([*self.cmd, "init", "--name", "bench"], repo, self.env)

    def commit(self, repo: Path, message: str) -> float:
        elapsed, proc = run([*self.cmd, "publish", "--output", "json"], repo, self.env)
        # Every publish here follows a change, so it must create the next version.
        expected = self.published.get(repo, 0) + 1
        version = json.loads(proc.stdout).get("Version")
        if version != str(expected):
            raise ValueError(
                f"`lambdaver publish --output json` in {repo} returned Version {version!r}, "
                f"expected {str(expected)!r} (the tree had changed)"
            )
        self.published[repo] = expected
        return elapsed

    def count_versions(self, repo: Path) -> int:
        _, proc = run([*self.cmd, "versions", "list", "--output", "json"], repo, self.env)
        data = json.loads(proc.stdout)
        if isinstance(data, dict):
            for key in ("Versions", "versions", "Items", "items"):
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
        if not isinstance(data, list):
            raise TypeError(f"unexpected `versions list --output json` shape: {proc.stdout[:300]}")
        # AWS lists $LATEST too; count numbered versions only.
        return sum(1 for v in data if str(_version_of(v)) != "$LATEST")

    store_dir = ".lambdaver"


def _version_of(item: Any) -> Any:
    if isinstance(item, dict):
        for key in ("Version", "version", "number", "Number"):
            if key in item:
                return item[key]
    return item


Tool = Git | Lambdaver


def _timed_commit(tool: Tool, repo: Path, message: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys of the child processes) of one commit/publish."""
    os.sync()  # do not let writeback of earlier writes land inside the timed region
    cpu0 = children_cpu()
    wall = tool.commit(repo, message)
    return wall, children_cpu() - cpu0


class SizeBench:
    """The publish benchmark for one tree size."""

    def __init__(self, size: str, workdir: Path, *, with_lambdaver: bool = True) -> None:
        self.size = size
        self.workdir = workdir
        env = bench_env(workdir / "home")
        self.tools: dict[str, Tool] = {"git": Git(env)}
        if with_lambdaver:
            self.tools["lambdaver"] = Lambdaver(env)
        keys = ("first", "edit", "rounds", "first_cpu", "edit_cpu", "rounds_cpu")
        self.samples: dict[str, dict[str, list[float]]] = {
            t: {k: [] for k in keys} for t in self.tools
        }
        self.errors: dict[str, str] = {}
        self.store: dict[str, dict[str, Any]] = {}

    def attempt(self, tool: str, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one step for a tool unless it already failed; record the first failure."""
        if tool in self.errors:
            return None
        try:
            return fn(*args)
        except (CommandFailed, ValueError, TypeError, OSError) as exc:
            text = exc.describe() if isinstance(exc, CommandFailed) else repr(exc)
            self.errors[tool] = f"{what}: {text}"
            log(f"{self.size}: {tool} failed during {what}:\n{text}")
            return None

    def commit_all(self, dirs: dict[str, Path], order: list[str], what: str, label: str) -> None:
        for t in order:
            timing = self.attempt(t, label, _timed_commit, self.tools[t], dirs[t], label)
            if timing is not None:
                wall, cpu = timing
                self.samples[t][what].append(wall)
                self.samples[t][what + "_cpu"].append(cpu)
                log(f"{self.size}: {t} {label} {wall:.3f}s (cpu {cpu:.3f}s)")

    def edit_all(self, dirs: dict[str, Path], seed: int) -> str:
        edited = {edit_one_file(d, seed) for d in dirs.values()}
        if len(edited) != 1:
            raise AssertionError(f"copies diverged: edited {edited}")
        return edited.pop()

    def run(self, src: Path, repeat: int, *, keep: bool) -> None:
        # Every copy is made before anything is timed and removed after, and the timed
        # runs wait out the window in which deleted files slow file creation down
        # (_common.settle_after_removals): deleting trees between runs made later runs of
        # both tools several times slower than the first.
        all_dirs = []
        for r in range(repeat):
            dirs = {t: self.workdir / f"{t}-{r}" for t in self.tools}
            for t, d in dirs.items():
                shutil.copytree(src, d, symlinks=True)
                self.attempt(t, "init", self.tools[t].init, d)
            all_dirs.append(dirs)
        waited = settle_after_removals()
        if waited:
            log(f"{self.size}: waited {waited:.0f}s after deleting files (see _common.py)")
        for r, dirs in enumerate(all_dirs):
            order = list(self.tools) if r % 2 == 0 else list(reversed(self.tools))
            self.commit_all(dirs, order, "first", f"first publish #{r + 1}")
            path = self.edit_all(dirs, seed=1000 + r)
            self.commit_all(dirs, order, "edit", f"edit publish #{r + 1} ({path})")
            if r == 0:
                self.store_rounds(dirs)
        if not keep:
            for dirs in all_dirs:
                for d in dirs.values():
                    remove_tree(d)

    def store_rounds(self, dirs: dict[str, Path]) -> None:
        """Bring each repository to 11 versions differing by one file each, then measure."""
        # Versions so far: the first publish and the timed edit publish.
        for k in range(3, STORE_VERSIONS + 1):
            path = self.edit_all(dirs, seed=2000 + k)
            self.commit_all(dirs, list(self.tools), "rounds", f"version {k} ({path})")
        log(f"{self.size}: measuring store sizes after {STORE_VERSIONS} versions")
        for t, tool in self.tools.items():
            d = dirs[t]
            tree = tree_bytes(d)
            count = self.attempt(t, "versions list", tool.count_versions, d)
            store = d / tool.store_dir
            apparent, allocated = disk_usage(store) if store.is_dir() else (None, None)
            self.store[t] = {
                "versions": count,
                "tree_bytes": tree,
                "store_apparent_bytes": apparent,
                "store_allocated_bytes": allocated,
                "ratio_apparent": ratio(apparent, tree),
                "ratio_allocated": ratio(allocated, tree),
            }
            if count is not None and count != STORE_VERSIONS:
                self.errors.setdefault(
                    t, f"expected {STORE_VERSIONS} versions after the rounds, found {count}"
                )


def bench_size(
    size: str,
    files: int,
    size_mb: float,
    repeat: int,
    workdir: Path,
    *,
    seed: int = 0,
    keep: bool = False,
    with_lambdaver: bool = True,
) -> dict[str, Any]:
    """Run the publish benchmark for one tree size; return the raw figures."""
    res: dict[str, Any] = {"size": size, "files": files, "size_mb": size_mb, "repeat": repeat}
    src = workdir / "src"
    log(f"{size}: generating {files} files / {size_mb:g} MiB in {src}")
    summary = generate_tree(src, files, size_mb, seed)
    res["generate_s"] = summary.seconds
    res["tree_bytes"] = summary.total_bytes
    bench = SizeBench(size, workdir, with_lambdaver=with_lambdaver)
    bench.run(src, repeat, keep=keep)
    if not keep:
        remove_tree(src)
    res["samples"] = bench.samples
    res["errors"] = bench.errors
    res["store"] = bench.store
    for t, samples in bench.samples.items():
        for key in ("first", "edit"):
            res[f"{t}_{key}_s"] = median(samples[key])
            res[f"{t}_{key}_cpu_s"] = median(samples[key + "_cpu"])
    if "lambdaver" in bench.samples:
        for key in ("first", "edit"):
            g, lv = bench.samples["git"][key], bench.samples["lambdaver"][key]
            if len(g) == len(lv):
                # Each pair ran back to back: less sensitive to drifting disk speed.
                res[f"{key}_paired_ratios"] = [b / a for a, b in zip(g, lv, strict=True)]
    res["first_ratio"] = ratio(res.get("lambdaver_first_s"), res["git_first_s"])
    res["edit_ratio"] = ratio(res.get("lambdaver_edit_s"), res["git_edit_s"])
    return res


def run_publish(
    sizes: list[str],
    repeat: int,
    *,
    keep: bool = False,
    seed: int = 0,
    workdir: str | None = None,
    with_lambdaver: bool = True,
) -> dict[str, Any]:
    results: dict[str, Any] = {"repeat": repeat, "seed": seed, "sizes": {}}
    base = Path(tempfile.mkdtemp(prefix="lambdaver-bench-publish-", dir=workdir))
    results["workdir"] = str(base)
    try:
        for size in sizes:
            files, size_mb = SIZES[size]
            sub = base / size
            sub.mkdir()
            results["sizes"][size] = bench_size(
                size,
                files,
                size_mb,
                repeat,
                sub,
                seed=seed,
                keep=keep,
                with_lambdaver=with_lambdaver,
            )
            if not keep:
                remove_tree(sub)
    finally:
        if keep:
            log(f"kept {base}")
        else:
            remove_tree(base)
    return results


def format_publish(results: dict[str, Any]) -> list[str]:
    """The publish section of the report, as lines."""
    head = f"{'':40} {'git':>9} {'lambdaver':>10} {'lv/git':>8}  {'target':<9} result"
    lines = [f"publish (median of {results['repeat']}; seconds, wall clock)", head]
    for size, r in results["sizes"].items():
        lines.append(
            f"{size}: {r['files']:,} files, {r['size_mb']:g} MiB "
            f"(tree generated in {r['generate_s']:.1f}s)"
        )
        rows = (
            ("first commit / first publish", "first", TARGET_FIRST.get(size)),
            ("one-file edit: commit / publish", "edit", TARGET_EDIT.get(size)),
        )
        for label, key, target in rows:
            x = r[f"{key}_ratio"]
            tgt = f"<= {target:g}x" if target is not None else "-"
            lines.append(
                f"  {label:38} {fmt_s(r['git_' + key + '_s']):>9} "
                f"{fmt_s(r.get('lambdaver_' + key + '_s')):>10} {fmt_x(x):>8}  "
                f"{tgt:<9} {verdict(x, target)}"
            )
            lines.append(
                f"    {'cpu user+sys (median)':36} {fmt_s(r['git_' + key + '_cpu_s']):>9} "
                f"{fmt_s(r.get('lambdaver_' + key + '_cpu_s')):>10}"
            )
            samples = "; ".join(
                f"{t} " + " ".join(f"{v:.3f}" for v in r["samples"][t][key]) for t in r["samples"]
            )
            paired = " ".join(f"{v:.2f}x" for v in r.get(key + "_paired_ratios", []))
            lines.append(f"    runs: {samples}" + (f"; paired ratios {paired}" if paired else ""))
        lv = r["store"].get("lambdaver")
        git = r["store"].get("git")
        x = lv["ratio_apparent"] if lv else None
        lines.append(
            f"  {'store size, ' + str(STORE_VERSIONS) + ' versions / tree':38} "
            f"{fmt_x(git['ratio_apparent'] if git else None):>9} {fmt_x(x):>10} "
            f"{'':>8}  {'<= ' + format(TARGET_STORE, 'g') + 'x':<9} {verdict(x, TARGET_STORE)}"
        )
        if lv:
            lines.append(
                f"    tree {fmt_mib(lv['tree_bytes'])}; "
                f".lambdaver {fmt_mib(lv['store_apparent_bytes'])} apparent, "
                f"{fmt_mib(lv['store_allocated_bytes'])} allocated"
                f" ({fmt_x(lv['ratio_allocated'])}); versions listed: {lv['versions']}"
            )
        if git:
            lines.append(
                f"    .git {fmt_mib(git['store_apparent_bytes'])} apparent "
                f"(loose zlib objects, no pack), {fmt_mib(git['store_allocated_bytes'])} allocated"
            )
        for tool, err in r["errors"].items():
            lines.append(f"  ! {tool} error during {err}")
    return [line.rstrip() for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Progress goes to stderr, the table to stdout.",
    )
    parser.add_argument(
        "--sizes",
        default="small,large",
        help="comma-separated sizes among: small (2,000 files / 50 MiB), "
        "large (20,000 files / 500 MiB); default small,large",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repeats per measure (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="tree generator seed (default 0)")
    parser.add_argument("--keep-dir", action="store_true", help="keep the temporary directory")
    parser.add_argument("--workdir", help="parent of the temporary directory (default: $TMPDIR)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures to FILE")
    parser.add_argument(
        "--git-only", action="store_true", help="skip lambdaver (measure the git side only)"
    )
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes or args.repeat < 1:
        parser.error(f"bad --sizes/--repeat: {unknown or sizes or args.repeat}")

    info = machine_info()
    results = run_publish(
        sizes,
        args.repeat,
        keep=args.keep_dir,
        seed=args.seed,
        workdir=args.workdir,
        with_lambdaver=not args.git_only,
    )
    results["machine"] = info
    print(machine_line(info))
    print("\n".join(format_publish(results)))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    failed = any(r["errors"] for r in results["sizes"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
