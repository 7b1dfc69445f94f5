"""Buckets: a local folder as an S3 bucket whose notifications invoke this function.

A bucket lives in the repository of its function, in the ``buckets`` namespace of the
metadata store (value: JSON, see :func:`_put_bucket`): its name, its folder and its
notification configurations (``Id``, ``LambdaFunctionArn``, ``Events``, prefix/suffix
filter), as ``PutBucketNotificationConfiguration`` holds them.

Change detection: each notification has its own recorded state of the folder, in the
namespace ``bucket-objects:BUCKET:ID`` (one ref per object key; value ``[size,
mtime_ns, etag]``).  :func:`pending` compares a fresh scan with it: a file created or
changed is an ``ObjectCreated:Put``, a file removed an ``ObjectRemoved:Delete``, each
one delivery of one S3 event record (lambda-semantics-2.md §4.3).  The state of a key is
advanced by :func:`deliver` only after the invocation was made (at-least-once: a change
whose delivery failed, or that happened while nothing ran, is offered again at the next
poll), in one SQLite transaction under the repository lock.  A file whose size or mtime
changed but whose content did not (``touch``) is recorded silently.  The eTag (the md5
of the content, as S3's for a single-part upload) is computed only for such files.

``bucket notify`` is refused, as S3 refuses it, unless the qualifier's resource-based
policy lets ``s3.amazonaws.com`` invoke it for this bucket (service/policy.py).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdaver.errors import LambdaverError, ResourceNotFoundException, ServiceError
from lambdaver.service.delivery import Delivery, Invoke
from lambdaver.service.sample_events import s3_record

if TYPE_CHECKING:
    from lambdaver.service.repository import Repository

BUCKETS = "buckets"
OBJECTS = "bucket-objects"  # + ":BUCKET:ID"
KIND = "bucket"
PRINCIPAL = "s3.amazonaws.com"

#: The event types S3 accepts in a notification configuration; only ``ObjectCreated:Put``
#: and ``ObjectRemoved:Delete`` happen to a local folder.
EVENT_TYPES = frozenset(
    {
        "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRestore:*", "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed",
        "s3:ObjectRestore:Delete", "s3:ReducedRedundancyLostObject", "s3:Replication:*",
        "s3:LifecycleExpiration:*", "s3:LifecycleTransition", "s3:IntelligentTiering",
        "s3:ObjectTagging:*", "s3:ObjectAcl:Put", "s3:TestEvent",
    }
)  # fmt: skip
DEFAULT_EVENTS = ("s3:ObjectCreated:*",)
PUT = "ObjectCreated:Put"
DELETE = "ObjectRemoved:Delete"


# --- S3's errors ------------------------------------------------------------------------------


class S3Error(ServiceError):
    """An error S3 answers (exit 254, the aws CLI's line)."""


class InvalidArgument(S3Error):
    code = "InvalidArgument"


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"

    def __init__(self) -> None:
        super().__init__("The specified bucket is not valid.")


class NoSuchBucket(S3Error):
    code = "NoSuchBucket"

    def __init__(self) -> None:
        super().__init__("The specified bucket does not exist")


class BucketAlreadyOwnedByYou(S3Error):
    code = "BucketAlreadyOwnedByYou"

    def __init__(self) -> None:
        super().__init__(
            "Your previous request to create the named bucket succeeded and you already own it."
        )


UNABLE = "Unable to validate the following destination configurations"


# --- names and ARNs ------------------------------------------------------------------------

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_LAMBDA_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)


