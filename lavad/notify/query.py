"""Job queries written as LAVA query conditions, for ``dependency_query`` and ``compare``.

A conditions string is a comma-separated list of ``entity__field__operator__value``
(4 parts), ``field__operator__value`` (3) or ``field__value`` (2, operator
``exact``), the entity being ``testjob``.  A ``compare.query.conditions`` mapping
is stored as ``key__value,...`` (:mod:`lavad.notifyblock`), which reads the same
way.  Each condition becomes one filter of the REST job filters
(:mod:`lavad.query.filters`), so ``state__exact__Finished`` or
``description__icontains__smoke`` mean what they mean in ``/api/v0.2/jobs/``.

LAVA applies no visibility rule to these queries, and neither does lavad: a
dependency query only answers yes or no, and a comparison is only sent to the
notification's recipients.
"""

from __future__ import annotations

from typing import Any

from lavad.errors import Invalid
from lavad.query.filters import QueryError, conditions
from lavad.query.filtersets import FILTERSETS
from lavad.store.tx import Tx

ENTITY = "testjob"
OPERATORS = ("exact", "iexact", "contains", "icontains", "startswith", "endswith",
             "gt", "gte", "lt", "lte", "in", "isnull")
# LAVA's query names a related object by its name, the REST filters by its key.
RELATED_NAMES = {"submitter": "submitter__username",
                 "actual_device": "actual_device__hostname",
                 "requested_device_type": "requested_device_type__name"}
COMPARE_LIMIT = 5  # LAVA's QUERY_LIMIT


class ConditionError(Invalid):
    """A conditions string lavad cannot turn into a job query."""


def parse_conditions(text: str) -> list[tuple[str, str, str]]:
    """``[(field, operator, value), ...]`` of a conditions string."""
    out = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        parts = item.split("__")
        if len(parts) == 2:
            entity, (field, value), op = ENTITY, parts, "exact"
        elif len(parts) == 3:
            entity, (field, op, value) = ENTITY, parts
        elif len(parts) == 4:
            entity, field, op, value = parts
        else:
            raise ConditionError("Condition %r is not entity__field__operator__value." % item)
        if entity != ENTITY:
            raise ConditionError("Only TestJob queries allowed.")
        if op not in OPERATORS:
            raise ConditionError("Unknown operator %r in condition %r." % (op, item))
        out.append((field, op, value))
    return out


def _sql(tx: Tx, parsed: list[tuple[str, str, str]], alias: str) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for field, op, value in parsed:
        name = RELATED_NAMES.get(field, field)
        param = name if op == "exact" else "%s__%s" % (name, op)
        try:
            found = conditions(tx, FILTERSETS, "jobs", alias, {param: value})
        except QueryError as exc:
            raise ConditionError(exc.message) from None
        if not found and value != "":
            raise ConditionError("Conditions URL incorrect: Field does not exist. "
                                 "Please refer to query docs.")
        for sql, args in found:
            clauses.append(sql)
            params.extend(args)
    return " AND ".join(clauses) or "1", params


def thd_check_conditions(tx: Tx, text: str) -> str | None:
    """The problem with a conditions string, or None when lavad can run it."""
    try:
        _sql(tx, parse_conditions(text), "j")
    except ConditionError as exc:
        return exc.message
    return None


def thd_select_jobs(tx: Tx, text: str, limit: int | None = None) -> list[Any]:
    """Jobs matching the conditions, newest first (``id``, ``state``, ``health`` rows)."""
    where, params = _sql(tx, parse_conditions(text), "j")
    sql = "SELECT j.id, j.state, j.health FROM test_jobs j WHERE %s ORDER BY j.id DESC" % where
    if limit is not None:
        sql += " LIMIT %d" % int(limit)
    return tx.all(sql, params)
