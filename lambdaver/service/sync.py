"""``push`` and ``pull``: a local function's versions and aliases to and from AWS Lambda
(contract §13, docs/sync.md).

boto3 is an optional extra (``pip install 'lambdaver[aws]'``) and is imported only here,
inside functions: no other verb pays for it.  Every remote call goes through the
client's own paginators and waiters; every botocore error is turned into lambdaver's
exception hierarchy in one place, :func:`_translated`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lambdaver.errors import (
    EXIT_REPOSITORY,
    EXIT_SERVICE,
    AccessDeniedException,
    CliError,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceError,
    ValidationException,
    WaiterError,
)
from lambdaver.model.config import FunctionConfig
from lambdaver.model.records import VersionRecord
from lambdaver.service.repository import ALIASES, VERSIONS, Repository
from lambdaver.service.sync_plan import (
    ALIAS_LINKS,
    LATEST,
    LATEST_LINKS,
    MAPPING,
    PERMISSION,
    URL,
    VERSION_LINKS,
    AliasLink,
    AliasStep,
    ExtraStep,
    PullResult,
    PushPlan,
    RemoteAlias,
    RemoteVersion,
    VersionLink,
    VersionStep,
    env_key,
    permission_params,
    url_params,
)

if TYPE_CHECKING:
    from lambdaver.model.records import AliasState
    from lambdaver.service.settings import Settings

INSTALL_HINT = (
    "push and pull need boto3, which is not installed: pip install 'lambdaver[aws]' "
    "(or pip install boto3)"
)
DOWNLOAD_TIMEOUT = 120.0  # seconds for one version's code from Code.Location


class AwsSupportMissing(CliError):
    """boto3 is not installed: say how to install it (exit 254)."""

    code = "AwsSupportMissing"
    exit_status = EXIT_SERVICE


class NoCredentials(CliError):
    """No AWS credentials were found, in the aws CLI's words (a configuration problem:
    exit 253, as the aws CLI exits for it)."""

    code = "NoCredentials"
    exit_status = EXIT_REPOSITORY


class RemoteError(ServiceError):
    """An error of the remote service whose code lambdaver's hierarchy does not name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_BY_CODE: dict[str, type[ServiceError]] = {
    c.code: c
    for c in (
        ResourceNotFoundException,
        ResourceConflictException,
        InvalidParameterValueException,
        ValidationException,
        AccessDeniedException,
    )
}
_BY_CODE["ConflictException"] = ResourceConflictException  # moto's spelling


def _service_error(code: str, message: str) -> ServiceError:
    if code == PreconditionFailedException.code:
        return _precondition(
            f"{message} (the remote function changed while this ran; run the command "
            "again to see the new plan)"
        )
    cls = _BY_CODE.get(code)
    if cls is ValidationException:
        exc = ValidationException([])
        exc.message = message
        return exc
    if cls is not None:
        return cls(message)
    return RemoteError(code, message)


def _precondition(message: str) -> PreconditionFailedException:
    exc = PreconditionFailedException()
    exc.message = message
    exc.args = (message,)
    return exc


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """The one place where botocore's errors become lambdaver's."""
    from botocore import exceptions as bc

    try:
        yield
    except bc.ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "ServiceException")
        message = str(err.get("Message") or err.get("message") or exc)
        raise _service_error(code, f"{exc.operation_name}: {message}") from exc
    except (bc.NoCredentialsError, bc.PartialCredentialsError) as exc:
        raise NoCredentials(
            f'{exc} You can configure credentials by running "aws configure".'
        ) from exc
    except bc.ProfileNotFound as exc:
        raise NoCredentials(str(exc)) from exc
    except bc.NoRegionError as exc:
        raise NoCredentials(
            "You must specify a region. You can also configure your region by running "
            '"aws configure", or pass --region.'
        ) from exc
    except bc.WaiterError as exc:
        raise WaiterError(exc.name, str(exc.reason)) from exc
    except (bc.EndpointConnectionError, bc.ConnectTimeoutError, bc.ReadTimeoutError) as exc:
        raise RemoteError("EndpointConnectionError", str(exc)) from exc


# --- the client ------------------------------------------------------------------------


def lambda_client(profile: str | None, region: str | None, endpoint_url: str | None) -> Any:
    """A boto3 Lambda client, read the way the aws CLI reads its configuration:
    ``--profile`` (else ``AWS_PROFILE``), ``--region`` (else the profile's or
    ``AWS_DEFAULT_REGION``), ``--endpoint-url``; credentials by botocore's chain."""
    try:
        import boto3
    except ImportError as exc:
        raise AwsSupportMissing(INSTALL_HINT) from exc
    with _translated():
        session = boto3.Session(profile_name=profile, region_name=region)
        return session.client("lambda", endpoint_url=endpoint_url)


def _paginate(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**params):
        out += page.get(key, [])
    return out


def _wait(client: Any, waiter: str, **params: Any) -> None:
    client.get_waiter(waiter).wait(**params)


