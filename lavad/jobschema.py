"""Job-definition schemas, as voluptuous validators.

Two checks clients can observe, each with voluptuous's own error texts
(``required key not provided @ data['actions']`` ...):

* :func:`submission_schema` — what a lab checks when a job is *submitted*:
  the top-level keys are fixed, the blocks inside them mostly open; then
  :func:`check_submission_extras`.
* :func:`check_job` — the full job schema behind ``jobs/validate/`` and
  ``scheduler.jobs.validate``: closed blocks (when ``strict``), then the
  cross-field checks (timeouts, multinode, namespaces), then each action
  against its kind's schema (:mod:`lavad.actionschema`).
"""

from __future__ import annotations

import functools
import re
import typing
from datetime import timedelta

from voluptuous import (ALLOW_EXTRA, All, Any, Exclusive, In, Invalid, Length, Match, Optional,
                        Range, Required, Schema)

from lavad.actionschema import TIME_UNITS, Block, check_action, check_testdef, timeout

# The ``context:`` keys a job may set (device-type templates read them).
CONTEXT_VARIABLES = (
    "arch", "boot_console", "boot_root", "cpu", "extra_options", "guestfs_driveid",
    "guestfs_interface", "guestfs_size", "machine", "memory", "model", "monitor", "netdevice",
    "no_kvm", "no_network", "serial", "vga",
    "booti_dtb_addr", "booti_kernel_addr", "booti_ramdisk_addr", "bootm_dtb_addr",
    "bootm_kernel_addr", "bootm_ramdisk_addr", "bootz_dtb_addr", "bootz_kernel_addr",
    "bootz_ramdisk_addr",
    "deploy_character_delay", "boot_character_delay", "boot_retry", "bootloader_prompt",
    "console_device", "custom_kernel_args", "extra_kernel_args", "extra_nfsroot_args",
    "failure_retry", "kernel_loglevel", "kernel_start_message", "lava_test_results_dir",
    "menu_interrupt_prompt", "mustang_menu_list", "test_character_delay", "tftp_mac_address",
    "uboot_extra_error_message", "uboot_needs_interrupt", "uboot_altbank",
)

NOTIFY_STATUSES = ("running", "complete", "incomplete", "canceled", "finished", "all")
ACTION_NAME = re.compile(r"^[a-z-]+$")


def _one_of(*values: str) -> typing.Any:
    return Any(*values)


def _context(extra_context: tuple[str, ...] = ()) -> Schema:
    names = list(CONTEXT_VARIABLES) + list(extra_context)
    return Schema({In(names): Any(int, str, [int, str])}, extra=False)


def timeout_seconds(block: dict[str, typing.Any]) -> int:
    """A timeout block (``{minutes: 5}`` ...) in seconds."""
    return int(timedelta(**{unit: block.get(unit, 0) for unit in TIME_UNITS}).total_seconds())


# =====================================================================================
# The submission schema
# =====================================================================================
def _sub_timeout() -> Schema:
    """One unit (at most), any integer, and ``skip``."""
    block: Block = {Exclusive(unit, "timeout_unit"): int for unit in TIME_UNITS}
    block[Optional("skip")] = bool
    return Schema(block)


def _is_action_name(value: typing.Any) -> str:
    text = str(value)
    if not ACTION_NAME.match(text):
        raise Invalid(value)
    return text


def _sub_timeouts() -> Schema:
    named = {All(_is_action_name): _sub_timeout()}
    return Schema({
        Required("job"): _sub_timeout(),
        Optional("action"): _sub_timeout(),
        Optional("connection"): _sub_timeout(),
        Optional("queue"): _sub_timeout(),
        Optional("actions"): named,
        Optional("connections"): named,
    })


def _open(block: Block) -> Schema:
    return Schema(block, extra=ALLOW_EXTRA)


def _sub_deploy() -> typing.Any:
    url = {Required("url"): str}
    to_tftp = {Required("to"): "tftp", Optional("timeout"): _sub_timeout()}
    for image in ("kernel", "ramdisk", "nbdroot", "initrd", "nfsrootfs", "dtb", "modules",
                  "tee"):
        to_tftp[Optional(image)] = url
    return Any(_open(to_tftp), _open({Required("to"): str, Optional("timeout"): _sub_timeout()}))


