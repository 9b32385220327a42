"""REST filters (spec 7): every lookup of every resource, relations, enums, dates, metadata,
negation, ordering, and the 400 bodies of invalid values."""

from __future__ import annotations

import pytest

ALL_JOBS = [5, 4, 3, 2, 1]
ALL_DEVICES = ["private01", "public01", "public02", "restricted01"]
ALL_TYPES = ["hidden_device_type", "public_device_type1", "restricted_device_type1"]
PUBLIC, RESTRICTED, HIDDEN = ALL_TYPES[1], ALL_TYPES[2], ALL_TYPES[0]


def keys(answer):
    assert answer.code == 200, answer.body
    return [next(iter(r.values())) for r in answer.json["results"]]


# (route, query, expected first-key values) -- as admin (devices with ?all=1)
CASES = [
    # -- jobs: fields -------------------------------------------------------------------
    ("jobs/", "id=3", [3]), ("jobs/", "id__lt=3", [2, 1]), ("jobs/", "id__gt=3", [5, 4]),
    ("jobs/", "id__in=1,3", [3, 1]), ("jobs/", "id__lte=3", ALL_JOBS),
    ("jobs/", "submit_time__lt=2026-07-01T11:00:00", [5, 4, 3, 2]),
    ("jobs/", "submit_time__gt=2026-07-01 11:00", [1]),
    ("jobs/", "submit_time=2026-07-01T11:59:00.123456", [1]),
    ("jobs/", "submit_time=2026-07-01T11:59:00.123456Z", [1]),
    ("jobs/", "submit_time__gt=2026-07-01T13:00:00%2B02:00", [1]),
    ("jobs/", "submit_time__gt=07/01/2026 11:00", [1]),
    ("jobs/", "end_time__gt=2026-06-30", [1]),
    ("jobs/", "start_time__isnull=true", [5, 4, 3, 2]),
    ("jobs/", "start_time__isnull=False", [1]),
    ("jobs/", "start_time__isnull=maybe", ALL_JOBS),
    ("jobs/", "end_time__lt=2026-07-01T12:03:00.000001", [1]),
    ("jobs/", "health_check=true", [4]), ("jobs/", "health_check=0", [5, 3, 2, 1]),
    ("jobs/", "health_check=maybe", ALL_JOBS),
    ("jobs/", "target_group=grp-1", [5]), ("jobs/", "target_group__iexact=GRP-1", [5]),
    ("jobs/", "target_group__in=grp-1,x", [5]), ("jobs/", "target_group__contains=rp", [5]),
    ("jobs/", "target_group__icontains=RP", [5]),
    ("jobs/", "target_group__startswith=grp", [5]),
    ("jobs/", "target_group__endswith=x", ALL_JOBS),  # not a lookup of target_group
    ("jobs/", "state=Finished", [1]), ("jobs/", "state=Running", [5]),
    ("jobs/", "state__in=Finished,Running", [5, 1]), ("jobs/", "state__iexact=5", [1]),
    ("jobs/", "health=Incomplete", [1]), ("jobs/", "health__in=Unknown", [5, 4, 3, 2]),
    ("jobs/", "priority=100", [2]), ("jobs/", "priority__lt=50", [4]),
    ("jobs/", "priority__lte=50", [5, 4, 3, 1]), ("jobs/", "priority__gt=50", [2]),
    ("jobs/", "priority__gte=50", [5, 3, 2, 1]), ("jobs/", "priority__in=0,100", [4, 2]),
    ("jobs/", "description=test", [1]), ("jobs/", "description__contains=job", [5, 4, 3, 2]),
    ("jobs/", "description__contains=JOB", []),
    ("jobs/", "description__icontains=JOB", [5, 4, 3, 2]),
    ("jobs/", "description__startswith=private", [5, 2]),
    ("jobs/", "description__endswith=device job", [5]),
    ("jobs/", "description__in=test,group job", [3, 1]),
    ("jobs/", "description__iexact=TEST", ALL_JOBS),  # not a lookup of description
    ("jobs/", "description__icontains=%25", []),
    ("jobs/", "definition__contains=job_name", ALL_JOBS),
    ("jobs/", "original_definition__startswith=device_type", ALL_JOBS),
    ("jobs/", "multinode_definition=x", []),
    ("jobs/", "failure_comment=oops", [1]), ("jobs/", "failure_comment__isnull=true", [5, 4, 3, 2]),
    # negation: NULL columns stay in the result, as with Django's exclude()
    ("jobs/", "description!=test", [5, 4, 3, 2]),
    ("jobs/", "failure_comment!=oops", [5, 4, 3, 2]),
    ("jobs/", "id__in!=1,2", [5, 4, 3]), ("jobs/", "state!=Submitted", [5, 1]),
    ("jobs/", "requested_device_type__name!=public_device_type1", [4]),
    # -- jobs: relations -------------------------------------------------------------------
    ("jobs/", "requested_device_type=restricted_device_type1", [4]),
    ("jobs/", "requested_device_type__name=restricted_device_type1", [4]),
    ("jobs/", "requested_device_type__name__startswith=restricted", [4]),
    ("jobs/", "requested_device_type__cores__name=Cortex-A53", [5, 3, 2, 1]),
    ("jobs/", "requested_device_type__cores=Cortex-A53", [5, 3, 2, 1]),
    ("jobs/", "requested_device_type__architecture__name=x86_64", [4]),
    ("jobs/", "requested_device_type__alias__name=alias2", [4]),
    ("jobs/", "requested_device_type__bits__width=64", [5, 3, 2, 1]),
    ("jobs/", "actual_device=public01", [1]), ("jobs/", "actual_device__hostname=private01", [5]),
    ("jobs/", "actual_device__worker_host__hostname=worker1", [1]),
    ("jobs/", "actual_device__worker_host=worker1", [1]),
    ("jobs/", "actual_device__tags__name=tag1", [1]),
    ("jobs/", "actual_device__device_type__name=public_device_type1", [5, 1]),
    ("jobs/", "tags=1", [1]), ("jobs/", "tags__name=tag1", [1]),
    ("jobs/", "tags__name__iexact=TAG1", [1]), ("jobs/", "tags__description__contains=x", []),
    ("jobs/", "viewing_groups=1", [3]), ("jobs/", "viewing_groups__name=group1", [3]),
    ("jobs/", "viewing_groups__name__startswith=group", [3]),
    ("jobs/", "submitter=2", [4, 1]), ("jobs/", "submitter__username=user2", [3, 2]),
    ("jobs/", "submitter__group__name=group2", [3, 2]),
    ("jobs/", "submitter__group=1", [4, 1]),
    ("jobs/", "submitter__email__endswith=admin@example.com", [5]),
    ("jobs/", "failure_tags__name=x", []),
    # -- jobs: metadata ------------------------------------------------------------------------
    ("jobs/", "metadata__branch=main", [1]), ("jobs/", "metadata__branch__in=main,dev", [3, 1]),
    ("jobs/", "metadata__build_id=1234", [1]), ("jobs/", "metadata__nested__k=v", [1]),
    ("jobs/", "metadata__branch__exact=dev", [3]),
    ("jobs/", "metadata__branch__iexact=MAIN", [1]),
    ("jobs/", "metadata__branch__startswith=ma", [1]),
    ("jobs/", "metadata__branch__startswith=MA", []),
    ("jobs/", "metadata__branch__istartswith=MA", [1]),
    ("jobs/", "metadata__branch__endswith=ev", [3]),
    ("jobs/", "metadata__branch__iendswith=EV", [3]),
    ("jobs/", "metadata__branch__icontains=A", [1]),
    ("jobs/", "metadata__branch__regex=^d", [3]), ("jobs/", "metadata__branch__regex=^D", []),
    ("jobs/", "metadata__branch__iregex=^D", [3]),
    ("jobs/", "metadata__branch__isnull=true", [5, 4, 2]),
    ("jobs/", "metadata__branch__isnull=0", [3, 1]),
    ("jobs/", "metadata__has_key=build_id", [1]),
    ("jobs/", "metadata__has_keys=branch,build_id", [1]),
    ("jobs/", "metadata__has_any_keys=branch,nope", [3, 1]),
    ("jobs/", "metadata__contains=%7B%22branch%22%3A%22main%22%7D", [1]),
    ("jobs/", "metadata__contains=%7B%22nested%22%3A%7B%22k%22%3A%22v%22%7D%7D", [1]),
    ("jobs/", "metadata__contains=%7B%22branch%22%3A%22x%22%7D", []),
    ("jobs/", "metadata__branch__contains=a", []),  # key path branch -> contains
    ("jobs/", "metadata__branch!=main", [5, 4, 3, 2]),
    ("jobs/", "metadata__branch=", ALL_JOBS),
    # -- jobs: ignored parameters ------------------------------------------------------------------
    ("jobs/", "nosuchfield=1", ALL_JOBS), ("jobs/", "description__nosuch=x", ALL_JOBS),
    ("jobs/", "requested_device_type__nosuch=x", ALL_JOBS),
    ("jobs/", "requested_device_type__aliases__name=x", ALL_JOBS),
    ("jobs/", "description=", ALL_JOBS), ("jobs/", "id=1&id=3", [3]),
    ("jobs/", "search=xyz", ALL_JOBS), ("jobs/", "metadata=x", ALL_JOBS),
    ("jobs/", "state=Finished&priority=50", [1]),
    # -- devices -----------------------------------------------------------------------------
    ("devices/", "hostname=public01", ["public01"]),
    ("devices/", "hostname__startswith=pub", ["public01", "public02"]),
    ("devices/", "hostname__contains=01", ["private01", "public01", "restricted01"]),
    ("devices/", "hostname__icontains=PRIV", ["private01"]),
    ("devices/", "hostname__endswith=02", ["public02"]),
    ("devices/", "hostname__in=public01,private01", ["private01", "public01"]),
    ("devices/", "description=d desc", ["public01"]),
    ("devices/", "device_version__isnull=true", ALL_DEVICES),  # not a lookup
    ("devices/", "state=Idle", ALL_DEVICES), ("devices/", "state__in=0", ALL_DEVICES),
    ("devices/", "state__iexact=1", []),
    ("devices/", "health=good", ["public01"]), ("devices/", "health=GOOD", ["public01"]),
    ("devices/", "health=Retired", ["public02"]),
    ("devices/", "health__in=4,5", ["private01", "public02", "restricted01"]),
    ("devices/", "health__iexact=0", ["public01"]),
    ("devices/", "is_synced=false", ALL_DEVICES), ("devices/", "is_synced=true", []),
    ("devices/", "device_type=restricted_device_type1", ["restricted01"]),
    ("devices/", "device_type__name=restricted_device_type1", ["restricted01"]),
    ("devices/", "device_type__architecture__name=ARMv8", ["private01", "public01", "public02"]),
    ("devices/", "device_type__alias__name=alias2", ["restricted01"]),
    ("devices/", "physical_owner=2", ["public01"]),
    ("devices/", "physical_owner__username=user1", ["public01"]),
    ("devices/", "physical_group=1", ["public01"]),
    ("devices/", "physical_group__name=group1", ["public01"]),
    ("devices/", "tags=1", ["public01"]), ("devices/", "tags__name=tag1", ["public01"]),
    ("devices/", "last_health_report_job=4", ["restricted01"]),
    ("devices/", "last_health_report_job__priority=0", ["restricted01"]),
    ("devices/", "worker_host=worker2", ["restricted01"]),
    ("devices/", "worker_host__hostname__startswith=worker", ["public01", "restricted01"]),
    ("devices/", "worker_host__health=Active", ["public01", "restricted01"]),
    ("devices/", "description!=d desc", ["private01", "public02", "restricted01"]),
    # -- device types --------------------------------------------------------------------------
    ("devicetypes/", "name=public_device_type1", [PUBLIC]),
    ("devicetypes/", "name__contains=device_type", ALL_TYPES),
    ("devicetypes/", "name__in=hidden_device_type,nope", [HIDDEN]),
    ("devicetypes/", "cpu_model__startswith=k9", [PUBLIC]),
    ("devicetypes/", "description__icontains=DESC", [PUBLIC]),
    ("devicetypes/", "health_frequency=24", ALL_TYPES),
    ("devicetypes/", "health_frequency__in=1,24", ALL_TYPES),
    ("devicetypes/", "core_count=8", [PUBLIC]), ("devicetypes/", "core_count__in=1,2", []),
    ("devicetypes/", "disable_health_check=false", ALL_TYPES),
    ("devicetypes/", "display=false", [HIDDEN]), ("devicetypes/", "display=True", [PUBLIC, RESTRICTED]),
    ("devicetypes/", "display__in=True,False", ALL_TYPES),
    ("devicetypes/", "health_denominator=jobs", [HIDDEN]),
    ("devicetypes/", "architecture=ARMv8", [PUBLIC]),
    ("devicetypes/", "architecture__name__icontains=arm", [PUBLIC]),
    ("devicetypes/", "processor__name=Kirin", [PUBLIC]), ("devicetypes/", "processor=Kirin", [PUBLIC]),
    ("devicetypes/", "alias__name=alias1", [PUBLIC]), ("devicetypes/", "alias=alias2", [RESTRICTED]),
    ("devicetypes/", "alias__name__startswith=alias", ALL_TYPES),
    ("devicetypes/", "aliases__name=alias1", ALL_TYPES),  # LAVA's name is "alias"
    ("devicetypes/", "bits=64", [PUBLIC]), ("devicetypes/", "bits__width=64", [PUBLIC]),
    ("devicetypes/", "bits__width__in=32,64", [PUBLIC]),
    ("devicetypes/", "cores=Cortex-A53", [PUBLIC]),
    ("devicetypes/", "cores__name__startswith=Cortex", [PUBLIC]),
    ("devicetypes/", "cores__name__endswith=x", []),
    # -- workers ----------------------------------------------------------------------------
    ("workers/", "hostname=worker1", ["worker1"]),
    ("workers/", "hostname__endswith=2", ["worker2"]),
    ("workers/", "description__contains=es", ["worker1"]),
    ("workers/", "last_ping__lt=2026-07-02", ["worker1", "worker2"]),
    ("workers/", "last_ping__gt=2026-07-02", []),
    ("workers/", "last_ping=2026-07-01T10:00:00", ["worker1", "worker2"]),
    ("workers/", "state=Offline", ["worker1", "worker2"]), ("workers/", "state=Online", []),
    ("workers/", "state__in=1", ["worker1", "worker2"]),
    ("workers/", "health=Active", ["worker1", "worker2"]),
    ("workers/", "health__in=0", ["worker1", "worker2"]), ("workers/", "health__iexact=2", []),
    # -- aliases, tags ---------------------------------------------------------------------------
    ("aliases/", "name=alias1", ["alias1"]),
    ("aliases/", "name__startswith=alias", ["alias1", "alias2"]),
    ("aliases/", "name__in=alias2,alias3", ["alias2"]),
    ("aliases/", "name__icontains=ALIAS1", ["alias1"]),
    ("tags/", "name=tag1", [1]), ("tags/", "name__iexact=TAG1", [1]),
    ("tags/", "name__endswith=2", [2]), ("tags/", "description__contains=desc", [1]),
    ("tags/", "description__iexact=x", [1, 2]),  # not a lookup of description
    # -- results ------------------------------------------------------------------------------
    ("jobs/1/suites/", "id=2", [2]), ("jobs/1/suites/", "id__lt=2", [1]),
    ("jobs/1/suites/", "id__gt=1", [2]), ("jobs/1/suites/", "name=lava", [1]),
    ("jobs/1/suites/", "name__endswith=smoke", [2]),
    ("jobs/1/suites/", "id__in=1", [1, 2]),  # not a lookup of suites
    ("jobs/1/tests/", "id__in=2,3", [2, 3]), ("jobs/1/tests/", "id__gt=3", [4]),
    ("jobs/1/tests/", "start_log_line__gte=3", [2, 3]),
    ("jobs/1/tests/", "end_log_line__lt=3", [1]),
    ("jobs/1/tests/", "end_log_line__lte=4", [1, 2]),
    ("jobs/1/tests/", "logged__gt=2026-07-01T12:01:30", [3, 4]),
    ("jobs/1/tests/", "logged=2026-07-01T12:00:00.123456", [1]),
    ("jobs/1/tests/", "measurement__gt=0", [2]), ("jobs/1/tests/", "measurement__lte=0", [3]),
    ("jobs/1/tests/", "measurement=12.5", [2]), ("jobs/1/tests/", "measurement__gte=-3", [2, 3]),
    ("jobs/1/tests/", "metadata__contains=smoke", [2]),
    ("jobs/1/tests/", "units=ms", [2]), ("jobs/1/tests/", "units__in=ms,s", [2, 3]),
    ("jobs/1/tests/", "name__in=c1,c3", [2, 4]), ("jobs/1/tests/", "name__startswith=c", [2, 3, 4]),
    ("jobs/1/tests/", "result=fail", [3]), ("jobs/1/tests/", "result=PASS", [1, 2]),
    ("jobs/1/tests/", "suite=2", [2, 3, 4]), ("jobs/1/tests/", "suite__name=lava", [1]),
    ("jobs/1/tests/", "suite__id__lt=2", [1]), ("jobs/1/tests/", "test_set=1", [3]),
    ("jobs/1/tests/", "test_set__name=set1", [3]),
    ("jobs/1/tests/", "test_set__suite__name=0_smoke", [3]),
    ("jobs/1/suites/2/tests/", "result=skip", [4]),
    # -- permissions, accounts ------------------------------------------------------------------
    ("permissions/devicetypes/", "id=1", [1]), ("permissions/devicetypes/", "id=2", []),
    ("permissions/devicetypes/", "devicetype=restricted_device_type1", [1]),
    ("permissions/devicetypes/", "device_type=restricted_device_type1", [1]),
    ("permissions/devicetypes/", "device_type=public_device_type1", []),
    ("permissions/devicetypes/", "device_type__name__startswith=restricted", [1]),
    ("permissions/devicetypes/", "group=1", [1]), ("permissions/devicetypes/", "group=2", []),
    ("permissions/devicetypes/", "group__name=group1", [1]),
    ("permissions/devicetypes/", "permission__codename=view_devicetype", [1]),
    ("permissions/devicetypes/", "permission__codename__startswith=change", []),
    ("permissions/devices/", "id=1", [1]), ("permissions/devices/", "device=private01", [1]),
    ("permissions/devices/", "device__hostname=private01", [1]),
    ("permissions/devices/", "group__name=group2", [1]),
    ("permissions/devices/", "permission__codename=view_device", [1]),
    ("groups/", "name=group1", [1]), ("groups/", "name__contains=group", [1, 2]),
    ("users/", "username=user1", [2]), ("users/", "email=user2@example.com", [3]),
    ("users/", "is_active=false", [5]), ("users/", "is_superuser=True", [1]),
    ("users/", "is_staff=0", [1, 5, 2, 3, 4]),
    ("users/", "username__contains=user", [1, 5, 2, 3, 4]),  # exact only
]


