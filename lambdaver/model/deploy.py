"""Deployment strategies and alarms: pure values and rules, no I/O.

A *strategy* is CodeDeploy's deployment configuration for Lambda (lambda-semantics-2 §5):
one of the nine predefined names, with or without the ``CodeDeployDefault.Lambda``
prefix, or a custom ``CanaryPPercentMMinutes`` / ``LinearPPercentEveryMMinutes``.  It
becomes a list of :class:`Step`: the weight of the new version after the step (1.0: the
final switch, the alias points at the new version with no weights) and how long to wait
before the next step.

* ``Canary P% M min``: P % at once, the rest M minutes later.
* ``Linear P% every M min``: P %, 2P %, ... at once and then every M minutes (the first
  increment at the start, as CodeDeploy does), then the switch once the next increment
  would reach 100 %: ``Linear10PercentEvery1Minute`` shifts 10 % ... 90 % and switches at
  the ninth minute.
* ``AllAtOnce``: the switch at once.

An *alarm* is ``METRIC>THRESHOLD`` on the new version's invocations since the deployment
began: ``errors>N``, ``error-rate>P%``, ``timeouts>N``, ``p95>Dms``, ``p99>Dms``,
``max>Dms``.  It trips when the figure is strictly greater than the threshold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from lambdaver.errors import InvalidParameterValueException
from lambdaver.value import Value

PREFIX = "CodeDeployDefault.Lambda"
DEFAULT_STRATEGY = "AllAtOnce"

#: The nine predefined configurations, by their short names.
PREDEFINED = (
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
    "AllAtOnce",
)

#: The longest interval a custom strategy may have (CodeDeploy's limit: two days).
MAX_INTERVAL_MINUTES = 2880

_CANARY = re.compile(r"Canary(\d+)Percent(\d+)Minutes?")
_LINEAR = re.compile(r"Linear(\d+)PercentEvery(\d+)Minutes?")


class Step(Value):
    """One alias update of a deployment: the new version's weight after it (1.0: the
    alias points at the new version, no weights) and the seconds to wait before the next."""

    weight: float
    wait_seconds: float


class Strategy(Value):
    """A parsed strategy: its short name and its steps."""

    name: str
    steps: tuple[Step, ...]

    @property
    def total_seconds(self) -> float:
        return sum(s.wait_seconds for s in self.steps)


def _unknown(given: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"Unknown deployment strategy '{given}': use one of {', '.join(PREDEFINED)} "
        "(with or without the CodeDeployDefault.Lambda prefix), or a custom "
        "CanaryPPercentMMinutes or LinearPPercentEveryMMinutes (P from 1 to 99, "
        f"M from 1 to {MAX_INTERVAL_MINUTES})"
    )


def parse_strategy(given: str | None) -> Strategy:
    """The strategy ``given`` names (None: AllAtOnce); InvalidParameterValueException
    naming what is accepted when it names none."""
    text = DEFAULT_STRATEGY if given is None else given.strip()
    name = text.removeprefix(PREFIX)
    if name == "AllAtOnce":
        return Strategy(name, (Step(1.0, 0.0),))
    for pattern, linear in ((_CANARY, False), (_LINEAR, True)):
        m = pattern.fullmatch(name)
        if m is None:
            continue
        percent, minutes = int(m.group(1)), int(m.group(2))
        if not (1 <= percent <= 99 and 1 <= minutes <= MAX_INTERVAL_MINUTES):
            raise _unknown(text)
        wait = minutes * 60.0
        if not linear:
            return Strategy(name, (Step(percent / 100, wait), Step(1.0, 0.0)))
        count = math.ceil(100 / percent) - 1  # increments strictly below 100 %
        steps = [Step(round(k * percent / 100, 2), wait) for k in range(1, count + 1)]
        return Strategy(name, (*steps, Step(1.0, 0.0)))
    raise _unknown(text)


# --- alarms ---------------------------------------------------------------------------

#: metric -> (unit it takes, what it measures)
METRICS = {
    "errors": ("", "invocations that returned an error"),
    "error-rate": ("%", "percentage of invocations that returned an error"),
    "timeouts": ("", "invocations that timed out"),
    "p95": ("ms", "95th percentile duration"),
    "p99": ("ms", "99th percentile duration"),
    "max": ("ms", "longest duration"),
}

_ALARM = re.compile(r"\s*([a-z0-9-]+)\s*>\s*([0-9]+(?:\.[0-9]+)?)\s*(%|ms)?\s*")

ALARM_FORMS = "errors>N, error-rate>P%, timeouts>N, p95>Dms, p99>Dms or max>Dms"


class Alarm(Value):
    """``metric > threshold``, as the user wrote it (``text``)."""

    text: str
    metric: str
    threshold: float

    def value(self, stats: VersionStats) -> float | None:
        """The figure this alarm watches (None: nothing to measure yet)."""
        if self.metric == "errors":
            return float(stats.errors)
        if self.metric == "timeouts":
            return float(stats.timeouts)
        if not stats.invocations:
            return None
        if self.metric == "error-rate":
            return 100.0 * stats.errors / stats.invocations
        q = {"p95": 0.95, "p99": 0.99, "max": 1.0}[self.metric]
        return stats.percentile(q)

    def tripped(self, stats: VersionStats) -> str | None:
        """Why this alarm is in ALARM (None: it is not)."""
        value = self.value(stats)
        if value is None or not value > self.threshold:
            return None
        unit = METRICS[self.metric][0]
        shown = f"{value:.1f}" if unit else f"{value:.0f}"
        return (
            f"alarm '{self.text}' tripped: {self.metric} was {shown}{unit} over "
            f"{stats.invocations} invocation{'s' * (stats.invocations != 1)} of version "
            f"{stats.version}"
        )


def parse_alarm(given: str) -> Alarm:
    """One ``--alarm`` expression; InvalidParameterValueException saying what is wrong."""
    m = _ALARM.fullmatch(given)
    if m is None:
        raise InvalidParameterValueException(
            f"Invalid alarm '{given}': expected {ALARM_FORMS} (for example 'error-rate>1%')"
        )
    metric, number, unit = m.group(1), m.group(2), m.group(3) or ""
    if metric not in METRICS:
        raise InvalidParameterValueException(
            f"Invalid alarm '{given}': unknown metric '{metric}'; expected {ALARM_FORMS}"
        )
    want = METRICS[metric][0]
    if unit != want:
        spelled = f"{metric}>{number}{want}"
        raise InvalidParameterValueException(
            f"Invalid alarm '{given}': {metric} takes "
            + (f"a threshold in '{want}' (write '{spelled}')" if want else "a plain count")
            + ("" if want else f" (write '{metric}>{number.split('.')[0]}')")
        )
    threshold = float(number)
    if not want and "." in number:
        raise InvalidParameterValueException(
            f"Invalid alarm '{given}': {metric} takes a whole number"
        )
    if metric == "error-rate" and threshold >= 100:
        raise InvalidParameterValueException(
            f"Invalid alarm '{given}': an error rate above {number}% can never happen"
        )
    return Alarm(given.strip(), metric, threshold)


def parse_alarms(given: Sequence[str]) -> tuple[Alarm, ...]:
    return tuple(parse_alarm(a) for a in given)


# --- statistics of one version's invocations -------------------------------------------


class VersionStats:
    """Running counts and the sorted durations of one version's invocations (updated in
    place as the journal is read, so each entry costs one sorted insert)."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.invocations = 0
        self.errors = 0
        self.timeouts = 0
        self.durations: list[float] = []

    def add(self, duration_ms: float, error_type: str | None) -> None:
        import bisect

        self.invocations += 1
        if error_type:
            self.errors += 1
            if error_type == "Sandbox.Timedout":
                self.timeouts += 1
        bisect.insort(self.durations, duration_ms)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (``metrics``'s), 0 with no invocations."""
        if not self.durations:
            return 0.0
        rank = max(1, math.ceil(q * len(self.durations)))
        return self.durations[rank - 1]

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "Version": self.version,
            "Invocations": self.invocations,
            "Errors": self.errors,
            "DurationP95Ms": self.percentile(0.95),
        }
