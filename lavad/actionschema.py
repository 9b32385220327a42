"""Job actions: one voluptuous schema per action kind, and Lava-Test Test Definitions.

``deploy`` actions are told apart by ``to:``, ``boot`` actions by
``method:``, ``test`` actions by their block (``definitions``,
``interactive``, ``monitors``, ``services``).  Errors carry paths such as
``['actions[0]', 'deploy', 'tmpfs', 'images']``.  Only the kinds jobs commonly
use have a detailed schema; the other kinds a LAVA dispatcher knows are
accepted with the keys every action shares plus anything else.
"""

from __future__ import annotations

import typing
from collections.abc import Callable

from voluptuous import (ALLOW_EXTRA, All, Any, Exclusive, Extra, Invalid, Length, Match, Msg,
                        NotIn, Optional, Range, Required, Schema)

TIME_UNITS = ("days", "hours", "minutes", "seconds")
# A schema mapping (its keys are markers such as Required("x")).
Block = dict[typing.Any, typing.Any]
NAME_PATTERN = r"^[-_a-zA-Z0-9.]+$"


def timeout() -> typing.Any:
    """A timeout block: exactly one unit, at least 1."""
    return Any(*({Required(unit): Range(min=1), Optional("skip"): bool} for unit in TIME_UNITS))


def _action_common() -> Block:
    """Keys every action may carry."""
    return {
        Optional("namespace"): All(str, NotIn(
            ["common", "docker-test-shell"],
            msg="'common' and 'docker-test-shell' are reserved namespace names")),
        Optional("connection-namespace"): str,
        Optional("protocols"): object,
        Optional("role"): [str],
        Optional("timeout"): timeout(),
        Optional("timeouts"): {str: timeout()},
        Optional("repeat"): Range(min=1),
        Optional("failure_retry"): Range(min=1),
        Optional("failure_retry_interval"): Range(min=1),
    }


# -- the kinds ---------------------------------------------------------------
def _url(more: Block | None = None) -> typing.Any:
    """A downloadable resource (optionally an image with overlays)."""
    base = {
        Required("url"): str,
        Optional("headers"): dict,
        Optional("compression"): Any("bz2", "gz", "xz", "zip", "zstd", None),
        Optional("archive"): "tar",
        Optional("md5sum"): str,
        Optional("sha256sum"): str,
        Optional("sha512sum"): str,
        Optional("use_cache"): bool,
    }
    plain = {**base, **(more or {})}
    overlay = {**base, Required("format"): Any("file", "tar"), Required("path"): str}
    with_overlays = {
        **plain,
        Required("format"): Any("cpio.newc", "ext4", "tar"),
        Optional("partition"): int,
        Optional("sparse"): bool,
        Optional("overlay_backend"): Any("auto", "e2fsprogs", "guestfs"),
        Required("overlays"): {Optional("lava"): bool, str: overlay},
    }
    return Any(plain, with_overlays)


def _images(more: Block | None = None) -> Block:
    return {Required(str, "'images' is empty"): _url(more)}


DOCKER_IMAGE = Match(r"^[a-z0-9]+[a-z0-9._/:-]*[a-z0-9]+(:[a-zA-Z0-9_]+[a-zA-Z0-9._-]*)?$",
                     msg="Invalid docker image name")


def _docker(image_key: str = "image") -> Block:
    return {
        Required(image_key): DOCKER_IMAGE,
        Optional("local"): bool,
        Optional("container_name"): str,
        Optional("network_from"): str,
        Optional("login"): {Required("registry"): str, Required("user"): str,
                            Required("password"): str},
    }


def _deploy(to: str, keys: Block | None = None) -> Block:
    return {
        **_action_common(),
        Optional("os"): str,
        Optional("authorize"): "ssh",
        Optional("overlay_backend"): Any("auto", "e2fsprogs", "guestfs"),
        Required("to"): to,
        **(keys or {}),
    }


def _prompts() -> typing.Any:
    return Any(All(str, Length(min=1)), [All(str, Length(min=1))])


def _auto_login() -> typing.Any:
    prompt = All(str, Length(min=1))
    return Any(
        {Required("login_prompt"): prompt, Required("username"): str,
         Optional("login_commands"): [prompt]},
        {Required("login_prompt"): prompt, Required("username"): str,
         Required("password_prompt"): str, Required("password"): str,
         Optional("login_commands"): [str]},
    )


