"""The aws CLI's global options, --payload's binary formats, --cli-input-json,
--generate-cli-skeleton and the list verbs' paging: a command line copied from AWS's
documentation runs with ``aws lambda`` replaced by ``lambdaver``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from conftest import Fn, run_cli, run_subprocess

ECHO = "def handler(event, context):\n    return event\n"


@pytest.fixture
def two(fn: Fn) -> Fn:
    """``hello`` with versions 1 and 2 and aliases a, b, c."""
    fn.publish()
    fn.publish(**{"app.py": "def handler(event, context):\n    return 2\n"})
    for name, version in (("a", "1"), ("b", "2"), ("c", "1")):
        fn.ok("alias", "create", name, "--version", version)
    return fn


def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    cfg = tmp_path / "user.toml"
    cfg.write_text(text)
    monkeypatch.setenv("LAMBDAVER_CONFIG", str(cfg))
    return cfg


# --- options with no local meaning ---------------------------------------------------------

NO_EFFECT = [
    ["--no-cli-pager"],
    ["--endpoint-url", "http://127.0.0.1:9001"],
    ["--no-verify-ssl"],
    ["--no-paginate"],
    ["--no-sign-request"],
    ["--ca-bundle", "/nonexistent/ca.pem"],
    ["--cli-read-timeout", "5"],
    ["--cli-connect-timeout", "0"],
    ["--cli-auto-prompt"],
    ["--no-cli-auto-prompt"],
    ["--color", "auto"],
    ["--cli-binary-format", "raw-in-base64-out"],
    ["--page-size", "1"],
]


@pytest.mark.parametrize("option", NO_EFFECT, ids=lambda o: o[0])
def test_options_without_local_meaning_change_nothing(two: Fn, option: list[str]) -> None:
    plain = two("list-aliases")
    assert plain.exit_code == 0, plain
    after = two("list-aliases", *option)
    assert after.exit_code == 0, after
    assert after.stdout == plain.stdout
    if option[0] != "--page-size":  # a list verb's option, not a global one
        before = run_cli("-C", str(two.root), *option, "--output", "json", "list-aliases")
        assert before.exit_code == 0, before
        assert before.stdout == plain.stdout


# --- malformed values: the aws CLI's message, exit 252, nothing changed --------------------

REFUSED = [
    (["--color", "purple"],
     "lambdaver: error: argument --color: Invalid choice, valid choices are: on | off | auto"),
    (["--cli-read-timeout", "abc"],
     "lambdaver: error: argument --cli-read-timeout: invalid int value: 'abc'"),
    (["--cli-connect-timeout", "1.5"],
     "lambdaver: error: argument --cli-connect-timeout: invalid int value: '1.5'"),
    (["--cli-binary-format", "x"],
     "lambdaver: error: argument --cli-binary-format: Invalid choice, valid choices are: "
     "raw-in-base64-out | base64"),
    (["--endpoint-url", "localhost:9001"],
     'Bad value for --endpoint-url "localhost:9001": scheme is missing.  Must be of the form '
     "http://<hostname>/ or https://<hostname>/"),
    (["--region", "moon"], "Provided region_name 'moon' doesn't match a supported format."),
    (["--generate-cli-skeleton", "yaml"],
     "lambdaver: error: argument --generate-cli-skeleton: Invalid choice, valid choices are: "
     "input | output"),
    (["--cli-input-json", "{nope"],
     "Error parsing parameter '--cli-input-json': Invalid JSON: Expecting property name "
     "enclosed in double quotes: line 1 column 2 (char 1) JSON received: {nope"),
    (["--cli-input-json", "[1]"],
     "Error parsing parameter '--cli-input-json': Invalid JSON: expected an object of "
     "parameters, as --generate-cli-skeleton prints, not [1]"),
    (["--cli-input-json", '{"Name": "z", "Color": "red"}'],
     'Parameter validation failed: Unknown parameter in input: "Color", must be one of: '
     "FunctionName, Name, FunctionVersion, Description, RoutingConfig"),
    (["--cli-input-json", "file://missing.json"],
     "Error parsing parameter '--cli-input-json': Unable to load paramfile "
     "file://missing.json: No such file or directory"),
]  # fmt: skip


@pytest.mark.parametrize(("option", "message"), REFUSED, ids=lambda v: str(v)[:30])
def test_malformed_values_are_refused_as_the_aws_cli_refuses_them(
    two: Fn, unchanged, option: list[str], message: str
) -> None:
    with unchanged(two.root):
        r = two("create-alias", "--name", "new", "--function-version", "1", *option)
    assert (r.exit_code, r.stderr, r.stdout) == (252, message + "\n", ""), r


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--max-items", "0"], "argument --max-items: must be a positive integer, not 0"),
        (["--max-items", "x"], "argument --max-items: invalid int value: 'x'"),
        (["--page-size", "abc"], "argument --page-size: invalid int value: 'abc'"),
        (
            ["--starting-token", "garbage"],
            "Error parsing parameter '--starting-token': Invalid pagination token: garbage",
        ),
        (
            ["--starting-token", base64.b64encode(b'{"Marker": "x"}').decode()],
            "Invalid pagination token",
        ),
    ],
)
def test_bad_paging_values_are_refused(two: Fn, unchanged, option, message) -> None:
    with unchanged(two.root):
        r = two("list-aliases", *option)
    assert r.exit_code == 252 and message in r.stderr and r.stdout == "", r
    assert len(r.stderr.splitlines()) == 1


def test_a_bad_option_value_on_a_verb_without_repository_is_refused_first(tmp_path) -> None:
    r = run_cli("-C", str(tmp_path), "--color", "purple", "list-aliases")
    assert r.exit_code == 252 and "Invalid choice" in r.stderr


# --- --profile and --region --------------------------------------------------------------

PROFILES = """\
region = "eu-west-1"
account_id = "111111111111"

