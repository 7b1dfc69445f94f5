"""Packs: a publish that stores many new blobs writes them into one pack file with an
index (docs/FORMAT.md, "Packs"); every verb reads them, gc rewrites them, fsck checks them."""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import pytest

from lambdaver.storage.hashing import sha256
from lambdaver.storage.objects import PACK_MIN

from conftest import Fn, run_cli

MANY = PACK_MIN + 36  # more new files than PACK_MIN: a pack
BIG = 5 << 20  # larger than the read buffer: streamed into the pack


def pack_dir(fn: Fn) -> Path:
    return fn.root / ".lambdaver" / "objects" / "pack"


def packs(fn: Fn) -> list[Path]:
    """The index files of the store's packs."""
    return sorted(pack_dir(fn).glob("*.idx")) if pack_dir(fn).is_dir() else []


def pack_entries(idx: Path) -> dict[str, tuple[int, int]]:
    """Read an index as docs/FORMAT.md defines it, independently of lambdaver's code."""
    data = idx.read_bytes()
    magic, count = struct.unpack_from(">8sQ", data)
    assert magic == b"LVIDX\x00\x00\x01"
    assert len(data) == 16 + 48 * count
    assert sha256(data).hexdigest() == idx.stem
    rows = list(struct.iter_unpack(">32sQQ", data[16:]))
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    return {d.hex(): (o, s) for d, o, s in rows}


def loose(fn: Fn) -> set[str]:
    objects = fn.root / ".lambdaver" / "objects"
    return {p.parent.name + p.name for p in objects.glob("??/*") if ".tmp." not in p.name}


