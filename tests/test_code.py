"""Code in and out: diff, checkout, export, import / update-function-code."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from conftest import Fn, run_cli

APP = "def handler(event, context):\n    return {'v': 0}\n"
ERR = "An error occurred ({code}) when calling the {op} operation: {msg}\n"


def make_zip(
    path: Path, *entries: tuple[str, bytes, int], method: int = zipfile.ZIP_STORED
) -> Path:
    """A zip of ``(name, data, unix mode)`` entries (mode 0o120777 makes a symlink)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = method
            zf.writestr(info, data)
    return path


def files_of(root: Path) -> dict[str, str]:
    """Every file under root outside .lambdaver, as text (links as '-> target')."""
    out = {}
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".lambdaver"]
        for n in names:
            p = Path(dirpath, n)
            rel = p.relative_to(root).as_posix()
            out[rel] = f"-> {os.readlink(p)}" if p.is_symlink() else p.read_text()
    return out


@pytest.fixture
def two(fn: Fn) -> Fn:
    """Version 1: app.py, lib/util.py, gone.py; version 2: app.py changed (exec),
    gone.py deleted, new.py and a symlink added, timeout 10, STAGE=prod."""
    fn.write("lib/util.py", "U = 1\n")
    fn.write("gone.py", "G = 1\n")
    assert fn.publish() == "1"
    fn.write("app.py", APP.replace("0", "2"))
    (fn.root / "app.py").chmod(0o755)
    (fn.root / "gone.py").unlink()
    fn.write("new.py", "N = 1\n")
    (fn.root / "link.py").symlink_to("lib/util.py")
    fn.ok("config", "set", "--timeout", "10", "--env", "STAGE=prod")
    assert fn.publish() == "2"
    return fn


# --- diff ------------------------------------------------------------------------------


def test_diff_equal_exits_0(two: Fn) -> None:
    r = two("diff", "2")
    assert r.exit_code == 0, r
    assert r.json == {
        "Equal": True,
        "From": "2",
        "To": "$LATEST",
        "Files": {"Added": [], "Modified": [], "Deleted": []},
        "Configuration": {},
    }
    assert r.stderr == ""


def test_diff_between_versions_exits_1_with_exit_code(two: Fn) -> None:
    r = two("diff", "1", "2", "--exit-code")
    assert r.exit_code == 1, r
    assert r.json == {
        "Equal": False,
        "From": "1",
        "To": "2",
        "Files": {"Added": ["link.py", "new.py"], "Modified": ["app.py"], "Deleted": ["gone.py"]},
        "Configuration": {
            "Environment": [None, {"Variables": {"STAGE": "prod"}}],
            "Timeout": [3, 10],
        },
    }


def test_diff_through_an_alias_and_latest(two: Fn) -> None:
    two.ok("alias", "create", "prod", "--version", "1")
    two.write("new.py", "N = 2\n")
    r = two("diff", "prod")
    assert r.exit_code == 0
    out = r.json
    assert (out["From"], out["To"]) == ("prod", "$LATEST")
    assert out["Files"] == {
        "Added": ["link.py", "new.py"],
        "Modified": ["app.py"],
        "Deleted": ["gone.py"],
    }
    r = two("diff", "$LATEST", "prod")
    assert r.json["Files"]["Deleted"] == ["link.py", "new.py"]


