"""REST writes of the collections and their actions (spec 1.7, 3.3-3.10): device types
(and template/health_check), devices (dictionary, set_health, validate), workers (env,
config, set_health), aliases, tags, group permissions, remote-artifact tokens, groups and
users.  Each route with good and bad input, each kind of caller, exact status and body,
and a read-back proving a refused request stored nothing."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from restlab import Client
from twisted.web.resource import Resource

from lavad import devices, users
from lavad.config import load_settings
from lavad.files import LabFiles
from lavad.http.rest import build_rest
from lavad.lab import Lab

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TEXT = {"Content-Type": "text/plain"}
AUTH = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
ADMIN_ONLY = {"detail": "Insufficient permissions. Please contact system administrator."}

PUBLIC_DT = {
    "name": "public_device_type1", "architecture": "ARMv8", "processor": "Kirin",
    "cpu_model": "k960", "aliases": ["alias1"], "bits": 64, "cores": ["Cortex-A53"],
    "core_count": 8, "description": "dt desc", "health_frequency": 24,
    "disable_health_check": False, "health_denominator": "hours", "display": True,
}
PUBLIC01 = {
    "hostname": "public01", "device_type": "public_device_type1", "device_version": None,
    "physical_owner": 2, "physical_group": 1, "description": "d desc", "tags": [1],
    "state": "Idle", "health": "Good", "last_health_report_job": None, "worker_host": "worker1",
    "is_synced": False,
}
BASE = "{% block body %}{% endblock %}\n"
QEMU = ("{% extends 'base.jinja2' %}\n{% block body %}\ndevice_type: qemu\n"
        "arch: {{ arch|default('x86') }}\n{% endblock %}\n")


def send(rest, method, path, body=None, as_=None, headers=JSON):
    if headers is JSON and body is not None:
        body = json.dumps(body).encode()
    elif headers is FORM and isinstance(body, dict):
        body = urlencode(body, doseq=True).encode()
    return rest.request(method, path, as_, headers=headers, data=body)


def grant(rest, username, *codenames):
    for codename in codenames:
        rest.store.sync(users.thd_grant, "lava_scheduler_app.%s" % codename, user=username)


def snapshot(rest, *tables):
    """The rows of ``tables`` (to prove that a refused request changed nothing)."""
    return {t: [tuple(r) for r in rest.store.conn.execute("SELECT * FROM %s ORDER BY 1" % t)]
            for t in tables}


def log_messages(rest, object_type, object_id):
    return [r[0] for r in rest.store.conn.execute(
        "SELECT message FROM log_entries WHERE object_type = ? AND object_id = ? ORDER BY id",
        (object_type, object_id))]


@pytest.fixture
def lab_files(tmp_path):
    types = tmp_path / "device-types"
    types.mkdir()
    (types / "base.jinja2").write_text(BASE)
    (types / "public_device_type1.jinja2").write_text(QEMU)
    return LabFiles(str(tmp_path / "data"), [str(types)])


@pytest.fixture
def frest(rest_store, lab_files):
    """The REST test lab served with configuration files (templates, worker files)."""
    root = Resource()
    root.putChild(b"api", build_rest(Lab(rest_store), load_settings({"data_dir": "/x"}),
                                     files=lab_files).resource())
    client = Client(root)
    client.store, client.ids, client.files = rest_store, rest_store.ids, lab_files
    return client


# -- access: every write route, anonymous and plain user ---------------------------------------
SUPERUSER_WRITES = [
    ("POST", "/api/v0.2/devicetypes/"), ("PUT", "/api/v0.2/devicetypes/public_device_type1/"),
    ("PATCH", "/api/v0.2/devicetypes/public_device_type1/"),
    ("DELETE", "/api/v0.2/devicetypes/public_device_type1/"),
    ("POST", "/api/v0.2/devices/"), ("PUT", "/api/v0.2/devices/public01/"),
    ("PATCH", "/api/v0.2/devices/public01/"), ("DELETE", "/api/v0.2/devices/public01/"),
    ("POST", "/api/v0.2/permissions/devicetypes/"),
    ("DELETE", "/api/v0.2/permissions/devicetypes/1/"),
    ("POST", "/api/v0.2/permissions/devices/"), ("PATCH", "/api/v0.2/permissions/devices/1/"),
    ("POST", "/api/v0.2/groups/"), ("PUT", "/api/v0.2/groups/1/"),
    ("DELETE", "/api/v0.2/groups/1/"), ("POST", "/api/v0.2/users/"),
    ("PATCH", "/api/v0.2/users/2/"), ("DELETE", "/api/v0.2/users/4/"),
]
PERM_WRITES = [
    ("POST", "/api/v0.2/workers/"), ("PATCH", "/api/v0.2/workers/worker1/"),
    ("DELETE", "/api/v0.2/workers/worker1/"), ("POST", "/api/v0.2/workers/worker1/env/"),
    ("POST", "/api/v0.2/workers/worker1/config/"),
    ("POST", "/api/v0.2/workers/worker1/set_health/"),
    ("POST", "/api/v0.2/aliases/"), ("PUT", "/api/v0.2/aliases/alias1/"),
    ("DELETE", "/api/v0.2/aliases/alias1/"), ("POST", "/api/v0.2/tags/"),
    ("PATCH", "/api/v0.2/tags/1/"), ("DELETE", "/api/v0.2/tags/1/"),
    ("POST", "/api/v0.2/devices/public01/dictionary/"),
    ("POST", "/api/v0.2/devices/public01/set_health/"),
]
TABLES = ("device_types", "aliases", "devices", "device_tags", "workers", "tags", "groups",
          "users", "user_groups", "group_device_type_permissions", "group_device_permissions",
          "log_entries")


@pytest.mark.parametrize("method,path", SUPERUSER_WRITES + PERM_WRITES)
def test_writes_refuse_anonymous_and_plain_users(rest, method, path):
    """Anonymous callers get "credentials were not provided", authenticated ones without
    the right "You do not have permission"; the lab is unchanged."""
    before = snapshot(rest, *TABLES)
    body = {"name": "x", "hostname": "x", "health": "Good", "dictionary": "x", "env": "x"}
    assert send(rest, method, path, body).json == AUTH
    answer = send(rest, method, path, body, "user1")
    assert (answer.code, answer.json) == (403, FORBIDDEN)
    assert snapshot(rest, *TABLES) == before


def test_template_posts_need_change_device(frest):
    """devicetypes/{n}/template/ and health_check/ POST: anonymous 403 (not authenticated),
    users without lava_scheduler_app.change_device 403 "Insufficient permissions..."."""
    for path, key in (("template", "template"), ("health_check", "config")):
        url = "/api/v0.2/devicetypes/public_device_type1/%s/" % path
        assert send(frest, "POST", url, {key: "x"}).json == AUTH
        grant(frest, "user3", "change_devicetype", "add_device")
        answer = send(frest, "POST", url, {key: "x"}, "user3")
        assert (answer.code, answer.json) == (403, ADMIN_ONLY)
    assert (frest.files.get_template("public_device_type1")) == QEMU


def test_devices_validate_needs_add_device(frest):
    """devices/validate/ needs the add_device model permission."""
    assert send(frest, "POST", "/api/v0.2/devices/validate/", b"x", headers=TEXT).json == AUTH
    answer = send(frest, "POST", "/api/v0.2/devices/validate/", b"x", "user1", headers=TEXT)
    assert (answer.code, answer.json) == (403, FORBIDDEN)


# -- device types --------------------------------------------------------------------------------
def test_device_type_create(rest):
    """POST devicetypes/ (superuser): 201 with the record; names are created as needed."""
    body = {"name": "new_type", "architecture": "RISC-V", "aliases": ["newalias"], "bits": 64,
            "cores": ["Cortex-A53", "new-core"], "core_count": 4, "description": "d",
            "health_frequency": 12, "disable_health_check": True, "display": True}
    answer = send(rest, "POST", "/api/v0.2/devicetypes/", body, "admin")
    expected = {"name": "new_type", "architecture": "RISC-V", "processor": None,
                "cpu_model": None, "aliases": ["newalias"], "bits": 64,
                "cores": ["Cortex-A53", "new-core"], "core_count": 4, "description": "d",
                "health_frequency": 12, "disable_health_check": True,
                "health_denominator": "hours", "display": True}
    assert (answer.code, answer.json) == (201, expected)
    assert rest.get("/api/v0.2/devicetypes/new_type/").json == expected
    assert rest.get("/api/v0.2/aliases/newalias/", "user1").json == \
        {"name": "newalias", "device_type": "new_type"}


def test_device_type_create_form_semantics(rest):
    """A form create without display/aliases gives display false and no aliases (HTML
    checkboxes); JSON needs aliases."""
    answer = send(rest, "POST", "/api/v0.2/devicetypes/", {"name": "formtype"}, "admin",
                  headers=FORM)
    assert answer.code == 201
    assert (answer.json["display"], answer.json["aliases"],
            answer.json["disable_health_check"]) == (False, [], False)
    answer = send(rest, "POST", "/api/v0.2/devicetypes/", {"name": "jsontype"}, "admin")
    assert (answer.code, answer.json) == (400, {"aliases": ["This field is required."]})


@pytest.mark.parametrize("body,expected", [
    ({"aliases": []}, {"name": ["This field is required."]}),
    ({"name": "public_device_type1", "aliases": []},
     {"name": ["device type with this name already exists."]}),
    ({"name": "alias1", "aliases": []},
     {"name": ["'alias1' is already an alias of a device type."]}),
    ({"name": "a/b", "aliases": []}, {"name": ["A device-type name must not contain '/'."]}),
    ({"name": "x" * 51, "aliases": []},
     {"name": ["Ensure this field has no more than 50 characters."]}),
    ({"name": "t", "aliases": "a"},
     {"aliases": ['Expected a list of items but got type "str".']}),
    ({"name": "t", "aliases": ["public_device_type1"]},
     {"aliases": ["Alias or DeviceType name already exists."]}),
    ({"name": "t", "aliases": [], "health_frequency": "x", "display": "maybe", "bits": True},
     {"bits": ["A valid integer is required."],
      "health_frequency": ["A valid integer is required."],
      "display": ["Must be a valid boolean."]}),
    ({"name": "t", "aliases": [], "core_count": -1},
     {"core_count": ["Ensure this value is greater than or equal to 0."]}),
    ({"name": "t", "aliases": [], "health_frequency": -1},
     {"health_frequency": ["health_frequency must not be negative."]}),
    (["t"], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_device_type_create_errors(rest, body, expected):
    """Bad device-type bodies are 400s with the field's messages; nothing is stored."""
    before = snapshot(rest, "device_types", "aliases", "device_type_cores")
    answer = send(rest, "POST", "/api/v0.2/devicetypes/", body, "admin")
    assert (answer.code, answer.json) == (400, expected)
    assert snapshot(rest, "device_types", "aliases", "device_type_cores") == before


