"""A project with several functions: --function-name from outside any function,
list-functions, get-function's deployment package, create-function and delete-function
(contract §8, §9; docs/cli.md "A project with several functions")."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from conftest import Result, run_cli, snapshot

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"


def lv(cwd: Path, *args: str) -> Result:
    return run_cli("-C", str(cwd), "--output", "json", *args)


def ok(cwd: Path, *args: str) -> Any:
    r = lv(cwd, *args)
    assert r.exit_code == 0, r
    return r.json if r.stdout.strip() else None


def make_function(root: Path, rel: str, name: str | None = None, body: str = "1") -> Path:
    """A function directory at ``root/rel`` named ``name`` (default: the last part)."""
    d = root / rel
    d.mkdir(parents=True, exist_ok=True)
    (d / "app.py").write_text(f"def handler(event, context):\n    return {body}\n")
    r = run_cli("init", str(d), "--name", name or d.name, "--output", "json")
    assert r.exit_code == 0, r
    return d


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return buf.getvalue()


def error(op: str, code: str, message: str) -> str:
    return f"An error occurred ({code}) when calling the {op} operation: {message}\n"


def names(project: Path) -> list[str]:
    return ok(project, "list-functions", "--query", "Functions[].FunctionName")  # type: ignore[no-any-return]


# --- discovery --------------------------------------------------------------------------------


def test_function_name_selects_a_function_under_the_current_directory(tmp_path: Path) -> None:
    make_function(tmp_path, "api", body="'api'")
    make_function(tmp_path, "services/worker", body="'worker'")
    out = ok(tmp_path, "get-function-configuration", "--function-name", "worker")
    assert out["FunctionName"] == "worker"
    assert out["FunctionArn"] == f"{ACCOUNT_ARN}:worker"
    r = lv(tmp_path, "invoke", "--function-name", "api", "-")
    assert r.exit_code == 0, r
    assert r.stdout.startswith('"api"')
    ok(tmp_path, "publish", "--function-name", "worker")
    assert (tmp_path / "services/worker/.lambdaver").is_dir()
    versions = ok(tmp_path, "list-versions-by-function", "--function-name", "worker")
    assert [v["Version"] for v in versions["Versions"]] == ["$LATEST", "1"]


def test_depth_limit_and_skipped_directories(tmp_path: Path) -> None:
    make_function(tmp_path, "a/b/c/four")  # four levels down: found
    make_function(tmp_path, "a/b/c/d/five")  # five: not searched
    for skipped in ("node_modules", "venv", ".venv", "__pycache__", ".hidden"):
        make_function(tmp_path, f"{skipped}/fn-in-{skipped.strip('.')}")
    outer = make_function(tmp_path, "outer")
    make_function(outer, "sub/nested")  # inside a function: its code, not searched
    (tmp_path / "link").symlink_to(tmp_path / "a/b/c/four")  # links are not followed
    assert names(tmp_path) == ["four", "outer"]
    assert ok(tmp_path, "get-function-configuration", "--function-name", "four")["Version"] == (
        "$LATEST"
    )
    for missing in ("five", "fn-in-node_modules", "fn-in-venv", "fn-in-hidden", "nested"):
        r = lv(tmp_path, "get-function-configuration", "--function-name", missing)
        assert r.exit_code == 254
        assert r.stderr == error(
            "GetFunctionConfiguration",
            "ResourceNotFoundException",
            f"Function not found: {ACCOUNT_ARN}:{missing}",
        )
    # from a directory nearer to them, they are in reach
    assert names(tmp_path / "a") == ["five", "four"]


def test_two_functions_with_one_name_are_an_error_naming_both(tmp_path: Path) -> None:
    make_function(tmp_path, "one/hello")
    make_function(tmp_path, "two/greeter", name="hello")
    make_function(tmp_path, "other")
    r = lv(tmp_path, "config", "show", "--function-name", "hello")
    assert r.exit_code == 254
    assert r.stderr.startswith(
        "An error occurred (ResourceConflictException) when calling the "
        f"GetFunctionConfiguration operation: 2 functions under {tmp_path} are named hello: "
        "one/hello, two/greeter; "
    )
    assert ok(tmp_path, "config", "show", "--function-name", "other")["FunctionName"] == "other"
    assert names(tmp_path) == ["hello", "hello", "other"]


def test_the_name_is_the_one_in_lambdaver_toml(tmp_path: Path) -> None:
    d = make_function(tmp_path, "dir-name", name="real-name")
    assert ok(tmp_path, "status", "--function-name", "real-name")["Changed"] is True
    assert lv(tmp_path, "status", "--function-name", "dir-name").exit_code == 254
    # renamed by hand: found by the new name at once, no longer by the old one
    toml = d / "lambdaver.toml"
    toml.write_text(toml.read_text().replace('name = "real-name"', 'name = "renamed"'))
    assert ok(tmp_path, "config", "show", "--function-name", "renamed")["FunctionName"] == (
        "renamed"
    )
    assert lv(tmp_path, "config", "show", "--function-name", "real-name").exit_code == 254
    # a file in another form than lambdaver writes is parsed
    toml.write_text('# comment\nruntime = "python3.12"\n"name" = "quoted"\n')
    assert names(tmp_path) == ["quoted"]
    # moved and removed functions are found where they are, or not at all
    d.rename(tmp_path / "moved")
    assert ok(tmp_path, "config", "show", "--function-name", "quoted")["FunctionName"] == "quoted"
    make_function(tmp_path, "added")
    assert names(tmp_path) == ["added", "quoted"]


def test_an_unreadable_lambdaver_toml_is_reported(tmp_path: Path) -> None:
    d = make_function(tmp_path, "broken")
    make_function(tmp_path, "fine")
    (d / "lambdaver.toml").write_text("name = [\n")
    r = lv(tmp_path, "config", "show", "--function-name", "broken")
    assert r.exit_code == 254
    assert "lambdaver.toml" in r.stderr and "invalid TOML" in r.stderr
    # another function is still found; the listing names the broken file
    assert ok(tmp_path, "config", "show", "--function-name", "fine")["FunctionName"] == "fine"
    r = lv(tmp_path, "list-functions")
    assert r.exit_code == 254 and "invalid TOML" in r.stderr


def test_arn_forms(tmp_path: Path) -> None:
    make_function(tmp_path, "hello")
    ok(tmp_path, "publish", "--function-name", "hello")
    for form in (f"{ACCOUNT_ARN}:hello", "000000000000:function:hello"):
        assert ok(tmp_path, "config", "show", "--function-name", form)["FunctionName"] == "hello"
    out = ok(tmp_path, "config", "show", "--function-name", f"{ACCOUNT_ARN}:hello:1")
    assert out["FunctionArn"] == f"{ACCOUNT_ARN}:hello:1"
    r = lv(tmp_path, "config", "show", "--function-name", "hello:1", "--qualifier", "$LATEST")
    assert r.exit_code == 254
    assert "The derived qualifier from the function name does not match" in r.stderr
    other_region = "arn:aws:lambda:eu-west-1:000000000000:function"
    r = lv(tmp_path, "config", "show", "--function-name", f"{other_region}:hello")
    assert r.stderr.endswith(
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1'); "
        "lambdaver's functions here are in region us-east-1, account 000000000000 (change "
        "them with region and account_id in the user config file, a --profile, or --region)\n"
    )
    r = lv(tmp_path, "config", "show", "--function-name", f"{other_region}:nope")
    assert "are not reachable in this region ('us-east-1'); " in r.stderr
    other_account = "arn:aws:lambda:us-east-1:111111111111:function:hello"
    r = lv(tmp_path, "config", "show", "--function-name", other_account)
    assert r.exit_code == 254
    assert "Access denied to account 111111111111; lambdaver's functions here are in " in r.stderr
    assert "account 000000000000" in r.stderr
    r = lv(tmp_path, "config", "show", "--function-name", "bad name!")
    assert r.exit_code == 254 and "(ValidationException)" in r.stderr


def test_inside_a_function_the_function_name_must_be_its_own(tmp_path: Path) -> None:
    here = make_function(tmp_path, "here")
    make_function(tmp_path, "sibling")
    assert ok(here, "config", "show", "--function-name", "here")["FunctionName"] == "here"
    r = lv(here / ".", "config", "show", "--function-name", "sibling")
    assert r.exit_code == 254
    assert r.stderr.endswith(f"Function not found: {ACCOUNT_ARN}:sibling\n")


def test_no_function_name_outside_a_function_is_repository_not_found(tmp_path: Path) -> None:
    make_function(tmp_path, "hello")
    r = lv(tmp_path, "config", "show")
    assert r.exit_code == 253
    assert "RepositoryNotFound" in r.stderr


def test_the_installed_command_finds_a_function_by_name(tmp_path: Path) -> None:
    from conftest import run_subprocess

    make_function(tmp_path, "group/hello", body="{'from': 'hello'}")
    p = run_subprocess("invoke", "--function-name", "hello", "--output", "json", "-", cwd=tmp_path)
    assert p.returncode == 0, p
    assert json.loads(p.stdout.splitlines()[0]) == {"from": "hello"}


# --- list-functions ---------------------------------------------------------------------------


def test_list_functions(tmp_path: Path) -> None:
    make_function(tmp_path, "b-fn")
    a = make_function(tmp_path, "nested/a-fn")
    ok(a, "publish")
    a.joinpath("app.py").write_text("def handler(event, context):\n    return 2\n")
    ok(a, "publish")
    out = ok(tmp_path, "list-functions")
    assert [f["FunctionName"] for f in out["Functions"]] == ["a-fn", "b-fn"]
    first = out["Functions"][0]
    assert first["FunctionArn"] == f"{ACCOUNT_ARN}:a-fn"
    assert first["Version"] == "$LATEST"
    assert "State" not in first and "LastUpdateStatus" not in first  # AWS lists fewer fields
    assert first["CodeSha256"] == ok(a, "config", "show")["CodeSha256"]
    every = ok(tmp_path, "list-functions", "--function-version", "ALL")["Functions"]
    assert [(f["FunctionName"], f["Version"], f["FunctionArn"]) for f in every] == [
        ("a-fn", "$LATEST", f"{ACCOUNT_ARN}:a-fn:$LATEST"),
        ("a-fn", "1", f"{ACCOUNT_ARN}:a-fn:1"),
        ("a-fn", "2", f"{ACCOUNT_ARN}:a-fn:2"),
        ("b-fn", "$LATEST", f"{ACCOUNT_ARN}:b-fn:$LATEST"),
    ]
    # inside a function: that function
    assert names(a / ".") == ["a-fn"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ok(empty, "list-functions") == {"Functions": []}


# --- get-function -----------------------------------------------------------------------------


def location(out: dict[str, Any]) -> Path:
    url = urlparse(out["Code"]["Location"])
    assert url.scheme == "file"
    return Path(unquote(url.path))


def test_get_function_has_aws_shape_and_the_export_zip(tmp_path: Path) -> None:
    fn = make_function(tmp_path, "hello")
    ok(fn, "publish")
    ok(fn, "alias", "create", "prod", "--version", "1")
    out = ok(tmp_path, "get-function", "--function-name", "hello")
    assert list(out) == ["Configuration", "Code"]
    assert out["Configuration"] == ok(fn, "get-function-configuration")
    assert out["Code"]["RepositoryType"] == "S3"
    package = location(out)
    assert package.is_file()
    assert package.is_relative_to(fn / ".lambdaver" / "cache")
    ok(fn, "export", "-o", str(tmp_path / "latest.zip"))
    assert package.read_bytes() == (tmp_path / "latest.zip").read_bytes()

    versioned = ok(fn, "get-function", "--qualifier", "prod")
    assert versioned["Configuration"]["FunctionArn"] == f"{ACCOUNT_ARN}:hello:prod"
    assert versioned["Configuration"]["Version"] == "1"
    ok(fn, "export", "1", "-o", str(tmp_path / "v1.zip"))
    assert location(versioned).read_bytes() == (tmp_path / "v1.zip").read_bytes()

    # reused while the code is the same
    stat = location(versioned).stat()
    again = ok(fn, "get-function", "--qualifier", "1")
    assert location(again) == location(versioned)
    assert location(again).stat().st_mtime_ns == stat.st_mtime_ns

    r = lv(fn, "get-function", "--query", "Configuration.CodeSha256", "--output", "text")
    assert r.stdout == out["Configuration"]["CodeSha256"] + "\n"


def test_get_function_of_an_edited_latest_replaces_its_package(tmp_path: Path) -> None:
    fn = make_function(tmp_path, "hello")
    first = location(ok(fn, "get-function"))
    (fn / "app.py").write_text("def handler(event, context):\n    return 'edited'\n")
    second = location(ok(fn, "get-function"))
    assert second != first
    assert not first.exists() and second.is_file()
    with zipfile.ZipFile(second) as zf:
        assert b"edited" in zf.read("app.py")


def test_get_function_unknown_qualifier(tmp_path: Path) -> None:
    fn = make_function(tmp_path, "hello")
    r = lv(fn, "get-function", "--qualifier", "9")
    assert r.stderr == error(
        "GetFunction", "ResourceNotFoundException", f"Function not found: {ACCOUNT_ARN}:hello:9"
    )


# --- create-function --------------------------------------------------------------------------

CREATE = ("create-function", "--runtime", "python3.12", "--handler", "main.handler")


def test_create_function(tmp_path: Path) -> None:
    (tmp_path / "fn.zip").write_bytes(
        make_zip({"main.py": "def handler(e, c):\n    return 'made'\n", "lib/util.py": "X = 1\n"})
    )
    out = ok(tmp_path, *CREATE, "--function-name", "made", "--zip-file", "fileb://fn.zip",
             "--timeout", "10", "--memory-size", "256", "--description", "from a zip",
             "--environment", "Variables={STAGE=dev,LEVEL=2}",
             "--role", "arn:aws:iam::000000000000:role/lambda-role")  # fmt: skip
    assert out["FunctionName"] == "made"
    assert out["FunctionArn"] == f"{ACCOUNT_ARN}:made"
    assert out["Version"] == "$LATEST"
    assert (out["Runtime"], out["Handler"], out["Timeout"], out["MemorySize"]) == (
        "python3.12", "main.handler", 10, 256,
    )  # fmt: skip
    assert out["Description"] == "from a zip"
    assert out["Environment"] == {"Variables": {"STAGE": "dev", "LEVEL": "2"}}
    assert "Role" not in out
    d = tmp_path / "made"
    assert sorted(p.name for p in d.iterdir()) == [
        ".lambdaver", ".lambdaverignore", "lambdaver.toml", "lib", "main.py",
    ]  # fmt: skip
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".made")]  # no temporary
    toml = (d / "lambdaver.toml").read_text()
    assert 'name = "made"' in toml and "timeout = 10" in toml
    r = lv(tmp_path, "invoke", "--function-name", "made", "-")
    assert r.stdout.startswith('"made"'), r
    assert ok(d, "versions", "list", "--query", "Versions[].Version") == ["$LATEST"]


def test_create_function_with_publish(tmp_path: Path) -> None:
    (tmp_path / "fn.zip").write_bytes(make_zip({"main.py": "def handler(e, c):\n    return 1\n"}))
    out = ok(tmp_path, *CREATE, "--function-name", "pub", "--zip-file", "fileb://fn.zip",
             "--publish", "--environment", '{"Variables": {"K1": "v"}}')  # fmt: skip
    assert out["Version"] == "1"
    assert out["FunctionArn"] == f"{ACCOUNT_ARN}:pub"  # unqualified, as AWS
    assert out["Environment"] == {"Variables": {"K1": "v"}}
    d = tmp_path / "pub"
    assert ok(d, "versions", "list", "--query", "Versions[].Version") == ["$LATEST", "1"]
    assert ok(d, "status")["Changed"] is False


def test_create_function_into_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "fn.zip").write_bytes(make_zip({"main.py": "X = 1\n"}))
    (tmp_path / "ready").mkdir()
    ok(tmp_path, *CREATE, "--function-name", "ready", "--zip-file", "fileb://fn.zip")
    assert (tmp_path / "ready" / ".lambdaver").is_dir()


@pytest.mark.parametrize("existing", ["function", "files", "elsewhere", "file"])
def test_create_function_refuses_what_exists(tmp_path: Path, existing: str) -> None:
    (tmp_path / "fn.zip").write_bytes(make_zip({"main.py": "X = 1\n"}))
    if existing == "function":
        make_function(tmp_path, "taken")
    elif existing == "files":
        (tmp_path / "taken").mkdir()
        (tmp_path / "taken" / "notes.txt").write_text("mine")
    elif existing == "elsewhere":
        make_function(tmp_path, "group/other-dir", name="taken")
    else:
        (tmp_path / "taken").write_text("a file")
    before = snapshot(tmp_path)
    r = lv(tmp_path, *CREATE, "--function-name", "taken", "--zip-file", "fileb://fn.zip")
    assert r.exit_code == 254
    assert r.stderr == error(
        "CreateFunction", "ResourceConflictException", "Function already exist: taken"
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--zip-file", "fileb://bad.zip"), "InvalidParameterValueException",
         "Could not unzip uploaded file. Please check your file, then try to upload again."),
        (("--zip-file", "fileb://evil.zip"), "InvalidParameterValueException",
         "Zip entry '../escape.py' leads outside the function directory; refused"),
        (("--zip-file", "fileb://fn.zip", "--timeout", "901"), "ValidationException",
         "Value '901' at 'timeout' failed to satisfy constraint"),
        (("--zip-file", "fileb://fn.zip", "--runtime", "python2.7"),
         "InvalidParameterValueException", "Value python2.7 at 'runtime'"),
        (("--zip-file", "fileb://fn.zip", "--environment", "Variables={AWS_REGION=x}"),
         "InvalidParameterValueException", "Reserved keys used in this request: AWS_REGION"),
        (("--zip-file", "fn.zip"), "InvalidParameterValueException",
         "--zip-file must be a zip file with the fileb:// prefix."),
    ],
)  # fmt: skip
def test_a_failed_create_leaves_nothing(
    tmp_path: Path, args: tuple[str, ...], code: str, message: str
) -> None:
    (tmp_path / "bad.zip").write_bytes(b"not a zip at all")
    (tmp_path / "evil.zip").write_bytes(make_zip({"ok.py": "", "../escape.py": ""}))
    (tmp_path / "fn.zip").write_bytes(make_zip({"main.py": "X = 1\n"}))
    before = snapshot(tmp_path)
    r = lv(tmp_path, *CREATE, "--function-name", "new", *args)
    assert r.exit_code == 254, r
    assert r.stderr.startswith(f"An error occurred ({code}) when calling the CreateFunction")
    assert message in r.stderr
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == ["bad.zip", "evil.zip", "fn.zip"]


def test_create_function_needs_runtime_and_handler(tmp_path: Path) -> None:
    (tmp_path / "fn.zip").write_bytes(make_zip({"main.py": "X = 1\n"}))
    r = lv(tmp_path, "create-function", "--function-name", "x", "--zip-file", "fileb://fn.zip")
    assert r.stderr == error(
        "CreateFunction",
        "InvalidParameterValueException",
        "Runtime and Handler are mandatory parameters for functions created with deployment "
        "packages.",
    )
    assert sorted(os.listdir(tmp_path)) == ["fn.zip"]


# --- delete-function --------------------------------------------------------------------------


def test_delete_function_keeps_the_code(tmp_path: Path) -> None:
    fn = make_function(tmp_path, "group/hello")
    (fn / "lib.py").write_text("Y = 1\n")
    ok(fn, "publish")
    ok(fn, "alias", "create", "prod", "--version", "1")
    ok(fn, "get-function")  # a cached package: gone with the repository
    ignore = (fn / ".lambdaverignore").read_bytes()
    r = lv(tmp_path, "delete-function", "--function-name", "hello")
    assert r.exit_code == 0, r
    assert r.stdout == "" and r.stderr == ""
    assert sorted(p.name for p in fn.iterdir()) == [".lambdaverignore", "app.py", "lib.py"]
    assert (fn / ".lambdaverignore").read_bytes() == ignore
    r = lv(tmp_path, "delete-function", "--function-name", "hello")
    assert r.exit_code == 254
    assert r.stderr == error(
        "DeleteFunction", "ResourceNotFoundException", f"Function not found: {ACCOUNT_ARN}:hello"
    )
    assert names(tmp_path) == []
    # the directory can become a function again
    assert run_cli("init", str(fn), "--output", "json").exit_code == 0


def test_delete_function_inside_its_directory(tmp_path: Path) -> None:
    fn = make_function(tmp_path, "hello")
    assert lv(fn, "delete-function").exit_code == 0
    assert sorted(p.name for p in fn.iterdir()) == [".lambdaverignore", "app.py"]
    assert lv(fn, "delete-function").exit_code == 253  # no repository here any more


def test_delete_function_with_qualifier_deletes_one_version(tmp_path: Path) -> None:
    fn = make_function(tmp_path, "hello")
    ok(fn, "publish")
    assert lv(tmp_path, "delete-function", "--function-name", "hello:1").exit_code == 0
    assert ok(fn, "versions", "list", "--query", "Versions[].Version") == ["$LATEST"]
    r = lv(tmp_path, "delete-function", "--function-name", "hello", "--qualifier", "$LATEST")
    assert r.stderr.endswith("$LATEST version cannot be deleted without deleting the function.\n")
    assert (fn / ".lambdaver").is_dir()


def test_init_removes_what_an_interrupted_delete_left(tmp_path: Path) -> None:
    fn = make_function(tmp_path, "hello")
    ok(fn, "publish")
    # delete-function's first step, then a crash: the repository under a temporary name
    trash = fn / f"..lambdaver.tmp.{os.getpid()}.0badc0de"
    (fn / ".lambdaver").rename(trash)
    (fn / "lambdaver.toml").unlink()
    assert names(tmp_path) == []
    assert run_cli("init", str(fn), "--output", "json").exit_code == 0
    assert not trash.exists()
    files = ok(fn, "versions", "show", "$LATEST")["Files"]
    assert [f["Path"] for f in files] == ["app.py"]
