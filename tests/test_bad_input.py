"""Bad input, table-driven: every row is one refused command.  Each must print exactly one
line on standard error in the contract's form (``An error occurred (Code) when calling
the Op operation: ...``, exit 254 or 253) or click's usage message (exit 2), nothing on
standard output, and leave the function directory and its repository byte-identical
("A refused command changes nothing on disk": docs/cli.md, "Exit statuses").

Faults that a root-run test cannot produce with chmod (an unreadable file, a read-only
repository, a full disk) are injected in-process (``run_cli`` goes through the real error
boundary); a real full tmpfs is used as well when this process may mount one."""

from __future__ import annotations

import builtins
import errno
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import Fn, run_cli, snapshot

ERROR_LINE = re.compile(r"An error occurred \((\w+)\) when calling the (\w+) operation: (.+)")
PRECONDITION = "The Revision Id provided does not match the latest Revision Id"


# --- the function every row starts from -----------------------------------------------------
#
# hello: versions 1, 2, 3 (app.py returns its number), alias prod -> 1 (one history entry),
# alias dev -> 2.  Built once, copied for every row.


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "hello"
    root.mkdir()
    (root / "app.py").write_text("def handler(event, context):\n    return 0\n")
    env = {"LAMBDAVER_CONFIG": str(root.parent / "none.toml")}
    assert run_cli("init", str(root), "--output", "json", env=env).exit_code == 0
    fn = Fn(root)
    for i in (1, 2, 3):
        (root / "app.py").write_text(f"def handler(event, context):\n    return {i}\n")
        assert run_cli("-C", str(root), "publish", env=env).exit_code == 0
    for name, v in (("prod", "1"), ("dev", "2")):
        assert run_cli("-C", str(root), "alias", "create", name, "--version", v, env=env)
    assert fn.root.exists()
    return root


@pytest.fixture
def hello(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "hello"
    shutil.copytree(template, root, symlinks=True)
    return root


# --- fault injection ------------------------------------------------------------------------


def _under(path: Any, root: Path) -> bool:
    try:
        return os.path.abspath(os.fsdecode(path)).startswith(str(root))
    except TypeError:
        return False


def _fd_under(fd: int, root: Path) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith(str(root))
    except OSError:
        return False


def _fail(code: int, path: Any = None) -> OSError:
    return OSError(code, os.strerror(code), None if path is None else os.fsdecode(path))


def read_only(mp: pytest.MonkeyPatch, root: Path) -> None:
    """The repository's file system is mounted read-only: every open for writing, every
    new directory, rename and unlink under it fails with EROFS, and SQLite opens the
    metadata read-only (as it does on a read-only mount)."""
    real_open, real_builtin_open, real_connect = os.open, builtins.open, sqlite3.connect
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def fake_open(path: Any, flags: int, *a: Any, **k: Any) -> int:
        if flags & writing and _under(path, root):
            raise _fail(errno.EROFS, path)
        return real_open(path, flags, *a, **k)

    def fake_builtin_open(file: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
        if not isinstance(file, int) and set(mode) & set("wax+") and _under(file, root):
            raise _fail(errno.EROFS, file)
        return real_builtin_open(file, mode, *a, **k)

    def refuse(name: str) -> Callable[..., Any]:
        real = getattr(os, name)

        def fake(path: Any, *a: Any, **k: Any) -> Any:
            if _under(path, root):
                raise _fail(errno.EROFS, path)
            return real(path, *a, **k)

        return fake

    def fake_connect(database: Any, *a: Any, **k: Any) -> sqlite3.Connection:
        if _under(database, root):
            return real_connect(f"file:{database}?mode=ro", *a, uri=True, **k)
        return real_connect(database, *a, **k)

    mp.setattr(os, "open", fake_open)
    mp.setattr(builtins, "open", fake_builtin_open)
    for name in ("mkdir", "rename", "replace", "unlink", "rmdir", "symlink", "link"):
        mp.setattr(os, name, refuse(name))
    mp.setattr(sqlite3, "connect", fake_connect)


def disk_full_at_object_write(mp: pytest.MonkeyPatch, root: Path) -> None:
    """ENOSPC from every write into a file of the object store (blobs and records)."""
    from lambdaver.storage import objects

    real_write = os.write

    def fake_write(fd: int, data: Any) -> int:
        if _fd_under(fd, root / ".lambdaver" / "objects") or _fd_under(
            fd, root / ".lambdaver" / "tmp"
        ):
            raise _fail(errno.ENOSPC)
        return real_write(fd, data)

    mp.setattr(objects.os, "write", fake_write)


def disk_full_everywhere(mp: pytest.MonkeyPatch, root: Path) -> None:
    """ENOSPC from every write under the function directory, and from SQLite's commit."""
    real_write = os.write
    real_connect = sqlite3.connect

    def fake_write(fd: int, data: Any) -> int:
        if _fd_under(fd, root):
            raise _fail(errno.ENOSPC)
        return real_write(fd, data)

    class FullConnection(sqlite3.Connection):
        def execute(self, sql: str, *a: Any) -> sqlite3.Cursor:  # type: ignore[override]
            if sql.strip().upper().startswith(("INSERT", "UPDATE", "DELETE", "COMMIT")):
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, *a)

    def fake_connect(database: Any, *a: Any, **k: Any) -> sqlite3.Connection:
        return real_connect(database, *a, factory=FullConnection, **k)

    mp.setattr(os, "write", fake_write)
    mp.setattr(sqlite3, "connect", fake_connect)


def disk_full_after(n: int) -> Callable[[pytest.MonkeyPatch, Path], None]:
    """The object store's file system fills up after ``n`` more object writes."""

    def patch(mp: pytest.MonkeyPatch, root: Path) -> None:
        from lambdaver.storage import objects

        real_write = os.write
        left = [n]

        def fake_write(fd: int, data: Any) -> int:
            if _fd_under(fd, root / ".lambdaver"):
                if left[0] <= 0:
                    raise _fail(errno.ENOSPC)
                left[0] -= 1
            return real_write(fd, data)

        mp.setattr(objects.os, "write", fake_write)

    return patch


def sqlite_full(mp: pytest.MonkeyPatch, root: Path) -> None:
    """SQLite reports a full disk when the transaction commits."""
    real_connect = sqlite3.connect

    class FullConnection(sqlite3.Connection):
        def execute(self, sql: str, *a: Any) -> sqlite3.Cursor:  # type: ignore[override]
            if sql.strip().upper() == "COMMIT":
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, *a)

    def fake_connect(database: Any, *a: Any, **k: Any) -> sqlite3.Connection:
        return real_connect(database, *a, factory=FullConnection, **k)

    mp.setattr(sqlite3, "connect", fake_connect)


