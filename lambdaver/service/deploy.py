"""``lambdaver deploy``: move an alias to a new version the way CodeDeploy does.

A deployment is a ref in the ``deployments`` namespace of the metadata store (name: its
DeploymentId, ``d-`` and nine capitals or digits as CodeDeploy's; value: the record as
JSON; while it is ``InProgress``, ``k1`` is the alias and ``k2`` the target version, so
"one deployment per alias" and "the target version cannot be deleted" are index look-ups,
and a finished deployment holds neither).

Every change runs under the repository lock and is a compare-and-swap of the record: a
step moves the alias (an ordinary alias update, Change ``deploy`` in ``alias history``)
and rewrites the record (steps passed, the RevisionId the deployment wrote) in ONE
transaction, so after a kill -9 the record always names the alias state the deployment
last wrote.  That RevisionId is how an alias change made by anyone else is recognised:
the alias's RevisionId differs from the record's ``LastRevisionId``; the deployment then
stops (``Stopped``) and leaves the alias as the user set it.

History: each step's entry has as parent the entry that was current before the
deployment (a deployment is one change: ``lambdaver rollback`` after any step, or after
success, restores the state before it).  Rolling back at the end (alarm, failed
post-traffic hook, stop, Ctrl-C) is recorded as Change ``rollback`` with that entry's
parent, exactly what ``lambdaver rollback`` would have written.

Alarms read the invocation journal from the byte offset it had when the deployment
began (runtime/journal.py's ``JournalTail``), following rotations, so each evaluation costs what was
appended since the last, whatever the journal's length.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from lambdaver.errors import (
    InvalidParameterValueException,
    LambdaverError,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdaver.model.deploy import Alarm, Strategy, VersionStats, parse_alarms, parse_strategy
from lambdaver.model.names import LATEST, validate_alias_name, validate_version
from lambdaver.model.records import AliasState
from lambdaver.runtime import journal
from lambdaver.service.functions import DEPLOYMENTS
from lambdaver.service.repository import ALIASES, VERSIONS, Repository
from lambdaver.storage import canonical_json
from lambdaver.value import Value

IN_PROGRESS = "InProgress"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
STOPPED = "Stopped"

#: CodeDeploy's error codes (ErrorInformation.Code) used here.
ALARM_ACTIVE = "ALARM_ACTIVE"
HOOK_EXECUTION_FAILURE = "HOOK_EXECUTION_FAILURE"
MANUAL_STOP = "MANUAL_STOP"

#: How long a hook may run (seconds, real time: --speed does not shorten it).  CodeDeploy
#: waits an hour for a hook's answer; a local rehearsal should fail far sooner.
DEFAULT_HOOK_TIMEOUT = 300.0
#: How often (real seconds) progress is reported while waiting, and the longest wait
#: between two evaluations of the alarms.
POLL_SECONDS = 0.1
#: The shortest wait between two evaluations (a fast --speed evaluates once per second
#: of deployment time down to this; each evaluation reads only the journal's new bytes).
MIN_POLL_SECONDS = 0.005
#: The most invocations of --traffic running at once.
TRAFFIC_CONCURRENCY = 4


# --- the plan: everything checked before anything changes ------------------------------


class Hook(Value):
    """A lifecycle hook: a qualifier of a function (``directory``: the function's; None:
    this one) or a shell command."""

    kind: str  # "function" or "command"
    text: str  # as given
    qualifier: str | None = None
    directory: str | None = None


class Plan(Value):
    alias: str
    target: str
    strategy: Strategy
    alarms: tuple[Alarm, ...]
    pre_traffic: Hook | None
    post_traffic: Hook | None
    hook_timeout: float
    speed: float
    traffic: tuple[bytes, ...]
    rate: float


def _hook(repo: Repository, which: str, function: str | None, command: str | None) -> Hook | None:
    if function is not None and command is not None:
        raise InvalidParameterValueException(
            f"--{which} and --{which}-command cannot be used together: give one {which} hook"
        )
    if command is not None:
        if not command.strip():
            raise InvalidParameterValueException(f"--{which}-command is empty")
        return Hook("command", command)
    if function is None:
        return None
    name, _, qualifier = function.rpartition(":")
    directory = None
    if not qualifier:
        raise InvalidParameterValueException(
            f"Invalid --{which} '{function}': give a qualifier (prod, 3) or FUNCTION:QUALIFIER"
        )
    from lambdaver.service.functions import resolve

    target = repo
    if name and name != repo.name:
        from lambdaver.service.project import find_function

        project = os.path.dirname(repo.root)
        directory = find_function(project, name, lambda: repo.settings)
        target = Repository.discover(directory, repo.settings)
    resolve(target, qualifier)  # ResourceNotFoundException when it does not exist
    return Hook("function", function, qualifier, directory)


def _read_traffic(path: str) -> tuple[bytes, ...]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InvalidParameterValueException(
            f"Cannot read --traffic file {path}: {exc.strerror}"
        ) from exc
    events = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as exc:
            raise InvalidParameterValueException(
                f"--traffic file {path}, line {number}: not JSON ({exc})"
            ) from exc
        events.append(line.strip())
    if not events:
        raise InvalidParameterValueException(f"--traffic file {path} holds no event")
    return tuple(events)


def prepare(
    repo: Repository,
    alias: str,
    version: str,
    *,
    strategy: str | None = None,
    alarms: Sequence[str] = (),
    pre_traffic: str | None = None,
    pre_traffic_command: str | None = None,
    post_traffic: str | None = None,
    post_traffic_command: str | None = None,
    speed: float = 1.0,
    traffic: str | None = None,
    rate: float = 10.0,
    hook_timeout: float = DEFAULT_HOOK_TIMEOUT,
) -> Plan:
    """Check every input that does not depend on the alias's state (that is checked again
    under the lock by :func:`start`): nothing is written here."""
    validate_alias_name(alias)
    validate_version(version, "--version")
    if version == LATEST:
        raise InvalidParameterValueException(
            "Cannot deploy $LATEST: a deployment moves an alias to a published version "
            "(run 'lambdaver publish' first)"
        )
    plan_strategy = parse_strategy(strategy)
    plan_alarms = parse_alarms(alarms)
    if not (speed > 0 and speed <= 1e6):
        raise InvalidParameterValueException(f"--speed must be above 0 (and at most 1e6): {speed}")
    if not (rate > 0 and rate <= 1000):
        raise InvalidParameterValueException(f"--rate must be above 0 and at most 1000: {rate}")
    if not (hook_timeout > 0):
        raise InvalidParameterValueException(f"--hook-timeout must be above 0: {hook_timeout}")
    if repo.meta.get(VERSIONS, str(int(version))) is None:
        raise ResourceNotFoundException(f"Function not found: {repo.arns.function(version)}")
    pre = _hook(repo, "pre-traffic", pre_traffic, pre_traffic_command)
    post = _hook(repo, "post-traffic", post_traffic, post_traffic_command)
    events = _read_traffic(traffic) if traffic is not None else ()
    return Plan(
        alias, str(int(version)), plan_strategy, plan_alarms, pre, post,
        float(hook_timeout), float(speed), events, float(rate),
    )  # fmt: skip


# --- the record --------------------------------------------------------------------------


class Deployment(Value):
    """A deployment's record, as stored (``record``), and whether its process is alive."""

    record: dict[str, Any]
    alive: bool | None = None

    def to_aws(self) -> dict[str, Any]:
        r = self.record
        out: dict[str, Any] = {
            "DeploymentId": r["DeploymentId"],
            "Status": r["Status"],
            "FunctionName": r["FunctionName"],
            "AliasName": r["AliasName"],
            "CurrentVersion": r["CurrentVersion"],
            "TargetVersion": r["TargetVersion"],
            "Strategy": r["Strategy"],
            "Speed": r["Speed"],
            "Alarms": r["Alarms"],
        }
        for key in ("PreTrafficHook", "PostTrafficHook"):
            if r.get(key):
                out[key] = r[key]
        out["Steps"] = r["Steps"]
        out["StepsPlanned"] = len(r["Plan"])
        if r.get("ErrorInformation"):
            out["ErrorInformation"] = r["ErrorInformation"]
        if r["Status"] != IN_PROGRESS:
            out["RolledBack"] = r.get("RolledBack", False)
        out["CreateTime"] = r["CreateTime"]
        if r.get("CompleteTime"):
            out["CompleteTime"] = r["CompleteTime"]
        if r["Status"] == IN_PROGRESS:
            out["Process"] = {"Pid": r["Pid"], "Running": bool(self.alive)}
            if not self.alive:
                out["StatusReason"] = (
                    f"The process that ran this deployment (pid {r['Pid']}) is gone; the "
                    f"alias is as its last step left it. Roll it back with 'lambdaver "
                    f"deploy stop {r['DeploymentId']}'"
                )
        return out


