"""The worker protocol's domain side (``/scheduler/internal/v1/``), on the store thread.

What the four internal endpoints do, with LAVA's error texts and status codes
(``lavad.http.internal`` only translates HTTP to these calls):

* :func:`thd_register_worker`: auto-registration;
* :func:`thd_ping`: a worker's ping, answering the jobs it must start, keep
  running or cancel;
* :func:`thd_job_for_worker` / :func:`thd_job_payload`: what a worker needs
  to start a job (the definition, the rendered device, its configuration files);
* :func:`thd_job_state`: the worker reports Running or Finished;
* :func:`thd_job_logs`: lava-run uploads log lines (see :mod:`lavad.results`).

Jobs are named in paths by ``N`` (their id) or ``N.M`` (a MultiNode sub-id).
Worker and job tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
from typing import Any, Iterable, Mapping

import yaml

from lavad import LAVA_VERSION, devices, results, statemachine
from lavad.errors import Invalid, LavadError, NotFound, PermissionDenied
from lavad.logs import job_dir
from lavad.models import JobState, WorkerState
from lavad.store.tx import Tx
from lavad.users import thd_authenticate_password

# LAVA's WORKER_AUTO_REGISTER_NETMASK default.
DEFAULT_AUTO_REGISTER_NETS = ("127.0.0.0/8", "::1")
# The oldest worker release accepted: Debian bookworm's lava-worker.  LAVA itself
# wants the exact server version; lavad accepts any release from this one on.
MIN_WORKER_VERSION = "2023.01"
WORKER_FILE_KINDS = ("dispatcher", "env", "env-dut")

_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})(?:\D|$)")
_JOB_PK = re.compile(r"^(\d+)(\.\d+)?$")


class VersionMismatch(LavadError):
    """The worker's version is not accepted and it has nothing running: HTTP 409."""

    code = 409


class ConfigurationError(LavadError):
    """A device template or worker file the server holds cannot be used: HTTP 500."""

    code = 500


# -- helpers ------------------------------------------------------------------------------
def _check_token(given: str | None, expected: str) -> None:
    if given is None:
        raise Invalid("Missing 'token'")
    if not hmac.compare_digest(given.encode("utf-8"), (expected or "").encode("utf-8")):
        raise Invalid("Invalid 'token'")


def _job_row(tx: Tx, pk: Any) -> Any:
    """The job named ``N`` or ``N.M`` in a path; NotFound ``Unknown job '<pk>'``."""
    text = str(pk)
    match = _JOB_PK.match(text)
    row = None
    if match and match.group(2):
        row = tx.one("SELECT * FROM test_jobs WHERE sub_id = ?", (text,))
    elif match:
        row = tx.one("SELECT * FROM test_jobs WHERE id = ?", (int(text),))
    if row is None:
        raise NotFound("Unknown job '%s'" % text, model="TestJob")
    return row


def version_accepted(version: str, min_version: str | None = MIN_WORKER_VERSION) -> bool:
    """Whether a worker reporting ``version`` may start jobs (release >= ``min_version``)."""
    if min_version is None:
        return True
    found, wanted = _VERSION.match(version), _VERSION.match(min_version)
    if found is None or wanted is None:
        return version == min_version
    return (int(found.group(1)), int(found.group(2))) >= \
        (int(wanted.group(1)), int(wanted.group(2)))


