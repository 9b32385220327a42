"""Results ingestion: job log lines in, log files, events and test cases out.

A log upload (``POST .../jobs/<id>/logs/``) is handled by
:func:`thd_ingest_log`, on the store thread, by LAVA's rules:

* every record is parsed with a YAML loader (``! "163"`` is the integer 163);
* the first ``stored - index`` records are a resend of lines already stored:
  they are counted but neither stored nor scanned again (their test cases
  were stored by the transaction that stored the lines);
* an ``event`` record is published on the bus (kind ``event``, data
  ``{"message": msg, "job": id}``, sent as ``lavaserver``) and stored with its
  ``lvl`` rewritten to ``debug``;
* every new record is appended to the job's log (:mod:`lavad.logs`);
* a ``results`` record becomes a test case (:func:`thd_record_result`).

The new line count is written to ``test_jobs.log_lines`` in the same
transaction as the test cases, after the log files are flushed to disk.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import yaml
from twisted.logger import Logger

from lavad.exports.records import printed_metadata
from lavad.exports.yamlfmt import verbatim
from lavad.logs import JobLog, job_dir
from lavad.models import TestResult
from lavad.store.tx import Tx

try:  # the C loader and dumper when PyYAML has them (and LAVA's exact dump form)
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

log = Logger()

SERVER_USER = "lavaserver"
LAVA_SUITE = "lava"
RESULT_MAP = {r.display: int(r) for r in TestResult}  # pass/fail/skip/unknown -> 0..3
METADATA_LIMIT = 4096
FAILURE_COMMENT_CHUNK = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DECIMAL_PLACES = Decimal("1E-10")
_DECIMAL_LIMIT = Decimal(10) ** 20  # LAVA's measurement is Decimal(30, 10)


# -- YAML -------------------------------------------------------------------------------
def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def yaml_dump(value: Any) -> str:
    """Block-style YAML, keys in their given order (the metadata form)."""
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False)


def dump_record(record: dict[str, Any]) -> str:
    """One log record as lava-run writes it: one line of flow YAML, scalars double-quoted."""
    return yaml.dump(record, Dumper=_Dumper, default_flow_style=True, default_style='"',
                     width=10 ** 6, sort_keys=False).rstrip("\n")


def parse_log_lines(text: str, now: str = "") -> list[tuple[str, dict[str, Any]]]:
    """The records of a ``lines`` form field: ``(stored line without newline, record)``.

    The field is a YAML block list, one record per line.  Blank lines are not
    records.  A line that is not a mapping is kept, as a ``debug`` record
    holding its text, so the stored log stays one valid YAML list.
    """
    raw = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    raw = [line for line in raw if line.strip()]
    items: list[Any] | None = None
    try:
        whole = yaml_load("\n".join(raw))
        if isinstance(whole, list) and len(whole) == len(raw) \
                and all(line.startswith("- ") for line in raw):
            items = whole
    except yaml.YAMLError:
        pass
    out: list[tuple[str, dict[str, Any]]] = []
    for position, line in enumerate(raw):
        if items is not None:
            item, listed = items[position], True
        else:
            try:
                item = yaml_load(line)
            except yaml.YAMLError:
                item = None
            listed = isinstance(item, list)
            if listed:
                item = item[0] if len(item) == 1 else None
        if isinstance(item, dict):
            out.append((line if listed else "- " + line, item))
        else:
            record = {"dt": now, "lvl": "debug", "msg": line}
            out.append(("- " + dump_record(record), record))
    return out


# -- failure comments ----------------------------------------------------------------------
def thd_append_failure_comment(tx: Tx, job_id: int, message: str) -> None:
    """Add (at most 256 characters of) ``message`` to the job's failure comment."""
    tx.execute("UPDATE test_jobs SET failure_comment = coalesce(failure_comment, '') || ?"
               " WHERE id = ?", (message[:FAILURE_COMMENT_CHUNK], job_id))


# -- metadata files ----------------------------------------------------------------------
def _file_part(value: Any) -> str:
    return str(value).replace(os.sep, "_").replace("\0", "_")


