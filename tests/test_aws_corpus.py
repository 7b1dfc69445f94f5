"""The aws command-line corpus: every line of tests/corpus/aws_lambda_lines.txt, an
``aws lambda`` command line from AWS's documentation or the aws CLI's own examples with
``aws lambda`` replaced by ``lambdaver``, runs through the installed ``lambdaver`` in a
fresh project prepared as the line presumes, and gives the aws CLI's exit status and the
shape of its result (contract §8).

An entry of the data file is a block of comment directives and the command line:

    # source: where the line was found (required)
    # note:   what was changed beyond `aws lambda` -> `lambdaver`
    # setup:  JSON, see ``Setup``
    # expect: JSON, see ``check`` (required)
    # needs:  the features the line relies on (informational)
    lambdaver VERB ...

Projects are built once per distinct setup (in-process, fast) and copied for each line, so
that every line starts from its own pristine copy and the corpus stays quick.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jmespath
import pytest

from conftest import LAMBDAVER_SCRIPT, run_cli

CORPUS = Path(__file__).parent / "corpus" / "aws_lambda_lines.txt"

# The region and account of AWS's own examples; an ARN in a line sets its own.
DEFAULT_REGION = "us-west-2"
DEFAULT_ACCOUNT = "123456789012"

DIRECTIVES = ("source", "also", "note", "setup", "expect", "needs")
SETUP_KEYS = {
    "function",  # the function the line names (default: from --function-name); null: none
    "functions",  # more functions in the project (for list-functions)
    "versions",  # published versions of each function, each with different code
    "dirty",  # $LATEST changed after the newest version
    "raises",  # the handler raises (a function error)
    "environment",  # $LATEST's environment variables, set before publishing
    "aliases",  # NAME: VERSION or NAME: {version, description, weights}
    "cwd",  # "function" (default when there is one) or "root"
    "files",  # NAME: text, written in the directory the line runs from
    "zips",  # deployment zips, holding the handler the line names (default app.handler)
    "region",
    "account",
    "profiles",  # NAME: {region, account_id, output}, as [profiles.NAME] of the config file
}
EXPECT_KEYS = {
    "exit",  # the aws CLI's exit status (required)
    "stdout",  # standard output exactly, stripped ("" for verbs that print nothing)
    "stdout_json",  # standard output, parsed, equals this
    "keys",  # JMESPath ("" for the whole result) -> keys that object must have
    "values",  # JMESPath -> value it must give
    "absent",  # JMESPath expressions that must give null
    "stderr",  # a text standard error must contain
    "outfile",  # NAME -> "json": a file the line writes, and what it must hold
    "decoded",  # with `| base64 -d`: texts the decoded output must contain
    "paths",  # {"present": [...], "absent": [...]}, relative to the project root
}


@dataclass(frozen=True)
class Entry:
    lineno: int
    line: str
    source: str
    setup: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """``L<line>-<name of the source file or page>``, so a failure names its line."""
        m = re.search(r"([\w.-]+?)(?:\.(?:rst|md|html|sh|py))?(?:[@:(]|$)", _last_path(self.source))
        return f"L{self.lineno}-{m.group(1) if m else 'line'}"


def _last_path(source: str) -> str:
    words = source.split()
    first = words[1] if source.startswith("github:") else words[0]
    return first.rstrip("/").rsplit("/", 1)[-1]


def parse_corpus(path: Path = CORPUS) -> list[Entry]:
    """The entries of the data file: a command line and the directives just above it."""
    entries: list[Entry] = []
    pending: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        text = raw.strip()
        if not text:
            pending = {}
            continue
        if text.startswith("#"):
            m = re.match(r"#\s*([a-z]+):\s?(.*)$", text)
            if m and m.group(1) in DIRECTIVES:
                pending[m.group(1)] = m.group(2)
            continue
        if "source" not in pending or "expect" not in pending:
            raise ValueError(f"{path.name}:{lineno}: a line needs '# source:' and '# expect:'")
        if not text.startswith("lambdaver "):
            raise ValueError(f"{path.name}:{lineno}: a corpus line starts with 'lambdaver '")
        setup = json.loads(pending.get("setup", "{}"))
        expect = json.loads(pending["expect"])
        unknown = (set(setup) - SETUP_KEYS) | (set(expect) - EXPECT_KEYS)
        if unknown or "exit" not in expect:
            raise ValueError(f"{path.name}:{lineno}: unknown or missing keys {sorted(unknown)}")
        entries.append(Entry(lineno, text, pending["source"], setup, expect))
        pending = {}
    return entries


ENTRIES = parse_corpus()


# --- what a line names -------------------------------------------------------------------

_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):function:")
_FUNCTION = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
    r"([a-zA-Z0-9_-]+)(?::[a-zA-Z0-9$_-]+)?"
)


def split_pipeline(line: str) -> tuple[list[str], list[list[str]]]:
    """The lambdaver command's words and the commands it is piped into."""
    words = shlex.split(line)
    stages: list[list[str]] = [[]]
    for w in words:
        if w == "|":
            stages.append([])
        else:
            stages[-1].append(w)
    return stages[0], stages[1:]