class Remote:
    """What the remote function holds, from its two listings."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        from botocore.exceptions import ClientError

        try:
            rows = _paginate(client, "list_versions_by_function", "Versions", FunctionName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            rows = []
        versions = [RemoteVersion.from_aws(r) for r in rows]
        latest = [v for v in versions if v.version == LATEST]
        # moto answers an empty list for a missing function: no $LATEST, no function
        self.latest: RemoteVersion | None = latest[0] if latest else None
        self.versions = {v.version: v for v in versions if v.version != LATEST}
        self.aliases: dict[str, RemoteAlias] = {}
        if self.latest is not None:
            for raw in _paginate(client, "list_aliases", "Aliases", FunctionName=name):
                a = RemoteAlias.from_aws(raw)
                self.aliases[a.name] = a

    @property
    def exists(self) -> bool:
        return self.latest is not None

    @property
    def arn(self) -> str | None:
        if self.latest is None:
            return None
        return self.latest.arn.removesuffix(":" + LATEST)

    def _qualified(self, qualifier: str | None) -> dict[str, str]:
        return {"Qualifier": qualifier} if qualifier else {}

    def statements(self, qualifier: str | None) -> dict[str, dict[str, Any]]:
        """The remote policy's statements by Sid, as AddPermission parameters."""
        import json

        from botocore.exceptions import ClientError

        try:
            got = self.client.get_policy(FunctionName=self.name, **self._qualified(qualifier))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            return {}
        document = json.loads(got.get("Policy") or "{}")
        return {str(st.get("Sid")): permission_params(st) for st in document.get("Statement", [])}

    def url_config(self, qualifier: str | None) -> dict[str, Any] | None:
        """The remote function URL config of ``qualifier`` as compared (None: none)."""
        from botocore.exceptions import ClientError

        try:
            got = self.client.get_function_url_config(
                FunctionName=self.name, **self._qualified(qualifier)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            return None
        return url_params(str(got.get("AuthType")), got.get("Cors"), got.get("InvokeMode"))

    def mappings(self, source_arn: str, qualifier: str | None) -> list[dict[str, Any]]:
        """The remote mappings from ``source_arn`` that invoke ``qualifier``."""
        arn = str(self.arn) + (f":{qualifier}" if qualifier else "")
        rows = _paginate(self.client, "list_event_source_mappings", "EventSourceMappings",
                         EventSourceArn=source_arn)  # fmt: skip
        return [r for r in rows if r.get("FunctionArn") == arn]

    def next_version(self) -> int:
        """The number AWS is expected to give the next publish (a prediction: AWS also
        counts versions deleted since)."""
        return max((int(v) for v in self.versions), default=0) + 1


# --- the mapping -----------------------------------------------------------------------


def version_links(repo: Repository, arn: str) -> list[VersionLink]:
    prefix = arn + "#"
    return [
        VersionLink.from_json(raw)
        for name, raw in repo.meta.items(VERSION_LINKS)
        if name.startswith(prefix)
    ]


def alias_link(repo: Repository, arn: str, name: str) -> AliasLink | None:
    raw = repo.meta.get(ALIAS_LINKS, f"{arn}#{name}")
    return AliasLink.from_json(raw) if raw is not None else None


def _record_version(repo: Repository, link: VersionLink) -> None:
    name = f"{link.function_arn}#{link.remote_version}"
    with repo.lock.held(), repo.meta.transaction():
        current = repo.meta.get(VERSION_LINKS, name)
        new = link.to_json()
        if current != new:
            repo.meta.set_if_equals(
                VERSION_LINKS, name, current, new, k1=f"{link.function_arn}#L{link.local_version}"
            )


def _record_alias(repo: Repository, link: AliasLink) -> None:
    name = f"{link.function_arn}#{link.name}"
    with repo.lock.held(), repo.meta.transaction():
        current = repo.meta.get(ALIAS_LINKS, name)
        if current != link.to_json():
            repo.meta.set_if_equals(ALIAS_LINKS, name, current, link.to_json())


# --- local versions and their zips -----------------------------------------------------


def local_versions(repo: Repository) -> dict[str, VersionRecord]:
    return {n: VersionRecord.from_json(raw) for n, raw in repo.meta.items(VERSIONS, numeric=True)}


def local_aliases(repo: Repository) -> dict[str, AliasState]:
    from lambdaver.model.records import AliasState

    return {n: AliasState.from_json(raw) for n, raw in repo.meta.items(ALIASES)}


class Packages:
    """The reproducible zip of each local version (``export``'s bytes), made once per code
    tree and kept as derived data (``get-function``'s package cache)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._by_tree: dict[str, tuple[str, str]] = {}

    def get(self, rec: VersionRecord) -> tuple[str, str]:
        """(path of the zip, its base64 sha256)."""
        found = self._by_tree.get(rec.tree)
        if found is None:
            from urllib.parse import urlparse
            from urllib.request import url2pathname

            from lambdaver.service.code import get_function

            url = get_function(self.repo, rec.version).location
            path = url2pathname(urlparse(url).path)
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            found = (path, base64.b64encode(h.digest()).decode())
            self._by_tree[rec.tree] = found
        return found


def _desired(rec: VersionRecord, zip_sha: str) -> tuple[Any, ...]:
    cfg = rec.config
    return (
        zip_sha,
        cfg.runtime,
        cfg.handler,
        cfg.memory_size,
        cfg.timeout,
        rec.description,
        env_key(cfg.environment),
    )


def _config_of(v: RemoteVersion) -> tuple[Any, ...]:
    """The configuration part of a remote $LATEST (code and description aside)."""
    return (v.runtime, v.handler, v.memory_size, v.timeout, v.environment or None)


def _config_wanted(cfg: FunctionConfig) -> tuple[Any, ...]:
    return (
        cfg.runtime,
        cfg.handler,
        cfg.memory_size,
        cfg.timeout,
        dict(cfg.environment) if cfg.environment else None,
    )


# --- push ------------------------------------------------------------------------------


def _select_aliases(repo: Repository, aliases: str) -> dict[str, AliasState]:
    every = local_aliases(repo)
    if aliases == "all":
        return every
    names = [n.strip() for n in aliases.split(",") if n.strip()]
    missing = [n for n in names if n not in every]
    if missing:
        raise ResourceNotFoundException(
            f"No local alias named {', '.join(missing)} (local aliases: "
            f"{', '.join(every) or 'none'})"
        )
    return {n: every[n] for n in names}


def plan_push(
    repo: Repository,
    remote: Remote,
    packages: Packages,
    *,
    versions: str = "all",
    aliases: str = "all",
    force: bool = False,
) -> PushPlan:
    """What a push would do, from the remote's listings and the mapping (no remote
    change).  Zips are made only for versions the mapping does not place."""
    locals_ = local_versions(repo)
    chosen_aliases = _select_aliases(repo, aliases)
    arn = remote.arn
    links: dict[str, VersionLink] = {}
    if arn is not None:
        for link in version_links(repo, arn):
            there = remote.versions.get(link.remote_version)
            if (
                there is not None
                and there.code_sha256 in (link.zip_sha256, link.code_sha256)
                and link.local_version in locals_
            ):
                links[link.local_version] = link
    if versions == "new" and links:
        newest_linked = max(int(v) for v in links)
        wanted = {v for v in locals_ if int(v) > newest_linked}
    else:
        wanted = set(locals_)
    for a in chosen_aliases.values():  # an alias needs its versions
        wanted |= {v for v in (a.version, *a.weights) if v != LATEST}
    claimed = {link.remote_version for link in links.values()}
    by_content: dict[tuple[Any, ...], list[str]] = {}
    for number in sorted(remote.versions, key=int):
        by_content.setdefault(remote.versions[number].content(), []).append(number)
    next_number = remote.next_version()
    remote_code = remote.latest.code_sha256 if remote.latest else None
    steps: list[VersionStep] = []
    for number in sorted(wanted, key=int):
        if number in links:
            link = links[number]
            steps.append(VersionStep(number, link.remote_version, "present", link.zip_sha256))
            continue
        rec = locals_[number]
        _path, zip_sha = packages.get(rec)
        same = [*by_content.get(_desired(rec, zip_sha), []),
                *by_content.get(_desired(rec, rec.code_sha256), [])]  # fmt: skip
        match = [r for r in same if r not in claimed]
        if match:
            claimed.add(match[0])
            steps.append(VersionStep(number, match[0], "adopt", zip_sha))
            continue
        upload = remote_code not in (zip_sha, rec.code_sha256)
        remote_code = zip_sha
        steps.append(VersionStep(number, str(next_number), "publish", zip_sha, upload))
        next_number += 1
    to_remote = {s.local_version: s.remote_version for s in steps}
    alias_steps = [
        _alias_step(repo, remote, arn, a, to_remote, force)
        for _n, a in sorted(chosen_aliases.items())
    ]
    extras = plan_extras(repo, remote, alias_steps, force)
    return PushPlan(remote.name, arn, not remote.exists, steps, alias_steps, extras=extras)


LOCAL_QUEUE = (
    "its queue is local (lambdaver's); SQS mappings on local queues are not pushed, "
    "create the queue and its mapping on AWS"
)


def plan_extras(
    repo: Repository, remote: Remote, alias_steps: list[AliasStep], force: bool
) -> list[ExtraStep]:
    """The permissions, function URL configs and event source mappings of the
    unqualified function and of each pushed alias, compared with the remote's (read only
    where the local side has something to push: nothing local, no call)."""
    from lambdaver.model.triggers import SQS
    from lambdaver.service import esm, policy, urls

    on_remote: dict[str | None, bool] = {None: remote.exists}
    for a in alias_steps:
        on_remote[a.name] = remote.exists and a.action != "create"
    mappings = esm.mappings_of(repo)
    out: list[ExtraStep] = []
    for qualifier, there in on_remote.items():
        local = policy.statements(repo, qualifier)
        remote_statements = remote.statements(qualifier) if local and there else {}
        for st in local:
            sid = str(st["Sid"])
            want = permission_params(st)
            have = remote_statements.get(sid)
            if have is None:
                out.append(ExtraStep(PERMISSION, qualifier, sid, "create", want))
            elif have == want:
                out.append(ExtraStep(PERMISSION, qualifier, sid, "unchanged", want))
            else:
                differs = ", ".join(
                    f"{k} {have.get(k)!r}"
                    for k in sorted({*want, *have})
                    if want.get(k) != have.get(k)
                )
                action, reason = ("update", "replaced (--force)") if force else (
                    "drift", f"the remote statement has {differs}"
                )  # fmt: skip
                out.append(ExtraStep(PERMISSION, qualifier, sid, action, want, reason))
        try:
            cfg = urls.get_url_config(repo, qualifier)
        except ResourceNotFoundException:
            cfg = None
        if cfg is not None:
            want = url_params(cfg.auth_type, cfg.cors, cfg.invoke_mode)
            have_url = remote.url_config(qualifier) if there else None
            action = "create" if have_url is None else "unchanged" if have_url == want else "update"
            out.append(ExtraStep(URL, qualifier, "FunctionUrl", action, want))
        for m in mappings:
            if m.qualifier != qualifier:
                continue
            params = _mapping_params(m)
            if m.kind == SQS:
                out.append(ExtraStep(MAPPING, qualifier, m.event_source_arn, "skipped", params,
                                     LOCAL_QUEUE))  # fmt: skip
                continue
            rows = remote.mappings(m.event_source_arn, qualifier) if there else []
            if not rows:
                out.append(ExtraStep(MAPPING, qualifier, m.event_source_arn, "create", params))
            elif _mapping_same(params, rows[0]):
                out.append(ExtraStep(MAPPING, qualifier, m.event_source_arn, "unchanged",
                                     params, remote_id=rows[0].get("UUID")))  # fmt: skip
            else:
                out.append(ExtraStep(MAPPING, qualifier, m.event_source_arn, "update", params,
                                     remote_id=rows[0].get("UUID")))  # fmt: skip
    return out


#: What an update of a mapping may change (the rest is fixed at its creation).
MAPPING_UPDATABLE = (
    "BatchSize", "MaximumBatchingWindowInSeconds", "Enabled", "FunctionResponseTypes",
)  # fmt: skip


def _mapping_params(m: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EventSourceArn": m.event_source_arn,
        "BatchSize": m.batch_size,
        "MaximumBatchingWindowInSeconds": m.window,
        "Enabled": m.enabled,
    }
    if m.response_types:
        out["FunctionResponseTypes"] = list(m.response_types)
    out.update(m.extra)
    return out


def _mapping_same(want: dict[str, Any], row: dict[str, Any]) -> bool:
    """Does the remote mapping ``row`` match ``want`` in what an update may change (a
    member the remote does not show is not compared)?"""
    state = row.get("State")
    have = {
        "BatchSize": row.get("BatchSize"),
        "MaximumBatchingWindowInSeconds": row.get("MaximumBatchingWindowInSeconds"),
        "Enabled": None if state is None else state not in ("Disabled", "Disabling"),
        "FunctionResponseTypes": sorted(row.get("FunctionResponseTypes") or []),
    }
    wanted = {**want, "FunctionResponseTypes": sorted(want.get("FunctionResponseTypes") or [])}
    return all(have[k] is None or have[k] == wanted.get(k) for k in MAPPING_UPDATABLE)


def _alias_step(
    repo: Repository,
    remote: Remote,
    arn: str | None,
    a: AliasState,
    to_remote: dict[str, str | None],
    force: bool,
) -> AliasStep:
    primary = LATEST if a.version == LATEST else to_remote.get(a.version)
    weights = {str(to_remote.get(v)): w for v, w in a.weights.items()}
    want = (str(primary), weights, a.description)
    current = remote.aliases.get(a.name)
    link = alias_link(repo, arn, a.name) if arn is not None else None

    def step(action: str, reason: str = "") -> AliasStep:
        return AliasStep(
            a.name, action, a.version, dict(a.weights), primary, weights, a.description,
            current.state() if current else None, reason,
        )  # fmt: skip

    if current is None:
        if link is not None and not force:
            return step("drift", "deleted on the remote since the last push")
        return step("create")
    if current.state() == want:
        return step("unchanged")
    if link is not None and current.state() == link.state():
        return step("update")
    if force:
        return step("update", "changed on the remote; overwritten (--force)")
    was = (
        "never pushed by lambdaver" if link is None else "changed on the remote since the last push"
    )
    version, cur_weights, _d = current.state()
    now = version + "".join(f" with {w * 100:g} % on {v}" for v, w in cur_weights.items())
    return step("drift", f"{was} (now remote {now})")


def push(
    repo: Repository,
    client: Any,
    remote_name: str,
    *,
    role: str | None = None,
    dry_run: bool = False,
    versions: str = "all",
    aliases: str = "all",
    force: bool = False,
    show_plan: Callable[[PushPlan], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PushPlan:
    """Make the remote function hold the local versions and aliases (docs/sync.md)."""
    say = progress or (lambda _m: None)
    with _translated():
        remote = Remote(client, remote_name)
        packages = Packages(repo)
        plan = plan_push(repo, remote, packages, versions=versions, aliases=aliases, force=force)
        plan = plan.replace(dry_run=dry_run)
        if show_plan is not None:
            show_plan(plan)
        if plan.drift:
            names = ", ".join(f"{a.name} ({a.reason})" for a in plan.drift)
            raise _precondition(
                f"Refused: remote alias {names}. Nothing was sent. Look at it with "
                "'aws lambda get-alias', then push --force to overwrite it"
            )
        if plan.extra_drift:
            names = ", ".join(f"{e.key} of {e.where} ({e.reason})" for e in plan.extra_drift)
            raise _precondition(
                f"Refused: remote permission {names}. Nothing was sent. Look at it with "
                "'aws lambda get-policy', then push --force to replace it"
            )
        if plan.create_function and not dry_run and role is None:
            raise InvalidParameterValueException(
                f"The function {remote_name} does not exist on the remote; pass --role "
                "ARN (its execution role) to create it"
            )
        if plan.create_function and not plan.versions:
            raise InvalidParameterValueException(
                f"Nothing to push to the new function {remote_name}: publish a version first"
            )
        if dry_run:
            return plan
        return _carry_out(repo, client, remote, packages, plan, role, say)


def _carry_out(
    repo: Repository,
    client: Any,
    remote: Remote,
    packages: Packages,
    plan: PushPlan,
    role: str | None,
    say: Callable[[str], None],
) -> PushPlan:
    name = remote.name
    locals_ = local_versions(repo)
    latest = remote.latest
    arn = remote.arn
    if plan.create_function:
        first = locals_[plan.versions[0].local_version]
        path, _sha = packages.get(first)
        cfg = first.config
        say(f"creating function {name}")
        with open(path, "rb") as f:
            created = client.create_function(
                FunctionName=name, Role=role, Code={"ZipFile": f.read()}, Publish=False,
                **_config_params(cfg),
            )  # fmt: skip
        _wait(client, "function_active_v2", FunctionName=name)
        latest = RemoteVersion.from_aws({**created, "Version": LATEST})
        arn = str(created["FunctionArn"]).removesuffix(":" + LATEST)
    assert arn is not None  # noqa: S101 - the function exists now
    steps: list[VersionStep] = []
    to_remote: dict[str, str] = {}
    for step in plan.versions:
        rec = locals_[step.local_version]
        if step.action in ("present", "adopt"):
            assert step.remote_version is not None  # noqa: S101
            if step.action == "adopt":
                adopted = VersionLink(arn, step.remote_version, rec.version, rec.code_sha256,
                                      step.zip_sha256, "push")  # fmt: skip
                _record_version(repo, adopted)
            steps.append(step)
            to_remote[rec.version] = step.remote_version
            continue
        assert latest is not None  # noqa: S101
        number, latest = _publish_one(client, name, packages, rec, latest, say)
        _record_version(
            repo, VersionLink(arn, number, rec.version, rec.code_sha256, step.zip_sha256, "push")
        )
        steps.append(step.replace(remote_version=number))
        to_remote[rec.version] = number
    alias_steps: list[AliasStep] = []
    for a in plan.aliases:
        primary = LATEST if a.local_version == LATEST else to_remote[a.local_version]
        weights = {to_remote[v]: w for v, w in a.local_weights.items()}
        a = a.replace(remote_version=primary, remote_weights=weights)  # noqa: PLW2901
        alias_steps.append(a)
        routing = {"AdditionalVersionWeights": weights}
        if a.action == "create":
            say(f"creating alias {a.name}")
            out = client.create_alias(
                FunctionName=name, Name=a.name, FunctionVersion=primary,
                Description=a.description, **({"RoutingConfig": routing} if weights else {}),
            )  # fmt: skip
        elif a.action == "update":
            say(f"moving alias {a.name}")
            current = remote.aliases[a.name]
            out = client.update_alias(
                FunctionName=name, Name=a.name, FunctionVersion=primary,
                Description=a.description, RoutingConfig=routing,
                **({"RevisionId": current.revision_id} if current.revision_id else {}),
            )  # fmt: skip
        else:
            current_alias = remote.aliases.get(a.name)
            link = alias_link(repo, arn, a.name)
            if current_alias is not None and (
                link is None or link.revision_id != current_alias.revision_id
            ):
                _record_alias(repo, AliasLink(arn, a.name, primary, weights, a.description,
                                              current_alias.revision_id))  # fmt: skip
            continue
        _record_alias(
            repo,
            AliasLink(arn, a.name, primary, weights, a.description, out.get("RevisionId")),
        )
    for e in plan.extras:
        _push_extra(client, name, e, say)
    return plan.replace(function_arn=arn, versions=steps, aliases=alias_steps, done=True)


def _push_extra(client: Any, name: str, e: ExtraStep, say: Callable[[str], None]) -> None:
    """Carry out one ``create`` or ``update`` of a permission, URL config or mapping."""
    if e.action not in ("create", "update"):
        return
    say(str(e.line()))
    q = {"Qualifier": e.qualifier} if e.qualifier else {}
    if e.kind == PERMISSION:
        if e.action == "update":
            client.remove_permission(FunctionName=name, StatementId=e.key, **q)
        client.add_permission(FunctionName=name, StatementId=e.key, **e.params, **q)
    elif e.kind == URL:
        if e.action == "create":
            client.create_function_url_config(FunctionName=name, **e.params, **q)
        else:
            client.update_function_url_config(
                FunctionName=name, **{"Cors": {}, "InvokeMode": "BUFFERED", **e.params}, **q
            )
    elif e.action == "create":
        target = f"{name}:{e.qualifier}" if e.qualifier else name
        client.create_event_source_mapping(FunctionName=target, **e.params)
    else:
        changes = {k: e.params[k] for k in MAPPING_UPDATABLE if k in e.params}
        if "FunctionResponseTypes" not in changes:
            changes["FunctionResponseTypes"] = []
        client.update_event_source_mapping(UUID=e.remote_id, **changes)


def _config_params(cfg: FunctionConfig) -> dict[str, Any]:
    return {
        "Runtime": cfg.runtime,
        "Handler": cfg.handler,
        "MemorySize": cfg.memory_size,
        "Timeout": cfg.timeout,
        "Description": cfg.description,
        "Environment": {"Variables": dict(cfg.environment or {})},
    }


def _publish_one(
    client: Any,
    name: str,
    packages: Packages,
    rec: VersionRecord,
    latest: RemoteVersion,
    say: Callable[[str], None],
) -> tuple[str, RemoteVersion]:
    """Bring the remote $LATEST to ``rec``'s code and configuration and publish it; the
    new remote version's number and the remote $LATEST after it."""
    path, zip_sha = packages.get(rec)
    revision = {"RevisionId": latest.revision_id} if latest.revision_id else {}
    updated = False
    ours = (zip_sha, rec.code_sha256)  # AWS's CodeSha256, or lambdaver serve's tree hash
    if latest.code_sha256 not in ours:
        say(f"uploading the code of local version {rec.version}")
        with open(path, "rb") as f:
            client.update_function_code(FunctionName=name, ZipFile=f.read(), **revision)
        _wait(client, "function_updated_v2", FunctionName=name)
        revision, updated = {}, True
    if not updated or _config_of(latest) != _config_wanted(rec.config):
        # AWS publishes only after an update: a configuration update (even an identical
        # one) makes sure this publish creates a version.
        client.update_function_configuration(
            FunctionName=name, **_config_params(rec.config), **revision
        )
        _wait(client, "function_updated_v2", FunctionName=name)
    now = client.get_function_configuration(FunctionName=name)
    if now.get("CodeSha256") not in ours:
        raise _precondition(
            f"The remote $LATEST of {name} changed during the push (its CodeSha256 is "
            f"{now.get('CodeSha256')}, not {zip_sha}); run push again"
        )
    params: dict[str, Any] = {"CodeSha256": now["CodeSha256"], "Description": rec.description}
    if now.get("RevisionId"):
        params["RevisionId"] = now["RevisionId"]
    published = client.publish_version(FunctionName=name, **params)
    number = str(published["Version"])
    _wait(client, "published_version_active", FunctionName=name, Qualifier=number)
    say(f"published local version {rec.version} as remote version {number}")
    after = RemoteVersion.from_aws({**now, "Version": LATEST, "RevisionId": None})
    return number, after