def _transfer_overlay() -> typing.Any:
    return Any(
        {Required("download_command"): str, Required("unpack_command"): str,
         Optional("transfer_method"): str},
        {Required("transfer_method"): Any("zmodem"), Required("unpack_command"): str},
    )


def _boot(method: str, keys: Block | None = None) -> Block:
    return {
        **_action_common(),
        Optional("parameters"): {
            Optional("bootloader-final-message"): str,
            Optional("kernel-start-message"): str,
            Optional("shutdown-message"): str,
        },
        Optional("soft_reboot"): Any(str, [str]),
        Optional("ignore_kernel_messages"): bool,
        Required("method"): Msg(method, "'method' should be '%s'" % method),
        **(keys or {}),
    }


def _shell_login(keys: Block | None = None) -> Block:
    """The keys of boot methods that end at a shell."""
    return {
        Optional("prompts"): _prompts(),
        Optional("auto_login"): _auto_login(),
        Optional("transfer_overlay"): _transfer_overlay(),
        **(keys or {}),
    }


def testdef_block() -> Block:
    """A Lava-Test Test Definition."""
    return {
        Required("metadata"): {
            Required("format"): "Lava-Test Test Definition 1.0",
            Required("name"): str,
            Optional("description"): str,
            **{Optional(key): [str] for key in ("environment", "devices", "maintainer",
                                                "scope", "os")},
        },
        Optional("install"): {
            Optional("deps"): [str],
            Optional(Match(r"deps-.+")): [str],
            Optional("git-repos"): [Any(str, {"url": str, Optional("branch"): str,
                                              Optional("destination"): str})],
            Optional("keys"): [str],
            Optional("steps"): [str],
            Optional("sources"): [str],
        },
        Optional("parameters"): dict,
        Optional("params"): dict,
        Optional("parse"): {
            Optional("fixupdict"): {str: Any("pass", "fail", "skip", "unknown")}},
        Optional("run"): {Required("steps"): [str]},
        Optional("expected"): [str],
    }


def _definitions() -> Block:
    common = {
        Required("path"): str,
        Required("name"): Match(NAME_PATTERN),
        Optional("skip_install"): [Any("keys", "sources", "deps", "steps", "git-repos",
                                       "all")],
        Optional("lava-signal"): Any("kmsg", "stdout"),
        Optional("expected"): [str],
    }
    fetched = {Optional("parameters"): dict, Optional("params"): dict, **common,
               Required("repository"): str}
    return {**_action_common(), Required("definitions"): [Any(
        {**fetched, Required("from"): "git", Optional("branch"): str,
         Optional("history"): bool, Optional("revision"): str, Optional("recursive"): bool},
        {**fetched, Required("from"): "url", Optional("compression"): str,
         Optional("strip-components"): int, Optional("headers"): dict},
        {**common, Required("from"): "inline", Required("repository"): testdef_block()},
    )]}


def _monitors() -> Block:
    return {**_action_common(), Required("monitors"): [{
        Required("name"): Match(NAME_PATTERN), Required("start"): str, Required("end"): str,
        Required("pattern"): str,
        Optional("fixupdict"): {str: Any("pass", "fail", "skip", "unknown")},
        Optional("expected"): [str],
    }]}


def _interactive() -> Block:
    text = All(str, Length(min=1))
    step = {
        Optional("command"): Any(str, None), Optional("delay"): int,
        **{Optional(key): str for key in ("lava-send", "lava-sync", "lava-wait",
                                          "lava-wait-all")},
        Optional("name"): Match(NAME_PATTERN), Optional("wait_for_prompt"): bool,
        Optional("successes"): [{Required("message"): text}],
        Optional("failures"): [{
            Required("message"): text,
            Optional("exception"): Any("InfrastructureError", "JobError", "TestError"),
            Optional("error"): text}],
    }
    return {**_action_common(), Required("interactive"): [{
        Required("name"): Match(NAME_PATTERN), Required("prompts"): [text],
        Optional("echo"): "discard", Optional("expected"): [text],
        Required("script"): [step],
    }]}


