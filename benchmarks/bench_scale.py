"""Scale: read verbs, alias update and invoke with 10,000 versions and 1,000 aliases
against the same with 10 versions and 10 aliases.

    python benchmarks/bench_scale.py [--versions 10000] [--aliases 1000] [--repeat 15]

Target (issue "prove it"): every timed command within 1.2x of its small-repository
figure, i.e. no scan of all versions or all aliases on those paths.  (Listing verbs
such as ``versions list`` print every version and are excluded by nature.)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_env, lambdaver_cmd, machine_info, machine_line, median, run


def build(root: Path, versions: int, aliases: int) -> Path:
    """A repository made in-process through the service layer (fast)."""
    from lambdaver.cli.listing import item_view
    from lambdaver.service import aliases as al
    from lambdaver.service import functions as fns
    from lambdaver.service.settings import Settings

    fn = root / f"fn{versions}"
    fn.mkdir()
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (fn / "app.py").write_text("def handler(e, c):\n    return 0\n")
    repo, _ = fns.init_function(fn, Settings(), name="scale", runtime=runtime)
    for i in range(versions):
        (fn / "app.py").write_text(f"def handler(e, c):\n    return {i}\n")
        fns.publish(repo, view=item_view)  # the view the CLI's publish stores
    for i in range(aliases):
        al.create_alias(repo, f"a{i}", str(1 + i % versions))
    return fn


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--aliases", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    lv = lambdaver_cmd()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = bench_env(root / "home")
        t0 = time.perf_counter()
        small = build(root, 10, 10)
        large = build(root, args.versions, args.aliases)
        print(f"built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        mid = str(args.versions // 2)
        cmds = {
            "config show --qualifier N": ["config", "show", "--qualifier", "{v}"],
            "versions show N": ["versions", "show", "{v}"],
            "alias get A": ["alias", "get", "a5"],
            "config show --qualifier A": ["config", "show", "--qualifier", "a5"],
            "alias update A --version N": ["alias", "update", "a5", "--version", "{v}"],
            "alias history A": ["alias", "history", "a5"],
            "invoke --qualifier A": ["invoke", "--qualifier", "a5", str(root / "out.json")],
            "status": ["status"],
        }
        results = {}
        for name, argv_ in cmds.items():
            times: dict[str, list[float]] = {"small": [], "large": []}
            for _ in range(args.repeat + 1):
                for label, fn, v in (("small", small, "5"), ("large", large, mid)):
                    c = [a.replace("{v}", v) for a in argv_]
                    times[label].append(run([*lv, *c], cwd=fn, env=env)[0])
            s = median(times["small"][1:]) or 0.0
            big = median(times["large"][1:]) or 0.0
            results[name] = {"small_s": s, "large_s": big, "ratio": big / s if s else None}
    print(machine_line(machine_info()))
    big_label = f"{args.versions} v/{args.aliases} a"
    print(f"{'command':32} {'10 v/10 a':>10} {big_label}  ratio  (target <= 1.2x)")
    for name, r in results.items():
        verdict = "met" if r["ratio"] is not None and r["ratio"] <= 1.2 else "NOT met"
        print(f"{name:32} {1000 * r['small_s']:8.1f} ms {1000 * r['large_s']:10.1f} ms  "
              f"{r['ratio']:.2f}x  {verdict}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