def unreadable(rel: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    """``rel`` (a file of $LATEST) cannot be opened: EACCES, as for a non-root user after
    ``chmod 000``."""

    def patch(mp: pytest.MonkeyPatch, root: Path) -> None:
        target = str(root / rel)
        real_builtin_open, real_open = builtins.open, os.open

        def fake_builtin_open(file: Any, *a: Any, **k: Any) -> Any:
            if not isinstance(file, int) and os.path.abspath(os.fsdecode(file)) == target:
                raise PermissionError(errno.EACCES, "Permission denied", target)
            return real_builtin_open(file, *a, **k)

        def fake_open(path: Any, *a: Any, **k: Any) -> int:
            if os.path.abspath(os.fsdecode(path)) == target:
                raise PermissionError(errno.EACCES, "Permission denied", target)
            return real_open(path, *a, **k)

        mp.setattr(builtins, "open", fake_builtin_open)
        mp.setattr(os, "open", fake_open)

    return patch


def unreadable_dir(rel: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    def patch(mp: pytest.MonkeyPatch, root: Path) -> None:
        target = str(root / rel)
        real = os.scandir

        def fake(path: Any = ".") -> Any:
            if os.path.abspath(os.fsdecode(path)) == target:
                raise PermissionError(errno.EACCES, "Permission denied", target)
            return real(path)

        mp.setattr(os, "scandir", fake)

    return patch


def io_error(mp: pytest.MonkeyPatch, root: Path) -> None:
    """EIO from every read of the object store (a failing disk)."""
    real_builtin_open = builtins.open

    def fake_builtin_open(file: Any, *a: Any, **k: Any) -> Any:
        if not isinstance(file, int) and _under(file, root / ".lambdaver" / "objects"):
            raise _fail(errno.EIO, file)
        return real_builtin_open(file, *a, **k)

    mp.setattr(builtins, "open", fake_builtin_open)


# --- set-ups (run before the snapshot) -----------------------------------------------------


def write(rel: str, data: str | bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            p.write_bytes(data)
        else:
            p.write_text(data)

    return setup


def toml(text: str) -> Callable[[Path], None]:
    return write("lambdaver.toml", text)


GOOD_TOML = 'name = "hello"\nruntime = "python3.12"\nhandler = "app.handler"\n'


def symlink(rel: str, target: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / rel).symlink_to(target)

    return setup


def fifo(rel: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        os.mkfifo(root / rel)

    return setup


def remove(rel: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        p = root / rel
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()

    return setup


def truncate(rel: str, size: int) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        p = root / rel
        p.write_bytes(p.read_bytes()[:size])

    return setup


def repo_config(text: str) -> Callable[[Path], None]:
    return write(".lambdaver/config", text)


def corrupt_blob_of_version(root: Path) -> None:
    """Flip the stored copy of version 1's app.py (the bytes 'return 1')."""
    for obj in (root / ".lambdaver" / "objects").rglob("*"):
        if obj.is_file() and obj.read_bytes().endswith(b"return 1\n"):
            obj.chmod(0o644)
            obj.write_bytes(obj.read_bytes().replace(b"return 1", b"return 9"))
            obj.chmod(0o444)
            return
    raise AssertionError("blob not found")


def evil_zip(name: str, members: dict[str, bytes]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        with zipfile.ZipFile(root.parent / name, "w") as z:
            for member, data in members.items():
                z.writestr(member, data)

    return setup


def zip_symlink(name: str) -> Callable[[Path], None]:
    """A zip holding a symlink (unix mode 0o120777) to ../../etc/passwd."""

    def setup(root: Path) -> None:
        with zipfile.ZipFile(root.parent / name, "w") as z:
            z.writestr("app.py", b"")
            info = zipfile.ZipInfo("passwd")
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            z.writestr(info, b"../../etc/passwd")

    return setup


def chain(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for step in steps:
            step(root)

    return setup


def many_files(root: Path) -> None:
    for i in range(10):
        (root / f"f{i}.bin").write_bytes(os.urandom(1000 + i))


def change_code(root: Path) -> None:
    (root / "app.py").write_text("def handler(event, context):\n    return 4\n")


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    id: str
    args: tuple[str, ...]
    status: int
    code: str | None  # the error code; None: a usage error (exit 2)
    message: str  # a substring of the error line (of click's "Error:" line for usage errors)
    op: str | None = None
    setup: Callable[[Path], None] | None = None
    fault: Callable[[pytest.MonkeyPatch, Path], None] | None = None
    stdin: str | None = None
    where: str = "hello"  # the directory given to -C, relative to the test's tmp_path
    marks: tuple[Any, ...] = field(default=())


LONG = "x" * 257
ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"
V, I, N, C, P, R = (  # noqa: E741
    "ValidationException",
    "InvalidParameterValueException",
    "ResourceNotFoundException",
    "ResourceConflictException",
    "PreconditionFailedException",
    "InvalidRequestContentException",
)
RNF, RC, RIO, URF = (
    "RepositoryNotFound",
    "RepositoryCorrupt",
    "RepositoryIOError",
    "UnsupportedRepositoryFormat",
)

TABLE: list[Bad] = [
    # --- names ---
    Bad("alias-name-digits", ("alias", "create", "123", "--version", "1"), 254, V,
        "Value '123' at 'name'", "CreateAlias"),
    Bad("alias-name-latest", ("alias", "create", "$LATEST", "--version", "1"), 254, V,
        "at 'name'", "CreateAlias"),
    Bad("alias-name-too-long", ("alias", "create", "a" * 129, "--version", "1"), 254, V,
        "Member must have length less than or equal to 128", "CreateAlias"),
    Bad("alias-name-bad-chars", ("alias", "create", "bad name!", "--version", "1"), 254, V,
        "Member must satisfy regular expression pattern", "CreateAlias"),
    Bad("alias-name-empty", ("alias", "create", "", "--version", "1"), 254, V,
        "at 'name'", "CreateAlias"),
    Bad("alias-name-unicode", ("alias", "get", "pröd"), 254, V, "at 'name'", "GetAlias"),
    Bad("function-name-other", ("alias", "list", "--function-name", "other"), 254, N,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:other",
        "ListAliases"),
    Bad("function-name-too-long", ("config", "show", "--function-name", "f" * 257), 254, V,
        "Member must have length less than or equal to 256", "GetFunctionConfiguration"),
    Bad("function-name-bad-chars", ("config", "show", "--function-name", "he llo"), 254, V,
        "functionName", "GetFunctionConfiguration"),
    Bad("init-bad-name", ("init", "{tmp}/new", "--name", "bad name"), 254, V,
        "Member must satisfy regular expression pattern", "CreateFunction"),
    Bad("init-existing", ("init", "{tmp}/hello"), 254, C, "Function already exist: hello",
        "CreateFunction"),
    Bad("init-memory", ("init", "{tmp}/new", "--memory-size", "64"), 254, V,
        "at 'memorySize'", "CreateFunction"),
    # --- ARNs ---
    Bad("arn-other-function", ("config", "show", "--function-name", ARN[:-5] + "other"), 254,
        N, "Function not found", "GetFunctionConfiguration"),
    Bad("arn-other-region", ("config", "show", "--function-name",
        ARN.replace("us-east-1", "eu-west-1")), 254, N, "not reachable in this region",
        "GetFunctionConfiguration"),
    Bad("arn-other-account", ("config", "show", "--function-name",
        ARN.replace("000000000000", "111111111111")), 254, "AccessDeniedException",
        "Access denied", "GetFunctionConfiguration"),
    Bad("arn-not-lambda", ("config", "show", "--function-name", "arn:aws:s3:::bucket"), 254,
        V, "functionName", "GetFunctionConfiguration"),
    Bad("arn-qualifier-contradiction", ("config", "show", "--function-name", f"{ARN}:1",
        "--qualifier", "2"), 254, I, "does not match the specified qualifier",
        "GetFunctionConfiguration"),
    Bad("arn-qualified-for-list", ("alias", "list", "--function-name", f"{ARN}:prod"), 254,
        I, "Cannot provide qualifier", "ListAliases"),
    Bad("arn-qualified-for-publish", ("publish", "--function-name", "hello:1"), 254, I,
        "Cannot provide qualifier", "PublishVersion"),
    # --- qualifiers ---
    Bad("qualifier-missing-version", ("config", "show", "--qualifier", "99"), 254, N,
        f"Function not found: {ARN}:99", "GetFunctionConfiguration"),
    Bad("qualifier-missing-alias", ("config", "show", "--qualifier", "nope"), 254, N,
        f"Function not found: {ARN}:nope", "GetFunctionConfiguration"),
    Bad("qualifier-bad-chars", ("config", "show", "--qualifier", "no pe"), 254, V,
        "qualifier", "GetFunctionConfiguration"),
    Bad("qualifier-zero", ("invoke", "--qualifier", "0"), 254, N, "Function not found",
        "Invoke"),
    Bad("qualifier-leading-zero", ("invoke", "--qualifier", "01"), 254, N,
        "Function not found", "Invoke"),
    Bad("versions-show-missing", ("versions", "show", "99"), 254, N, "Function not found",
        "GetFunction"),
    Bad("delete-latest", ("versions", "delete", "$LATEST"), 254, I,
        "$LATEST version cannot be deleted", "DeleteFunction"),
    Bad("delete-alias-name", ("versions", "delete", "prod"), 254, I,
        "Deletion of aliases is not currently supported", "DeleteFunction"),
    Bad("delete-aliased", ("versions", "delete", "1"), 254, C,
        "the following aliases reference it: [prod]", "DeleteFunction"),
    Bad("alias-version-missing", ("alias", "create", "x", "--version", "99"), 254, N,
        f"Function not found: {ARN}:99", "CreateAlias"),
    Bad("alias-version-is-alias", ("alias", "create", "x", "--version", "prod"), 254, V,
        "at 'functionVersion'", "CreateAlias"),
    Bad("alias-exists", ("alias", "create", "prod", "--version", "2"), 254, C,
        f"Alias already exists: {ARN}:prod", "CreateAlias"),
    Bad("alias-update-missing", ("alias", "update", "nope", "--version", "1"), 254, N,
        f"Alias not found: {ARN}:nope", "UpdateAlias"),
    Bad("alias-get-missing", ("alias", "get", "nope"), 254, N,
        f"Cannot find alias arn: {ARN}:nope", "GetAlias"),
    Bad("alias-history-missing", ("alias", "history", "nope"), 254, N, "Cannot find alias arn"),
    Bad("alias-description-long", ("alias", "update", "prod", "--description", LONG), 254, V,
        "Member must have length less than or equal to 256", "UpdateAlias"),
    Bad("rollback-missing", ("rollback", "nope"), 254, N, "Alias not found", "RollbackAlias"),
    Bad("rollback-first-state", ("rollback", "prod"), 254, I,
        "Alias prod has no earlier state to roll back to", "RollbackAlias"),
    Bad("rollback-to-missing", ("rollback", "prod", "--to-version", "99"), 254, N,
        "Function not found", "RollbackAlias"),
    Bad("rollback-bad-revision", ("rollback", "prod", "--to-version", "2", "--revision-id",
        "x"), 254, P, PRECONDITION, "RollbackAlias"),
    Bad("promote-onto-itself", ("promote", "prod", "prod"), 254, I,
        "Cannot promote alias prod onto itself", "PromoteAlias"),
    Bad("promote-missing-source", ("promote", "nope", "prod"), 254, N,
        "Cannot find alias arn", "PromoteAlias"),
    Bad("promote-bad-revision", ("promote", "dev", "prod", "--revision-id", "x"), 254, P,
        PRECONDITION, "PromoteAlias"),
    Bad("alias-update-bad-revision", ("alias", "update", "prod", "--version", "2",
        "--revision-id", "x"), 254, P, PRECONDITION, "UpdateAlias"),
    Bad("publish-bad-revision", ("publish", "--revision-id", "x"), 254, P, PRECONDITION,
        "PublishVersion", setup=change_code),
    Bad("publish-bad-code-sha", ("publish", "--code-sha256", "abc="), 254, I,
        "CodeSHA256 (abc=) is different", "PublishVersion", setup=change_code),
    Bad("publish-description-long", ("publish", "--description", LONG), 254, V,
        "at 'description'", "PublishVersion", setup=change_code),
    # --- weights and routing ---
    Bad("weight-above-one", ("alias", "update", "prod", "--weight", "2=1.5"), 254, V,
        "Value '{2=1.5}' at 'routingConfig.additionalVersionWeights'", "UpdateAlias"),
    Bad("weight-negative", ("alias", "update", "prod", "--weight", "2=-0.1"), 254, V,
        "routingConfig.additionalVersionWeights", "UpdateAlias"),
    Bad("weight-nan", ("alias", "update", "prod", "--weight", "2=nan"), 254, V,
        "routingConfig.additionalVersionWeights", "UpdateAlias"),
    Bad("weight-two-versions", ("alias", "update", "prod", "--routing-config",
        '{"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}}'), 254, I,
        "Number of items in AdditionalVersionWeights cannot be greater than 1", "UpdateAlias"),
    Bad("weight-own-version", ("alias", "update", "prod", "--weight", "1=0.5"), 254, I,
        "Function version 1 is already included in routing configuration", "UpdateAlias"),
    Bad("weight-latest-primary", ("alias", "create", "x", "--version", "$LATEST", "--weight",
        "1=0.5"), 254, I, "$LATEST is not supported for an alias pointing to more than 1",
        "CreateAlias"),
    Bad("weight-latest-key", ("alias", "update", "prod", "--routing-config",
        '{"AdditionalVersionWeights": {"$LATEST": 0.5}}'), 254, V, "Map keys must satisfy",
        "UpdateAlias"),
    Bad("weight-missing-version", ("alias", "update", "prod", "--weight", "9=0.5"), 254, N,
        f"Function not found: {ARN}:9", "UpdateAlias"),
    Bad("weight-no-equals", ("alias", "update", "prod", "--weight", "abc"), 2, None,
        "is not VERSION=WEIGHT"),
    Bad("weight-not-number", ("alias", "update", "prod", "--weight", "2=x"), 2, None,
        "is not a number"),
    Bad("weight-and-routing", ("alias", "update", "prod", "--weight", "2=0.1",
        "--routing-config", "{}"), 2, None, "cannot be used together"),
    Bad("routing-garbage", ("alias", "update", "prod", "--routing-config", "garbage"), 254, I,
        "Error parsing parameter '--routing-config'", "UpdateAlias"),
    Bad("routing-bad-json", ("alias", "update", "prod", "--routing-config", "{bad"), 254, I,
        "Error parsing parameter '--routing-config'", "UpdateAlias"),
    Bad("routing-unknown-key", ("alias", "update", "prod", "--routing-config",
        '{"Foo": {}}'), 254, I, 'Unknown parameter in RoutingConfig: "Foo"', "UpdateAlias"),
    Bad("routing-bool-weight", ("alias", "update", "prod", "--routing-config",
        '{"AdditionalVersionWeights": {"2": true}}'), 254, I, "expected a number",
        "UpdateAlias"),
    Bad("routing-missing-file", ("alias", "update", "prod", "--routing-config",
        "file://{tmp}/nope.json"), 254, I, "Unable to load paramfile", "UpdateAlias"),
    Bad("routing-stdin-garbage", ("alias", "update", "prod", "--routing-config", "-"), 254, I,
        "Error parsing parameter '--routing-config'", "UpdateAlias", stdin="AdditionalVersion"),
    # --- environment and configuration values ---
    Bad("env-key-one-char", ("config", "set", "--env", "A=1"), 254, V, "A",
        "UpdateFunctionConfiguration"),
    Bad("env-key-reserved", ("config", "set", "--env", "AWS_REGION=x"), 254, I, "AWS_REGION",
        "UpdateFunctionConfiguration"),
    Bad("env-key-digit", ("config", "set", "--env", "1AB=x"), 254, V, "Map keys must satisfy",
        "UpdateFunctionConfiguration"),
    Bad("env-no-equals", ("config", "set", "--env", "NOEQUALS"), 254, I, "NOEQUALS",
        "UpdateFunctionConfiguration"),
    Bad("env-too-big", ("config", "set", "--env", "BIG=" + "x" * 4100), 254, I,
        "you have provided exceeded", "UpdateFunctionConfiguration"),
    Bad("environment-garbage", ("update-function-configuration", "--environment", "garbage"),
        254, I, "Error parsing parameter '--environment'", "UpdateFunctionConfiguration"),
    Bad("environment-not-string", ("update-function-configuration", "--environment",
        '{"Variables": {"AB": 1}}'), 254, I, "Error parsing parameter '--environment'",
        "UpdateFunctionConfiguration"),
    Bad("memory-low", ("config", "set", "--memory-size", "127"), 254, V,
        "Value '127' at 'memorySize'", "UpdateFunctionConfiguration"),
    Bad("memory-high", ("config", "set", "--memory-size", "10241"), 254, V,
        "at 'memorySize'", "UpdateFunctionConfiguration"),
    Bad("timeout-zero", ("config", "set", "--timeout", "0"), 254, V, "at 'timeout'",
        "UpdateFunctionConfiguration"),
    Bad("timeout-901", ("config", "set", "--timeout", "901"), 254, V,
        "Value '901' at 'timeout' failed to satisfy constraint: Member must have value less "
        "than or equal to 900", "UpdateFunctionConfiguration"),
    Bad("memory-not-int", ("config", "set", "--memory-size", "abc"), 2, None,
        "is not a valid integer"),
    Bad("description-long", ("config", "set", "--description", LONG), 254, V,
        "at 'description'", "UpdateFunctionConfiguration"),
    Bad("runtime-unknown", ("config", "set", "--runtime", "cobol85"), 254, I, "cobol85",
        "UpdateFunctionConfiguration"),
    Bad("handler-bad", ("config", "set", "--handler", "no handler"), 254, V, "handler",
        "UpdateFunctionConfiguration"),
    Bad("config-bad-revision", ("config", "set", "--timeout", "5", "--revision-id", "x"), 254,
        P, PRECONDITION, "UpdateFunctionConfiguration"),
    # --- payloads ---
    Bad("payload-not-json", ("invoke", "--qualifier", "1", "--payload", "{bad"), 254, R,
        "Could not parse request body into json", "Invoke"),
    Bad("payload-missing-file", ("invoke", "--qualifier", "1", "--payload",
        "file://{tmp}/nope.json"), 254, I, "Unable to load paramfile", "Invoke"),
    Bad("payload-not-utf8", ("invoke", "--qualifier", "1", "--payload", "file://{tmp}/p.bin"),
        254, R, "Could not parse request body into json", "Invoke",
        setup=lambda root: (root.parent / "p.bin").write_bytes(b'{"a": "\xff"}')),
    Bad("payload-too-large", ("invoke", "--qualifier", "1", "--payload", "file://{tmp}/big"),
        254, "RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes",
        "Invoke",
        setup=lambda root: (root.parent / "big").write_bytes(b'"' + b"x" * 6_291_500 + b'"')),
    Bad("payload-stdin-garbage", ("invoke", "--qualifier", "1", "--payload", "-"), 254, R,
        "Could not parse request body", "Invoke", stdin="not json"),
    Bad("payload-dry-run-garbage", ("invoke", "--invocation-type", "DryRun", "--payload", "["),
        254, R, "Could not parse request body", "Invoke"),
    Bad("outfile-missing-directory", ("invoke", "--qualifier", "1", "{tmp}/nowhere/out.json"),
        254, I, "nowhere", "Invoke"),
    Bad("outfile-is-directory", ("invoke", "--qualifier", "1", "{tmp}"), 254, I, "directory",
        "Invoke"),
    Bad("log-type-bad", ("invoke", "--log-type", "Bogus"), 2, None, "Bogus"),
    Bad("invocation-type-bad", ("invoke", "--invocation-type", "Async"), 2, None, "Async"),
    Bad("event-bad-qualifier", ("invoke", "--invocation-type", "Event", "--qualifier", "9"),
        254, N, f"Function not found: {ARN}:9", "Invoke"),
    Bad("event-not-json", ("invoke", "--invocation-type", "Event", "--payload", "{x"),
        254, R, "Could not parse payload into json", "Invoke"),
    # --- lambdaver.toml ---
    Bad("toml-syntax", ("config", "show"), 254, I, "lambdaver.toml, line 2: invalid TOML",
        "GetFunctionConfiguration", setup=toml('name = "hello"\nruntime = \n')),
    Bad("toml-syntax-publish", ("publish",), 254, I, "invalid TOML", "PublishVersion",
        setup=toml('name = "hello"\n[broken\n')),
    Bad("toml-memory-string", ("publish",), 254, V, "line 4: 'memory_size' must be an integer",
        "PublishVersion", setup=toml(GOOD_TOML + 'memory_size = "big"\n')),
    Bad("toml-timeout-901", ("publish",), 254, V, "line 4", "PublishVersion",
        setup=toml(GOOD_TOML + "timeout = 901\n")),
    Bad("toml-unknown-key", ("config", "show"), 254, V, "unknown key 'colour'",
        "GetFunctionConfiguration", setup=toml(GOOD_TOML + 'colour = "red"\n')),
    Bad("toml-no-name", ("publish",), 254, V, "'name' must be set", "PublishVersion",
        setup=toml('runtime = "python3.12"\n')),
    Bad("toml-env-int", ("publish",), 254, V, "environment variable 'AB' must be a string",
        "PublishVersion", setup=toml(GOOD_TOML + "[environment]\nAB = 1\n")),
    Bad("toml-env-reserved", ("publish",), 254, I, "AWS_REGION", "PublishVersion",
        setup=toml(GOOD_TOML + '[environment]\nAWS_REGION = "x"\n')),
    Bad("toml-bad-name", ("publish",), 254, V, "at 'name'", "PublishVersion",
        setup=toml('name = "he llo"\nruntime = "python3.12"\n')),
    Bad("toml-other-name", ("publish", "--function-name", "hello"), 254, N,
        "Function not found", "PublishVersion",
        setup=toml('name = "renamed"\nruntime = "python3.12"\n')),
    Bad("toml-missing", ("publish",), 254, I, "lambdaver.toml is missing", "PublishVersion",
        setup=remove("lambdaver.toml")),
    Bad("toml-not-utf8", ("config", "show"), 254, I, "not UTF-8", "GetFunctionConfiguration",
        setup=write("lambdaver.toml", b'name = "h\xffllo"\n')),
    # --- the code tree ---
    Bad("symlink-absolute", ("publish",), 254, I, "Symlink 'evil' points outside",
        "PublishVersion", setup=symlink("evil", "/etc/passwd")),
    Bad("symlink-dotdot", ("publish",), 254, I, "points outside the function directory",
        "PublishVersion", setup=chain(write("sub/x.py", ""), symlink("sub/evil", "../../x"))),
    Bad("symlink-dotdot-invoke", ("invoke",), 254, I, "points outside", "Invoke",
        setup=symlink("evil", "../hello/../../etc")),
    Bad("fifo-in-tree", ("publish",), 254, I, "'pipe' is not a regular file", "PublishVersion",
        setup=fifo("pipe")),
    Bad("unreadable-file", ("publish",), 254, I, "Cannot read 'secret.py': Permission denied",
        "PublishVersion", setup=write("secret.py", "x = 1\n"), fault=unreadable("secret.py")),
    Bad("unreadable-dir", ("publish",), 254, I, "Cannot read directory 'locked/'",
        "PublishVersion", setup=write("locked/a.py", ""), fault=unreadable_dir("locked")),
    Bad("unreadable-dir-status", ("status",), 254, I, "Cannot read directory 'locked/'",
        "Status", setup=write("locked/a.py", ""), fault=unreadable_dir("locked")),
    Bad("ignore-file-not-utf8", ("publish",), 254, I, ".lambdaverignore",
        "PublishVersion", setup=write(".lambdaverignore", b"\xff\xfe*.log\n")),
    # --- zip slip (update-function-code --zip-file) ---
    Bad("zip-slip-dotdot", ("update-function-code", "--zip-file", "fileb://{tmp}/evil.zip",
        "--publish"), 254, I, "../evil.py", "UpdateFunctionCode",
        setup=evil_zip("evil.zip", {"app.py": b"", "../evil.py": b"x"})),
    Bad("zip-slip-absolute", ("update-function-code", "--zip-file", "fileb://{tmp}/abs.zip",
        "--publish"), 254, I, "/tmp/evil.py", "UpdateFunctionCode",
        setup=evil_zip("abs.zip", {"/tmp/evil.py": b"x"})),
    Bad("zip-slip-import", ("import", "{tmp}/deep.zip"), 254, I,
        "leads outside the function directory", "ImportFunction",
        setup=evil_zip("deep.zip", {"a/../../../evil.py": b"x"})),
    Bad("zip-symlink-out", ("import", "{tmp}/link.zip", "--publish"), 254, I,
        "points outside the function directory", None, setup=zip_symlink("link.zip")),
    Bad("zip-not-a-zip", ("update-function-code", "--zip-file", "fileb://{tmp}/p.bin"), 254, I,
        "", "UpdateFunctionCode", setup=write("../p.bin", b"PK\x03\x04 not really")),
    Bad("zip-missing", ("update-function-code", "--zip-file", "fileb://{tmp}/none.zip"), 254,
        I, "Unable to load paramfile", "UpdateFunctionCode"),
    Bad("zip-backslash", ("import", "{tmp}/bs.zip"), 254, I, "has a backslash", None,
        setup=evil_zip("bs.zip", {"..\\evil.py": b"x"})),
    # --- the repository itself (exit 253) ---
    Bad("no-repository", ("versions", "list"), 253, RNF, "lambdaver init",
        "ListVersionsByFunction", where="empty"),
    Bad("format-newer", ("versions", "list"), 253, URF, "Repository format 3 is newer",
        "ListVersionsByFunction", setup=repo_config(
            '{"format": "lambdaver-repository", "format_version": 3}')),
    Bad("format-config-missing", ("alias", "list"), 253, RC, "config is missing",
        "ListAliases", setup=remove(".lambdaver/config")),
    Bad("format-config-garbage", ("publish",), 253, RC, "is not valid JSON", "PublishVersion",
        setup=repo_config("garbage")),
    Bad("format-config-foreign", ("publish",), 253, RC, "does not describe a lambdaver",
        "PublishVersion", setup=repo_config('{"format": "git", "format_version": 1}')),
    Bad("meta-missing", ("alias", "list"), 253, RC, "meta.sqlite is missing", "ListAliases",
        setup=remove(".lambdaver/meta.sqlite")),
    Bad("meta-garbage", ("alias", "list"), 253, RC, "meta.sqlite", "ListAliases",
        setup=write(".lambdaver/meta.sqlite", "garbage\n")),
    Bad("meta-truncated", ("versions", "list"), 253, RC, "meta.sqlite",
        "ListVersionsByFunction", setup=truncate(".lambdaver/meta.sqlite", 4096)),
    Bad("blob-corrupt", ("invoke", "--qualifier", "1"), 253, RC, "fails its hash check",
        "Invoke", setup=corrupt_blob_of_version),
    Bad("blob-corrupt-show", ("versions", "show", "1"), 253, RC, "Object", "GetFunction",
        setup=lambda root: shutil.rmtree(root / ".lambdaver" / "objects")),
    Bad("read-only-publish", ("publish",), 253, RIO, "", "PublishVersion",
        setup=change_code, fault=read_only),
    Bad("read-only-alias-create", ("alias", "create", "x", "--version", "1"), 253, RIO, "",
        "CreateAlias", fault=read_only),
    Bad("read-only-rollback", ("rollback", "dev", "--to-version", "1"), 253, RIO, "",
        "RollbackAlias", fault=read_only),
    Bad("read-only-config-set", ("config", "set", "--timeout", "5"), 253, RIO, "",
        "UpdateFunctionConfiguration", fault=read_only),
    Bad("read-only-delete", ("versions", "delete", "3"), 253, RIO, "", "DeleteFunction",
        fault=read_only),
    Bad("read-only-invoke", ("invoke", "--qualifier", "3"), 253, RIO, "", "Invoke",
        fault=read_only),
    Bad("full-disk-object-write", ("publish",), 253, RIO, "No space left on device",
        "PublishVersion", setup=change_code, fault=disk_full_at_object_write),
    Bad("full-disk-config-set", ("config", "set", "--timeout", "5"), 253, RIO,
        "No space left on device", "UpdateFunctionConfiguration", fault=disk_full_everywhere),
    Bad("full-disk-sqlite-alias", ("alias", "update", "prod", "--version", "2"), 253, RIO,
        "full", "UpdateAlias", fault=sqlite_full),
    Bad("full-disk-sqlite-publish", ("publish",), 253, RIO, "full", "PublishVersion",
        setup=change_code, fault=sqlite_full),
    Bad("full-disk-after-some-blobs", ("publish",), 253, RIO, "No space left on device",
        "PublishVersion", setup=many_files, fault=disk_full_after(3)),
    Bad("disk-io-error", ("invoke", "--qualifier", "2"), 253, RIO, "Input/output error",
        "Invoke", fault=io_error),
    # --- prune, gc, fsck ---
    Bad("prune-no-keep", ("versions", "prune"), 2, None, "Missing option '--keep'"),
    Bad("prune-negative-keep", ("versions", "prune", "--keep", "-1"), 2, None, "--keep"),
    Bad("prune-other-function", ("versions", "prune", "--keep", "1", "--function-name",
        "other"), 254, N, "Function not found", None),
    Bad("gc-negative-grace", ("gc", "--grace", "-5"), 2, None, "--grace"),
    Bad("gc-read-only", ("gc", "--grace", "0"), 253, RIO, "", None,
        fault=read_only),
    Bad("fsck-no-repository", ("fsck",), 253, RNF, "lambdaver init", None, where="empty"),
    # --- usage errors (exit 2) ---
    Bad("unknown-verb", ("frobnicate",), 2, None, "No such command 'frobnicate'"),
    Bad("unknown-option", ("publish", "--bogus"), 2, None, "No such option"),
    Bad("missing-argument", ("alias", "create"), 2, None, "Missing argument 'NAME'"),
    Bad("missing-version-option", ("alias", "create", "x"), 2, None, "--version"),
    Bad("bad-directory", ("-C", "{tmp}/nowhere", "versions", "list"), 2, None,
        "is not a directory"),
    Bad("bad-query", ("alias", "list", "--query", "[["), 2, None, "Bad value for --query"),
    Bad("bad-output", ("alias", "list", "--output", "xml"), 2, None, "'xml' is not one of"),
    Bad("create-function-no-name", ("create-function", "--runtime", "python3.12", "--handler",
        "app.handler", "--zip-file", "fileb://x.zip"), 2, None, "--function-name",
        where="empty"),
    # --- a project of several functions ---
    Bad("create-function-not-a-zip", ("create-function", "--function-name", "new", "--runtime",
        "python3.12", "--handler", "app.handler", "--zip-file", "fileb://hello/app.py"), 254, I,
        "Could not unzip uploaded file", "CreateFunction", where="."),
    Bad("create-function-exists", ("create-function", "--function-name", "hello", "--runtime",
        "python3.12", "--handler", "app.handler", "--zip-file", "fileb://hello/app.py"), 254, C,
        "Function already exist: hello", "CreateFunction", where="."),
    Bad("create-function-inside-a-function", ("create-function", "--function-name", "new",
        "--runtime", "python3.12", "--handler", "app.handler", "--zip-file",
        "fileb://app.py"), 254, I, "is inside the function directory", "CreateFunction"),
    Bad("create-function-bad-role", ("create-function", "--function-name", "new", "--runtime",
        "python3.12", "--handler", "app.handler", "--zip-file", "fileb://hello/app.py",
        "--role", "admin"), 254, V, "Value 'admin' at 'role'", "CreateFunction", where="."),
    Bad("project-function-not-found", ("get-function", "--function-name", "nope"), 254, N,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope", "GetFunction",
        where="."),
    Bad("list-functions-bad-version", ("list-functions", "--function-version", "all"), 254, V,
        "enum value set: [ALL]", "ListFunctions", where="."),
    Bad("delete-function-missing", ("delete-function", "--function-name", "nope"), 254, N,
        "Function not found", "DeleteFunction", where="."),
]  # fmt: skip


def _params() -> Iterator[Any]:
    for row in TABLE:
        yield pytest.param(row, id=row.id, marks=row.marks)


def test_table_is_big_enough() -> None:
    assert len(TABLE) >= 60
    assert len({row.id for row in TABLE}) == len(TABLE)


@pytest.mark.parametrize("row", list(_params()))
def test_bad_input_is_refused_cleanly(
    row: Bad, hello: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty").mkdir()
    if row.setup is not None:
        row.setup(hello)
    args = [a.replace("{tmp}", str(tmp_path)) for a in row.args]
    before = snapshot(tmp_path)
    with monkeypatch.context() as mp:
        if row.fault is not None:
            row.fault(mp, hello)
        r = run_cli("-C", str(tmp_path / row.where), "--output", "json", *args, input=row.stdin)
    assert r.exit_code == row.status, r
    assert r.stdout == "", r
    if row.code is None:  # click's usage error
        assert "Error:" in r.stderr, r
        assert row.message in r.stderr, r
        assert "Traceback" not in r.stderr
    else:
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r
        m = ERROR_LINE.fullmatch(lines[0])
        assert m, r
        assert m.group(1) == row.code, r
        if row.op is not None:
            assert m.group(2) == row.op, r
        assert row.message in m.group(3), r
    assert snapshot(tmp_path) == before, "a refused command changed the disk"


# --- the same through the installed command: statuses survive a real process ---------------


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (("alias", "create", "123", "--version", "1"), 254, V),
        (("versions", "delete", "1"), 254, C),
        (("invoke", "--qualifier", "1", "--payload", "{bad"), 254, R),
        (("alias", "create"), 2, None),
    ],
)
def test_installed_command_reports_the_same(
    hello: Path, args: tuple[str, ...], status: int, code: str | None
) -> None:
    from conftest import run_subprocess

    before = snapshot(hello)
    p = run_subprocess("--output", "json", *args, cwd=hello)
    assert p.returncode == status, p
    assert p.stdout == ""
    if code is not None:
        assert p.stderr.count("\n") == 1
        assert p.stderr.startswith(f"An error occurred ({code}) when calling the ")
    assert "Traceback" not in p.stderr
    assert snapshot(hello) == before


# --- a real full file system: a 1 MB tmpfs (needs the right to mount; skipped otherwise) --


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("needs Linux mount")
    p = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if p.returncode != 0:
        pytest.skip("not allowed to mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize(
    "files",
    [
        # 600 KB of fresh code on a 1 MB file system that already holds it: no room for it
        pytest.param(1, id="one-big-file"),
        # 6 x 100 KB: the first few blobs fit, then the disk is full
        pytest.param(6, id="many-files"),
    ],
)
def test_publish_on_a_really_full_disk(tiny_tmpfs: Path, files: int) -> None:
    root = tiny_tmpfs / "hello"
    root.mkdir()
    (root / "app.py").write_text("def handler(event, context):\n    return 1\n")
    assert run_cli("init", str(root)).exit_code == 0
    fn = Fn(root)
    assert fn.publish() == "1"
    for i in range(files):
        (root / f"data{i}.bin").write_bytes(os.urandom(600_000 // files))
    before = snapshot(root)
    r = fn("publish")
    assert r.exit_code == 253, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r
    assert lines[0].startswith(
        "An error occurred (RepositoryIOError) when calling the PublishVersion operation: "
    ), r
    assert snapshot(root) == before
    assert fn.ok("versions", "list")["Versions"][-1]["Version"] == "1"
