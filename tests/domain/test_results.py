"""Results ingestion by LAVA's rules: log lines → events, log files, test cases."""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from replay_worker import JOB1_CASES, batches, lines_field, recorded_events, stream_lines

from lavad import jobs, results, users
from lavad.logs import JobLog, job_dir


@pytest.fixture
def job(db: Any) -> int:
    uid = db.run(users.thd_add_user, "alice")["id"]
    return db.run(jobs.thd_insert_job, uid, "job_name: x\n")


@pytest.fixture
def data_dir(tmp_path: Any) -> str:
    return str(tmp_path / "data")


def ingest(db: Any, job: int, data_dir: str, lines: list[str], index: int) -> tuple[int, Any]:
    """Ingest in server mode; the record count and the transaction (for its events)."""
    return db.run_tx(results.thd_ingest_log, job, lines_field(lines), index, data_dir)


def cases(db: Any, job: int) -> list[tuple[Any, ...]]:
    return db.q(
        "SELECT s.name, c.name, c.result, c.measurement, c.units, c.start_log_line,"
        " c.end_log_line, t.name FROM test_cases c JOIN test_suites s ON s.id = c.suite_id"
        " LEFT JOIN test_sets t ON t.id = c.test_set_id WHERE s.job_id = ? ORDER BY c.id", (job,))


def metadata(db: Any, job: int, case: str) -> dict[str, Any]:
    (row,) = db.q("SELECT c.metadata FROM test_cases c JOIN test_suites s ON s.id = c.suite_id"
                  " WHERE s.job_id = ? AND c.name = ?", (job, case))
    return yaml.safe_load(row[0])


def record(msg: Any, lvl: str = "results") -> str:
    return "- " + results.dump_record({"dt": "2026-11-28T00:33:02.7", "lvl": lvl, "msg": msg}) \
        + "\n"


def test_recorded_ssh_job_gives_lavas_suites_and_cases(db, job, data_dir) -> None:
    """The recorded ssh job, in its recorded batches, yields exactly the expected table."""
    assert job == 1  # the recording names job 1 in its paths and metadata
    for index, lines in batches(1):
        count, _ = ingest(db, job, data_dir, lines, index)
        assert count == len(lines)
    assert cases(db, job) == JOB1_CASES
    assert db.q("SELECT log_lines FROM test_jobs WHERE id = ?", (job,)) == [(228,)]
    assert db.q("SELECT name FROM test_suites WHERE job_id = ? ORDER BY id", (job,)) == \
        [("lava",), ("0_smoke",)]
    assert metadata(db, job, "ref-case") == {
        "case": "ref-case", "definition": "0_smoke", "reference": "https://example.com/ref",
        "result": "pass"}
    # starttc/endtc are popped before the metadata is written.
    assert metadata(db, job, "measured") == {"case": "measured", "definition": "0_smoke",
                                             "measurement": 42.5, "result": "pass",
                                             "units": "ms"}


def test_extra_goes_to_the_metadata_file(db, job, data_dir) -> None:
    """extra+level: merged into metadata/<definition>-<case>-<level>.yaml, path in metadata."""
    for index, lines in batches(1):
        ingest(db, job, data_dir, lines, index)
    meta = metadata(db, job, "scp-deploy")
    path = os.path.join(job_dir(data_dir, job), "metadata", "lava-scp-deploy-2.1.yaml")
    assert meta["extra"] == path and meta["level"] == "2.1" and meta["duration"] == "1.72"
    with open(path) as f:
        assert yaml.safe_load(f) == {"success": "ssh deployment"}
    # A later result of the same definition, case and level merges into the file.
    ingest(db, job, data_dir, [record({"definition": "lava", "case": "scp-deploy",
                                       "level": "2.1", "result": "pass",
                                       "extra": {"more": 1}})], 228)
    with open(path) as f:
        assert yaml.safe_load(f) == {"success": "ssh deployment", "more": 1}