def many_files(fn: Fn, tag: str = "", count: int = MANY) -> dict[str, bytes]:
    files = {}
    for i in range(count):
        rel = f"pkg/m{i % 7}/f{i}.py"
        data = f"# {tag}\nVALUE = {i}\n".encode()
        (fn.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (fn.root / rel).write_bytes(data)
        files[rel] = data
    return files


def age(*paths: Path, seconds: float = 7200) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def test_many_new_files_go_into_one_pack_that_every_verb_reads(fn: Fn) -> None:
    files = many_files(fn)
    big = os.urandom(BIG)
    (fn.root / "data.bin").write_bytes(big)
    (fn.root / "copy.bin").write_bytes(big)  # the same large blob twice: stored once
    assert fn.publish() == "1"
    [idx] = packs(fn)
    entries = pack_entries(idx)
    shown = {f["Path"]: f for f in fn.ok("versions", "show", "1")["Files"]}
    for rel, data in files.items():
        digest = sha256(data).hexdigest()
        assert shown[rel]["Sha256"] == digest
        assert digest in entries and digest not in loose(fn)
    digest = sha256(big).hexdigest()
    assert shown["data.bin"]["Sha256"] == shown["copy.bin"]["Sha256"] == digest
    offset, size = entries[digest]
    with idx.with_suffix(".pack").open("rb") as pack:
        assert pack.read(8) == b"LVPACK\x00\x01"
        pack.seek(offset)
        assert pack.read(size) == big
    # Bytes in the pack: the header and each distinct blob once.
    assert set(entries) == {f["Sha256"] for f in shown.values()}
    assert idx.with_suffix(".pack").stat().st_size == 8 + sum(s for _o, s in entries.values())
    assert size == BIG
    # A repository with a pack is format 2, which an older lambdaver refuses.
    config = json.loads((fn.root / ".lambdaver" / "config").read_text())
    assert config["format_version"] == 2
    # invoke materialises the version from the pack.
    fn.write("app.py", "import pkg\n")  # $LATEST differs; version 1 is still the old code
    r = run_cli("-C", str(fn.root), "invoke", "--qualifier", "1", "-", "--output", "json")
    assert (r.exit_code, r.stdout) == (0, '{"v": 0}\n')
    run = fn.root / ".lambdaver" / "cache" / "run"
    [tree] = [p for p in run.iterdir() if p.is_dir()]
    assert (tree / "data.bin").read_bytes() == big
    assert (tree / "pkg/m3/f3.py").read_bytes() == files["pkg/m3/f3.py"]
    report = fn.ok("fsck")
    assert report["Problems"] == []
    assert report["ObjectsChecked"] == len(loose(fn)) + len(entries)


def test_a_small_publish_stays_loose(fn: Fn) -> None:
    many_files(fn, count=PACK_MIN - 4)  # with the starter files, at most PACK_MIN
    fn.publish()
    assert packs(fn) == []
    assert list(pack_dir(fn).iterdir()) == []


def test_publish_after_many_files_were_touched_writes_no_second_pack(fn: Fn) -> None:
    files = many_files(fn)
    fn.publish()
    before = {p: p.stat().st_mtime_ns for p in pack_dir(fn).iterdir()}
    loose_before = loose(fn)
    (fn.root / ".lambdaver" / "index").unlink(missing_ok=True)  # every file must be read again
    for p in fn.root.joinpath("pkg").rglob("*.py"):
        os.utime(p)
    assert fn.publish() == "1"  # unchanged code and configuration: nothing new
    fn.write("extra.py", "E = 1\n")
    (fn.root / ".lambdaver" / "index").unlink(missing_ok=True)
    assert fn.publish() == "2"  # one new blob, written loose; the packed ones not again
    assert {p: p.stat().st_mtime_ns for p in pack_dir(fn).iterdir()} == before
    assert sha256(b"E = 1\n").hexdigest() in loose(fn) - loose_before
    assert {sha256(d).hexdigest() for d in files.values()}.isdisjoint(loose(fn))
    assert list((fn.root / ".lambdaver" / "tmp").iterdir()) == []


def test_an_old_format_1_repository_is_read_and_upgraded_by_its_first_pack(fn: Fn) -> None:
    config_path = fn.root / ".lambdaver" / "config"
    config = json.loads(config_path.read_text())
    config["format_version"] = 1
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    assert fn.publish() == "1"  # one file: loose, the format stays 1
    assert json.loads(config_path.read_text())["format_version"] == 1
    assert fn.ok("versions", "show", "1")["Version"] == "1"
    many_files(fn)
    assert fn.publish() == "2"
    upgraded = json.loads(config_path.read_text())
    assert upgraded == {**config, "format_version": 2}
    assert len(packs(fn)) == 1
    assert fn.ok("fsck")["Problems"] == []


def test_gc_rewrites_a_pack_without_the_blobs_no_version_needs(fn: Fn) -> None:
    old = many_files(fn, "old")
    fn.publish()  # version 1: pack A
    new = many_files(fn, "new")  # every file changed: pack B
    fn.publish()
    shared = {f"lib/s{i}.py": f"S = {i}\n".encode() for i in range(MANY)}
    for rel, data in shared.items():
        fn.write(rel, data.decode())
    fn.publish()  # version 3: pack C holds only the lib files
    assert len(packs(fn)) == 3
    fn.ok("versions", "delete", "1")
    fn.ok("versions", "delete", "2")
    # Version 3 keeps the "new" files and the lib files; the "old" ones are nobody's.
    assert fn.ok("gc") == {"ObjectsRemoved": 0, "BytesFreed": 0, "TemporariesRemoved": 0}
    age(*pack_dir(fn).iterdir())
    out = fn.ok("gc", "--dry-run")
    assert out["ObjectsRemoved"] == len(old)
    assert len(packs(fn)) == 3
    assert fn.ok("gc") == out
    assert out["BytesFreed"] == sum(len(d) for d in old.values())
    remaining = {d for idx in packs(fn) for d in pack_entries(idx)}
    assert {sha256(d).hexdigest() for d in old.values()}.isdisjoint(remaining)
    assert {sha256(d).hexdigest() for d in [*new.values(), *shared.values()]} <= remaining
    assert len(packs(fn)) == 2  # pack A was only "old" blobs: gone
    assert sorted(p for p in pack_dir(fn).iterdir() if p.suffix == ".pack") == [
        p.with_suffix(".pack") for p in packs(fn)
    ]
    assert fn.ok("fsck")["Problems"] == []
    r = run_cli("-C", str(fn.root), "invoke", "--qualifier", "3", "-", "--output", "json")
    assert r.exit_code == 0, r.stderr


def test_gc_keeps_the_live_part_of_a_partly_dead_pack(fn: Fn) -> None:
    files = many_files(fn, "v1")
    fn.publish()
    fn.write("pkg/m0/f0.py", "CHANGED = 1\n")
    fn.publish()
    fn.ok("versions", "delete", "1")
    fn.write("pkg/m0/f0.py", "CHANGED = 2\n")  # $LATEST no longer needs the old f0 either
    [idx] = packs(fn)
    old_entries = pack_entries(idx)
    age(idx, idx.with_suffix(".pack"))
    out = fn.ok("gc")
    assert out["ObjectsRemoved"] >= 1
    [new_idx] = packs(fn)
    assert new_idx != idx
    dead = sha256(files["pkg/m0/f0.py"]).hexdigest()
    assert set(pack_entries(new_idx)) == set(old_entries) - {dead}
    assert not idx.with_suffix(".pack").exists()
    assert fn.ok("fsck")["Problems"] == []
    assert fn.publish() == "3"


def test_fsck_finds_a_damaged_blob_in_a_pack_and_a_damaged_index(fn: Fn, unchanged) -> None:
    files = many_files(fn)
    fn.publish()
    [idx] = packs(fn)
    digest = sha256(files["pkg/m2/f9.py"]).hexdigest()
    offset, _size = pack_entries(idx)[digest]
    pack = idx.with_suffix(".pack")
    pack.chmod(0o644)
    with pack.open("r+b") as f:
        f.seek(offset)
        f.write(b"X")
    with unchanged(fn.root):
        r = fn("fsck")
    assert r.exit_code == 1, r.stderr
    problems = r.json["Problems"]
    assert [p["Kind"] for p in problems] == ["CorruptObject"]
    assert problems[0]["Object"] == digest
    assert "pkg/m2/f9.py in version 1" in problems[0]["Message"]
    # invoke refuses to run the damaged code
    r = run_cli("-C", str(fn.root), "invoke", "--qualifier", "1", "-", "--output", "json")
    assert r.exit_code != 0 and digest in r.stderr
    idx.chmod(0o644)
    with idx.open("ab") as f:
        f.write(b"junk")
    problems = fn("fsck").json["Problems"]
    assert "CorruptPack" in [p["Kind"] for p in problems]


def test_a_pack_without_its_index_is_a_leftover_that_gc_removes(fn: Fn) -> None:
    many_files(fn)
    fn.publish()
    [idx] = packs(fn)
    orphan = pack_dir(fn) / ("ab" * 32 + ".pack")
    orphan.write_bytes(b"LVPACK\x00\x01half")
    assert fn.ok("fsck")["Problems"] == []  # like a temporary: nothing refers to it
    assert fn.ok("gc")["TemporariesRemoved"] == 0  # within the grace period
    age(orphan)
    assert fn.ok("gc")["TemporariesRemoved"] == 1
    assert not orphan.exists()
    assert packs(fn) == [idx] and idx.with_suffix(".pack").exists()


def test_the_object_store_lists_checks_and_collects_its_packs(tmp_path: Path) -> None:
    """The store's own listing of its packs, as gc and fsck use it (no layout outside it)."""
    from lambdaver.storage.fileutil import Sweeper
    from lambdaver.storage.objects import ObjectStore
    from lambdaver.storage.pack import Pack

    (tmp_path / "t").mkdir()
    (tmp_path / "o").mkdir()
    store = ObjectStore(tmp_path / "o", tmp_path / "t")
    sources = []
    for i in range(MANY):
        (tmp_path / f"f{i}").write_bytes(f"blob {i}\n".encode())
        sources.append((i, str(tmp_path / f"f{i}")))
    digests: dict[int, str] = {}
    store.put_files_packed(sources, lambda k, d, _n: digests.__setitem__(k, d))
    assert list(store.loose_objects()) == []
    [(idx, is_index)] = list(store.pack_files())
    assert is_index and idx.endswith(".idx")
    pack = Pack(idx)
    assert all(store.verify_packed(pack, d, o, n) for d, o, n in pack.entries())
    keep = {digests[i] for i in range(PACK_MIN + 1)}  # more than PACK_MIN live: a new pack
    assert not store.garbage(keep, Sweeper(3600))  # the pack is younger than the grace
    age(idx)
    sweeper = Sweeper(3600)
    garbage = store.garbage(keep, sweeper)
    dead = set(digests.values()) - keep
    assert garbage.digests() == dead and garbage.loose == []
    store.collect(garbage, sweeper)
    assert sweeper.objects == len(dead) == MANY - PACK_MIN - 1
    assert sweeper.freed == sum(len(f"blob {i}\n") for i in range(PACK_MIN + 1, MANY))
    [(new_idx, _)] = list(store.pack_files())
    assert new_idx != idx
    assert {d for d, _o, _n in Pack(new_idx).entries()} == keep
    assert all(store.has(d) for d in keep) and not any(store.has(d) for d in dead)


@pytest.mark.parametrize("fail_at", ["finish", "rename"])
def test_a_publish_that_fails_while_packing_leaves_nothing(
    fn: Fn, unchanged, monkeypatch, fail_at: str
) -> None:
    fn.publish()
    many_files(fn)
    from lambdaver.storage import pack

    real_replace = os.replace

    def boom(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    if fail_at == "finish":
        monkeypatch.setattr(pack.os, "fsync", boom)
    else:

        def replace(src: str, dst: str) -> None:
            if str(dst).endswith(".idx"):
                boom()
            real_replace(src, dst)

        monkeypatch.setattr(pack.os, "replace", replace)
    with unchanged(fn.root / ".lambdaver"):
        r = fn("publish")
    assert r.exit_code != 0
    assert r.stderr.count("\n") == 1 and "No space left on device" in r.stderr


def test_a_reader_that_loaded_the_packs_before_gc_replaced_one_still_reads(fn: Fn) -> None:
    """Readers take no lock: a pack index read before gc rewrote the pack names a pack
    file that is gone; the store reads the packs again instead of failing."""
    from lambdaver.service.repository import Repository

    files = many_files(fn, "v1")
    fn.publish()
    fn.write("pkg/m0/f0.py", "CHANGED = 1\n")
    fn.publish()
    fn.ok("versions", "delete", "1")
    fn.write("pkg/m0/f0.py", "CHANGED = 2\n")
    reader = Repository.discover(fn.root)
    [old] = reader.store.packs()  # loaded now, before gc
    wanted = sha256(files["pkg/m1/f1.py"]).hexdigest()
    age(*pack_dir(fn).iterdir())
    assert fn.ok("gc")["ObjectsRemoved"] >= 1
    assert not Path(old.pack_path).exists()
    assert reader.store.get_bytes(wanted) == files["pkg/m1/f1.py"]
    assert b"".join(reader.store.stream_blob(wanted)) == files["pkg/m1/f1.py"]


@pytest.mark.parametrize("seed", range(4))
def test_pack_writer_against_a_model(tmp_path: Path, seed: int) -> None:
    """Blobs added whole or streamed in parts, some dropped again after parts of them were
    written out (a staging buffer of two blocks makes every case cross a flush): the pack
    holds exactly the kept blobs, at the offsets its index gives."""
    import random

    from lambdaver.storage.pack import PACK_MAGIC, Pack, PackWriter

    class Small(PackWriter):
        BUFFER = 2 * PackWriter.ALIGN

    rng = random.Random(seed)
    writer = Small(str(tmp_path / "pack"), str(tmp_path))
    expected = PACK_MAGIC
    kept: dict[bytes, bytes] = {}
    for i in range(60):
        data = rng.randbytes(rng.choice([0, 1, 100, 4095, 4096, 4097, 9000, 20000]))
        digest = sha256(data + bytes([i])).digest()  # distinct names
        if rng.random() < 0.5:
            writer.add(digest, data)
        else:
            start = writer.begin()
            for k in range(0, len(data), 3000):
                writer.part(data[k : k + 3000])
            if rng.random() < 0.4:
                writer.discard(start)
                continue
            writer.end_blob(start, digest)
        kept[digest] = data
        expected += data
    made = writer.finish()
    assert made is not None
    idx_path, pack_path = made
    assert Path(pack_path).read_bytes() == expected
    pack = Pack(idx_path)
    assert pack.name_ok() and pack.count == len(kept)
    for digest, data in kept.items():
        found = pack.find(digest)
        assert found is not None
        offset, size = found
        assert expected[offset : offset + size] == data
    assert pack.find(b"\0" * 32) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]  # no temporaries left


def _write_one_pack(tmp: Path) -> tuple[Path, bytes]:
    from lambdaver.storage.pack import PACK_MAGIC, PackWriter

    data = os.urandom(3 * PackWriter.ALIGN + 5)
    writer = PackWriter(str(tmp / "pack"), str(tmp))
    writer.add(sha256(data).digest(), data)
    made = writer.finish()
    assert made is not None
    pack = Path(made[1])
    assert pack.read_bytes() == PACK_MAGIC + data
    return pack, data


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm")
def test_a_filesystem_without_direct_io_gets_ordinary_writes() -> None:
    """tmpfs refuses O_DIRECT at open: the pack is written the ordinary way."""
    import tempfile

    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        _write_one_pack(Path(d))
        assert sorted(p.name for p in Path(d).iterdir()) == ["pack"]


def test_direct_writes_refused_after_open_fall_back(tmp_path: Path, monkeypatch) -> None:
    """A filesystem that opens O_DIRECT but refuses the writes (EINVAL)."""
    import errno

    from lambdaver.storage import pack

    real_pwrite = os.pwrite
    refused = []

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0):
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(pack.os, "pwrite", pwrite)
    _write_one_pack(tmp_path)
    if getattr(os, "O_DIRECT", 0):
        assert refused  # the first write was refused, the rest went through buffered
