"""Generate a synthetic, realistic Lambda function tree, deterministic for a seed.

The tree looks like a deployment package: a handler and a few config files at the
top, nested package directories (depth 1-4) each with an ``__init__.py``, mostly
small compressible source-like text files (.py, .json, .txt) and a minority of
larger incompressible binary files (.so, .bin, .zip).  A few files are
executable.  The file count and the total size (in MiB) are exact.

Usage::

    python benchmarks/gen_tree.py DIR --files 2000 --size-mb 50 --seed 0

``edit_one_file(DIR, seed)`` modifies exactly one file of such a tree; the
benchmarks use it for "publish after a one-file edit".
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MIB = 1024 * 1024

# Share of the files (by count) that are binary, and share of the bytes they hold.
BINARY_FILE_SHARE = 0.05
BINARY_BYTE_SHARE = 0.70
MAX_DEPTH = 4
FILES_PER_DIR = 12
POOL_BYTES = 4 * MIB  # per extension; text files are slices of these pools
CHUNK = MIB
SKIP_DIRS = frozenset({".git", ".lambdaver"})

WORDS = (
    "alpha",
    "api",
    "auth",
    "batch",
    "boto",
    "cache",
    "client",
    "codec",
    "common",
    "config",
    "core",
    "crypto",
    "data",
    "db",
    "decode",
    "encode",
    "event",
    "events",
    "format",
    "handler",
    "helpers",
    "http",
    "io",
    "json",
    "kernel",
    "layer",
    "logging",
    "metrics",
    "model",
    "models",
    "net",
    "orm",
    "parser",
    "plugin",
    "pool",
    "proto",
    "queue",
    "record",
    "render",
    "request",
    "resource",
    "response",
    "retry",
    "router",
    "runtime",
    "schema",
    "serde",
    "service",
    "session",
    "signal",
    "sql",
    "storage",
    "stream",
    "sync",
    "task",
    "template",
    "tools",
    "trace",
    "transport",
    "types",
    "util",
    "utils",
    "validate",
    "vendor",
    "worker",
    "yaml",
    "zone",
)

TEXT_EXTENSIONS = ((".py", 0.65), (".json", 0.2), (".txt", 0.15))
BINARY_EXTENSIONS = ((".so", 0.5), (".bin", 0.3), (".zip", 0.2))
MAGIC = {".so": b"\x7fELF\x02\x01\x01\x00", ".zip": b"PK\x03\x04", ".bin": b""}


@dataclass
class FileSpec:
    path: str  # relative, "/"-separated
    size: int
    kind: str  # "text", "binary", "init", "script"
    executable: bool = False


@dataclass
class TreeSummary:
    files: int
    dirs: int
    total_bytes: int
    binary_files: int
    binary_bytes: int
    executables: int
    seconds: float


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    x = rng.random()
    for value, weight in table:
        x -= weight
        if x < 0:
            return value
    return table[-1][0]


def _make_pools(rng: random.Random, pool_bytes: int) -> dict[str, bytes]:
    """Build one pool of source-like text per text extension; files are slices of it."""
    ident = [f"{w}_{v}" for w in WORDS for v in ("id", "name", "value", "items", "cfg")]

    def py_line() -> str:
        r = rng.random()
        a, b, c = rng.choice(ident), rng.choice(ident), rng.choice(WORDS)
        if r < 0.12:
            return f"def {c}_{rng.randrange(1000)}({a}, {b}=None):"
        if r < 0.2:
            return f"class {c.capitalize()}{rng.randrange(100)}(object):"
        if r < 0.3:
            return f"    # {c} {rng.choice(WORDS)} {rng.choice(WORDS)} for {a}"
        if r < 0.4:
            return f"from .{c} import {a}, {b}"
        if r < 0.55:
            return f"        if {a} is not None and {b} > {rng.randrange(64)}:"
        if r < 0.75:
            return f"        {a} = {b}.get({c!r}, {rng.randrange(1 << 16)})"
        if r < 0.85:
            return f"            return {a} + {b}"
        return ""

    def json_line() -> str:
        k, v = rng.choice(ident), rng.choice(WORDS)
        r = rng.random()
        if r < 0.5:
            return f'  "{k}": "{v}-{rng.randrange(1 << 20):x}",'
        if r < 0.8:
            return f'  "{k}": {rng.randrange(1 << 24)},'
        return f'  "{k}": ["{v}", "{rng.choice(WORDS)}", {str(rng.random() < 0.5).lower()}],'

    def txt_line() -> str:
        n = rng.randrange(4, 14)
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    pools: dict[str, bytes] = {}
    for ext, make in ((".py", py_line), (".json", json_line), (".txt", txt_line)):
        lines: list[str] = []
        size = 0
        while size < pool_bytes:
            line = make()
            lines.append(line)
            size += len(line) + 1
        pools[ext] = ("\n".join(lines) + "\n").encode()
    return pools


def _scaled_sizes(rng: random.Random, count: int, budget: int, sigma: float) -> list[int]:
    """``count`` log-normal sizes summing exactly to ``budget``."""
    if count <= 0:
        return []
    raw = [rng.lognormvariate(0.0, sigma) for _ in range(count)]
    total = sum(raw)
    sizes = [int(budget * x / total) for x in raw]
    sizes[max(range(count), key=sizes.__getitem__)] += budget - sum(sizes)
    return sizes


def _make_dirs(rng: random.Random, count: int) -> list[tuple[str, int]]:
    """``count`` nested package directories as (relative path, depth), depth 1..MAX_DEPTH."""
    dirs: list[tuple[str, int]] = []
    children: dict[str, set[str]] = {"": set()}
    for _ in range(count):
        candidates = [d for d in dirs if d[1] < MAX_DEPTH]
        # About a quarter of the directories are top-level packages.
        if not candidates or rng.random() < 0.25:
            parent, depth = "", 0
        else:
            parent, depth = rng.choice(candidates)
        name = rng.choice(WORDS)
        siblings = children[parent]
        if name in siblings or name == "bin":
            name = f"{name}{len(siblings)}"
        siblings.add(name)
        path = f"{parent}/{name}" if parent else name
        children[path] = set()
        dirs.append((path, depth + 1))
    return dirs


def plan_tree(files: int, size_mb: float, seed: int = 0) -> list[FileSpec]:
    """The deterministic list of files (paths, sizes, kinds) for the given parameters."""
    if files < 1:
        raise ValueError("--files must be at least 1")
    rng = random.Random(f"plan-{seed}")
    total = round(size_mb * MIB)
    specs: list[FileSpec] = []

    # Top-level files of a typical function.
    specs.append(FileSpec("lambda_function.py", 0, "text"))
    specs.append(FileSpec("requirements.txt", 0, "text"))
    specs.append(FileSpec("config.json", 0, "text"))
    n_scripts = max(1, min(8, files // 400))
    specs.extend(FileSpec(f"bin/tool{i}.sh", 0, "script", True) for i in range(n_scripts))
    n_dirs = max(1, files // FILES_PER_DIR)
    dirs = _make_dirs(rng, n_dirs)
    # Each package directory gets an __init__.py (most are empty, as in real trees).
    specs.extend(FileSpec(f"{d}/__init__.py", 0, "init") for d, _ in dirs)
    specs = specs[:files]

    remaining = files - len(specs)
    n_binary = min(remaining, max(1 if files >= 20 else 0, round(files * BINARY_FILE_SHARE)))
    n_text = remaining - n_binary
    used: set[str] = {s.path for s in specs}

    def new_path(ext: str) -> str:
        d = rng.choice(dirs)[0]
        stem = rng.choice(WORDS)
        path = f"{d}/{stem}{ext}"
        k = 1
        while path in used:
            path = f"{d}/{stem}_{k}{ext}"
            k += 1
        used.add(path)
        return path

    for _ in range(n_text):
        specs.append(FileSpec(new_path(_pick(rng, TEXT_EXTENSIONS)), 0, "text"))
    for _ in range(n_binary):
        ext = _pick(rng, BINARY_EXTENSIONS)
        specs.append(FileSpec(new_path(ext), 0, "binary", ext == ".so" and rng.random() < 0.1))

    # Sizes: __init__.py are tiny or empty, the rest share the byte budget.
    for s in specs:
        if s.kind == "init":
            s.size = 0 if rng.random() < 0.7 else min(rng.randrange(20, 400), total // files)
    fixed = sum(s.size for s in specs)
    budget = max(0, total - fixed)
    texts = [s for s in specs if s.kind in ("text", "script")]
    binaries = [s for s in specs if s.kind == "binary"]
    bin_budget = int(budget * BINARY_BYTE_SHARE) if binaries else 0
    if not texts:
        bin_budget = budget
    for s, size in zip(binaries, _scaled_sizes(rng, len(binaries), bin_budget, 1.2), strict=True):
        s.size = size
    for s, size in zip(
        texts, _scaled_sizes(rng, len(texts), budget - bin_budget, 1.0), strict=True
    ):
        s.size = size
    if not texts and not binaries and specs:
        specs[0].size += budget
    return specs


def _text_content(rng: random.Random, pool: bytes, spec: FileSpec) -> bytes:
    if spec.kind == "script":
        header = f"#!/bin/sh\n# {spec.path}\nset -eu\n".encode()
    elif spec.path.endswith(".py"):
        header = f'"""Module {spec.path}."""\n'.encode()
    else:
        header = f"{spec.path}\n".encode()
    if spec.size <= len(header):
        return header[: spec.size]
    out = [header]
    need = spec.size - len(header)
    while need > 0:
        start = rng.randrange(len(pool))
        nl = pool.find(b"\n", start)
        start = 0 if nl < 0 else nl + 1
        piece = pool[start : start + need]
        out.append(piece)
        need -= len(piece)
    return b"".join(out)


def _write_binary(rng: random.Random, fh: BinaryIO, spec: FileSpec) -> None:
    magic = MAGIC[Path(spec.path).suffix][: spec.size]
    write = fh.write
    write(magic)
    left = spec.size - len(magic)
    while left > 0:
        n = min(CHUNK, left)
        write(rng.randbytes(n))
        left -= n


def generate_tree(
    root: str | os.PathLike[str], files: int, size_mb: float, seed: int = 0
) -> TreeSummary:
    """Write the tree into ``root`` (created if missing; must be empty)."""
    t0 = time.perf_counter()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    specs = plan_tree(files, size_mb, seed)
    rng = random.Random(f"content-{seed}")
    text_bytes = sum(s.size for s in specs if s.kind != "binary")
    pool_bytes = min(POOL_BYTES, max(64 * 1024, text_bytes // 4))
    pools = _make_pools(random.Random(f"pools-{seed}"), pool_bytes)
    made: set[Path] = set()
    for spec in specs:
        path = root / spec.path
        parent = path.parent
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as fh:
            if spec.kind == "binary":
                _write_binary(rng, fh, spec)
            else:
                pool = pools.get(path.suffix, pools[".txt"])
                fh.write(_text_content(rng, pool, spec))
        os.chmod(path, 0o755 if spec.executable else 0o644)
    binaries = [s for s in specs if s.kind == "binary"]
    return TreeSummary(
        files=len(specs),
        dirs=len(made),
        total_bytes=sum(s.size for s in specs),
        binary_files=len(binaries),
        binary_bytes=sum(s.size for s in binaries),
        executables=sum(s.executable for s in specs),
        seconds=time.perf_counter() - t0,
    )


def list_files(root: str | os.PathLike[str]) -> list[str]:
    """Sorted relative paths of the tree's files, skipping .git and .lambdaver."""
    out: list[str] = []
    base = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel = os.path.relpath(dirpath, base)
        for name in filenames:
            out.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return sorted(out)


