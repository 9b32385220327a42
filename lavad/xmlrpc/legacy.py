"""``scheduler.*``: LAVA's older top-level scheduler methods, kept for existing clients."""

from __future__ import annotations

import json
from typing import Any

import yaml

from lavad import inventory, jobqueries, submission
from lavad.errors import NotFound, PermissionDenied
from lavad.models import DeviceHealth
from lavad.xmlrpc import jobs
from lavad.xmlrpc.dispatch import INTERNAL_TEXT, Fault, Namespace, exposed
from lavad.xmlrpc.values import binary, datetime_value, text_argument

#: Stored job columns under the names LAVA's job_details uses.
JOB_COLUMNS = {"id": "id", "sub_id": "sub_id", "is_public": "is_public",
               "target_group": "target_group", "submitter_id": "submitter_id",
               "description": "description", "health_check": "health_check",
               "requested_device_type_id": "requested_device_type",
               "requested_device_id": "requested_device", "actual_device_id": "actual_device",
               "priority": "priority", "definition": "definition",
               "original_definition": "original_definition",
               "multinode_definition": "multinode_definition",
               "failure_comment": "failure_comment"}


def _count(count: Any) -> int:
    if count < 0:
        raise Fault(400, "Bad request: count must not be negative.")
    return int(count)


