"""Resource-based policies, one per qualifier: ``add-permission``, ``get-policy``,
``remove-permission``, and :func:`allows` (does a qualifier's policy let a principal
invoke?), which triggers and function URLs ask before they invoke.

A policy is a ref in the ``policies`` namespace of the metadata store, named after its
qualifier (the unqualified function's is named ``$LATEST``: AWS refuses a policy *for*
``$LATEST`` itself, so the name is free).  Its value is JSON ``{"RevisionId": ...,
"Statement": [...]}``, statements in insertion order with AWS's key order (lambda-semantics-2
§3.1).  Every change runs under the repository lock, re-reads the policy inside it and
writes in one SQLite transaction, so a crash leaves the old policy or the new one.

Adding or removing a permission on an alias also gives the alias a new RevisionId, the
policy's (as AWS does: "function revision is the same as policy revision").  A published
version's record is immutable here, so its RevisionId stays; the policy carries its own.
Deleting an alias or a version deletes its policy (``service.qualified.forget_qualifier``,
called in the same transaction).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from lambdaver.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceError,
    ValidationException,
)
from lambdaver.model.names import LATEST, QUALIFIER_PATTERN, is_version_number
from lambdaver.service.qualified import POLICIES
from lambdaver.service.repository import ALIASES, VERSIONS
from lambdaver.storage.metadata import Conflict
from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.service.repository import Repository

#: The ref name of the unqualified function's policy.
UNQUALIFIED = LATEST

STATEMENT_ID_PATTERN = "([a-zA-Z0-9-_]+)"
REMOVE_STATEMENT_ID_PATTERN = "([a-zA-Z0-9-_.]+)"
ACTION_PATTERN = "(lambda:[*]|lambda:[a-zA-Z]+|[*])"
PRINCIPAL_PATTERN = r"[^\s]+"
SOURCE_ARN_PATTERN = (
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?"
    r"-[a-z]+-\d{1})?:(\d{12})?:(.*)"
)
SOURCE_ACCOUNT_PATTERN = r"\d{12}"
EVENT_SOURCE_TOKEN_PATTERN = r"[a-zA-Z0-9._\-]+"  # noqa: S105 - a pattern
PRINCIPAL_ORG_ID_PATTERN = "o-[a-z0-9]{10,32}"
AUTH_TYPES = ("NONE", "AWS_IAM")

#: A service principal (``s3.amazonaws.com``, ``alexa-appkit.amazon.com``).
_SERVICE_RE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazon(aws)?\.com(\.cn)?")
#: An IAM principal's ARN (``arn:aws:iam::123456789012:role/x``, ``...:root``).
_IAM_ARN_RE = re.compile(r"arn:aws[a-zA-Z-]*:(iam|sts)::\d{12}:\S+")

#: Lambda's limit on the size of one policy document.
POLICY_LIMIT = 20480

NOT_FOUND = "The resource you requested does not exist."


class PolicyLengthExceededException(ServiceError):
    code = "PolicyLengthExceededException"


class PolicyPreconditionFailed(PreconditionFailedException):
    """A RevisionId mismatch on AddPermission or RemovePermission, in AWS's 2025 words."""

    MESSAGE = (
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetPolicy API to retrieve the latest Revision Id"
    )


# --- results -------------------------------------------------------------------------------


class StatementResult(Value):
    """AddPermission's result: the statement as a JSON string."""

    statement: dict[str, Any]

    def to_aws(self) -> dict[str, Any]:
        return {"Statement": _dumps(self.statement)}


