"""The filter engine: Django-style query parameters turned into SQL conditions.

A :class:`FilterSet` declares, for one table, which fields may be filtered with
which lookups and which relations may be traversed (``a__b__c``) into other
FilterSets.  :func:`conditions` reads query parameters against a FilterSet and
returns one SQL condition (with its ``?`` parameters) per understood parameter.

The rules are LAVA's (django-filter / djangorestframework-filters), as the REST
spec (section 7) states them: unknown fields and lookups are ignored, empty
values are ignored, a trailing ``!`` negates, a related filter accepts the
related object's primary key, invalid values are reported per parameter.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lavad.errors import Invalid
from lavad.models import DisplayEnum
from lavad.store.tx import Tx

# The lookup sets of the spec (7.2): S for strings, S+i with iexact.
S = ("exact", "in", "contains", "icontains", "startswith", "endswith")
SI = S + ("iexact",)
NUMBER = ("exact", "in", "lt", "lte", "gt", "gte")

INT64_MAX = 2 ** 63 - 1  # SQLite's largest integer: no id or count is beyond it
INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."
ENTER_NUMBER = "Enter a number."
ENTER_DATETIME = "Enter a valid date/time."


class QueryError(Invalid):
    """Query parameters that cannot be applied.

    ``errors`` is the wire body: ``{"<parameter>": ["<message>", ...]}`` for
    filter errors, or a bare list of messages (job metadata filters).
    """

    def __init__(self, errors: dict[str, list[str]] | list[str]) -> None:
        messages = errors if isinstance(errors, list) else [
            "%s: %s" % (k, " ".join(v)) for k, v in errors.items()]
        super().__init__("; ".join(messages))
        self.errors = errors


class _BadValue(Exception):
    """One parameter's value is invalid; ``str()`` is the message."""


class _Skip(Exception):
    """The value means "no filter" (an unrecognised boolean, an empty list)."""


@dataclass(frozen=True)
class Field:
    """A filterable column.

    ``column`` is SQL with ``{a}`` standing for the table alias.  ``kind`` is
    one of ``str``, ``int``, ``bool``, ``datetime``, ``decimal``, ``enum``.
    Enum fields take display names for ``exact`` (any case when
    ``ignore_case``), display names for ``in`` when ``names_in`` (else the
    stored integers), and integers for ``iexact``.
    """

    column: str
    kind: str
    lookups: tuple[str, ...]
    enum: type[DisplayEnum] | None = None
    ignore_case: bool = False
    names_in: bool = False


@dataclass(frozen=True)
class Relation:
    """A traversable relation to the FilterSet named ``target``.

    ``local`` (SQL with ``{a}``) holds the value of the target's column ``key``
    (default: the target's primary key).  With ``via = (table, holds_local,
    holds_key)`` the relation goes through a link table (many-to-many).
    ``choices`` restricts which target rows a primary key may name (SQL with
    ``{a}`` for the target's alias).
    """

    target: str
    local: str
    key: str | None = None
    via: tuple[str, str, str] | None = None
    choices: str = ""


@dataclass(frozen=True)
class FilterSet:
    table: str
    pk: str
    pk_type: str  # "int" or "str"
    fields: Mapping[str, Field] = field(default_factory=dict)
    relations: Mapping[str, Relation] = field(default_factory=dict)


Condition = tuple[str, list[Any]]


# -- values ------------------------------------------------------------------------------------
def parse_bool(value: str) -> bool:
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0"):
        return False
    raise _Skip()


def parse_number(value: str) -> int | float:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise _BadValue(ENTER_NUMBER) from None
    if not number.is_finite():
        raise _BadValue(ENTER_NUMBER)
    if number == number.to_integral_value() and -INT64_MAX - 1 <= number <= INT64_MAX:
        return int(number)
    # A fraction, or an integer SQLite cannot bind: compared as a REAL (id__lt=1e30 is
    # every row).
    return float(number)


