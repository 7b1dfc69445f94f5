"""EventBridge schedule expressions: ``rate(N unit)`` and six-field ``cron(...)``, parsed
and validated as EventBridge does (lambda-semantics-2.md §4.4), and the next time each
fires, in UTC.  Pure values: no I/O, no clock (times are passed in).

``rate(value unit)``: ``value`` a positive integer without sign or leading spaces,
``unit`` one of ``minute``/``hour``/``day`` when the value is 1 and ``minutes``/
``hours``/``days`` otherwise, lower case, no other spaces.  A rate fires every period
counted from its anchor (the rule's creation).

``cron(min hour day-of-month month day-of-week year)``:

===============  ==========================  ======================
field            values                      wildcards
===============  ==========================  ======================
Minutes          0-59                        ``, - * /``
Hours            0-23                        ``, - * /``
Day-of-month     1-31                        ``, - * ? / L W``
Month            1-12 or JAN-DEC             ``, - * /``
Day-of-week      1-7 or SUN-SAT (1 = SUN)    ``, - * ? L #``
Year             1970-2199                   ``, - * /``
===============  ==========================  ======================

Exactly one of day-of-month and day-of-week is ``?``.  Every malformed expression is
refused with EventBridge's ``ValidationException`` ``Parameter ScheduleExpression is not
valid.``
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta

from lambdaver.errors import ServiceError
from lambdaver.value import Value

INVALID = "Parameter ScheduleExpression is not valid."

MIN_YEAR = 1970
MAX_YEAR = 2199

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

_RATE = re.compile(r"rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)")
_RATE_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class EventsValidationError(ServiceError):
    """EventBridge's ValidationException: its message alone, no "N validation errors"."""

    code = "ValidationException"


class ScheduleExpressionError(EventsValidationError):
    """A ``ScheduleExpression`` EventBridge refuses (PutRule's ValidationException)."""

    def __init__(self, message: str = INVALID) -> None:
        super().__init__(message)