@pytest.mark.parametrize("route,query,expected", CASES,
                         ids=["%s?%s" % (r, q) for r, q, _ in CASES])
def test_filter(rest, route, query, expected):
    """The filter keeps exactly the expected records (admin; devices with ?all=1)."""
    extra = "&all=1" if route == "devices/" else ""
    assert keys(rest.get("/api/v0.2/%s?%s%s" % (route, query, extra), "admin")) == expected


def test_filter_by_permission_id(rest):
    """A permission's primary key filters by the Django permission id of the codename."""
    pid = rest.store.conn.execute("SELECT id FROM permissions WHERE codename ="
                                 " 'view_devicetype'").fetchone()[0]
    assert keys(rest.get("/api/v0.2/permissions/devicetypes/?permission=%d" % pid,
                        "admin")) == [1]
    other = rest.store.conn.execute("SELECT id FROM permissions WHERE codename ="
                                   " 'view_device'").fetchone()[0]
    answer = rest.get("/api/v0.2/permissions/devicetypes/?permission=%d" % other, "admin")
    assert answer.json == {"permission": [
        "Select a valid choice. That choice is not one of the available choices."]}


def test_filters_apply_after_visibility(rest):
    """Filters never reveal hidden records: the anonymous list stays within what it sees."""
    assert keys(rest.get("/api/v0.2/jobs/?requested_device_type=restricted_device_type1")) == []
    assert keys(rest.get("/api/v0.2/jobs/?requested_device_type=restricted_device_type1",
                        "user1")) == [4]


