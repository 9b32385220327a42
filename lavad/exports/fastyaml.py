"""Fast paths for the exports' YAML: reading stored case metadata, writing records.

A test case's metadata is stored as block YAML (``case: x\\ndefinition: y\\n...``,
written by :mod:`lavad.results`) and every export reads it back; the YAML
exports then write each record as PyYAML's safe dumper does.  With libyaml
both cost tens of microseconds per case, most of an export's time.  The
shapes involved are few and fixed, so this module reads and writes them
directly, and hands anything it is not sure about to PyYAML:

* :func:`load_metadata` understands a mapping of ``key: scalar`` lines whose
  scalars are plain words, decimal integers or simple single-quoted strings;
  it returns None for anything else (the caller then uses the YAML loader).
* :func:`dump_record` writes one export record as the one-item block list
  ``yaml.dump([record], default_flow_style=False, sort_keys=False)`` gives,
  or returns None when a value needs a form it does not write (wrapped or
  double-quoted strings, floats, nested collections...).

Both are tested for equality with PyYAML on varied values.
"""

from __future__ import annotations

import re
from typing import Any

# A plain scalar that PyYAML resolves as a string and writes as is: ASCII,
# starting with a letter, no spaces or indicators.  Of the implicit types only
# booleans and null can start with a letter.
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_./+-]*\Z")
# A path (``/results/testcase/7``): no implicit type starts with a slash.
_PATH = re.compile(r"/[A-Za-z0-9_./+-]*\Z")
_NOT_STR = frozenset(("yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE",
                      "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
                      "null", "Null", "NULL"))
# A decimal integer as PyYAML writes ``int`` (and reads back as one).
_INT = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")
# What may sit between single quotes without escaping or wrapping.
_QUOTABLE = re.compile(r"[ -&(-~]*\Z")
# Stored ``logged`` form: a timestamp, which the resolver would read as one.
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
                    r"\+00:00\Z")
_LINE = re.compile(r"([A-Za-z][A-Za-z0-9_./+-]*): (.*)\Z")

#: How strings are written, remembered (most values repeat: suites, results, units,
#: levels; the rest are cheap to decide again).  Bounded: cleared when full.
_CACHE: dict[str, str | None] = {}
_CACHE_SIZE = 4096


def _pyyaml_scalar(value: str) -> str | None:
    """How PyYAML writes ``value`` as a block mapping value, if it fits on one line."""
    import yaml
    try:
        from yaml import CSafeDumper as Dumper
    except ImportError:  # pragma: no cover - PyYAML without libyaml
        from yaml import SafeDumper as Dumper  # type: ignore[assignment]
    text = yaml.dump({"k": value}, Dumper=Dumper, default_flow_style=False, width=10 ** 6)
    if text.count("\n") != 1 or not text.startswith("k: "):
        return None
    written = text[3:-1]
    # Double-quoted strings may be escaped and wrapped differently: leave them to PyYAML.
    return None if written.startswith('"') else written


def _scalar_text(value: str) -> str | None:
    if _WORD.match(value):
        return value if value not in _NOT_STR else "'%s'" % value
    if not value:
        return "''"
    if _INT.match(value) and value[0] != "-":
        return "'%s'" % value
    if _PATH.match(value):
        return value
    if _STAMP.match(value):
        return "'%s'" % value
    if len(value) <= 200 and _QUOTABLE.match(value):
        return _pyyaml_scalar(value)
    return None


def scalar(value: Any) -> str | None:
    """``value`` as PyYAML's safe dumper writes it in block context (None: unsure)."""
    if value.__class__ is str:
        written = _CACHE.get(value, False)
        if written is not False:
            return written  # type: ignore[return-value]
        if _WORD.match(value) and value not in _NOT_STR:
            return value  # plain words are quicker to recognise than to remember
        written = _scalar_text(value)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[value] = written
        return written
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    return None


_PAIRS = re.compile(r"^([A-Za-z][A-Za-z0-9_./+-]*): (.*)$", re.MULTILINE)
_NO = object()
#: Stored values already read (most repeat: suites, results, levels), bounded.
_READ: dict[str, Any] = {}


def _read_value(raw: str) -> Any:
    """The value a plain or single-quoted scalar reads as, or ``_NO`` when unsure."""
    if _WORD.match(raw):
        return _NO if raw in _NOT_STR else raw
    if raw.startswith("'"):
        inner = raw[1:-1]
        if len(raw) < 2 or not raw.endswith("'") or "'" in inner \
                or not _QUOTABLE.match(inner):
            return _NO
        return inner
    if _INT.match(raw):
        return int(raw)
    if _QUOTABLE.match(raw) and scalar(raw) == raw:
        return raw  # written plain, so read back as this string (``0_smoke``)
    return _NO


def load_metadata(text: str) -> dict[str, Any] | None:
    """The mapping a stored metadata text holds, or None when it is not of the simple
    ``key: scalar`` form this reads (then ask the YAML loader)."""
    pairs = _PAIRS.findall(text)
    # Every line must be one pair (a wrapped or nested value makes lines that are not).
    if len(pairs) != text.count("\n") or not text.endswith("\n"):
        return None
    out: dict[str, Any] = {}
    read = _READ.get
    word = _WORD.match
    for key, raw in pairs:
        if word(raw) and raw not in _NOT_STR:  # plain words (case names...): as they are
            value: Any = raw
        else:
            value = read(raw, _NO)
            if value is _NO:
                value = _read_value(raw)
                if value is _NO:
                    return None
                if len(_READ) >= _CACHE_SIZE:
                    _READ.clear()
                _READ[raw] = value
        if key in _NOT_STR:
            return None
        out[key] = value
    return out if len(out) == len(pairs) else None