_DATETIME_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M",
                     "%m/%d/%Y", "%m/%d/%y %H:%M:%S", "%m/%d/%y %H:%M:%S.%f",
                     "%m/%d/%y %H:%M", "%m/%d/%y")


def parse_datetime(value: str) -> str:
    """An input date/time (naive = UTC, date only = midnight) in the stored form."""
    text = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATETIME_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _BadValue(ENTER_DATETIME) from None
        parsed = datetime(day.year, day.month, day.day)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%f")


def parse_enum(fld: Field, value: str) -> int:
    assert fld.enum is not None
    try:
        return int(fld.enum.from_display(value, ignore_case=fld.ignore_case))
    except ValueError:
        raise _BadValue("Select a valid choice. %s is not one of the available choices."
                        % value) from None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _convert(fld: Field, lookup: str, value: str) -> Any:
    """The SQL parameter for one value of ``fld`` under ``lookup``."""
    kind = fld.kind
    if kind == "enum":
        if lookup == "exact" or (lookup == "in" and fld.names_in):
            return parse_enum(fld, value)
        return parse_number(value)
    if kind == "int":
        return parse_number(value)
    if kind == "decimal":
        return float(parse_number(value))
    if kind == "bool":
        return int(parse_bool(value))
    if kind == "datetime":
        return parse_datetime(value)
    return value


