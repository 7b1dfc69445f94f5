"""``queue create/send/list/receive/delete-message/delete``: local queues, a stand-in for
SQS standard queues, in the repository of the function around (or the one
``--function-name`` names).  Parsing and rendering only; the rules live in
``lambdaver.service.queues``."""

from __future__ import annotations

from typing import Any

import click

from lambdaver.cli.app import VerbGroup, commands, get_app
from lambdaver.cli.options import epilog


@click.group(cls=VerbGroup)
def queue() -> None:
    """Local queues (SQS standard queues): create, send, list, receive, delete.

    A queue lives in the repository of the function in whose directory it is created;
    its ARN is arn:aws:sqs:REGION:ACCOUNT:NAME, which create-event-source-mapping takes.
    Messages are durable: once `queue send` printed a MessageId, the message survives a
    crash or a kill -9."""


def _repo() -> Any:
    return get_app().unqualified_repo()


@queue.command(
    "create",
    operation="CreateQueue",
    epilog=epilog(
        "lambdaver queue create orders",
        "lambdaver queue create orders-dlq && "
        "lambdaver queue create orders --dead-letter-queue orders-dlq --max-receive-count 3",
    ),
)
@click.argument("name")
@click.option(
    "--visibility-timeout",
    type=int,
    metavar="S",
    help="Seconds a received message stays invisible (0-43200, default 30).",
)
@click.option(
    "--dead-letter-queue",
    metavar="QUEUE",
    help="Where a message goes after --max-receive-count receives (name or ARN).",
)
@click.option("--max-receive-count", type=int, metavar="N",
              help="Receives before a message goes to the dead-letter queue (1-1000).")  # fmt: skip
def queue_create(
    name: str,
    visibility_timeout: int | None,
    dead_letter_queue: str | None,
    max_receive_count: int | None,
) -> None:
    """Create queue NAME (1-80 of A-Z, a-z, 0-9, - and _; FIFO queues are not
    supported).  Creating an existing queue with the same attributes shows it."""
    from lambdaver.service import queues

    get_app().emit(
        queues.create_queue(
            _repo(),
            name,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=dead_letter_queue,
            max_receive_count=max_receive_count,
        )
    )


@queue.command(
    "send",
    operation="SendMessage",
    epilog=epilog(
        "lambdaver queue send orders '{\"id\": 1}'",
        "lambdaver queue send orders --file order.json",
    ),
)
@click.argument("name")
@click.argument("body", required=False)
@click.option("--file", "file", metavar="PATH", help="Read the body from PATH (- : stdin).")
def queue_send(name: str, body: str | None, file: str | None) -> None:
    """Send a message (BODY, or the contents of --file) to queue NAME; prints its
    MessageId and MD5OfMessageBody, as SQS's SendMessage."""
    from lambdaver.service import queues

    repo = _repo()
    get_app().emit(queues.send_message(repo, name, queues.read_body(body, file)))


@queue.command("list", operation="ListQueues", epilog=epilog("lambdaver queue list"))
def queue_list() -> None:
    """The queues of this function's repository, with their ARNs and message counts."""
    from lambdaver.service import queues

    get_app().emit(queues.list_queues(_repo()))


@queue.command(
    "receive",
    operation="ReceiveMessage",
    epilog=epilog("lambdaver queue receive orders --max-messages 10"),
)
@click.argument("name")
@click.option(
    "--max-messages",
    type=int,
    default=1,
    show_default=True,
    metavar="N",
    help="At most N messages (1-10).",
)
@click.option("--visibility-timeout", type=int, metavar="S",
              help="Invisible for S seconds (default: the queue's).")  # fmt: skip
def queue_receive(name: str, max_messages: int, visibility_timeout: int | None) -> None:
    """Receive messages as SQS's ReceiveMessage: they become invisible for the visibility
    timeout (then visible again unless deleted with `queue delete-message`); each has a
    ReceiptHandle.  Prints {"Messages": [...]} (an empty list when none is visible)."""
    from lambdaver.service import queues

    get_app().emit(
        queues.receive_messages(
            _repo(), name, max_messages=max_messages, visibility_timeout=visibility_timeout
        )
    )


@queue.command(
    "delete-message",
    operation="DeleteMessage",
    epilog=epilog("lambdaver queue delete-message orders RECEIPT_HANDLE"),
)
@click.argument("name")
@click.argument("receipt_handle")
def queue_delete_message(name: str, receipt_handle: str) -> None:
    """Delete a received message by its (latest) ReceiptHandle."""
    from lambdaver.service import queues

    queues.delete_message(_repo(), name, receipt_handle)


@queue.command("delete", operation="DeleteQueue", epilog=epilog("lambdaver queue delete orders"))
@click.argument("name")
def queue_delete(name: str) -> None:
    """Delete queue NAME and its messages.  Refused while an event source mapping reads it
    or it is another queue's dead-letter queue."""
    from lambdaver.service import queues

    queues.delete_queue(_repo(), name)


COMMANDS = commands(queue)