def tree_bytes(root: str | os.PathLike[str]) -> int:
    """Sum of the apparent sizes of the tree's files, skipping .git and .lambdaver."""
    return sum(os.lstat(os.path.join(root, p)).st_size for p in list_files(root))


def edit_one_file(root: str | os.PathLike[str], seed: int) -> str:
    """Modify exactly one file of the tree, deterministically for ``seed``.

    The file is a .py file (any file if there is none) picked by ``seed`` among the
    tree's files; a line is appended to it, so the content always changes, even when
    called again with the same seed.  Two identical trees edited with the same seed
    stay identical.  Returns the edited file's relative path.
    """
    files = list_files(root)
    if not files:
        raise FileNotFoundError(f"no file to edit in {root}")
    candidates = [p for p in files if p.endswith(".py")] or files
    rel = random.Random(f"edit-{seed}").choice(candidates)
    with open(os.path.join(root, rel), "ab") as fh:
        fh.write(f"# edited by benchmark, seed {seed}\n".encode())
    return rel


def _fmt_mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", help="directory to create (must be missing or empty)")
    parser.add_argument("--files", type=int, default=2000, help="number of files (default 2000)")
    parser.add_argument("--size-mb", type=float, default=50, help="total size in MiB (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--edit",
        type=int,
        metavar="SEED",
        help="instead of generating, edit one file of an existing tree DIR with SEED",
    )
    args = parser.parse_args(argv)
    if args.edit is not None:
        print(edit_one_file(args.dir, args.edit))
        return 0
    try:
        s = generate_tree(args.dir, args.files, args.size_mb, args.seed)
    except (FileExistsError, ValueError) as exc:
        print(f"gen_tree: {exc}", file=sys.stderr)
        return 2
    print(
        f"{s.files} files in {s.dirs} dirs, {_fmt_mib(s.total_bytes)} "
        f"({s.binary_files} binary files, {_fmt_mib(s.binary_bytes)}; "
        f"{s.executables} executable) in {s.seconds:.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
