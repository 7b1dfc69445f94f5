"""lambdaver.runtime.journal: appends from many processes, rotation, torn lines."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from lambdaver.runtime.journal import Journal

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from lambdaver.runtime.journal import Journal

    directory, writer, count, max_bytes = sys.argv[1:]
    journal = Journal(Path(directory), max_bytes=int(max_bytes), keep=1000)
    for i in range(int(count)):
        journal.append({"writer": writer, "i": i, "log": "x" * (i % 7) * 100 + "\\nend"})
    """
)


def run_writers(directory: Path, writers: int, count: int, max_bytes: int) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), f"w{n}", str(count), str(max_bytes)]
        )
        for n in range(writers)
    ]
    for process in processes:
        assert process.wait(timeout=60) == 0


def test_entries_are_compact_sorted_json_lines_oldest_first(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "deep" / "dir")  # created on the first append
    assert list(journal.entries()) == []
    journal.append({"b": 1, "a": "x\ny", "nested": {"z": None}})
    journal.append({"n": 2})
    assert (tmp_path / "deep" / "dir" / "journal.jsonl").read_bytes() == (
        b'{"a":"x\\ny","b":1,"nested":{"z":null}}\n{"n":2}\n'
    )
    assert list(journal.entries()) == [{"a": "x\ny", "b": 1, "nested": {"z": None}}, {"n": 2}]


def test_concurrent_appends_from_many_processes_are_all_intact(tmp_path: Path) -> None:
    run_writers(tmp_path, writers=4, count=200, max_bytes=1 << 30)
    entries = list(Journal(tmp_path).entries())
    assert len(entries) == 800
    for writer in ("w0", "w1", "w2", "w3"):
        mine = [e["i"] for e in entries if e["writer"] == writer]
        assert mine == list(range(200))  # each writer's lines, whole and in its order
    lines = (tmp_path / "journal.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert all(json.loads(line) for line in lines[:-1])


def test_concurrent_appends_while_rotating_lose_nothing(tmp_path: Path) -> None:
    run_writers(tmp_path, writers=4, count=200, max_bytes=20_000)
    assert len(list(tmp_path.glob("journal.jsonl.*"))) > 3  # it did rotate, many times
    entries = list(Journal(tmp_path, max_bytes=20_000, keep=1000).entries())
    assert sorted((e["writer"], e["i"]) for e in entries) == sorted(
        (f"w{n}", i) for n in range(4) for i in range(200)
    )


def test_rotation_keeps_only_the_newest_files(tmp_path: Path) -> None:
    journal = Journal(tmp_path, max_bytes=100, keep=2)
    for i in range(31):
        journal.append({"i": i, "pad": "p" * 20})  # 37-38 bytes a line: rotates every 3 lines
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["journal.jsonl", "journal.jsonl.1", "journal.jsonl.2", "journal.lock"]
    numbers = [e["i"] for e in journal.entries()]
    assert numbers == list(range(24, 31))  # .2: 24-26, .1: 27-29, current: 30
    assert all(p.stat().st_size <= 100 + 40 for p in tmp_path.glob("journal.jsonl*"))


def test_keep_zero_discards_old_entries(tmp_path: Path) -> None:
    journal = Journal(tmp_path, max_bytes=50, keep=0)
    for i in range(10):
        journal.append({"i": i, "pad": "p" * 20})
    assert not list(tmp_path.glob("journal.jsonl.*"))
    assert len(list(journal.entries())) <= 2


def test_a_torn_line_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append({"i": 1})
    with (tmp_path / "journal.jsonl").open("ab") as f:
        f.write(b'{"i": 2, "cut sh')  # a writer died mid-line
    assert list(journal.entries()) == [{"i": 1}]
    journal.append({"i": 3})  # glued to the torn line: that one line is lost, no more
    journal.append({"i": 4})
    assert list(journal.entries()) == [{"i": 1}, {"i": 4}]


def test_a_read_only_journal_can_be_read(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append({"i": 1})
    (tmp_path / "journal.lock").unlink(missing_ok=True)
    tmp_path.chmod(0o555)
    try:
        assert list(journal.entries()) == [{"i": 1}]
    finally:
        tmp_path.chmod(0o755)
