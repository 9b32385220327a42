"""YAML exports of test-case records (spec 5.1, 5.2): one block-style YAML list.

Each record is dumped on its own as a one-element list, PyYAML's safe dumper,
block style, keys in record order; the pieces concatenated are exactly the
dump of the whole list.  An empty export is ``[]`` (REST, suite exports) or
nothing at all (``/results/{job}/yaml``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from lavad.exports.document import Body, Cursor
from lavad.exports.fastyaml import dump_record, dump_values
from lavad.exports.records import EVERY, RECORD_KEYS, JobScope, Window, record_batches

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]


def dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, default_flow_style=False, sort_keys=False)


def items_text(items: list[dict[str, Any]]) -> str:
    """The records as block list items (the fast writer, else PyYAML's, per record)."""
    return "".join(dump_record(item) or dump([item]) for item in items)


def body(scope: JobScope, window: Window = EVERY, empty: bytes = b"[]\n") -> Body:
    """The export's body: the records as list items, ``empty`` when there are none."""
    def chunks(cursor: Cursor) -> Iterator[bytes]:
        some = False
        for batch in record_batches(cursor, scope, window):
            if batch:
                some = True
                yield "".join(dump_values(values) or dump([dict(zip(RECORD_KEYS, values))])
                              for values in batch).encode("utf-8")
        if not some:
            yield empty
    return chunks