def test_diff_patch_in_json_and_as_text(two: Fn) -> None:
    expected = (
        "diff --git a/app.py b/app.py\n"
        "old mode 100644\n"
        "new mode 100755\n"
        "--- a/app.py\n"
        "+++ b/app.py\n"
        "@@ -1,2 +1,2 @@\n"
        " def handler(event, context):\n"
        "-    return {'v': 0}\n"
        "+    return {'v': 2}\n"
        "diff --git a/gone.py b/gone.py\n"
        "deleted file mode 100644\n"
        "--- a/gone.py\n"
        "+++ /dev/null\n"
        "@@ -1 +0,0 @@\n"
        "-G = 1\n"
        "diff --git a/link.py b/link.py\n"
        "new file mode 120000\n"
        "--- /dev/null\n"
        "+++ b/link.py\n"
        "@@ -0,0 +1 @@\n"
        "+lib/util.py\n"
        "\\ No newline at end of file\n"
        "diff --git a/new.py b/new.py\n"
        "new file mode 100644\n"
        "--- /dev/null\n"
        "+++ b/new.py\n"
        "@@ -0,0 +1 @@\n"
        "+N = 1\n"
        "# configuration 1 -> 2\n"
        "# -timeout = 3\n"
        "# +timeout = 10\n"
        '# +environment.STAGE = "prod"\n'
    )
    r = two("diff", "1", "2", "--patch")
    assert r.exit_code == 0
    assert r.json["Patch"] == expected
    r = run_cli("-C", str(two.root), "diff", "1", "2", "--patch", "--output", "text")
    assert (r.exit_code, r.stdout, r.stderr) == (0, expected, "")


