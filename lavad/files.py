"""The lab's configuration files: device-type templates and per-worker YAML files.

Device-type templates are Jinja2 files named ``<device-type>.jinja2``, looked
up in an ordered list of directories (by default ``<data_dir>/device-types``,
the administrator's overrides, then ``/usr/share/lava-server/device-types``,
where Debian's lava-server package puts LAVA's templates).  A device's
dictionary (stored in the database) is itself a template that extends one of
them; :meth:`LabFiles.render_device` turns it into the YAML the worker gets.

Worker files live under ``<data_dir>/dispatcher.d/<worker>/``:
``dispatcher.yaml``, ``env.yaml`` and ``env-dut.yaml``, with instance-wide
fallbacks ``<data_dir>/env.yaml`` and ``<data_dir>/env-dut.yaml``.

Everything here is small, blocking file I/O: callers on the reactor run these
methods in a thread (``Lab`` does, through ``deferToThread`` or the store
thread), never on the reactor itself.  Health-check definitions are not files
in lavad: they live in the database (``device_types.health_check``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

import yaml

from lavad.errors import Invalid, NotFound

#: Where Debian's lava-server package installs LAVA's device-type templates.
SYSTEM_TEMPLATE_DIR = "/usr/share/lava-server/device-types"

TEMPLATE_SUFFIX = ".jinja2"

#: Worker file kinds -> file name in ``dispatcher.d/<worker>/``.
WORKER_FILE_KINDS = {"dispatcher": "dispatcher.yaml", "env": "env.yaml",
                     "env-dut": "env-dut.yaml"}


def _check_device_type_name(name: Any) -> str:
    if (not isinstance(name, str) or not name or name.startswith(".") or "\0" in name
            or "/" in name or os.sep in name or (os.altsep and os.altsep in name)):
        raise Invalid("Invalid device-type '%s'" % name, field="name")
    return name


def _check_worker_name(hostname: Any) -> str:
    if (not isinstance(hostname, str) or not hostname or hostname.startswith(".")
            or "\0" in hostname or "/" in hostname or os.sep in hostname
            or (os.altsep and os.altsep in hostname)):
        raise Invalid("Invalid worker name", field="hostname")
    return hostname


def _check_kind(kind: str) -> str:
    if kind not in WORKER_FILE_KINDS:
        raise Invalid("Unknown worker file '%s': one of %s."
                      % (kind, ", ".join(WORKER_FILE_KINDS)))
    return kind


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def atomic_write(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new file, never half.

    The directory is created when missing; the file is written to a temporary
    name beside it, flushed to disk, then renamed over ``path``.
    """
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path),
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


