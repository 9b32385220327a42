"""lavad.http.rest.wire.dumps: orjson's fast path writes exactly what json writes."""

from __future__ import annotations

import enum
import json
import math
import random

import pytest

from lavad.http.rest import wire


def reference(value):
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode("utf-8")


class Level(enum.IntEnum):
    HIGH = 100


class Colour(str, enum.Enum):
    RED = "red"


VALUES = [
    None, True, False, 0, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1, 2 ** 64, -2 ** 70, "",
    "plain", "quote \" backslash \\ slash /", "\n\r\t\b\f\x00\x1f\x7f", "é ’ 漢 😀",
    "line\u2028para\u2029end", [], {}, (), [1, (2, [3])], {"a": {"b": [None, True]}},
    {1: "int key"}, {None: 1}, {"k": 1.5}, 0.1, 1e16, 1e-05, -0.0, 123456789.25,
    {"level": Level.HIGH}, [Colour.RED], {"nested": [{"x": [0.5]}]},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_bytes_as_json(value):
    """Every kind of value (floats and odd keys included) gives json's exact bytes."""
    assert wire.dumps(value) == reference(value)


def test_same_bytes_on_random_documents():
    """Random nested documents of every JSON type give json's exact bytes."""
    rng = random.Random(9)
    alphabet = "az AZ09\"\\\n\t\x01é’\u2028😀/<>&"

    def make(depth):
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randrange(-2 ** 65, 2 ** 65)
        if kind == 2:
            return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        if kind == 3:
            return rng.choice([0.0, 2.5, 1e20, 3e-9, -7.125])
        if kind == 4:
            return rng.randrange(100)
        if kind == 5:
            return [make(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 6:
            return tuple(make(depth + 1) for _ in range(rng.randrange(3)))
        return {"".join(rng.choice(alphabet) for _ in range(3)): make(depth + 1)
                for _ in range(rng.randrange(4))}

    for _ in range(3000):
        value = make(0)
        assert wire.dumps(value) == reference(value), value


def test_refusals_are_json_s():
    """NaN, lone surrogates and unknown types fail as they do with json."""
    with pytest.raises(ValueError):
        wire.dumps({"x": math.nan})
    with pytest.raises(UnicodeEncodeError):
        wire.dumps(["\ud800"])
    with pytest.raises(TypeError):
        wire.dumps({"x": object()})