def test_filters_apply_to_details(rest):
    """A detail goes through the same filters: a non-matching filter is 404."""
    assert rest.get("/api/v0.2/jobs/1/?state=Finished").code == 200
    assert rest.get("/api/v0.2/jobs/1/?state=Running").json == {
        "detail": "No TestJob matches the given query."}
    assert rest.get("/api/v0.2/jobs/1/?state=Bogus").code == 400


# -- invalid values ----------------------------------------------------------------------------
INVALID_CHOICE = ["Select a valid choice. That choice is not one of the available choices."]


def choice(value):
    return ["Select a valid choice. %s is not one of the available choices." % value]


ERRORS = [
    ("jobs/", "health=Bogus", {"health": choice("Bogus")}),
    ("jobs/", "health=2", {"health": choice("2")}),
    ("jobs/", "state=finished", {"state": choice("finished")}),
    ("jobs/", "state__in=Finished,Nope", {"state__in": choice("Nope")}),
    ("jobs/", "health__iexact=incomplete", {"health__iexact": ["Enter a number."]}),
    ("devices/", "state=idle", {"state": choice("idle")}),
    ("devices/", "health=Broken", {"health": choice("Broken")}),
    ("devices/", "health__in=Good", {"health__in": ["Enter a number."]}),
    ("workers/", "health=active", {"health": choice("active")}),
    ("workers/", "state__in=Online", {"state__in": ["Enter a number."]}),
    ("devicetypes/", "health_denominator=weeks", {"health_denominator": choice("weeks")}),
    ("devicetypes/", "health_denominator=JOBS", {"health_denominator": choice("JOBS")}),
    ("jobs/1/tests/", "result=bogus", {"result": choice("bogus")}),
    ("jobs/", "start_time__gt=yesterday", {"start_time__gt": ["Enter a valid date/time."]}),
    ("jobs/", "submit_time=2026-13-01", {"submit_time": ["Enter a valid date/time."]}),
    ("workers/", "last_ping__lt=x", {"last_ping__lt": ["Enter a valid date/time."]}),
    ("jobs/1/tests/", "logged__gte=x", {"logged__gte": ["Enter a valid date/time."]}),
    ("jobs/", "id=abc", {"id": ["Enter a number."]}),
    ("jobs/", "priority__gte=x", {"priority__gte": ["Enter a number."]}),
    ("jobs/", "id__in=1,x", {"id__in": ["Enter a number."]}),
    ("jobs/1/tests/", "measurement__gt=nan", {"measurement__gt": ["Enter a number."]}),
    ("devicetypes/", "core_count=eight", {"core_count": ["Enter a number."]}),
    ("jobs/", "requested_device_type=nope", {"requested_device_type": INVALID_CHOICE}),
    ("jobs/", "submitter=user1", {"submitter": INVALID_CHOICE}),
    ("jobs/", "tags=99", {"tags": INVALID_CHOICE}),
    ("jobs/", "actual_device__worker_host=nope", {"actual_device__worker_host": INVALID_CHOICE}),
    ("devices/", "last_health_report_job=1", {"last_health_report_job": INVALID_CHOICE}),
    ("devicetypes/", "architecture=Nope", {"architecture": INVALID_CHOICE}),
    ("devicetypes/", "bits=32", {"bits": INVALID_CHOICE}),
    ("jobs/1/tests/", "suite=999", {"suite": INVALID_CHOICE}),
    ("jobs/", "id=x&state=Nope", {"id": ["Enter a number."], "state": choice("Nope")}),
    ("jobs/", "metadata__=x", ["Missing metadata key in 'metadata__'"]),
    ("jobs/", "metadata__contains=%5B1%5D", ["metadata__contains expects a JSON object, got '[1]'"]),
    ("jobs/", "metadata__contains=nojson", ["metadata__contains expects a JSON object, got 'nojson'"]),
    ("jobs/", "metadata__branch__isnull=maybe", ["isnull expects a boolean, got 'maybe'"]),
]


