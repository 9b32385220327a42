"""``scheduler.jobs.*``: submit, follow and inspect test jobs.

The job methods of the legacy ``scheduler`` namespace share the helpers here.
"""

from __future__ import annotations

import builtins
from typing import Any

from lavad import jobqueries, submission
from lavad.errors import NotFound, PermissionDenied
from lavad.submission import JobNotVisible
from lavad.xmlrpc.dispatch import Call, Fault, Namespace, exposed
from lavad.xmlrpc.values import binary, datetime_value, text_argument


def job_faults(call: Call, job_id: Any) -> dict[Any, tuple[int, str]]:
    """How a missing job, or one the caller may not see, is reported."""
    return {JobNotVisible: (403, "Job '%s' not available to user '%s'."
                            % (job_id, call.username)),
            (NotFound, "TestJob"): (404, "Job '%s' was not found." % job_id)}


def submitted(ids: list[Any]) -> Any:
    """The id of a new job, or the list of sub_ids of a new MultiNode job."""
    if len(ids) == 1 and isinstance(ids[0], int):
        return ids[0]
    return [str(i) for i in ids]


async def submit(call: Call, definition: Any) -> Any:
    call.authenticate()
    return submitted(await call.run(submission.thd_submit, call.principal,
                                    text_argument(definition)))


async def resubmit(call: Call, job_id: Any) -> Any:
    call.authenticate()
    return submitted(await call.run(submission.thd_resubmit, call.principal, job_id,
                                    faults=job_faults(call, job_id)))


async def cancel(call: Call, job_id: Any) -> bool:
    call.authenticate()
    if not job_id:
        raise Fault(400, "Bad request: TestJob id was not specified.")
    faults = job_faults(call, job_id)
    faults[PermissionDenied] = (403, "Permission denied.")
    await call.run(jobqueries.thd_cancel, call.principal, job_id, faults=faults)
    return True