def _services() -> Block:
    common = {Required("name"): Match(NAME_PATTERN), Required("repository"): str,
              Required("path"): str, Optional("service"): str}
    return {**_action_common(), Required("services"): [Any(
        {**common, Required("from"): "git", Optional("branch"): str,
         Optional("history"): bool, Optional("revision"): str, Optional("recursive"): bool},
        {**common, Required("from"): "url", Optional("compression"): str,
         Optional("headers"): dict},
    )]}


def _action_schemas() -> dict[str, Callable[[], typing.Any]]:
    """Detailed schemas by action kind (``deploy.<to>``, ``boot.<method>``, ``test.<kind>``)."""
    ramdisk = {Optional("install_modules"): bool, Optional("install_overlay"): bool}
    tftp = {
        Optional("kernel"): _url({Optional("type"): Any("image", "uimage", "zimage")}),
        Optional("dtb"): _url(), Optional("dtbo"): [_url()], Optional("modules"): _url(),
        Optional("preseed"): _url(),
        Optional("ramdisk"): _url({**ramdisk, Optional("header"): "u-boot"}),
        Exclusive("nfsrootfs", "nfs"): _url({**ramdisk, Optional("prefix"): str}),
        Exclusive("persistent_nfs", "nfs"): {Required("address"): str,
                                             Optional("install_overlay"): bool},
        Optional("tee"): _url(),
        Optional("extra_files"): {Extra: _url()},
    }
    fastboot_image = {
        Optional("apply-overlay"): bool, Optional("root_partition"): Range(min=0),
        Optional("sparse"): bool,
        Optional("reboot"): Any("hard-reset", "fastboot-reboot", "fastboot-reboot-bootloader",
                                "fastboot-reboot-fastboot"),
    }
    grubby = {Required("commands"): Any(str, [str]), Optional("boot_finished"): Any(str, [str]),
              Optional("reset"): bool, Optional("expect_shell"): bool,
              Optional("use_bootscript"): bool}
    return {
        "deploy.tmpfs": lambda: _deploy(
            "tmpfs", {Required("images"): _images({Optional("image_arg"): str}),
                        Optional("type"): "monitor", Optional("uefi"): _url()}),
        "deploy.ssh": lambda: _deploy("ssh", {Optional(k): _url() for k in (
            "firmware", "kernel", "rootfs", "modules")}),
        "deploy.tftp": lambda: _deploy("tftp", tftp),
        "deploy.nfs": lambda: Any(
            _deploy("nfs", {Optional("nfsrootfs"): _url(), Optional("modules"): _url()}),
            _deploy("nfs", {Required("images"): _images({Optional("image_arg"): str})})),
        "deploy.download": lambda: _deploy("download", {Required("images"): _images()}),
        "deploy.downloads": lambda: _deploy("downloads", {
            Required("images"): _images(), Optional("uniquify"): bool,
            Optional("postprocess"): {Required("docker"): {
                **_docker(), Required("steps"): [str], Optional("devices"): [str]}}}),
        "deploy.overlay": lambda: _deploy("overlay"),
        "deploy.docker": lambda: _deploy("docker", {
            Required("image"): Any(DOCKER_IMAGE, _docker("name")),
            Optional("repeat"): Range(min=1)}),
        "deploy.fastboot": lambda: _deploy("fastboot", {
            Required("images"): _images(fastboot_image), Optional("docker"): _docker()}),
        "deploy.flasher": lambda: _deploy("flasher", {
            Required("images"): {str: _url({Optional("download"): bool})},
            Optional("uniquify"): bool}),
        "boot.qemu": lambda: _boot("qemu", _shell_login({
            Optional("connection"): "serial", Optional("media"): "tmpfs",
            Optional("docker"): {**_docker(), Optional("binary"): str}})),
        "boot.qemu_nfs": lambda: _boot("qemu-nfs", _shell_login({
            Optional("connection"): "serial"})),
        "boot.ssh": lambda: {**_boot("ssh", {Optional("prompts"): _prompts()}),
                             "parameters": {Optional("hostID"): str,
                                            Optional("host_key"): str}},
        "boot.u_boot": lambda: _boot("u-boot", _shell_login({
            Required("commands"): Any(str, [str]), Optional("reset"): bool,
            Optional("use_bootscript"): bool})),
        "boot.minimal": lambda: _boot("minimal", _shell_login({
            Optional("pre_power_command"): bool, Optional("pre_os_command"): bool,
            Optional("reset"): bool})),
        "boot.docker": lambda: _boot("docker", {
            Required("command"): str, Optional("prompts"): _prompts(),
            Optional("downloads-namespace"): str}),
        "boot.fastboot": lambda: _boot("fastboot", _shell_login({
            Optional("commands"): [str], Optional("use_bootscript"): bool,
            Optional("docker"): _docker()})),
        "boot.bootloader": lambda: _boot("bootloader", {
            Required("bootloader"): str, Optional("commands"): [str],
            Optional("use_bootscript"): bool, Optional("prompts"): _prompts(),
            Optional("reset_connection"): bool, Optional("reset_device"): bool,
            Optional("reset"): bool}),
        "boot.grub": lambda: _boot("grub", _shell_login(grubby)),
        "boot.depthcharge": lambda: _boot("depthcharge", _shell_login({
            Required("commands"): Any(str, [str]), Optional("extra_kernel_args"): str,
            Optional("use_bootscript"): bool})),
        "boot.new_connection": lambda: _boot("new_connection", _shell_login({
            Required("connection"): str})),
        "boot.schroot": lambda: _boot("schroot", {
            Optional("prompts"): _prompts(), Required("connection"): "ssh",
            Required("schroot"): str}),
        "test.definition": _definitions,
        "test.docker": lambda: {**_definitions(), Required("docker"): _docker(),
                                Optional("downloads-namespace"): str,
                                Optional("disconnect_connection"): bool},
        "test.monitor": _monitors,
        "test.interactive": _interactive,
        "test.service": _services,
        "command": lambda: {**_action_common(), Required("name"): str},
    }