def test_diff_patch_binary_files(fn: Fn) -> None:
    (fn.root / "data.bin").write_bytes(b"\x00\x01\x02")
    (fn.root / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    fn.publish()
    (fn.root / "data.bin").write_bytes(b"\x00\x01\x03")
    r = fn("diff", "1", "--patch", "--exit-code")
    assert r.exit_code == 1
    assert r.json["Patch"] == (
        "diff --git a/data.bin b/data.bin\nBinary files a/data.bin and b/data.bin differ\n"
    )
    (fn.root / "latin.txt").unlink()
    r = fn("diff", "1", "--patch", "--query", "Patch", "--output", "text")
    assert r.stdout.endswith(
        "diff --git a/latin.txt b/latin.txt\n"
        "deleted file mode 100644\n"
        "Binary files a/latin.txt and /dev/null differ\n\n"
    )


def test_diff_unknown_qualifier_is_254(two: Fn) -> None:
    r = two("diff", "7")
    assert r.exit_code == 254
    assert r.stderr == ERR.format(
        code="ResourceNotFoundException",
        op="DiffVersions",
        msg="Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:7",
    )
    assert r.stdout == ""


def test_diff_query_for_scripts(two: Fn) -> None:
    r = run_cli("-C", str(two.root), "diff", "2", "--query", "Equal", "--output", "text")
    assert (r.exit_code, r.stdout) == (0, "True\n")


# --- checkout --------------------------------------------------------------------------


def test_checkout_restores_code_configuration_modes_and_links(two: Fn) -> None:
    (two.root / ".lambdaverignore").write_text("notes.txt\n")
    two.write("notes.txt", "mine\n")
    two.write("lib/__pycache__/util.cpython-311.pyc", "cache")
    out = two.ok("checkout", "1")
    assert out["Version"] == "$LATEST"
    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:hello"
    assert out["Timeout"] == 3 and "Environment" not in out
    assert out["CodeSha256"] == two.ok("config", "show", "--qualifier", "1")["CodeSha256"]
    assert files_of(two.root) == {
        ".lambdaverignore": "notes.txt\n",
        "app.py": APP,
        "gone.py": "G = 1\n",
        "lambdaver.toml": (two.root / "lambdaver.toml").read_text(),
        "lib/util.py": "U = 1\n",
        "lib/__pycache__/util.cpython-311.pyc": "cache",
        "notes.txt": "mine\n",
    }
    assert not os.access(two.root / "app.py", os.X_OK)
    assert 'name = "hello"' in (two.root / "lambdaver.toml").read_text()
    assert two("diff", "1").exit_code == 0
    # $LATEST now equals version 1, which is published: going back needs no --force
    out = two.ok("checkout", "2")
    assert (two.root / "link.py").is_symlink()
    assert os.readlink(two.root / "link.py") == "lib/util.py"
    assert os.access(two.root / "app.py", os.X_OK)
    assert not (two.root / "gone.py").exists()
    assert out["Environment"] == {"Variables": {"STAGE": "prod"}}
    assert two.ok("status")["Changed"] is False


def test_checkout_refuses_unpublished_changes(two: Fn, unchanged) -> None:
    two.write("app.py", "# work in progress\n")
    two.ok("config", "set", "--memory-size", "256")
    with unchanged(two.root):
        r = two("checkout", "1")
    assert r.exit_code == 254
    assert r.stderr == ERR.format(
        code="ResourceConflictException",
        op="Checkout",
        msg="$LATEST has unpublished changes (modified: app.py; configuration: MemorySize "
        "since version 2) that no version holds; publish them first, or use --force to "
        "discard them",
    )
    assert two.ok("checkout", "1", "--force")["MemorySize"] == 128
    assert (two.root / "app.py").read_text() == APP


def test_checkout_of_what_latest_already_is_changes_nothing(two: Fn, unchanged) -> None:
    two.ok("alias", "create", "dev", "--version", "$LATEST")
    shown = two.ok("config", "show")  # a read verb may refresh derived data: not inside
    with unchanged(two.root):
        assert two.ok("checkout", "2") == shown
        assert two.ok("checkout", "$LATEST")["Version"] == "$LATEST"
        assert two.ok("checkout", "dev")["Version"] == "$LATEST"


def test_checkout_through_an_alias(two: Fn) -> None:
    two.ok("alias", "create", "prod", "--version", "1")
    two.ok("checkout", "prod")
    assert (two.root / "gone.py").read_text() == "G = 1\n"


def test_checkout_refuses_a_file_that_is_ignored_here(two: Fn, unchanged) -> None:
    (two.root / ".lambdaverignore").write_text("gone.py\n")
    with unchanged(two.root):
        r = two("checkout", "1")
    assert r.exit_code == 254
    assert r.stderr == ERR.format(
        code="ResourceConflictException",
        op="Checkout",
        msg="Version 1 holds 'gone.py', which .lambdaverignore ignores here, so $LATEST "
        "could not hold it; change .lambdaverignore first",
    )


def test_checkout_refuses_to_remove_a_directory_of_ignored_files(fn: Fn, unchanged) -> None:
    fn.write("lib", "a file\n")
    fn.publish()
    (fn.root / "lib").unlink()
    fn.write("lib/__pycache__/x.pyc", "ignored")
    fn.publish()
    with unchanged(fn.root):
        r = fn("checkout", "1")
    assert r.exit_code == 254
    assert "'lib' is a directory holding files that are not part of $LATEST's code" in r.stderr


def test_checkout_refuses_a_directory_holding_an_ignored_link(fn: Fn, unchanged) -> None:
    fn.write("lib", "a file\n")
    fn.publish()
    (fn.root / "lib").unlink()
    fn.write("lib/a.py", "A = 1\n")
    fn.publish()
    (fn.root / ".lambdaverignore").write_text("lib/cache\n")
    (fn.root / "lib" / "cache").symlink_to("..")  # an ignored link to a directory
    with unchanged(fn.root):
        r = fn("checkout", "1", "--force")
    assert r.exit_code == 254
    assert "('lib/cache'), where a file must go; move it away first" in r.stderr


def test_checkout_replaces_a_file_by_a_directory_and_back(fn: Fn) -> None:
    fn.write("lib", "a file\n")
    fn.publish()
    (fn.root / "lib").unlink()
    fn.write("lib/a.py", "A = 1\n")
    fn.publish()
    fn.ok("checkout", "1")
    assert (fn.root / "lib").read_text() == "a file\n"
    fn.ok("checkout", "2")
    assert (fn.root / "lib" / "a.py").read_text() == "A = 1\n"


def test_checkout_of_a_corrupt_version_changes_no_file(two: Fn, unchanged) -> None:
    blob = hashlib.sha256(b"G = 1\n").hexdigest()
    path = two.root / ".lambdaver" / "objects" / blob[:2] / blob[2:]
    path.chmod(0o644)
    path.write_bytes(b"G = 666\n")
    with unchanged(two.root):
        r = two("checkout", "1")
    assert r.exit_code == 253
    assert r.stderr == ERR.format(
        code="RepositoryCorrupt", op="Checkout", msg=f"Object {blob} fails its hash check"
    )


def test_checkout_restores_a_missing_lambdaver_toml(tmp_path: Path) -> None:
    root = tmp_path / "dir"
    root.mkdir()
    (root / "app.py").write_text(APP)
    assert run_cli("init", str(root), "--name", "orders", "--timeout", "9").exit_code == 0
    f = Fn(root)
    f.publish()
    text = (root / "lambdaver.toml").read_text()
    (root / "lambdaver.toml").unlink()
    (root / ".lambdaver" / "cache" / "function").unlink(missing_ok=True)
    r = f("checkout", "1")
    assert r.exit_code == 0, r
    assert (root / "lambdaver.toml").read_text() == text
    assert r.json["FunctionName"] == "orders"


def test_checkout_applies_a_patch_made_by_diff(two: Fn, tmp_path: Path) -> None:
    """diff --patch is a real patch: patch -p1 turns version 1 into version 2."""
    import shutil
    import subprocess

    if shutil.which("patch") is None:
        pytest.skip("no patch(1) here")
    patch = two("diff", "1", "2", "--patch").json["Patch"]
    two.ok("checkout", "1")
    p = subprocess.run(
        ["patch", "-p1", "--quiet"], input=patch, text=True, cwd=two.root,
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert two("diff", "2", "--query", "Files").json == {
        "Added": [],
        "Modified": [],
        "Deleted": [],
    }


# --- export ----------------------------------------------------------------------------


def test_export_is_byte_reproducible_and_prints_aws_code_sha256(two: Fn, tmp_path: Path) -> None:
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    out = two.ok("export", "2", "-o", str(a))
    data = a.read_bytes()
    assert out == {
        "ZipFile": str(a),
        "CodeSha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        "CodeSize": len(data),
        "Version": "2",
    }
    two.ok("export", "2", "-o", str(b))
    assert b.read_bytes() == data
    with zipfile.ZipFile(a) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["app.py", "lib/util.py", "link.py", "new.py"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.create_system for i in infos} == {3}
        assert {i.filename: i.external_attr >> 16 for i in infos} == {
            "app.py": 0o100755,
            "lib/util.py": 0o100644,
            "link.py": 0o120777,
            "new.py": 0o100644,
        }
        assert zf.read("link.py") == b"lib/util.py"
        assert zf.testzip() is None


def test_export_to_stdout_gives_the_same_bytes(two: Fn, tmp_path: Path) -> None:
    import subprocess
    import sys

    two.ok("export", "1", "-o", str(tmp_path / "f.zip"))
    p = subprocess.run(
        [sys.executable, "-m", "lambdaver", "-C", str(two.root), "export", "1", "-o", "-",
         "--output", "json"],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout == (tmp_path / "f.zip").read_bytes()
    assert b'"ZipFile": "-"' in p.stderr


def test_same_code_in_two_repositories_exports_the_same_bytes(tmp_path: Path) -> None:
    zips = []
    for name in ("one", "two"):
        root = tmp_path / name
        root.mkdir()
        (root / "app.py").write_text(APP)
        (root / "run.sh").write_text("#!/bin/sh\n")
        (root / "run.sh").chmod(0o700)
        assert run_cli("init", str(root), "--runtime", "python3.12").exit_code == 0
        desc = ("--description", name)
        assert run_cli("-C", str(root), "publish", *desc).exit_code == 0
        assert (
            run_cli("-C", str(root), "export", "1", "-o", str(tmp_path / f"{name}.zip")).exit_code
            == 0
        )
        zips.append((tmp_path / f"{name}.zip").read_bytes())
    assert zips[0] == zips[1]


def test_export_of_latest_by_default_and_left_out_inside_the_function(two: Fn) -> None:
    (two.root / ".lambdaverignore").unlink()  # as before init wrote one that ignores *.zip
    two.write("new.py", "N = 2\n")
    r = run_cli("-C", str(two.root), "export", "-o", str(two.root / "fn.zip"), "--output", "json")
    assert r.exit_code == 0, r
    assert r.json["Version"] == "$LATEST"
    assert r.stderr == (
        "lambdaver: note: added /fn.zip to .lambdaverignore, so that the zip written there "
        "never becomes part of the function's code\n"
    )
    assert (two.root / ".lambdaverignore").read_text() == "/fn.zip\n"
    with zipfile.ZipFile(two.root / "fn.zip") as zf:
        assert zf.read("new.py") == b"N = 2\n"
        assert "fn.zip" not in zf.namelist()
    status = run_cli("-C", str(two.root), "status", "--output", "json")
    assert "fn.zip" not in status.json["Files"]["Added"]
    r = run_cli("-C", str(two.root), "export", "-o", str(two.root / "fn.zip"))
    assert (r.exit_code, r.stderr) == (0, "")  # already left out: overwritten, no note
    # a code file is never overwritten by an export
    r = run_cli("-C", str(two.root), "export", "-o", str(two.root / "new.py"))
    assert r.exit_code == 254, r
    assert (two.root / "new.py").read_text() == "N = 2\n"


def test_export_of_an_unknown_version_writes_nothing(two: Fn, tmp_path: Path) -> None:
    r = two("export", "9", "-o", str(tmp_path / "x.zip"))
    assert r.exit_code == 254
    assert r.stderr.startswith(
        "An error occurred (ResourceNotFoundException) when calling the ExportFunction operation"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hello"]  # no zip, no temporary


def test_export_to_a_missing_directory_or_over_a_directory(two: Fn, tmp_path: Path) -> None:
    r = two("export", "1", "-o", str(tmp_path / "no" / "x.zip"))
    assert (r.exit_code, r.stdout) == (254, "")
    assert r.stderr == ERR.format(
        code="InvalidParameterValueException",
        op="ExportFunction",
        msg=f"Cannot write {tmp_path / 'no' / 'x.zip'}: No such file or directory",
    )
    (tmp_path / "d").mkdir()
    r = two("export", "1", "-o", str(tmp_path / "d"))
    assert r.exit_code == 254
    assert r.stderr.endswith(f"Cannot write {tmp_path / 'd'}: Is a directory\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "hello"]


def test_export_of_a_corrupt_version_writes_nothing(two: Fn, tmp_path: Path) -> None:
    blob = hashlib.sha256(b"U = 1\n").hexdigest()
    path = two.root / ".lambdaver" / "objects" / blob[:2] / blob[2:]
    path.chmod(0o644)
    path.write_bytes(b"U = 2\n")
    r = two("export", "2", "-o", str(tmp_path / "x.zip"))
    assert r.exit_code == 253
    assert r.stderr == ERR.format(
        code="RepositoryCorrupt", op="ExportFunction", msg=f"Object {blob} fails its hash check"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hello"]


def test_export_then_import_round_trips(two: Fn, tmp_path: Path) -> None:
    z = tmp_path / "v1.zip"
    two.ok("export", "1", "-o", str(z))
    out = two.ok("update-function-code", "--zip-file", f"fileb://{z}")
    assert out["Version"] == "$LATEST"
    assert out["CodeSha256"] == two.ok("config", "show", "--qualifier", "1")["CodeSha256"]
    assert two("diff", "1", "--query", "Files").json == {
        "Added": [],
        "Modified": [],
        "Deleted": [],
    }


# --- import / update-function-code ---------------------------------------------------------


def test_import_replaces_code_and_keeps_ignored_files_and_configuration(
    fn: Fn, tmp_path: Path
) -> None:
    (fn.root / ".lambdaverignore").write_text("*.log\n")
    fn.write("debug.log", "keep me\n")
    fn.write("old.py", "O = 1\n")
    fn.write("__pycache__/app.cpython-311.pyc", "cache")
    fn.ok("config", "set", "--timeout", "7")
    fn.publish()  # else the import is refused: it would discard unpublished code
    toml = (fn.root / "lambdaver.toml").read_bytes()
    z = make_zip(
        tmp_path / "fn.zip",
        ("app.py", APP.encode(), 0o100644),
        ("bin/run", b"#!/bin/sh\n", 0o100755),
        ("lib/", b"", 0o040755),
        ("lib/x.py", b"X = 1\n", 0o100644),
        ("alias.py", b"lib/x.py", 0o120777),
        method=zipfile.ZIP_DEFLATED,
    )
    r = fn("import", str(z))
    assert r.exit_code == 0, r
    assert r.stderr == ""
    assert r.json["Version"] == "$LATEST"
    assert r.json["Timeout"] == 7
    assert files_of(fn.root) == {
        ".lambdaverignore": "*.log\n",
        "__pycache__/app.cpython-311.pyc": "cache",
        "alias.py": "-> lib/x.py",
        "app.py": APP,
        "bin/run": "#!/bin/sh\n",
        "debug.log": "keep me\n",
        "lambdaver.toml": toml.decode(),
        "lib/x.py": "X = 1\n",
    }
    assert os.access(fn.root / "bin" / "run", os.X_OK)
    assert not os.access(fn.root / "app.py", os.X_OK)
    assert (fn.root / "lambdaver.toml").read_bytes() == toml


def test_update_function_code_publish_returns_the_new_version(fn: Fn, tmp_path: Path) -> None:
    fn.publish()
    z = make_zip(tmp_path / "fn.zip", ("app.py", b"def handler(e, c):\n    return 5\n", 0o100644))
    out = fn.ok("update-function-code", "--zip-file", f"fileb://{z}", "--publish")
    assert out["Version"] == "2"
    assert out["FunctionArn"].endswith(":function:hello:2")
    assert fn.ok("status")["Changed"] is False
    r = run_cli("-C", str(fn.root), "invoke", "--qualifier", "2", "-", "--output", "json")
    assert r.stdout == "5\n"
    # the same zip again: nothing to publish, the newest version is returned (as AWS)
    assert fn.ok("update-function-code", "--zip-file", f"fileb://{z}", "--publish") == out


def test_import_leaves_out_entries_that_latest_ignores(fn: Fn, tmp_path: Path, unchanged) -> None:
    z = make_zip(
        tmp_path / "fn.zip",
        ("app.py", APP.encode(), 0o100644),
        ("lambdaver.toml", b'name = "evil"\n', 0o100644),
        (".lambdaver/config", b"{}", 0o100644),
        ("__pycache__/app.cpython-311.pyc", b"x", 0o100644),
    )
    with unchanged(fn.root / ".lambdaver"):
        r = fn("import", str(z))
    assert r.exit_code == 0, r
    assert r.stderr == (
        "lambdaver: left out 3 zip entries that $LATEST ignores: .lambdaver/config, "
        "__pycache__/app.cpython-311.pyc, lambdaver.toml\n"
    )
    assert 'name = "hello"' in (fn.root / "lambdaver.toml").read_text()
    assert not (fn.root / "__pycache__").exists()


def test_import_of_identical_code_touches_no_file(fn: Fn, tmp_path: Path, unchanged) -> None:
    z = make_zip(tmp_path / "fn.zip", ("app.py", APP.encode(), 0o100644))
    before = (fn.root / "app.py").stat().st_mtime_ns
    with unchanged(fn.root):
        fn.ok("import", str(z))
    assert (fn.root / "app.py").stat().st_mtime_ns == before


def test_import_from_stdin(fn: Fn, tmp_path: Path) -> None:
    z = make_zip(tmp_path / "fn.zip", ("app.py", b"# from stdin\n", 0o100644))
    fn.publish()
    r = fn("import", "-", input=z.read_bytes())
    assert r.exit_code == 0, r
    assert (fn.root / "app.py").read_text() == "# from stdin\n"


def _big_declared(path: Path, size: int) -> Path:
    """A small zip whose directory claims an entry of ``size`` bytes."""
    make_zip(path, ("app.py", b"x", 0o100644))
    data = bytearray(path.read_bytes())
    cd = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, size)
    path.write_bytes(bytes(data))
    return path


def _duplicate(path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_zip(path, ("app.py", b"1", 0o100644), ("app.py", b"2", 0o100644))
    return path


def _bomb(path: Path) -> Path:
    return make_zip(path, ("zeros", b"\0" * (2 << 20), 0o100644), method=zipfile.ZIP_DEFLATED)


def _bad_crc(path: Path) -> Path:
    make_zip(path, ("app.py", b"print('hello')\n", 0o100644), ("b.py", b"B = 1\n", 0o100644))
    data = path.read_bytes().replace(b"B = 1", b"B = 2", 1)
    path.write_bytes(data)
    return path


REFUSALS = [
    ("zip slip", lambda p: make_zip(p, ("../evil.py", b"x", 0o100644)),
     "Zip entry '../evil.py' leads outside the function directory; refused"),
    ("nested slip", lambda p: make_zip(p, ("lib/../../evil.py", b"x", 0o100644)),
     "Zip entry 'lib/../../evil.py' leads outside the function directory; refused"),
    ("absolute", lambda p: make_zip(p, ("/etc/evil", b"x", 0o100644)),
     "Zip entry '/etc/evil' has an absolute path; refused"),
    ("symlink out", lambda p: make_zip(p, ("lib/l", b"../../etc/passwd", 0o120777)),
     "Symlink 'lib/l' points outside the function directory (target '../../etc/passwd')"),
    ("absolute symlink", lambda p: make_zip(p, ("l", b"/etc/passwd", 0o120777)),
     "Symlink 'l' points outside the function directory (absolute target '/etc/passwd')"),
    ("too big", lambda p: _big_declared(p, 262_144_001),
     "Unzipped size must be smaller than 262144000 bytes"),
    ("bomb", _bomb,
     "Zip entry 'zeros' has a suspicious compression ratio ("),
    ("duplicate", _duplicate, "Zip entry 'app.py' appears more than once; refused"),
    ("file and directory", lambda p: make_zip(p, ("a", b"1", 0o100644), ("a/b", b"2", 0o100644)),
     "Zip entry 'a' is a file and also a directory (of 'a/b'); refused"),
    ("fifo", lambda p: make_zip(p, ("pipe", b"", 0o010644)),
     "Zip entry 'pipe' is not a regular file, directory or symlink"),
    ("not a zip", lambda p: (p.write_bytes(b"just text\n"), p)[1],
     "Could not unzip uploaded file. Please check your file, then try to upload again."),
    ("bad crc", _bad_crc,
     "Could not unzip uploaded file. Please check your file, then try to upload again. "
     "('b.py': Bad CRC-32 for file 'b.py')"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
@pytest.mark.parametrize("verb", ["import", "update-function-code"])
def test_import_refusals_change_nothing(
    fn: Fn, tmp_path: Path, unchanged, build, message: str, verb: str
) -> None:
    fn.write("old.py", "O = 1\n")
    fn.publish()
    z = build(tmp_path / "in.zip")
    args = [str(z)] if verb == "import" else ["--zip-file", f"fileb://{z}", "--publish"]
    with unchanged(fn.root):
        r = fn(verb, *args)
    assert r.exit_code == 254, r
    op = "ImportFunction" if verb == "import" else "UpdateFunctionCode"
    head = f"An error occurred (InvalidParameterValueException) when calling the {op} operation: "
    assert r.stderr.startswith(head + message), r.stderr
    assert r.stderr.count("\n") == 1
    assert r.stdout == ""
    assert list((fn.root / ".lambdaver" / "tmp").iterdir()) == []


def test_import_refuses_a_file_where_an_ignored_file_is(fn: Fn, tmp_path: Path, unchanged) -> None:
    (fn.root / ".lambdaverignore").write_text("data/\n")
    fn.write("data/cache.bin", "local")
    z = make_zip(tmp_path / "fn.zip", ("app.py", b"#\n", 0o100644), ("data", b"x", 0o100644))
    # 'data' (a file) is not ignored by 'data/', but a directory of ignored files is there
    with unchanged(fn.root):
        r = fn("import", str(z))
    assert r.exit_code == 254
    assert r.stderr == ERR.format(
        code="ResourceConflictException",
        op="ImportFunction",
        msg="'data' is a directory holding files that are not part of $LATEST's code "
        "('data/cache.bin'), where a file must go; move it away first",
    )


def test_update_function_code_needs_fileb(fn: Fn, tmp_path: Path, unchanged) -> None:
    z = make_zip(tmp_path / "fn.zip", ("app.py", b"#\n", 0o100644))
    with unchanged(fn.root):
        r = fn("update-function-code", "--zip-file", f"file://{z}")
        assert r.exit_code == 254
        assert r.stderr == ERR.format(
            code="InvalidParameterValueException",
            op="UpdateFunctionCode",
            msg="--zip-file must be a zip file with the fileb:// prefix. "
            "Example usage:  --zip-file fileb://path/to/file.zip",
        )
        r = fn("update-function-code", "--zip-file", f"fileb://{tmp_path}/missing.zip")
        assert r.exit_code == 254
        assert r.stderr == ERR.format(
            code="InvalidParameterValueException",
            op="UpdateFunctionCode",
            msg=f"Error parsing parameter '--zip-file': Unable to load paramfile "
            f"fileb://{tmp_path}/missing.zip: No such file or directory",
        )
        r = fn("update-function-code", "--zip-file", f"fileb://{z}", "--function-name", "hello:1")
        assert r.exit_code == 254
        assert "Cannot provide qualifier" in r.stderr


def test_import_of_a_missing_file_or_a_directory(fn: Fn, tmp_path: Path, unchanged) -> None:
    with unchanged(fn.root):
        r = fn("import", str(tmp_path / "nope.zip"))
        assert (r.exit_code, r.stdout) == (254, "")
        assert r.stderr == ERR.format(
            code="InvalidParameterValueException",
            op="ImportFunction",
            msg=f"Cannot read {tmp_path / 'nope.zip'}: No such file or directory",
        )
        r = fn("import", str(tmp_path))
        assert r.exit_code == 254
        assert r.stderr.endswith(f"operation: {tmp_path} is a directory, not a zip file\n")


def test_update_function_code_revision_id(fn: Fn, tmp_path: Path, unchanged) -> None:
    z = make_zip(tmp_path / "fn.zip", ("app.py", b"# new\n", 0o100644))
    rev = fn.ok("config", "show")["RevisionId"]
    fn.write("app.py", "# edited meanwhile\n")
    with unchanged(fn.root):
        r = fn("update-function-code", "--zip-file", f"fileb://{z}", "--revision-id", rev)
    assert r.exit_code == 254
    assert "(PreconditionFailedException)" in r.stderr
    rev = fn.ok("config", "show")["RevisionId"]
    out = fn.ok(
        "update-function-code", "--zip-file", f"fileb://{z}", "--revision-id", rev, "--force"
    )
    assert out["RevisionId"] != rev


# --- help ------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["diff", "checkout", "export", "import", "update-function-code"])
def test_help_ends_with_examples_and_exit_statuses(verb: str) -> None:
    r = run_cli(verb, "--help")
    assert r.exit_code == 0
    assert "Examples:\n    lambdaver " in r.stdout
    assert r.stdout.rstrip().endswith("255 internal error.")
    if verb == "diff":
        assert "0 success, equal or not; 1 different (with --exit-code)" in r.stdout


def test_export_piped_into_import_like_a_shell_script(two: Fn, tmp_path: Path) -> None:
    """`lambdaver -C a export 2 -o - | lambdaver -C b import - --publish` with the installed
    command: b's version 1 has a's version 2's code, and exporting it gives the same zip."""
    import subprocess
    import sys

    from conftest import LAMBDAVER_SCRIPT

    cmd = (
        [str(LAMBDAVER_SCRIPT)]
        if LAMBDAVER_SCRIPT.exists()
        else [sys.executable, "-m", "lambdaver"]
    )
    other = tmp_path / "other"
    other.mkdir()
    assert run_cli("init", str(other)).exit_code == 0  # a starter app.py: importable
    exported = subprocess.run(
        [*cmd, "-C", str(two.root), "export", "2", "-o", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    imported = subprocess.run(
        [*cmd, "-C", str(other), "import", "-", "--publish", "--query", "Version",
         "--output", "text"],
        input=exported.stdout, capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert (imported.returncode, imported.stdout, imported.stderr) == (0, b"1\n", b"")
    again = subprocess.run(
        [*cmd, "-C", str(other), "export", "1", "-o", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert again.stdout == exported.stdout
