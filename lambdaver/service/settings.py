"""The user config file: region, account id, default output."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lambdaver.errors import InvalidParameterValueException

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"
OUTPUTS = ("json", "table", "text")
_REGION_RE = r"[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}"
_ACCOUNT_RE = r"\d{12}"


@dataclass(frozen=True)
class Settings:
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT
    output: str | None = None
    path: Path | None = None


def config_path() -> Path:
    """``$LAMBDAVER_CONFIG``, else ``<platformdirs user config dir>/lambdaver/config.toml``."""
    env = os.environ.get("LAMBDAVER_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("lambdaver", appauthor=False)) / "config.toml"


def load_settings() -> Settings:
    path = config_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Settings(path=path)
    except OSError as exc:
        raise InvalidParameterValueException(f"Cannot read {path}: {exc.strerror}") from exc
    import tomllib

    try:
        raw = tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParameterValueException(f"{path}: invalid TOML: {exc}") from exc
    unknown = set(raw) - {"region", "account_id", "output"}
    if unknown:
        raise InvalidParameterValueException(
            f"{path}: unknown setting(s): {', '.join(sorted(unknown))} "
            "(known: region, account_id, output)"
        )
    region = raw.get("region", DEFAULT_REGION)
    account = str(raw.get("account_id", DEFAULT_ACCOUNT))
    output = raw.get("output")
    if not isinstance(region, str) or not re.fullmatch(_REGION_RE, region):
        raise InvalidParameterValueException(f"{path}: region {region!r} is not an AWS region name")
    if not re.fullmatch(_ACCOUNT_RE, account):
        raise InvalidParameterValueException(
            f"{path}: account_id must be 12 digits, not {account!r}"
        )
    if output is not None and output not in OUTPUTS:
        raise InvalidParameterValueException(
            f"{path}: output must be one of {', '.join(OUTPUTS)}, not {output!r}"
        )
    return Settings(region=region, account_id=account, output=output, path=path)