class PolicyResult(Value):
    """GetPolicy's result: the policy document as a JSON string, and its RevisionId."""

    statements: list[dict[str, Any]]
    revision_id: str

    def document(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Id": "default", "Statement": self.statements}

    def to_aws(self) -> dict[str, Any]:
        return {"Policy": _dumps(self.document()), "RevisionId": self.revision_id}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# --- reading ---------------------------------------------------------------------------------


def _ref(qualifier: str | None) -> str:
    return UNQUALIFIED if qualifier is None or qualifier == LATEST else qualifier


def _load(repo: Repository, qualifier: str | None) -> tuple[str | None, dict[str, Any] | None]:
    raw = repo.meta.get(POLICIES, _ref(qualifier))
    return raw, (json.loads(raw) if raw is not None else None)


def statements(repo: Repository, qualifier: str | None) -> list[dict[str, Any]]:
    """The statements of the qualifier's policy (none: ``[]``); ``None``/``$LATEST``: the
    unqualified function's."""
    _raw, policy = _load(repo, qualifier)
    return list(policy["Statement"]) if policy else []


def _matches(pattern: str, value: str) -> bool:
    """IAM's ``ArnLike``/``StringLike``: ``*`` any run of characters, ``?`` one."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.DOTALL) is not None


def _principal_matches(principal_field: Any, principal: str) -> bool:
    if principal_field == "*":
        return True
    if not isinstance(principal_field, dict):
        return False
    for key in ("Service", "AWS"):
        value = principal_field.get(key)
        names = value if isinstance(value, list) else [value]
        for name in names:
            if not isinstance(name, str):
                continue
            if name in ("*", principal):
                return True
            # an account's root allows the account itself and its IAM principals
            m = re.fullmatch(r"arn:aws[a-zA-Z-]*:iam::(\d{12}):root", name)
            if m and (principal == m.group(1) or f"::{m.group(1)}:" in principal):
                return True
    return False


def _action_matches(action_field: Any, action: str) -> bool:
    actions = action_field if isinstance(action_field, list) else [action_field]
    return any(isinstance(a, str) and _matches(a, action) for a in actions)


def _conditions_hold(condition: Any, context: dict[str, str | None]) -> bool:
    """Every condition holds for ``context`` (keys compared case-insensitively, as IAM
    does); a key the request does not carry fails the condition, as IAM's do."""
    if not condition:
        return True
    given = {k.lower(): v for k, v in context.items() if v is not None}
    for operator, tests in condition.items():
        for key, expected in (tests or {}).items():
            value = given.get(key.lower())
            if value is None:
                return False
            wanted = expected if isinstance(expected, list) else [expected]
            if operator in ("StringEquals", "ArnEquals"):
                ok = value in wanted
            elif operator in ("ArnLike", "StringLike"):
                ok = any(_matches(str(w), value) for w in wanted)
            else:
                ok = False  # an operator we do not evaluate allows nothing
            if not ok:
                return False
    return True


def allows(
    repo: Repository,
    qualifier: str | None,
    principal: str,
    source_arn: str | None = None,
    source_account: str | None = None,
    *,
    action: str = "lambda:InvokeFunction",
    url_auth_type: str | None = None,
) -> bool:
    """Does the qualifier's policy let ``principal`` (``s3.amazonaws.com``, ``*``, an
    account or an IAM ARN) perform ``action`` on it?  ``None``/``$LATEST``: the unqualified
    function's policy.  Only the exact qualifier's policy counts (a permission on alias
    ``prod`` does not cover the version prod points to).  Conditions are matched as IAM
    matches them: ``ArnLike`` on ``AWS:SourceArn`` with ``*``/``?`` wildcards,
    ``StringEquals`` on ``AWS:SourceAccount`` and ``lambda:FunctionUrlAuthType``
    (``url_auth_type``: the URL's auth type, for a function URL request); a condition on a
    key the caller does not give fails."""
    context = {
        "AWS:SourceArn": source_arn,
        "AWS:SourceAccount": source_account,
        "lambda:FunctionUrlAuthType": url_auth_type,
    }
    allowed = False
    for st in statements(repo, qualifier):
        if not _principal_matches(st.get("Principal"), principal):
            continue
        if not _action_matches(st.get("Action"), action):
            continue
        if not _conditions_hold(st.get("Condition"), context):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            allowed = True
    return allowed


# --- validation ------------------------------------------------------------------------------


def _pattern_problem(value: str | None, field: str, pattern: str, problems: list[str]) -> None:
    if value is not None and not re.fullmatch(pattern, value):
        problems.append(
            ValidationException.problem(
                value, field, f"Member must satisfy regular expression pattern: {pattern}"
            )
        )


def _length_problem(
    value: str | None, field: str, low: int, high: int, problems: list[str]
) -> None:
    if value is None:
        return
    if len(value) > high:
        problems.append(
            ValidationException.problem(
                value, field, f"Member must have length less than or equal to {high}"
            )
        )
    if len(value) < low:
        problems.append(
            ValidationException.problem(
                value, field, f"Member must have length greater than or equal to {low}"
            )
        )


def _qualifier_problems(qualifier: str | None, problems: list[str]) -> None:
    _length_problem(qualifier, "qualifier", 1, 128, problems)
    if qualifier:
        _pattern_problem(qualifier, "qualifier", QUALIFIER_PATTERN, problems)


def principal_json(principal: str) -> Any:
    """AWS's ``Principal`` for ``--principal`` (lambda-semantics-2 §3.1)."""
    if principal == "*":
        return "*"
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if _IAM_ARN_RE.fullmatch(principal):
        return {"AWS": principal}
    if _SERVICE_RE.fullmatch(principal):
        return {"Service": principal}
    raise InvalidParameterValueException(
        "The provided principal was invalid. Please check the principal and try again."
    )


# --- the target of a change ---------------------------------------------------------------------


def _check_target(repo: Repository, qualifier: str | None) -> Any:
    """The alias state (or None) that the qualifier names; AWS's "not found" otherwise."""
    from lambdaver.model.records import AliasState

    if qualifier is None or qualifier == LATEST:
        return None
    if is_version_number(qualifier):
        if repo.meta.get(VERSIONS, qualifier) is None:
            raise ResourceNotFoundException(f"Function not found: {repo.arns.function(qualifier)}")
        return None
    raw = repo.meta.get(ALIASES, qualifier)
    if raw is None:
        if "$" in qualifier:  # not an alias name: AWS looks for a function version
            raise ResourceNotFoundException(f"Function not found: {repo.arns.function(qualifier)}")
        raise ResourceNotFoundException(f"Cannot find alias arn: {repo.arns.function(qualifier)}")
    return AliasState.from_json(raw)


def _target_revision(repo: Repository, qualifier: str | None, alias: Any) -> str:
    """The current RevisionId of what the qualifier names (no policy yet: AWS accepts it)."""
    if alias is not None:
        return str(alias.revision_id)
    if qualifier is not None and qualifier != LATEST:
        from lambdaver.service.functions import get_version_record

        rec = get_version_record(repo, qualifier)
        return rec.revision_id if rec is not None else ""
    from lambdaver.service.functions import current_revision_id

    return current_revision_id(repo, repo.scan_latest(), repo.function.config)


def _write(
    repo: Repository,
    qualifier: str | None,
    old: str | None,
    policy: dict[str, Any] | None,
    alias: Any,
) -> None:
    """Replace the policy (``None``: remove it) and move the alias's RevisionId with it, in
    one transaction.  The caller holds the lock."""
    meta = repo.meta
    name = _ref(qualifier)
    try:
        with meta.transaction():
            if policy is None:
                meta.set_if_equals(POLICIES, name, old, "")  # Conflict if changed meanwhile
                meta.remove(POLICIES, name)
            elif old is None:
                meta.add_if_new(POLICIES, name, json.dumps(policy, separators=(",", ":")))
            else:
                meta.set_if_equals(POLICIES, name, old, json.dumps(policy, separators=(",", ":")))
            if alias is not None:
                rev = policy["RevisionId"] if policy is not None else repo.new_id()
                meta.set_if_equals(
                    ALIASES, alias.name, alias.to_json(), alias.replace(revision_id=rev).to_json(),
                    alias.version, alias.additional_version,
                )  # fmt: skip
    except Conflict as exc:  # we hold the lock: only a writer that ignores it gets here
        raise ResourceConflictException(
            "The policy was changed by another process; try again"
        ) from exc


# --- operations ---------------------------------------------------------------------------


def add_permission(
    repo: Repository,
    statement_id: str,
    action: str,
    principal: str,
    *,
    qualifier: str | None = None,
    source_arn: str | None = None,
    source_account: str | None = None,
    function_url_auth_type: str | None = None,
    principal_org_id: str | None = None,
    event_source_token: str | None = None,
    revision_id: str | None = None,
) -> StatementResult:
    """``add-permission``: one statement in the qualifier's policy (lambda-semantics-2
    §3.1), checked in AWS's order: the fields' constraints, ``$LATEST``, the qualifier
    exists, the principal, the RevisionId, a duplicate Sid, the size limit."""
    problems: list[str] = []
    _length_problem(statement_id, "statementId", 1, 100, problems)
    if statement_id:
        _pattern_problem(statement_id, "statementId", STATEMENT_ID_PATTERN, problems)
    _length_problem(action, "action", 0, 10000, problems)
    _pattern_problem(action, "action", ACTION_PATTERN, problems)
    _length_problem(principal, "principal", 0, 2048, problems)
    _pattern_problem(principal, "principal", PRINCIPAL_PATTERN, problems)
    _length_problem(source_arn, "sourceArn", 0, 10000, problems)
    _pattern_problem(source_arn, "sourceArn", SOURCE_ARN_PATTERN, problems)
    _length_problem(source_account, "sourceAccount", 0, 12, problems)
    _pattern_problem(source_account, "sourceAccount", SOURCE_ACCOUNT_PATTERN, problems)
    _length_problem(event_source_token, "eventSourceToken", 0, 256, problems)
    _pattern_problem(event_source_token, "eventSourceToken", EVENT_SOURCE_TOKEN_PATTERN, problems)
    _qualifier_problems(qualifier, problems)
    _length_problem(principal_org_id, "principalOrgID", 12, 34, problems)
    _pattern_problem(principal_org_id, "principalOrgID", PRINCIPAL_ORG_ID_PATTERN, problems)
    if function_url_auth_type is not None and function_url_auth_type not in AUTH_TYPES:
        problems.append(
            ValidationException.problem(
                function_url_auth_type,
                "functionUrlAuthType",
                "Member must satisfy enum value set: [NONE, AWS_IAM]",
            )
        )
    if problems:
        raise ValidationException(problems)
    if qualifier == LATEST:
        raise InvalidParameterValueException(
            "We currently do not support adding policies for $LATEST."
        )
    with repo.lock.held():
        alias = _check_target(repo, qualifier)
        principal_value = principal_json(principal)
        old, policy = _load(repo, qualifier)
        if revision_id is not None:
            current = policy["RevisionId"] if policy else _target_revision(repo, qualifier, alias)
            if revision_id != current:
                raise PolicyPreconditionFailed(revision_id, current)
        existing = list(policy["Statement"]) if policy else []
        if any(st.get("Sid") == statement_id for st in existing):
            raise ResourceConflictException(
                f"The statement id ({statement_id}) provided already exists. Please provide a "
                "new statement id, or remove the existing statement."
            )
        statement: dict[str, Any] = {
            "Sid": statement_id,
            "Effect": "Allow",
            "Principal": principal_value,
            "Action": action,
            "Resource": repo.arns.function(None if qualifier == LATEST else qualifier),
        }
        equals = {
            "AWS:SourceAccount": source_account,
            "lambda:FunctionUrlAuthType": function_url_auth_type,
            "aws:PrincipalOrgID": principal_org_id,
            "lambda:EventSourceToken": event_source_token,
        }
        condition: dict[str, Any] = {}
        if any(v is not None for v in equals.values()):
            condition["StringEquals"] = {k: v for k, v in equals.items() if v is not None}
        if source_arn is not None:
            condition["ArnLike"] = {"AWS:SourceArn": source_arn}
        if condition:
            statement["Condition"] = condition
        new_policy = {"RevisionId": repo.new_id(), "Statement": [*existing, statement]}
        size = len(_dumps(PolicyResult([*existing, statement], "").document()).encode())
        if size > POLICY_LIMIT:
            raise PolicyLengthExceededException(
                f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT})."
            )
        _write(repo, qualifier, old, new_policy, alias)
        return StatementResult(statement)


