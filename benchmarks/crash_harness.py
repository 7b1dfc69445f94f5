"""Crash harness: SIGKILL lambdaver commands at random points, then check the repository.

Each round runs one changing command (publish, config set, alias update, rollback,
promote, versions delete and, when this lambdaver has them, versions prune and gc) in a
child process on a function of a few hundred files and a few MB, sleeps a random
0-``--max-delay-ms`` milliseconds, and kills the child with SIGKILL if it is still running.
Then it checks, through the CLI and by re-hashing the object store itself:

* ``fsck`` is clean (when this lambdaver has ``fsck``);
* every object under ``.lambdaver/objects/`` is named by the sha256 of its content (raw
  blobs, zlib-compressed records); every hash in the stat cache (``index``) is stored;
* every version a command *reported* as published still exists with the CodeSha256 it
  was reported with (unless a ``versions delete``/``prune`` of it was attempted), its
  files (``versions show``) are in the store, and ``invoke --qualifier N`` runs exactly its
  code (the handler returns the generation number written into it);
* version numbers only grow and are never reused;
* every alias points at an existing version (primary and weighted);
* each alias's ref equals the newest entry of its history, and the history is
  append-only: a completed change added exactly one entry (and ``alias get`` shows what
  the command printed), a refused one none, a killed one none or one;
* the next command never hangs on a lock left by the killed one (every child has a
  timeout).

Every round's seed is printed; the run is reproducible from ``--seed`` (modulo timing).
Exit status 0 when no invariant was violated, 1 otherwise.

    python benchmarks/crash_harness.py --rounds 200 --seed 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import marshal
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHILD_TIMEOUT = 120.0
ALIASES = ("dev", "prod")
SMALL_FILES = 300
SMALL_SIZE = 8000
BIG_MIN, BIG_MAX = 300_000, 2_000_000
STREAMED = 5_000_000
HANDLER = "GEN = {gen}\n\n\ndef handler(event, context):\n    return {{'gen': GEN}}\n"


def read_index(data: bytes) -> dict[str, list[Any]] | None:
    """The stat cache's entries: formats 3 and 4 are ``marshal`` of ``(N, entries, tree)``, format 2
    was ``(2, entries)``, format 1 JSON ``{"format": 1, "entries": ...}``.  A format-3 tree
    hash must be the hash of exactly the entries' manifest (else None: a broken index)."""
    try:
        loaded = marshal.loads(data)  # noqa: S302 - the repository's own cache
        if loaded[0] in (3, 4) and isinstance(loaded[1], dict):  # 4: tuples, 3: lists
            entries, tree = loaded[1], loaded[2]
            if tree is not None and tree != index_tree(entries):
                return None
            return entries
        if loaded[0] == 2 and isinstance(loaded[1], dict):
            return loaded[1]
    except (ValueError, EOFError, TypeError, IndexError):
        pass
    try:
        raw = json.loads(data)
    except ValueError:
        return None
    return raw.get("entries", {}) if isinstance(raw, dict) else None


def index_tree(entries: dict[str, list[Any]]) -> str:
    """The tree hash of the manifest the stat cache's entries describe (FORMAT.md)."""
    manifest = [[p, row[4], row[0], row[5]] for p, row in sorted(entries.items())]
    data = json.dumps({"format": 1, "entries": manifest}, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()


def lambdaver_cmd() -> list[str]:
    return [sys.executable, "-m", "lambdaver"]


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def status(self) -> str:
        if self.rc == 0:
            return "completed"
        if self.rc == -signal.SIGKILL:
            return "killed"
        return f"exit{self.rc}"


@dataclass
class Summary:
    rounds: int = 0
    seeds: list[int] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)  # each distinct one, first round
    violation_count: int = 0  # all of them, a persisting one once per round
    leftover_temporaries: int = 0
    objects_checked: int = 0
    invocations_checked: int = 0
    fsck_runs: int = 0
    versions_reported: int = 0
    elapsed: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "seeds": self.seeds,
            "outcomes": dict(sorted(self.outcomes.items())),
            "violations": self.violations,
            "violation_count": self.violation_count,
            "leftover_temporaries": self.leftover_temporaries,
            "objects_checked": self.objects_checked,
            "invocations_checked": self.invocations_checked,
            "fsck_runs": self.fsck_runs,
            "versions_reported": self.versions_reported,
            "elapsed_seconds": round(self.elapsed, 1),
        }


