"""A function's whole life: create one from a zip (``create-function``), delete one
(``delete-function`` without a qualifier).

Written for ``lambdaver serve``; the CLI's ``create-function`` and unqualified
``delete-function`` (built on another branch) do the same and should share these at merge.
"""

# str paths on purpose: str paths as the rest of service/ (init_function returns them)
# ruff: noqa: PTH104, PTH108, PTH112, PTH114, PTH118, PTH208
from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

from lambdaver.errors import InvalidParameterValueException, ResourceConflictException

if TYPE_CHECKING:
    from lambdaver.model.records import FunctionConfiguration
    from lambdaver.service.functions import ViewRenderer
    from lambdaver.service.repository import Repository
    from lambdaver.service.settings import Settings


def create_function(
    parent: str,
    settings: Settings,
    *,
    name: str,
    zip_bytes: bytes,
    runtime: str | None = None,
    handler: str | None = None,
    memory_size: int | None = None,
    timeout: int | None = None,
    description: str | None = None,
    environment: dict[str, str] | None = None,
    publish: bool = False,
    view: ViewRenderer | None = None,
) -> FunctionConfiguration:
    """Make the function directory ``parent/name`` from a deployment package: its code
    from the zip, ``lambdaver.toml`` from the configuration, then the repository.

    Everything that can be checked is checked before anything is written (the name, the
    configuration, the zip's directory); a failure after that removes what was made, so
    a refused create leaves nothing behind.  An existing ``parent/name`` that is not empty
    is refused (its files would be mixed with the zip's).
    """
    import shutil
    import zipfile

    from lambdaver.model.config import FunctionConfig, validate_environment
    from lambdaver.model.names import validate_function_name
    from lambdaver.service import code, functions

    validate_function_name(name)
    config = FunctionConfig(runtime=runtime or functions.default_runtime())
    given = {
        k: v
        for k, v in {
            "handler": handler,
            "memory_size": memory_size,
            "timeout": timeout,
            "description": description,
            "environment": environment,
        }.items()
        if v is not None
    }
    config = config.with_changes(**given)
    config.validate()
    validate_environment(config.environment)
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            code._check_zip(zf)
    except zipfile.BadZipFile as exc:
        raise InvalidParameterValueException(code.NOT_A_ZIP) from exc
    directory = os.path.join(parent, name)
    if os.path.lexists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise ResourceConflictException(
            f"Function already exist: {name} (the directory {directory} exists and is not empty)"
        )
    made = not os.path.lexists(directory)
    try:
        repo, _ = functions.init_function(
            directory,
            settings,
            name=name,
            runtime=config.runtime,
            handler=config.handler,
            memory_size=config.memory_size,
            timeout=config.timeout,
            description=config.description,
        )
        if environment:
            functions.update_configuration(repo, environment=environment)
        result = code.import_zip(
            repo, io.BytesIO(zip_bytes), force=True, publish=publish, view=view
        )
    except BaseException:
        if made:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for entry in os.listdir(directory):
                path = os.path.join(directory, entry)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
        raise
    return result.configuration


def delete_function(repo: Repository) -> None:
    """Delete the function: its repository (``.lambdaver/``: every version, alias and
    log) and ``lambdaver.toml``.  The code files of its directory stay, as they are.

    Under the repository's lock the repository is renamed aside in one step (so no other
    process sees half of it) and only then removed."""
    import shutil

    from lambdaver.storage.fileutil import tmp_name

    with repo.lock.held():
        aside = tmp_name(os.path.join(repo.root, ".lambdaver-deleted"))
        os.rename(repo.dot, aside)
    try:
        os.unlink(repo.function_file_path)
    except FileNotFoundError:
        pass
    shutil.rmtree(aside, ignore_errors=True)