def test_device_type_update(rest):
    """PATCH is partial; PUT needs name and aliases (a full update) and may not rename."""
    url = "/api/v0.2/devicetypes/public_device_type1/"
    answer = send(rest, "PATCH", url, {"description": "new", "architecture": None}, "admin")
    assert (answer.code, answer.json) == (
        200, {**PUBLIC_DT, "description": "new", "architecture": None})
    answer = send(rest, "PUT", url, {"description": "again"}, "admin")
    assert (answer.code, answer.json) == (400, {"name": ["This field is required."],
                                                "aliases": ["This field is required."]})
    answer = send(rest, "PUT", url, {"name": "other", "aliases": []}, "admin")
    assert (answer.code, answer.json) == (
        400, {"name": ["The name of a device type cannot be changed."]})
    answer = send(rest, "PUT", url, {"name": "public_device_type1", "aliases": ["alias9"],
                                     "display": False}, "admin")
    assert (answer.code, answer.json["aliases"], answer.json["display"]) == (
        200, ["alias9"], False)
    assert rest.get("/api/v0.2/devicetypes/public_device_type1/").json["description"] == "new"


def test_device_type_update_hidden_or_missing(rest):
    """Writes to a missing device type are 404 with the model's message."""
    answer = send(rest, "PATCH", "/api/v0.2/devicetypes/nope/", {}, "admin")
    assert (answer.code, answer.json) == (
        404, {"detail": "No DeviceType matches the given query."})