def _sub_boot() -> Schema:
    return _open({
        Required("method"): str,
        Optional("timeout"): _sub_timeout(),
        Optional("auto_login"): Schema({
            Required("login_prompt"): str, Required("username"): str,
            Optional("password_prompt"): str, Optional("password"): str,
            Optional("login_commands"): list}),
        Optional("parameters"): Schema({Any(str): Any(str, bool)}),
        Optional("commands"): Any(str, list),
    })


def _sub_test() -> typing.Any:
    slug = Match(r"^[a-zA-Z0-9-_]+$", msg="Invalid character")
    inline = Schema({"metadata": dict, "install": dict, "run": dict, "parse": dict})
    definitions = Schema([{
        Required("repository"): Any(inline, str), Required("from"): str,
        Required("name"): str, Required("path"): str, Optional("parameters"): dict,
        Optional("timeout"): _sub_timeout(),
    }], extra=ALLOW_EXTRA)
    services = Schema([{
        Required("name"): str, Required("from"): str, Required("repository"): str,
        Required("path"): str, Optional("service"): str, Optional("timeout"): _sub_timeout(),
    }], extra=ALLOW_EXTRA)
    monitors = Schema([{
        Required("name"): slug, Required("start"): str, Required("end"): str,
        Required("pattern"): str, Optional("fixupdict"): dict, Optional("expected"): [str],
    }])
    step = {
        Optional("name"): slug, Optional("command"): Any(None, str), Optional("delay"): int,
        Optional("lava-send"): str, Optional("lava-sync"): str, Optional("lava-wait"): str,
        Optional("lava-wait-all"): str, Optional("wait_for_prompt"): bool,
        Optional("failures"): [{
            Required("message"): str,
            Optional("exception"): _one_of("InfrastructureError", "JobError", "TestError"),
            Optional("error"): str}],
        Optional("successes"): [{Required("message"): str}],
    }
    interactive = Schema([{
        Required("name"): slug, Required("prompts"): [All(str, Length(min=1))],
        Optional("echo"): "discard", Optional("expected"): [All(str, Length(min=1))],
        Required("script"): Schema([step]),
    }])
    timeout = {Optional("timeout"): _sub_timeout()}
    return Any(
        _open({Required("monitors"): monitors, **timeout}),
        _open({Required("interactive"): interactive, **timeout}),
        _open({Required("definitions"): definitions, **timeout}),
        _open({Required("services"): services, **timeout}),
    )


def _sub_callback() -> Block:
    return {
        Required("url"): str,
        Optional("method"): _one_of("GET", "POST"),
        Optional("token"): str,
        Optional("dataset"): _one_of("minimal", "logs", "results", "all"),
        Optional("content-type"): _one_of("json", "urlencoded"),
    }


def notify_schema() -> Schema:
    """The submission schema's ``notify:`` block."""
    recipient = {Required("to"): {
        Required("method"): _one_of("email", "irc"),
        "user": str, "email": str, "server": str, "handle": str}}
    criteria = _open({
        Required("status"): _one_of(*NOTIFY_STATUSES),
        Optional("dependency_query"): str,
        "type": _one_of("progression", "regression"),
    })
    compare = _open({
        "query": Any(Schema({Required("username"): str, Required("name"): str}),
                     Schema({Required("entity"): str, "conditions": dict})),
        "blacklist": [str],
    })
    return _open({
        Required("criteria"): criteria,
        "recipients": Schema([recipient]),
        Exclusive("callback", "legacy_callback"): _open(_sub_callback()),
        Exclusive("callbacks", "legacy_callback"): Schema([_sub_callback()], extra=ALLOW_EXTRA),
        "verbosity": _one_of("verbose", "quiet", "status-only"),
        "compare": compare,
    })


