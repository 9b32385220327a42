"""Who may download what: a restricted job through every export URL, and the /results/ rules."""

from __future__ import annotations

import base64

import pytest
import pytest_twisted

pytestmark = pytest.mark.timeout(60)

NO_JOB = b'{"detail":"No TestJob matches the given query."}'
FORBIDDEN = b'{"detail":"You do not have permission to perform this action."}'


def rest_job_urls(job):
    return ["/api/v0.2/jobs/%d/%s/" % (job, fmt)
            for fmt in ("junit", "tap13", "csv", "yaml", "logs")]


def rest_suite_urls(job, suite):
    return ["/api/v0.2/jobs/%d/suites/%d/%s/" % (job, suite, fmt) for fmt in ("csv", "yaml")]


def results_urls(job):
    return ["/results/%d/%s" % (job, path) for path in (
        "csv", "yaml", "yaml_summary", "metadata", "private/csv", "private/yaml",
        "private/+testcase-count")]


@pytest_twisted.ensureDeferred
async def test_restricted_job_hidden_from_anonymous_and_other_users(server):
    """Anonymous and a user outside the viewing group get 404 (REST job exports), 403 JSON
    (REST suite exports) and the HTML 403 page (/results/) for the restricted job."""
    job, suite = server.ids.job2, server.ids.job2_suite
    for who in (None, "other"):
        for url in rest_job_urls(job):
            answer = await server.get(url, as_=who)
            assert (answer.code, answer.body) == (404, NO_JOB), (who, url)
        for url in rest_suite_urls(job, suite):
            answer = await server.get(url, as_=who)
            assert (answer.code, answer.body) == (403, FORBIDDEN), (who, url)
        for url in results_urls(job):
            answer = await server.get(url, as_=who)
            assert answer.code == 403, (who, url)
            assert answer.header("Content-Type") == "text/html; charset=utf-8"
            assert b"403 Forbidden" in answer.body and b"hidden-case" not in answer.body
        case_ids = await server.lab.run(lambda tx: [r[0] for r in tx.all(
            "SELECT id FROM test_cases WHERE suite_id = ?", (suite,))])
        answer = await server.get("/results/testcase/%d/yaml" % case_ids[0], as_=who)
        assert answer.code == 403


@pytest_twisted.ensureDeferred
async def test_restricted_job_visible_to_allowed_users(server):
    """The submitter and a member of the viewing group download every export."""
    job, suite = server.ids.job2, server.ids.job2_suite
    for who in ("owner", "member"):
        for url in rest_job_urls(job) + rest_suite_urls(job, suite) + results_urls(job):
            answer = await server.get(url, as_=who)
            assert answer.code == 200, (who, url, answer.body)
        answer = await server.get("/api/v0.2/jobs/%d/tap13/" % job, as_=who)
        assert answer.text == ("TAP version 13\n1..2\n# TAP results for private\n"
                               "ok 1 hidden-case\nnot ok 2 hidden-fail\n")
        answer = await server.get("/api/v0.2/jobs/%d/logs/" % job, as_=who)
        assert answer.body == b'- {"dt": "x", "lvl": "info", "msg": "secret"}\n'


@pytest_twisted.ensureDeferred
async def test_results_query_credentials(server):
    """/results/ accepts ?user=NAME&token=SECRET; a token of someone else, or a wrong user
    name, leaves the caller anonymous."""
    base = "/results/%d/csv" % server.ids.job2
    answer = await server.get(base + "?user=member&token=member-secret")
    assert answer.code == 200
    assert "hidden-case" in answer.text
    assert (await server.get(base + "?token=member-secret")).code == 200
    assert (await server.get(base + "?user=other&token=member-secret")).code == 403
    assert (await server.get(base + "?user=member&token=wrong")).code == 403
    assert (await server.get(base + "?user=other&token=other-secret")).code == 403


