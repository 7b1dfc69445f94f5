"""One exception hierarchy, named after AWS Lambda's error codes.

The domain raises these with the data that explains them; exactly one place
(``lambdaver.cli.main.handle_error``) turns them into the aws CLI's one-line
message and an exit status.  Nothing here knows about click.
"""

from __future__ import annotations

# Exit statuses (docs/cli.md, "Exit statuses").
EXIT_OK = 0
EXIT_FUNCTION_ERROR = 1
EXIT_USAGE = 2
EXIT_AWS_USAGE = 252  # the aws CLI's own: a malformed value of one of its options
EXIT_REPOSITORY = 253
EXIT_SERVICE = 254
EXIT_BUG = 255
EXIT_INTERRUPTED = 130


class LambdaverError(Exception):
    """Base of every expected error.  ``code`` is the AWS-style error code."""

    code = "ServiceException"
    exit_status = EXIT_SERVICE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- errors the aws service would answer (exit 254) -------------------------


class ServiceError(LambdaverError):
    """An error the AWS Lambda service itself would return."""


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ResourceConflictException(ServiceError):
    code = "ResourceConflictException"


class InvalidParameterValueException(ServiceError):
    code = "InvalidParameterValueException"


class PreconditionFailedException(ServiceError):
    code = "PreconditionFailedException"

    MESSAGE = (
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
    )

    def __init__(self, expected: str | None = None, actual: str | None = None) -> None:
        super().__init__(self.MESSAGE)
        self.expected = expected
        self.actual = actual


class ValidationException(ServiceError):
    code = "ValidationException"

    def __init__(self, problems: list[str] | str) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        n = len(self.problems)
        noun = "error" if n == 1 else "errors"
        super().__init__(f"{n} validation {noun} detected: " + "; ".join(self.problems))

    @classmethod
    def constraint(cls, value: object, field: str, constraint: str) -> ValidationException:
        return cls(cls.problem(value, field, constraint))

    @staticmethod
    def problem(value: object, field: str, constraint: str) -> str:
        shown = "null" if value is None else f"'{value}'"  # AWS's Java rendering
        return f"Value {shown} at '{field}' failed to satisfy constraint: {constraint}"


class InvalidRequestContentException(ServiceError):
    code = "InvalidRequestContentException"


class RequestEntityTooLargeException(ServiceError):
    code = "RequestEntityTooLargeException"


class InvalidRuntimeException(ServiceError):
    """The function's runtime cannot run here (its interpreter is not installed)."""

    code = "InvalidRuntimeException"


class AccessDeniedException(ServiceError):
    code = "AccessDeniedException"


# --- problems with the repository itself (exit 253) -------------------------


class RepositoryError(LambdaverError):
    exit_status = EXIT_REPOSITORY


class RepositoryNotFound(RepositoryError):
    code = "RepositoryNotFound"


class RepositoryCorrupt(RepositoryError):
    code = "RepositoryCorrupt"


class UnsupportedRepositoryFormat(RepositoryError):
    code = "UnsupportedRepositoryFormat"


class IncompleteOperation(RepositoryError):
    """A checkout or import was interrupted; ``lambdaver recover`` completes it."""

    code = "IncompleteOperation"


class RepositoryIOError(RepositoryError):
    """The repository could not be read or written (permissions, full disk)."""

    code = "RepositoryIOError"


# --- errors the aws CLI itself reports, in its own words ---------------------


class CliError(LambdaverError):
    """An error the aws CLI reports itself, without calling the service: printed as its
    message alone (no "An error occurred ... when calling" line)."""

    plain = True


class ParamValidationError(CliError):
    """A malformed or unknown value of an aws option (``--color purple``,
    ``--cli-input-json`` that is not JSON, a bad ``--starting-token``): exit 252, as the
    aws CLI v2's parser errors."""

    code = "ParamValidation"
    exit_status = EXIT_AWS_USAGE


class ProfileNotFound(CliError):
    """``--profile P`` names no ``[profiles.P]`` table of the user config file."""

    code = "ProfileNotFound"
    exit_status = EXIT_BUG  # the aws CLI's 255

    def __init__(self, profile: str) -> None:
        super().__init__(f"The config profile ({profile}) could not be found")
        self.profile = profile


class WaiterError(CliError):
    """A ``wait`` condition that does not hold: ``Waiter NAME failed: REASON``, exit 255."""

    code = "WaiterError"
    exit_status = EXIT_BUG  # the aws CLI's 255

    def __init__(self, waiter: str, reason: str) -> None:
        super().__init__(f"Waiter {waiter} failed: {reason}")
        self.waiter = waiter
        self.reason = reason