@pytest.mark.parametrize("route,query,body", ERRORS, ids=["%s?%s" % (r, q) for r, q, _ in ERRORS])
def test_invalid_filter_value(rest, route, query, body):
    """An invalid filter value is a clean 400 naming the parameter (never a 500)."""
    answer = rest.get("/api/v0.2/%s?%s" % (route, query), "admin")
    assert (answer.code, answer.json) == (400, body)


# -- ordering ------------------------------------------------------------------------------------
ORDERINGS = [
    ("jobs/", "id", [1, 2, 3, 4, 5]), ("jobs/", "-id", ALL_JOBS),
    ("jobs/", "-submit_time", [1, 2, 3, 4, 5]), ("jobs/", "submit_time", [2, 3, 4, 5, 1]),
    ("jobs/", "start_time", [1, 2, 3, 4, 5]), ("jobs/", "-start_time", [2, 3, 4, 5, 1]),
    ("jobs/", "-end_time,-id", [5, 4, 3, 2, 1]),
    ("jobs/", "priority", ALL_JOBS),  # not an ordering field: the default order
    ("jobs/", "nosuch,id", [1, 2, 3, 4, 5]), ("jobs/", "", ALL_JOBS),
    ("devices/", "-hostname", ALL_DEVICES[::-1]),
    ("devices/", "worker_host", ["public01", "restricted01", "private01", "public02"]),
    ("devices/", "-health", ["public02", "private01", "restricted01", "public01"]),
    ("devices/", "tags", ["public01", "private01", "public02", "restricted01"]),
    ("devices/", "device_type,-hostname", ["public02", "public01", "private01", "restricted01"]),
    ("devices/", "physical_owner", ["public01", "private01", "public02", "restricted01"]),
    ("devices/", "state,is_synced,description", ["public01", "private01", "public02",
                                                 "restricted01"]),
    ("devicetypes/", "-name", ALL_TYPES[::-1]),
    ("devicetypes/", "aliases", [PUBLIC, RESTRICTED, HIDDEN]),
    ("devicetypes/", "-display", [PUBLIC, RESTRICTED, HIDDEN]),
    ("devicetypes/", "bits", [PUBLIC, HIDDEN, RESTRICTED]),
    ("devicetypes/", "-architecture", [HIDDEN, RESTRICTED, PUBLIC]),
    ("devicetypes/", "cores,name", [PUBLIC, HIDDEN, RESTRICTED]),
    ("workers/", "-hostname", ["worker2", "worker1"]), ("workers/", "-token", ["worker2", "worker1"]),
    ("workers/", "job_limit,state,health,last_ping,version,description",
     ["worker1", "worker2"]),
    ("aliases/", "-name", ["alias2", "alias1"]), ("aliases/", "-device_type", ["alias2", "alias1"]),
    ("tags/", "-id", [2, 1]), ("tags/", "description", [1, 2]), ("tags/", "-description", [2, 1]),
    ("tags/", "-name", [2, 1]),
    ("jobs/1/suites/", "name", [2, 1]), ("jobs/1/suites/", "-id", [2, 1]),
    ("jobs/1/suites/", "-job,name", [2, 1]),
    ("jobs/1/tests/", "-measurement", [1, 4, 2, 3]), ("jobs/1/tests/", "measurement", [3, 2, 1, 4]),
    ("jobs/1/tests/", "units", [1, 4, 2, 3]), ("jobs/1/tests/", "unit", [1, 2, 3, 4]),
    ("jobs/1/tests/", "-logged", [4, 3, 2, 1]), ("jobs/1/tests/", "test_set", [3, 1, 2, 4]),
    ("jobs/1/tests/", "-name", [1, 4, 3, 2]), ("jobs/1/tests/", "-suite,-id", [4, 3, 2, 1]),
    ("jobs/1/tests/", "-start_log_line", [4, 3, 2, 1]),
    ("jobs/1/tests/", "end_log_line,metadata", [1, 2, 3, 4]),
    ("groups/", "-name", [2, 1]), ("groups/", "", [1, 2]),
    ("users/", "-username", [4, 3, 2, 5, 1]), ("users/", "date_joined", [1, 2, 3, 4, 5]),
    ("users/", "-last_login", [1, 2, 3, 4, 5]), ("users/", "", [1, 5, 2, 3, 4]),
]


