"""Job metadata filters (``metadata__...`` on the jobs list, spec 7.4).

The job's ``metadata`` column holds a JSON object whose scalar values are
strings; these filters become SQLite JSON-function conditions.  Errors are
reported as a bare list of messages, as LAVA does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lavad.query.filters import Condition, QueryError

PREFIX = "metadata__"
LOOKUPS = ("exact", "iexact", "startswith", "istartswith", "endswith", "iendswith",
           "icontains", "regex", "iregex", "in", "isnull")
_REGEXP_FUNCTION = "lavad_regexp"


def _path(keys: list[str]) -> str:
    """A SQLite JSON path for nested object keys."""
    return "$" + "".join('."%s"' % k for k in keys)


def _text(column: str, path: str) -> tuple[str, list[Any]]:
    """SQL for the key's value as text (JSON booleans as ``true``/``false``)."""
    return ("(CASE json_type(%s, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
            " ELSE CAST(json_extract(%s, ?) AS TEXT) END)" % (column, column), [path, path])


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _regexp(pattern: str, value: Any) -> bool:
    if value is None:
        return False
    return re.search(pattern, str(value)) is not None


def _bool(text: str, what: str) -> bool:
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise QueryError(["%s expects a boolean, got '%s'" % (what, text)])


def _has(column: str, key: str) -> Condition:
    return ("json_type(%s, ?) IS NOT NULL" % column, [_path([key])])


def _contains(column: str, keys: list[str], expected: dict[str, Any]) -> Condition:
    """JSON containment of an object: every key present with a contained value."""
    sql: list[str] = []
    params: list[Any] = []
    for key, value in expected.items():
        path = _path(keys + [str(key)])
        if isinstance(value, dict):
            inner = _contains(column, keys + [str(key)], value)
            sql.append("(json_type(%s, ?) = 'object' AND %s)" % (column, inner[0] or "1"))
            params += [path] + inner[1]
        elif isinstance(value, (list, bool)) or value is None:
            sql.append("json_extract(%s, ?) IS json(?)" % column if isinstance(value, list)
                       else "json_type(%s, ?) = ?" % column)
            params += [path, json.dumps(value) if isinstance(value, list)
                       else ("null" if value is None else str(value).lower())]
        else:
            text, text_params = _text(column, path)
            sql.append("%s = ?" % text)
            params += text_params + [str(value)]
    return (" AND ".join(sql) or "1", params)


def _condition(column: str, param: str, value: str, tx: Any) -> Condition | None:
    parts = param[len(PREFIX):].split("__")
    if parts == ["has_key"]:
        return _has(column, value)
    if parts in (["has_keys"], ["has_any_keys"]):
        keys = [k for k in value.split(",") if k]
        if not keys:
            return None
        conds = [_has(column, k) for k in keys]
        joiner = " AND " if parts == ["has_keys"] else " OR "
        return ("(%s)" % joiner.join(c[0] for c in conds), [p for c in conds for p in c[1]])
    if parts == ["contains"]:
        try:
            expected = json.loads(value)
        except ValueError:
            expected = None
        if not isinstance(expected, dict):
            raise QueryError(["%scontains expects a JSON object, got '%s'" % (PREFIX, value)])
        return _contains(column, [], expected)
    lookup = "exact"
    if len(parts) > 1 and parts[-1] in LOOKUPS:
        lookup = parts.pop()
    if not all(parts) or any('"' in k for k in parts):
        raise QueryError(["Missing metadata key in '%s'" % param])
    path = _path(parts)
    if lookup == "isnull":
        present = ("json_type(%s, ?) IS NOT NULL" % column, [path])
        if _bool(value, "isnull"):
            return ("NOT " + present[0], present[1])
        return present
    text, params = _text(column, path)
    if lookup == "exact":
        return ("%s = ?" % text, params + [value])
    if lookup == "iexact":
        return ("%s LIKE ? ESCAPE '\\'" % text, params + [_escape_like(value)])
    if lookup == "in":
        items = value.split(",")
        return ("%s IN (%s)" % (text, ", ".join("?" * len(items))), params + items)
    if lookup in ("regex", "iregex"):
        pattern = ("(?i)" if lookup == "iregex" else "") + value
        try:
            re.compile(pattern)
        except re.error as exc:
            raise QueryError(["Invalid regular expression '%s': %s" % (value, exc)]) from None
        tx.conn.create_function(_REGEXP_FUNCTION, 2, _regexp, deterministic=True)
        return ("%s(?, %s)" % (_REGEXP_FUNCTION, text), [pattern] + params)
    if lookup == "icontains":
        return ("%s LIKE ? ESCAPE '\\'" % text, params + ["%" + _escape_like(value) + "%"])
    case_insensitive = lookup.startswith("i")
    like = _escape_like(value)
    like = like + "%" if lookup.endswith("startswith") else "%" + like
    if case_insensitive:
        return ("%s LIKE ? ESCAPE '\\'" % text, params + [like])
    n = len(value)
    if lookup == "startswith":
        return ("substr(%s, 1, %d) = ?" % (text, n), params + [value])
    # ``text`` appears twice, so do its parameters.
    return ("(length(%s) >= %d AND substr(%s, -%d) = ?)" % (text, n, text, n),
            params + params + [value])


def conditions(tx: Any, column: str, params: Mapping[str, str]) -> list[Condition]:
    """The conditions of every ``metadata__`` parameter (empty values skipped)."""
    out = []
    for param, value in params.items():
        if not param.startswith(PREFIX) or value == "":
            continue
        negate = param.endswith("!")
        cond = _condition(column, param.rstrip("!"), value, tx)
        if cond is None:
            continue
        if negate:
            cond = ("NOT COALESCE((%s), 0)" % cond[0], cond[1])
        out.append(cond)
    return out