# --- pull ------------------------------------------------------------------------------


def _download(url: str, code_sha256: str, timeout: float = DOWNLOAD_TIMEOUT) -> bytes:
    """A version's zip from GetFunction's ``Code.Location``, checked against its
    CodeSha256."""
    import urllib.error
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise InvalidParameterValueException(f"Cannot download the code from {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            data: bytes = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise RemoteError(
            "CodeDownloadFailed", f"Cannot download the code from {url}: {exc}"
        ) from exc
    got = base64.b64encode(hashlib.sha256(data).digest()).decode()
    if got != code_sha256:
        raise CodeShaMismatch(
            data, f"The code downloaded from {url} has CodeSha256 {got}, not {code_sha256}"
        )
    return data


class CodeShaMismatch(RemoteError):
    """The zip's sha256 is not the remote's CodeSha256: a download gone wrong, or a remote
    whose CodeSha256 is lambdaver's tree hash (``lambdaver serve``): checked once the
    code is in $LATEST."""

    def __init__(self, data: bytes, message: str) -> None:
        super().__init__("CodeDownloadFailed", message)
        self.data = data


def _fetch(client: Any, name: str, version: str, code_sha256: str) -> tuple[bytes, str | None]:
    """The zip, and the tree hash it must give (None: its sha256 was checked already)."""
    got = client.get_function(FunctionName=name, Qualifier=version)
    try:
        return _download(str(got["Code"]["Location"]), code_sha256), None
    except CodeShaMismatch as exc:
        return exc.data, code_sha256


