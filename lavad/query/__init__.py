"""Lists and lookups for the REST API: filters, ordering, pagination, visibility.

The domain side of every REST read.  :func:`thd_list` turns Django-style query
parameters (``?state=Finished&requested_device_type__cores__name=x&ordering=-id
&limit=10``) into SQL over lavad's schema, ANDs in what the caller may see
(:mod:`lavad.permissions`), counts, and renders one page of REST records in the
spec's field order.  :func:`thd_get` is the detail form of the same query.
No HTTP here: adapters pass plain parameters and principals in and translate
:class:`QueryError`, ``NotFound`` and ``PermissionDenied`` out.

The declarations (:data:`FILTERSETS`, :data:`RESOURCES`) are plain data, so
documentation (OpenAPI) can be generated from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lavad.errors import NotFound
from lavad.query import metadata
from lavad.query.filters import INT64_MAX, QueryError, conditions, last_values
from lavad.query.filtersets import FILTERSETS
from lavad.query.resources import RESOURCES, Order, Resource
from lavad.store.tx import Tx
from lavad.users import Principal

__all__ = [
    "DEFAULT_LIMIT",
    "FILTERSETS",
    "RESOURCES",
    "CountCache",
    "QueryError",
    "Resource",
    "page_bounds",
    "parameters",
    "thd_get",
    "thd_list",
]

DEFAULT_LIMIT = 50
# Query parameters that are never filters.
RESERVED = ("ordering", "limit", "offset", "format", "search")


def parameters(name: str, depth: int = 3) -> list[dict[str, Any]]:
    """The filter parameters resource ``name`` understands (for documentation).

    One entry per field and lookup (``{"name": "requested_device_type__name__in",
    "kind": "str", "lookup": "in", "choices": [...]}``), relations followed
    ``depth`` levels deep; a relation's own entry (lookup ``pk``) takes the
    related object's primary key.  Job metadata filters and negation (a
    trailing ``!``) are not listed.
    """
    out: list[dict[str, Any]] = []

    def walk(fs_name: str, prefix: str, level: int) -> None:
        fs = FILTERSETS[fs_name]
        for field_name, fld in fs.fields.items():
            for lookup in fld.lookups:
                entry: dict[str, Any] = {
                    "name": prefix + field_name + ("" if lookup == "exact" else "__" + lookup),
                    "kind": fld.kind, "lookup": lookup}
                if fld.enum is not None:
                    entry["choices"] = fld.enum.displays()
                out.append(entry)
        for rel_name, rel in fs.relations.items():
            target = FILTERSETS[rel.target]
            out.append({"name": prefix + rel_name, "kind": target.pk_type, "lookup": "pk"})
            if level < depth:
                walk(rel.target, prefix + rel_name + "__", level + 1)

    walk(RESOURCES[name].filterset, "", 1)
    return out


def page_bounds(params: Mapping[str, Any]) -> tuple[int, int]:
    """``(limit, offset)``: limit 50 unless a positive integer, offset 0 unless >= 0; both
    at most SQLite's largest integer (no page is longer, no list is)."""
    values = last_values(params)
    try:
        limit = int(values.get("limit", ""))
        if limit <= 0:
            raise ValueError
    except ValueError:
        limit = DEFAULT_LIMIT
    try:
        offset = int(values.get("offset", ""))
        if offset < 0:
            raise ValueError
    except ValueError:
        offset = 0
    return min(limit, INT64_MAX), min(offset, INT64_MAX)


