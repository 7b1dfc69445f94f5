"""Table output as a person sees it on an 80-column terminal.

A realistic function (long descriptions, weighted aliases, files with long paths, metrics
for $LATEST and three versions, unpublished changes) is shown by every verb at 80
columns: every line must fit, and nothing that matters may be cut (each version number,
alias name, weight, the tail of each file name).  json and text output stay the aws CLI's.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambdaver.cli.render import render

from conftest import LAMBDAVER_SCRIPT, Fn, run_cli

WIDTH = 80
DEEP = "src/orders/handlers/payments/providers/international"
LONG_DESCRIPTION = (
    "Processes incoming orders from the storefront and dispatches them to the fulfilment queue"
)


def _make_demo(root: Path) -> Fn:
    root.mkdir()
    (root / "app.py").write_text(
        "def handler(event, context):\n"
        "    print('processing order', event.get('id'))\n"
        "    print('a second log line, long enough to need folding on an eighty column "
        "terminal, yes it is')\n"
        "    return {'ok': True}\n"
    )
    assert run_cli("init", str(root), "--name", "orders-api-processing-function").exit_code == 0
    fn = Fn(root)
    for i in range(1, 5):
        fn.write(f"{DEEP}/stripe_connect_adapter_{i}.py", f"x = {i}\n")
    fn.ok("config", "set", "--description", LONG_DESCRIPTION)
    fn.publish()
    fn.write("app.py", (root / "app.py").read_text() + "y = 1\n")
    fn.ok("publish", "--description", "second: adds payment adapters for the storefront")
    fn.write("app.py", (root / "app.py").read_text() + "z = 1\n")
    fn.ok("publish", "--description", "third")
    fn.ok("alias", "create", "prod", "--version", "2", "--weight", "3=0.1",
          "--description", "production traffic, canary to 3")  # fmt: skip
    fn.ok("alias", "create", "staging", "--version", "3")
    fn.ok("alias", "create", "qa", "--version", "1", "--weight", "2=0.25")
    out = str(root.parent / "out.json")
    for q in ("$LATEST", "1", "2", "3"):
        assert fn("invoke", "--qualifier", q, "--payload", "{}", out).exit_code == 0
    # unpublished changes, for status and diff
    fn.write("app.py", (root / "app.py").read_text() + "w = 1\n")
    (root / DEEP / "stripe_connect_adapter_1.py").unlink()
    fn.write(f"{DEEP}/new_fraud_detection_rules.py", "rules = []\n")
    fn.ok("config", "set", "--memory-size", "512", "--env", "STAGE=dev")
    return fn


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Fn:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAMBDAVER_CONFIG", str(tmp_path_factory.mktemp("config") / "config.toml"))
        mp.delenv("LAMBDAVER_OUTPUT", raising=False)
        return _make_demo(tmp_path_factory.mktemp("demo") / "orders")


def table(fn: Fn, *args: str, width: int = WIDTH) -> str:
    r = run_cli("-C", str(fn.root), "--output", "table", *args, env={"COLUMNS": str(width)})
    # diff exits 1 when the sides differ (until --exit-code makes that opt-in)
    assert r.exit_code == 0 or (args[0] == "diff" and r.exit_code == 1), r
    assert_fits(r.stdout, width)
    return r.stdout


def assert_fits(text: str, width: int = WIDTH) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, "\n".join(too_wide)


def row(text: str, first_cell: str) -> str:
    """The table line whose first cell is ``first_cell``."""
    return next(line for line in text.splitlines() if line.startswith(f"│ {first_cell} "))


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("│").split("│")]


def no_json(text: str) -> None:
    assert not re.search(r"[{}\[\]\"]", text), text


# --- every verb at 80 columns ----------------------------------------------------------


def test_versions_show_keeps_the_path_column_and_every_file_name(demo: Fn) -> None:
    out = table(demo, "versions", "show", "3")
    assert "Path" in out
    for i in range(1, 5):
        line = next(line for line in out.splitlines() if f"stripe_connect_adapter_{i}.py" in line)
        path = cells(line)[0]
        assert path.startswith("src/") and "…" in path  # shortened in the middle
    assert "│ app.py " in out
    assert "Mode: PassThrough" in out  # TracingConfig, not {"Mode": ...}
    no_json(out)


def test_metrics_keeps_headers_and_latest_whole(demo: Fn) -> None:
    out = table(demo, "metrics")
    header = row(out, "Version")
    for h in ("Invocations", "Errors", "Timeouts", "p50 ms", "p95 ms", "max ms"):
        assert h in header
    for v in ("$LATEST", "1", "2", "3"):
        assert cells(row(out, v))[0] == v
        assert cells(row(out, v))[1] == "1"  # one invocation each


def test_alias_list_shows_weights_on_one_line(demo: Fn) -> None:
    out = table(demo, "alias", "list")
    assert cells(row(out, "prod"))[:3] == ["prod", "2", "3: 10%"]
    assert cells(row(out, "qa"))[:3] == ["qa", "1", "2: 25%"]
    assert cells(row(out, "staging"))[:3] == ["staging", "3", ""]
    assert "production traffic, canary to 3" in row(out, "prod")
    assert len(out.splitlines()) == 8  # title, 3 rules, header, 3 aliases: nothing wraps
    no_json(out)


def test_alias_get_and_history_show_weights(demo: Fn) -> None:
    out = table(demo, "alias", "get", "prod")
    assert cells(row(out, "RoutingConfig")) == ["RoutingConfig", "3: 10%"]
    no_json(out)
    out = table(demo, "alias", "history", "prod")
    (entry,) = [line for line in out.splitlines() if "create" in line]
    assert cells(entry)[1:4] == ["create", "2", "3: 10%"]
    no_json(out)


def test_versions_list_keeps_every_version_and_the_whole_description(demo: Fn) -> None:
    out = table(demo, "versions", "list")
    for v in ("$LATEST", "1", "2", "3"):
        assert cells(row(out, v))[0] == v
    header = row(out, "Version")
    for h in ("Aliases", "Description", "CodeSize", "LastModified"):
        assert h in header  # headers are never folded
    words = " ".join(cells(line)[2] for line in out.splitlines() if line.startswith("│"))
    assert " ".join(LONG_DESCRIPTION.split()) in " ".join(words.split())


@pytest.mark.parametrize("args", [("status",), ("diff", "1")])
def test_status_and_diff_are_sections_not_json(demo: Fn, args: tuple[str, ...]) -> None:
    out = table(demo, *args)
    no_json(out)
    assert cells(row(out, "Modified")) == ["Modified", "app.py"]
    added = cells(row(out, "Added"))[1]
    assert added.endswith("/new_fraud_detection_rules.py") and added.startswith("src/")
    assert cells(row(out, "Deleted"))[1].endswith("/stripe_connect_adapter_1.py")
    before = "1" if args[0] == "diff" else "Version 3"
    assert cells(row(out, "Field")) == ["Field", before, "$LATEST"]
    assert cells(row(out, "MemorySize")) == ["MemorySize", "128", "512"]
    assert cells(row(out, "Environment")) == ["Environment", "(none)", "STAGE=dev"]


def test_config_show_has_no_json(demo: Fn) -> None:
    out = table(demo, "config", "show")
    assert cells(row(out, "Environment")) == ["Environment", "STAGE=dev"]
    assert "orders-api-processing-function" in out.replace("│\n│", "").replace(" ", "")
    no_json(out)


def test_invoke_log_tail_is_decoded_on_a_terminal(demo: Fn, tmp_path: Path) -> None:
    out = str(tmp_path / "out.json")
    r = run_cli("-C", str(demo.root), "--output", "table", "invoke", "--log-type", "Tail",
                "--payload", '{"id": 7}', out, env={"COLUMNS": "80"})  # fmt: skip
    assert r.exit_code == 0, r
    assert_fits(r.stdout)
    assert cells(row(r.stdout, "StatusCode")) == ["StatusCode", "200"]
    assert "LogResult" not in r.stdout
    assert "START RequestId:" in r.stdout and "processing order 7" in r.stdout
    assert "REPORT RequestId:" in r.stdout
    # the long line is wrapped, not cut
    assert (
        "a second log line, long enough to need folding on an eighty column terminal, "
        "yes it is" in " ".join(r.stdout.split())
    )
    # to standard output: the response there, the table and the log on standard error
    r = run_cli("-C", str(demo.root), "--output", "table", "invoke", "--log-type", "Tail",
                env={"COLUMNS": "80"})  # fmt: skip
    assert r.stdout == '{"ok": true}\n'
    assert "processing order None" in r.stderr and "LogResult" not in r.stderr
    # json still carries the base64 LogResult, as the aws CLI does
    meta = demo("invoke", "--log-type", "Tail", str(tmp_path / "out.json")).json
    assert "START RequestId:" in base64.b64decode(meta["LogResult"]).decode()


# --- json and text are the aws CLI's, unchanged ----------------------------------------


def test_json_output_is_unchanged(demo: Fn) -> None:
    r = demo("alias", "get", "prod")
    got = r.json
    assert r.stdout == json.dumps(got, indent=4, ensure_ascii=False) + "\n"
    assert got["RoutingConfig"] == {"AdditionalVersionWeights": {"3": 0.1}}


def test_text_output_is_the_aws_clis(demo: Fn) -> None:
    """The aws CLI's text formatter (awscli/text.py) prints a map's values only: the
    weighted version's number is not a column, exactly as ``aws lambda get-alias
    --output text`` prints it; ``keys(...)`` in a query gives it to a script."""
    r = run_cli("-C", str(demo.root), "--output", "text", "alias", "get", "prod")
    first, weights = r.stdout.splitlines()
    assert first.split("\t")[1:] == [
        "production traffic, canary to 3", "2", "prod", first.split("\t")[-1]
    ]  # fmt: skip
    assert weights == "ADDITIONALVERSIONWEIGHTS\t0.1"
    r = run_cli("-C", str(demo.root), "--output", "text", "alias", "get", "prod",
                "--query", "keys(RoutingConfig.AdditionalVersionWeights)")  # fmt: skip
    assert r.stdout == "3\n"


# --- the renderer on its own, at several widths ----------------------------------------


def shown(result: Any, title: str = "T", width: int = WIDTH) -> str:
    buf = io.StringIO()
    render(result, "table", title, buf, width=width)
    out = buf.getvalue()
    assert_fits(out, width)
    return out


LONG_PATH = "a/very/long/directory/structure/that/goes/on/and/on/forever/module_name.py"


@pytest.mark.parametrize("width", [60, 80, 120])
def test_every_known_listing_fits_and_keeps_what_matters(width: int) -> None:
    versions = {
        "Versions": [
            {"Version": v, "Aliases": ["prod", "staging", "qa"], "Description": "x " * 60,
             "CodeSize": 123456, "LastModified": "2026-12-04T00:49:58.148+0000"}
            for v in ("$LATEST", "1", "22", "333")
        ]
    }  # fmt: skip
    out = shown(versions, width=width)
    for v in ("$LATEST", "1", "22", "333"):
        assert re.search(rf"│ {re.escape(v)} +│", out)  # a grid row, or a record's value
    assert out.count("+0000") == 4 and out.count("123456") == 4
    files = {"Files": [{"Path": LONG_PATH, "Mode": "100755", "Size": 1, "Sha256": "f" * 64}]}
    out = shown(files, width=width)
    assert "module_name.py" in out and "100755" in out
    aliases = {
        "Aliases": [
            {"Name": "production-eu-west", "FunctionVersion": "12",
             "RoutingConfig": {"AdditionalVersionWeights": {"13": 0.055}},
             "Description": "d " * 40, "RevisionId": "3d80e2bd-60ef-4691-ad00-d6442bbf74fc"}
        ]
    }  # fmt: skip
    out = shown(aliases, width=width)
    if width >= 80:
        assert cells(row(out, "production-eu-west"))[:3] == ["production-eu-west", "12", "13: 5.5%"]
    else:  # too narrow for a grid: one record per alias
        assert cells(row(out, "Weights")) == ["Weights", "13: 5.5%"]
        assert cells(row(out, "Name")) == ["Name", "production-eu-west"]
    assert ("3d80e2bd-60ef-4691-ad00-d6442bbf74fc" in out) == (width != 80)


def test_cells_are_never_markup() -> None:
    out = shown({"Description": "[bold]not markup[/bold] [red]", "Name": "x"})
    assert "[bold]not markup[/bold] [red]" in out


def test_unknown_results_render_without_json() -> None:
    out = shown({"Deleted": ["4", "5"], "Kept": [{"Version": "3", "PinnedBy": ["prod"]}]})
    assert "4, 5" in out and cells(row(out, "3")) == ["3", "prod"]
    no_json(out)


def test_shorten_path_keeps_the_file_name() -> None:
    from lambdaver.cli.tables import shorten_path

    assert shorten_path("app.py", 10) == "app.py"
    assert shorten_path(LONG_PATH, 40) == "a/very/…/and/on/forever/module_name.py"
    for width in range(3, len(LONG_PATH) + 1):
        short = shorten_path(LONG_PATH, width)
        assert len(short) <= width
        assert short.endswith("module_name.py"[-(width - 1) :])
    assert shorten_path(LONG_PATH, 20) == "a/…/module_name.py"
    assert shorten_path(LONG_PATH, 17) == "…/module_name.py"


def test_weights_as_percentages() -> None:
    from lambdaver.cli.tables import weights

    assert weights({"AdditionalVersionWeights": {"2": 0.1}}) == "2: 10%"
    assert weights({"AdditionalVersionWeights": {"10": 0.001, "9": 0.5}}) == "9: 50%, 10: 0.1%"


# --- for real: a pseudo-terminal of 80 columns -----------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("verb", [("versions", "show", "3"), ("alias", "list"), ("status",)])
def test_under_a_real_80_column_terminal(demo: Fn, verb: tuple[str, ...]) -> None:
    """No --output and no COLUMNS: table output because stdout is a terminal, laid out
    for the terminal's own width."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, WIDTH, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", LAMBDAVER_CONFIG=str(demo.root.parent / "none.toml"))
    env.pop("LAMBDAVER_OUTPUT", None)
    script = LAMBDAVER_SCRIPT
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "lambdaver"]
    proc = subprocess.Popen(
        [*cmd, "-C", str(demo.root), *verb],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())  # colours
    lines = text.replace("\r\n", "\n").splitlines()
    assert any("┌" in line for line in lines), text
    assert max(len(line) for line in lines) <= WIDTH, text
    assert "{" not in text