def test_device_type_delete(rest):
    """DELETE devicetypes/{n}/: 204 for an unused type; a type with devices is refused."""
    assert send(rest, "POST", "/api/v0.2/devicetypes/", {"name": "gone", "aliases": ["g"]},
                "admin").code == 201
    answer = send(rest, "DELETE", "/api/v0.2/devicetypes/gone/", None, "admin")
    assert (answer.code, answer.body) == (204, b"")
    assert rest.get("/api/v0.2/devicetypes/gone/").code == 404
    before = snapshot(rest, *TABLES)
    answer = send(rest, "DELETE", "/api/v0.2/devicetypes/public_device_type1/", None, "admin")
    assert (answer.code, answer.json) == (
        400, {"detail": "Device-type 'public_device_type1' still has devices."})
    assert snapshot(rest, *TABLES) == before


# -- device-type template and health check --------------------------------------------------------
def test_template_get_and_post(frest):
    """GET template/ is the Jinja2 file; POST (change_device) replaces it: 204, no body."""
    answer = frest.get("/api/v0.2/devicetypes/public_device_type1/template/")
    assert (answer.code, answer.body) == (200, QEMU.encode())
    assert answer.header("Content-Type") == "application/yaml"
    assert answer.header("Content-Disposition") == \
        "attachment; filename=public_device_type1.jinja2"
    grant(frest, "user3", "change_device")
    answer = send(frest, "POST", "/api/v0.2/devicetypes/public_device_type1/template/",
                  {"template": "{# new #}\n"}, "user3")
    assert (answer.code, answer.body, answer.header("Content-Type")) == (204, b"", None)
    assert frest.files.get_template("public_device_type1") == "{# new #}\n"


def test_template_errors(frest):
    """No template file: 400; missing text: 400; unknown type: 404."""
    answer = frest.get("/api/v0.2/devicetypes/hidden_device_type/template/")
    assert (answer.code, answer.json) == (
        400, {"detail": "Device-type 'hidden_device_type' template was not found."})
    for body in ({}, {"template": ""}):
        answer = send(frest, "POST", "/api/v0.2/devicetypes/public_device_type1/template/",
                      body, "admin")
        assert (answer.code, answer.json) == (
            400, {"template": "Device type template is required."})
    answer = send(frest, "POST", "/api/v0.2/devicetypes/nope/template/", {"template": "x"},
                  "admin")
    assert (answer.code, answer.json) == (404, {"detail": "No DeviceType matches the given query."})
    assert frest.files.get_template("public_device_type1") == QEMU


def test_health_check_get_and_post(frest):
    """health_check/: POST {"config"} stores the definition (204), GET returns it."""
    url = "/api/v0.2/devicetypes/public_device_type1/health_check/"
    answer = frest.get(url)
    assert (answer.code, answer.json) == (
        400, {"detail": "Device-type 'public_device_type1' health check was not found."})
    answer = send(frest, "POST", url, {}, "admin")
    assert (answer.code, answer.json) == (
        400, {"config": "Health check configuration is required."})
    assert send(frest, "POST", url, {"config": "job_name: hc\n"}, "admin").code == 204
    answer = frest.get(url)
    assert (answer.code, answer.body) == (200, b"job_name: hc\n")
    assert answer.header("Content-Disposition") == \
        "attachment; filename=public_device_type1_health_check.yaml"


# -- devices -------------------------------------------------------------------------------------
def test_device_create(rest):
    """POST devices/ (superuser): 201 with the record; tags are ids, owners are ids."""
    body = {"hostname": "new01", "device_type": "public_device_type1", "tags": [1, 2],
            "physical_owner": 3, "physical_group": 2, "worker_host": "worker2",
            "health": "Unknown", "is_synced": True, "unknown_key": 1}
    answer = send(rest, "POST", "/api/v0.2/devices/", body, "admin")
    expected = {"hostname": "new01", "device_type": "public_device_type1",
                "device_version": None, "physical_owner": 3, "physical_group": 2,
                "description": None, "tags": [1, 2], "state": "Idle", "health": "Unknown",
                "last_health_report_job": None, "worker_host": "worker2", "is_synced": True}
    assert (answer.code, answer.json) == (201, expected)
    assert rest.get("/api/v0.2/devices/new01/", "admin").json == expected


def test_device_create_defaults(rest):
    """A device is created in Maintenance, not synced, without tags."""
    answer = send(rest, "POST", "/api/v0.2/devices/",
                  {"hostname": "d2", "device_type": "public_device_type1"}, "admin")
    assert (answer.json["health"], answer.json["tags"], answer.json["is_synced"]) == (
        "Maintenance", [], False)


@pytest.mark.parametrize("body,expected", [
    ({"device_type": "public_device_type1"}, {"hostname": ["This field is required."]}),
    ({"hostname": "n"}, {"device_type": ["This field is required."]}),
    ({"hostname": "public01", "device_type": "public_device_type1"},
     {"hostname": ["device with this Hostname already exists."]}),
    ({"hostname": "n", "device_type": "nope"},
     {"device_type": ['Invalid pk "nope" - object does not exist.']}),
    ({"hostname": "n", "device_type": "public_device_type1", "tags": ["tag1"]},
     {"tags": ["Incorrect type. Expected pk value, received str."]}),
    ({"hostname": "n", "device_type": "public_device_type1", "tags": [1, 99]},
     {"tags": ['Invalid pk "99" - object does not exist.']}),
    ({"hostname": "n", "device_type": "public_device_type1", "health": "GOOD"},
     {"health": ['"GOOD" is not a valid choice.']}),
    ({"hostname": "n", "device_type": "public_device_type1", "worker_host": "nope"},
     {"worker_host": ['Invalid pk "nope" - object does not exist.']}),
    ({"hostname": "n", "device_type": "public_device_type1", "physical_owner": 99},
     {"physical_owner": ['Invalid pk "99" - object does not exist.']}),
    ({"hostname": "n", "device_type": "public_device_type1", "physical_group": "g"},
     {"physical_group": ["Incorrect type. Expected pk value, received str."]}),
    ({"hostname": "a/b", "device_type": "public_device_type1"},
     {"hostname": ["A device hostname must not contain '/'."]}),
])
def test_device_create_errors(rest, body, expected):
    """Bad device bodies are 400s (a missing device_type too: LAVA answers 500); nothing
    is stored."""
    before = snapshot(rest, "devices", "device_tags", "log_entries")
    answer = send(rest, "POST", "/api/v0.2/devices/", body, "admin")
    assert (answer.code, answer.json) == (400, expected)
    assert snapshot(rest, "devices", "device_tags", "log_entries") == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_device_update_is_partial_without_hostname(rest, method):
    """PUT and PATCH are both partial; the answer has no hostname; a health change is
    logged "Old → New"."""
    answer = send(rest, method, "/api/v0.2/devices/restricted01/",
                  {"health": "Unknown", "description": "x", "hostname": "ignored",
                   "tags": [2]}, "admin")
    expected = {"device_type": "restricted_device_type1", "device_version": None,
                "physical_owner": None, "physical_group": None, "description": "x",
                "tags": [2], "state": "Idle", "health": "Unknown",
                "last_health_report_job": 4, "worker_host": "worker2", "is_synced": False}
    assert (answer.code, answer.json) == (200, expected)
    assert log_messages(rest, "device", "restricted01")[-1] == "Maintenance → Unknown"
    assert rest.get("/api/v0.2/devices/restricted01/", "admin").json == \
        {"hostname": "restricted01", **expected}


