"""``bucket create/notify/list/delete/sync``: a local folder as an S3 bucket whose
notifications invoke this function.  Parsing and rendering only; the rules live in
``lambdaver.service.buckets``."""

from __future__ import annotations

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import VerbGroup, commands, get_app

_ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello:prod"


@click.group(cls=VerbGroup)
def bucket() -> None:
    """Buckets: a local folder as an S3 bucket; a file created, changed or removed in it
    invokes an alias with an S3 event.

    A bucket lives in the repository of its function; `lambdaver serve`, `lambdaver
    triggers poll` and `lambdaver bucket sync` deliver its changes."""


def _warn(message: str) -> None:
    click.echo(f"lambdaver: warning: {message}", err=True)


@bucket.command(
    "create",
    operation="CreateBucket",
    epilog=opt.epilog("lambdaver bucket create uploads --path ../uploads"),
)
@click.argument("name")
@click.option("--path", "path", required=True, metavar="DIR",
              help="The folder that holds the bucket's objects (made if missing).")  # fmt: skip
def create(name: str, path: str) -> None:
    """Make a folder a bucket."""
    from lambdaver.service import buckets as svc

    app = get_app()
    repo = app.unqualified_repo()
    result = svc.create_bucket(repo, name, path)
    if svc.inside_function(repo, result["Path"]):
        _warn(
            f"{result['Path']} is inside the function's directory: its files become "
            "$LATEST's code unless .lambdaverignore lists it"
        )
    app.emit(result)


@bucket.command(
    "notify",
    operation="PutBucketNotificationConfiguration",
    epilog=opt.epilog(
        f"lambdaver bucket notify uploads --function-arn {_ARN}",
        f"lambdaver bucket notify uploads --function-arn {_ARN} --events 's3:ObjectRemoved:*' "
        "--prefix photos/ --suffix .jpg --id photos",
    ),
)
@click.argument("name")
@click.option(
    "--function-arn",
    required=True,
    metavar="ARN",
    help="This function's ARN, with the alias or version to invoke.",
)
@click.option(
    "--events",
    "events",
    multiple=True,
    metavar="EVENT",
    help="An event type (repeatable; default s3:ObjectCreated:*).",
)
@click.option("--prefix", metavar="P", help="Only keys that begin with P.")
@click.option("--suffix", metavar="S", help="Only keys that end with S.")
@click.option(
    "--id",
    "config_id",
    metavar="ID",
    help="The configuration's Id (default: a new one); an existing Id is replaced.",
)
def notify(
    name: str, function_arn: str, events: tuple[str, ...], prefix: str | None,
    suffix: str | None, config_id: str | None,
) -> None:  # fmt: skip
    """Invoke a function when files change in the bucket.  Refused, as S3 refuses it,
    unless the qualifier's policy lets s3.amazonaws.com invoke it (add-permission)."""
    from lambdaver.service import buckets as svc

    app = get_app()
    app.emit(
        svc.notify(
            app.unqualified_repo(),
            name,
            function_arn,
            events=events or None,
            prefix=prefix,
            suffix=suffix,
            config_id=config_id,
        )
    )


@bucket.command(
    "list", operation="ListBuckets", epilog=opt.epilog("lambdaver bucket list --output table")
)
def list_() -> None:
    """List the buckets, their folders and how many notifications each has."""
    from lambdaver.service import buckets as svc

    app = get_app()
    app.emit(svc.list_buckets(app.unqualified_repo()))


@bucket.command(
    "delete", operation="DeleteBucket", epilog=opt.epilog("lambdaver bucket delete uploads")
)
@click.argument("name")
def delete(name: str) -> None:
    """Forget a bucket and its notifications (the folder and its files stay)."""
    from lambdaver.service import buckets as svc

    svc.delete_bucket(get_app().unqualified_repo(), name)


@bucket.command(
    "sync",
    operation="Invoke",
    epilog=opt.epilog("lambdaver bucket sync", "lambdaver bucket sync uploads"),
)
@click.argument("name", required=False)
def sync(name: str | None) -> None:
    """Deliver the changes made to the buckets' folders since they were last delivered
    (one invocation per change and notification), and print what each gave."""
    from lambdaver.service import buckets as svc
    from lambdaver.service.delivery import local_invoker

    app = get_app()
    repo = app.unqualified_repo()
    app.emit({"Deliveries": svc.sync(repo, local_invoker(repo), name, _warn)})


COMMANDS = commands(bucket)
