"""What the service's operations return, beyond the configurations of model/records.py:
typed records, so that the CLI and any other front end (a server) render them their own
way.  Each gives the JSON shape the aws CLI prints (``to_aws``), written once, here.

Imported by the operations that return them, when they run: a read verb that returns none
of them does not pay for this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdaver.model.records import AliasConfiguration
from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.model.records import FunctionConfiguration


class VersionList(Value):
    """``list-versions-by-function``: $LATEST first, then ascending, each with aliases."""

    versions: list[FunctionConfiguration]

    def to_aws(self) -> dict[str, Any]:
        return {"Versions": [v.to_aws() for v in self.versions]}


class FunctionList(Value):
    """``list-functions``: each function's $LATEST (and, with ``--function-version ALL``,
    its published versions), in the subset of FunctionConfiguration fields AWS lists
    (no ``State`` nor ``LastUpdateStatus``: AWS leaves them to GetFunction)."""

    functions: list[FunctionConfiguration]

    def to_aws(self) -> dict[str, Any]:
        items = []
        for f in self.functions:
            item = f.to_aws()
            item.pop("State", None)
            item.pop("LastUpdateStatus", None)
            items.append(item)
        return {"Functions": items}


class FunctionDetails(Value):
    """``get-function``: the configuration and where the deployment package is
    (``location``, a URL), as AWS's ``Code`` says it."""

    configuration: FunctionConfiguration
    location: str

    def to_aws(self) -> dict[str, Any]:
        return {
            "Configuration": self.configuration.to_aws(),
            "Code": {"RepositoryType": "S3", "Location": self.location},
        }


class AliasList(Value):
    """``list-aliases``, by name."""

    aliases: list[AliasConfiguration]

    def to_aws(self) -> dict[str, Any]:
        return {"Aliases": [a.to_aws() for a in self.aliases]}


class HistoryEntry(AliasConfiguration):
    """One state an alias has had: its configuration then, when and how it changed, and
    the alias it was promoted from (``promote``)."""

    changed_at: str
    change: str
    promoted_from: str | None = None

    def to_aws(self) -> dict[str, Any]:
        out = super().to_aws()
        out["ChangedAt"] = self.changed_at
        out["Change"] = self.change
        if self.promoted_from is not None:
            out["PromotedFrom"] = self.promoted_from
        return out


class AliasHistory(Value):
    """Every state an alias has had, newest first."""

    history: list[HistoryEntry]

    def to_aws(self) -> dict[str, Any]:
        return {"History": [h.to_aws() for h in self.history]}


class FileChanges(Value):
    """Paths added, modified (content or mode) and deleted, each sorted."""

    added: list[str]
    modified: list[str]
    deleted: list[str]

    def paths(self) -> list[str]:
        return [*self.added, *self.modified, *self.deleted]

    def to_aws(self) -> dict[str, list[str]]:
        return {"Added": self.added, "Modified": self.modified, "Deleted": self.deleted}


class Status(Value):
    """What in $LATEST differs from the newest version (``version``; None when there is
    none).  ``configuration``: ``{AwsField: [old, new]}`` for each field that differs."""

    changed: bool
    version: str | None
    files: FileChanges
    configuration: dict[str, list[Any]]

    def to_aws(self) -> dict[str, Any]:
        return {
            "Changed": self.changed,
            "Version": self.version,
            "Files": self.files.to_aws(),
            "Configuration": self.configuration,
        }


class Diff(Value):
    """What differs from ``source`` to ``target``; ``patch``: a unified diff, if asked."""

    equal: bool
    source: str
    target: str
    files: FileChanges
    configuration: dict[str, list[Any]]
    patch: str | None = None
    #: {"From"/"To": {"Alias", "FunctionVersion", "AdditionalVersionWeights"}} for a side
    #: that is an alias with weights
    routing: dict[str, dict[str, Any]] | None = None

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Equal": self.equal,
            "From": self.source,
            "To": self.target,
            "Files": self.files.to_aws(),
            "Configuration": self.configuration,
        }
        if self.routing:
            out["Routing"] = self.routing
        if self.patch is not None:
            out["Patch"] = self.patch
        return out


class Export(Value):
    """A deployment package written: where (``zip_file``, once known), its CodeSha256 (the
    zip's sha256 in base64, as AWS reports it), its size, and the version it holds."""

    code_sha256: str
    code_size: int
    version: str
    zip_file: str | None = None

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.zip_file is None else {"ZipFile": self.zip_file}
        out["CodeSha256"] = self.code_sha256
        out["CodeSize"] = self.code_size
        out["Version"] = self.version
        return out


class ImportResult(Value):
    """$LATEST's (or, with publish, the version's) configuration after an import, and the
    zip entries left out because $LATEST ignores them."""

    configuration: FunctionConfiguration
    skipped: list[str]

    def to_aws(self) -> dict[str, Any]:
        return self.configuration.to_aws()


class PruneReport(Value):
    """The versions ``prune`` deleted, and each version it kept with what pins it."""

    deleted: list[str]
    kept: dict[str, list[str]]

    def to_aws(self) -> dict[str, Any]:
        return {
            "Deleted": self.deleted,
            "Kept": [{"Version": n, "PinnedBy": p} for n, p in self.kept.items()],
        }


class GcReport(Value):
    objects_removed: int
    bytes_freed: int
    temporaries_removed: int

    def to_aws(self) -> dict[str, Any]:
        return {
            "ObjectsRemoved": self.objects_removed,
            "BytesFreed": self.bytes_freed,
            "TemporariesRemoved": self.temporaries_removed,
        }


class Problem(Value):
    """One problem fsck found: its kind, where (``Object``, ``Version``, ``Path``...), what."""

    kind: str
    message: str
    where: dict[str, str]

    def to_aws(self) -> dict[str, Any]:
        return {"Kind": self.kind, **self.where, "Message": self.message}


class FsckReport(Value):
    problems: list[Problem]
    objects_checked: int

    def to_aws(self) -> dict[str, Any]:
        return {
            "Problems": [p.to_aws() for p in self.problems],
            "ObjectsChecked": self.objects_checked,
        }


class Logs(Value):
    """Past invocations, oldest first, as the journal holds them."""

    events: list[dict[str, Any]]

    def to_aws(self) -> dict[str, Any]:
        return {"Events": self.events}


class VersionMetrics(Value):
    version: str
    invocations: int
    errors: int
    timeouts: int
    duration_p50_ms: float
    duration_p95_ms: float
    duration_max_ms: float

    def to_aws(self) -> dict[str, Any]:
        return {
            "Version": self.version,
            "Invocations": self.invocations,
            "Errors": self.errors,
            "Timeouts": self.timeouts,
            "DurationP50Ms": self.duration_p50_ms,
            "DurationP95Ms": self.duration_p95_ms,
            "DurationMaxMs": self.duration_max_ms,
        }


class Metrics(Value):
    """Invocations, errors, timeouts and durations per executed version."""

    metrics: list[VersionMetrics]

    def to_aws(self) -> dict[str, Any]:
        return {"Metrics": [m.to_aws() for m in self.metrics]}