def _local_config(v: RemoteVersion) -> FunctionConfig:
    from lambdaver.model.config import DEFAULT_HANDLER, DEFAULT_MEMORY, DEFAULT_TIMEOUT

    return FunctionConfig(
        runtime=v.runtime or "provided.al2023",
        handler=v.handler or DEFAULT_HANDLER,
        memory_size=v.memory_size or DEFAULT_MEMORY,
        timeout=v.timeout or DEFAULT_TIMEOUT,
        description=v.description,
        environment=dict(v.environment) if v.environment else None,
    )


def open_for_pull(
    directory: str, remote_name: str, settings: Settings, first: RemoteVersion
) -> Repository:
    """The repository in ``directory`` (made there, from ``first``'s configuration, when
    the directory is missing or empty)."""
    from pathlib import Path

    from lambdaver.service.repository import DOT, find_root

    where_to = Path(directory)
    if (where_to / DOT).is_dir():
        return Repository.discover(directory, settings)
    if where_to.exists() and (not where_to.is_dir() or any(where_to.iterdir())):
        inside = find_root(directory)
        where = f" (it is inside the function at {inside})" if inside else ""
        raise InvalidParameterValueException(
            f"{directory} is not empty and holds no function{where}; pull into an empty or "
            "new directory, or into a function's directory"
        )
    from lambdaver.service.functions import init_function

    cfg = _local_config(first)
    repo, _cfg = init_function(
        directory, settings, name=remote_name, runtime=cfg.runtime, handler=cfg.handler,
        memory_size=cfg.memory_size, timeout=cfg.timeout, description=cfg.description,
        environment=cfg.environment,
    )  # fmt: skip
    return repo