[profiles.dev]
region = "eu-central-1"
account_id = "222222222222"
output = "text"

[profiles.ops]
account_id = "333333333333"
"""


def arn(fn: Fn, *options: str) -> str:
    r = run_cli("-C", str(fn.root), *options, "config", "show", "--query", "FunctionArn",
                "--output", "text")  # fmt: skip
    assert r.exit_code == 0, r
    return r.stdout.strip()


def test_profiles_and_region_set_the_arns(fn: Fn, tmp_path, monkeypatch) -> None:
    config(tmp_path, monkeypatch, PROFILES)
    assert arn(fn) == "arn:aws:lambda:eu-west-1:111111111111:function:hello"
    assert arn(fn, "--profile", "dev") == "arn:aws:lambda:eu-central-1:222222222222:function:hello"
    # a key the profile does not set is the file's
    assert arn(fn, "--profile", "ops") == "arn:aws:lambda:eu-west-1:333333333333:function:hello"
    # --region wins over the profile's and the file's, before or after the verb
    assert arn(fn, "--profile", "dev", "--region", "ap-south-1").startswith(
        "arn:aws:lambda:ap-south-1:222222222222:"
    )
    r = run_cli("-C", str(fn.root), "get-alias", "--name", "x", "--region", "us-west-2")
    assert "arn:aws:lambda:us-west-2:111111111111:function:hello:x" in r.stderr
    # "default" is the file's own values when it has no such table
    assert arn(fn, "--profile", "default") == arn(fn)
    # an ARN of the profile's account and region is this function
    full = "arn:aws:lambda:eu-central-1:222222222222:function:hello"
    r = run_cli("-C", str(fn.root), "--profile", "dev", "get-function-configuration",
                "--function-name", full, "--output", "json")  # fmt: skip
    assert r.exit_code == 0 and r.json["FunctionArn"] == full, r


def test_a_profile_sets_the_output_format(fn: Fn, tmp_path, monkeypatch) -> None:
    config(tmp_path, monkeypatch, PROFILES)
    r = run_cli("-C", str(fn.root), "--profile", "dev", "config", "show", "--query", "Version")
    assert r.stdout == "$LATEST\n"
    r = run_cli("-C", str(fn.root), "--profile", "dev", "config", "show", "--output", "json",
                "--query", "Version")  # fmt: skip
    assert r.stdout == '"$LATEST"\n'


def test_an_unknown_profile_is_refused_with_exit_255(fn: Fn, tmp_path, monkeypatch, unchanged):
    config(tmp_path, monkeypatch, PROFILES)
    with unchanged(fn.root):
        for args in (["--profile", "prod", "publish"], ["publish", "--profile", "prod"]):
            r = run_cli("-C", str(fn.root), *args)
            assert (r.exit_code, r.stderr) == (
                255,
                "The config profile (prod) could not be found\n",
            )
    r = run_cli("-C", str(tmp_path), "--profile", "prod", "init", "new")
    assert r.exit_code == 255 and not (tmp_path / "new").exists()


def test_a_bad_profile_table_is_reported(fn: Fn, tmp_path, monkeypatch) -> None:
    config(tmp_path, monkeypatch, '[profiles.dev]\nregion = "nowhere"\n')
    r = run_cli("-C", str(fn.root), "config", "show")
    assert (
        r.exit_code == 254 and "[profiles.dev]: region 'nowhere' is not an AWS region" in r.stderr
    )
    config(tmp_path, monkeypatch, '[profiles.dev]\ncolour = "red"\n')
    r = run_cli("-C", str(fn.root), "config", "show")
    assert "unknown setting(s): colour" in r.stderr


def test_aws_environment_variables_are_ignored(fn: Fn, tmp_path, monkeypatch) -> None:
    config(tmp_path, monkeypatch, PROFILES)
    for var, value in (("AWS_PROFILE", "nope"), ("AWS_REGION", "sa-east-1"),
                       ("AWS_DEFAULT_REGION", "sa-east-1")):  # fmt: skip
        monkeypatch.setenv(var, value)
    assert arn(fn) == "arn:aws:lambda:eu-west-1:111111111111:function:hello"


# --- colour --------------------------------------------------------------------------------


def table(fn: Fn, *options: str, env: dict[str, str]) -> str:
    r = run_cli("-C", str(fn.root), "--output", "table", "alias", "list", *options, env=env)
    assert r.exit_code == 0, r
    return r.stdout


def test_color_and_no_color(two: Fn) -> None:
    forced = {"NO_COLOR": "", "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    assert "\x1b[" in table(two, env=forced)  # rich colours a (forced) terminal
    assert "\x1b[" in table(two, "--color", "on", env={"TERM": "xterm-256color"})
    off = table(two, "--color", "off", env=forced)
    assert "\x1b" not in off and "Aliases" in off
    assert "\x1b" not in table(two, env={**forced, "NO_COLOR": "1"})
    assert "\x1b" not in table(two, env={"NO_COLOR": ""})  # auto: not a terminal
    # --color on wins over NO_COLOR, as an option wins over the environment
    assert "\x1b[" in table(two, "--color", "on", env={"NO_COLOR": "1", "TERM": "xterm"})


# --- --payload and --cli-binary-format -----------------------------------------------------


@pytest.fixture
def echo(fn: Fn) -> Fn:
    fn.write("app.py", ECHO)
    return fn


def payload(fn: Fn, *args: str) -> tuple[int, str, str]:
    r = fn("invoke", *args)
    return r.exit_code, r.stdout, r.stderr


def test_payload_formats(echo: Fn, tmp_path: Path) -> None:
    event = '{"k": 1}'
    b64 = base64.b64encode(event.encode()).decode()
    (tmp_path / "e.json").write_text(event)
    (tmp_path / "e.b64").write_text(b64 + "\n")
    assert payload(echo, "--payload", event)[1] == event + "\n"
    assert payload(echo, "--cli-binary-format", "raw-in-base64-out", "--payload", event)[1] == (
        event + "\n"
    )
    base = ["--cli-binary-format", "base64"]
    assert payload(echo, *base, "--payload", b64)[1] == event + "\n"
    # file:// is text, decoded as base64; fileb:// is raw bytes, never decoded
    assert payload(echo, *base, "--payload", f"file://{tmp_path / 'e.b64'}")[1] == event + "\n"
    assert payload(echo, *base, "--payload", f"fileb://{tmp_path / 'e.json'}")[1] == event + "\n"
    assert payload(echo, "--payload", f"fileb://{tmp_path / 'e.json'}")[1] == event + "\n"
    assert (
        payload(
            echo,
            *base,
            "--payload",
            "-",
        )[0]
        == 0
    )  # stdin: empty is base64 of nothing


def test_invalid_base64_is_refused(echo: Fn, unchanged) -> None:
    with unchanged(echo.root):
        code, out, err = payload(echo, "--cli-binary-format", "base64", "--payload", '{"k": 1}')
    assert (code, out, err) == (252, "", 'Invalid base64: "{"k": 1}"\n')


# --- --cli-input-json ----------------------------------------------------------------------


def test_cli_input_json_gives_the_options(two: Fn, tmp_path: Path) -> None:
    made = two.ok("create-alias", "--cli-input-json", json.dumps({
        "Name": "canary", "FunctionVersion": "2", "Description": "from json",
        "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.25}}}))  # fmt: skip
    assert made["Name"] == "canary" and made["FunctionVersion"] == "2"
    assert made["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    assert made["Description"] == "from json"
    # the command line wins; a file:// input is read relative to -C
    (two.root / "in.json").write_text(json.dumps({"Name": "canary", "Description": "json"}))
    got = two.ok("update-alias", "--cli-input-json", "file://in.json", "--description", "cli")
    assert got["Description"] == "cli"
    (two.root / "in.json").unlink()
    # FunctionName is the global --function-name, checked as usual
    r = two("get-alias", "--cli-input-json", '{"FunctionName": "other", "Name": "a"}')
    assert r.exit_code == 254 and "other" in r.stderr, r
    r = two("get-alias", "--cli-input-json", '{"FunctionName": "other", "Name": "a"}',
            "--function-name", "hello")  # fmt: skip
    assert r.exit_code == 0 and r.json["Name"] == "a", r


def test_cli_input_json_for_configuration_publish_and_invoke(echo: Fn) -> None:
    given = {"MemorySize": 256, "Timeout": 9, "Environment": {"Variables": {"STAGE": "dev"}}}
    conf = echo.ok("update-function-configuration", "--cli-input-json", json.dumps(given))
    assert (conf["MemorySize"], conf["Timeout"]) == (256, 9)
    assert conf["Environment"] == {"Variables": {"STAGE": "dev"}}
    v = echo.ok("publish-version", "--cli-input-json", '{"Description": "one"}')
    assert (v["Version"], v["Description"]) == ("1", "one")
    given = {"FunctionName": "hello", "Qualifier": "1", "Payload": {"k": 2}}
    r = echo("invoke", "--cli-input-json", json.dumps(given))
    assert r.exit_code == 0 and r.stdout == '{"k": 2}\n', r
    assert json.loads(r.stderr)["ExecutedVersion"] == "1"
    # a Payload string with --cli-binary-format base64 is base64, as in aws CLI v2
    b64 = base64.b64encode(b'{"k": 3}').decode()
    r = echo("--cli-binary-format", "base64", "invoke", "--cli-input-json",
             json.dumps({"Payload": b64}))  # fmt: skip
    assert r.stdout == '{"k": 3}\n', r
    # a parameter with no meaning here is ignored, with a word on stderr when it is set
    r = echo("get-function-configuration", "--cli-input-json", '{"Qualifier": "1"}')
    assert r.exit_code == 0 and r.json["Version"] == "1"
    r = echo("invoke", "--cli-input-json", '{"DurableExecutionName": "d", "TenantId": ""}')
    assert r.exit_code == 0
    assert "DurableExecutionName has no meaning here and is ignored" in r.stderr
    assert "TenantId" not in r.stderr
    # ClientContext is --client-context: checked as it is
    r = echo("invoke", "--cli-input-json", '{"ClientContext": "!!!"}')
    assert r.exit_code == 254 and "Base64-encoded JSON object" in r.stderr


def test_every_aws_verb_takes_the_input_options() -> None:
    import re

    from lambdaver.cli import aws_model
    from lambdaver.cli.app import AWS_VERBS, Verb
    from lambdaver.cli.main import cli

    assert {re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", op).lower() for op in aws_model.INPUT} == (
        AWS_VERBS
    )
    ctx = cli.make_context("lambdaver", ["--help"], resilient_parsing=True)
    names = [n for n in cli.list_commands(ctx) if n in AWS_VERBS]
    assert {"publish-version", "create-alias", "invoke", "list-aliases", "get-function"} <= set(
        names
    )
    for name in names:
        verb = cli.get_command(ctx, name)
        assert isinstance(verb, Verb)
        opts = {o for p in verb.params for o in p.opts}
        assert {"--cli-input-json", "--generate-cli-skeleton"} <= opts, name
        assert verb.operation in aws_model.INPUT, name
    # lambdaver's own spellings take neither
    assert "--cli-input-json" not in {o for p in cli.get_command(ctx, "publish").params
                                      for o in p.opts}  # fmt: skip


# --- --generate-cli-skeleton ---------------------------------------------------------------


def test_input_skeletons_are_the_apis_and_touch_nothing(two: Fn, tmp_path, unchanged) -> None:
    with unchanged(two.root):
        r = two("create-alias", "--generate-cli-skeleton")  # required options not needed
        assert r.exit_code == 0, r
        routing = {"AdditionalVersionWeights": {"KeyName": 0.0}}
        assert r.json == {"FunctionName": "", "Name": "", "FunctionVersion": "",
                          "Description": "", "RoutingConfig": routing}  # fmt: skip
        r = two("invoke", "--generate-cli-skeleton", "input")
        assert r.json["Payload"] is None and r.json["LogType"] == "None"
        assert two("list-versions-by-function", "--generate-cli-skeleton").json == {
            "FunctionName": "", "Marker": "", "MaxItems": 0}  # fmt: skip
    # no repository needed at all
    r = run_cli("-C", str(tmp_path), "publish-version", "--generate-cli-skeleton")
    assert r.exit_code == 0 and set(json.loads(r.stdout)) >= {"FunctionName", "RevisionId"}
    # the skeleton is what --cli-input-json takes
    skeleton = two("get-alias", "--generate-cli-skeleton").json
    skeleton.update(Name="b", FunctionName="hello")
    assert two.ok("get-alias", "--cli-input-json", json.dumps(skeleton))["FunctionVersion"] == "2"


def test_output_skeleton(two: Fn, unchanged) -> None:
    with unchanged(two.root):
        r = two("get-alias", "--name", "a", "--generate-cli-skeleton", "output")
    assert r.exit_code == 0, r
    assert r.json["AliasArn"] == "AliasArn"
    assert r.json["RoutingConfig"] == {"AdditionalVersionWeights": {"KeyName": 0.0}}


# --- paging --------------------------------------------------------------------------------


def walk(fn: Fn, *verb: str) -> list[list[str]]:
    """Page through a listing with --max-items 1: the names of each page."""
    key = "Aliases" if "alias" in " ".join(verb) else "Versions"
    field = "Name" if key == "Aliases" else "Version"
    pages: list[list[str]] = []
    token: list[str] = []
    while True:
        r = fn.ok(*verb, "--max-items", "1", *token)
        pages.append([item[field] for item in r[key]])
        assert list(r) == [key, "NextToken"] if "NextToken" in r else list(r) == [key]
        if "NextToken" not in r:
            return pages
        token = ["--starting-token", r["NextToken"]]
        assert len(pages) < 10


LISTS = [("list-aliases",), ("alias", "list"), ("list-versions-by-function",), ("versions", "list")]


@pytest.mark.parametrize("verb", LISTS)
def test_paging_round_trip(two: Fn, verb: tuple[str, ...]) -> None:
    pages = walk(two, *verb)
    whole = two.ok(*verb)
    key = "Aliases" if "Aliases" in whole else "Versions"
    field = "Name" if key == "Aliases" else "Version"
    assert pages == [[item[field]] for item in whole[key]]  # each item once, in order
    assert len(pages) == 3


def test_paging_details(two: Fn) -> None:
    r = two.ok("list-aliases", "--max-items", "2")
    assert [a["Name"] for a in r["Aliases"]] == ["a", "b"]
    assert json.loads(base64.b64decode(r["NextToken"])) == {
        "Marker": None, "boto_truncate_amount": 2}  # fmt: skip
    # not truncated: no NextToken; past the end: an empty list
    assert "NextToken" not in two.ok("list-aliases", "--max-items", "3")
    last = two.ok("list-aliases", "--starting-token", r["NextToken"])
    assert [a["Name"] for a in last["Aliases"]] == ["c"] and "NextToken" not in last
    far = base64.b64encode(b'{"Marker": null, "boto_truncate_amount": 9}').decode()
    assert two.ok("list-aliases", "--starting-token", far) == {"Aliases": []}
    # --query sees the NextToken, as in the aws CLI
    q = two("list-aliases", "--max-items", "1", "--query", "NextToken", "--output", "text")
    assert q.stdout.strip() == two.ok("list-aliases", "--max-items", "1")["NextToken"]
    # text: the token on a line of its own, last
    t = two("list-aliases", "--max-items", "1", "--output", "text").stdout.splitlines()
    assert t[0].startswith("ALIASES\t") and t[-1].startswith("NEXTTOKEN\t") and len(t) == 2
    # --page-size alone changes nothing; the cli-input-json names page too
    assert two.ok("list-aliases", "--page-size", "1") == two.ok("list-aliases")
    r = two.ok("list-aliases", "--cli-input-json", '{"MaxItems": 1}')
    assert len(r["Aliases"]) == 1 and "NextToken" in r


# --- end to end ----------------------------------------------------------------------------


def test_an_aws_docs_command_line_runs(echo: Fn, tmp_path: Path, monkeypatch) -> None:
    cfg = config(tmp_path, monkeypatch, PROFILES)
    out = tmp_path / "response.json"
    p = run_subprocess(
        "invoke", "--function-name", "hello", "--cli-binary-format", "raw-in-base64-out",
        "--payload", '{ "name": "Bob" }', "--profile", "dev", "--region", "us-west-2",
        "--no-cli-pager", "--output", "json", str(out),
        cwd=echo.root, env={"LAMBDAVER_CONFIG": str(cfg), "NO_COLOR": "1"},
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(out.read_text()) == {"name": "Bob"}
    assert json.loads(p.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    p = run_subprocess("get-function-configuration", "--profile", "dev", "--color", "purple",
                       cwd=echo.root, env={"LAMBDAVER_CONFIG": str(cfg)})  # fmt: skip
    assert p.returncode == 252 and "Invalid choice" in p.stderr
    p = run_subprocess("get-function-configuration", "--profile", "nope",
                       cwd=echo.root, env={"LAMBDAVER_CONFIG": str(cfg)})  # fmt: skip
    assert (p.returncode, p.stderr) == (255, "The config profile (nope) could not be found\n")
