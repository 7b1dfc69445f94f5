"""Verbs for resource-based policies: ``add-permission``, ``get-policy``,
``remove-permission`` (aws spellings only).  Parsing and rendering only; the rules live in
``lambdaver.service.policy``."""

from __future__ import annotations

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import Verb, commands, get_app
from lambdaver.cli.options import epilog

POLICY_QUALIFIER = "A version number or an alias: the policy of that qualifier only."
POLICY_REVISION = "Only if the policy's RevisionId (from get-policy) is this."


@click.command(
    "add-permission",
    cls=Verb,
    epilog=epilog(
        "lambdaver add-permission --statement-id s3 --action lambda:InvokeFunction "
        "--principal s3.amazonaws.com --source-arn arn:aws:s3:::my-bucket --qualifier prod",
        "lambdaver add-permission --statement-id url --action lambda:InvokeFunctionUrl "
        "--principal '*' --function-url-auth-type NONE --qualifier prod",
    ),
)
@click.option("--statement-id", required=True, help="The statement's id (unique per policy).")
@click.option("--action", required=True, help="lambda:InvokeFunction, lambda:InvokeFunctionUrl…")
@click.option(
    "--principal",
    required=True,
    help="*, a service (s3.amazonaws.com), an account id or an IAM ARN.",
)
@click.option("--source-arn", help="Only for events from this ARN (ArnLike: * and ? match).")
@click.option("--source-account", help="Only for events from this account.")
@click.option("--event-source-token", help="Only with this event source token.")
@click.option("--principal-org-id", help="Only for principals of this organization.")
@click.option("--function-url-auth-type", help="NONE or AWS_IAM: only for function URL calls.")
@opt.qualifier(POLICY_QUALIFIER)
@opt.revision_id(POLICY_REVISION)
def add_permission(
    statement_id: str,
    action: str,
    principal: str,
    source_arn: str | None,
    source_account: str | None,
    event_source_token: str | None,
    principal_org_id: str | None,
    function_url_auth_type: str | None,
    qualifier: str | None,
    revision_id: str | None,
) -> None:
    """Allow PRINCIPAL to invoke the function (or one version or alias of it): a statement
    in that qualifier's resource-based policy.  Prints the statement, as a JSON string."""
    from lambdaver.service import policy

    app = get_app()
    repo = app.repo()
    app.emit(
        policy.add_permission(
            repo,
            statement_id,
            action,
            principal,
            qualifier=app.qualifier(qualifier),
            source_arn=source_arn,
            source_account=source_account,
            function_url_auth_type=function_url_auth_type,
            principal_org_id=principal_org_id,
            event_source_token=event_source_token,
            revision_id=revision_id,
        )
    )


@click.command(
    "get-policy",
    cls=Verb,
    epilog=epilog("lambdaver get-policy", "lambdaver get-policy --qualifier prod"),
)
@opt.qualifier(POLICY_QUALIFIER)
def get_policy(qualifier: str | None) -> None:
    """The resource-based policy of the function (or of one version or alias), as a JSON
    string, and its RevisionId."""
    from lambdaver.service import policy

    app = get_app()
    repo = app.repo()
    app.emit(policy.get_policy(repo, app.qualifier(qualifier)))


@click.command(
    "remove-permission",
    cls=Verb,
    epilog=epilog("lambdaver remove-permission --statement-id s3 --qualifier prod"),
)
@click.option("--statement-id", required=True, help="The statement to remove.")
@opt.qualifier(POLICY_QUALIFIER)
@opt.revision_id(POLICY_REVISION)
def remove_permission(statement_id: str, qualifier: str | None, revision_id: str | None) -> None:
    """Remove a statement from the policy of the function (or of one version or alias).
    Prints nothing."""
    from lambdaver.service import policy

    app = get_app()
    repo = app.repo()
    policy.remove_permission(
        repo, statement_id, qualifier=app.qualifier(qualifier), revision_id=revision_id
    )


COMMANDS = commands(add_permission, get_policy, remove_permission)