class SchedulerJobsAPI(Namespace):
    name = "scheduler.jobs"
    summary = "Test jobs: submit, cancel, resubmit, validate, list, show, logs."

    @exposed
    async def submit(self, definition: Any) -> Any:
        """Submit a job definition (YAML text).  Returns the new job id, or for a
        MultiNode job the list of its sub-job ids ("N.0", "N.1"...).  Needs a token."""
        return await submit(self.call, definition)

    @exposed
    async def resubmit(self, job_id: Any) -> Any:
        """Submit the definition of an existing job again (the whole group for a
        MultiNode job); returns what ``submit`` returns.  Needs a token."""
        return await resubmit(self.call, job_id)

    @exposed
    async def cancel(self, job_id: Any) -> bool:
        """Cancel a job (every sub-job of a MultiNode job).  A job not yet scheduled
        finishes at once as Canceled; a running one goes Canceling until its worker
        stops it.  Returns true.  Needs a token and the right to cancel the job."""
        return await cancel(self.call, job_id)

    @exposed
    async def definition(self, job_id: Any) -> str:
        """The definition exactly as it was submitted (the whole MultiNode definition for
        a sub-job)."""
        return await self.call.run(jobqueries.thd_definition, self.call.principal, job_id,
                                   faults=job_faults(self.call, job_id))

    @exposed
    async def show(self, job_id: Any) -> dict[str, Any]:
        """One job: ``{id, description, device, device_type, health_check, pipeline,
        health, state, submitter, submit_time, start_time, end_time, tags, visibility,
        failure_comment, error_msg, error_type}``; the times are dateTime or nil."""
        j = await self.call.run(jobqueries.thd_job, self.call.principal, job_id,
                                faults=job_faults(self.call, job_id))
        return {"id": j["id"], "description": j["description"], "device": j["device"],
                "device_type": j["device_type"], "health_check": j["health_check"],
                "pipeline": True, "health": j["health"], "state": j["state"],
                "submitter": j["submitter"], "submit_time": datetime_value(j["submit_time"]),
                "start_time": datetime_value(j["start_time"]),
                "end_time": datetime_value(j["end_time"]), "tags": j["tags"],
                "visibility": j["visibility"], "failure_comment": j["failure_comment"],
                "error_msg": j["error_msg"], "error_type": j["error_type"]}

    @exposed
    async def list(self, state: Any = None, health: Any = None, start: Any = 0,
                   limit: Any = 25, since: Any = 0, verbose: Any = False,
                   duration_at_least: Any = None) -> builtins.list[dict[str, Any]]:
        """The jobs the caller may see, newest first, ``limit`` (at most 100) of them from
        ``start``: ``[{id, description, device_type, health, state, submitter}]``.

        ``state`` (SUBMITTED, RUNNING, FINISHED...) and ``health`` (COMPLETE,
        INCOMPLETE...) filter; ``since`` keeps jobs that finished in the last
        ``since`` minutes; ``duration_at_least`` keeps jobs that ran more than that
        many minutes.  ``verbose`` adds ``actual_device, start_time, end_time,
        error_msg, error_type``."""
        rows = await self.call.run(jobqueries.thd_jobs, self.call.principal, state, health,
                                   start, limit, since, duration_at_least)
        out = []
        for j in rows:
            item = {"id": j["id"], "description": j["description"],
                    "device_type": j["device_type"], "health": j["health"],
                    "state": j["state"], "submitter": j["submitter"]}
            if verbose:
                item.update({"actual_device": j["device"],
                             "start_time": jobqueries.aware_text(j["start_time"]),
                             "end_time": jobqueries.aware_text(j["end_time"]),
                             "error_msg": j["error_msg"], "error_type": j["error_type"]})
            out.append(item)
        return out

    @exposed
    async def queue(self, device_types: Any = None, start: Any = 0,
                    limit: Any = 25) -> builtins.list[dict[str, Any]]:
        """The waiting (Submitted) jobs the caller may see, newest first, optionally only
        those for the device types listed: ``[{id, description, requested_device_type,
        submitter}]``."""
        if device_types is not None and not isinstance(device_types, list):
            device_types = [device_types]
        rows = await self.call.run(jobqueries.thd_queue, self.call.principal, device_types,
                                   start, limit)
        return [{"id": j["id"], "description": j["description"],
                 "requested_device_type": j["device_type"], "submitter": j["submitter"]}
                for j in rows]

    @exposed
    async def logs(self, job_id: Any, start: Any = 0, end: Any = None) -> builtins.list[Any]:
        """``[finished, log]``: whether the job is Finished, and its log lines ``start``
        to ``end`` (excluded, 0-based; nil for all) as base64 YAML, one mapping per line
        with ``dt``, ``lvl`` and ``msg``."""
        finished, text = await self.call.run(jobqueries.thd_job_log, self.call.principal,
                                             job_id, self.env.data_dir, start, end,
                                             faults=job_faults(self.call, job_id))
        return [finished, binary(text)]

    @exposed
    async def configuration(self, job_id: Any) -> builtins.list[Any]:
        """What a started job was given, as base64 (nil when absent): ``[job definition,
        device configuration, dispatcher configuration, env, env-dut]``."""
        faults = job_faults(self.call, job_id)
        faults[(NotFound, "JobConfiguration")] = (404, "Job '%s' has not started yet" % job_id)
        files = await self.call.run(jobqueries.thd_configuration, self.call.principal, job_id,
                                    self.env.data_dir, faults=faults)
        return [None if text is None else binary(text) for text in files]

    @exposed
    async def validate(self, definition: Any, strict: Any = False) -> dict[str, str]:
        """Check a definition against the job schema (``strict``: no unknown keys).
        Returns ``{}`` when it is valid, else ``{path, msg}`` of the first problem."""
        return submission.validation_error(text_argument(definition), bool(strict))
