"""``lambdaver.value.Value``: records that declare each field once."""

from __future__ import annotations

import pytest

from lambdaver.value import Value


class Point(Value):
    x: int
    y: int
    label: str = ""
    tags: list[str] | None = None

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


def test_fields_are_the_annotations_in_order_with_their_defaults() -> None:
    assert Point._fields == ("x", "y", "label", "tags")
    p = Point(1, 2)
    assert (p.x, p.y, p.label, p.tags) == (1, 2, "", None)
    assert Point(1, y=2, tags=["a"]).tags == ["a"]
    assert Point(y=2, x=1, label="l", tags=None) == Point(1, 2, "l")
    assert p._asdict() == {"x": 1, "y": 2, "label": "", "tags": None}
    assert p.norm() == 3


def test_equality_repr_and_hash() -> None:
    assert Point(1, 2) == Point(1, 2, "")
    assert Point(1, 2) != Point(1, 3)
    assert Point(1, 2) != (1, 2, "", None)  # not a tuple
    assert repr(Point(1, 2, "a")) == "Point(x=1, y=2, label='a', tags=None)"
    with pytest.raises(TypeError):
        hash(Point(1, 2))


def test_replace_makes_a_changed_copy() -> None:
    p = Point(1, 2)
    q = p.replace(y=5, label="q")
    assert (p, q) == (Point(1, 2), Point(1, 5, "q"))
    with pytest.raises(TypeError, match="Point has no field z"):
        p.replace(z=1)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1,), {}, "missing required argument 'y'"),
        ((1, 2, "", None, 5), {}, "takes 4 arguments but 5 were given"),
        ((1, 2), {"z": 3}, "unexpected keyword argument 'z'"),
        ((1, 2), {"x": 3}, "multiple values for argument 'x'"),
        ((), {"x": 1, "y": 2, "lable": ""}, "unexpected keyword argument 'lable'"),
    ],
)
def test_wrong_arguments_raise_as_a_function_would(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


class Sub(Point):
    z: int = 0


def test_a_subclass_adds_fields_after_its_base() -> None:
    assert Sub._fields == ("x", "y", "label", "tags", "z")
    assert Sub(1, 2, z=3) == Sub(1, 2, "", None, 3)
    assert Sub(1, 2) != Point(1, 2)


class HandWritten(Value):
    __slots__ = ("a", "b")

    def __init__(self, a: int, b: int) -> None:
        self.a = a
        self.b = b


def test_a_hand_written_record_uses_its_slots_as_fields() -> None:
    assert HandWritten(1, 2) == HandWritten(1, 2) != HandWritten(1, 3)
    assert repr(HandWritten(1, 2)) == "HandWritten(a=1, b=2)"
    assert HandWritten(1, 2).replace(b=5) == HandWritten(1, 5)
