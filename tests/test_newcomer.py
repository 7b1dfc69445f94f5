"""What a new user hits first (contract §15): an import that would discard unpublished
code, tool files published as code, init's choice of handler, publish's warning when
the handler cannot be found."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lambdaver.service.functions import DEFAULT_IGNORE, STARTER_APP

from conftest import Fn, run_cli

APP = "def handler(event, context):\n    return {'v': 0}\n"


def make_zip(path: Path, **files: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def refused(verb: str, detail: str) -> str:
    return (
        f"An error occurred (ResourceConflictException) when calling the {verb} operation: "
        f"$LATEST has unpublished changes ({detail}) that no version holds; publish them "
        "first, or use --force to discard them\n"
    )


# --- import / update-function-code keep unpublished code ------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["import", "{z}"],
        ["import", "{z}", "--publish"],
        ["update-function-code", "--zip-file", "fileb://{z}"],
        ["update-function-code", "--zip-file", "fileb://{z}", "--publish"],
    ],
)
def test_import_refuses_to_discard_unpublished_edits(
    fn: Fn, tmp_path: Path, unchanged, args: list[str]
) -> None:
    fn.publish()
    fn.write("app.py", APP + "# my edit\n")
    z = make_zip(tmp_path / "other.zip", **{"app.py": APP.replace("0", "9")})
    argv = [a.format(z=z) for a in args]
    with unchanged(fn.root):
        r = fn(*argv)
    verb = "ImportFunction" if args[0] == "import" else "UpdateFunctionCode"
    assert (r.exit_code, r.stdout) == (254, "")
    assert r.stderr == refused(verb, "modified: app.py since version 1")
    out = fn.ok(*argv, "--force")
    assert (fn.root / "app.py").read_text() == APP.replace("0", "9")
    assert out["Version"] == ("2" if "--publish" in args else "$LATEST")


def test_import_refuses_a_deletion_of_unpublished_files(fn: Fn, tmp_path: Path, unchanged) -> None:
    fn.publish()
    fn.write("extra.py", "E = 1\n")
    z = make_zip(tmp_path / "fn.zip", **{"app.py": APP})  # app.py as published
    with unchanged(fn.root):
        r = fn("import", str(z))
    assert r.stderr == refused("ImportFunction", "added: extra.py since version 1")


def test_import_before_the_first_publish_of_the_users_own_code_is_refused(
    fn: Fn, tmp_path: Path, unchanged
) -> None:
    z = make_zip(tmp_path / "fn.zip", **{"app.py": "# other\n"})
    with unchanged(fn.root):
        r = fn("import", str(z))
    assert r.exit_code == 254
    assert r.stderr == refused("ImportFunction", "added: app.py")


def test_a_new_functions_starter_code_is_replaced_without_force(tmp_path: Path) -> None:
    """create-function --zip-file: init, then the first import, no --force needed."""
    d = tmp_path / "new"
    assert run_cli("init", str(d)).exit_code == 0
    assert (d / "app.py").read_text() == STARTER_APP
    z = make_zip(tmp_path / "fn.zip", **{"lambda_function.py": "def lambda_handler(e, c): ...\n"})
    r = run_cli("-C", str(d), "import", str(z), "--output", "json")
    assert (r.exit_code, r.stderr) == (0, ""), r
    assert not (d / "app.py").exists()
    # the imported code is now unpublished work of its own
    r = run_cli("-C", str(d), "import", str(make_zip(tmp_path / "b.zip", **{"b.py": "B = 1\n"})))
    assert r.stderr == refused("ImportFunction", "added: lambda_function.py")


def test_the_same_code_again_and_configuration_edits_are_not_refused(
    fn: Fn, tmp_path: Path
) -> None:
    z = make_zip(tmp_path / "fn.zip", **{"app.py": APP})
    assert fn.ok("import", str(z))["Version"] == "$LATEST"  # unpublished, but unchanged
    fn.publish()
    fn.ok("config", "set", "--timeout", "9")  # import keeps the configuration: not refused
    z2 = make_zip(tmp_path / "fn2.zip", **{"app.py": APP.replace("0", "2")})
    assert fn.ok("import", str(z2))["Timeout"] == 9


# --- .lambdaverignore and what lambdaver itself writes ----------------------------------


def test_init_writes_a_lambdaverignore_and_a_venv_is_not_code(tmp_path: Path) -> None:
    d = tmp_path / "f"
    (d / ".venv" / "lib").mkdir(parents=True)
    (d / ".venv" / "lib" / "site.py").write_text("S = 1\n")
    (d / "node_modules" / ".cache").mkdir(parents=True)
    (d / "node_modules" / ".cache" / "x").write_text("x")
    r = run_cli("init", str(d), "--output", "json")
    assert r.exit_code == 0, r
    assert (d / ".lambdaverignore").read_text() == DEFAULT_IGNORE
    # .venv's Python files are not code: the directory still gets its starter app.py
    assert (d / "app.py").read_text() == STARTER_APP
    status = run_cli("-C", str(d), "status", "--output", "json").json
    assert status["Files"]["Added"] == ["app.py"]


def test_init_never_overwrites_an_existing_lambdaverignore(tmp_path: Path) -> None:
    (tmp_path / ".lambdaverignore").write_text("secret.txt\n")
    (tmp_path / "app.py").write_text(APP)
    assert run_cli("init", str(tmp_path)).exit_code == 0
    assert (tmp_path / ".lambdaverignore").read_text() == "secret.txt\n"


def test_export_into_the_function_directory_does_not_become_code(fn: Fn) -> None:
    fn.publish()
    r = run_cli("-C", str(fn.root), "export", "-o", str(fn.root / "fn.zip"), "--output", "json")
    assert (r.exit_code, r.stderr) == (0, "")
    assert fn.ok("status")["Changed"] is False


def test_gitignore_is_not_read(fn: Fn) -> None:
    """A vendored package/ that .gitignore leaves out is still the code Lambda runs."""
    (fn.root / ".gitignore").write_text("package/\n.gitignore\n")
    fn.write("package/dep.py", "D = 1\n")
    assert fn.ok("status")["Files"]["Added"] == [".gitignore", "app.py", "package/dep.py"]


@pytest.mark.parametrize(
    "pattern",
    ["venv/", "*.zip", "node_modules/.cache/", "/build", "a/b", ".coverage", "*", "a*b",
     "/x/", "x.y/*.z", "*.egg-info/", DEFAULT_IGNORE],
)  # fmt: skip
def test_plain_ignore_files_match_as_pathspec_does(pattern: str) -> None:
    import pathspec

    from lambdaver.storage.ignorefast import SimpleSpec, simple_spec

    lines = pattern.splitlines()
    fast = simple_spec(lines)
    assert isinstance(fast, SimpleSpec)
    slow = pathspec.GitIgnoreSpec.from_lines(lines)
    for path in [
        "venv/", "venv", "venv/x.py", "a/venv/", "a/venv/b", "x.zip", "d/x.zip", "x.zip/",
        "node_modules/.cache/", "node_modules/.cache/a", "a/node_modules/.cache/", "build",
        "build/", "a/build", "a/b", "a/b/", "a/b/c", "c/a/b", ".coverage", "q/.coverage",
        "axxb", "z/ab", "x/", "x", "x.y/q.z", "x.y/q/r.z", "foo.egg-info/", "foo.egg-info/P",
        "app.py", "lib/app.py", ".DS_Store", "d/.DS_Store",
    ]:  # fmt: skip
        assert fast.match_file(path) == slow.match_file(path), path
    assert simple_spec(["!keep.py"]) is False
    assert simple_spec(["**/x"]) is False
    assert simple_spec(["# only a comment", ""]) is None


# --- init finds the handler ---------------------------------------------------------------


def init_json(d: Path, *args: str) -> tuple[dict, str]:
    r = run_cli("init", str(d), "--output", "json", *args)
    assert r.exit_code == 0, r
    return r.json, r.stderr


def test_init_finds_the_aws_consoles_lambda_function(tmp_path: Path) -> None:
    (tmp_path / "lambda_function.py").write_text(
        "import json\n\ndef lambda_handler(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps('Hello from Lambda!')}\n"
    )
    (tmp_path / "helpers.py").write_text("def handler(e, c):\n    return 0\n")
    out, err = init_json(tmp_path)
    assert (out["Handler"], err) == ("lambda_function.lambda_handler", "")
    assert not (tmp_path / "app.py").exists()
    r = run_cli("-C", str(tmp_path), "invoke", "--payload", "{}", "-", "--output", "json")
    assert r.exit_code == 0, r
    assert r.stdout == '{"statusCode": 200, "body": "\\"Hello from Lambda!\\""}\n'


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        ({"main.py": "def handler(event, context):\n    return 1\n"}, "main.handler"),
        ({"svc.py": "async def x(): ...\nif True:\n    def lambda_handler(e, c): ...\n"},
         "svc.lambda_handler"),
        ({"api.py": "from impl import handler\n", "impl.py": "X = 1\n"}, "api.handler"),
        ({"lambda_function.py": "def other(e, c): ...\n", "main.py": "def handler(e, c): ...\n"},
         "main.handler"),
    ],
)  # fmt: skip
def test_init_finds_a_single_top_level_handler(
    tmp_path: Path, files: dict[str, str], handler: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    out, err = init_json(tmp_path)
    assert (out["Handler"], err) == (handler, "")


def test_init_with_two_candidates_keeps_the_default_and_warns(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def handler(e, c): ...\n")
    (tmp_path / "b.py").write_text("def handler(e, c): ...\n")
    out, err = init_json(tmp_path)
    assert out["Handler"] == "app.handler"
    assert err == (
        "lambdaver: warning: handler app.handler: there is no app.py in $LATEST's code, so "
        "invoke will fail (Runtime.ImportModuleError); set it with: lambdaver config set "
        "--handler MODULE.FUNCTION\n"
    )


def test_init_never_runs_user_code_and_respects_given_handler(tmp_path: Path) -> None:
    (tmp_path / "lambda_function.py").write_text(
        "open('ran', 'w').close()\nraise SystemExit(3)\ndef lambda_handler(e, c): ...\n"
    )
    out, _err = init_json(tmp_path, "--handler", "lambda_function.other")
    assert out["Handler"] == "lambda_function.other"
    assert not (tmp_path / "ran").exists()


def test_init_python_detection_is_python_only(tmp_path: Path) -> None:
    (tmp_path / "lambda_function.py").write_text("def lambda_handler(e, c): ...\n")
    out, err = init_json(tmp_path, "--runtime", "nodejs20.x")
    assert (out["Handler"], err) == ("index.handler", "")  # Node's own default


# --- publish warns when the handler cannot be found ---------------------------------------


def warning(handler: str, problem: str) -> str:
    return (
        f"lambdaver: warning: handler {handler}: {problem}; set it with: lambdaver config set "
        "--handler MODULE.FUNCTION\n"
    )


def test_publish_warns_when_the_handlers_module_is_missing(fn: Fn) -> None:
    fn.ok("config", "set", "--handler", "lambda_function.lambda_handler")
    r = fn("publish")
    assert (r.exit_code, r.json["Version"]) == (0, "1")
    assert r.stderr == warning(
        "lambda_function.lambda_handler",
        "there is no lambda_function.py in $LATEST's code, so invoke will fail "
        "(Runtime.ImportModuleError)",
    )


def test_publish_warns_when_the_function_is_missing(fn: Fn) -> None:
    fn.write("app.py", "def handle(event, context):\n    return 1\n")
    r = fn("publish")
    assert r.exit_code == 0
    assert r.stderr == warning(
        "app.handler", "app.py defines no handler, so invoke will fail (Runtime.HandlerNotFound)"
    )


@pytest.mark.parametrize(
    ("handler", "problem"),
    [
        ("pkg/mod.handler", None),
        ("pkg.mod.handler", None),
        ("pkg.handler", None),  # pkg/__init__.py
        ("pkg/mod.other", "pkg/mod.py defines no other, so invoke will fail "
                          "(Runtime.HandlerNotFound)"),
        ("pkg/nope.handler", "there is no pkg/nope.py in $LATEST's code, so invoke will fail "
                             "(Runtime.ImportModuleError)"),
        ("star.handler", None),  # from x import *: cannot tell, so no warning
        ("broken.handler", None),  # does not parse here: cannot tell
    ],
)  # fmt: skip
def test_publish_warning_for_packages_and_unknowable_modules(
    fn: Fn, handler: str, problem: str | None
) -> None:
    fn.write("pkg/__init__.py", "from pkg.mod import handler\n")
    fn.write("pkg/mod.py", "def handler(event, context):\n    return 1\n")
    fn.write("star.py", "from pkg.mod import *\n")
    fn.write("broken.py", "def handler(:\n")
    fn.ok("config", "set", "--handler", handler)
    r = fn("publish")
    assert r.exit_code == 0
    assert r.stderr == (warning(handler, problem) if problem else "")


def test_no_handler_warning_for_other_runtimes(fn: Fn) -> None:
    fn.ok("config", "set", "--runtime", "nodejs20.x", "--handler", "index.handler")
    r = fn("publish")
    assert (r.exit_code, r.stderr) == (0, "")


def test_import_publish_warns_about_the_imported_code(fn: Fn, tmp_path: Path) -> None:
    fn.publish()
    z = make_zip(tmp_path / "fn.zip", **{"main.py": "def handler(e, c): ...\n"})
    r = fn("update-function-code", "--zip-file", f"fileb://{z}", "--publish")
    assert (r.exit_code, r.json["Version"]) == (0, "2")
    assert r.stderr == warning(
        "app.handler",
        "there is no app.py in $LATEST's code, so invoke will fail (Runtime.ImportModuleError)",
    )
