"""Exports are made batch by batch: the same bytes whatever the batch size, bounded windows,
clean 400s, work that stops with the client, and a reactor free for other requests."""

from __future__ import annotations

import pytest
import pytest_twisted
import yaml
from exportdocs import CSV, CSV_HEADER, JUNIT, TAP13, YAML
from exportlab import thd_add_cases
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.logger import globalLogPublisher

from lavad.exports import document, junit, records
from lavad.exports.document import PIECE, Cursor, Document, thd_collect

pytestmark = pytest.mark.timeout(60)

BIG = 30000


@pytest.fixture(params=[1, 2, 5])
def small_batches(request, monkeypatch):
    """Batches of 1, 2 or 5 rows, text pieces of 16 bytes and log pieces of one line."""
    for module in (records, junit):
        monkeypatch.setattr(module, "BATCH", request.param)
    monkeypatch.setattr(document, "PIECE", 16)
    monkeypatch.setattr(records, "LOG_PIECE_LINES", 1)
    return request.param


@pytest_twisted.ensureDeferred
async def test_batch_boundaries_do_not_change_the_documents(server, small_batches):
    """With tiny batches and pieces every format is still the captured document."""
    expected = {"junit": JUNIT, "tap13": TAP13, "csv": CSV, "yaml": YAML}
    for fmt, text in expected.items():
        answer = await server.get("/api/v0.2/jobs/1/%s/" % fmt)
        assert answer.text == text, fmt


def test_document_pieces_are_bounded():
    """A store-thread call runs the body, with that call's transaction, until about PIECE
    bytes are ready: small pieces are joined, big ones come one or two per call."""
    seen = []
    half = b"x" * (PIECE // 2)

    def body(cursor: Cursor):
        for n in range(5):
            seen.append(cursor.tx)
            yield b"%d" % n + half

    doc = Document("text/plain", None, body)
    pieces = [doc.thd_next("tx1"), doc.thd_next("tx2"), doc.thd_next("tx3")]
    assert [len(p) for p in pieces] == [2 * (len(half) + 1), 2 * (len(half) + 1),
                                        len(half) + 1]
    assert pieces[0].startswith(b"0") and pieces[2].startswith(b"4")
    assert seen == ["tx1", "tx1", "tx2", "tx2", "tx3"]
    assert doc.thd_next("tx4") is None and doc.thd_next("tx5") is None

    def small(cursor: Cursor):
        for n in range(3):
            yield b"%d" % n

    doc = Document("text/plain", None, small)
    assert doc.thd_next("tx") == b"012" and doc.thd_next("tx") is None
    assert thd_collect("tx", Document("text/plain", None, small)) == b"012"


@pytest_twisted.ensureDeferred
async def test_many_batches_in_order(server):
    """A job of 2,500 cases (three batches) exports every case once, by id, as one list."""
    await server.lab.run(thd_add_cases, server.ids.job3_suite, 2500)
    job = server.ids.job3
    answer = await server.get("/api/v0.2/jobs/%d/yaml/" % job)
    items = yaml.load(answer.text, Loader=yaml.CSafeLoader)
    ids = [int(item["id"]) for item in items]
    assert len(ids) == 2502 and ids == sorted(ids)
    assert yaml.dump(items, Dumper=yaml.CSafeDumper, sort_keys=False) == answer.text
    answer = await server.get("/api/v0.2/jobs/%d/csv/?offset=999&limit=1002" % job)
    rows = answer.text.split("\r\n")[1:-1]
    assert len(rows) == 1002
    assert rows[0].split('","')[12] == str(ids[999])
    assert rows[-1].split('","')[12] == str(ids[2000])
    answer = await server.get("/api/v0.2/jobs/%d/tap13/" % job)
    lines = answer.text.splitlines()
    assert lines[1] == "1..2502"
    numbers = [int(line.split()[2 if line.startswith("not") else 1])
               for line in lines if line.startswith(("ok", "not ok"))]
    assert numbers == list(range(1, 2503))
    answer = await server.get("/api/v0.2/jobs/%d/junit/" % job)
    assert answer.text.count("<testcase ") == 2502
    assert 'failures="626" name="0_running" skipped="625" tests="2502"' in answer.text


@pytest_twisted.ensureDeferred
async def test_window_edge_cases(server):
    """limit=0 means no limit, an offset past the end gives the header (or []), and a
    negative or non-numeric limit/offset is a 400 (JSON on REST, HTML on /results/)."""
    assert (await server.get("/api/v0.2/jobs/1/csv/?limit=0")).text == CSV
    assert (await server.get("/api/v0.2/jobs/1/yaml/?limit=0&offset=0")).text == YAML
    assert (await server.get("/api/v0.2/jobs/1/csv/?offset=6")).text == CSV_HEADER
    assert (await server.get("/api/v0.2/jobs/1/yaml/?offset=600&limit=2")).text == "[]\n"
    assert (await server.get("/api/v0.2/jobs/1/suites/2/yaml/?offset=9&limit=2")).text == "[]\n"
    answer = await server.get("/results/1/0_smoke/csv?limit=0&offset=3")
    assert answer.text.count("\r\n") == 5, "limit 0: every case, the offset ignored"
    answer = await server.get("/results/1/0_smoke/csv?limit=5&offset=4")
    assert answer.text == CSV_HEADER
    for url in ("/api/v0.2/jobs/1/csv/", "/api/v0.2/jobs/1/yaml/",
                "/api/v0.2/jobs/1/suites/2/csv/", "/api/v0.2/jobs/1/suites/2/yaml/"):
        for query, body in (
                ("limit=abc", b'{"limit":["A valid integer is required."]}'),
                ("limit=1.5", b'{"limit":["A valid integer is required."]}'),
                ("offset=x&limit=1", b'{"offset":["A valid integer is required."]}'),
                ("limit=-1", b'{"limit":["Ensure this value is greater than or equal to 0."]}'),
                ("limit=2&offset=-3",
                 b'{"offset":["Ensure this value is greater than or equal to 0."]}')):
            answer = await server.get(url + "?" + query)
            assert (answer.code, answer.body) == (400, body), (url, query)
    for url in ("/results/1/0_smoke/csv", "/results/1/0_smoke/yaml"):
        for query in ("limit=abc", "limit=-2", "limit=1&offset=-1", "offset=z"):
            answer = await server.get(url + "?" + query)
            assert answer.code == 400, (url, query)
            assert answer.header("Content-Type") == "text/html; charset=utf-8"


class RawClient(Protocol):
    """Sends one request and keeps the raw response bytes; can stop reading or hang up."""

    def __init__(self, path: str, pause: bool = False) -> None:
        self.path = path
        self.pause = pause
        self.received = 0
        self.first = Deferred()
        self.closed = Deferred()

    def connectionMade(self):
        self.transport.write(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % self.path.encode())

    def dataReceived(self, data):
        self.received += len(data)
        if not self.first.called:
            if self.pause:
                self.transport.pauseProducing()
            self.first.callback(None)

    def connectionLost(self, reason):
        self.closed.callback(None)


def _stopped_event() -> tuple[Deferred, object]:
    """A Deferred fired with the log event of the next export stopped by its client."""
    fired = Deferred()

    def observer(event):
        if event.get("log_format", "").startswith("export {name} stopped") and not fired.called:
            fired.callback(event)
    globalLogPublisher.addObserver(observer)
    return fired, observer


async def _connect(server, path: str, pause: bool = False) -> RawClient:
    client = RawClient(path, pause)
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server.port.getHost().port)
    await connectProtocol(endpoint, client)
    return client


