"""``results.*``: a job's test results as YAML or CSV text.

A "V1" namespace: every method needs a token (401 when anonymous), and a job
the caller may not see is refused with 401 too, as LAVA does.
"""

from __future__ import annotations

from typing import Any

from lavad import resultqueries
from lavad.errors import NotFound, PermissionDenied
from lavad.xmlrpc.dispatch import Call, Fault, Namespace, exposed

NOT_IMPLEMENTED = 501


def result_faults(job_id: Any) -> dict[Any, tuple[int, str]]:
    return {PermissionDenied: (401, "Permission denied for user to job %s" % job_id),
            (NotFound, "TestJob"): (404, "Specified job not found."),
            (NotFound, "TestSuite"): (404, "Specified test suite not found."),
            (NotFound, "TestCase"): (404, "Specified test case not found.")}


def _check(call: Call, job_id: Any) -> None:
    call.authenticate()
    if not job_id:
        raise Fault(400, "Bad request: TestJob id was not specified.")


class ResultsAPI(Namespace):
    name = "results"
    summary = ("A job's test results (suites and test cases) as YAML or CSV text; all "
               "methods need a token.")

    async def _text(self, thd_text: Any, job_id: Any, suite: Any = None, case: Any = None,
                    limit: Any = None, offset: Any = None) -> str:
        """The records' whole text, written on the store thread batch by batch."""
        _check(self.call, job_id)
        return await self.call.run(thd_text, self.call.principal, job_id, self.env.data_dir,
                                   suite, case, limit, offset, faults=result_faults(job_id))

    async def _yaml(self, job_id: Any, suite: Any = None, case: Any = None,
                    limit: Any = None, offset: Any = None) -> str:
        return await self._text(resultqueries.thd_records_yaml, job_id, suite, case, limit,
                                offset)

    @exposed
    async def get_testjob_results_yaml(self, job_id: Any) -> str:
        """Every test case of the job, suite by suite, as a YAML list of mappings
        (``name, job, suite, result, measurement, unit, level, url, id, logged,
        log_start_line, log_end_line, metadata``)."""
        return await self._yaml(job_id)

    @exposed
    async def get_testjob_results_csv(self, job_id: Any) -> str:
        """Every test case of the job as CSV with a header row, every field quoted."""
        return await self._text(resultqueries.thd_records_csv, job_id)

    @exposed
    async def get_testsuite_results_yaml(self, job_id: Any, suite_name: Any,
                                         limit: Any = None, offset: Any = None) -> str:
        """The test cases of one suite as a YAML list; with ``limit``, at most that many
        after skipping ``offset``."""
        return await self._yaml(job_id, suite_name, None, limit, offset)

    @exposed
    async def get_testsuite_results_csv(self, job_id: Any, suite_name: Any,
                                        limit: Any = None, offset: Any = None) -> str:
        """The test cases of one suite as CSV (``limit``/``offset`` as for the YAML)."""
        return await self._text(resultqueries.thd_records_csv, job_id, suite_name, None,
                                limit, offset)

    @exposed
    async def get_testcase_results_yaml(self, job_id: Any, suite_name: Any,
                                        case_name: Any) -> str:
        """The test cases named ``case_name`` in a suite, as a YAML list."""
        return await self._yaml(job_id, suite_name, case_name)

    @exposed
    async def get_testcase_results_csv(self, job_id: Any, suite_name: Any,
                                       case_name: Any) -> str:
        """One test case (the first named ``case_name`` in the suite) as CSV."""
        _check(self.call, job_id)
        case = await self.call.run(resultqueries.thd_one_case, self.call.principal, job_id,
                                   self.env.data_dir, suite_name, case_name,
                                   faults=result_faults(job_id))
        return resultqueries.csv_text([case])

    @exposed
    async def get_testjob_suites_list_yaml(self, job_id: Any) -> str:
        """The job's suites as a YAML list of ``{name, job, id}``."""
        _check(self.call, job_id)
        return resultqueries.yaml_text(await self.call.run(
            resultqueries.thd_suites, self.call.principal, job_id,
            faults=result_faults(job_id)))

    @exposed
    async def get_testjob_suites_list_csv(self, job_id: Any) -> str:
        """The job's suites as CSV (``name, job, id``)."""
        _check(self.call, job_id)
        return resultqueries.csv_text(await self.call.run(
            resultqueries.thd_suites, self.call.principal, job_id,
            faults=result_faults(job_id)), resultqueries.SUITE_FIELDS)

    @exposed
    async def get_testsuite_results_count(self, job_id: Any, suite_name: Any) -> int:
        """How many test cases a suite has."""
        _check(self.call, job_id)
        return await self.call.run(resultqueries.thd_case_count, self.call.principal, job_id,
                                   suite_name, faults=result_faults(job_id))

    @exposed
    async def get_testjob_metadata(self, job_id: Any) -> list[dict[str, str]]:
        """The metadata of the job definition as ``[{key: value}]`` (values as text)."""
        _check(self.call, job_id)
        return await self.call.run(resultqueries.thd_job_metadata, self.call.principal,
                                   job_id, faults=result_faults(job_id))

    # -- stored queries: lavad keeps none --------------------------------------------------------
    @exposed
    def make_custom_query(self, entity: Any, conditions: Any, limit: Any = 200) -> Any:
        """LAVA's ad-hoc queries over jobs, suites and cases.  Not available in lavad
        (use the REST API's filters): always a fault."""
        self.call.authenticate()
        if entity not in ("testjob", "testsuite", "testcase"):
            raise Fault(400, "Wrong table name in entity parameter. Please refer to query "
                             "docs.")
        raise Fault(NOT_IMPLEMENTED, "Custom queries are not available on this server: use "
                                     "the REST API's filters.")

    @exposed
    def run_query(self, query_name: Any, limit: Any = 200, username: Any = None) -> Any:
        """Run a stored query.  lavad keeps no stored queries: always 404."""
        self.call.authenticate()
        raise Fault(404, "Query with name %s owned by user %s does not exist."
                    % (query_name, username or self.call.principal.username))

    @exposed
    def refresh_query(self, query_name: Any, username: Any = None) -> None:
        """Refresh a stored query.  lavad keeps no stored queries: always 400."""
        self.call.authenticate()
        raise Fault(400, "Query with name %s owned by user %s does not exist."
                    % (query_name, username or self.call.principal.username))

    @exposed
    def refresh_all_queries(self) -> None:
        """Refresh every stored query (superusers only); lavad keeps none, so there is
        nothing to do."""
        self.call.authenticate()
        if not self.call.principal.is_superuser:
            raise Fault(401, "Permission denied for user %s. Must be a superuser to refresh "
                             "all queries." % self.call.principal.username)