class CountCache:
    """Counts of list queries, kept while the database does not change.

    Counting every visible job is most of a job list's cost, and the answer is
    the same until something is written.  A count is reused only while the
    connection's own row changes (``total_changes``) and the commits of other
    connections (``PRAGMA data_version``: ``lavad manage``) are those it was
    counted under, so any write, committed or rolled back, empties the cache.
    Only for a transaction that has written nothing yet (its uncommitted rows
    would be counted); used on the store thread only, so it needs no lock.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._stamp: tuple[Any, ...] | None = None
        self._counts: dict[tuple[str, tuple[Any, ...]], int] = {}

    def count(self, tx: Tx, sql: str, params: list[Any]) -> int:
        conn = tx.conn
        stamp = (conn, conn.total_changes,
                 conn.execute("PRAGMA data_version").fetchone()[0])
        if stamp != self._stamp:
            self._stamp = stamp
            self._counts.clear()
        key = (sql, tuple(params))
        count = self._counts.get(key)
        if count is None:
            if len(self._counts) >= self.size:
                self._counts.clear()
            count = self._counts[key] = tx.scalar(sql, params)
        return count


def order_by(resource: Resource, ordering: str | None) -> str:
    """The ORDER BY clause for ``ordering=`` (unknown fields dropped), with a stable tie-break."""
    terms: list[str] = []
    used: set[str] = set()
    for name in (ordering or "").split(","):
        name = name.strip()
        desc = name.startswith("-")
        order = resource.ordering.get(name.lstrip("-"))
        if order is not None:
            terms.append(_term(order, desc))
            used.add(order.sql)
    if not terms:
        for name in resource.default_order:
            desc = name.startswith("-")
            order = resource.ordering.get(name.lstrip("-")) or Order(
                "%s.%s" % (resource.alias, name.lstrip("-")))
            terms.append(_term(order, desc))
            used.add(order.sql)
    if resource.key not in used:
        terms.append(resource.key)
    return ", ".join(terms)


def _term(order: Order, desc: bool) -> str:
    if order.nullable:
        return "%s %s" % (order.sql, "DESC NULLS FIRST" if desc else "ASC NULLS LAST")
    return "%s DESC" % order.sql if desc else order.sql


def _where(tx: Tx, resource: Resource, principal: Principal, values: dict[str, str],
           scope: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if resource.guard is not None:
        resource.guard(tx, principal, scope)
    clauses: list[str] = []
    params: list[Any] = []
    if resource.visible is not None:
        clauses.append(resource.visible(principal))
    for option, condition in resource.options.items():
        clauses.append(condition(values.get(option) or None))
    for name, value in scope.items():
        clauses.append(resource.scopes[name])
        params.append(value)
    filter_values = {k: v for k, v in values.items() if k not in RESERVED}
    is_jobs = resource.name == "jobs"
    conds = conditions(tx, FILTERSETS, resource.filterset, resource.alias, filter_values,
                       skip=(metadata.PREFIX,) if is_jobs else ())
    if is_jobs:
        conds += metadata.conditions(tx, "%s.metadata" % resource.alias, filter_values)
    for sql, cond_params in conds:
        clauses.append(sql)
        params.extend(cond_params)
    return " AND ".join("(%s)" % c for c in clauses) or "1", params


def thd_list(tx: Tx, name: str, principal: Principal, params: Mapping[str, Any],
             scope: Mapping[str, Any] | None = None,
             counts: CountCache | None = None) -> tuple[int, list[dict[str, Any]]]:
    """``(count, records)``: one page of resource ``name`` as ``principal`` may see it.

    ``params`` are the query parameters (a list value means a repeated
    parameter: the last one wins); ``scope`` narrows a nested route
    (``{"job": 3}``, ``{"job": 3, "suite": 5}``).  Raises QueryError for
    invalid filter values, NotFound/PermissionDenied from a scope's guard.
    ``counts`` (a :class:`CountCache`) may answer the count when the
    transaction has written nothing.
    """
    resource = RESOURCES[name]
    values = last_values(params)
    where, where_params = _where(tx, resource, principal, values, scope or {})
    count_sql = "SELECT count(*) FROM %s WHERE %s" % (resource.count_source or resource.source,
                                                        where)
    count = (tx.scalar(count_sql, where_params) if counts is None
             else counts.count(tx, count_sql, where_params))
    limit, offset = page_bounds(values)
    if count == 0 or offset >= count:
        return count, []
    rows = tx.all("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT ? OFFSET ?"
                  % (resource.columns, resource.source, where,
                     order_by(resource, values.get("ordering"))),
                  [*where_params, limit, offset])
    return count, resource.render(tx, rows, principal)


def thd_get(tx: Tx, name: str, principal: Principal, key: Any,
            params: Mapping[str, Any] | None = None,
            scope: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One record by its lookup key, through the same visibility and filters as the list.

    Raises NotFound (``model`` set) when there is no such record for ``principal``.
    """
    resource = RESOURCES[name]
    values = last_values(params or {})
    where, where_params = _where(tx, resource, principal, values, scope or {})
    rows = tx.all("SELECT %s FROM %s WHERE %s = ? AND %s LIMIT 1"
                  % (resource.columns, resource.source, resource.key, where),
                  [key, *where_params])
    if not rows:
        raise NotFound("No %s matches the given query." % resource.model, model=resource.model)
    return resource.render(tx, rows, principal)[0]