def get_policy(repo: Repository, qualifier: str | None = None) -> PolicyResult:
    """``get-policy``: the qualifier's policy; none (or no such version or alias): AWS's
    "The resource you requested does not exist." """
    problems: list[str] = []
    _qualifier_problems(qualifier, problems)
    if problems:
        raise ValidationException(problems)
    _raw, policy = _load(repo, qualifier)
    if not policy or not policy["Statement"]:
        raise ResourceNotFoundException(NOT_FOUND)
    return PolicyResult(list(policy["Statement"]), policy["RevisionId"])


def remove_permission(
    repo: Repository,
    statement_id: str,
    *,
    qualifier: str | None = None,
    revision_id: str | None = None,
) -> None:
    """``remove-permission``: removing the last statement removes the policy."""
    problems: list[str] = []
    _length_problem(statement_id, "statementId", 1, 100, problems)
    if statement_id:
        _pattern_problem(statement_id, "statementId", REMOVE_STATEMENT_ID_PATTERN, problems)
    _qualifier_problems(qualifier, problems)
    if problems:
        raise ValidationException(problems)
    with repo.lock.held():
        alias = _check_target(repo, qualifier)
        old, policy = _load(repo, qualifier)
        if not policy or not policy["Statement"]:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        if revision_id is not None and revision_id != policy["RevisionId"]:
            raise PolicyPreconditionFailed(revision_id, policy["RevisionId"])
        kept = [st for st in policy["Statement"] if st.get("Sid") != statement_id]
        if len(kept) == len(policy["Statement"]):
            raise ResourceNotFoundException(
                f"Statement {statement_id} is not found in resource policy."
            )
        new_policy = {"RevisionId": repo.new_id(), "Statement": kept} if kept else None
        _write(repo, qualifier, old, new_policy, alias)