@functools.lru_cache(maxsize=8)
def submission_schema(extra_context: tuple[str, ...] = ()) -> Schema:
    """The schema a submitted job must pass (top-level keys fixed, blocks mostly open)."""
    actions = Schema([{
        "deploy": _sub_deploy(), "boot": _sub_boot(), "test": _sub_test(),
        "command": _open({Required("name"): str, Optional("timeout"): _sub_timeout(),
                          Optional("namespace"): str}),
    }])
    return Schema({
        "device_type": All(str, Length(min=1)),
        Optional("device"): All(str, Length(min=1)),
        Optional("worker"): All(str, Length(min=1)),
        Required("job_name"): All(str, Length(min=1, max=200)),
        Optional("priority"): Any("high", "medium", "low", int),
        Optional("protocols"): Schema({
            "lava-multinode": {"timeout": _sub_timeout(), "roles": dict},
            "lava-xnbd": dict}),
        Optional("context"): _context(extra_context),
        Optional("metadata"): All({Any(str, int): object}),
        Optional("secrets"): dict,
        Optional("environment"): dict,
        Optional("tags"): [str],
        Required("visibility"): Any("public", "personal", {"group": [str]}),
        Required("timeouts"): _sub_timeouts(),
        Required("actions"): actions,
        Optional("notify"): notify_schema(),
        Optional("reboot_to_fastboot"): bool,
    })


def check_submission_extras(job: dict[str, typing.Any],
                            extra_context: tuple[str, ...] = ()) -> str | None:
    """The submission checks beyond the schema; the first problem's text, or None."""
    for action in job["actions"]:
        for definition in (action.get("test") or {}).get("definitions") or []:
            if "revision" in definition and definition.get("shallow") is True:
                return "When 'revision' is used, 'shallow' shouldn't be 'True'"
    multinode = (job.get("protocols") or {}).get("lava-multinode")
    if multinode is None:
        return None
    roles = multinode["roles"]  # KeyError: reported as "job submission failed: 'roles'."
    context = _context(extra_context)
    for name, role in roles.items():
        if not isinstance(role, dict):
            return "Role '%s' is not a dictionary." % name
        host_role, expect_role = role.get("host_role"), role.get("expect_role")
        if host_role is not None:
            if host_role not in roles:
                return "'host_role' '%s' does not exist" % host_role
            if expect_role is None:
                return "'expect_role' is required when 'host_role' is used"
            if expect_role not in roles:
                return "'expect_role' '%s' does not exist" % expect_role
        elif expect_role is not None:
            return "'expect_role' without 'host_role'"
        if "connection" in role and ("device" in role or "worker" in role):
            return "lava-multinode connection roles cannot specify device or worker."
        for key in ("device", "worker"):
            if key in role and "device_type" not in role:
                return "'%s' requires 'device_type'" % key
        if "device" in role and role.get("count") != 1:
            return "lava-multinode roles using a specific device must set count to 1."
        context(role.get("context", {}))
    return None


# =====================================================================================
# The full job schema (validate)
# =====================================================================================
def _notify() -> Block:
    callback = {**_sub_callback(), Optional("header"): str}
    criteria = Any(
        {Required("status"): "all"},
        {Required("status"): _one_of("finished", "running", "complete", "canceled",
                                     "incomplete"),
         Optional("dependency_query"): str},
        {Required("status"): _one_of("complete", "incomplete"),
         Optional("type"): _one_of("regression", "progression")},
    )
    return {
        Required("criteria"): criteria,
        Optional("verbosity"): _one_of("verbose", "quiet", "status-only"),
        Optional("recipients"): [{Required("to"): {
            Required("method"): _one_of("email", "irc"), Optional("user"): str,
            Optional("email"): str, Optional("handle"): str, Optional("server"): str}}],
        Exclusive("callback", "callback"): callback,
        Exclusive("callbacks", "callback"): [callback],
        Optional("compare"): {
            Optional("blacklist"): [str],
            Optional("query"): Any({Required("username"): str, Required("name"): str},
                                   {Required("entity"): str,
                                    Optional("conditions"): {str: str}}),
        },
    }


