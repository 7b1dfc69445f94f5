"""``lambdaver.toml``: read with errors that name the file and the line; write atomically."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lambdaver.errors import InvalidParameterValueException, LambdaverError, ValidationException
from lambdaver.model.config import FunctionConfig, validate_config
from lambdaver.model.names import validate_function_name
from lambdaver.storage import derived
from lambdaver.storage.fileutil import atomic_write
from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.storage.fileutil import StrPath

FUNCTION_FILE = "lambdaver.toml"
KEYS = ("name", "runtime", "handler", "memory_size", "timeout", "description", "environment")


class FunctionFile(Value):
    name: str
    config: FunctionConfig


def _line_of(text: str, key: str, table: str | None = None) -> int | None:
    current: str | None = None
    pat = re.compile(rf"""^\s*(?:"{re.escape(key)}"|'{re.escape(key)}'|{re.escape(key)})\s*=""")
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[] ")
            continue
        if current == table and pat.match(line):
            return no
    return None


def _table_line(text: str, table: str) -> int | None:
    for no, line in enumerate(text.splitlines(), 1):
        if line.strip().replace(" ", "") == f"[{table}]":
            return no
    return None


def _where(path: StrPath, line: int | None) -> str:
    return f"{path}, line {line}" if line else str(path)


def read_function_file(path: StrPath) -> FunctionFile:
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError as exc:
        raise InvalidParameterValueException(
            f"{path} is missing: it holds the function's name and configuration "
            "(recreate it, or run 'lambdaver checkout' to restore a version's)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidParameterValueException(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise InvalidParameterValueException(f"Cannot read {path}: {exc.strerror}") from exc
    import tomllib

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        line = int(m.group(1)) if m else None
        raise InvalidParameterValueException(f"{_where(path, line)}: invalid TOML: {exc}") from exc

    def fail(key: str, message: str, table: str | None = None) -> LambdaverError:
        where = _where(path, _line_of(text, key, table))
        return ValidationException(f"{where}: {message}")

    for key in raw:
        if key not in KEYS:
            raise fail(key, f"unknown key '{key}' (known: {', '.join(KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str):
        raise fail("name", "'name' must be set to the function's name (a string)")
    types: dict[str, type] = {
        "runtime": str,
        "handler": str,
        "memory_size": int,
        "timeout": int,
        "description": str,
    }
    values: dict[str, Any] = {}
    for key, typ in types.items():
        if key in raw:
            v = raw[key]
            if not isinstance(v, typ) or isinstance(v, bool):
                raise fail(key, f"'{key}' must be {'an integer' if typ is int else 'a string'}")
            values[key] = v
    if "runtime" not in values:
        raise fail("runtime", "'runtime' must be set (e.g. runtime = \"python3.12\")")
    env = raw.get("environment")
    if env is not None:
        if not isinstance(env, dict):
            raise fail("environment", "'environment' must be a table of NAME = \"value\"")
        for k, v in env.items():
            if not isinstance(v, str):
                raise fail(k, f"environment variable '{k}' must be a string", "environment")
    config = FunctionConfig(environment=dict(env) if env is not None else None, **values)
    try:
        validate_function_name(name, "name")
        validate_config(config)
    except LambdaverError as exc:
        bad_key = _key_named_in(exc.message)
        if bad_key == "environment":
            line = _table_line(text, "environment") or _line_of(text, "environment")
        else:
            line = _line_of(text, bad_key) if bad_key else None
        exc.message = f"{_where(path, line)}: {exc.message}"
        exc.args = (exc.message,)
        raise
    return FunctionFile(name=name, config=config)


_AWS_TO_TOML = {
    "memorySize": "memory_size",
    "timeout": "timeout",
    "handler": "handler",
    "description": "description",
    "runtime": "runtime",
    "name": "name",
    "environment.variables": "environment",
}


def _key_named_in(message: str) -> str | None:
    m = re.search(r"at '([A-Za-z.]+)'", message)
    if m:
        return _AWS_TO_TOML.get(m.group(1))
    if "environment variables" in message:
        return "environment"
    return None


def render_function_file(name: str, config: FunctionConfig) -> bytes:
    import tomli_w

    doc: dict[str, Any] = {"name": name}
    rec = config.to_record()
    env = rec.pop("environment", None)
    doc.update(rec)
    if env is not None:
        doc["environment"] = env
    return tomli_w.dumps(doc).encode()


def write_function_file(path: StrPath, name: str, config: FunctionConfig) -> None:
    atomic_write(path, render_function_file(name, config))


# --- a parsed copy, so that read-only verbs need not load the TOML parser -----------------
# (storage/derived.py owns the file, its key and the racy-clean rule)

#: The parsed copy is Python's marshal format (JSON would cost a module import at start-up).
CACHE_FORMAT = 2  # 2: the stat key is a tuple


def read_function_cache(cache: StrPath) -> tuple[str, dict[str, Any]] | None:
    """The parsed copy ``(name, configuration record)``, whatever the file is now (for
    checkout, when lambdaver.toml is missing)."""
    loaded = derived.read(cache, CACHE_FORMAT, 3)
    if loaded is None or not isinstance(loaded[1], str) or not isinstance(loaded[2], dict):
        return None
    return loaded[1], loaded[2]


def load_function_file(path: StrPath, cache: StrPath) -> tuple[FunctionFile, bool]:
    """``lambdaver.toml``, from the parsed copy in ``cache`` when the file is unchanged
    since that copy was made (same size, mtime, inode and ctime), else parsed afresh; and
    whether the copy served it."""
    cached = derived.load_parsed(cache, CACHE_FORMAT, path, 2)
    if cached is not None:
        try:
            return FunctionFile(cached[0], FunctionConfig.from_record(cached[1])), True
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
    return read_function_file(path), False


def save_function_cache(path: StrPath, cache: StrPath, fn: FunctionFile, now_ns: int) -> None:
    """Remember the parsed file (unless it changed within the racy-clean margin)."""
    derived.save_parsed(cache, CACHE_FORMAT, path, now_ns, fn.name, fn.config.to_record())