def field_condition(fld: Field, alias: str, lookup: str, value: str) -> Condition:
    column = fld.column.format(a=alias)
    if fld.kind == "decimal":
        column = "CAST(%s AS REAL)" % column
    if lookup == "isnull":
        return ("%s IS %sNULL" % (column, "" if parse_bool(value) else "NOT "), [])
    if lookup == "in":
        items = [v for v in value.split(",") if v != ""]
        if not items:
            raise _Skip()
        params = [_convert(fld, lookup, v) for v in items]
        return ("%s IN (%s)" % (column, ", ".join("?" * len(params))), params)
    if fld.kind == "str" and lookup != "exact":
        if lookup == "iexact":
            return ("%s LIKE ? ESCAPE '\\'" % column, [_escape_like(value)])
        if lookup == "contains":
            return ("instr(%s, ?) > 0" % column, [value])
        if lookup == "icontains":
            return ("%s LIKE ? ESCAPE '\\'" % column, ["%" + _escape_like(value) + "%"])
        if lookup == "startswith":
            return ("substr(%s, 1, %d) = ?" % (column, len(value)), [value])
        if lookup == "endswith":
            return ("(length(%s) >= %d AND substr(%s, -%d) = ?)"
                    % (column, len(value), column, len(value)), [value])
    op = {"exact": "=", "iexact": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[lookup]
    return ("%s %s ?" % (column, op), [_convert(fld, lookup, value)])


# -- resolution ----------------------------------------------------------------------------------
class Builder:
    """Builds conditions against the registry of FilterSets (one per query)."""

    def __init__(self, tx: Tx, filtersets: Mapping[str, FilterSet]) -> None:
        self.tx = tx
        self.filtersets = filtersets
        self._aliases: Iterator[int] = itertools.count(1)

    def _alias(self) -> str:
        return "f%d" % next(self._aliases)

    def condition(self, fs_name: str, alias: str, parts: list[str],
                  value: str) -> Condition | None:
        """The condition for ``a__b__lookup=value``, or None when the parameter is not ours."""
        fs = self.filtersets[fs_name]
        head, rest = parts[0], parts[1:]
        if head in fs.relations:
            rel = fs.relations[head]
            if not rest:
                return self._pk_condition(rel, alias, value)
            direct = self._on_local(rel, rest)
            if direct is not None:
                return self.condition_on(direct, alias, rest[1:], value)
            inner_alias = self._alias()
            inner = self.condition(rel.target, inner_alias, rest, value)
            if inner is None:
                return None
            return self._through(rel, alias, inner_alias, inner)
        fld = fs.fields.get(head)
        if fld is None:
            return None
        return self.condition_on(fld, alias, rest, value)

    def condition_on(self, fld: Field, alias: str, rest: list[str],
                     value: str) -> Condition | None:
        if not rest:
            lookup = "exact"
        elif len(rest) == 1:
            lookup = rest[0]
        else:
            return None
        if lookup not in fld.lookups:
            return None
        return field_condition(fld, alias, lookup, value)

    def _on_local(self, rel: Relation, rest: list[str]) -> Field | None:
        """The target's key field, moved onto the local column that holds it (so
        ``requested_device_type__name=x`` is ``requested_device_type = x``), when
        ``rest`` filters on nothing else."""
        target = self.filtersets[rel.target]
        key = rel.key or target.pk
        if rel.via is not None or rest[0] in target.relations or len(rest) > 2:
            return None
        fld = target.fields.get(rest[0])
        if fld is None or fld.column != "{a}.%s" % key:
            return None
        return replace(fld, column=rel.local)

    def _through(self, rel: Relation, alias: str, inner_alias: str,
                 inner: Condition) -> Condition:
        target = self.filtersets[rel.target]
        key = rel.key or target.pk
        sub = "SELECT %s.%s FROM %s %s WHERE %s" % (inner_alias, key, target.table,
                                                  inner_alias, inner[0])
        local = rel.local.format(a=alias)
        if rel.via is not None:
            table, holds_local, holds_key = rel.via
            sub = "SELECT %s FROM %s WHERE %s IN (%s)" % (holds_local, table, holds_key, sub)
        return ("%s IN (%s)" % (local, sub), inner[1])

    def _pk_condition(self, rel: Relation, alias: str, value: str) -> Condition:
        target = self.filtersets[rel.target]
        pk: Any = value
        if target.pk_type == "int":
            try:
                pk = int(value.strip())
            except ValueError:
                raise _BadValue(INVALID_CHOICE) from None
            if not -INT64_MAX - 1 <= pk <= INT64_MAX:
                raise _BadValue(INVALID_CHOICE)
        sql = "SELECT 1 FROM %s t WHERE t.%s = ?" % (target.table, target.pk)
        if rel.choices:
            sql += " AND " + rel.choices.format(a="t")
        if self.tx.one(sql, (pk,)) is None:
            raise _BadValue(INVALID_CHOICE)
        local = rel.local.format(a=alias)
        key = rel.key or target.pk
        if key == target.pk:
            match = "= ?"
        else:
            t = self._alias()
            match = "IN (SELECT %s.%s FROM %s %s WHERE %s.%s = ?)" % (
                t, key, target.table, t, t, target.pk)
        if rel.via is not None:
            table, holds_local, holds_key = rel.via
            return ("%s IN (SELECT %s FROM %s WHERE %s %s)"
                    % (local, holds_local, table, holds_key, match), [pk])
        return ("%s %s" % (local, match), [pk])


def last_values(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as ``name → value``; of a repeated parameter the last value wins."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            if not value:
                continue
            value = value[-1]
        out[key] = value
    return out


def conditions(tx: Tx, filtersets: Mapping[str, FilterSet], fs_name: str, alias: str,
               params: Mapping[str, str], skip: tuple[str, ...] = ()) -> list[Condition]:
    """One condition per applicable parameter; QueryError lists every invalid one.

    Parameters starting with one of ``skip`` are left to the caller.
    """
    builder = Builder(tx, filtersets)
    out: list[Condition] = []
    errors: dict[str, list[str]] = {}
    for param, value in params.items():
        if value == "" or not param or any(param.startswith(s) for s in skip):
            continue
        name, negate = (param[:-1], True) if param.endswith("!") else (param, False)
        parts = name.split("__")
        if not all(parts):
            continue
        try:
            cond = builder.condition(fs_name, alias, parts, value)
        except _Skip:
            continue
        except _BadValue as exc:
            errors.setdefault(param, []).append(str(exc))
            continue
        if cond is None:
            continue
        if negate:
            # Django's exclude(): rows where the condition is NULL (a NULL column) stay.
            cond = ("NOT COALESCE((%s), 0)" % cond[0], cond[1])
        out.append(cond)
    if errors:
        raise QueryError(errors)
    return out
