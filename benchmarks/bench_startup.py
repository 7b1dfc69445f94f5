"""Benchmark the start-up cost of ``lambdaver versions list`` in a repository with many versions.

A repository with N versions is built (``lambdaver init``, then N publishes, each after a
one-line change; done in one Python process through ``lambdaver.service`` when it offers
a publish function, else through the CLI, which is much slower).  Then, interleaved over
``--repeat`` runs (the order rotates each run, after untimed warm-up runs), the wall
time of three commands is measured and the medians reported:

a. a minimal click program in the same virtualenv (a group with one command that
   prints a line);
b. ``lambdaver versions list --output json`` in the repository (stdout to /dev/null);
c. ``python -c pass``, for reference.

The ratio b/a is what the target (<= 1.2x) is about: lambdaver should start about as
fast as the smallest click program.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _common import (
    CommandFailed,
    bench_env,
    fmt_s,
    fmt_x,
    lambdaver_cmd,
    machine_info,
    machine_line,
    median,
    ratio,
    remove_tree,
    run,
    verdict,
)
from gen_tree import generate_tree

TARGET = 1.2
WARMUP = 2
LIB_UNAVAILABLE = 3  # exit status of the library helper when the API is not there

CLICK_APP = '''\
import click


@click.group()
def cli():
    """A minimal click program."""


@cli.command()
def hello():
    """Print a line."""
    click.echo("hello")


if __name__ == "__main__":
    cli()
'''

# The same program ending the way the lambdaver command does (lambdaver/entry.py: flush,
# then os._exit, skipping the interpreter's teardown), for a like-for-like reference.
CLICK_APP_EXIT = CLICK_APP.replace(
    "    cli()\n",
    "    import os, sys\n"
    "    try:\n"
    "        cli()\n"
    "    except SystemExit as exc:\n"
    "        sys.stdout.flush()\n"
    "        os._exit(exc.code or 0)\n",
)

# Run with sys.executable in the repository; argv: N, file to change.  Publishes N
# versions through the library, in one process, each with the view the CLI's publish
# stores for its listing (when this lambdaver has one), so the repository is as the CLI
# would have made it.  Exits LIB_UNAVAILABLE (before writing
# anything) if the library does not offer what is needed.
LIB_PUBLISH = textwrap.dedent(
    f"""\
    import sys
    from pathlib import Path

    try:
        from lambdaver.service.functions import publish
        from lambdaver.service.repository import Repository
        from lambdaver.service.settings import load_settings
    except ImportError as exc:
        print(f"library publish unavailable: {{exc}}", file=sys.stderr)
        sys.exit({LIB_UNAVAILABLE})

    try:
        from lambdaver.cli.listing import item_view
        how = {{"view": item_view}}
    except ImportError:  # the view was made inside publish
        how = {{}}

    n, target = int(sys.argv[1]), Path(sys.argv[2])
    try:
        repo = Repository.discover(Path.cwd(), load_settings())
    except (AttributeError, TypeError) as exc:
        print(f"library publish unavailable: {{exc!r}}", file=sys.stderr)
        sys.exit({LIB_UNAVAILABLE})
    for i in range(n):
        with target.open("a") as fh:
            fh.write(f"VERSION_{{i}} = {{i}}\\n")
        publish(repo, **how)
    """
)


def log(msg: str) -> None:
    print(f"[bench_startup {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build_repository(
    repo: Path, versions: int, env: dict[str, str], *, files: int, size_mb: float
) -> dict[str, Any]:
    """Create the repository with ``versions`` versions; return how it was done."""
    lv = lambdaver_cmd()
    generate_tree(repo, files, size_mb, seed=1)
    run([*lv, "init", "--name", "bench"], repo, env)
    target = repo / "lambda_function.py"
    t0 = time.perf_counter()
    helper = repo.parent / "publish_many.py"
    helper.write_text(LIB_PUBLISH, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(helper), str(versions), str(target)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    how = "library (lambdaver.service.functions.publish, one process)"
    note = None
    if proc.returncode == LIB_UNAVAILABLE:
        note = (
            f"note: {proc.stderr.strip()}; fell back to {versions} CLI publishes "
            "(slow; the figures are unaffected)"
        )
        log(note)
        how = "CLI loop (lambdaver publish)"
        for i in range(versions):
            with target.open("a", encoding="utf-8") as fh:
                fh.write(f"VERSION_{i} = {i}\n")
            run([*lv, "publish", "--output", "json"], repo, env)
    elif proc.returncode != 0:
        raise CommandFailed(
            [sys.executable, str(helper), str(versions), str(target)],
            repo,
            proc.returncode,
            proc.stdout,
            proc.stderr,
        )
    return {"how": how, "note": note, "seconds": time.perf_counter() - t0}


def count_listed(repo: Path, env: dict[str, str]) -> int:
    """Numbered versions listed by ``versions list --output json`` ($LATEST excluded)."""
    _, proc = run([*lambdaver_cmd(), "versions", "list", "--output", "json"], repo, env)
    data = json.loads(proc.stdout)
    items = data.get("Versions", []) if isinstance(data, dict) else data
    return sum(1 for v in items if isinstance(v, dict) and v.get("Version") != "$LATEST")


def time_commands(
    commands: dict[str, tuple[list[str], Path]], env: dict[str, str], repeat: int
) -> dict[str, list[float]]:
    """Interleaved timings (order rotating each run) after WARMUP untimed runs of each."""
    names = list(commands)
    for _ in range(WARMUP):
        for name in names:
            cmd, cwd = commands[name]
            run(cmd, cwd, env, capture=False)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeat):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            cmd, cwd = commands[name]
            elapsed, _ = run(cmd, cwd, env, capture=False)
            samples[name].append(elapsed)
    return samples


def run_startup(
    versions: int,
    repeat: int,
    *,
    keep: bool = False,
    workdir: str | None = None,
    tree_files: int = 100,
    tree_mb: float = 2.0,
) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="lambdaver-bench-startup-", dir=workdir))
    res: dict[str, Any] = {
        "versions": versions,
        "repeat": repeat,
        "tree_files": tree_files,
        "tree_mb": tree_mb,
        "workdir": str(base),
        "error": None,
    }
    try:
        env = bench_env(base / "home")
        app = base / "click_app.py"
        app.write_text(CLICK_APP, encoding="utf-8")
        app_exit = base / "click_app_exit.py"
        app_exit.write_text(CLICK_APP_EXIT, encoding="utf-8")
        repo = base / "function"
        log(f"building a repository with {versions} versions in {repo}")
        try:
            res["build"] = build_repository(repo, versions, env, files=tree_files, size_mb=tree_mb)
            res["listed_versions"] = count_listed(repo, env)
        except (CommandFailed, ValueError, OSError) as exc:
            res["error"] = exc.describe() if isinstance(exc, CommandFailed) else repr(exc)
            log(f"lambdaver failed:\n{res['error']}")
            return res
        log(f"built in {res['build']['seconds']:.1f}s via {res['build']['how']}")
        commands = {
            "click": ([sys.executable, str(app), "hello"], base),
            "lambdaver": ([*lambdaver_cmd(), "versions", "list", "--output", "json"], repo),
            "python": ([sys.executable, "-c", "pass"], base),
            "click_exit": ([sys.executable, str(app_exit), "hello"], base),
        }
        res["commands"] = {k: " ".join(v[0]) for k, v in commands.items()}
        log(f"timing {len(commands)} commands x {repeat} runs (interleaved)")
        try:
            samples = time_commands(commands, env, repeat)
        except CommandFailed as exc:
            res["error"] = exc.describe()
            log(f"command failed:\n{res['error']}")
            return res
        res["samples"] = samples
        for name, values in samples.items():
            res[f"{name}_s"] = median(values)
            res[f"{name}_stdev_s"] = statistics.stdev(values) if len(values) > 1 else None
        res["ratio"] = ratio(res["lambdaver_s"], res["click_s"])
        res["ratio_like_for_like"] = ratio(res["lambdaver_s"], res["click_exit_s"])
        return res
    finally:
        if keep:
            log(f"kept {base}")
        else:
            remove_tree(base)


def format_startup(res: dict[str, Any]) -> list[str]:
    """The start-up section of the report, as lines."""
    lines = [
        f"start-up (median of {res['repeat']} interleaved runs; repository with "
        f"{res['versions']} versions, {res['tree_files']} files / {res['tree_mb']:g} MiB)"
    ]
    if res.get("build") and res["build"].get("note"):
        lines.append(f"  {res['build']['note']}")
    if res.get("listed_versions") is not None and res["listed_versions"] != res["versions"]:
        lines.append(
            f"  ! versions list shows {res['listed_versions']} versions, expected {res['versions']}"
        )
    rows = (
        ("a. minimal click program", "click"),
        ("b. lambdaver versions list --output json", "lambdaver"),
        ("c. python -c pass (reference)", "python"),
        ("d. a. ending like lambdaver (flush, os._exit)", "click_exit"),
    )
    for label, key in rows:
        lines.append(f"  {label:44} {fmt_s(res.get(key + '_s')):>8} s")
    x = res.get("ratio")
    lines.append(f"  {'ratio b/a':44} {fmt_x(x):>8}   target <= {TARGET:g}x  {verdict(x, TARGET)}")
    lines.append(
        f"  {'ratio b/d (like for like, reference)':44} {fmt_x(res.get('ratio_like_for_like')):>8}"
    )
    if res.get("error"):
        lines.append("  ! " + res["error"].replace("\n", "\n    "))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Progress goes to stderr, the table to stdout.",
    )
    parser.add_argument(
        "--versions", type=int, default=1000, help="versions in the repository (default 1000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=20, help="timed runs of each command (default 20)"
    )
    parser.add_argument(
        "--tree-files", type=int, default=100, help="files in the function (default 100)"
    )
    parser.add_argument(
        "--tree-mb", type=float, default=2.0, help="size of the function in MiB (default 2)"
    )
    parser.add_argument("--keep-dir", action="store_true", help="keep the temporary directory")
    parser.add_argument("--workdir", help="parent of the temporary directory (default: $TMPDIR)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures to FILE")
    args = parser.parse_args(argv)
    if args.versions < 1 or args.repeat < 1:
        parser.error("--versions and --repeat must be at least 1")
    info = machine_info()
    res = run_startup(
        args.versions,
        args.repeat,
        keep=args.keep_dir,
        workdir=args.workdir,
        tree_files=args.tree_files,
        tree_mb=args.tree_mb,
    )
    res["machine"] = info
    print(machine_line(info))
    print("\n".join(format_startup(res)))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 1 if res.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