class DeploymentList(Value):
    deployments: list[Deployment]

    def to_aws(self) -> dict[str, Any]:
        return {"Deployments": [_summary(d) for d in self.deployments]}


def _summary(d: Deployment) -> dict[str, Any]:
    full = d.to_aws()
    keep = ("DeploymentId", "Status", "AliasName", "CurrentVersion", "TargetVersion",
            "Strategy", "CreateTime", "CompleteTime", "Process")  # fmt: skip
    out = {k: full[k] for k in keep if k in full}
    if "ErrorInformation" in full:
        out["ErrorCode"] = full["ErrorInformation"]["Code"]
    return out


def _new_deployment_id(repo: Repository) -> str:
    """``d-`` and nine characters of [A-Z0-9], as CodeDeploy's DeploymentIds."""
    import base64

    from lambdaver.storage.hashing import sha256_small

    digest = sha256_small(repo.new_id().encode()).digest()
    return "d-" + base64.b32encode(digest).decode()[:9]


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (Linux: /proc's start time in clock ticks), so that a
    reused pid is not taken for the deployment's process; None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def _alive(record: dict[str, Any]) -> bool:
    pid = int(record.get("Pid") or 0)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = record.get("ProcessStart")
    if started is not None and os.path.isdir("/proc"):
        now = _process_start(pid)
        return bool(now == started)
    return True


def _load(repo: Repository, deployment_id: str) -> tuple[str, dict[str, Any]]:
    raw = repo.meta.get(DEPLOYMENTS, deployment_id)
    if raw is None:
        raise ResourceNotFoundException(f"Deployment {deployment_id} does not exist")
    return raw, json.loads(raw)


def _store(repo: Repository, old: str | None, record: dict[str, Any]) -> None:
    """Write ``record`` (compare-and-swap from ``old``; None: new) inside the caller's
    transaction; an active deployment is indexed by its alias and its target."""
    active = record["Status"] == IN_PROGRESS
    k1 = record["AliasName"] if active else None
    k2 = record["TargetVersion"] if active else None
    value = canonical_json(record)
    if old is None:
        repo.meta.add_if_new(DEPLOYMENTS, record["DeploymentId"], value, k1, k2)
    else:
        repo.meta.set_if_equals(DEPLOYMENTS, record["DeploymentId"], old, value, k1, k2)


def active_on_alias(repo: Repository, alias: str) -> str | None:
    """The DeploymentId of the deployment in progress on ``alias``, if any."""
    rows = repo.meta.find_k1(DEPLOYMENTS, alias)
    return rows[0][0] if rows else None


# --- progress -------------------------------------------------------------------------


class Progress(Value):
    """What the deployment is doing, for a live view or a line per step."""

    deployment_id: str
    phase: str  # "pre-traffic", "shifting", "post-traffic", "done"
    step: int  # steps passed
    steps: int
    version: str  # the alias's primary version
    weights: dict[str, float]
    next_step_in: float | None  # real seconds
    stats: list[dict[str, Any]]
    line: str | None = None  # a line worth printing on its own (a step, a hook, the end)


# --- the run -------------------------------------------------------------------------


class _Ended(Exception):
    """The record is no longer InProgress: someone else ended the deployment."""


class Deployer:
    """Runs one deployment: :meth:`start` (checks under the lock, writes the record) then
    :meth:`run`.  ``progress`` is called often (every poll) with a :class:`Progress`."""

    def __init__(
        self,
        repo: Repository,
        plan: Plan,
        progress: Callable[[Progress], None] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.plan = plan
        self.progress = progress or (lambda p: None)
        self.sleep = sleep
        self.monotonic = monotonic
        self.id = ""
        self.old = ""
        self.stats: dict[str, VersionStats] = {}
        self.tail: journal.JournalTail | None = None
        self.hook_requests: set[str] = set()
        self.phase = "pre-traffic"
        self.passed = 0
        self.version = ""
        self.weights: dict[str, float] = {}
        self.tripped: str | None = None

    # --- the record under the lock ---

    def start(self) -> Deployment:
        """Refuse a deployment that cannot run (the alias is missing, weighted, already at
        the target, being deployed); otherwise write the record.  Nothing else changes."""
        repo, plan = self.repo, self.plan
        with repo.lock.held():
            raw = repo.meta.get(ALIASES, plan.alias)
            if raw is None:
                raise ResourceNotFoundException(
                    f"Alias not found: {repo.arns.function(plan.alias)}"
                )
            current = AliasState.from_json(raw)
            busy = active_on_alias(repo, plan.alias)
            if busy is not None:
                raise ResourceConflictException(
                    f"Deployment {busy} is in progress on alias {plan.alias}; wait for it to "
                    f"end or run 'lambdaver deploy stop {busy}'"
                )
            if current.weights:
                raise InvalidParameterValueException(
                    f"Alias {plan.alias} routes to two versions ({current.version} and "
                    f"{current.additional_version}); a deployment starts from one: clear the "
                    f"weights first ('lambdaver alias update {plan.alias} --routing-config "
                    "{}')"
                )
            if current.version == plan.target:
                raise InvalidParameterValueException(
                    f"Alias {plan.alias} already points at version {plan.target}: nothing to deploy"
                )
            if repo.meta.get(VERSIONS, plan.target) is None:
                raise ResourceNotFoundException(
                    f"Function not found: {repo.arns.function(plan.target)}"
                )
            if len(plan.strategy.steps) > 1:
                from lambdaver.model.routing import validate_routing

                validate_routing(current.version, {plan.target: 0.5})
            head = repo.meta.log_head(ALIASES, plan.alias)
            self.id = _new_deployment_id(repo)
            self.old = current.version
            record = {
                "DeploymentId": self.id,
                "FunctionName": repo.name,
                "AliasName": plan.alias,
                "CurrentVersion": current.version,
                "TargetVersion": plan.target,
                "Strategy": plan.strategy.name,
                "Plan": [[s.weight, s.wait_seconds] for s in plan.strategy.steps],
                "Speed": plan.speed,
                "Alarms": [a.text for a in plan.alarms],
                "PreTrafficHook": plan.pre_traffic.text if plan.pre_traffic else None,
                "PostTrafficHook": plan.post_traffic.text if plan.post_traffic else None,
                "HookTimeoutSeconds": plan.hook_timeout,
                "Status": IN_PROGRESS,
                "Steps": [],
                "CreateTime": repo.now(),
                "AliasBefore": json.loads(raw),
                "LastRevisionId": current.revision_id,
                "HistoryHead": head.id if head is not None else None,
                "RollbackParent": head.parent if head is not None else None,
                "Pid": os.getpid(),
                "ProcessStart": _process_start(os.getpid()),
            }
            with repo.meta.transaction():
                _store(repo, None, record)
            self.version, self.weights = current.version, {}
            # the journal is read from here on: only invocations since the deployment began
            self.tail = journal.JournalTail(os.path.join(repo.dot, "journal"))
            self.stats = {v: VersionStats(v) for v in (self.old, plan.target)}
        return Deployment(record, True)

    def _step(self, index: int, weight: float) -> None:
        """Apply step ``index`` (0-based): the alias and the record, in one transaction.
        Raises _Ended when someone else ended the deployment or changed the alias."""
        from lambdaver.service import aliases

        repo, plan = self.repo, self.plan
        with repo.lock.held():
            old_rec, record = _load(repo, self.id)
            if record["Status"] != IN_PROGRESS:
                raise _Ended
            raw = repo.meta.get(ALIASES, plan.alias)
            current = AliasState.from_json(raw) if raw is not None else None
            if current is None or current.revision_id != record["LastRevisionId"]:
                self._end_locked(old_rec, record, STOPPED, MANUAL_STOP, _changed(current),
                                 restore=False)  # fmt: skip
                raise _Ended
            if weight >= 1.0:
                version, weights = plan.target, {}
            else:
                version, weights = self.old, {plan.target: weight}
            state = AliasState(plan.alias, version, current.description, weights, repo.new_id())
            record = {
                **record,
                "LastRevisionId": state.revision_id,
                "Steps": [
                    *record["Steps"],
                    {"Step": index + 1, "Weight": weight, "At": repo.now()},
                ],
            }
            aliases._commit(  # the alias's ref and log, with our record
                repo, raw, state, aliases.DEPLOY, record["HistoryHead"],
                also=lambda: _store(repo, old_rec, record),
            )  # fmt: skip
            self.passed, self.version, self.weights = index + 1, version, weights

    def _end_locked(
        self,
        old_rec: str,
        record: dict[str, Any],
        status: str,
        code: str | None,
        message: str | None,
        *,
        restore: bool,
    ) -> dict[str, Any]:
        return end_locked(self.repo, old_rec, record, status, code, message, restore=restore)

    def _end(self, status: str, code: str | None, message: str | None, *, restore: bool) -> None:
        with self.repo.lock.held():
            old_rec, record = _load(self.repo, self.id)
            if record["Status"] != IN_PROGRESS:
                return
            self._end_locked(old_rec, record, status, code, message, restore=restore)

    def result(self) -> Deployment:
        _raw, record = _load(self.repo, self.id)
        return Deployment(record, record["Status"] == IN_PROGRESS)

    # --- watching ---

    def _read_journal(self) -> None:
        assert self.tail is not None  # noqa: S101
        for entry in self.tail.poll():
            version = str(entry.get("ExecutedVersion"))
            stats = self.stats.get(version)
            if stats is None or entry.get("RequestId") in self.hook_requests:
                continue
            stats.add(float(entry.get("DurationMs") or 0.0), entry.get("ErrorType"))

    def _check(self) -> None:
        """Read what was journaled, evaluate the alarms, and notice a stop or an alias
        changed by someone else (both raise _Ended, after ending the record)."""
        self._read_journal()
        target = self.stats[self.plan.target]
        for alarm in self.plan.alarms:
            why = alarm.tripped(target)
            if why is not None:
                self.tripped = why
                raise _AlarmTripped(why)
        raw = self.repo.meta.get(DEPLOYMENTS, self.id)
        record = json.loads(raw or "{}")
        if record.get("Status") != IN_PROGRESS:
            raise _Ended
        alias_raw = self.repo.meta.get(ALIASES, self.plan.alias)
        current = AliasState.from_json(alias_raw) if alias_raw is not None else None
        if current is None or current.revision_id != record.get("LastRevisionId"):
            self._end(STOPPED, MANUAL_STOP, _changed(current), restore=False)
            raise _Ended

    def _report(self, next_in: float | None, line: str | None = None) -> None:
        self.progress(
            Progress(
                self.id,
                self.phase,
                self.passed,
                len(self.plan.strategy.steps),
                self.version,
                dict(self.weights),
                next_in,
                [s.as_dict() for s in self.stats.values()],
                line,
            )
        )

    def _wait(self, seconds: float) -> None:
        deadline = self.monotonic() + seconds
        # the alarms at least once per second of deployment time (--speed 60: every 1/60
        # s of real time), progress every POLL_SECONDS
        tick = max(MIN_POLL_SECONDS, min(POLL_SECONDS, 1.0 / self.plan.speed))
        reported: float | None = None
        while True:
            self._check()
            now = self.monotonic()
            left = deadline - now
            if left <= 0 or reported is None or now - reported >= POLL_SECONDS:
                self._report(max(left, 0.0))
                reported = now
            if left <= 0:
                return
            self.sleep(min(tick, left))

    # --- hooks ---

    def _run_hook(self, which: str, hook: Hook) -> str | None:
        """Run a hook; None when it passed, else why it failed."""
        self._report(None, f"{which} hook: {hook.text} (timeout {self.plan.hook_timeout:g} s)")
        if hook.kind == "command":
            return self._run_command(hook.text)
        return self._invoke_hook(hook)

    def _run_command(self, command: str) -> str | None:
        import signal
        import subprocess

        env = {
            **os.environ,
            "LAMBDAVER_DEPLOYMENT_ID": self.id,
            "LAMBDAVER_ALIAS": self.plan.alias,
            "LAMBDAVER_TARGET_VERSION": self.plan.target,
            "LAMBDAVER_CURRENT_VERSION": self.old,
        }
        proc = subprocess.Popen(  # noqa: S602 - the user's own hook command, as given
            command,
            shell=True,
            cwd=self.repo.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=self.plan.hook_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return f"timed out after {self.plan.hook_timeout:g} s (--hook-timeout)"
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        if proc.returncode == 0:
            return None
        last = next(
            (ln for ln in reversed(out.decode("utf-8", "replace").splitlines()) if ln.strip()),
            "",
        )
        return f"exited {proc.returncode}" + (f": {last.strip()[:300]}" if last else "")

    def _invoke_hook(self, hook: Hook) -> str | None:
        from lambdaver.service.invoke import run_once

        repo = self.repo
        if hook.directory is not None:
            repo = Repository.discover(hook.directory, self.repo.settings)
        execution_id = self.repo.new_id()
        self.hook_requests.add(execution_id)
        payload = canonical_json(
            {"DeploymentId": self.id, "LifecycleEventHookExecutionId": execution_id}
        ).encode()
        try:
            _version, result = run_once(
                repo,
                qualifier=hook.qualifier,
                payload=payload,
                request_id=execution_id,
                journal={"InvocationType": "RequestResponse", "DeploymentId": self.id},
            )
        except LambdaverError as exc:
            return f"could not be invoked: {exc.message}"
        if result.function_error is not None:
            text = result.payload.decode("utf-8", "replace")
            try:
                text = str(json.loads(text).get("errorMessage", text))
            except (ValueError, AttributeError):
                pass
            return f"returned a function error ({result.error_type}): {text[:300]}"
        return None

    # --- the whole run ---

    def run(self) -> Deployment:
        """Pre-traffic hook, the steps (alarms watched between them), post-traffic hook.
        Ends with the record Succeeded, Failed (rolled back) or Stopped; an interrupt
        (Ctrl-C) stops and rolls back, then propagates."""
        plan = self.plan
        traffic: Traffic | None = None
        try:
            if plan.pre_traffic is not None:
                why = self._run_hook("pre-traffic", plan.pre_traffic)
                if why is not None:
                    self._end(FAILED, HOOK_EXECUTION_FAILURE,
                              f"pre-traffic hook {plan.pre_traffic.text} {why}",
                              restore=False)  # fmt: skip
                    return self._finish()
            self._check()
            if plan.traffic:
                traffic = Traffic(self.repo, plan.alias, plan.traffic, plan.rate)
                traffic.start()
            self.phase = "shifting"
            for index, step in enumerate(plan.strategy.steps):
                self._step(index, step.weight)
                self._report(None, self._step_line(index, step.weight))
                if step.wait_seconds > 0:
                    self._wait(step.wait_seconds / plan.speed)
            self._check()
            if plan.post_traffic is not None:
                self.phase = "post-traffic"
                why = self._run_hook("post-traffic", plan.post_traffic)
                if why is not None:
                    self._end(FAILED, HOOK_EXECUTION_FAILURE,
                              f"post-traffic hook {plan.post_traffic.text} {why}",
                              restore=True)  # fmt: skip
                    return self._finish()
                self._check()
            self._end(SUCCEEDED, None, None, restore=False)
        except _AlarmTripped as exc:
            self._end(FAILED, ALARM_ACTIVE, str(exc), restore=True)
        except _Ended:
            pass
        except BaseException:  # Ctrl-C, or a failure of our own: never leave it half done
            with contextlib.suppress(Exception):
                if traffic is not None:
                    traffic.stop(wait=False)
                    traffic = None
                self._end(STOPPED, MANUAL_STOP, "interrupted (Ctrl-C)", restore=True)
                self._finish()  # the view's last frame shows the rollback, not the canary
            raise
        finally:
            if traffic is not None:
                traffic.stop(wait=True)
        return self._finish()

    def _finish(self) -> Deployment:
        with contextlib.suppress(Exception):
            self._read_journal()
        result = self.result()
        record = result.record
        self.phase = "done"
        if record["Status"] != IN_PROGRESS:
            alias_raw = self.repo.meta.get(ALIASES, self.plan.alias)
            if alias_raw is not None:
                state = AliasState.from_json(alias_raw)
                self.version, self.weights = state.version, dict(state.weights)
        error = record.get("ErrorInformation") or {}
        line = f"{record['Status']}" + (f": {error.get('Message')}" if error else "")
        if record.get("RolledBack"):
            line += f"; alias {self.plan.alias} rolled back to version {record['CurrentVersion']}"
        self._report(None, line)
        return result

    def _step_line(self, index: int, weight: float) -> str:
        total = len(self.plan.strategy.steps)
        if weight >= 1.0:
            where = f"alias {self.plan.alias} -> version {self.plan.target} (100%)"
        else:
            where = (
                f"alias {self.plan.alias} -> version {self.old} {100 - weight * 100:g}%, "
                f"version {self.plan.target} {weight * 100:g}%"
            )
        return f"step {index + 1}/{total}: {where}"


class _AlarmTripped(Exception):
    pass


def _changed(current: AliasState | None) -> str:
    if current is None:
        return "the alias was deleted during the deployment"
    where = current.version + (
        f" with {current.additional_version} weighted {current.weights[current.additional_version]}"
        if current.additional_version
        else ""
    )
    return f"the alias was changed outside the deployment (it now points at {where}); left as it is"


def end_locked(
    repo: Repository,
    old_rec: str,
    record: dict[str, Any],
    status: str,
    code: str | None,
    message: str | None,
    *,
    restore: bool,
) -> dict[str, Any]:
    """End a deployment (the caller holds the lock and read ``record`` as ``old_rec``).
    With ``restore``, the alias goes back to the version it had, without weights, if it
    is still where the deployment left it (Change ``rollback``); an alias someone else
    changed is left alone."""
    from lambdaver.service import aliases

    record = {**record, "Status": status, "CompleteTime": repo.now(), "RolledBack": False}
    if code is not None:
        record["ErrorInformation"] = {"Code": code, "Message": message or ""}
    alias = record["AliasName"]
    raw = repo.meta.get(ALIASES, alias)
    current = AliasState.from_json(raw) if raw is not None else None
    ours = current is not None and current.revision_id == record["LastRevisionId"]
    before = record["CurrentVersion"]
    if (
        restore
        and ours
        and current is not None
        and (current.version, current.weights)
        != (
            before,
            {},
        )
    ):
        if repo.meta.get(VERSIONS, before) is not None or before == LATEST:
            state = current.replace(version=before, weights={}, revision_id=repo.new_id())
            record["RolledBack"] = True
            record["LastRevisionId"] = state.revision_id
            final = record
            aliases._commit(  # the alias's ref and log, with our record
                repo, raw, state, aliases.ROLLBACK, record.get("RollbackParent"),
                also=lambda: _store(repo, old_rec, final),
            )  # fmt: skip
            return record
        record["ErrorInformation"] = {
            "Code": code or MANUAL_STOP,
            "Message": f"{message or ''}; version {before} was deleted: alias left as it is",
        }
    with repo.meta.transaction():
        _store(repo, old_rec, record)
    return record


# --- traffic ----------------------------------------------------------------------------


class Traffic:
    """Invoke the alias with the events of --traffic, cycling, at ``rate`` per second, from
    a background thread; each invocation runs in its own process (service/invoke.py), and
    is journaled like any other, so the alarms see it."""

    def __init__(self, repo: Repository, alias: str, events: Sequence[bytes], rate: float) -> None:
        self.root = repo.root
        self.settings = repo.settings
        self.alias = alias
        self.events = list(events)
        self.rate = rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deploy-traffic", daemon=True)
        self._local = threading.local()
        self.sent = 0
        self.refused = 0
        self._pool: Any = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, wait: bool) -> None:
        self._stop.set()
        self._thread.join(timeout=None if wait else 0.5)

    def _run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=TRAFFIC_CONCURRENCY)
        running: set[Any] = set()
        interval = 1.0 / self.rate
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                running = {f for f in running if not f.done()}
                if len(running) < TRAFFIC_CONCURRENCY * 2:
                    event = self.events[self.sent % len(self.events)]
                    running.add(pool.submit(self._one, event))
                    self.sent += 1
                due += interval
                self._stop.wait(max(0.0, due - time.monotonic()))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _one(self, event: bytes) -> None:
        from lambdaver.service.invoke import invoke

        repo = getattr(self._local, "repo", None)
        if repo is None:
            repo = self._local.repo = Repository(self.root, self.settings)
        try:
            invoke(repo, qualifier=self.alias, payload=event)
        except LambdaverError:
            self.refused += 1


# --- list, status, stop -------------------------------------------------------------------


def list_deployments(repo: Repository, alias: str | None = None) -> DeploymentList:
    """Every deployment, newest first (``alias``: only that alias's)."""
    rows = [json.loads(raw) for _name, raw in repo.meta.items(DEPLOYMENTS)]
    if alias is not None:
        rows = [r for r in rows if r["AliasName"] == alias]
    rows.sort(key=lambda r: (r["CreateTime"], r["DeploymentId"]), reverse=True)
    return DeploymentList([_with_liveness(r) for r in rows])


def _with_liveness(record: dict[str, Any]) -> Deployment:
    alive = _alive(record) if record["Status"] == IN_PROGRESS else None
    return Deployment(record, alive)


def get_deployment(repo: Repository, deployment_id: str | None = None) -> Deployment:
    """One deployment (None: the newest), with whether its process still runs."""
    if deployment_id is None:
        listing = list_deployments(repo).deployments
        if not listing:
            raise ResourceNotFoundException("No deployment has been made in this function")
        return listing[0]
    _raw, record = _load(repo, deployment_id)
    return _with_liveness(record)


def stop_deployment(repo: Repository, deployment_id: str, *, rollback: bool = True) -> Deployment:
    """``deploy stop``: end a deployment in progress (its process still running, which
    notices at its next poll, or killed) as Stopped, and, unless ``rollback`` is False,
    put the alias back on its old version with no weights (if it is still where the
    deployment left it)."""
    with repo.lock.held():
        old_rec, record = _load(repo, deployment_id)
        if record["Status"] != IN_PROGRESS:
            raise ResourceConflictException(
                f"Deployment {deployment_id} has already ended ({record['Status']})"
            )
        record = end_locked(
            repo, old_rec, record, STOPPED, MANUAL_STOP,
            "stopped by 'lambdaver deploy stop'", restore=rollback,
        )  # fmt: skip
    return Deployment(record, None)