class SchedulerAPI(Namespace):
    name = "scheduler"
    summary = ("LAVA's older scheduler methods (devices, device types, jobs); newer clients "
               "use the scheduler.* sub-namespaces.")

    # -- devices and device types ------------------------------------------------------------
    @exposed
    async def all_devices(self) -> list[list[Any]]:
        """The visible devices that are not retired: ``[[hostname, device_type, status,
        current_job, true]]`` (status: idle, offline, reserved or running)."""
        rows = await self.call.run(inventory.thd_devices, self.call.principal, False)
        return [[r["hostname"], r["device_type"], r["status"], r["current_job"], True]
                for r in rows]

    @exposed
    async def all_device_types(self) -> list[dict[str, Any]]:
        """Per visible device type with devices that are not retired: ``[{name, busy,
        idle, offline}]`` device counts."""
        return await self.call.run(inventory.thd_device_type_summary, self.call.principal)

    @exposed
    async def get_device_type_by_alias(self, alias: Any) -> dict[str, list[str]]:
        """``{alias: [device types having an alias whose name contains alias]}``."""
        return {alias: await self.call.run(inventory.thd_device_types_by_alias,
                                           self.call.principal, str(alias))}

    @exposed
    async def get_device_status(self, hostname: Any) -> dict[str, Any]:
        """``{hostname, status, job, offline_since, offline_by, is_pipeline}`` for a
        device (status: idle, offline, retired, reserved or running)."""
        if not hostname:
            raise Fault(400, "Bad request: Hostname was not specified.")
        d = await self.call.run(inventory.thd_device, self.call.principal, hostname, faults={
            NotFound: (404, "Device '%s' was not found." % hostname),
            PermissionDenied: (403, "Permission denied for user to access %s information."
                               % hostname)})
        return {"hostname": d["hostname"], "status": d["status"], "job": d["current_job"],
                "offline_since": None, "offline_by": None, "is_pipeline": True}

    async def _health(self, hostname: Any, reason: Any, health: DeviceHealth,
                      what: str) -> None:
        self.call.authenticate()
        if not hostname:
            raise Fault(400, "Bad request: Hostname was not specified.")
        if not reason:
            raise Fault(400, "Bad request: Reason was not specified.")
        await self.call.run(inventory.thd_set_device_health, self.call.principal, hostname,
                            health, str(reason), faults={
                                NotFound: (404, "Device '%s' was not found." % hostname),
                                PermissionDenied: (403, "Permission denied for user to put %s "
                                                        "into %s mode." % (hostname, what))})

    @exposed
    async def put_into_maintenance_mode(self, hostname: Any, reason: Any,
                                        notify: Any = None) -> None:
        """Put a device into Maintenance (no new jobs) for ``reason``.  ``notify`` is
        ignored.  Needs change rights on the device."""
        await self._health(hostname, reason, DeviceHealth.MAINTENANCE, "maintenance")

    @exposed
    async def put_into_online_mode(self, hostname: Any, reason: Any,
                                   skip_health_check: Any = False) -> None:
        """Put a device back online (health Unknown: a health check runs first) for
        ``reason``.  ``skip_health_check`` is ignored.  Needs change rights on the device."""
        await self._health(hostname, reason, DeviceHealth.UNKNOWN, "online")

    @exposed
    async def get_device_config(self, device_hostname: Any, context: Any = None) -> Any:
        """The configuration a job on this device would get (the rendered device
        dictionary, YAML) as base64; ``context`` is a YAML mapping given as a string."""
        if not device_hostname:
            raise Fault(400, "Bad request: Device hostname was not specified.")
        try:
            ctx = inventory.parse_context(context)
        except Exception as exc:  # noqa: BLE001 - any YAML or shape problem
            raise Fault(400, "Job context '%s' is not valid. %s" % (context, exc)) from None
        text = await self.call.run(
            inventory.thd_device_dictionary, self.call.principal, device_hostname,
            self.env.files, True, ctx, faults={
                (NotFound, "Device"): (404, "Specified device was not found."),
                PermissionDenied: (401, "Permission denied for user to device %s"
                                   % device_hostname)})
        return binary(text)

    @exposed
    async def import_device_dictionary(self, hostname: Any, jinja_str: Any) -> str:
        """Replace a device's dictionary with ``jinja_str``.  Needs change rights on
        the device."""
        self.call.authenticate()
        await self.call.run(inventory.thd_set_device_dictionary, self.call.principal,
                            hostname, text_argument(jinja_str), faults={
                                NotFound: (404, "Device '%s' was not found." % hostname),
                                PermissionDenied: (403, "Permission denied for user to store "
                                                        "the configuration for %s on disk."
                                                   % hostname)})
        return "Device dictionary updated for %s" % hostname

    @exposed
    async def export_device_dictionary(self, hostname: Any) -> Any:
        """A device's dictionary (jinja2) as base64.  Needs change rights on the device."""
        self.call.authenticate()
        text = await self.call.run(
            inventory.thd_device_dictionary, self.call.principal, hostname, self.env.files,
            False, None, "change", faults={
                (NotFound, "Device"): (404, "Device '%s' was not found." % hostname),
                (NotFound, "DeviceDictionary"): (404, "Device '%s' does not have a device "
                                                      "dictionary" % hostname),
                PermissionDenied: (403, "Permission denied for user to retrieve device "
                                        "dictionary for '%s'." % hostname)})
        return binary(text)

    @exposed
    async def validate_pipeline_devices(self, name: Any = None) -> Any:
        """Render the configuration of the visible devices that are not retired (those
        of device type ``name``, else the device ``name``, else all) and report, as
        base64 YAML, ``{hostname: {Valid: null}}`` or ``{hostname: {Invalid: reason}}``."""
        result = await self.call.run(inventory.thd_validate_devices, self.call.principal,
                                     self.env.files, name or None)
        return binary(yaml.safe_dump(result, default_flow_style=False))

    @exposed
    def get_publisher_event_socket(self) -> str:
        """The address of the ZMQ event publisher (clients replace ``*`` with the
        server's host name)."""
        return self.env.event_socket()

    # -- jobs ------------------------------------------------------------------------------------
    @exposed
    async def submit_job(self, job_data: Any) -> Any:
        """Submit a job definition (YAML text): the new job id, or the sub-job ids of a
        MultiNode job.  Needs a token.  Same as ``scheduler.jobs.submit``."""
        return await jobs.submit(self.call, job_data)

    @exposed
    async def resubmit_job(self, job_id: Any) -> Any:
        """Submit an existing job's definition again.  Same as ``scheduler.jobs.resubmit``."""
        return await jobs.resubmit(self.call, job_id)

    @exposed
    async def cancel_job(self, job_id: Any) -> bool:
        """Cancel a job.  Same as ``scheduler.jobs.cancel``."""
        return await jobs.cancel(self.call, job_id)

    @exposed
    def validate_yaml(self, yaml_string: Any) -> None:
        """Check a definition against the submission schema: nil when it is valid, a
        fault 400 saying what is wrong otherwise."""
        text = text_argument(yaml_string)
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise Fault(400, "Decoding job submission failed: %s." % exc) from None
        try:
            submission.check_submission(text)
        except submission.SubmissionError as exc:
            if exc.kind == "key":
                raise Fault(-32603, INTERNAL_TEXT % exc.detail) from None
            raise Fault(400, "Invalid YAML submission: %s" % exc.detail) from None

    @exposed
    async def job_output(self, job_id: Any, offset: Any = 0) -> Any:
        """The job's raw log file (``output.yaml``) from byte ``offset``, as base64."""
        faults = jobs.job_faults(self.call, job_id)
        faults[(NotFound, "JobOutput")] = (404, "Job output not found.")
        return binary(await self.call.run(jobqueries.thd_job_output, self.call.principal,
                                          job_id, self.env.data_dir, offset, faults=faults))

    @exposed
    async def job_health(self, job_id: Any) -> dict[str, Any]:
        """``{job_id, job_health}`` (Unknown, Complete, Incomplete, Canceled), with
        ``sub_id`` for a MultiNode sub-job."""
        j = await self.call.run(jobqueries.thd_job, self.call.principal, job_id,
                                faults=jobs.job_faults(self.call, job_id))
        out = {"job_id": j["pk"], "job_health": j["health"]}
        if j["multinode"]:
            out["sub_id"] = j["sub_id"]
        return out

    @exposed
    async def job_state(self, job_id: Any) -> dict[str, Any]:
        """``{job_id, job_state}`` (Submitted ... Finished), with ``sub_id`` for a MultiNode
        sub-job."""
        j = await self.call.run(jobqueries.thd_job, self.call.principal, job_id,
                                faults=jobs.job_faults(self.call, job_id))
        out = {"job_id": j["pk"], "job_state": j["state"]}
        if j["multinode"]:
            out["sub_id"] = j["sub_id"]
        return out

    @exposed
    async def job_details(self, job_id: Any) -> dict[str, Any]:
        """A job's stored fields (``id, sub_id, is_public, submitter_id, description,
        requested_device_type_id, actual_device_id, submit_time, definition...``) with
        ``status, state, health, error_msg, error_type, submitter_username,
        submitter_email, absolute_url, is_pipeline``.  Kept for old clients."""
        record = await self.call.run(jobqueries.thd_job_record, self.call.principal, job_id,
                                     faults=jobs.job_faults(self.call, job_id))
        columns, j = record["columns"], record["summary"]
        out: dict[str, Any] = {name: columns[col] for name, col in JOB_COLUMNS.items()}
        out["is_public"] = bool(out["is_public"])
        out["health_check"] = bool(out["health_check"])
        out["requested_worker_id"] = None
        out["pipeline_compatibility"] = 0
        out["queue_timeout"] = None
        for key in ("submit_time", "start_time", "end_time"):
            out[key] = datetime_value(columns[key])
        try:
            out["metadata"] = json.loads(columns.get("metadata") or "{}")
        except ValueError:
            out["metadata"] = {}
        out.update({"error_msg": j["error_msg"], "error_type": j["error_type"],
                    "status": j["status"], "state": j["state"], "health": j["health"],
                    "submitter_username": j["submitter"],
                    "submitter_email": j["submitter_email"],
                    "absolute_url": "/scheduler/job/%s" % j["id"], "is_pipeline": True})
        return out

    @exposed
    async def all_jobs(self) -> list[list[Any]]:
        """The visible jobs that are not finished, newest first: ``[id, description,
        status (lower case), device, device_type, sub_id]``, where device and device_type
        are structs of their stored fields (or nil)."""
        rows = await self.call.run(jobqueries.thd_unfinished_jobs, self.call.principal)
        return [[j["pk"], j["description"], j["status"].lower(), j["device_row"],
                 j["device_type_row"], j["sub_id"]] for j in rows]

    @exposed
    async def get_recent_jobs_for_device_type(self, device_type: Any, count: Any = 1,
                                              restrict_to_user: Any = False) -> list[dict]:
        """The ``count`` newest finished jobs requested for a (displayed) device type:
        ``[{id, description, status, device}]``; only the caller's with
        ``restrict_to_user``."""
        if not device_type:
            raise Fault(400, "Bad request: device_type was not specified.")
        rows = await self.call.run(jobqueries.thd_recent_jobs, self.call.principal,
                                   _count(count), bool(restrict_to_user),
                                   device_type=device_type)
        return [{"id": j["pk"], "description": j["description"], "status": j["status"],
                 "device": j["device"] or ""} for j in rows]

    @exposed
    async def get_recent_jobs_for_device(self, device: Any, count: Any = 1,
                                         restrict_to_user: Any = False) -> list[dict]:
        """The ``count`` newest finished jobs that ran on a device: ``[{id, description,
        status}]``; only the caller's with ``restrict_to_user``."""
        if not device:
            raise Fault(400, "Bad request: device was not specified.")
        rows = await self.call.run(
            jobqueries.thd_recent_jobs, self.call.principal, _count(count),
            bool(restrict_to_user), device=device, faults={
                PermissionDenied: (403, "Device '%s' not available to user '%s'."
                                   % (device, self.call.username))})
        return [{"id": j["pk"], "description": j["description"], "status": j["status"]}
                for j in rows]

    @exposed
    async def pending_jobs_by_device_type(self, all: Any = False) -> dict[str, int]:
        """``{device_type: number of waiting jobs}``, listing every active device type (every
        device type with ``all``)."""
        return await self.call.run(jobqueries.thd_pending_by_device_type, self.call.principal,
                                   bool(all))