def test_event_is_published_once_and_stored_as_debug(db, job, data_dir) -> None:
    """An event line is published as kind event by lavaserver and stored with lvl debug."""
    published = []
    for index, lines in batches(1):
        _, tx = ingest(db, job, data_dir, lines, index)
        published += [e for e in tx.events if e.kind == "event"]
    assert [e.data for e in published] == recorded_events(1)
    assert published[0].username == "lavaserver" and published[0].restrict == {"job": job}
    stored = JobLog.for_job(data_dir, job).read(195, 196)
    assert stored == '- {"dt": "2026-11-28T00:33:05.886118", "lvl": "debug", ' \
        '"msg": "my-event-fired"}\n'
    # Every other line is stored byte for byte as sent.
    original = stream_lines(1)
    assert JobLog.for_job(data_dir, job).read(0, 195) == "".join(original[:195])
    assert JobLog.for_job(data_dir, job).read(196) == "".join(original[196:])


def test_resent_batch_adds_no_line_no_case_no_event(db, job, data_dir) -> None:
    """A batch sent twice with the same index is counted again but stored once."""
    lines = stream_lines(1)
    ingest(db, job, data_dir, lines[:170], 0)
    count, tx = ingest(db, job, data_dir, lines[170:200], 170)
    assert count == 30 and [e.kind for e in tx.events] == ["event"]
    before = cases(db, job)
    count, tx = ingest(db, job, data_dir, lines[170:200], 170)
    assert count == 30 and tx.events == []
    assert cases(db, job) == before
    assert db.q("SELECT log_lines FROM test_jobs WHERE id = ?", (job,)) == [(200,)]
    assert JobLog.for_job(data_dir, job).line_count() == 200


def test_overlapping_resend_stores_only_the_new_tail(db, job, data_dir) -> None:
    """index below the stored count: the leading stored lines are skipped, the rest appended."""
    lines = stream_lines(1)
    ingest(db, job, data_dir, lines[:175], 0)
    count, _ = ingest(db, job, data_dir, lines[170:181], 170)
    assert count == 11
    assert JobLog.for_job(data_dir, job).read() == "".join(lines[:181])
    assert [c[1] for c in cases(db, job) if c[0] == "0_smoke"] == \
        ["pass-case", "fail-case", "measured"]


def test_lines_past_the_recorded_count_are_replaced_after_a_crash(db, job, data_dir) -> None:
    """Lines written but never recorded (crash before commit) are cut, then sent again."""
    lines = stream_lines(1)
    ingest(db, job, data_dir, lines[:10], 0)
    JobLog.for_job(data_dir, job).append([x.encode() for x in lines[10:20]])  # no commit
    count, _ = ingest(db, job, data_dir, lines[10:20], 10)
    assert count == 10
    assert JobLog.for_job(data_dir, job).read() == "".join(lines[:20])


def test_typed_numbers_are_parsed_with_yaml() -> None:
    """! "163" is the integer 163 and ! "42.5" the float 42.5 (not strings, not JSON)."""
    (line, parsed), = results.parse_log_lines(
        '- {"lvl": "results", "msg": {"starttc": ! "163", "measurement": ! "42.5"}}')
    assert parsed["msg"] == {"starttc": 163, "measurement": 42.5}
    assert line.startswith("- {")


def test_unparsable_and_bare_lines_stay_a_yaml_list() -> None:
    """A bare record gets its '- '; text that is no record is kept as a debug record."""
    parsed = results.parse_log_lines('{"lvl": "info", "msg": "bare"}\n\n- not: [closed\n',
                                     "NOW")
    assert parsed[0] == ('- {"lvl": "info", "msg": "bare"}', {"lvl": "info", "msg": "bare"})
    line, rec = parsed[1]
    assert rec == {"dt": "NOW", "lvl": "debug", "msg": "- not: [closed"}
    assert yaml.safe_load(line) == [rec]
    assert len(parsed) == 2


@pytest.mark.parametrize("msg, comment", [
    ("just text", "[1] just text is not a dictionary"),
    ({"case": "x", "result": "pass"},
     "Missing some keys (\"definition\", \"case\" or \"result\") in {'case': 'x', "
     "'result': 'pass'}"),
])
def test_malformed_results_are_dropped_with_a_failure_comment(db, job, data_dir, msg,
                                                              comment) -> None:
    """A results message that is not a mapping with definition/case/result is only noted."""
    ingest(db, job, data_dir, [record(msg)], 0)
    assert cases(db, job) == []
    assert db.q("SELECT failure_comment FROM test_jobs WHERE id = ?", (job,)) == [(comment,)]