def ip_allowed(client_ip: str, nets: Iterable[str]) -> bool:
    """Whether ``client_ip`` is in one of ``nets`` (CIDR networks or single addresses)."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for net in nets:
        try:
            if address in ipaddress.ip_network(net, strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


# -- registration -----------------------------------------------------------------------------
def thd_register_worker(tx: Tx, name: str | None, username: str | None, password: str | None,
                        client_ip: str | None,
                        allowed_nets: Iterable[str] = DEFAULT_AUTO_REGISTER_NETS,
                        enabled: bool = True) -> dict[str, str]:
    """``POST workers/``: create a worker and answer ``{"name", "token"}``.

    With a username and password the user must authenticate, and only a
    superuser may take over an existing worker (answered its token).  Without
    them the client address must be inside ``allowed_nets`` and the name new.
    """
    if not enabled:
        raise PermissionDenied("Auto registration is disabled")
    if name is None:
        raise Invalid("Missing 'name'")
    existing = tx.one("SELECT token FROM workers WHERE hostname = ?", (name,))
    if username and password:
        principal = thd_authenticate_password(tx, username, password)
        if principal is None:
            raise PermissionDenied("Unknown user %s" % username)
        if existing is not None:
            if not principal.is_superuser:
                raise PermissionDenied("Worker '%s' already registered" % name)
            return {"name": name, "token": existing["token"]}
        description = "Auto registered by %s" % username
    else:
        if not client_ip:
            raise Invalid("Missing client ip")
        if not ip_allowed(client_ip, allowed_nets):
            raise PermissionDenied("Auto registration is forbidden for '%s'" % client_ip)
        if existing is not None:
            raise PermissionDenied("Worker '%s' already registered" % name)
        description = "Auto registered by %s" % client_ip
    worker = devices.thd_add_worker(tx, name, description=description)
    return {"name": name, "token": worker["token"]}


# -- ping ----------------------------------------------------------------------------------------
def _worker_jobs(tx: Tx, hostname: str, state: JobState) -> list[dict[str, Any]]:
    """Jobs on the worker's devices (or bound to it without a device) in ``state``."""
    rows = tx.all(
        "SELECT j.id, j.token FROM test_jobs j LEFT JOIN devices d ON d.hostname = j.actual_device"
        " WHERE j.state = ? AND (d.worker_host = ? OR (j.actual_device IS NULL"
        " AND j.worker_host = ?)) ORDER BY j.id", (int(state), hostname, hostname))
    return [{"id": r["id"], "token": r["token"]} for r in rows]


def thd_ping(tx: Tx, hostname: str | None, token: str | None, version: str | None,
             min_version: str | None = MIN_WORKER_VERSION,
             server_version: str = LAVA_VERSION) -> dict[str, Any] | VersionMismatch:
    """``GET workers/<name>/?version=``: record the ping, answer the worker's jobs.

    Answers ``{"cancel": [...], "running": [...], "start": [...]}`` of
    ``{"id", "token"}`` for the jobs on the worker's devices that are
    Canceling, Running and Scheduled.  A worker whose version is accepted
    (see :func:`version_accepted`) gets ``last_ping`` refreshed and goes
    Online.  Any other is put Offline, gets no job to start, and, when it has
    nothing running or canceling, a :class:`VersionMismatch` is *returned*
    (not raised, so its version and state are still saved) for a 409.
    """
    row = tx.one("SELECT hostname, token FROM workers WHERE hostname = ?", (hostname,))
    if row is None:
        raise NotFound("Unknown worker '%s'" % hostname, model="Worker")
    _check_token(token, row["token"])
    if version is None:
        raise Invalid("Missing 'version'")
    accepted = version_accepted(version, min_version)
    devices.thd_set_worker_state(tx, row["hostname"],
                                 WorkerState.ONLINE if accepted else WorkerState.OFFLINE,
                                 version=version)
    reply = {"cancel": _worker_jobs(tx, row["hostname"], JobState.CANCELING),
             "running": _worker_jobs(tx, row["hostname"], JobState.RUNNING),
             "start": _worker_jobs(tx, row["hostname"], JobState.SCHEDULED) if accepted else []}
    if not accepted and not reply["cancel"] and not reply["running"]:
        return VersionMismatch("Version mismatch '%s' vs '%s'" % (version, server_version))
    return reply