class LabFiles:
    """Device-type templates and worker files of one lavad instance.

    ``template_dirs`` is the template search path, first match wins; new
    templates are written into the first directory.
    """

    def __init__(self, data_dir: str, template_dirs: list[str] | None = None) -> None:
        self.data_dir = os.path.abspath(data_dir)
        if template_dirs is None:
            template_dirs = [os.path.join(self.data_dir, "device-types"), SYSTEM_TEMPLATE_DIR]
        if not template_dirs:
            raise ValueError("LabFiles needs at least one template directory")
        self.template_dirs = [os.path.abspath(d) for d in template_dirs]
        self._environment: Any = None

    @property
    def _env(self) -> Any:
        """The sandboxed Jinja2 environment over the template path, made (and Jinja2
        imported) at the first rendering."""
        if self._environment is None:
            import jinja2
            from jinja2.sandbox import SandboxedEnvironment

            self._environment = SandboxedEnvironment(
                autoescape=False, trim_blocks=True,
                loader=jinja2.FileSystemLoader(self.template_dirs))
        return self._environment

    # -- device-type templates ---------------------------------------------------------
    def _template_path(self, name: str) -> str | None:
        for directory in self.template_dirs:
            path = os.path.join(directory, name + TEMPLATE_SUFFIX)
            if os.path.isfile(path):
                return path
        return None

    def get_template(self, name: str) -> str:
        """The text of ``<name>.jinja2`` from the first directory that has it."""
        _check_device_type_name(name)
        path = self._template_path(name)
        try:
            text = None if path is None else _read(path)
        except OSError as exc:
            raise Invalid("Unable to read device-type configuration: %s" % _reason(exc)) \
                from None
        if text is None:
            raise NotFound("Device-type '%s' template was not found." % name,
                           model="DeviceTypeTemplate")
        return text

    def has_template(self, name: str) -> bool:
        return self._template_path(_check_device_type_name(name)) is not None

    def template_is_default(self, name: str) -> bool:
        """True when the administrator has not overridden ``name`` in the first directory."""
        _check_device_type_name(name)
        return not os.path.isfile(os.path.join(self.template_dirs[0], name + TEMPLATE_SUFFIX))

    def set_template(self, name: str, text: str) -> None:
        """Write ``<name>.jinja2`` into the first directory (atomically); ``""`` deletes it."""
        _check_device_type_name(name)
        path = os.path.join(self.template_dirs[0], name + TEMPLATE_SUFFIX)
        try:
            if text:
                atomic_write(path, text)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        except OSError as exc:
            raise Invalid("Unable to write device-type template: %s" % _reason(exc)) from None

    def list_templates(self) -> list[str]:
        """The device-type names that have a template in any directory, sorted."""
        names: set[str] = set()
        for directory in self.template_dirs:
            try:
                entries = os.listdir(directory)
            except OSError:
                continue
            names.update(e[:-len(TEMPLATE_SUFFIX)] for e in entries
                         if e.endswith(TEMPLATE_SUFFIX) and not e.startswith(".")
                         and len(e) > len(TEMPLATE_SUFFIX))
        return sorted(names)

    # -- device dictionaries -----------------------------------------------------------
    def render_device(self, dictionary_text: str, context: dict[str, Any] | None,
                      hostname: str, device_type: str) -> str:
        """The device configuration (YAML text) of ``hostname`` for a job.

        ``dictionary_text`` is the device dictionary, a template that usually
        ``{% extends '<device_type>.jinja2' %}``; the variables are the job's
        ``context:``.  ``scheduled_device_name`` and ``scheduled_device_type``
        are passed too (LAVA 2026 templates print them; 2023.01 templates use
        neither, so they change nothing there) and win over the job context.
        """
        variables: dict[str, Any] = dict(context or {})
        variables["scheduled_device_name"] = hostname
        variables["scheduled_device_type"] = device_type
        if not dictionary_text or not dictionary_text.strip():
            raise Invalid("Device '%s' has no device dictionary." % hostname)
        try:
            return self.render_text(dictionary_text, variables)
        except Invalid as exc:
            raise Invalid("Device '%s': %s" % (hostname, exc.message)) from None

    def render_text(self, text: str, variables: dict[str, Any]) -> str:
        """``text`` (a device dictionary) rendered with ``variables`` through the
        device-type templates; Invalid says what went wrong."""
        import jinja2

        try:
            return self._env.from_string(text).render(**variables)
        except jinja2.TemplateNotFound as exc:
            raise Invalid("device-type template '%s' was not found in %s."
                          % (exc.name, ", ".join(self.template_dirs))) from None
        except jinja2.TemplateSyntaxError as exc:
            where = "device dictionary" if exc.name is None else "template '%s'" % exc.name
            raise Invalid("syntax error in the %s, line %s: %s"
                          % (where, exc.lineno, exc.message)) from None
        except jinja2.TemplateError as exc:
            raise Invalid("the device dictionary cannot be rendered: %s" % exc) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
            # Errors raised by expressions inside the template (a bad filter argument...).
            raise Invalid("the device dictionary cannot be rendered (%s: %s)"
                          % (type(exc).__name__, exc)) from None

    # -- worker files ------------------------------------------------------------------
    def _worker_candidates(self, hostname: str, kind: str) -> tuple[list[str], list[str]]:
        """(worker-specific paths, instance-wide paths) for ``kind``, in lookup order."""
        base = os.path.join(self.data_dir, "dispatcher.d")
        own = [os.path.join(base, hostname, WORKER_FILE_KINDS[kind])]
        if kind == "dispatcher":
            own.append(os.path.join(base, hostname + ".yaml"))
            return own, []
        if kind == "env":
            return own, [os.path.join(self.data_dir, "env.yaml")]
        return own, [os.path.join(self.data_dir, "env-dut.yaml"),
                     os.path.join(self.data_dir, "env.dut.yaml")]

    def worker_file(self, hostname: str, kind: str, check: bool = False) -> str:
        """The worker's ``kind`` file (dispatcher, env or env-dut), its fallback, or "".

        With ``check``, a file that is not valid YAML raises Invalid (what the
        job fetch wants: better a clear error than a worker that fails later).
        """
        _check_worker_name(hostname)
        own, shared = self._worker_candidates(hostname, _check_kind(kind))
        for path in own + shared:
            try:
                text = _read(path)
            except OSError as exc:
                raise Invalid("Unable to read the %s file of worker '%s': %s"
                              % (kind, hostname, _reason(exc))) from None
            if text is not None:
                if check:
                    self._check_yaml(hostname, text)
                return text
        return ""

    def worker_file_is_default(self, hostname: str, kind: str) -> bool:
        """True when the worker has no file of its own for ``kind`` (it uses the fallback)."""
        _check_worker_name(hostname)
        own, _shared = self._worker_candidates(hostname, _check_kind(kind))
        return not any(os.path.isfile(p) for p in own)

    def set_worker_file(self, hostname: str, kind: str, text: str) -> None:
        """Write the worker's own ``kind`` file (YAML-checked, atomically); ``""`` deletes it."""
        _check_worker_name(hostname)
        own, _shared = self._worker_candidates(hostname, _check_kind(kind))
        try:
            if text:
                self._check_yaml(hostname, text)
                atomic_write(own[0], text)
            else:
                for path in own:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
        except OSError as exc:
            raise Invalid("Error updating '%s' for worker %s: %s"
                          % (kind, hostname, _reason(exc))) from None

    @staticmethod
    def _check_yaml(hostname: str, text: str) -> None:
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise Invalid("Invalid YAML syntax in '%s' config: %s" % (hostname, exc)) from None