def test_unknown_result_value_is_dropped_but_suite_exists(db, job, data_dir) -> None:
    """result outside pass/fail/skip/unknown: no case (the suite is still created)."""
    ingest(db, job, data_dir, [record({"definition": "0_t", "case": "c", "result": "maybe"}),
                               record({"definition": "0_t", "case": "u",
                                       "result": "unknown"})], 0)
    assert cases(db, job) == [("0_t", "u", 3, None, "", None, None, None)]


def test_invalid_set_name_is_ignored_with_a_comment(db, job, data_dir) -> None:
    """A set name that is not URL-safe is ignored (the case is kept, without a set)."""
    ingest(db, job, data_dir, [record({"definition": "0_t", "case": "c", "result": "pass",
                                       "set": "bad set"})], 0)
    assert cases(db, job) == [("0_t", "c", 0, None, "", None, None, None)]
    assert db.q("SELECT failure_comment FROM test_jobs") == \
        [("Invalid testset name 'bad set', ignoring.",)]


def test_case_name_is_stripped_and_control_characters_replaced(db, job, data_dir) -> None:
    """Case names are stripped; control characters become _ctrl-char_."""
    ingest(db, job, data_dir, [record({"definition": "0_t", "case": "  a\tb  ",
                                       "result": "pass"})], 0)
    assert cases(db, job)[0][1] == "a_ctrl-char_b"


def test_measurement_ten_decimals_and_bad_measurement_dropped(db, job, data_dir) -> None:
    """Measurements are stored as decimals with 10 places; a non-number drops the case."""
    ingest(db, job, data_dir, [
        record({"definition": "0_t", "case": "int", "result": "pass", "measurement": 7}),
        record({"definition": "0_t", "case": "nan", "result": "pass", "measurement": "x"}),
        record({"definition": "0_t", "case": "neg", "result": "pass", "measurement": -0.5,
                "units": "V"}),
    ], 0)
    assert [(c[1], c[3], c[4]) for c in cases(db, job)] == [
        ("int", "7.0000000000", ""), ("neg", "-0.5000000000", "V")]


def test_lava_suite_ignores_log_lines(db, job, data_dir) -> None:
    """In the lava suite duration is the measurement in seconds and starttc/endtc are dropped."""
    ingest(db, job, data_dir, [record({"definition": "lava", "case": "x", "result": "fail",
                                       "duration": "2.50", "starttc": 3, "endtc": 4,
                                       "measurement": 9})], 0)
    assert cases(db, job) == [("lava", "x", 1, "2.5000000000", "seconds", None, None, None)]


def test_long_metadata_is_reduced_like_lava(db, job, data_dir) -> None:
    """Metadata over 4096 characters keeps case/definition/result/error_type/error_msg[:256]."""
    ingest(db, job, data_dir, [record({"definition": "lava", "case": "job", "result": "fail",
                                       "error_type": "Bug", "error_msg": "e" * 5000,
                                       "junk": "j" * 5000})], 0)
    meta = metadata(db, job, "job")
    assert meta == {"case": "job", "definition": "lava", "result": "fail", "error_type": "Bug",
                    "error_msg": "e" * 256}
    comment = db.q("SELECT failure_comment FROM test_jobs")[0][0]
    assert comment.startswith("[1] Result metadata is too long.") and len(comment) == 256


def test_metadata_file_name_cannot_escape_the_job_dir(db, job, data_dir) -> None:
    """A '/' in definition, case or level never leaves <job>/metadata/."""
    ingest(db, job, data_dir, [record({"definition": "../../x", "case": "a/b", "level": "1",
                                       "result": "pass", "extra": {"k": "v"}})], 0)
    meta_dir = os.path.join(job_dir(data_dir, job), "metadata")
    assert os.listdir(meta_dir) == [".._.._x-a_b-1.yaml"]


def test_canceled_stream_ends_with_lava_job_error_type(db, job, data_dir) -> None:
    """The recorded canceled job: lava/0_slow, lava-test-shell, lava-test-retry, job fail."""
    for index, lines in batches(2):
        ingest(db, job, data_dir, lines, index)
    fails = [(c[0], c[1]) for c in cases(db, job) if c[2] == 1]
    assert fails == [("lava", "0_slow"), ("lava", "lava-test-shell"),
                     ("lava", "lava-test-retry"), ("lava", "job")]
    assert metadata(db, job, "job")["error_type"] == "Canceled"
