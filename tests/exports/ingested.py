"""Jobs stored through the real ingestion path, for tests that compare what the exports
write from the forms stored at ingestion with what they work out without them."""

from __future__ import annotations

import os
from typing import Any

from replay_worker import batches, lines_field

from lavad import jobs, results, users
from lavad.store.schema import open_database
from lavad.store.tx import SyncStore


def result_line(msg: dict[str, Any]) -> str:
    """One ``results`` line of a job log, as lava-run writes it."""
    return "- " + results.dump_record({"dt": "2026-11-28T00:33:02.7", "lvl": "results",
                                       "msg": msg}) + "\n"


def ingested_lab(tmp_path: Any, odd: list[dict[str, Any]]) -> tuple[SyncStore, list[int], str]:
    """A store holding the recorded ssh and qemu jobs as uploaded, the second one followed
    by the ``odd`` results; (store, job ids, data directory)."""
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    store = SyncStore(open_database(os.path.join(data_dir, "lavad.sqlite3")))
    uid = store.run(users.thd_add_user, "alice")["id"]
    ids = []
    for stream in (1, 3):
        job = store.run(jobs.thd_insert_job, uid, "job_name: x\n")
        for index, lines in batches(stream):
            store.run(results.thd_ingest_log, job, lines_field(lines), index, data_dir)
        ids.append(job)
    count = int(store.run(lambda tx: tx.scalar("SELECT log_lines FROM test_jobs WHERE id = ?",
                                               (ids[-1],))))
    store.run(results.thd_ingest_log, ids[-1], lines_field([result_line(m) for m in odd]),
              count, data_dir)
    return store, ids, data_dir