def option(words: list[str], name: str) -> str | None:
    """The value of ``--name V`` or ``--name=V`` among the words, if given."""
    for i, w in enumerate(words):
        if w == name and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(name + "="):
            return w.split("=", 1)[1]
    return None


# aws and lambdaver options that take no value; every other option takes one.
FLAGS = {
    "--no-cli-pager", "--no-paginate", "--debug", "--no-verify-ssl", "--no-sign-request",
    "--cli-auto-prompt", "--no-cli-auto-prompt", "--publish", "--no-publish", "--dry-run",
    "--no-dry-run", "--force",
}  # fmt: skip


def positionals(words: list[str]) -> list[str]:
    """The words after the verb that are neither options nor their values (invoke's
    OUTFILE, wait's condition)."""
    out: list[str] = []
    i = 2
    while i < len(words):
        w = words[i]
        if w.startswith("--"):
            i += 1 if "=" in w or w in FLAGS else 2
            continue
        out.append(w)
        i += 1
    return out


def function_of(words: list[str]) -> str | None:
    """The function a line names with --function-name (a name, ARN or partial ARN)."""
    value = option(words, "--function-name")
    if value is None:
        return None
    m = _FUNCTION.fullmatch(value)
    return m.group(1) if m else value


# --- preparing a project -----------------------------------------------------------------


def _code(i: int, raises: bool = False) -> str:
    if raises:
        return "def handler(event, context):\n    raise Exception('Malformed input ...')\n"
    return f"def handler(event, context):\n    return {{'version': {i}, 'event': event}}\n"


def _ok(*args: str) -> None:
    r = run_cli(*args, "--output", "json")
    assert r.exit_code == 0, (args, r)


def _make_function(root: Path, name: str, setup: dict[str, Any]) -> None:
    d = root / name
    d.mkdir(parents=True)
    raises = bool(setup.get("raises"))
    (d / "app.py").write_text(_code(0, raises))
    _ok("init", str(d), "--name", name)
    env = setup.get("environment") or {}
    if env:
        _ok(
            "-C",
            str(d),
            "config",
            "set",
            *[a for k, v in env.items() for a in ("--env", f"{k}={v}")],
        )
    for i in range(1, int(setup.get("versions", 0)) + 1):
        (d / "app.py").write_text(_code(i, raises))
        _ok("-C", str(d), "publish")
    for alias, given in (setup.get("aliases") or {}).items():
        spec = {"version": given} if isinstance(given, str) else given
        args = ["-C", str(d), "alias", "create", alias, "--version", spec["version"]]
        if "description" in spec:
            args += ["--description", spec["description"]]
        if spec.get("weights"):
            args += ["--routing-config", json.dumps({"AdditionalVersionWeights": spec["weights"]})]
        _ok(*args)
    if setup.get("dirty"):
        (d / "app.py").write_text(_code(99, raises))