def test_device_update_errors_keep_the_device(rest):
    """A refused update changes nothing; a retired device needs ?all (as reads do)."""
    before = snapshot(rest, "devices", "device_tags", "log_entries")
    answer = send(rest, "PATCH", "/api/v0.2/devices/public01/",
                  {"health": "Bogus", "tags": [1, 99], "device_type": None}, "admin")
    assert (answer.code, answer.json) == (400, {
        "device_type": ["This field may not be null."],
        "health": ['"Bogus" is not a valid choice.']})
    answer = send(rest, "PATCH", "/api/v0.2/devices/public01/", {"tags": [1, 99]}, "admin")
    assert (answer.code, answer.json) == (
        400, {"tags": ['Invalid pk "99" - object does not exist.']})
    assert snapshot(rest, "devices", "device_tags", "log_entries") == before
    answer = send(rest, "PATCH", "/api/v0.2/devices/public02/", {"description": "r"}, "admin")
    assert (answer.code, answer.json) == (404, {"detail": "No Device matches the given query."})
    answer = send(rest, "PATCH", "/api/v0.2/devices/public02/?all=1", {"description": "r"},
                  "admin")
    assert (answer.code, answer.json["description"]) == (200, "r")


def test_device_delete(rest):
    """DELETE devices/{h}/: 204; a device running a job is refused (400) and kept."""
    assert send(rest, "DELETE", "/api/v0.2/devices/restricted01/", None, "admin").code == 204
    assert rest.get("/api/v0.2/devices/restricted01/", "admin").code == 404
    before = snapshot(rest, *TABLES)
    answer = send(rest, "DELETE", "/api/v0.2/devices/private01/", None, "admin")
    assert (answer.code, answer.json) == (400, {"detail": "Device 'private01' is running a job."})
    assert snapshot(rest, *TABLES) == before


# -- device dictionary, set_health, validate 
def test_dictionary_post(rest):
    """POST dictionary/ with add_device and the change right on the device: 200."""
    grant(rest, "user3", "add_device", "change_device")
    answer = send(rest, "POST", "/api/v0.2/devices/public01/dictionary/",
                  {"dictionary": "{% extends 'x.jinja2' %}\n"}, "user3")
    assert (answer.code, answer.json) == (200, {"message": "device config successfully updated"})
    assert rest.get("/api/v0.2/devices/public01/dictionary/").body == \
        b"{% extends 'x.jinja2' %}\n"


def test_dictionary_post_object_permissions(rest):
    """add_device alone is not enough: the device's change right comes from a group
    change_device on it (or change_devicetype on its type)."""
    grant(rest, "user1", "add_device")
    url = "/api/v0.2/devices/public01/dictionary/"
    answer = send(rest, "POST", url, {"dictionary": "a"}, "user1")
    assert (answer.code, answer.json) == (403, ADMIN_ONLY)
    assert rest.store.conn.execute("SELECT dictionary FROM devices WHERE hostname ="
                                   " 'public01'").fetchone()[0] is None
    rest.store.sync(devices.thd_add_object_permission, "devicetype", "group1",
                    "change_devicetype", "public_device_type1")
    assert send(rest, "POST", url, {"dictionary": "a"}, "user1").code == 200
    rest.store.sync(devices.thd_add_object_permission, "device", "group2", "change_device",
                    "public01")
    answer = send(rest, "POST", url, {"dictionary": "b"}, "user1")
    assert (answer.code, answer.json) == (403, ADMIN_ONLY)  # the device's own rule wins


@pytest.mark.parametrize("body,expected", [
    ({}, {"dictionary": ["This field is required."]}),
    ({"dictionary": ""}, {"dictionary": ["This field may not be blank."]}),
    ({"dictionary": 3.5}, None),
])
def test_dictionary_post_errors(rest, body, expected):
    """A missing or blank dictionary is a 400."""
    answer = send(rest, "POST", "/api/v0.2/devices/public01/dictionary/", body, "admin")
    if expected is None:
        assert answer.code == 200
    else:
        assert (answer.code, answer.json) == (400, expected)


def test_dictionary_post_unknown_device(rest):
    """An unknown or hidden device is 404."""
    answer = send(rest, "POST", "/api/v0.2/devices/nope/dictionary/", {"dictionary": "x"},
                  "admin")
    assert (answer.code, answer.json) == (404, {"detail": "No Device matches the given query."})


def test_set_health(rest):
    """set_health/ upper-cases the name: 202 {"message":"OK"} and a logged transition."""
    grant(rest, "user3", "add_device", "change_device")
    answer = send(rest, "POST", "/api/v0.2/devices/public01/set_health/",
                  {"health": "bad", "reason": "broken"}, "user3")
    assert (answer.code, answer.json) == (202, {"message": "OK"})
    assert rest.get("/api/v0.2/devices/public01/").json["health"] == "Bad"
    assert log_messages(rest, "device", "public01")[-1] == "Good → Bad (broken)"
    form = send(rest, "POST", "/api/v0.2/devices/public01/set_health/",
                {"health": "Maintenance"}, "admin", headers=FORM)
    assert form.code == 202
    assert log_messages(rest, "device", "public01")[-1] == "Bad → Maintenance"


