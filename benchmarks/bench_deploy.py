"""What one alarm evaluation of ``lambdaver deploy`` costs, against the journal's length.

A deployment reads the invocation journal from the byte offset it had when the
deployment began (runtime/journal.py ``JournalTail``), so each evaluation (at least ten
a second) costs a stat and the bytes appended since the last one, whatever the
journal's length.  This measures, for a journal of 10 and of 100,000 entries:

* ``poll``: one evaluation with nothing new (a stat);
* ``poll+10``: one evaluation after 10 new entries (read, parse, update the figures,
  evaluate three alarms);
* ``full read``: reading the whole journal once, as ``lambdaver metrics`` does (what an
  evaluation would cost without the offset).

    python benchmarks/bench_deploy.py [--repeat 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lambdaver.model.deploy import VersionStats, parse_alarms
from lambdaver.runtime.journal import Journal, JournalTail


def entry(i: int) -> dict[str, Any]:
    return {
        "RequestId": f"{i:08d}-0000-0000-0000-000000000000",
        "Time": "2026-12-04T06:00:00.000+0000",
        "Qualifier": "prod",
        "ExecutedVersion": "2" if i % 10 == 0 else "1",
        "DurationMs": float(i % 300),
        "BilledDurationMs": 1,
        "MaxMemoryUsedMB": 30,
        "ErrorType": None,
        "Log": "START RequestId: x\nEND RequestId: x\nREPORT RequestId: x Duration: 1 ms\n",
        "InvocationType": "RequestResponse",
    }


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def measure(size: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(tmp, max_bytes=1 << 40)  # no rotation: one file of `size` entries
        lines = b"".join(
            json.dumps(entry(i), sort_keys=True, separators=(",", ":")).encode() + b"\n"
            for i in range(size)
        )
        Path(journal.path).write_bytes(lines)
        alarms = parse_alarms(["errors>5", "error-rate>1%", "p95>800ms"])
        stats = {"1": VersionStats("1"), "2": VersionStats("2")}

        def evaluate(tail: JournalTail) -> None:
            for e in tail.poll():
                s = stats.get(str(e.get("ExecutedVersion")))
                if s is not None:
                    s.add(float(e.get("DurationMs") or 0.0), e.get("ErrorType"))
            for alarm in alarms:
                alarm.tripped(stats["2"])

        tail = JournalTail(tmp)
        idle = []
        for _ in range(repeat):
            t = time.perf_counter()
            evaluate(tail)
            idle.append(time.perf_counter() - t)
        full = []
        for _ in range(max(3, repeat // 50)):
            t = time.perf_counter()
            for _e in journal.entries():
                pass
            full.append(time.perf_counter() - t)
        busy = []
        for r in range(repeat):
            for i in range(10):
                journal.append(entry(size + r * 10 + i))
            t = time.perf_counter()
            evaluate(tail)
            busy.append(time.perf_counter() - t)
    return {
        "entries": size,
        "poll_us": median(idle) * 1e6,
        "poll_plus_10_us": median(busy) * 1e6,
        "full_read_ms": median(full) * 1e3,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = [measure(size, args.repeat) for size in (10, 100_000)]
    print(f"{'journal entries':>16} {'poll':>10} {'poll+10':>10} {'full read':>11}")
    for r in rows:
        print(
            f"{r['entries']:>16,} {r['poll_us']:>8.1f}us {r['poll_plus_10_us']:>8.1f}us "
            f"{r['full_read_ms']:>9.2f}ms"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