def remote_for_pull(client: Any, remote_name: str) -> Remote:
    with _translated():
        remote = Remote(client, remote_name)
    if not remote.exists:
        raise ResourceNotFoundException(f"Function not found: {remote_name} (on the remote)")
    return remote


def pull(
    repo: Repository,
    client: Any,
    remote: Remote,
    *,
    progress: Callable[[str], None] | None = None,
) -> PullResult:
    """Bring every remote version (code and configuration), $LATEST and the aliases into
    ``repo``; what the mapping says is here already is not fetched again."""
    say = progress or (lambda _m: None)
    assert remote.latest is not None  # noqa: S101 - remote_for_pull checked it
    arn = str(remote.arn)
    with _translated():
        locals_ = local_versions(repo)
        known = {
            link.remote_version: link
            for link in version_links(repo, arn)
            if link.local_version in locals_
            and (there := remote.versions.get(link.remote_version)) is not None
            and there.code_sha256 == link.zip_sha256
        }
        done: list[tuple[str, str, str]] = []
        to_local: dict[str, str] = {}
        left_out: list[str] = []
        downloaded: dict[str, tuple[bytes, str | None]] = {}
        for number in sorted(remote.versions, key=int):
            v = remote.versions[number]
            if number in known:
                to_local[number] = known[number].local_version
                done.append((number, to_local[number], "present"))
                continue
            _check_latest_replaceable(repo, arn)
            data, tree = downloaded.get(v.code_sha256) or _fetch(client, remote.name, number,
                                                                 v.code_sha256)  # fmt: skip
            downloaded[v.code_sha256] = (data, tree)
            rec, skipped = _apply(repo, data, _local_config(v), publish=True, tree=tree)
            left_out += [p for p in skipped if p not in left_out]
            assert rec is not None  # noqa: S101
            _record_version(repo, VersionLink(arn, number, rec.version, rec.code_sha256,
                                              v.code_sha256, "pull"))  # fmt: skip
            _set_latest_record(repo, arn, None)
            to_local[number] = rec.version
            done.append((number, rec.version, "pulled"))
            say(f"pulled remote version {number} as local version {rec.version}")
        latest_action = _pull_latest(repo, client, remote, arn, downloaded, left_out)
        aliases = _pull_aliases(repo, remote, to_local)
    return PullResult(remote.name, arn, repo.root, done, aliases, latest_action, left_out)