@pytest.mark.parametrize("path", ["/api/v0.2/jobs/%d/yaml/", "/results/%d/csv",
                                  "/api/v0.2/jobs/%d/junit/"])
@pytest_twisted.ensureDeferred
async def test_disconnect_stops_the_export(server, path):
    """A client that hangs up after the first bytes stops the export: the document is
    closed on the store thread and no more batches are read."""
    await server.lab.run(thd_add_cases, server.ids.job3_suite, BIG)
    stopped, observer = _stopped_event()
    try:
        client = await _connect(server, path % server.ids.job3)
        await client.first
        client.transport.abortConnection()
        event = await stopped
    finally:
        globalLogPublisher.removeObserver(observer)
    await client.closed
    doc = event["document"]
    await server.lab.run(lambda tx: None)  # after any piece still queued
    assert doc.chunks < BIG // records.BATCH
    chunks = doc.chunks
    assert doc.thd_next(None) is None and doc.chunks == chunks


@pytest_twisted.ensureDeferred
async def test_other_requests_served_while_streaming(server):
    """While a slow client holds a big export open, other requests are answered."""
    await server.lab.run(thd_add_cases, server.ids.job3_suite, BIG)
    stopped, observer = _stopped_event()
    try:
        client = await _connect(server, "/api/v0.2/jobs/%d/yaml/" % server.ids.job3, pause=True)
        await client.first
        answer = await server.get("/results/1/0_smoke/+testcase-count")
        assert answer.body == b"4"
        answer = await server.get("/api/v0.2/jobs/1/tap13/")
        assert answer.text == TAP13
        assert not client.closed.called
        client.transport.abortConnection()
        event = await stopped
    finally:
        globalLogPublisher.removeObserver(observer)
    await client.closed
    assert event["document"].chunks < BIG // records.BATCH