def _routing(conf: dict[str, Any]) -> tuple[Any, ...]:
    """What an alias state routes to and says (its RevisionId aside)."""
    return (conf["FunctionVersion"], conf.get("RoutingConfig"), conf["Description"])


class Harness:
    def __init__(
        self,
        workdir: Path,
        *,
        max_delay_ms: float = 150.0,
        verbose: bool = True,
        exclude: tuple[str, ...] = (),
    ):
        self.root = workdir / "fn"
        self.exclude = exclude
        self.max_delay = max_delay_ms / 1000.0
        self.verbose = verbose
        self.env = {
            **os.environ,
            "LAMBDAVER_CONFIG": str(workdir / "user-config.toml"),
            "NO_COLOR": "1",
        }
        self.env.pop("LAMBDAVER_OUTPUT", None)
        self.summary = Summary()
        self.seen: set[str] = set()
        # model of what the commands told us
        self.reported: dict[str, tuple[str, int]] = {}  # version -> (CodeSha256, gen)
        self.max_reported = 0
        self.deleted: set[str] = set()  # a delete of it completed
        self.maybe_deleted: set[str] = set()  # a delete/prune of it was attempted
        self.invoked: set[str] = set()
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.verified_objects: set[str] = set()
        self.present: dict[str, str] = {}  # versions listed at the last check
        self.gen = 0
        self.has = {"fsck": False, "gc": False, "prune": False}

    # --- running lambdaver --------------------------------------------------------------

    def run(self, *args: str, timeout: float = CHILD_TIMEOUT) -> Outcome:
        start = time.monotonic()
        try:
            p = subprocess.run(
                [*lambdaver_cmd(), "-C", str(self.root), "--output", "json", *args],
                capture_output=True,
                text=True,
                env=self.env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.violation(f"'{' '.join(args)}' hung for {timeout:.0f} s (stale lock?)")
            return Outcome(-1, "", "timeout", timeout)
        return Outcome(p.returncode, p.stdout, p.stderr, time.monotonic() - start)

    def ok(self, *args: str) -> Any:
        out = self.run(*args)
        if out.rc != 0:
            self.violation(f"'{' '.join(args)}' failed: exit {out.rc}: {out.stderr.strip()}")
            return None
        return json.loads(out.stdout) if out.stdout.strip() else None

    def run_killed(self, args: list[str], delay: float) -> Outcome:
        """Start ``lambdaver ARGS``; SIGKILL it after ``delay`` seconds if still running."""
        start = time.monotonic()
        proc = subprocess.Popen(
            [*lambdaver_cmd(), "-C", str(self.root), "--output", "json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        try:
            out, err = proc.communicate(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate()
        return Outcome(proc.returncode, out, err, time.monotonic() - start)

    def violation(self, text: str) -> None:
        """Record a violation; one that persists is reported once, at its first round."""
        self.summary.violation_count += 1
        if text in self.seen:
            return
        self.seen.add(text)
        self.summary.violations.append(f"round {self.summary.rounds}: {text}")
        if self.verbose:
            print(f"  VIOLATION: {text}", flush=True)

    # --- the function ---------------------------------------------------------------------

    def setup(self, seed: int) -> None:
        rng = random.Random(seed)
        self.root.mkdir(parents=True)
        for i in range(SMALL_FILES):
            d = self.root / "pkg" / f"m{i % 10}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i}.txt").write_bytes(rng.randbytes(SMALL_SIZE))
        (self.root / "data.bin").write_bytes(rng.randbytes(BIG_MIN))
        (self.root / "app.py").write_text(HANDLER.format(gen=0))
        self.ok("init", "--name", "crash")
        first = self.ok("publish")
        self.record_publish(first, 0)
        for name in ALIASES:
            self.ok("alias", "create", name, "--version", "1")
        for verb, args in (("fsck", ["fsck"]), ("gc", ["gc"]), ("prune", ["versions", "prune"])):
            self.has[verb] = self.run(*args, "--help").rc == 0
        self.snapshot_histories()
        self.present = {"1": first["CodeSha256"]} if first else {}

    def mutate(self, rng: random.Random) -> None:
        """Change $LATEST: a new generation in app.py, a new big file, some small files
        (now and then many)."""
        self.gen += 1
        (self.root / "app.py").write_text(HANDLER.format(gen=self.gen))
        # now and then a file above the 4 MB threshold, which is streamed through tmp/
        size = STREAMED if rng.random() < 0.15 else rng.randint(BIG_MIN, BIG_MAX)
        (self.root / "data.bin").write_bytes(rng.randbytes(size))
        # mostly a few files (stored loose); one publish in four changes enough files for
        # their blobs to go into a pack (more than 64 new ones: docs/FORMAT.md, "Packs")
        count = rng.randint(1, 60) if rng.random() < 0.75 else rng.randint(120, 300)
        for _ in range(count):
            i = rng.randrange(SMALL_FILES)
            path = self.root / "pkg" / f"m{i % 10}" / f"f{i}.txt"
            path.write_bytes(rng.randbytes(SMALL_SIZE))

    def live_versions(self) -> list[str]:
        return sorted(
            (v for v in self.reported if v not in self.deleted and v not in self.maybe_deleted),
            key=int,
        )

    def record_publish(self, result: Any, gen: int) -> None:
        version = str(result["Version"])
        sha = result["CodeSha256"]
        if version in self.reported and self.reported[version][0] != sha:
            self.violation(f"version {version} reused: {self.reported[version][0]} then {sha}")
        if int(version) <= self.max_reported:
            self.violation(f"publish reported {version} after {self.max_reported}")
        self.max_reported = max(self.max_reported, int(version))
        self.reported[version] = (sha, gen)
        self.summary.versions_reported += 1

    def snapshot_histories(self) -> None:
        for name in ALIASES:
            h = self.ok("alias", "history", name)
            self.histories[name] = h["History"] if h else []

    # --- one round ----------------------------------------------------------------------

    def choose(self, rng: random.Random) -> tuple[str, list[str], str | None]:
        """(operation, arguments, alias it changes)."""
        ops = ["publish"] * 5 + ["update"] * 3 + ["rollback"] * 2 + ["promote", "delete"]
        ops.append("config")
        # read verbs write derived data (.lambdaver/cache/) when they succeed: kill them too
        ops += ["read"] * 3
        if self.has["prune"]:
            ops.append("prune")
        if self.has["gc"]:
            ops += ["gc", "gc"]
        op = rng.choice([o for o in ops if o not in self.exclude])
        live = self.live_versions() or ["1"]
        name = rng.choice(ALIASES)
        if op == "publish":
            self.mutate(rng)
            return op, ["publish", "--description", f"gen {self.gen}"], None
        if op == "config":
            return op, ["config", "set", "--memory-size", str(rng.choice((128, 256, 512)))], None
        if op == "update":
            args = ["alias", "update", name, "--version", rng.choice(live)]
            others = [v for v in live if v != args[-1]]
            if others and rng.random() < 0.4:
                args += ["--weight", f"{rng.choice(others)}={rng.choice((0.1, 0.5, 0.9))}"]
            elif rng.random() < 0.5:
                args += ["--routing-config", "{}"]
            if rng.random() < 0.3:
                args += ["--description", f"round {self.summary.rounds}"]
            return op, args, name
        if op == "rollback":
            if rng.random() < 0.2:
                return op, ["rollback", name, "--to-version", rng.choice(live)], name
            return op, ["rollback", name], name
        if op == "promote":
            source, target = ("dev", "prod") if rng.random() < 0.7 else ("prod", "dev")
            return op, ["promote", source, target, "--create"], target
        if op == "delete":
            return op, ["versions", "delete", rng.choice(live)], None
        if op == "read":
            return op, rng.choice([
                ["versions", "list"],
                ["config", "show", "--qualifier", name],
                ["status"],
                ["alias", "get", name],
                ["invoke", "--qualifier", name, "--payload", "{}"],
            ]), None  # fmt: skip
        if op == "prune":
            keep, depth = str(rng.randint(1, 3)), str(rng.randint(0, 2))
            return op, ["versions", "prune", "--keep", keep, "--history-depth", depth], None
        return op, ["gc", "--grace", "0"], None

    def round(self, seed: int) -> None:
        rng = random.Random(seed)
        self.summary.rounds += 1
        self.summary.seeds.append(seed)
        gen = self.gen
        op, args, alias = self.choose(rng)
        gen = self.gen if op == "publish" else gen
        delay = rng.uniform(0.0, self.max_delay)
        out = self.run_killed(args, delay)
        self.summary.outcomes[f"{op}:{out.status}"] += 1
        if self.verbose:
            print(
                f"round {self.summary.rounds:4d} seed {seed:10d} {op:8s} "
                f"kill after {delay * 1000:6.1f} ms -> {out.status} ({out.seconds * 1000:.0f} ms)",
                flush=True,
            )
        if out.rc not in (0, 254, -signal.SIGKILL):
            self.violation(f"'{' '.join(args)}' exited {out.rc}: {out.stderr.strip()}")
        if out.rc == 254 and len(out.stderr.strip().splitlines()) != 1:
            self.violation(f"'{' '.join(args)}' refusal is not one line: {out.stderr!r}")
        result = json.loads(out.stdout) if out.rc == 0 and out.stdout.strip() else None
        if op == "publish" and out.rc == 0:
            self.record_publish(result, gen)
        if op == "delete":
            target = args[-1]
            if out.rc == 0:
                self.deleted.add(target)
            elif out.rc == -signal.SIGKILL:
                self.maybe_deleted.add(target)
        if op == "prune" and out.rc == 0:
            self.deleted.update(result["Deleted"])
            kept = {k["Version"] for k in result["Kept"]}
            newest = sorted(self.present, key=int)[-int(args[3]) :]
            if not set(newest) <= kept:
                self.violation(f"prune --keep {args[3]} did not keep {newest}: {result}")
        elif op == "prune" and out.rc == -signal.SIGKILL:
            # which versions prune removes is its own policy: any of them may be gone now,
            # but never one an alias uses (checked below)
            self.maybe_deleted.update(self.reported)
        self.check(op, alias, out, result)

    # --- the checks -------------------------------------------------------------------------

    def check(self, op: str, alias: str | None, out: Outcome, result: Any) -> None:
        if self.has["fsck"]:
            self.summary.fsck_runs += 1
            f = self.run("fsck")
            if f.rc != 0:
                try:
                    problems = json.loads(f.stdout)["Problems"]
                    for p in problems:
                        self.violation(f"fsck: {p['Kind']}: {p['Message']}")
                except (ValueError, KeyError, TypeError):
                    self.violation(f"fsck: exit {f.rc}: {(f.stdout + f.stderr).strip()[:500]}")
        listing = self.ok("versions", "list")
        present: dict[str, str] = {}
        if listing:
            for v in listing["Versions"][1:]:
                present[v["Version"]] = v["CodeSha256"]
        for version, (sha, _gen) in self.reported.items():
            if version in present:
                if present[version] != sha:
                    self.violation(f"version {version} changed: {sha} -> {present[version]}")
                if version in self.deleted:
                    self.violation(f"version {version} was deleted but is still listed")
            elif version not in self.deleted and version not in self.maybe_deleted:
                self.violation(f"published version {version} is missing")
        for version in present:
            if int(version) > self.max_reported and op != "publish":
                self.violation(f"version {version} appeared without a publish")
        # a killed publish may have published a version we were never told about: it
        # must hold the code that publish was given
        for version, sha in present.items():
            if version not in self.reported:
                self.reported[version] = (sha, self.gen if op == "publish" else -1)
                self.max_reported = max(self.max_reported, int(version))
        self.present = present
        self.check_aliases(present, op, alias, out, result)
        self.check_objects()
        for version in sorted(present, key=int):
            if version not in self.invoked:
                self.check_version_runs(version)

    def check_aliases(
        self, present: dict[str, str], op: str, changed: str | None, out: Outcome, result: Any
    ) -> None:
        aliases = self.ok("alias", "list")
        states = {a["Name"]: a for a in (aliases or {}).get("Aliases", [])}
        for name in ALIASES:
            state = states.get(name)
            if state is None:
                self.violation(f"alias {name} disappeared")
                continue
            used = [state["FunctionVersion"]]
            used += list(state.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}))
            for v in used:
                if v != "$LATEST" and v not in present:
                    self.violation(f"alias {name} points at missing version {v}")
                if v in self.deleted:
                    self.violation(f"alias {name} points at deleted version {v}")
            before = self.histories.get(name, [])
            h = self.ok("alias", "history", name)
            after = h["History"] if h else []
            if not after:
                self.violation(f"alias {name} has no history")
                continue
            head = {k: v for k, v in after[0].items() if k not in ("ChangedAt", "Change")}
            head.pop("PromotedFrom", None)
            # The newest entry is the ref's state; its RevisionId is the one it had when it
            # was recorded (an update that changed nothing rotated it without an entry).
            if {**head, "RevisionId": None} != {**state, "RevisionId": None}:
                self.violation(f"alias {name}: ref {state} != newest history entry {head}")
            grew = len(after) - len(before)
            if after[grew:] != before:
                self.violation(f"alias {name}: history was rewritten, not appended to")
            if name == changed and out.rc == 0:
                same = bool(before) and _routing(before[0]) == _routing(state)
                if grew != (0 if same and op in ("update", "promote") else 1):
                    self.violation(f"alias {name}: completed change added {grew} history entries")
                if result != state:
                    self.violation(f"alias {name}: printed {result}, stored {state}")
            elif name == changed and out.rc == -signal.SIGKILL:
                if grew not in (0, 1):
                    self.violation(f"alias {name}: killed change added {grew} history entries")
            elif grew != 0:
                self.violation(f"alias {name}: {grew} history entries from a '{op}'")
            self.histories[name] = after

    def check_objects(self, *, everything: bool = False) -> None:
        objects = self.root / ".lambdaver" / "objects"
        names: set[str] = set()
        leftovers = 0
        for fan in sorted(objects.iterdir()):
            if fan.name == "pack":
                leftovers += self.check_packs(fan, names, everything=everything)
                continue
            for obj in fan.iterdir():
                name = fan.name + obj.name
                if len(name) != 64 or not all(c in "0123456789abcdef" for c in name):
                    leftovers += 1  # a temporary left by a killed write
                    continue
                names.add(name)
                if name in self.verified_objects and not everything:
                    continue
                data = obj.read_bytes()
                self.summary.objects_checked += 1
                if hashlib.sha256(data).hexdigest() != name:
                    try:
                        ok = hashlib.sha256(zlib.decompress(data)).hexdigest() == name
                    except zlib.error:
                        ok = False
                    if not ok:
                        self.violation(f"object {name} fails its hash check")
                        continue
                self.verified_objects.add(name)
        tmp = self.root / ".lambdaver" / "tmp"
        leftovers += sum(1 for _ in tmp.iterdir()) if tmp.is_dir() else 0
        self.summary.leftover_temporaries = leftovers
        index = self.root / ".lambdaver" / "index"
        if index.exists():
            entries = read_index(index.read_bytes())
            if entries is None:
                self.violation("the stat cache (index) cannot be read")
                entries = {}
            for path, row in entries.items():
                if row[-1] not in names:
                    self.violation(f"index names {row[-1]} ({path}), which is not stored")

    def check_packs(self, pack_dir: Path, names: set[str], *, everything: bool) -> int:
        """Read every pack with its index (docs/FORMAT.md, "Packs"), independently of
        lambdaver's code; re-hash its blobs.  The count of packs without an index (the
        leftovers of a killed publish)."""
        leftovers = 0
        for idx in sorted(pack_dir.glob("*.idx")):
            data = idx.read_bytes()
            if hashlib.sha256(data).hexdigest() != idx.stem:
                self.violation(f"pack index {idx.name} fails its hash check")
                continue
            magic, count = struct.unpack_from(">8sQ", data)
            if magic != b"LVIDX\x00\x00\x01" or len(data) != 16 + 48 * count:
                self.violation(f"pack index {idx.name} is damaged")
                continue
            with idx.with_suffix(".pack").open("rb") as pack:
                if pack.read(8) != b"LVPACK\x00\x01":
                    self.violation(f"pack {idx.stem} has no pack header")
                for digest, offset, size in struct.iter_unpack(">32sQQ", data[16:]):
                    name = digest.hex()
                    names.add(name)
                    if name in self.verified_objects and not everything:
                        continue
                    pack.seek(offset)
                    self.summary.objects_checked += 1
                    if hashlib.sha256(pack.read(size)).hexdigest() != name:
                        self.violation(f"object {name} fails its hash check (in a pack)")
                        continue
                    self.verified_objects.add(name)
        for other in pack_dir.iterdir():
            if other.suffix != ".idx" and not other.with_suffix(".idx").exists():
                leftovers += 1
        return leftovers

    def stored(self) -> set[str]:
        names: set[str] = set()
        objects = self.root / ".lambdaver" / "objects"
        for fan in objects.iterdir():
            if fan.name != "pack":
                names.update(fan.name + obj.name for obj in fan.iterdir())
        for idx in (objects / "pack").glob("*.idx"):
            data = idx.read_bytes()
            names.update(d.hex() for d, _o, _s in struct.iter_unpack(">32sQQ", data[16:]))
        return names

    def check_version_runs(self, version: str) -> None:
        shown = self.ok("versions", "show", version)
        if shown is None:
            return
        stored = self.stored()
        for f in shown["Files"]:
            if f["Sha256"] not in stored:
                self.violation(f"version {version}: blob {f['Sha256']} ({f['Path']}) missing")
        out = self.run("invoke", "--qualifier", version, "--payload", "{}")
        self.summary.invocations_checked += 1
        if out.rc != 0:
            self.violation(f"invoke --qualifier {version}: exit {out.rc}: {out.stderr.strip()}")
            return
        gen = self.reported[version][1]
        got = json.loads(out.stdout)
        if gen >= 0 and got != {"gen": gen}:
            self.violation(f"invoke --qualifier {version} returned {got}, expected gen {gen}")
        self.invoked.add(version)

    def final_check(self) -> None:
        self.check_objects(everything=True)
        self.invoked.clear()
        listing = self.ok("versions", "list") or {"Versions": [{}]}
        for v in listing["Versions"][1:]:
            self.check_version_runs(v["Version"])


def run(
    rounds: int,
    seed: int,
    *,
    max_delay_ms: float,
    keep: Path | None,
    verbose: bool,
    exclude: tuple[str, ...] = (),
) -> Summary:
    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="lambdaver-crash-")) if keep is None else keep
    try:
        h = Harness(workdir, max_delay_ms=max_delay_ms, verbose=verbose, exclude=exclude)
        h.setup(seed)
        if verbose:
            present = [k for k, v in h.has.items() if v]
            print(f"seed {seed}; verbs present beyond the core: {present or 'none'}", flush=True)
        master = random.Random(seed)
        for _ in range(rounds):
            h.round(master.getrandbits(31))
        h.final_check()
        h.summary.elapsed = time.monotonic() - start
        return h.summary
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