class Templates:
    """Prepared projects, one per distinct (function, setup), built once and copied."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.built: dict[str, Path] = {}

    def get(self, function: str | None, setup: dict[str, Any]) -> Path:
        shape = {k: setup.get(k) for k in ("functions", "versions", "dirty", "raises",
                                           "environment", "aliases")}  # fmt: skip
        key = json.dumps({"function": function, **shape}, sort_keys=True)
        if key not in self.built:
            root = self.base / f"t{len(self.built)}" / "project"
            root.mkdir(parents=True)
            names = [function] if function else []
            names += [n for n in setup.get("functions") or [] if n not in names]
            for name in names:
                _make_function(root, name, setup)
            self.built[key] = root
        return self.built[key]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(tmp_path_factory.mktemp("corpus-templates"))


def _zip(path: Path, words: list[str]) -> None:
    """A deployment zip holding the handler the line names (default ``app.handler``)."""
    handler = option(words, "--handler") or "app.handler"
    runtime = option(words, "--runtime") or "python3"
    module, _, func = handler.rpartition(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        if runtime.startswith("nodejs"):
            z.writestr(f"{module}.js", f"exports.{func} = async (event) => ({{ok: true}});\n")
        elif runtime.startswith("python"):
            z.writestr(f"{module}.py", f"def {func}(event, context):\n    return {{'ok': True}}\n")
        else:
            z.writestr("bootstrap", "#!/bin/sh\necho bootstrap\n")


def _config(path: Path, words: list[str], setup: dict[str, Any]) -> None:
    region, account = DEFAULT_REGION, DEFAULT_ACCOUNT
    m = _ARN.search(" ".join(words))
    if m:
        region, account = m.group(1), m.group(2)
    else:
        partial = re.search(r"\b(\d{12}):function:", " ".join(words))
        if partial:
            account = partial.group(1)
    region = setup.get("region", region)
    account = setup.get("account", account)
    lines = [f'region = "{region}"', f'account_id = "{account}"']
    for name, table in (setup.get("profiles") or {}).items():
        lines.append(f'\n[profiles."{name}"]')
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Run:
    entry: Entry
    root: Path
    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    pipeline: list[list[str]]

    def __str__(self) -> str:
        return (
            f"\ncorpus line {self.entry.lineno} ({self.entry.source}):\n  {self.entry.line}\n"
            f"exit {self.returncode}\nstdout: {self.stdout!r}\nstderr: {self.stderr!r}"
        )


def run_entry(entry: Entry, templates: Templates, tmp_path: Path) -> Run:
    words, pipeline = split_pipeline(entry.line)
    setup = entry.setup
    function = setup["function"] if "function" in setup else function_of(words)
    root = tmp_path / "project"
    shutil.copytree(templates.get(function, setup), root, symlinks=True)
    in_function = function is not None and setup.get("cwd", "function") == "function"
    cwd = root / function if in_function and function else root
    # (an invoke's OUTFILE is not listed: lambdaver leaves it out of the code itself)
    names = [*(setup.get("files") or {}), *(setup.get("zips") or [])]
    for name, text in (setup.get("files") or {}).items():
        (cwd / name).write_text(text)
    for name in setup.get("zips") or []:
        _zip(cwd / name, words)
    if in_function and names:
        # Files the line reads are not the function's code (a user who keeps them beside
        # the code lists them in .lambdaverignore).
        with open(cwd / ".lambdaverignore", "a") as f:
            f.write("".join(f"/{n.split('/')[0]}\n" for n in names))
    cfg = tmp_path / "config.toml"
    _config(cfg, words, setup)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAVER_"))}
    env.update(HOME=str(home), LAMBDAVER_CONFIG=str(cfg), NO_COLOR="1")
    assert words[0] == "lambdaver"
    cmd = [str(LAMBDAVER_SCRIPT)] if LAMBDAVER_SCRIPT.exists() else ["python", "-m", "lambdaver"]
    p = subprocess.run(
        [*cmd, *words[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(entry, root, cwd, p.returncode, p.stdout, p.stderr, pipeline)


# --- checking the result -----------------------------------------------------------------


def check(run: Run) -> None:
    expect = run.entry.expect
    assert run.returncode == expect["exit"], (
        f"exit status {run.returncode}, not {expect['exit']}{run}"
    )
    if "stderr" in expect:
        assert expect["stderr"] in run.stderr, f"stderr lacks {expect['stderr']!r}{run}"
    if "stdout" in expect:
        assert run.stdout.strip() == expect["stdout"], f"stdout is not {expect['stdout']!r}{run}"
    if "stdout_json" in expect:
        assert _json(run) == expect["stdout_json"], f"stdout is not {expect['stdout_json']}{run}"
    if {"keys", "values", "absent"} & set(expect):
        data = _json(run)
        for path, keys in (expect.get("keys") or {}).items():
            obj = data if path == "" else jmespath.search(path, data)
            assert isinstance(obj, dict), f"{path or 'the result'} is not an object{run}"
            missing = [k for k in keys if k not in obj]
            assert not missing, f"{path or 'the result'} lacks {missing}{run}"
        for expr, value in (expect.get("values") or {}).items():
            got = jmespath.search(expr, data)
            assert got == value, f"{expr} is {got!r}, not {value!r}{run}"
        for expr in expect.get("absent") or []:
            got = jmespath.search(expr, data)
            assert got is None, f"{expr} should be absent, is {got!r}{run}"
    if "decoded" in expect:
        assert run.pipeline == [["base64", "-d"]], f"unsupported pipeline {run.pipeline}{run}"
        text = base64.b64decode(run.stdout.strip()).decode()
        for part in expect["decoded"]:
            assert part in text, f"the decoded log lacks {part!r}: {text!r}{run}"
    elif run.pipeline:
        pytest.fail(f"a piped line needs a 'decoded' expectation{run}")
    for name, kind in (expect.get("outfile") or {}).items():
        out = run.cwd / name
        assert out.is_file(), f"{name} was not written{run}"
        if kind == "json":
            json.loads(out.read_text())
    paths = expect.get("paths") or {}
    for rel in paths.get("present", []):
        assert (run.root / rel).exists(), f"{rel} should exist{run}"
    for rel in paths.get("absent", []):
        assert not (run.root / rel).exists(), f"{rel} should not exist{run}"


def _json(run: Run) -> Any:
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not JSON{run}")


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_aws_line(entry: Entry, templates: Templates, tmp_path: Path) -> None:
    check(run_entry(entry, templates, tmp_path))


# --- the corpus itself -------------------------------------------------------------------


def test_corpus_is_large_and_sourced() -> None:
    """At least 60 lines, each with a source, and no line twice."""
    assert len(ENTRIES) >= 60
    assert all(e.source.strip() for e in ENTRIES)
    lines = [tuple(shlex.split(e.line)) for e in ENTRIES]
    dupes = {line for line in lines if lines.count(line) > 1}
    # A line may appear twice only with different projects (e.g. with and without the
    # profile it names): the pair must differ in setup.
    for d in dupes:
        setups = [
            json.dumps(e.setup, sort_keys=True) for e in ENTRIES if tuple(shlex.split(e.line)) == d
        ]
        assert len(set(setups)) == len(setups), f"duplicate corpus line: {' '.join(d)}"


def test_parser_rejects_an_unsourced_line(tmp_path: Path) -> None:
    bad = tmp_path / "lines.txt"
    bad.write_text('# expect: {"exit": 0}\nlambdaver list-aliases\n')
    with pytest.raises(ValueError, match="source"):
        parse_corpus(bad)


def test_ids_are_unique() -> None:
    ids = [e.id for e in ENTRIES]
    assert len(ids) == len(set(ids))