def metadata_path(directory: str, definition: Any, case: Any, level: Any) -> str:
    """``<job dir>/metadata/<definition>-<case>-<level>.yaml`` (no ``/`` in the name)."""
    stub = "%s-%s-%s.yaml" % (_file_part(definition), _file_part(case), _file_part(level))
    return os.path.join(directory, "metadata", stub)


def read_metadata_file(path: str) -> Any:
    """What a metadata file holds (None if it is missing or unreadable)."""
    try:
        with open(path, encoding="utf-8") as stream:
            return yaml_load(stream.read())
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


def _store_metadata(tx: Tx, job_id: int, msg: dict[str, Any], directory: str) -> str | None:
    """Merge ``msg["extra"]`` into its metadata file; return the file's path.

    Only results carrying both ``extra`` and ``level`` have one.
    """
    if "extra" not in msg or msg.get("level") is None:
        return None
    path = metadata_path(directory, msg.get("definition"), msg.get("case"), msg["level"])
    extra = msg["extra"]
    data = read_metadata_file(path) if os.path.exists(path) else None
    if isinstance(data, dict) and isinstance(extra, dict):
        data.update(extra)
    else:
        data = extra
    try:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        partial = path + ".partial"
        with open(partial, "w", encoding="utf-8") as stream:
            stream.write(yaml_dump(data))
        os.replace(partial, path)
    except OSError as exc:
        message = "[%d] Unable to create metadata store: %s" % (job_id, exc)
        log.error("{message}", message=message)
        thd_append_failure_comment(tx, job_id, message)
        return None
    return path


# -- test cases -----------------------------------------------------------------------
def _metadata_text(tx: Tx, job_id: int, msg: dict[str, Any]) -> str:
    """The case's metadata: the YAML of ``msg``, reduced as LAVA does past 4096 characters."""
    metadata = yaml_dump(msg)
    if len(metadata) <= METADATA_LIMIT:
        return metadata
    message = "[%d] Result metadata is too long. %s" % (job_id, metadata)
    log.warn("{message}", message=message[:FAILURE_COMMENT_CHUNK])
    thd_append_failure_comment(tx, job_id, message)
    reduced = {key: msg[key] for key in ("case", "definition", "result")}
    if "error_type" in msg:
        reduced["error_type"] = msg["error_type"]
    metadata = yaml_dump(reduced)
    if len(metadata) > METADATA_LIMIT:
        return ""
    if "error_msg" in msg:
        reduced["error_msg"] = str(msg["error_msg"])[:256]
        with_error = yaml_dump(reduced)
        if len(with_error) < METADATA_LIMIT:
            metadata = with_error
    return metadata