def _roles(extra_context: tuple[str, ...]) -> Block:
    shared = {
        Required("count"): Range(min=0),
        Optional("context"): _context(extra_context),
        Optional("essential"): bool,
        Optional("tags"): [str],
        Optional("timeout"): timeout(),
    }
    on_device = {**shared, Required("device_type"): str, Optional("device"): str,
                 Optional("worker"): str, Optional("environment"): dict}
    on_connection = {**shared, Required("connection"): str, Required("expect_role"): str,
                     Required("host_role"): str, Optional("request"): str}
    return {str: Any(on_device, on_connection)}


def _job_block(extra_context: tuple[str, ...]) -> Block:
    text = All(str, Length(min=1, max=200))
    return {
        Required("job_name"): text,
        Optional("device_type"): text,
        Optional("device"): text,
        Optional("worker"): text,
        Required("timeouts"): {
            Required("job"): timeout(),
            Optional("action"): timeout(),
            Optional("actions"): {str: timeout()},
            Optional("connection"): timeout(),
            Optional("connections"): {str: timeout()},
            Optional("queue"): timeout(),
        },
        Required("visibility"): Any("public", "personal", {"group": [str]}),
        Optional("context"): _context(extra_context),
        Optional("metadata"): {str: object},
        Optional("priority"): Any("high", "medium", "low", Range(min=0, max=100)),
        Optional("tags"): [str],
        Optional("secrets"): {str: str},
        Optional("environment"): dict,
        Optional("protocols"): {
            Optional("lava-multinode"): {
                Required("roles"): _roles(extra_context),
                Optional("timeout"): timeout(),
            },
            Optional("lava-xnbd"): {Required("port"): Any("auto", int),
                                    Optional("timeout"): timeout()},
        },
        Optional("notify"): _notify(),
        Optional("reboot_to_fastboot"): bool,
        Required("actions"): [{Any("boot", "command", "deploy", "test"): dict}],
    }


def _first_key(action: dict[str, typing.Any]) -> str:
    return next(iter(action))


def _cross_checks(job: dict[str, typing.Any]) -> dict[str, typing.Any]:
    """Checks across fields, run once the job has the right shape."""
    limit = timeout_seconds(job["timeouts"]["job"])

    def not_longer(prefix: str, path: list[typing.Any], block: typing.Any) -> None:
        if block is not None and timeout_seconds(block) > limit:
            raise Invalid("%s timeout is larger than job timeout" % prefix, path=path)

    timeouts = job["timeouts"]
    for single, many in (("action", "actions"), ("connection", "connections")):
        not_longer("Global", ["timeouts", single], timeouts.get(single))
        for key, block in (timeouts.get(many) or {}).items():
            not_longer("Global", ["timeouts", many, key], block)
    for index, action in enumerate(job["actions"]):
        not_longer("Action", ["actions", str(index)],
                   action[_first_key(action)].get("timeout"))

    multinode = (job.get("protocols") or {}).get("lava-multinode")
    if multinode:
        for action in job["actions"]:
            if "role" not in action[_first_key(action)]:
                raise Invalid("Every action of a multinode job should have roles")
    for key in ("device_type", "environment", "context", "tags"):
        if job.get(key) and multinode:
            raise Invalid('"%s" should not be used with multinode' % key)
        if key == "device_type" and not job.get(key) and not multinode:
            raise Invalid('"device_type" or multinode should be defined')

    spaced = [a for a in job["actions"] if a[_first_key(a)].get("namespace") is not None]
    if spaced and len(spaced) != len(job["actions"]):
        raise Invalid("When using namespaces, every action should have a namespace")
    return job


@functools.lru_cache(maxsize=8)
def job_schema(strict: bool = False, extra_context: tuple[str, ...] = ()) -> Schema:
    return Schema(All(_job_block(extra_context), _cross_checks), extra=not strict)


def check_job(job: typing.Any, strict: bool = False, extra_context: tuple[str, ...] = ()) -> None:
    """The full job schema; raises :class:`voluptuous.Invalid` (``.msg``, ``.path``)."""
    job_schema(strict, extra_context)(job)
    for index, action in enumerate(job["actions"]):
        kind = _first_key(action)
        check_action(index, kind, action[kind], strict)


__all__ = ["CONTEXT_VARIABLES", "check_action", "check_job", "check_submission_extras",
           "check_testdef", "job_schema", "notify_schema", "submission_schema",
           "timeout_seconds"]