#: The export record's keys, in order (lavad.exports.records.record).
EXPORT_KEYS = ("name", "job", "suite", "result", "measurement", "unit", "level", "url", "id",
               "logged", "log_start_line", "log_end_line", "metadata")
_EXPORT_FORM = "".join(("- " if i == 0 else "  ") + key + ": %s\n"
                       for i, key in enumerate(EXPORT_KEYS[:-1]))


def _text(value: Any) -> str | None:
    if value.__class__ is str:
        if _WORD.match(value) and value not in _NOT_STR:
            return value
        written = _CACHE.get(value)
        if written is not None:
            return written
    return scalar(value)


def _wraps(line_start: int, text: str) -> bool:
    """Whether PyYAML might break ``text`` (written from column ``line_start``) in two."""
    return " " in text and line_start + len(text) > 80


def _mapping(lead: str, name: str, value: dict[str, Any]) -> str | None:
    """A flat mapping as the value of key ``name`` of a list item (None: unsure)."""
    if not value:
        return "%s%s: {}\n" % (lead, name)
    parts = ["%s%s:\n" % (lead, name)]
    get = _CACHE.get
    for key, inner in value.items():
        key_text = (get(key) if key.__class__ is str else None) or _text(key)
        text = (get(inner) if inner.__class__ is str else None) or _text(inner)
        if key_text is None or text is None or len(key_text) > 100:
            return None
        if " " in text and 6 + len(key_text) + len(text) > 80:
            return None  # PyYAML might wrap it
        parts.append("    " + key_text + ": " + text + "\n")
    return "".join(parts)


_SCALAR_KEYS = EXPORT_KEYS[:-1]
_STARTS = [len(key) + 4 for key in _SCALAR_KEYS]
_CASE_URL = "/results/testcase/"


def _count(value: Any) -> str | None:
    """An id or a log line number (a decimal string, or empty), quoted."""
    if value.__class__ is str and value.isdigit() and value.isascii() \
            and (value[0] != "0" or value == "0"):
        return "'%s'" % value
    return "''" if value == "" else None


def dump_values(values: tuple[Any, ...]) -> str | None:
    """:func:`dump_record` of the export record whose values (in :data:`EXPORT_KEYS`
    order) are ``values``."""
    # The values unique to each case are decided directly; the others repeat (job,
    # suite, result, unit...) and come from the cache.
    name, job, suite, result, measure, unit, level, url, key, logged, first, last, metadata \
        = values
    if name.__class__ is str and _WORD.match(name) and name not in _NOT_STR:
        name_text: str | None = name
    else:
        name_text = scalar(name)
    if url.__class__ is str and url.startswith(_CASE_URL) and url[18:].isdigit() \
            and url.isascii():
        url_text: str | None = url
    else:
        url_text = scalar(url)
    if logged.__class__ is str and _STAMP.match(logged):
        logged_text: str | None = "'%s'" % logged
    else:
        logged_text = scalar(logged)
    get = _CACHE.get
    try:
        texts = [name_text, get(job) or scalar(job), get(suite) or scalar(suite),
                 get(result) or scalar(result), get(measure) or scalar(measure),
                 get(unit) or scalar(unit), get(level) or scalar(level), url_text,
                 _count(key) or scalar(key), logged_text, _count(first) or scalar(first),
                 _count(last) or scalar(last)]
    except TypeError:  # an unhashable value (a list): PyYAML's business
        return None
    if None in texts:
        return None
    # Keys are short: a line can only be long enough to wrap with a long value.
    if max(map(len, texts)) > 60 and any(  # type: ignore[arg-type]
            _wraps(start, text) for start, text in zip(_STARTS, texts)):  # type: ignore[arg-type]
        return None
    tail = _mapping("  ", "metadata", metadata) if metadata.__class__ is dict else None
    if tail is None:
        return None
    return _EXPORT_FORM % tuple(texts) + tail


def dump_record(record: dict[str, Any]) -> str | None:
    """``yaml.dump([record])`` (safe dumper, block style, keys in order) for a record of
    scalars with at most flat mappings as values (the export record, a suite); None when
    a value needs a form this does not write."""
    if len(record) == len(EXPORT_KEYS) and tuple(record) == EXPORT_KEYS:
        return dump_values(tuple(record.values()))
    parts: list[str] = []
    lead = "- "
    for key, value in record.items():
        name = _text(key)
        if name is None or len(name) > 100:
            return None
        if value.__class__ is dict:
            inner = _mapping(lead, name, value)
            if inner is None:
                return None
            parts.append(inner)
        else:
            text = _text(value)
            if text is None or _wraps(len(lead) + len(name) + 2, text):
                return None
            parts.append("%s%s: %s\n" % (lead, name, text))
        lead = "  "
    return "".join(parts) if parts else None