# -- starting a job -----------------------------------------------------------------------------
def _replace_tokens_in_headers(data: Any, tokens: Mapping[str, str]) -> None:
    """Header values naming a remote-artifact token become the token, at any depth."""
    if isinstance(data, list):
        for item in data:
            _replace_tokens_in_headers(item, tokens)
    elif isinstance(data, dict):
        downloads = "url" in data or (data.get("from") == "url" and "repository" in data)
        headers = data.get("headers")
        if downloads and isinstance(headers, dict):
            for key, value in headers.items():
                if isinstance(value, str) and value in tokens:
                    headers[key] = tokens[value]
        for value in data.values():
            _replace_tokens_in_headers(value, tokens)


def worker_definition(definition: Any, tokens: Mapping[str, str]) -> Any:
    """The definition the worker runs: remote-artifact token names replaced by the tokens.

    In deploy and test actions, a download's header value naming one of the
    submitter's tokens is replaced by its value, and so is any ``secrets:``
    value naming one.  ``compatibility`` is not added (LAVA 2026 does not; a
    2023.01 lava-run accepts a definition without it).
    """
    if not isinstance(definition, dict) or not tokens:
        return definition
    for action in definition.get("actions") or []:
        if isinstance(action, dict) and ("deploy" in action or "test" in action):
            _replace_tokens_in_headers(action, tokens)
    secrets = definition.get("secrets")
    if isinstance(secrets, dict):
        for key, value in secrets.items():
            if isinstance(value, str) and value in tokens:
                secrets[key] = tokens[value]
    return definition


def thd_job_for_worker(tx: Tx, job_id: Any, token: str | None) -> dict[str, Any]:
    """``GET jobs/<id>/``, the database part: what rendering the job's files needs.

    Returns ``{"job_id", "definition"`` (YAML text to send), ``"dictionary"``
    (the device dictionary's text, "" if none), ``"context"`` (the job's
    ``context:``), ``"hostname"``, ``"device_type"``, ``"worker"``,
    ``"original"`` (the stored definition)}.
    """
    row = _job_row(tx, job_id)
    _check_token(token, row["token"])
    device = None
    if row["actual_device"]:
        device = tx.one("SELECT hostname, device_type, worker_host, dictionary FROM devices"
                        " WHERE hostname = ?", (row["actual_device"],))
    if device is None:
        raise Invalid("Job '%s' is not scheduled on a device" % job_id)
    try:
        parsed = yaml.safe_load(row["definition"])
    except yaml.YAMLError:
        parsed = None
    if isinstance(parsed, dict):
        tokens = {r["name"]: r["token"] for r in tx.all(
            "SELECT name, token FROM remote_artifact_tokens WHERE user_id = ?",
            (row["submitter_id"],))}
        definition = results.yaml_dump(worker_definition(parsed, tokens))
        context = parsed.get("context") if isinstance(parsed.get("context"), dict) else {}
    else:
        definition, context = row["definition"], {}
    return {"job_id": row["id"], "definition": definition,
            "dictionary": device["dictionary"] or "", "context": context or {},
            "hostname": device["hostname"], "device_type": device["device_type"],
            "worker": device["worker_host"] or "", "original": row["definition"]}


def job_payload(files: Any, info: Mapping[str, Any]) -> dict[str, str]:
    """The job GET's reply: exactly five strings (does file I/O: not on the reactor).

    ``files`` is a :class:`lavad.files.LabFiles`; ``info`` comes from
    :func:`thd_job_for_worker`.
    """
    try:
        device = files.render_device(info["dictionary"], info["context"], info["hostname"],
                                     info["device_type"])
        config = {kind: files.worker_file(info["worker"], kind, check=True)
                  if info["worker"] else "" for kind in WORKER_FILE_KINDS}
    except Exception as exc:
        # The worker did nothing wrong: the server's templates or files are broken.
        reason = exc.message if isinstance(exc, LavadError) else "%s: %s" % (
            type(exc).__name__, exc)
        raise ConfigurationError("Unable to prepare job %s for device '%s': %s" % (
            info["job_id"], info["hostname"], reason)) from exc
    return {"definition": str(info["definition"]), "device": str(device or ""),
            "dispatcher": str(config["dispatcher"] or ""), "env": str(config["env"] or ""),
            "env-dut": str(config["env-dut"] or "")}


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)