def _latest_key(v: RemoteVersion) -> str:
    return repr(v.content())


def _set_latest_record(repo: Repository, arn: str, remote_key: str | None) -> None:
    """What the last pull left in $LATEST: the remote $LATEST it copied (None: a version's
    code, not the remote $LATEST) and the local code and configuration it wrote, so the
    next pull may replace them without calling them unpublished work."""
    import json

    from lambdaver.service.functions import config_hash

    value = json.dumps(
        {
            "remote": remote_key,
            "tree": repo.scan_latest().code_sha256,
            "config": config_hash(repo.reload_function().config),
        },
        sort_keys=True,
    )
    with repo.lock.held(), repo.meta.transaction():
        current = repo.meta.get(LATEST_LINKS, arn)
        if current != value:
            repo.meta.set_if_equals(LATEST_LINKS, arn, current, value)


def _check_latest_replaceable(repo: Repository, arn: str) -> None:
    """Pull replaces $LATEST: refused when it holds work that no version holds and that
    the last pull did not write itself."""
    import json

    from lambdaver.service.functions import status

    st = status(repo)
    if not st.changed or not repo.meta.items(VERSIONS):
        return
    raw = repo.meta.get(LATEST_LINKS, arn)
    if raw is not None:
        from lambdaver.service.functions import config_hash

        left = json.loads(raw)
        now = (repo.scan_latest().code_sha256, config_hash(repo.reload_function().config))
        if (left.get("tree"), left.get("config")) == now:
            return
    raise ResourceConflictException(
        "$LATEST has changes that no version holds (see 'lambdaver status'); publish them "
        "or undo them before pulling, so pull does not overwrite them"
    )


