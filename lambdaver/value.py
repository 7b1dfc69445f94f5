"""``Value``: the base of lambdaver's small immutable records.

``dataclasses`` and ``typing.NamedTuple`` write and compile code for every class they
make, at import time: 0.6 ms for a frozen dataclass, 0.05-0.1 ms for a NamedTuple.  A
read verb loads a dozen such classes, and its whole budget above click's own start-up is
about 6 ms (docs/performance.md), so records are plain classes with ``__slots__`` and an
explicit ``__init__``; this base gives them equality, a repr and ``replace``.  They are
immutable by convention: nothing assigns to a field after ``__init__``.
"""

from __future__ import annotations

from typing import Any, TypeVar

V = TypeVar("V", bound="Value")


class Value:
    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # fields may be dicts or lists

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def replace(self: V, **changes: Any) -> V:
        """A copy with some fields changed (``dataclasses.replace``)."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        new = object.__new__(type(self))
        for n in self.__slots__:
            object.__setattr__(new, n, changes.get(n, getattr(self, n)))
        return new