def test_set_health_hidden_device(rest):
    """A device the caller may not see is 404, whatever the permissions."""
    grant(rest, "user3", "add_device", "change_device")
    answer = send(rest, "POST", "/api/v0.2/devices/restricted01/set_health/",
                  {"health": "good"}, "user3")
    assert (answer.code, answer.json) == (404, {"detail": "No Device matches the given query."})


@pytest.mark.parametrize("body,expected", [
    ({"health": "bogus"}, "Wrong device health BOGUS"),
    ({}, "Wrong device health None"),
    ({"health": 3}, "Wrong device health 3"),
])
def test_set_health_errors(rest, body, expected):
    """An unknown health is 400 {"message": "Wrong device health ..."}; nothing changes."""
    before = snapshot(rest, "devices", "log_entries")
    answer = send(rest, "POST", "/api/v0.2/devices/public01/set_health/", body, "admin")
    assert (answer.code, answer.json) == (400, {"message": expected})
    assert snapshot(rest, "devices", "log_entries") == before


def test_set_health_needs_both_permissions(rest):
    """set_health/ needs add_device and change_device."""
    grant(rest, "user3", "change_device")
    answer = send(rest, "POST", "/api/v0.2/devices/public01/set_health/", {"health": "BAD"},
                  "user3")
    assert (answer.code, answer.json) == (403, FORBIDDEN)


def test_devices_validate(frest):
    """devices/validate/ renders a text/plain dictionary and parses the YAML: valid or
    invalid, both 200."""
    grant(frest, "user3", "add_device")
    url = "/api/v0.2/devices/validate/"
    answer = send(frest, "POST", url, b"{% extends 'public_device_type1.jinja2' %}\n",
                  "user3", headers=TEXT)
    assert (answer.code, answer.json) == (200, {"message": "Device dictionary valid."})
    answer = send(frest, "POST", url, b"{% extends 'nope.jinja2' %}\n", "user3", headers=TEXT)
    assert answer.code == 200
    assert answer.json["message"].startswith(
        "Device dictionary invalid: device-type template 'nope.jinja2' was not found in ")
    answer = send(frest, "POST", url, b"a: [1\n", "user3", headers=TEXT)
    assert answer.json["message"].startswith("Device dictionary invalid: while parsing a flow")
    answer = send(frest, "POST", url, b"{% if %}", "user3", headers=TEXT)
    assert answer.json == {"message": "Device dictionary invalid: syntax error in the device "
                                      "dictionary, line 1: Expected an expression, got "
                                      "'end of statement block'"}


def test_devices_validate_bad_requests(frest):
    """An empty body is 400; a JSON body is 415 (only text/plain is parsed)."""
    url = "/api/v0.2/devices/validate/"
    answer = send(frest, "POST", url, b"", "admin", headers=TEXT)
    assert (answer.code, answer.json) == (400, {"device": "Device dictionary is required."})
    answer = send(frest, "POST", url, {"a": 1}, "admin")
    assert (answer.code, answer.json) == (
        415, {"detail": 'Unsupported media type "application/json" in request.'})
    assert send(frest, "OPTIONS", url, None, "admin").json["parses"] == ["text/plain"]


# -- workers ---------------------------------------------------------------------------------------
def test_worker_create_by_model_permission(rest):
    """POST workers/ with add_worker (no superuser): 201, without the token field."""
    grant(rest, "user3", "add_worker")
    answer = send(rest, "POST", "/api/v0.2/workers/",
                  {"hostname": "worker9", "description": "d", "job_limit": 2, "token": "t"},
                  "user3")
    assert (answer.code, answer.json) == (201, {
        "hostname": "worker9", "state": "Offline", "health": "Active", "description": "d",
        "last_ping": "2026-07-01T10:00:00Z", "job_limit": 2, "version": None})
    token = rest.store.conn.execute("SELECT token FROM workers WHERE hostname = 'worker9'"
                                    ).fetchone()[0]
    assert len(token) == 32 and token != "t"


def test_worker_create_superuser_sees_and_sets_the_token(rest):
    """A superuser's create answers the token and may set it."""
    answer = send(rest, "POST", "/api/v0.2/workers/",
                  {"hostname": "worker9", "token": "s" * 32, "health": "Maintenance"}, "admin")
    assert (answer.code, answer.json["token"], answer.json["health"]) == (
        201, "s" * 32, "Maintenance")


@pytest.mark.parametrize("body,expected", [
    ({}, {"hostname": ["This field is required."]}),
    ({"hostname": "worker1"}, {"hostname": ["worker with this Hostname already exists."]}),
    ({"hostname": "w", "health": "active"}, {"health": ['"active" is not a valid choice.']}),
    ({"hostname": "w", "job_limit": -1},
     {"job_limit": ["Ensure this value is greater than or equal to 0."]}),
    ({"hostname": "w", "job_limit": 2 ** 40},
     {"job_limit": ["Ensure this value is less than or equal to 2147483647."]}),
])
def test_worker_create_errors(rest, body, expected):
    """Bad worker bodies are 400s (a missing hostname too: LAVA answers 500)."""
    before = snapshot(rest, "workers")
    answer = send(rest, "POST", "/api/v0.2/workers/", body, "admin")
    assert (answer.code, answer.json) == (400, expected)
    assert snapshot(rest, "workers") == before


def test_worker_update_runs_the_health_transition(rest):
    """PATCH health Retired (change_worker) retires the worker's devices; it is logged."""
    grant(rest, "user3", "change_worker")
    answer = send(rest, "PUT", "/api/v0.2/workers/worker1/", {"health": "Retired"}, "user3")
    assert (answer.code, answer.json["health"]) == (200, "Retired")
    assert "token" not in answer.json
    assert log_messages(rest, "worker", "worker1") == ["Active → Retired"]
    health = rest.get("/api/v0.2/devices/public01/?all=1", "admin").json["health"]
    assert health == "Retired"


def test_worker_update_errors(rest):
    """A worker cannot be renamed; a hidden worker is 404."""
    before = snapshot(rest, "workers")
    answer = send(rest, "PATCH", "/api/v0.2/workers/worker1/", {"hostname": "w2"}, "admin")
    assert (answer.code, answer.json) == (
        400, {"hostname": ["The hostname of a worker cannot be changed."]})
    grant(rest, "user3", "change_worker")
    answer = send(rest, "PATCH", "/api/v0.2/workers/worker2/", {"job_limit": 1}, "user3")
    assert (answer.code, answer.json) == (404, {"detail": "No Worker matches the given query."})
    assert snapshot(rest, "workers") == before


