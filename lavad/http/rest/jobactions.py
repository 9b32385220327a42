"""The REST job actions: submit, validate, validate_testdef, resubmit, cancel, batch_cancel.

Each view reads its body as LAVA's does, calls :mod:`lavad.submission` or
:mod:`lavad.statemachine`, and answers with LAVA's texts (spec section 4).
Where LAVA answers 500 (no ``definition``, unparsable YAML in the validators,
no ``job_ids``) the answer here is a 400 naming the problem.
"""

from __future__ import annotations

from typing import Any

import yaml

from lavad import statemachine, submission
from lavad.errors import Invalid, NotFound, PermissionDenied
from lavad.http.rest.fields import Field, parse, require_mapping, scalar
from lavad.http.rest.views import Call, View
from lavad.http.rest.wire import NOT_FOUND, HttpError, Reply, detail

SUBMITTED = "job(s) successfully submitted"


def _submitted(job_ids: list[Any]) -> Reply:
    return Reply(201, {"message": SUBMITTED, "job_ids": job_ids})


async def job_submit(call: Call) -> Reply:
    values = parse((Field("definition", required=True),), call.body())
    try:
        job_ids = await call.lab.run(submission.thd_submit, call.principal,
                                     values["definition"])
    except Invalid as exc:
        raise HttpError(400, {"message": exc.message}) from None
    return _submitted(job_ids)


async def job_resubmit(call: Call) -> Reply:
    try:
        job_ids = await call.lab.run(submission.thd_resubmit, call.principal, call.args["id"])
    except Invalid as exc:
        raise HttpError(400, {"message": exc.message}) from None
    return _submitted(job_ids)


def _definition(call: Call, what: str) -> tuple[str, Any]:
    data = require_mapping(call.body())
    definition = scalar(data, "definition")
    if not definition:
        raise HttpError(400, {"definition": "%s is required." % what})
    if not isinstance(definition, str):
        raise HttpError(400, {"definition": "%s should be a string." % what})
    return definition, data


def _not_yaml(what: str, exc: yaml.YAMLError) -> HttpError:
    return HttpError(400, {"definition": "%s is not valid YAML: %s" % (what, exc)})


async def job_validate(call: Call) -> Reply:
    what = "Test job definition"
    definition, data = _definition(call, what)
    try:
        submission.validate_definition(definition, bool(scalar(data, "strict")))
    except submission.SubmissionError as exc:
        return Reply(data={"message": exc.message})
    except yaml.YAMLError as exc:
        raise _not_yaml(what, exc) from None
    return Reply(data={"message": "Job valid."})


async def job_validate_testdef(call: Call) -> Reply:
    what = "Test definition"
    definition, _data = _definition(call, what)
    try:
        submission.validate_testdef(definition)
    except submission.SubmissionError as exc:
        return Reply(data={"message": exc.message})
    except yaml.YAMLError as exc:
        raise _not_yaml(what, exc) from None
    return Reply(data={"message": "Test definition valid."})


async def job_cancel(call: Call) -> Reply:
    try:
        await call.lab.run(statemachine.thd_cancel_job, call.principal, call.args["id"])
    except NotFound:
        raise detail(404, NOT_FOUND) from None
    except PermissionDenied as exc:
        raise detail(403, exc.message) from None
    return Reply(data={"message": "Job cancel signal sent."})


async def job_batch_cancel(call: Call) -> Reply:
    values = parse((Field("job_ids", "pks", required=True),), call.body())
    try:
        done, missing = await call.lab.run(statemachine.thd_cancel_jobs, call.principal,
                                           values["job_ids"])
    except PermissionDenied as exc:
        raise detail(403, exc.message) from None
    return Reply(data={"message": "Job cancel signal sent for job ids.", "job_ids": done,
                       "invalid_job_ids": missing})


JOB_VIEWS: dict[str, View] = {
    "job_submit": job_submit, "job_resubmit": job_resubmit, "job_validate": job_validate,
    "job_validate_testdef": job_validate_testdef, "job_cancel": job_cancel,
    "job_batch_cancel": job_batch_cancel,
}