def thd_job_payload(tx: Tx, job_id: Any, token: str | None, files: Any,
                    data_dir: str | None = None) -> dict[str, str]:
    """``GET jobs/<id>/``: the five strings, also saved in the job's directory."""
    info = thd_job_for_worker(tx, job_id, token)
    payload = job_payload(files, info)
    if data_dir is not None:
        directory = job_dir(data_dir, info["job_id"])
        os.makedirs(directory, mode=0o755, exist_ok=True)
        _write_text(os.path.join(directory, "job.yaml"), info["original"])
        _write_text(os.path.join(directory, "device.yaml"), payload["device"])
        for kind in WORKER_FILE_KINDS:
            if payload[kind]:
                _write_text(os.path.join(directory, "%s.yaml" % kind), payload[kind])
    return payload


# -- state and logs ------------------------------------------------------------------------------
def thd_job_state(tx: Tx, job_id: Any, token: str | None, form: Mapping[str, Any],
                  data_dir: str | None = None) -> dict[str, Any]:
    """``POST jobs/<id>/``: ``state=RUNNING``, or ``state=FINISHED`` with the result.

    The state is capitalised first, so ``RUNNING`` and ``Running`` are the
    same.  FINISHED takes ``result`` (pass or fail), ``error_type``,
    ``errors`` and ``description`` (saved as ``description.yaml``).
    """
    row = _job_row(tx, job_id)
    _check_token(token, row["token"])
    state = str(form.get("state") or "").capitalize()
    if state not in JobState.displays():
        raise Invalid("Invalid state '%s'" % state)
    if state == JobState.RUNNING.display:
        statemachine.thd_job_running(tx, row["id"])
    elif state == JobState.FINISHED.display:
        result = form.get("result") or ""
        if result not in ("pass", "fail"):
            raise Invalid("Invalid health '%s'" % result)
        statemachine.thd_job_finished(tx, row["id"], result,
                                      error_type=form.get("error_type") or "",
                                      errors=form.get("errors") or "")
        if data_dir is not None:
            directory = job_dir(data_dir, row["id"])
            os.makedirs(directory, mode=0o755, exist_ok=True)
            _write_text(os.path.join(directory, "description.yaml"),
                        form.get("description") or "")
    else:
        raise Invalid("Not handled state '%s'" % state)
    return {}


def thd_job_logs(tx: Tx, job_id: Any, token: str | None, lines_text: str | None,
                 index: Any, data_dir: str) -> int:
    """``POST jobs/<id>/logs/``: store the new lines; return the records received.

    Every well-formed upload is answered with its record count, also when it
    is a resend of lines already stored and when the job has finished.
    """
    row = _job_row(tx, job_id)
    _check_token(token, row["token"])
    if not lines_text:
        raise Invalid("Missing 'lines'")
    if index is None:
        raise Invalid("Missing 'index'")
    try:
        index = int(index)
    except (TypeError, ValueError):
        raise Invalid("Invalid 'index'") from None
    if index < 0:
        raise Invalid("Invalid 'index'")
    return results.thd_ingest_log(tx, row["id"], lines_text, index, data_dir)


__all__ = ["DEFAULT_AUTO_REGISTER_NETS", "MIN_WORKER_VERSION", "ConfigurationError",
           "VersionMismatch", "ip_allowed", "job_payload", "thd_job_for_worker",
           "thd_job_logs", "thd_job_payload", "thd_job_state", "thd_ping",
           "thd_register_worker", "version_accepted", "worker_definition"]
