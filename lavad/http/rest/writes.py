"""The REST writes of the collections: create (POST), update (PUT, PATCH), destroy (DELETE).

One :class:`Writable` per resource says what its bodies hold
(:mod:`lavad.http.rest.fields`), which domain functions create, change and
delete its objects, and how their errors are worded on the wire (DRF's
"... already exists." and "Invalid pk ..." texts).  The views look the object up
through the same query as the reads (so what a caller may not see, or a
retired device without ``?all``, is a 404), write, and read the record back,
all in one transaction.  Every rule (names, references, what may be deleted)
is the domain's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lavad import accounts, devices, jobs, query, statemachine, users
from lavad.errors import Conflict, Duplicate, Invalid, LavadError, NotFound
from lavad.http.rest.fields import Field, parse
from lavad.http.rest.views import Call, View
from lavad.http.rest.wire import HttpError, Reply
from lavad.models import DeviceHealth, WorkerHealth
from lavad.store.tx import Tx
from lavad.users import Principal

PK_MISSING = 'Invalid pk "%s" - object does not exist.'
NAME_MISSING = "Object with name=%s does not exist."

Values = dict[str, Any]
Record = dict[str, Any]


@dataclass(frozen=True)
class Writable:
    """How one resource is written.

    ``create(tx, principal, values)`` returns the new object's key;
    ``update(tx, principal, key, record, values)`` the key after the change
    (``record`` is the object as read); ``delete(tx, principal, key, record)``.
    """

    fields: tuple[Field, ...]
    create: Callable[[Tx, Principal, Values], Any] | None
    update: Callable[[Tx, Principal, Any, Record, Values], Any]
    delete: Callable[[Tx, Principal, Any, Record], None]
    update_fields: tuple[Field, ...] | None = None   # when they differ from ``fields``
    superuser_fields: tuple[Field, ...] = ()         # only superusers may write these
    partial_put: bool = False                        # PUT is partial, like PATCH
    hidden_on_update: tuple[str, ...] = ()           # left out of update answers
    read_params: Mapping[str, list[str]] | None = None  # to read the record back
    unique: Mapping[str, str] = field(default_factory=dict)   # field -> DRF's Duplicate text
    relations: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    together: bool = False                           # a keyless Conflict: non_field_errors

    def body(self, principal: Principal, creating: bool) -> tuple[Field, ...]:
        base = self.fields if creating or self.update_fields is None else self.update_fields
        return base + (self.superuser_fields if principal.is_superuser else ())

    def wire_error(self, exc: Exception) -> HttpError | None:
        """The DRF wording of a domain error, where it has one."""
        if isinstance(exc, Duplicate) and exc.field is not None and exc.field in self.unique:
            return HttpError(400, {exc.field: [self.unique[exc.field]]})
        if isinstance(exc, Conflict) and exc.field is None and self.together:
            return HttpError(400, {"non_field_errors": [exc.message]})
        if isinstance(exc, NotFound) and exc.model is not None and exc.model in self.relations:
            name, text = self.relations[exc.model]
            return HttpError(400, {name: [text % (exc.key,)]})
        return None


def _same_key(given: Any, key: Any, name: str, what: str) -> None:
    if given != key:
        raise Invalid("The %s of a %s cannot be changed." % (name, what), field=name)


# -- jobs --------------------------------------------------------------------------------------
def _job_update(tx: Tx, principal: Principal, key: int, record: Record, v: Values) -> int:
    jobs.thd_update_job(tx, key, **v)
    return key


def _job_delete(tx: Tx, principal: Principal, key: int, record: Record) -> None:
    statemachine.thd_delete_job(tx, principal, key)


# -- device types ------------------------------------------------------------------------------
def _device_type_create(tx: Tx, principal: Principal, v: Values) -> str:
    name = v.pop("name")
    devices.thd_add_device_type(tx, name, **v)
    return name


def _device_type_update(tx: Tx, principal: Principal, key: str, record: Record,
                        v: Values) -> str:
    _same_key(v.pop("name", key), key, "name", "device type")
    devices.thd_update_device_type(tx, key, **v)
    return key


def _device_type_delete(tx: Tx, principal: Principal, key: str, record: Record) -> None:
    devices.thd_delete_device_type(tx, key)


# -- devices -----------------------------------------------------------------------------------
def _device_create(tx: Tx, principal: Principal, v: Values) -> str:
    hostname = v.pop("hostname")
    devices.thd_add_device(tx, hostname, v.pop("device_type"), principal, **v)
    return hostname


def _device_update(tx: Tx, principal: Principal, key: str, record: Record, v: Values) -> str:
    devices.thd_update_device(tx, key, principal, None, **v)
    return key


def _device_delete(tx: Tx, principal: Principal, key: str, record: Record) -> None:
    devices.thd_delete_device(tx, key)


# -- workers -----------------------------------------------------------------------------------
def _worker_create(tx: Tx, principal: Principal, v: Values) -> str:
    hostname = v.pop("hostname")
    devices.thd_add_worker(tx, hostname, **v)
    return hostname


def _worker_update(tx: Tx, principal: Principal, key: str, record: Record, v: Values) -> str:
    _same_key(v.pop("hostname", key), key, "hostname", "worker")
    devices.thd_update_worker(tx, key, principal, None, **v)
    return key


def _worker_delete(tx: Tx, principal: Principal, key: str, record: Record) -> None:
    devices.thd_delete_worker(tx, key)


# -- aliases and tags --------------------------------------------------------------------------
def _alias_create(tx: Tx, principal: Principal, v: Values) -> str:
    devices.thd_add_alias(tx, v["name"], v.get("device_type"))
    return v["name"]


def _alias_update(tx: Tx, principal: Principal, key: str, record: Record, v: Values) -> str:
    _same_key(v.get("name", key), key, "name", "alias")
    if "device_type" in v:
        devices.thd_add_alias(tx, key, v["device_type"], replace=True)
    return key


def _alias_delete(tx: Tx, principal: Principal, key: str, record: Record) -> None:
    devices.thd_delete_alias(tx, key)


def _tag_create(tx: Tx, principal: Principal, v: Values) -> int:
    return devices.thd_add_tag(tx, v["name"], v.get("description"))["id"]


def _tag_update(tx: Tx, principal: Principal, key: int, record: Record, v: Values) -> int:
    devices.thd_update_tag(tx, key, **v)
    return key


def _tag_delete(tx: Tx, principal: Principal, key: int, record: Record) -> None:
    devices.thd_delete_tag(tx, key)


# -- group permissions on device types and devices --------------------------------------------
def _permissions(kind: str) -> Writable:
    def create(tx: Tx, principal: Principal, v: Values) -> int:
        return devices.thd_add_object_permission(tx, kind, v["group"], v["permission"],
                                                 v[kind])["id"]

    def update(tx: Tx, principal: Principal, key: int, record: Record, v: Values) -> int:
        devices.thd_update_object_permission(tx, kind, key, **v)
        return key

    def delete(tx: Tx, principal: Principal, key: int, record: Record) -> None:
        devices.thd_remove_object_permission(tx, kind, key)

    model = "DeviceType" if kind == "devicetype" else "Device"
    return Writable(
        (Field("group", required=True), Field("permission", required=True),
         Field(kind, "pk", required=True, pk_type="str")),
        create, update, delete, relations={model: (kind, PK_MISSING)}, together=True)


# -- remote-artifact tokens, groups, users -------------------------------------------------------
def _token_create(tx: Tx, principal: Principal, v: Values) -> str:
    accounts.thd_add_remote_artifact_token(tx, principal, v["name"], v["token"])
    return v["name"]


def _token_update(tx: Tx, principal: Principal, key: str, record: Record, v: Values) -> str:
    return accounts.thd_update_remote_artifact_token(tx, principal, key, v.get("name"),
                                                     v.get("token"))


def _token_delete(tx: Tx, principal: Principal, key: str, record: Record) -> None:
    accounts.thd_delete_remote_artifact_token(tx, principal, key)


def _group_create(tx: Tx, principal: Principal, v: Values) -> int:
    return users.thd_add_group(tx, v["name"])["id"]


def _group_update(tx: Tx, principal: Principal, key: int, record: Record, v: Values) -> int:
    users.thd_update_group(tx, record["name"], rename=v.get("name"))
    return key


def _group_delete(tx: Tx, principal: Principal, key: int, record: Record) -> None:
    users.thd_delete_group(tx, record["name"])


_USER_FLAGS = ("first_name", "last_name", "email", "is_active", "is_staff", "is_superuser")


def _user_create(tx: Tx, principal: Principal, v: Values) -> int:
    user = users.thd_add_user(tx, v["username"], v.get("password"),
                              **{k: v[k] for k in _USER_FLAGS if k in v})
    if v.get("groups"):
        accounts.thd_set_user_groups(tx, v["username"], v["groups"])
    return user["id"]


def _user_update(tx: Tx, principal: Principal, key: int, record: Record, v: Values) -> int:
    users.thd_update_user(tx, record["username"], password=v.get("password"),
                          new_username=v.get("username"),
                          **{k: v[k] for k in _USER_FLAGS if k in v})
    if "groups" in v:
        accounts.thd_set_user_groups(tx, v.get("username") or record["username"], v["groups"])
    return key


def _user_delete(tx: Tx, principal: Principal, key: int, record: Record) -> None:
    users.thd_delete_user(tx, record["username"])


_DEVICE_FIELDS = (
    Field("device_type", "pk", required=True, pk_type="str"),
    Field("device_version", null=True, blank=True, max_length=200),
    Field("physical_owner", "pk", null=True),
    Field("physical_group", "pk", null=True),
    Field("description", null=True, blank=True),
    Field("tags", "pks"),
    Field("health", "choice", choices=tuple(DeviceHealth.displays())),
    Field("worker_host", "pk", null=True, pk_type="str"),
    Field("is_synced", "bool"),
)

WRITABLE: dict[str, Writable] = {
    "jobs": Writable(
        (Field("definition"),), None, _job_update, _job_delete,
        superuser_fields=(Field("token", max_length=32),), partial_put=True),
    "devicetypes": Writable(
        (Field("name", required=True, max_length=50),
         Field("architecture", null=True, max_length=100),
         Field("processor", null=True, max_length=100),
         Field("cpu_model", null=True, blank=True, max_length=100),
         Field("aliases", "names", required=True),
         Field("bits", "int", null=True),
         Field("cores", "names"),
         Field("core_count", "int", null=True, min_value=0),
         Field("description", null=True, blank=True),
         Field("health_frequency", "int"),
         Field("disable_health_check", "bool"),
         Field("display", "bool")),
        _device_type_create, _device_type_update, _device_type_delete,
        unique={"name": "device type with this name already exists."}),
    "devices": Writable(
        (Field("hostname", required=True, max_length=200), *_DEVICE_FIELDS),
        _device_create, _device_update, _device_delete, update_fields=_DEVICE_FIELDS,
        partial_put=True, hidden_on_update=("hostname",), read_params={"all": ["1"]},
        unique={"hostname": "device with this Hostname already exists."},
        relations={"DeviceType": ("device_type", PK_MISSING),
                   "Worker": ("worker_host", PK_MISSING),
                   "User": ("physical_owner", PK_MISSING),
                   "Group": ("physical_group", PK_MISSING), "Tag": ("tags", PK_MISSING)}),
    "workers": Writable(
        (Field("hostname", required=True, max_length=200),
         Field("health", "choice", choices=tuple(WorkerHealth.displays())),
         Field("description", null=True, blank=True),
         Field("job_limit", "int", min_value=0),
         Field("version", null=True, blank=True, max_length=50)),
        _worker_create, _worker_update, _worker_delete,
        superuser_fields=(Field("token", max_length=32),), partial_put=True,
        unique={"hostname": "worker with this Hostname already exists."}),
    "aliases": Writable(
        (Field("name", required=True, max_length=200),
         Field("device_type", "pk", null=True, pk_type="str")),
        _alias_create, _alias_update, _alias_delete,
        unique={"name": "alias with this Name already exists."},
        relations={"DeviceType": ("device_type", PK_MISSING)}),
    "tags": Writable(
        (Field("name", required=True, max_length=100),
         Field("description", null=True, blank=True)),
        _tag_create, _tag_update, _tag_delete,
        unique={"name": "tag with this name already exists."}),
    "permissions/devicetypes": _permissions("devicetype"),
    "permissions/devices": _permissions("device"),
    "remote-artifact-tokens": Writable(
        (Field("name", required=True, max_length=100),
         Field("token", required=True, max_length=100)),
        _token_create, _token_update, _token_delete),
    "groups": Writable(
        (Field("name", required=True, max_length=150),),
        _group_create, _group_update, _group_delete,
        unique={"name": "group with this name already exists."}),
    "users": Writable(
        (Field("username", required=True, max_length=150),
         Field("password", trim=False, max_length=128),
         Field("first_name", blank=True, max_length=150),
         Field("last_name", blank=True, max_length=150),
         Field("email", "email", blank=True, max_length=254),
         Field("is_active", "bool"), Field("is_staff", "bool"), Field("is_superuser", "bool"),
         Field("groups", "names")),
        _user_create, _user_update, _user_delete,
        unique={"username": "A user with that username already exists."},
        relations={"Group": ("groups", NAME_MISSING)}),
}


# -- the views ---------------------------------------------------------------------------------
def _thd_create(tx: Tx, resource: str, principal: Principal, values: Values) -> Record:
    spec = WRITABLE[resource]
    assert spec.create is not None
    key = spec.create(tx, principal, values)
    return query.thd_get(tx, resource, principal, key, spec.read_params)


def _thd_update(tx: Tx, resource: str, principal: Principal, key: Any,
                params: Mapping[str, Any], values: Values) -> Record:
    spec = WRITABLE[resource]
    record = query.thd_get(tx, resource, principal, key, params)
    key = spec.update(tx, principal, key, record, values)
    return query.thd_get(tx, resource, principal, key, spec.read_params)


def _thd_destroy(tx: Tx, resource: str, principal: Principal, key: Any,
                 params: Mapping[str, Any]) -> None:
    spec = WRITABLE[resource]
    spec.delete(tx, principal, key, query.thd_get(tx, resource, principal, key, params))


async def _run(call: Call, spec: Writable, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return await call.lab.run(fn, *args)
    except LavadError as exc:
        error = spec.wire_error(exc)
        if error is None:
            raise
        raise error from None


def _resource(call: Call) -> tuple[str, Writable]:
    resource = call.route.resource
    assert resource is not None
    return resource, WRITABLE[resource]


async def create_view(call: Call) -> Reply:
    resource, spec = _resource(call)
    values = parse(spec.body(call.principal, creating=True), call.body())
    record = await _run(call, spec, _thd_create, resource, call.principal, values)
    return Reply(201, call.absolute(record))


async def update_view(call: Call) -> Reply:
    resource, spec = _resource(call)
    assert call.route.key is not None
    partial = spec.partial_put or call.request.method == b"PATCH"
    values = parse(spec.body(call.principal, creating=False), call.body(), partial)
    record = await _run(call, spec, _thd_update, resource, call.principal,
                        call.args[call.route.key], call.params, values)
    for name in spec.hidden_on_update:
        record.pop(name, None)
    return Reply(data=call.absolute(record))


async def destroy_view(call: Call) -> Reply:
    resource, spec = _resource(call)
    assert call.route.key is not None
    await _run(call, spec, _thd_destroy, resource, call.principal, call.args[call.route.key],
               call.params)
    return Reply(204, empty=True)


WRITE_VIEWS: dict[str, View] = {"create": create_view, "update": update_view,
                                "destroy": destroy_view}