def _apply(
    repo: Repository, data: bytes, cfg: FunctionConfig, *, publish: bool, tree: str | None = None
) -> tuple[VersionRecord | None, list[str]]:
    """Put ``data`` (a zip) and ``cfg`` into $LATEST, and publish it if asked (one lock).
    ``tree``: the CodeSha256 (lambdaver's tree hash) the code must have once imported,
    when the zip's own sha256 did not match it; otherwise nothing is published."""
    import io

    from lambdaver.service.code import import_zip
    from lambdaver.service.functions import get_version_record, update_configuration
    from lambdaver.service.functions import publish as publish_version

    with repo.lock.held():
        result = import_zip(repo, io.BytesIO(data), force=True)
        if tree is not None and (got := repo.scan_latest().code_sha256) != tree:
            raise RemoteError(
                "CodeDownloadFailed",
                f"The code downloaded has CodeSha256 {got} (as a tree) and another as a zip, "
                f"not {tree}; $LATEST now holds it, unpublished",
            )
        update_configuration(
            repo, runtime=cfg.runtime, handler=cfg.handler, memory_size=cfg.memory_size,
            timeout=cfg.timeout, description=cfg.description,
            environment=dict(cfg.environment or {}) if cfg.environment is not None else None,
        )  # fmt: skip
        if cfg.environment is None and repo.function.config.environment:
            update_configuration(repo, environment={})
        if not publish:
            return None, list(result.skipped)
        published = publish_version(repo)
        rec = get_version_record(repo, published.version)
        return rec, list(result.skipped)