# --- deploy mode: kill -9 of ``lambdaver deploy`` at random points ------------------------

DEPLOY_STRATEGIES = (
    # (strategy, --speed): each takes about half a second to a second
    ("AllAtOnce", 1.0),
    ("Canary10Percent5Minutes", 500.0),
    ("Canary25Percent10Minutes", 900.0),
    ("Linear10PercentEvery1Minute", 900.0),
    ("Linear30PercentEvery2Minutes", 700.0),
)


def _alias_state(conf: dict[str, Any] | None) -> tuple[str, tuple[tuple[str, float], ...]] | None:
    if conf is None:
        return None
    weights = (conf.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return conf["FunctionVersion"], tuple(sorted((k, float(v)) for k, v in weights.items()))


class DeployHarness(Harness):
    """Rounds of ``deploy prod --version V`` killed with SIGKILL at a random moment (or
    left to finish), then checked: the alias is at a state the deployment passes
    through (before, a weight of its strategy, after), never another; ``deploy status``
    tells the truth (a killed InProgress deployment's process is reported gone, its last
    step is where the alias is); ``deploy stop`` rolls it back; ``fsck`` is clean."""

    def setup_deploy(self) -> None:
        self.root.mkdir(parents=True)
        for v in range(1, 4):
            (self.root / "app.py").write_text(HANDLER.format(gen=v))
            if v == 1:
                self.ok("init", "--name", "crash")
            self.ok("publish")
        self.ok("alias", "create", "prod", "--version", "1")
        self.has["fsck"] = True
        self.deployments: set[str] = set()

    def deploy_round(self, seed: int) -> None:
        rng = random.Random(seed)
        self.summary.rounds += 1
        self.summary.seeds.append(seed)
        before = _alias_state(self.ok("alias", "get", "prod"))
        if before is None:
            return
        old = before[0]
        target = rng.choice([v for v in ("1", "2", "3") if v != old])
        strategy, speed = rng.choice(DEPLOY_STRATEGIES)
        args = ["deploy", "prod", "--version", target, "--strategy", strategy, "--speed",
                str(speed)]  # fmt: skip
        if rng.random() < 0.3:
            args += ["--pre-traffic-command", "sleep 0.1"]
        delay = rng.uniform(0.0, 1.6)
        out = self.run_killed(args, delay)
        self.summary.outcomes[f"deploy:{out.status}"] += 1
        from lambdaver.model.deploy import parse_strategy

        weights = [s.weight for s in parse_strategy(strategy).steps if s.weight < 1.0]
        allowed = {before, (target, ())} | {(old, ((target, w),)) for w in weights}
        after = _alias_state(self.ok("alias", "get", "prod"))
        if after not in allowed:
            self.violation(f"{strategy} {old}->{target}: alias at {after}, not one of {allowed}")
        status = self.run("deploy", "status")
        record = json.loads(status.stdout) if status.rc == 0 else None
        ours = record is not None and record["DeploymentId"] not in self.deployments
        if out.rc == 0:
            if not ours or record is None or record["Status"] != "Succeeded":
                self.violation(f"a deployment that exited 0 is not Succeeded: {record}")
            elif after != (target, ()):
                self.violation(f"Succeeded but the alias is at {after}")
        elif out.status == "killed" and ours and record is not None:
            self.check_killed(record, old, target, after)
        elif out.status != "killed":
            self.violation(f"deploy exited {out.rc}: {out.stderr.strip()[-300:]}")
        if ours and record is not None:
            self.deployments.add(record["DeploymentId"])
        elif after != before:
            self.violation(f"no deployment recorded, yet the alias moved: {before} -> {after}")
        fsck = self.run("fsck")
        self.summary.fsck_runs += 1
        if fsck.rc != 0:
            self.violation(f"fsck after a killed deploy: {fsck.stdout.strip()[-300:]}")
        if self.run("deploy", "list").rc != 0:
            self.violation("deploy list failed")

    def check_killed(self, record: dict[str, Any], old: str, target: str, after: Any) -> None:
        if record["Status"] == "InProgress":
            if record.get("Process", {}).get("Running") is not False:
                self.violation("a killed deployment's process is reported running")
            steps = record["Steps"]
            expected = (old, ()) if not steps else (
                (target, ()) if steps[-1]["Weight"] >= 1.0
                else (old, ((target, float(steps[-1]["Weight"])),))
            )  # fmt: skip
            if after != expected:
                self.violation(f"status says step {len(steps)} ({expected}), alias at {after}")
            self.summary.outcomes["deploy:killed in progress, then stopped"] += 1
            stop = self.run("deploy", "stop", record["DeploymentId"])
            stopped = json.loads(stop.stdout) if stop.rc == 0 else None
            if stopped is None or stopped["Status"] != "Stopped":
                self.violation(f"deploy stop failed: {stop.stderr.strip()}")
            back = _alias_state(self.ok("alias", "get", "prod"))
            if back != (old, ()):
                self.violation(f"deploy stop left the alias at {back}, not ({old}, ())")
        elif record["Status"] == "Succeeded" and after != (target, ()):
            self.violation(f"Succeeded but the alias is at {after}")
        elif (
            record["Status"] in ("Failed", "Stopped")
            and after != (old, ())
            and record.get("RolledBack")
        ):
            self.violation(f"{record['Status']} and rolled back, but the alias is at {after}")


def run_deploy(
    rounds: int, seed: int, *, keep: Path | None = None, verbose: bool = True
) -> Summary:
    """``rounds`` killed (or finished) deployments on one function; see DeployHarness."""
    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="lambdaver-crash-deploy-")) if keep is None else keep
    try:
        h = DeployHarness(workdir, verbose=verbose)
        h.setup_deploy()
        master = random.Random(seed)
        for _ in range(rounds):
            h.deploy_round(master.getrandbits(31))
        h.summary.elapsed = time.monotonic() - start
        return h.summary
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="rounds to run (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    parser.add_argument(
        "--max-delay-ms", type=float, default=150.0, help="kill within 0..this (default 150)"
    )
    parser.add_argument("--keep", type=Path, help="work in this (new) directory and keep it")
    parser.add_argument("--json", type=Path, help="also write the summary here as JSON")
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="OP",
        help="leave this operation out (publish, config, update, rollback, promote, delete, "
        "prune, gc); repeatable",
    )
    parser.add_argument(
        "--deploy", action="store_true", help="kill 'lambdaver deploy' instead (run_deploy)"
    )
    args = parser.parse_args(argv)
    if args.deploy:
        summary = run_deploy(args.rounds, args.seed, keep=args.keep, verbose=not args.quiet)
    else:
        summary = run(
            args.rounds,
            args.seed,
            max_delay_ms=args.max_delay_ms,
            keep=args.keep,
            verbose=not args.quiet,
            exclude=tuple(args.exclude),
        )
    data = summary.as_json()
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({k: v for k, v in data.items() if k != "seeds"}, indent=2))
    return 1 if summary.violations else 0


if __name__ == "__main__":
    sys.exit(main())
