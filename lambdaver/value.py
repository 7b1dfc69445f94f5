"""``Value``: the base of lambdaver's small immutable records, each field declared once.

A record names its fields as class annotations, with defaults as class attributes::

    class Arns(Value):
        region: str
        account: str
        name: str = "f"

and gets a constructor (positional or keyword, in that order), equality, a repr,
``replace`` and ``_asdict``; type checkers see it as a frozen dataclass
(``dataclass_transform``).  Nothing is compiled when the class is made: ``dataclasses``
and ``typing.NamedTuple`` write and compile code for every class, and nine
``NamedTuple`` records cost 1.2-1.7 ms at import against 0.1 ms for these, when a read
verb's whole budget above click's own start-up is about 6 ms (docs/performance.md).  The
price is a generic constructor (about 0.5 us more per instance), so a class made by the
ten thousand in a scan (``storage.tree.Entry``) keeps a hand-written one.

Records are immutable by convention (mypy enforces it: nothing assigns to a field after
construction) and unhashable, since fields may be dicts or lists.  A class that declares
``__slots__`` and writes its own ``__init__`` instead of annotating its fields still gets
equality, repr and ``replace`` over its slots.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, dataclass_transform

V = TypeVar("V", bound="Value")


@dataclass_transform(frozen_default=True)
class Value:
    #: The fields, in declaration order (a subclass's come after its base's).
    _fields: ClassVar[tuple[str, ...]] = ()
    #: Default values of the fields that have one.
    _defaults: ClassVar[dict[str, Any]] = {}
    _field_set: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls) -> None:
        # (not inspect.get_annotations: importing inspect costs milliseconds)
        own = tuple(cls.__dict__.get("__annotations__", ()))  # noqa: RUF063
        if own:
            defaults = {f: cls.__dict__[f] for f in own if f in cls.__dict__}
            cls._defaults = {**cls._defaults, **defaults}
        elif "__slots__" in cls.__dict__:
            own = tuple(cls.__dict__["__slots__"])  # a hand-written record: slots are fields
        cls._fields = cls._fields + own
        cls._field_set = frozenset(cls._fields)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not kwargs and len(args) == len(self._fields):  # every field, by position
            self.__dict__ = dict(zip(self._fields, args, strict=True))
        elif not args and kwargs.keys() == self._field_set:  # every field, by name
            self.__dict__ = kwargs
        else:
            self.__dict__ = self._complete(args, kwargs)

    def _complete(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The fields from ``args`` and ``kwargs`` with the defaults filled in, or the
        TypeError that a function with these parameters would raise."""
        name, fields = type(self).__name__, self._fields
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} arguments but {len(args)} were given")
        values = dict(zip(fields, args, strict=False))
        for key, value in kwargs.items():
            if key not in self._field_set:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            if key in values:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            values[key] = value
        missing = [f for f in fields if f not in values and f not in self._defaults]
        if missing:
            raise TypeError(f"{name}() missing required argument {missing[0]!r}")
        return {f: values[f] if f in values else self._defaults[f] for f in fields}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields)

    __hash__ = None  # type: ignore[assignment]  # fields may be dicts or lists

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({fields})"

    def _asdict(self) -> dict[str, Any]:
        """The fields by name, in declaration order."""
        return {n: getattr(self, n) for n in self._fields}

    def replace(self: V, **changes: Any) -> V:
        """A copy with some fields changed (``dataclasses.replace``)."""
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        new = object.__new__(type(self))
        for n in self._fields:
            object.__setattr__(new, n, changes.get(n, getattr(self, n)))
        return new