ACTION_SCHEMAS = _action_schemas()

# The other action kinds a LAVA dispatcher knows: accepted with any keys.
OTHER_ACTIONS = frozenset(
    ["deploy." + to for to in (
        "avh", "fvp", "iso_installer", "mps", "musca", "nbd", "qdl", "recovery", "sata", "sd",
        "u_boot_ums", "usb", "usbg_ms", "uuu", "vemsd")]
    + ["boot." + method for method in (
        "avh", "barebox", "cmsis_dap", "dfu", "fvp", "gdb", "grub_efi", "ipxe", "jlink",
        "kexec", "monitor", "musca", "nodebooter", "openocd", "pyocd", "qdl", "qemu_iso",
        "recovery", "uefi", "uefi_menu", "uuu")])


def _action_kind(kind: str, block: dict[str, typing.Any]) -> str | None:
    if kind == "command":
        return "command"
    if kind == "deploy":
        return "deploy." + str(block.get("to", ""))
    if kind == "boot":
        return "boot." + str(block.get("method", ""))
    if "definitions" in block:
        return "test.docker" if "docker" in block else "test.definition"
    for key, name in (("interactive", "test.interactive"), ("monitors", "test.monitor"),
                      ("services", "test.service")):
        if key in block:
            return name
    return None


def check_action(index: int, kind: str, block: dict[str, typing.Any], strict: bool) -> None:
    """One action against its kind's schema; errors carry ``actions[N]`` paths."""
    name = _action_kind(kind, block)
    if name is None:
        raise Invalid("invalid action", path=["actions[%s]" % index, kind])
    name = name.replace("-", "_")
    if name in ACTION_SCHEMAS:
        schema = Schema(ACTION_SCHEMAS[name](), extra=not strict)
    elif name in OTHER_ACTIONS:
        schema = Schema({**_action_common()}, extra=ALLOW_EXTRA)
    else:
        raise Invalid("unknown action type", path=["actions", *name.split(".")])
    try:
        schema(block)
    except Invalid as exc:
        raise Invalid(exc.msg, path=["actions[%d]" % index, *name.split("."), *exc.path]) \
            from exc


def check_testdef(testdef: typing.Any) -> None:
    """A Lava-Test Test Definition (extra keys allowed); raises MultipleInvalid."""
    Schema(testdef_block(), extra=ALLOW_EXTRA)(testdef)