def measurement_text(value: Any) -> str | None:
    """A measurement as stored: a decimal string with 10 places (``"42.5000000000"``).

    Raises ValueError for a value that is not a finite decimal of at most 20
    integer digits.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("not a number: %r" % value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("not a number: %r" % value) from None
    if not number.is_finite() or abs(number) >= _DECIMAL_LIMIT:
        raise ValueError("out of range: %r" % value)
    return format(number.quantize(_DECIMAL_PLACES), "f")


def _log_line(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _suite_id(tx: Tx, job_id: int, name: str) -> int:
    row = tx.one("SELECT id FROM test_suites WHERE job_id = ? AND name = ?", (job_id, name))
    if row is not None:
        return row["id"]
    return int(tx.execute("INSERT INTO test_suites (job_id, name) VALUES (?, ?)",
                          (job_id, name)).lastrowid or 0)


def _set_id(tx: Tx, job_id: int, suite_id: int, name: str) -> int | None:
    if quote(name) != name:
        message = "Invalid testset name '%s', ignoring." % name
        log.warn("{message}", message=message)
        thd_append_failure_comment(tx, job_id, message)
        return None
    row = tx.one("SELECT id FROM test_sets WHERE suite_id = ? AND name = ?", (suite_id, name))
    if row is not None:
        return row["id"]
    return tx.execute("INSERT INTO test_sets (suite_id, name) VALUES (?, ?)",
                      (suite_id, name)).lastrowid


def thd_record_result(tx: Tx, job_id: int, msg: Any, directory: str) -> int | None:
    """Store one ``results`` message as a test case; return its id (None if dropped).

    ``msg`` is changed in place, as LAVA does: ``starttc``/``endtc`` are
    popped and ``extra`` is replaced by its metadata file's path.
    ``directory`` is the job's directory (for the metadata files).
    """
    starttc = endtc = None
    if isinstance(msg, dict):
        starttc = msg.pop("starttc", None)
        endtc = msg.pop("endtc", None)
    else:
        thd_append_failure_comment(tx, job_id, "[%d] %s is not a dictionary" % (job_id, msg))
        return None
    if not {"definition", "case", "result"} <= set(msg):
        thd_append_failure_comment(
            tx, job_id, 'Missing some keys ("definition", "case" or "result") in %s' % msg)
        return None
    meta_filename = _store_metadata(tx, job_id, msg, directory)
    if "extra" in msg:
        msg["extra"] = meta_filename
    metadata = _metadata_text(tx, job_id, msg)

    suite = str(msg["definition"])
    suite_id = _suite_id(tx, job_id, suite)
    set_id = _set_id(tx, job_id, suite_id, str(msg["set"])) if "set" in msg else None
    name = _CONTROL.sub("_ctrl-char_", str(msg["case"]).strip())
    result = msg["result"]
    if not isinstance(result, str) or result not in RESULT_MAP:
        log.warn("[{job}] Unrecognised result: '{result}' for test case '{name}'",
                 job=job_id, result=result, name=name)
        return None
    units = ""
    start_line = end_line = None
    try:
        if suite == LAVA_SUITE:
            measurement = measurement_text(msg.get("duration"))
            if "duration" in msg:
                units = "seconds"
        else:
            measurement = measurement_text(msg.get("measurement"))
            if "units" in msg:
                units = "" if msg["units"] is None else str(msg["units"])
            start_line, end_line = _log_line(starttc), _log_line(endtc)
    except ValueError as exc:
        log.warn("[{job}] Unable to create test case {name}: {exc}", job=job_id, name=name,
                 exc=exc)
        return None
    return tx.execute(
        "INSERT INTO test_cases (suite_id, test_set_id, name, result, measurement, units,"
        " metadata, printed_metadata, yaml_verbatim, start_log_line, end_log_line, logged)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (suite_id, set_id, name, RESULT_MAP[result], measurement, units, metadata,
         printed_metadata(metadata), verbatim(metadata), start_line, end_line,
         tx.now())).lastrowid


# -- one upload ------------------------------------------------------------------------------
def thd_ingest_log(tx: Tx, job_id: int, text: str, index: int, data_dir: str) -> int:
    """Store the new lines of one upload; return how many records it held.

    ``index`` is how many lines the sender believes are stored; the records
    before ``stored - index`` are a resend and are only counted.
    """
    records = parse_log_lines(text, tx.now())
    recorded = int(tx.scalar("SELECT log_lines FROM test_jobs WHERE id = ?", (job_id,)) or 0)
    directory = job_dir(data_dir, job_id)
    job_log = JobLog(directory)
    stored = job_log.reconcile(recorded)
    if stored != recorded:
        log.error("job {job}: the log holds {stored} lines but {recorded} were recorded",
                  job=job_id, stored=stored, recorded=recorded)
    skip = max(0, stored - index)
    new_lines: list[bytes] = []
    results: list[Any] = []
    for line, record in records[skip:]:
        level = record.get("lvl")
        if level == "event":
            tx.emit("event", {"message": record.get("msg"), "job": job_id},
                    username=SERVER_USER, restrict={"job": job_id})
            record = dict(record, lvl="debug")
            line = "- " + dump_record(record)
        elif level == "results":
            results.append(record.get("msg"))
        new_lines.append((line + "\n").encode("utf-8"))
    if new_lines:
        count = job_log.append(new_lines)
    else:
        count = stored
    for msg in results:
        tx.execute("SAVEPOINT result")
        try:
            thd_record_result(tx, job_id, msg, directory)
        except Exception:
            tx.execute("ROLLBACK TO result")
            log.failure("job {job}: cannot store the result {msg!r}", job=job_id, msg=msg)
        tx.execute("RELEASE result")
    if count != recorded:
        tx.execute("UPDATE test_jobs SET log_lines = ? WHERE id = ?", (count, job_id))
    return len(records)