class Rate(Value):
    """``rate(value unit)``: every ``seconds`` seconds."""

    value: int
    unit: str
    expression: str

    @property
    def seconds(self) -> int:
        return self.value * _RATE_SECONDS[self.unit.rstrip("s")]

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        """The first time strictly after ``after``: ``anchor`` plus a whole number of
        periods (``anchor`` itself is not a firing: the first is one period later)."""
        period = self.seconds
        elapsed = (after - anchor).total_seconds()
        n = 1 if elapsed < period else int(elapsed // period) + 1
        return anchor + timedelta(seconds=n * period)


class DaySpec(Value):
    """A day-of-month or day-of-week field: ``any`` (``*``/``?``), a set of values, or one
    of the special forms (``L``, ``LW``, ``15W``, ``L`` / ``6L`` for the week, ``SAT#3``)."""

    kind: str  # "any", "set", "last", "last-weekday", "nearest-weekday", "last-dow", "nth-dow"
    values: frozenset[int] = frozenset()
    n: int = 0  # the day for nearest-weekday, the day of week for last-dow/nth-dow
    nth: int = 0  # nth-dow: which occurrence (1-5)


class Cron(Value):
    """A parsed ``cron(...)`` expression."""

    minutes: frozenset[int]
    hours: frozenset[int]
    dom: DaySpec
    months: frozenset[int]
    dow: DaySpec
    years: frozenset[int]
    expression: str

    def next_after(self, after: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first minute strictly after ``after`` (UTC) that the expression names, or
        None when there is none before the end of 2199.  ``anchor`` is unused (a rate's)."""
        del anchor
        start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        hours = sorted(self.hours)
        minutes = sorted(self.minutes)
        day = start.date()
        last_year = min(MAX_YEAR, max(self.years))
        while day.year <= last_year:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
                continue
            if self._day_matches(day):
                first_day = day == start.date()
                for h in hours:
                    if first_day and h < start.hour:
                        continue
                    for m in minutes:
                        if first_day and h == start.hour and m < start.minute:
                            continue
                        return datetime(day.year, day.month, day.day, h, m, tzinfo=UTC)
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: date) -> bool:
        if self.dom.kind == "any":
            return _dow_matches(self.dow, day)
        return _dom_matches(self.dom, day)


def _weekday(day: date) -> int:
    """EventBridge's day of week: 1 Sunday ... 7 Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _dom_matches(spec: DaySpec, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if spec.kind == "set":
        return day.day in spec.values
    if spec.kind == "last":
        return day.day == last
    if spec.kind == "last-weekday":
        target = date(day.year, day.month, last)
        while target.weekday() >= 5:
            target -= timedelta(days=1)
        return day == target
    if spec.kind == "nearest-weekday":
        want = min(spec.n, last)
        target = date(day.year, day.month, want)
        if target.weekday() == 5:  # Saturday: Friday, unless that leaves the month
            target = target - timedelta(days=1) if want > 1 else target + timedelta(days=2)
        elif target.weekday() == 6:  # Sunday: Monday, unless that leaves the month
            target = target + timedelta(days=1) if want < last else target - timedelta(days=2)
        return day == target
    return True


def _dow_matches(spec: DaySpec, day: date) -> bool:
    wd = _weekday(day)
    if spec.kind == "set":
        return wd in spec.values
    if spec.kind == "last-dow":
        last = calendar.monthrange(day.year, day.month)[1]
        return wd == spec.n and day.day + 7 > last
    if spec.kind == "nth-dow":
        return wd == spec.n and (day.day - 1) // 7 + 1 == spec.nth
    return True


# --- parsing ------------------------------------------------------------------------------


def parse(expression: str) -> Rate | Cron:
    """The schedule ``expression`` names, or :class:`ScheduleExpressionError`."""
    if not isinstance(expression, str) or len(expression) > 256:
        raise ScheduleExpressionError()
    if expression.startswith("rate("):
        m = _RATE.fullmatch(expression)
        if m is None:
            raise ScheduleExpressionError()
        value, unit = int(m.group(1)), m.group(2)
        if (value == 1) != (not unit.endswith("s")):  # "1 minute", "10 minutes"
            raise ScheduleExpressionError()
        return Rate(value, unit, expression)
    if expression.startswith("cron(") and expression.endswith(")"):
        return _parse_cron(expression)
    raise ScheduleExpressionError()


def _parse_cron(expression: str) -> Cron:
    fields = expression[5:-1].split(" ")
    if len(fields) != 6 or any(not f for f in fields):
        raise ScheduleExpressionError()
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):  # exactly one of the two day fields is "?"
        raise ScheduleExpressionError()
    return Cron(
        minutes=_values(minute, 0, 59),
        hours=_values(hour, 0, 23),
        dom=_dom(dom),
        months=_values(month, 1, 12, _MONTHS),
        dow=_dow(dow),
        years=_values(year, MIN_YEAR, MAX_YEAR),
        expression=expression,
    )


def _number(text: str, low: int, high: int, names: tuple[str, ...] = ()) -> int:
    """One value of a field: a number in range, or a name (JAN, SUN, ...)."""
    upper = text.upper()
    if names and upper in names:
        return names.index(upper) + low
    if not text.isdigit() or not text.isascii() or len(text) > 4:
        raise ScheduleExpressionError()
    n = int(text)
    if not low <= n <= high:
        raise ScheduleExpressionError()
    return n


def _values(
    field: str, low: int, high: int, names: tuple[str, ...] = (), *, step_allowed: bool = True
) -> frozenset[int]:
    """A field of ``*``, values, ranges (``a-b``, wrapping when a > b), increments
    (``*/n``, ``a/n``, ``a-b/n``) and lists of them."""
    out: set[int] = set()
    for item in field.split(","):
        part = item
        if not part:
            raise ScheduleExpressionError()
        step, stepped = 1, "/" in part
        if stepped:
            if not step_allowed:
                raise ScheduleExpressionError()
            part, _, step_text = part.partition("/")
            if not step_text.isdigit() or not step_text.isascii() or int(step_text) < 1:
                raise ScheduleExpressionError()
            step = int(step_text)
            if step > high - low:  # Quartz's "Increment > 59" (and so on)
                raise ScheduleExpressionError()
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, _, b = part.partition("-")
            start, end = _number(a, low, high, names), _number(b, low, high, names)
        else:
            start = _number(part, low, high, names)
            end = high if stepped else start
        span = (end - start) % (high - low + 1)  # a range may wrap (FRI-MON, 22-2)
        out.update(low + (start - low + i) % (high - low + 1) for i in range(0, span + 1, step))
    return frozenset(out)


def _dom(field: str) -> DaySpec:
    if field in ("*", "?"):
        return DaySpec("any")
    if field == "L":
        return DaySpec("last")
    if field == "LW":
        return DaySpec("last-weekday")
    if field.endswith("W"):
        return DaySpec("nearest-weekday", n=_number(field[:-1], 1, 31))
    return DaySpec("set", _values(field, 1, 31))


def _dow(field: str) -> DaySpec:
    if field in ("*", "?"):
        return DaySpec("any")
    if field == "L":
        return DaySpec("set", frozenset({7}))  # alone, L is the last day of the week
    if "#" in field:
        day, _, nth = field.partition("#")
        return DaySpec("nth-dow", n=_number(day, 1, 7, _DAYS), nth=_number(nth, 1, 5))
    if field.endswith("L"):
        return DaySpec("last-dow", n=_number(field[:-1], 1, 7, _DAYS))
    return DaySpec("set", _values(field, 1, 7, _DAYS, step_allowed=False))