def validate_bucket_name(name: str) -> None:
    """S3's general purpose bucket naming rules."""
    if (
        not _BUCKET.fullmatch(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or _IP.fullmatch(name)
        or name.startswith(_BAD_PREFIXES)
        or name.endswith(_BAD_SUFFIXES)
    ):
        raise InvalidBucketName()


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def _s3_may_invoke(repo: Repository, qualifier: str | None, bucket: str) -> bool:
    """Whether the qualifier's resource-based policy lets S3 invoke it for ``bucket``."""
    from lambdaver.service import policy

    return policy.allows(
        repo,
        qualifier,
        PRINCIPAL,
        source_arn=bucket_arn(bucket),
        source_account=repo.settings.account_id,
    )


def _destination(repo: Repository, arn: str, bucket: str) -> str | None:
    """The qualifier ``arn`` names, when S3 could validate it as a destination: this
    function, an alias or version that exists, a permission for S3 on it."""
    if not _LAMBDA_ARN.fullmatch(arn):
        raise InvalidArgument("The ARN could not be parsed")
    from lambdaver.model.names import parse_function_name
    from lambdaver.service.functions import resolve

    settings = repo.settings
    try:
        qualifier = parse_function_name(
            arn, region=settings.region, account=settings.account_id, expected=repo.name
        )
        resolve(repo, qualifier)
    except ServiceError:
        qualifier, allowed = None, False
    else:
        allowed = _s3_may_invoke(repo, qualifier, bucket)
    if not allowed:
        raise InvalidArgument(
            f"{UNABLE} (ArgumentName1: {arn}, null; ArgumentValue1: Not authorized to invoke "
            f"function [{arn}]); give S3 a permission with 'lambdaver add-permission "
            f"--statement-id s3-{bucket} --action lambda:InvokeFunction --principal {PRINCIPAL} "
            f"--source-arn {bucket_arn(bucket)}"
            + (f" --qualifier {qualifier}" if qualifier else "")
            + "'"
        )
    return qualifier


# --- records -----------------------------------------------------------------------------


def _load(raw: str) -> dict[str, Any]:
    value = json.loads(raw)
    assert isinstance(value, dict)  # noqa: S101 - written by this module only
    return value


def _get(repo: Repository, name: str) -> tuple[str, dict[str, Any]]:
    raw = repo.meta.get(BUCKETS, name)
    if raw is None:
        raise NoSuchBucket()
    return raw, _load(raw)


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def _objects_ns(bucket: str, config_id: str) -> str:
    return f"{OBJECTS}:{bucket}:{config_id}"


def _iso_ms(ns: int) -> str:
    dt = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns // 1_000_000 % 1000:03d}Z"


def _clear_state(repo: Repository, bucket: str, config_id: str) -> None:
    ns = _objects_ns(bucket, config_id)
    for key, _raw in repo.meta.items(ns):
        repo.meta.remove(ns, key)


# --- the folder ------------------------------------------------------------------------------

#: One file of the folder: ``[size, mtime_ns]`` (scanned) or ``[size, mtime_ns, etag]``.
Entry = list[Any]


def scan(path: str) -> dict[str, Entry]:
    """Every regular file under ``path`` by key (its relative path with ``/``)."""
    out: dict[str, Entry] = {}
    base = len(path.rstrip(os.sep)) + 1

    def walk(directory: str) -> None:
        try:
            it = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        with it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        walk(entry.path)
                    elif entry.is_file():
                        st = entry.stat()
                        key = entry.path[base:].replace(os.sep, "/")
                        out[key] = [st.st_size, st.st_mtime_ns]
                except OSError:
                    continue  # vanished while scanned: seen at the next scan

    walk(path)
    return out


def etag(path: str) -> str | None:
    """The md5 hex of a file's content (None: it vanished)."""
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _snapshot(path: str) -> dict[str, Entry]:
    """The folder's state with every eTag (a new notification's starting point)."""
    out = {}
    for key, (size, mtime) in scan(path).items():
        tag = etag(f"{path}/{key}")
        if tag is not None:
            out[key] = [size, mtime, tag]
    return out


# --- operations -----------------------------------------------------------------------------


def create_bucket(repo: Repository, name: str, path: str) -> dict[str, Any]:
    """``bucket create``: the folder ``path`` (made when missing) as bucket ``name``."""
    validate_bucket_name(name)
    folder = Path(path).resolve()
    path = str(folder)
    with repo.lock.held():
        if repo.meta.get(BUCKETS, name) is not None:
            raise BucketAlreadyOwnedByYou()
        if folder.exists() and not folder.is_dir():
            raise InvalidArgument(f"{path} exists and is not a directory")
        folder.mkdir(parents=True, exist_ok=True)
        record = {"Name": name, "Path": path, "CreatedAt": repo.now(), "Notifications": []}
        with repo.meta.transaction():
            repo.meta.add_if_new(BUCKETS, name, _dump(record))
    return {"Location": f"/{name}", "Path": path}


def inside_function(repo: Repository, path: str) -> bool:
    """Whether ``path`` is inside the function's directory (its files would be code)."""
    return Path(path).resolve().is_relative_to(Path(repo.root).resolve())


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """S3's rule: two configurations of one bucket may not share an event type for keys
    both filters could match."""

    def family(event: str) -> str:
        return event.rsplit(":", 1)[0]

    shared = any(
        x == y or (x.endswith(":*") and family(x) == family(y))
        or (y.endswith(":*") and family(y) == family(x))
        for x in a["Events"] for y in b["Events"]
    )  # fmt: skip
    pa, pb = a.get("Prefix") or "", b.get("Prefix") or ""
    sa, sb = a.get("Suffix") or "", b.get("Suffix") or ""
    prefixes = pa.startswith(pb) or pb.startswith(pa)
    suffixes = sa.endswith(sb) or sb.endswith(sa)
    return shared and prefixes and suffixes


def notify(
    repo: Repository,
    name: str,
    function_arn: str,
    *,
    events: Iterable[str] | None = None,
    prefix: str | None = None,
    suffix: str | None = None,
    config_id: str | None = None,
) -> dict[str, Any]:
    """``bucket notify``: add (or, with the same ``Id``, replace) a notification
    configuration that invokes ``function_arn``.  Files already in the folder are not
    delivered: only changes made from now on.  Returns the bucket's configuration as
    ``GetBucketNotificationConfiguration`` shows it."""
    wanted = list(dict.fromkeys(events or DEFAULT_EVENTS))
    for event in wanted:
        if event not in EVENT_TYPES:
            raise InvalidArgument("The event is not supported for notifications")
    with repo.lock.held():
        raw, record = _get(repo, name)
        qualifier = _destination(repo, function_arn, name)
        new_id = config_id or repo.new_id()
        config: dict[str, Any] = {
            "Id": new_id,
            "LambdaFunctionArn": function_arn,
            "Qualifier": qualifier,
            "Events": wanted,
            "Prefix": prefix or None,
            "Suffix": suffix or None,
        }
        others = [c for c in record["Notifications"] if c["Id"] != config["Id"]]
        if any(_overlaps(config, other) for other in others):
            raise InvalidArgument(
                "Configurations overlap. Configurations on the same bucket cannot share a "
                "common event type."
            )
        record["Notifications"] = [*others, config]
        state = _snapshot(record["Path"]) if Path(record["Path"]).is_dir() else {}
        ns = _objects_ns(name, new_id)
        meta = repo.meta
        with meta.transaction():
            meta.set_if_equals(BUCKETS, name, raw, _dump(record))
            _clear_state(repo, name, new_id)
            for key, entry in state.items():
                meta.add_if_new(ns, key, json.dumps(entry))
    return notification_configuration(record)


def notification_configuration(record: dict[str, Any]) -> dict[str, Any]:
    configs = []
    for c in record["Notifications"]:
        out: dict[str, Any] = {
            "Id": c["Id"],
            "LambdaFunctionArn": c["LambdaFunctionArn"],
            "Events": c["Events"],
        }
        rules = [{"Name": n, "Value": c[n]} for n in ("Prefix", "Suffix") if c.get(n)]
        if rules:
            out["Filter"] = {"Key": {"FilterRules": rules}}
        configs.append(out)
    return {"LambdaFunctionConfigurations": configs}


def list_buckets(repo: Repository) -> dict[str, Any]:
    """``bucket list``: ``{"Buckets": [...]}`` by name."""
    rows = []
    for _name, raw in repo.meta.items(BUCKETS):
        record = _load(raw)
        rows.append(
            {
                "Name": record["Name"],
                "CreationDate": record["CreatedAt"],
                "Path": record["Path"],
                "Notifications": len(record["Notifications"]),
                "Folder": "present" if Path(record["Path"]).is_dir() else "missing",
            }
        )
    return {"Buckets": rows}


def delete_bucket(repo: Repository, name: str) -> None:
    """``bucket delete``: forget the bucket, its notifications and their recorded state.
    The folder and its files stay."""
    validate_bucket_name(name)
    with repo.lock.held():
        _raw, record = _get(repo, name)
        with repo.meta.transaction():
            for c in record["Notifications"]:
                _clear_state(repo, name, c["Id"])
            repo.meta.remove(BUCKETS, name)


# --- delivery --------------------------------------------------------------------------------


def _wants(config: dict[str, Any], event_name: str, key: str) -> bool:
    family = event_name.split(":", 1)[0]
    if f"s3:{event_name}" not in config["Events"] and f"s3:{family}:*" not in config["Events"]:
        return False
    return key.startswith(config.get("Prefix") or "") and key.endswith(config.get("Suffix") or "")


def _event(
    repo: Repository, bucket: str, config: dict[str, Any], event_name: str, key: str,
    entry: Entry | None, at_ns: int,
) -> bytes:  # fmt: skip
    settings = repo.settings
    rid = repo.new_id().replace("-", "").upper()
    record = s3_record(
        event_name=event_name,
        bucket=bucket,
        key=key,
        region=settings.region,
        event_time=_iso_ms(at_ns),
        configuration_id=config["Id"],
        size=entry[0] if entry is not None else None,
        etag=entry[2] if entry is not None else None,
        sequencer=f"{at_ns:018X}",
        principal_id=f"AWS:{settings.account_id}",
        request_id=rid[:16],
        host_id=rid,
    )
    return json.dumps({"Records": [record]}).encode()


def pending(
    repo: Repository, now: int, only: str | None = None, warn: Callable[[str], None] | None = None
) -> list[Delivery]:
    """The deliveries the buckets' changes call for (``only``: one bucket's), oldest first.
    A bucket whose folder has disappeared delivers nothing (``warn`` says so): its files
    were not deleted as far as anyone knows.  Changes no configuration wants (another
    event type, a key outside its filter, a ``touch``) are recorded at once."""
    out: list[tuple[int, str, Delivery]] = []
    rows = repo.meta.items(BUCKETS)
    if only is not None:
        rows = [(n, r) for n, r in rows if n == only]
    for name, raw in rows:
        record = _load(raw)
        if not record["Notifications"]:
            continue
        path = record["Path"]
        if not Path(path).is_dir():
            if warn is not None:
                warn(
                    f"bucket {name}: its folder {path} does not exist; nothing is delivered "
                    f"until it is back (or 'lambdaver bucket delete {name}')"
                )
            continue
        current = scan(path)
        tags: dict[str, str | None] = {}
        silent: list[tuple[str, str, Entry]] = []
        for config in record["Notifications"]:
            ns = _objects_ns(name, config["Id"])
            recorded = {k: json.loads(v) for k, v in repo.meta.items(ns)}
            for key, (size, mtime) in current.items():
                old = recorded.get(key)
                if old is not None and old[0] == size and old[1] == mtime:
                    continue
                if key not in tags:
                    tags[key] = etag(f"{path}/{key}")
                tag = tags[key]
                if tag is None:
                    continue  # vanished meanwhile
                entry = [size, mtime, tag]
                if (old is not None and old[2] == tag) or not _wants(config, PUT, key):
                    silent.append((ns, key, entry))
                    continue
                d = _delivery(repo, name, config, PUT, key, entry, mtime)
                out.append((mtime, key, d))
            for key in sorted(set(recorded) - set(current)):
                if not _wants(config, DELETE, key):
                    silent.append((ns, key, []))
                    continue
                out.append((now, key, _delivery(repo, name, config, DELETE, key, None, now)))
        if silent:
            _record_silently(repo, silent)
    return [d for _t, _k, d in sorted(out, key=lambda x: (x[0], x[1]))]


def _delivery(
    repo: Repository, bucket: str, config: dict[str, Any], event_name: str, key: str,
    entry: Entry | None, at_ns: int,
) -> Delivery:  # fmt: skip
    return Delivery(
        kind=KIND,
        trigger=f"{KIND}:{bucket}",
        qualifier=config.get("Qualifier"),
        payload=_event(repo, bucket, config, event_name, key, entry, at_ns),
        state={"Bucket": bucket, "Id": config["Id"], "Key": key, "EventName": event_name,
               "Entry": entry, "FunctionArn": config["LambdaFunctionArn"]},
    )  # fmt: skip


def _record_silently(repo: Repository, changes: list[tuple[str, str, Entry]]) -> None:
    with repo.lock.held(), repo.meta.transaction():
        for ns, key, entry in changes:
            if entry:
                repo.meta.set_if_equals(ns, key, repo.meta.get(ns, key), json.dumps(entry))
            else:
                repo.meta.remove(ns, key)


def deliver(repo: Repository, delivery: Delivery, invoke: Invoke) -> Any:
    """Invoke the function with the delivery's S3 event, then record the object's new
    state for its configuration.  Nothing is recorded when ``invoke`` raises: the change
    is offered again at the next poll."""
    state = delivery.state
    try:
        result = invoke(delivery.qualifier, delivery.payload, delivery.trigger)
    except ResourceNotFoundException as exc:
        raise ResourceNotFoundException(
            f"{exc.message}: the target of bucket {state['Bucket']}'s notification "
            f"{state['Id']} no longer exists; the change to {state['Key']} is delivered once "
            f"it does, or run 'lambdaver bucket notify {state['Bucket']} --id {state['Id']} "
            "--function-arn ARN' to point it elsewhere"
        ) from exc
    with repo.lock.held():
        raw = repo.meta.get(BUCKETS, state["Bucket"])
        if raw is None or not any(c["Id"] == state["Id"] for c in _load(raw)["Notifications"]):
            return result  # deleted meanwhile: nothing to record
        ns = _objects_ns(state["Bucket"], state["Id"])
        with repo.meta.transaction():
            if state["Entry"] is not None:
                old = repo.meta.get(ns, state["Key"])
                repo.meta.set_if_equals(ns, state["Key"], old, json.dumps(state["Entry"]))
            else:
                repo.meta.remove(ns, state["Key"])
    return result


def describe(repo: Repository) -> list[dict[str, Any]]:
    """``triggers list``'s rows, one per notification configuration (the keys of
    service/triggers.py's ``Trigger``: Type, Id, Source, FunctionArn, Qualifier, State)."""
    rows = []
    for name, raw in repo.meta.items(BUCKETS):
        record = _load(raw)
        for c in record["Notifications"]:
            filters = "".join(f", {n.lower()} {c[n]}" for n in ("Prefix", "Suffix") if c.get(n))
            if Path(record["Path"]).is_dir():
                state = f"Enabled, {' '.join(c['Events'])}{filters}"
            else:
                state = f"Folder missing: {record['Path']}"
            rows.append(
                {
                    "Type": KIND,
                    "Id": f"{name}/{c['Id']}",
                    "Source": bucket_arn(name),
                    "FunctionArn": c["LambdaFunctionArn"],
                    "Qualifier": c.get("Qualifier"),
                    "State": state,
                }
            )
    return rows


def sync(
    repo: Repository, invoke: Invoke, only: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Deliver every pending change now (``bucket sync``): one row per delivery, with
    what the invocation gave or the error that stopped it."""
    if only is not None:
        _get(repo, only)
    rows = []
    for d in pending(repo, repo.clock(), only, warn):
        row: dict[str, Any] = {
            "Bucket": d.state["Bucket"],
            "Key": d.state["Key"],
            "EventName": d.state["EventName"],
            "Qualifier": d.qualifier or "$LATEST",
        }
        try:
            row.update(deliver(repo, d, invoke) or {})
        except LambdaverError as exc:
            row["Error"] = f"{exc.code}: {exc.message}"
        rows.append(row)
    return rows
