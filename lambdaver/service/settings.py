"""The user config file: region, account id, default output, and named profiles of them.

Where the file lives is platformdirs' answer (or ``$LAMBDAVER_CONFIG``).  Importing
platformdirs and the TOML parser costs several milliseconds, more than the rest of a
read verb's start-up, so a repository remembers the answer in ``.lambdaver/cache/settings``
(a *memo*): the file's path, its stat and the values it held, keyed by everything
platformdirs' answer depends on (``storage.derived.environment_key`` and the stat of the
installed platformdirs).  A memo whose key or file stat differs is ignored and the
settings are read afresh.  The file, its keys and the racy-clean rule are
storage/derived.py's.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from lambdaver.errors import InvalidParameterValueException, ProfileNotFound
from lambdaver.value import Value

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"
OUTPUTS = ("json", "table", "text")
REGION_PATTERN = r"[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}"
_ACCOUNT_RE = r"\d{12}"
MEMO_FORMAT = 2  # 2: the values carry the profiles


#: A profile of the config file: its name, and the region, account_id and output it sets
#: (None: the file's own value).
Profile = tuple[str, str | None, str | None, str | None]


class Settings(Value):
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT
    output: str | None = None
    path: str | None = None
    profiles: tuple[Profile, ...] = ()

    def values(self) -> tuple[str, str, str | None, tuple[Profile, ...]]:
        """What the config file says (without where it is)."""
        return (self.region, self.account_id, self.output, self.profiles)

    def for_call(self, profile: str | None = None, region: str | None = None) -> Settings:
        """The settings of one command: the ``[profiles.NAME]`` table's values over the
        file's own (``ProfileNotFound`` when there is no such table; ``default`` is the
        file's own values when it has no table of that name), then ``--region``."""
        settings = self
        if profile is not None:
            found = [p for p in self.profiles if p[0] == profile]
            if not found and profile != "default":
                raise ProfileNotFound(profile)
            if found:
                _name, p_region, p_account, p_output = found[0]
                settings = settings.replace(
                    region=p_region or settings.region,
                    account_id=p_account or settings.account_id,
                    output=p_output or settings.output,
                )
        if region is not None:
            settings = settings.replace(region=region)
        return settings


def config_path() -> str:
    """``$LAMBDAVER_CONFIG``, else ``<platformdirs user config dir>/lambdaver/config.toml``."""
    env = os.environ.get("LAMBDAVER_CONFIG")
    if env:
        return env
    import platformdirs

    return os.path.join(platformdirs.user_config_dir("lambdaver", appauthor=False), "config.toml")


_KEYS = ("region", "account_id", "output")


def _checked(where: str, table: dict[str, Any], known: tuple[str, ...]) -> tuple[Any, Any, Any]:
    """A table's region, account_id and output (None where not set), checked."""
    import re

    unknown = set(table) - set(known)
    if unknown:
        raise InvalidParameterValueException(
            f"{where}: unknown setting(s): {', '.join(sorted(unknown))} (known: {', '.join(known)})"
        )
    region = table.get("region")
    account = table.get("account_id")
    output = table.get("output")
    if region is not None and (
        not isinstance(region, str) or not re.fullmatch(REGION_PATTERN, region)
    ):
        raise InvalidParameterValueException(
            f"{where}: region {region!r} is not an AWS region name"
        )
    if account is not None:
        account = str(account)
        if not re.fullmatch(_ACCOUNT_RE, account):
            raise InvalidParameterValueException(
                f"{where}: account_id must be 12 digits, not {account!r}"
            )
    if output is not None and output not in OUTPUTS:
        raise InvalidParameterValueException(
            f"{where}: output must be one of {', '.join(OUTPUTS)}, not {output!r}"
        )
    return region, account, output


def parse_settings(path: str, data: bytes) -> Settings:
    """The settings in config file ``path`` whose bytes are ``data``."""
    import tomllib

    try:
        raw = tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParameterValueException(f"{path}: invalid TOML: {exc}") from exc
    region, account, output = _checked(path, raw, (*_KEYS, "profiles"))
    tables = raw.get("profiles", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise InvalidParameterValueException(
            f'{path}: profiles must be tables, e.g. [profiles.dev] with region = "eu-west-1"'
        )
    profiles = tuple(
        (name, *_checked(f"{path}: [profiles.{name}]", table, _KEYS))
        for name, table in tables.items()
    )
    return Settings(
        region=region or DEFAULT_REGION,
        account_id=account or DEFAULT_ACCOUNT,
        output=output,
        path=path,
        profiles=profiles,
    )


def _read(path: str) -> Settings:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Settings(path=path)
    except OSError as exc:
        raise InvalidParameterValueException(f"Cannot read {path}: {exc.strerror}") from exc
    return parse_settings(path, data)


def load_settings() -> Settings:
    """The user's settings, read afresh."""
    return _read(config_path())


# --- the memo -------------------------------------------------------------------------


class SettingsMemo:
    """``.lambdaver/cache/settings``: what :func:`load_settings` found, and when it holds."""

    def __init__(self, path: str | None) -> None:
        self.path = path  # None: no repository yet (init sets it once it made one)
        self.stale = False  # load() read the settings afresh: save() has something to say
        self._record: Any = None

    def load(self) -> Settings:
        """The settings: from the memo when it still holds, else read afresh."""
        from lambdaver.storage import derived

        key = derived.environment_key()
        memo = derived.read(self.path, MEMO_FORMAT, 5)
        if memo is not None and memo[0] == key and _memo_shape_ok(memo):
            _mkey, pd_key, path, file_key, values = memo
            if pd_key is None or derived.module_key(pd_key[0]) == pd_key:
                if derived.stat_key(path) == file_key:
                    if file_key is None:
                        return Settings(path=path)
                    if values is not None:
                        region, account, output, profiles = values
                        return Settings(region, account, output, path, profiles)
                settings = _read(path)  # the file changed; where it lives did not
                self._remember(key, pd_key, path, settings)
                return settings
        path = config_path()
        pd_key = None
        if not os.environ.get("LAMBDAVER_CONFIG"):  # config_path() asked platformdirs
            pd_key = derived.module_key(sys.modules["platformdirs"].__file__ or "")
        settings = _read(path)
        self._remember(key, pd_key, path, settings)
        return settings

    def _remember(
        self,
        key: tuple[object, ...],
        pd_key: tuple[str, tuple[int, int, int, int] | None] | None,
        path: str,
        settings: Settings,
    ) -> None:
        import time

        from lambdaver.storage import derived

        file_key = derived.stat_key(path)
        racy = file_key is not None and derived.is_racy(file_key, time.time_ns())
        values = None if racy or file_key is None else settings.values()
        self._record = (key, pd_key, path, file_key, values)
        self.stale = True

    def save(self) -> None:
        """Write what :meth:`load` found (best effort: it is only a cache)."""
        if not self.stale or self._record is None or self.path is None:
            return
        from lambdaver.storage import derived

        try:
            derived.write(self.path, MEMO_FORMAT, *self._record)
        except OSError:
            pass
        self.stale = False


def _memo_shape_ok(memo: tuple[Any, ...]) -> bool:
    """A memo's fields have the types load() relies on (a damaged file may decode)."""
    _key, pd_key, path, _file_key, values = memo
    return (
        (pd_key is None or (isinstance(pd_key, tuple) and len(pd_key) == 2))
        and isinstance(path, str)
        and (values is None or (isinstance(values, tuple) and len(values) == 4))
    )