def test_worker_delete(rest):
    """DELETE workers/{h}/ needs delete_worker; a worker with devices is refused."""
    grant(rest, "user3", "delete_worker", "add_worker")
    send(rest, "POST", "/api/v0.2/workers/", {"hostname": "spare"}, "user3")
    assert send(rest, "DELETE", "/api/v0.2/workers/spare/", None, "user3").code == 204
    answer = send(rest, "DELETE", "/api/v0.2/workers/worker1/", None, "user3")
    assert (answer.code, answer.json) == (400, {
        "detail": "Worker 'worker1' still has devices: move or delete them first."})
    assert rest.get("/api/v0.2/workers/worker1/").code == 200


def test_worker_env_and_config(frest):
    """env/ and config/: GET the file (400 when none), POST replaces the worker's own."""
    grant(frest, "user3", "add_worker", "change_worker")
    for key, name in (("env", "env"), ("config", "dispatcher")):
        url = "/api/v0.2/workers/worker1/%s/" % key
        answer = frest.get(url)
        assert (answer.code, answer.json) == (
            400, {"detail": "Worker 'worker1' does not have '%s' file" % name})
        answer = send(frest, "POST", url, {key: "a: 1\n"}, "user3")
        assert (answer.code, answer.json) == (200, {"message": "content successfully updated"})
        answer = frest.get(url)
        assert (answer.code, answer.body) == (200, b"a: 1\n")
        assert answer.header("Content-Disposition") == "attachment; filename=%s.yaml" % (
            "env" if key == "env" else "dispatcher")


@pytest.mark.parametrize("body,expected", [
    ({}, {"env": ["This field is required."]}),
    ({"env": ""}, {"env": ["This field may not be blank."]}),
])
def test_worker_env_errors(frest, body, expected):
    """A missing or blank file is a 400; invalid YAML is refused rather than written."""
    url = "/api/v0.2/workers/worker1/env/"
    answer = send(frest, "POST", url, body, "admin")
    assert (answer.code, answer.json) == (400, expected)
    answer = send(frest, "POST", url, {"env": "a: [1\n"}, "admin")
    assert answer.code == 400
    assert answer.json["detail"].startswith("Invalid YAML syntax in 'worker1' env: ")
    assert frest.files.worker_file("worker1", "env") == ""


def test_worker_set_health(rest):
    """workers/{h}/set_health/ title-cases the name: 202, logged with the reason."""
    answer = send(rest, "POST", "/api/v0.2/workers/worker1/set_health/",
                  {"health": "MAINTENANCE", "reason": "upgrade"}, "admin")
    assert (answer.code, answer.json) == (202, {"message": "OK"})
    assert log_messages(rest, "worker", "worker1") == ["Active → Maintenance (upgrade)"]
    answer = send(rest, "POST", "/api/v0.2/workers/worker1/set_health/", {"health": "bogus"},
                  "admin")
    assert (answer.code, answer.json) == (400, {"message": "Wrong worker health Bogus"})
    answer = send(rest, "POST", "/api/v0.2/workers/nope/set_health/", {"health": "Active"},
                  "admin")
    assert (answer.code, answer.json) == (404, {"detail": "No Worker matches the given query."})


# -- aliases and tags 
def test_alias_crud_with_model_permissions(rest):
    """add_alias / change_alias / delete_alias allow each write."""
    grant(rest, "user3", "add_alias")
    answer = send(rest, "POST", "/api/v0.2/aliases/", {"name": "a9",
                                                       "device_type": "public_device_type1"},
                  "user3")
    assert (answer.code, answer.json) == (201, {"name": "a9", "device_type": "public_device_type1"})
    url = "/api/v0.2/aliases/a9/"
    assert send(rest, "PATCH", url, {"device_type": "restricted_device_type1"}, "user3").json \
        == FORBIDDEN
    grant(rest, "user3", "change_alias", "delete_alias")
    answer = send(rest, "PUT", url, {"name": "a9", "device_type": "public_device_type1"},
                  "user3")
    assert (answer.code, answer.json) == (200, {"name": "a9", "device_type": "public_device_type1"})
    assert send(rest, "DELETE", url, None, "user3").code == 204
    assert rest.get(url, "user3").code == 404


@pytest.mark.parametrize("body,expected", [
    ({}, {"name": ["This field is required."]}),
    ({"name": "alias1"}, {"name": ["alias with this Name already exists."]}),
    ({"name": "n", "device_type": "nope"},
     {"device_type": ['Invalid pk "nope" - object does not exist.']}),
    ({"name": "public_device_type1"}, {"name": ["Alias or DeviceType name already exists."]}),
])
def test_alias_errors(rest, body, expected):
    """Bad alias bodies are 400s; nothing is stored."""
    before = snapshot(rest, "aliases")
    answer = send(rest, "POST", "/api/v0.2/aliases/", body, "admin")
    assert (answer.code, answer.json) == (400, expected)
    assert snapshot(rest, "aliases") == before


def test_alias_update_rename_refused(rest):
    """An alias (named by its primary key) cannot be renamed by PUT."""
    answer = send(rest, "PUT", "/api/v0.2/aliases/alias1/", {"name": "other"}, "admin")
    assert (answer.code, answer.json) == (
        400, {"name": ["The name of a alias cannot be changed."]})


def test_tag_crud(rest):
    """Tags: create 201, rename/describe by PATCH or PUT, delete 204 (removed from devices)."""
    grant(rest, "user3", "add_tag", "change_tag", "delete_tag")
    answer = send(rest, "POST", "/api/v0.2/tags/", {"name": "tag3"}, "user3")
    assert (answer.code, answer.json) == (201, {"id": 3, "name": "tag3", "description": None})
    answer = send(rest, "PATCH", "/api/v0.2/tags/3/", {"description": "d"}, "user3")
    assert (answer.code, answer.json) == (200, {"id": 3, "name": "tag3", "description": "d"})
    answer = send(rest, "PUT", "/api/v0.2/tags/3/", {"name": "tag4"}, "user3")
    assert (answer.code, answer.json) == (200, {"id": 3, "name": "tag4", "description": "d"})
    assert send(rest, "DELETE", "/api/v0.2/tags/1/", None, "user3").code == 204
    assert rest.get("/api/v0.2/devices/public01/").json["tags"] == []


