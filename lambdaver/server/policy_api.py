"""The REST API's resource-policy operations (lambda-semantics-2 §1.2): AddPermission
(``POST .../policy``, 201), GetPolicy (``GET .../policy``, 200) and RemovePermission
(``DELETE .../policy/{StatementId}``, 204; ``Qualifier`` and ``RevisionId`` in the query).
Registered in ``server/app.py``'s EXTENSION_MODULES."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdaver.errors import ResourceNotFoundException

if TYPE_CHECKING:
    from lambdaver.server.app import Api, Call, Result

API = "2015-03-31"


def dispatch(api: Api, call: Call) -> Result | None:
    s = call.segments
    if len(s) < 4 or s[0] != API or s[1] != "functions" or s[3] != "policy" or len(s) > 5:
        return None
    fn = s[2]
    if len(s) == 5:
        if call.method == "DELETE":
            return remove_permission(api, call, fn, s[4])
        return None
    if call.method == "POST":
        return add_permission(api, call, fn)
    if call.method == "GET":
        return get_policy(api, call, fn)
    return None


def add_permission(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import policy

    repo, qualifier = api.qualified(call, fn)
    result = policy.add_permission(
        repo,
        call.required("StatementId", str),
        call.required("Action", str),
        call.required("Principal", str),
        qualifier=qualifier,
        source_arn=call.field("SourceArn", str),
        source_account=call.field("SourceAccount", str),
        function_url_auth_type=call.field("FunctionUrlAuthType", str),
        principal_org_id=call.field("PrincipalOrgID", str),
        event_source_token=call.field("EventSourceToken", str),
        revision_id=call.field("RevisionId", str),
    )
    return 201, result.to_aws(), {}


def get_policy(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import policy

    try:
        repo, qualifier = api.qualified(call, fn)
    except ResourceNotFoundException as exc:  # a missing function: AWS's GetPolicy words
        raise ResourceNotFoundException(policy.NOT_FOUND) from exc
    return 200, policy.get_policy(repo, qualifier).to_aws(), {}


def remove_permission(api: Api, call: Call, fn: str, statement_id: str) -> Result:
    from lambdaver.service import policy

    try:
        repo, qualifier = api.qualified(call, fn)
    except ResourceNotFoundException as exc:
        if not exc.message.startswith("Function not found: "):
            raise
        arn = exc.message.removeprefix("Function not found: ")
        raise ResourceNotFoundException(f"No policy found for: {arn}") from exc
    policy.remove_permission(
        repo, statement_id, qualifier=qualifier, revision_id=call.query.get("RevisionId")
    )
    return 204, None, {}