@pytest_twisted.ensureDeferred
async def test_results_header_credentials(server):
    """/results/ accepts Authorization: Token <secret> and Basic <user:token>."""
    base = "/results/%d/yaml" % server.ids.job2
    basic = base64.b64encode(b"member:member-secret").decode()
    for header in ("Token member-secret", "token member-secret", "Basic " + basic):
        answer = await server.get(base, headers={"Authorization": header})
        assert answer.code == 200, header
    wrong = base64.b64encode(b"other:member-secret").decode()
    for header in ("Basic " + wrong, "Bearer member-secret", "Token nope"):
        answer = await server.get(base, headers={"Authorization": header})
        assert answer.code == 403, header


@pytest_twisted.ensureDeferred
async def test_results_not_found_pages(server):
    """Unknown jobs, suites, test cases and paths (a trailing slash too) are HTML 404s."""
    for url in ("/results/999/csv", "/results/999/0_smoke/csv", "/results/1/nosuch/yaml",
                "/results/1/nosuch/+testcase-count", "/results/testcase/999/yaml",
                "/results/1/csv/", "/results/1/unknown", "/results/1/0_smoke/unknown",
                "/results/abc/csv", "/results/", "/results",
                "/results/1/a/b/c/d"):
        answer = await server.get(url)
        assert answer.code == 404, url
        assert answer.header("Content-Type") == "text/html; charset=utf-8", url
        assert b"404 Not Found" in answer.body


@pytest_twisted.ensureDeferred
async def test_rest_missing_job(server):
    """A job that does not exist: 404 No TestJob... on job exports, Not found. on suite ones."""
    for url in rest_job_urls(999):
        answer = await server.get(url)
        assert (answer.code, answer.body) == (404, NO_JOB), url
    answer = await server.get("/api/v0.2/jobs/999/suites/1/csv/")
    assert (answer.code, answer.body) == (404, b'{"detail":"Not found."}')
    answer = await server.get("/api/v0.2/jobs/abc/csv/")
    assert (answer.code, answer.body) == (404, b'{"detail":"Not found."}')


@pytest_twisted.ensureDeferred
async def test_rest_export_wire_rules(server):
    """The REST app's rules hold for exports: 301 without the slash, 406 for Accept: text/csv,
    403 for a bad token, HEAD with the headers and no body."""
    answer = await server.get("/api/v0.2/jobs/1/csv")
    assert (answer.code, answer.header("Location")) == (301, "/api/v0.2/jobs/1/csv/")
    answer = await server.get("/api/v0.2/jobs/1/csv/", headers={"Accept": "text/csv"})
    assert answer.code == 406
    answer = await server.get("/api/v0.2/jobs/1/csv/", headers={"Authorization": "Token bad"})
    assert (answer.code, answer.body) == (403, b'{"detail":"Invalid token."}')
    answer = await server.get("/api/v0.2/jobs/1/junit/", method="HEAD")
    assert (answer.code, answer.header("Content-Type"), answer.body) == \
        (200, "application/xml", b"")


@pytest_twisted.ensureDeferred
async def test_multinode_sub_id(server):
    """/results/ names a MultiNode sub-job by its sub-id N.M."""
    await server.lab.run(lambda tx: tx.execute(
        "UPDATE test_jobs SET sub_id = '1.0', target_group = 'g' WHERE id = 1"))
    answer = await server.get("/results/1.0/0_smoke/+testcase-count")
    assert (answer.code, answer.body) == (200, b"4")
    answer = await server.get("/results/1.0/csv")
    assert answer.header("Content-Disposition") == 'attachment; filename="lava_1.csv"'
    assert (await server.get("/results/7.3/csv")).code == 404


@pytest_twisted.ensureDeferred
async def test_results_metadata(server):
    """/results/{job}/metadata is the job's metadata mapping as YAML ({} when none)."""
    await server.lab.run(lambda tx: tx.execute(
        "UPDATE test_jobs SET metadata = ? WHERE id = 1", ('{"build": "42", "branch": "main"}',)))
    answer = await server.get("/results/1/metadata")
    assert answer.header("Content-Disposition") == 'attachment; filename="lava_metadata_1.yaml"'
    assert answer.text == "branch: main\nbuild: '42'\n"
    answer = await server.get("/results/%d/metadata" % server.ids.job3)
    assert answer.text == "{}\n"