@pytest.mark.parametrize("route,ordering,expected", ORDERINGS,
                         ids=["%s?ordering=%s" % (r, o) for r, o, _ in ORDERINGS])
def test_ordering(rest, route, ordering, expected):
    """ordering= sorts by the allowed fields (- descending, NULLs as PostgreSQL sorts them)."""
    extra = "&all=1" if route == "devices/" else ""
    answer = rest.get("/api/v0.2/%s?ordering=%s%s" % (route, ordering, extra), "admin")
    assert keys(answer) == expected


def test_ordering_permissions_and_tokens(rest):
    """Permissions order by id, permission, group, object; tokens by name and token."""
    from lavad import devices

    rest.store.sync(devices.thd_add_object_permission, "devicetype", "group2",
                   "change_devicetype", "public_device_type1")
    rest.store.sync(devices.thd_add_object_permission, "device", "group1", "change_device",
                   "public01")
    for route, ordering, expected in [
            ("permissions/devicetypes/", "-id", [2, 1]),
            ("permissions/devicetypes/", "permission", [2, 1]),
            ("permissions/devicetypes/", "-group", [2, 1]),
            ("permissions/devicetypes/", "devicetype", [2, 1]),
            ("permissions/devices/", "device", [1, 2]),
            ("permissions/devices/", "-id", [2, 1]),
            ("permissions/devices/", "group,permission", [2, 1])]:
        assert keys(rest.get("/api/v0.2/%s?ordering=%s" % (route, ordering), "admin")) == \
            expected, (route, ordering)
    assert keys(rest.get("/api/v0.2/remote-artifact-tokens/?ordering=-name", "user1")) == \
        ["token1", "token0"]
    assert keys(rest.get("/api/v0.2/remote-artifact-tokens/?ordering=-token", "user1")) == \
        ["token1", "token0"]
