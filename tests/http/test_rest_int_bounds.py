"""Integers beyond SQLite's 64-bit range in paths, filters, pages and exports: clean answers,
never a 500 (found by the schemathesis fuzz, test_rest_fuzz.py)."""

from __future__ import annotations

import pytest

from lavad.exports.records import count_param
from lavad.query.filters import INT64_MAX, INVALID_CHOICE

HUGE = "9" * 30


@pytest.mark.parametrize("path", [
    "/api/v0.2/jobs/%s/" % HUGE, "/api/v0.2/jobs/-%s/suites/" % HUGE,
    "/api/v0.2/jobs/1/suites/%s/tests/" % HUGE, "/api/v0.2/jobs/%s/junit/" % HUGE,
    "/api/v0.2/tags/%s/" % HUGE, "/api/v0.2/permissions/devicetypes/%s/" % HUGE,
])
def test_path_ids_no_object_can_have_are_404(rest, path):
    """An integer path parameter beyond 64 bits is 404 Not found., as a non-integer is."""
    answer = rest.get(path, as_="admin")
    assert (answer.code, answer.json) == (404, {"detail": "Not found."})


def test_writes_to_such_ids_are_404(rest):
    """The same holds for writes (the route's conversion comes before any view)."""
    answer = rest.request("PUT", "/api/v0.2/permissions/devicetypes/%s/" % HUGE, as_="admin",
                          headers={"Content-Type": "application/json"}, data=b"{}")
    assert (answer.code, answer.json) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("query, count", [
    ("id__lt=1" + "0" * 30, 5), ("id__gt=-1" + "0" * 30, 5), ("id=%s" % HUGE, 0),
    ("id__in=1,%s" % HUGE, 1), ("priority__lte=1.7976931348623155e%2B308", 5),
])
def test_number_filters_compare_beyond_64_bits(rest, query, count):
    """Number filters beyond SQLite's integers compare as numbers (no row has such an id)."""
    answer = rest.get("/api/v0.2/jobs/?" + query, as_="admin")
    assert answer.code == 200, answer.body
    assert answer.json["count"] == count


def test_enum_integer_filters_beyond_64_bits(rest):
    """An enum's integer lookup with a huge value matches nothing."""
    answer = rest.get("/api/v0.2/workers/?health__iexact=1.7976931348623155e%2B308",
                      as_="admin")
    assert (answer.code, answer.json["count"]) == (200, 0)


def test_related_primary_key_beyond_64_bits_is_an_invalid_choice(rest):
    """A related object's primary key no object can have is "not one of the choices"."""
    answer = rest.get("/api/v0.2/devices/?physical_owner=%s" % HUGE, as_="admin")
    assert (answer.code, answer.json) == (400, {"physical_owner": [INVALID_CHOICE]})
    nested = rest.get("/api/v0.2/devices/?physical_owner__group=%s" % HUGE, as_="admin")
    assert (nested.code, nested.json) == (400, {"physical_owner__group": [INVALID_CHOICE]})


def test_huge_limit_and_offset(rest):
    """limit and offset beyond 64 bits mean "all of them" and "past the end"."""
    answer = rest.get("/api/v0.2/jobs/?limit=%s" % HUGE, as_="admin")
    assert (answer.code, answer.json["count"], len(answer.json["results"])) == (200, 5, 5)
    answer = rest.get("/api/v0.2/jobs/?offset=%s" % HUGE, as_="admin")
    assert (answer.code, answer.json["results"]) == (200, [])


def test_export_windows_beyond_64_bits():
    """An export's limit or offset beyond 64 bits is SQLite's largest integer."""
    assert count_param("offset", HUGE) == INT64_MAX
    assert count_param("limit", "12") == 12


def test_export_with_a_huge_offset_has_no_rows(rest):
    """jobs/{id}/csv/?offset=<huge> answers the header row only."""
    answer = rest.get("/api/v0.2/jobs/1/csv/?offset=%s" % HUGE, as_="admin")
    assert answer.code == 200, answer.body
    assert answer.body.count(b"\r\n") == 1