def _pull_latest(
    repo: Repository,
    client: Any,
    remote: Remote,
    arn: str,
    downloaded: dict[str, tuple[bytes, str | None]],
    left_out: list[str],
) -> str:
    import json

    latest = remote.latest
    assert latest is not None  # noqa: S101
    key = _latest_key(latest)
    raw = repo.meta.get(LATEST_LINKS, arn)
    if raw is not None and json.loads(raw).get("remote") == key:
        return "unchanged"
    _check_latest_replaceable(repo, arn)
    data, tree = downloaded.get(latest.code_sha256) or _fetch(client, remote.name, LATEST,
                                                              latest.code_sha256)  # fmt: skip
    _rec, skipped = _apply(repo, data, _local_config(latest), publish=False, tree=tree)
    left_out += [p for p in skipped if p not in left_out]
    _set_latest_record(repo, arn, key)
    return "updated"


def _pull_aliases(
    repo: Repository, remote: Remote, to_local: dict[str, str]
) -> list[tuple[str, str, str]]:
    from lambdaver.service.aliases import create_alias, update_alias

    here = local_aliases(repo)
    out: list[tuple[str, str, str]] = []
    for name in sorted(remote.aliases):
        a = remote.aliases[name]
        primary = LATEST if a.version == LATEST else to_local.get(a.version)
        weights = {to_local.get(v): w for v, w in a.weights.items()}
        if primary is None or None in weights:
            out.append((name, a.version, "skipped: a version it names is not on the remote"))
            continue
        w = {str(k): v for k, v in weights.items()}
        current = here.get(name)
        if current is None:
            create_alias(repo, name, primary, description=a.description, weights=w)
            out.append((name, primary, "created"))
        elif (current.version, current.weights, current.description) == (
            primary, w, a.description,
        ):  # fmt: skip
            out.append((name, primary, "unchanged"))
        else:
            update_alias(repo, name, function_version=primary, description=a.description,
                         weights=w)  # fmt: skip
            out.append((name, primary, "updated"))
    return out
