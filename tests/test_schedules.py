"""Schedules: EventBridge's rate() and cron() validation and next times, and the
schedule verbs on a function whose alias they name."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lambdaver.model.schedule import INVALID, ScheduleExpressionError, parse
from lambdaver.service import schedules
from lambdaver.service.repository import Repository

from conftest import Fn

ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"

ACCEPTED = [
    "cron(0 10 * * ? *)", "cron(15 12 * * ? *)", "cron(0 18 ? * MON-FRI *)",
    "cron(0 8 1 * ? *)", "cron(0/15 * * * ? *)", "cron(0/10 * ? * MON-FRI *)",
    "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 2 ? * SAT *)", "cron(5,35 14 * * ? *)",
    "cron(15 10 ? * 6L 2002-2005)", "cron(0 2 ? * SAT#3 *)", "cron(* * ? * SAT#3 *)",
    "cron(0/5 5 ? JAN 1-5 2022)", "cron(0 12 L * ? *)", "cron(0 12 LW * ? *)",
    "cron(0 12 15W * ? *)", "cron(0 0 1 JAN-MAR,DEC ? 2030)", "cron(*/20 * * * ? *)",
    "rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)",
    "rate(7 days)",
]  # fmt: skip

# lambda-semantics-2.md §4.4: every one refused with "Parameter ScheduleExpression is not valid."
REFUSED = [
    "rate(10 seconds)", "rate(10 years)", "rate(1 minutes)", "rate(1 hours)", "rate(1 days)",
    "rate(10 minute)", "rate(10 hour)", "rate(10 day)", "rate()", "rate(10)",
    "rate(10 minutess)", "rate(foo minutes)", "rate(0 minutes)", "rate(-10 minutes)",
    "rate(10 MINUTES)", "rate( 10 minutes )", " rate(10 minutes)",
    "cron(INVALID)", "cron(0 dummy ? * MON-FRI *)", "cron(7 20 * * NOT *)",
    "cron(71 8 1 * ? *)", "cron(0 1 * * * *)", "cron(0 1 ? * ? *)", "cron(0 1 * * ?)",
    "cron(0 24 * * ? *)", "cron(0 1 32 * ? *)", "cron(0 1 ? 13 ? *)", "cron(0 1 ? * 8 *)",
    "cron(0 1 * * ? 1969)", "cron(0 1 * * ? 2200)", "cron(0 1 ? * MON/2 *)",
    "cron(0 1 ? * SAT#6 *)",
    "every 5 minutes", "",
]  # fmt: skip


@pytest.mark.parametrize("expression", ACCEPTED)
def test_eventbridge_accepts(expression: str) -> None:
    assert parse(expression).expression == expression


@pytest.mark.parametrize("expression", REFUSED)
def test_eventbridge_refuses_with_its_message(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError) as info:
        parse(expression)
    assert info.value.message == INVALID == "Parameter ScheduleExpression is not valid."
    assert info.value.code == "ValidationException"


T = datetime(2025, 3, 14, 10, 7, 30, tzinfo=UTC)  # a Friday


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 10 * * ? *)", _at(2025, 3, 15, 10, 0)),
        ("cron(15 12 * * ? *)", _at(2025, 3, 14, 12, 15)),
        ("cron(0/15 * * * ? *)", _at(2025, 3, 14, 10, 15)),
        ("cron(* * * * ? *)", _at(2025, 3, 14, 10, 8)),
        ("cron(0 18 ? * MON-FRI *)", _at(2025, 3, 14, 18, 0)),
        ("cron(0 9 ? * MON-FRI *)", _at(2025, 3, 17, 9, 0)),  # the weekend skipped
        ("cron(0 2 ? * SAT#3 *)", _at(2025, 3, 15, 2, 0)),  # 1, 8, 15: the third
        ("cron(0 2 ? * 6L *)", _at(2025, 3, 28, 2, 0)),  # the last Friday of March
        ("cron(0 0 L * ? *)", _at(2025, 3, 31, 0, 0)),
        ("cron(0 0 LW * ? *)", _at(2025, 3, 31, 0, 0)),  # a Monday
        ("cron(0 0 15W * ? *)", _at(2025, 4, 15, 0, 0)),  # Mar 15 is past; Apr 15 a Tue
        ("cron(0 0 1W * ? *)", _at(2025, 4, 1, 0, 0)),  # Apr 1 2025 is a Tuesday
        ("cron(0 0 29 2 ? *)", _at(2028, 2, 29, 0, 0)),  # the next leap day
        ("cron(0 0 1 1 ? 2030)", _at(2030, 1, 1, 0, 0)),
        ("cron(0/5 5 ? JAN 1-5 2022)", None),  # in the past only: never
        ("cron(0 22-2 * * ? *)", _at(2025, 3, 14, 22, 0)),  # a range that wraps
    ],
)
def test_next_time_in_utc(expression: str, expected: datetime | None) -> None:
    assert parse(expression).next_after(T, T) == expected


def test_cron_0_0_1W_finds_march_3() -> None:
    # March 2025: the 1st is a Saturday; the nearest weekday within the month is Monday 3rd
    assert parse("cron(0 0 1W * ? *)").next_after(_at(2025, 2, 28, 12, 0)) == _at(2025, 3, 3, 0, 0)


def test_rate_counts_periods_from_its_anchor() -> None:
    anchor = _at(2025, 3, 14, 10, 0)
    rate = parse("rate(5 minutes)")
    assert rate.next_after(anchor, anchor) == _at(2025, 3, 14, 10, 5)
    assert rate.next_after(_at(2025, 3, 14, 10, 5), anchor) == _at(2025, 3, 14, 10, 10)
    assert rate.next_after(_at(2025, 3, 14, 11, 2), anchor) == _at(2025, 3, 14, 11, 5)
    assert parse("rate(1 day)").next_after(anchor, anchor) == _at(2025, 3, 15, 10, 0)


# --- the verbs ---------------------------------------------------------------------------


ECHO = (
    "import json\ndef handler(event, context):\n"
    "    print(json.dumps(event))\n    return {'v': VERSION}\n"
)


@pytest.fixture
def prod(fn: Fn) -> Fn:
    """hello with versions 1 and 2 and alias prod -> 1."""
    fn.publish(**{"app.py": ECHO.replace("VERSION", "1")})
    fn.publish(**{"app.py": ECHO.replace("VERSION", "2")})
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


def _events(fn: Fn, trigger: str) -> list[dict]:
    entries = fn.ok("logs")["Events"]
    return [e for e in entries if e.get("Trigger") == trigger]


def test_create_list_fire_delete(prod: Fn) -> None:
    out = prod.ok("schedule", "create", "nightly", "--expression", "cron(0 3 * * ? *)",
                  "--target", f"{ARN}:prod")  # fmt: skip
    assert out == {"RuleArn": "arn:aws:events:us-east-1:000000000000:rule/nightly"}
    rules = prod.ok("schedule", "list")["Rules"]
    assert [r["Name"] for r in rules] == ["nightly"]
    assert rules[0]["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rules[0]["Target"] == f"{ARN}:prod"
    assert rules[0]["NextInvocation"].endswith("T03:00:00Z")

    fired = prod.ok("schedule", "fire", "nightly")
    assert fired["Trigger"] == "schedule:nightly"
    assert fired["ExecutedVersion"] == "1"
    (entry,) = _events(prod, "schedule:nightly")
    event = json.loads(entry["Log"].splitlines()[1])
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time",
                          "region", "resources", "detail"}  # fmt: skip
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "000000000000"
    assert event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/nightly"]
    assert event["detail"] == {}
    assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")

    assert prod("schedule", "delete", "nightly").exit_code == 0
    assert prod.ok("schedule", "list") == {"Rules": []}
    assert prod("schedule", "delete", "nightly").exit_code == 0  # as DeleteRule: no error


def test_input_replaces_the_event(prod: Fn) -> None:
    prod.ok("schedule", "create", "tick", "--expression", "rate(5 minutes)",
            "--target", f"{ARN}:prod", "--input", '{"job": "tick"}')  # fmt: skip
    prod.ok("schedule", "fire", "tick")
    (entry,) = _events(prod, "schedule:tick")
    assert json.loads(entry["Log"].splitlines()[1]) == {"job": "tick"}


def test_promotion_changes_what_runs_without_touching_the_schedule(prod: Fn) -> None:
    prod.ok("schedule", "create", "tick", "--expression", "rate(1 hour)", "--target", f"{ARN}:prod")
    before = prod.ok("schedule", "list")
    assert prod.ok("schedule", "fire", "tick")["ExecutedVersion"] == "1"
    prod.ok("alias", "update", "prod", "--version", "2")
    assert prod.ok("schedule", "fire", "tick")["ExecutedVersion"] == "2"
    prod.ok("rollback", "prod")
    assert prod.ok("schedule", "fire", "tick")["ExecutedVersion"] == "1"
    assert prod.ok("schedule", "list") == before


def test_a_version_or_unqualified_target(prod: Fn) -> None:
    prod.ok("schedule", "create", "v2", "--expression", "rate(1 hour)", "--target", f"{ARN}:2")
    assert prod.ok("schedule", "fire", "v2")["ExecutedVersion"] == "2"
    prod.ok("schedule", "create", "latest", "--expression", "rate(1 hour)", "--target", ARN)
    out = prod.ok("schedule", "fire", "latest")
    assert out["ExecutedVersion"] == "$LATEST"
    assert out["Qualifier"] == "$LATEST"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expression", "rate(1 minutes)", "--target", f"{ARN}:prod"],
         "An error occurred (ValidationException) when calling the PutRule operation: "
         "Parameter ScheduleExpression is not valid."),
        (["--expression", "cron(0 1 * * * *)", "--target", f"{ARN}:prod"],
         "Parameter ScheduleExpression is not valid."),
        (["--expression", "rate(1 hour)", "--target", "hello:prod"],
         "Parameter hello:prod is not valid. Reason: Provided Arn is not in correct format."),
        (["--expression", "rate(1 hour)", "--target", f"{ARN}:nope"],
         f"(ResourceNotFoundException) when calling the PutRule operation: Function not found: "
         f"{ARN}:nope"),
        (["--expression", "rate(1 hour)",
          "--target", "arn:aws:lambda:us-east-1:000000000000:function:other:prod"],
         "Function not found: arn:aws:lambda:us-east-1:000000000000:function:other"),
        (["--expression", "rate(1 hour)", "--target", f"{ARN}:prod", "--input", "{nope"],
         "Valid JSON must be provided in Input."),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(prod: Fn, unchanged, args, message) -> None:
    with unchanged(prod.root):
        r = prod("schedule", "create", "tick", *args)
    assert r.exit_code == 254, r
    assert message in r.stderr
    assert r.stderr.count("\n") == 1


def test_a_bad_rule_name(prod: Fn) -> None:
    r = prod("schedule", "create", "no spaces", "--expression", "rate(1 hour)",
             "--target", f"{ARN}:prod")  # fmt: skip
    assert r.exit_code == 254
    assert "Value 'no spaces' at 'name' failed to satisfy constraint" in r.stderr


def test_fire_a_missing_schedule(prod: Fn) -> None:
    r = prod("schedule", "fire", "nope")
    assert r.exit_code == 254
    assert "(ResourceNotFoundException)" in r.stderr
    assert "Rule nope does not exist on EventBus default." in r.stderr


def test_a_schedule_whose_alias_was_deleted(prod: Fn) -> None:
    prod.ok("schedule", "create", "tick", "--expression", "rate(1 hour)", "--target", f"{ARN}:prod")
    prod.ok("alias", "delete", "prod")
    r = prod("schedule", "fire", "tick")
    assert r.exit_code == 254
    assert f"Function not found: {ARN}:prod: the target of schedule tick no longer exists" in (
        r.stderr
    )
    assert "Traceback" not in r.stderr
    assert prod.ok("schedule", "list")["Rules"][0]["Name"] == "tick"  # still listed
    # the engine's path: the due time counts as fired, nothing crashes
    repo = Repository.discover(prod.root)
    (due,) = schedules.pending(repo, repo.clock() + 3_700 * 10**9)

    def invoke(qualifier, payload, trigger):  # what the delivery engine would pass
        from lambdaver.service.delivery import local_invoker

        return local_invoker(repo)(qualifier, payload, trigger)

    with pytest.raises(Exception, match="no longer exists"):
        schedules.deliver(repo, due, invoke)
    assert schedules.pending(repo, repo.clock() + 3_700 * 10**9) == []


def test_pending_is_due_once_however_many_times_were_missed(prod: Fn) -> None:
    prod.ok("schedule", "create", "tick", "--expression", "rate(1 minute)",
            "--target", f"{ARN}:prod")  # fmt: skip
    repo = Repository.discover(prod.root)
    now = repo.clock()
    assert schedules.pending(repo, now) == []
    later = now + 10 * 60 * 10**9 + 10**9  # ten minutes and a second later: ten were missed
    (due,) = schedules.pending(repo, later)
    assert due.kind == "schedule"
    assert due.trigger == "schedule:tick"
    assert due.qualifier == "prod"
    calls = []
    schedules.deliver(repo, due, lambda q, p, t: calls.append((q, json.loads(p), t)))
    ((qualifier, event, trigger),) = calls
    assert (qualifier, trigger) == ("prod", "schedule:tick")
    assert event["detail-type"] == "Scheduled Event"
    assert schedules.pending(repo, later) == []  # delivered: nothing due until the next minute
    assert len(schedules.pending(repo, later + 60 * 10**9)) == 1
    (row,) = schedules.describe(repo)
    assert row["Type"] == "schedule"
    assert row["Qualifier"] == "prod"
    assert row["Source"] == "arn:aws:events:us-east-1:000000000000:rule/tick"
    assert row["Id"] == "tick"
    assert row["State"].startswith("Enabled, rate(1 minute), next ")