@pytest.mark.parametrize("method,path,body,expected", [
    ("POST", "/api/v0.2/tags/", {"name": "bad name"},
     {"name": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']}),
    ("POST", "/api/v0.2/tags/", {"name": "tag1"}, {"name": ["tag with this name already exists."]}),
    ("PUT", "/api/v0.2/tags/2/", {"name": "tag1"},
     {"name": ["tag with this name already exists."]}),
    ("PUT", "/api/v0.2/tags/2/", {"description": "x"}, {"name": ["This field is required."]}),
])
def test_tag_errors(rest, method, path, body, expected):
    """Bad tag bodies are 400s; the tags are unchanged."""
    before = snapshot(rest, "tags")
    answer = send(rest, method, path, body, "admin")
    assert (answer.code, answer.json) == (400, expected)
    assert snapshot(rest, "tags") == before


# -- group permissions 
def test_device_type_permission_crud(rest):
    """permissions/devicetypes/: create 201, update, delete 204, and the visibility follows."""
    body = {"group": "group2", "permission": "view_devicetype",
            "devicetype": "public_device_type1"}
    answer = send(rest, "POST", "/api/v0.2/permissions/devicetypes/", body, "admin")
    assert (answer.code, answer.json) == (201, {"id": 2, **body})
    assert rest.get("/api/v0.2/devicetypes/public_device_type1/", "user1").code == 404
    answer = send(rest, "PATCH", "/api/v0.2/permissions/devicetypes/2/", {"group": "group1"},
                  "admin")
    assert (answer.code, answer.json) == (200, {"id": 2, **body, "group": "group1"})
    assert rest.get("/api/v0.2/devicetypes/public_device_type1/", "user1").code == 200
    assert send(rest, "DELETE", "/api/v0.2/permissions/devicetypes/2/", None, "admin").code \
        == 204
    assert rest.get("/api/v0.2/permissions/devicetypes/2/", "admin").code == 404


@pytest.mark.parametrize("path,body,expected", [
    ("devicetypes", {"group": "group1", "permission": "view_device",
                     "devicetype": "public_device_type1"},
     {"permission": ["Object with codename=view_device does not exist."]}),
    ("devicetypes", {"group": "nogroup", "permission": "view_devicetype",
                     "devicetype": "public_device_type1"},
     {"group": ["Object with name=nogroup does not exist."]}),
    ("devicetypes", {"group": "group1", "permission": "view_devicetype",
                     "devicetype": "restricted_device_type1"},
     {"non_field_errors": ["The fields devicetype, permission, group must make a unique set."]}),
    ("devicetypes", {"group": "group1", "permission": "view_devicetype", "devicetype": "nope"},
     {"devicetype": ['Invalid pk "nope" - object does not exist.']}),
    ("devicetypes", {}, {"group": ["This field is required."],
                         "permission": ["This field is required."],
                         "devicetype": ["This field is required."]}),
    ("devices", {"group": "group2", "permission": "view_device", "device": "private01"},
     {"non_field_errors": ["The fields device, permission, group must make a unique set."]}),
    ("devices", {"group": "group2", "permission": "change_devicetype", "device": "private01"},
     {"permission": ["Object with codename=change_devicetype does not exist."]}),
])
def test_permission_errors(rest, path, body, expected):
    """Wrong codename, unknown group or object, duplicates: 400s as DRF words them."""
    before = snapshot(rest, "group_device_type_permissions", "group_device_permissions")
    answer = send(rest, "POST", "/api/v0.2/permissions/%s/" % path, body, "admin")
    assert (answer.code, answer.json) == (400, expected)
    assert snapshot(rest, "group_device_type_permissions", "group_device_permissions") == before


def test_device_permission_update_to_a_duplicate(rest):
    """Changing a permission into an existing one is refused; PUT needs every field."""
    body = {"group": "group2", "permission": "change_device", "device": "private01"}
    assert send(rest, "POST", "/api/v0.2/permissions/devices/", body, "admin").code == 201
    before = snapshot(rest, "group_device_permissions")
    answer = send(rest, "PATCH", "/api/v0.2/permissions/devices/2/",
                  {"permission": "view_device"}, "admin")
    assert (answer.code, answer.json) == (400, {
        "non_field_errors": ["The fields device, permission, group must make a unique set."]})
    answer = send(rest, "PUT", "/api/v0.2/permissions/devices/2/", {"group": "group1"},
                  "admin")
    assert (answer.code, answer.json) == (400, {"permission": ["This field is required."],
                                                "device": ["This field is required."]})
    assert snapshot(rest, "group_device_permissions") == before


# -- remote-artifact tokens 
def test_remote_artifact_tokens_are_the_callers(rest):
    """Each user creates, renames and deletes only their own tokens."""
    assert send(rest, "POST", "/api/v0.2/remote-artifact-tokens/",
                {"name": "n", "token": "v"}).json == AUTH
    answer = send(rest, "POST", "/api/v0.2/remote-artifact-tokens/",
                  {"name": "mine", "token": "v1"}, "user3")
    assert (answer.code, answer.json) == (201, {"name": "mine", "token": "v1"})
    answer = send(rest, "PUT", "/api/v0.2/remote-artifact-tokens/mine/",
                  {"name": "renamed", "token": "v2"}, "user3")
    assert (answer.code, answer.json) == (200, {"name": "renamed", "token": "v2"})
    answer = send(rest, "PATCH", "/api/v0.2/remote-artifact-tokens/token1/", {"token": "x"},
                  "user3")
    assert (answer.code, answer.json) == (
        404, {"detail": "No RemoteArtifactsAuth matches the given query."})
    assert send(rest, "DELETE", "/api/v0.2/remote-artifact-tokens/renamed/", None,
                "user3").code == 204
    assert rest.get("/api/v0.2/remote-artifact-tokens/", "user3").json["count"] == 0
    assert rest.get("/api/v0.2/remote-artifact-tokens/", "user1").json["count"] == 2


@pytest.mark.parametrize("method,path,body,expected", [
    ("POST", "/api/v0.2/remote-artifact-tokens/", {"name": "n"},
     {"token": ["This field is required."]}),
    ("POST", "/api/v0.2/remote-artifact-tokens/", {"name": "token1", "token": "v"},
     {"name": ["Token 'token1' already exists."]}),
    ("PUT", "/api/v0.2/remote-artifact-tokens/token1/", {"token": "v"},
     {"name": ["This field is required."]}),
    ("PATCH", "/api/v0.2/remote-artifact-tokens/token1/", {"name": "token0"},
     {"name": ["Token 'token0' already exists."]}),
])
def test_remote_artifact_token_errors(rest, method, path, body, expected):
    """Missing fields and duplicate names are 400s; the tokens are unchanged."""
    before = snapshot(rest, "remote_artifact_tokens")
    answer = send(rest, method, path, body, "user1")
    assert (answer.code, answer.json) == (400, expected)
    assert snapshot(rest, "remote_artifact_tokens") == before


# -- groups and users ------------------------------------------------------------------------------
def test_group_crud(rest):
    """groups/ (superuser): create, rename, delete."""
    answer = send(rest, "POST", "/api/v0.2/groups/", {"name": "group3"}, "admin")
    assert (answer.code, answer.json) == (201, {"id": 3, "name": "group3"})
    answer = send(rest, "PUT", "/api/v0.2/groups/3/", {"name": "group4"}, "admin")
    assert (answer.code, answer.json) == (200, {"id": 3, "name": "group4"})
    answer = send(rest, "POST", "/api/v0.2/groups/", {"name": "group4"}, "admin")
    assert (answer.code, answer.json) == (400, {"name": ["group with this name already exists."]})
    assert send(rest, "DELETE", "/api/v0.2/groups/3/", None, "admin").code == 204
    assert rest.get("/api/v0.2/groups/3/", "admin").json == \
        {"detail": "No Group matches the given query."}


def test_user_create(rest):
    """users/ (superuser): the password is write-only and hashed; groups by names."""
    body = {"username": "user9", "password": "s3cret", "email": "u9@example.com",
            "groups": ["group1", "group2"], "is_staff": True}
    answer = send(rest, "POST", "/api/v0.2/users/", body, "admin")
    assert (answer.code, answer.json) == (201, {
        "id": 6, "username": "user9", "first_name": "", "last_name": "",
        "email": "u9@example.com", "is_active": True, "is_staff": True, "is_superuser": False,
        "groups": ["group1", "group2"], "last_login": None,
        "date_joined": "2026-07-01T10:00:00Z"})
    stored = rest.store.conn.execute("SELECT password FROM users WHERE id = 6").fetchone()[0]
    assert stored.startswith("pbkdf2_sha256$") and "s3cret" not in stored
    token = send(rest, "POST", "/api/v0.2/token/", {"username": "user9", "password": "s3cret"})
    assert token.code == 200


def test_user_create_without_password_and_form_flags(rest):
    """No password: an unusable one (no login); a form create without is_active makes an
    inactive user (HTML checkbox semantics)."""
    answer = send(rest, "POST", "/api/v0.2/users/", {"username": "nopw"}, "admin")
    assert (answer.code, answer.json["is_active"]) == (201, True)
    stored = rest.store.conn.execute("SELECT password FROM users WHERE username = 'nopw'"
                                     ).fetchone()[0]
    assert stored.startswith("!")
    answer = send(rest, "POST", "/api/v0.2/users/", {"username": "formuser"}, "admin",
                  headers=FORM)
    assert (answer.code, answer.json["is_active"]) == (201, False)


@pytest.mark.parametrize("body,expected", [
    ({}, {"username": ["This field is required."]}),
    ({"username": "user1"}, {"username": ["A user with that username already exists."]}),
    ({"username": "bad name"}, {"username": [
        "Enter a valid username. This value may contain only letters, numbers, and "
        "@/./+/-/_ characters."]}),
    ({"username": "u", "email": "nope"}, {"email": ["Enter a valid email address."]}),
    ({"username": "u", "groups": ["group1", "nogroup"]},
     {"groups": ["Object with name=nogroup does not exist."]}),
    ({"username": "u", "password": ""}, {"password": ["This field may not be blank."]}),
    ({"username": "u", "is_superuser": "perhaps"}, {"is_superuser": ["Must be a valid boolean."]}),
])
def test_user_create_errors(rest, body, expected):
    """Bad user bodies are 400s; no account is created."""
    before = snapshot(rest, "users", "user_groups")
    answer = send(rest, "POST", "/api/v0.2/users/", body, "admin")
    assert (answer.code, answer.json) == (400, expected)
    assert snapshot(rest, "users", "user_groups") == before


def test_user_update_and_delete(rest):
    """PATCH renames, changes the password and groups; DELETE removes an account without
    jobs and refuses one with jobs."""
    answer = send(rest, "PATCH", "/api/v0.2/users/4/",
                  {"username": "user3b", "password": "pw2", "groups": ["group2"]}, "admin")
    assert (answer.code, answer.json["username"], answer.json["groups"]) == (
        200, "user3b", ["group2"])
    assert send(rest, "POST", "/api/v0.2/token/",
                {"username": "user3b", "password": "pw2"}).code == 200
    assert rest.get("/api/v0.2/system/whoami/", "user3").json == {"user": "user3b"}
    assert send(rest, "DELETE", "/api/v0.2/users/4/", None, "admin").code == 204
    before = snapshot(rest, *TABLES)
    answer = send(rest, "DELETE", "/api/v0.2/users/2/", None, "admin")
    assert (answer.code, answer.json) == (400, {"detail": (
        "User 'user1' has submitted jobs: deactivate the account instead (is_active=false).")})
    assert snapshot(rest, *TABLES) == before


def test_user_put_is_a_full_update(rest):
    """PUT users/{id}/ needs the username; a refused update keeps the account."""
    before = snapshot(rest, "users", "user_groups")
    answer = send(rest, "PUT", "/api/v0.2/users/2/", {"email": "x@example.com"}, "admin")
    assert (answer.code, answer.json) == (400, {"username": ["This field is required."]})
    answer = send(rest, "PUT", "/api/v0.2/users/2/", {"username": "user2"}, "admin")
    assert (answer.code, answer.json) == (
        400, {"username": ["A user with that username already exists."]})
    assert snapshot(rest, "users", "user_groups") == before
