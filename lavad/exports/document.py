"""A document produced piece by piece on the store thread.

An export is a plain Python generator of ``bytes`` that reads the store
through a :class:`Cursor`.  Each call of :meth:`Document.thd_next` (one
store-thread transaction) advances the generator to its next ``yield``, with
``cursor.tx`` set to that call's transaction.  A body generator therefore
yields at least once per batch it reads (keyset pagination, ``BATCH`` rows);
each call runs it until about ``PIECE`` bytes are ready, so every store-thread
call does a bounded amount of work and the HTTP side can pull the next piece
only once the previous one has been written.

:func:`thd_collect` runs a document to the end inside one transaction, for
callers that need the whole text (XML-RPC's ``results.*``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lavad.store.tx import Tx

#: Rows read per store-thread call.  Small enough that a batch's Python objects fit in
#: the memory a previous batch freed (1,000-row batches left the server 5 MiB larger
#: after the benchmark's exports); exports of 10,000 cases are as fast.
BATCH = 250
#: A body yields once this much text is pending, even in the middle of a batch.
PIECE = 256 * 1024


class Cursor:
    """What a body generator reads through: the transaction of the current call."""

    def __init__(self) -> None:
        self._tx: Tx | None = None

    @property
    def tx(self) -> Tx:
        if self._tx is None:
            raise RuntimeError("an export body ran outside Document.thd_next")
        return self._tx


Body = Callable[[Cursor], Iterator[bytes]]


@dataclass
class Document:
    """An export ready to stream: its HTTP metadata and its body.

    ``size`` is the body's length when it is known in advance (job logs).
    """

    content_type: str
    disposition: str | None
    body: Body
    size: int | None = None
    name: str = "export"
    chunks: int = 0
    _cursor: Cursor = field(default_factory=Cursor, repr=False)
    _running: Iterator[bytes] | None = field(default=None, repr=False)
    _done: bool = field(default=False, repr=False)

    def thd_next(self, tx: Tx) -> bytes | None:
        """The next piece (possibly empty), or None once the document is complete.

        One call runs the body until about :data:`PIECE` bytes are ready (or it ends):
        several small batches per store call and per write, while each batch's rows
        are freed before the next is read.
        """
        if self._done:
            return None
        if self._running is None:
            self._running = self.body(self._cursor)
        self._cursor._tx = tx
        pieces: list[bytes] = []
        size = 0
        try:
            while size < PIECE:
                try:
                    piece = next(self._running)
                except StopIteration:
                    self._done = True
                    self._running = None
                    break
                pieces.append(piece)
                size += len(piece)
        except BaseException:
            self._done = True
            self._running = None
            raise
        finally:
            self._cursor._tx = None
        if not pieces:
            return None
        self.chunks += 1
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def thd_close(self, tx: Tx) -> None:
        """Stop early (the client went away): close the body on the store thread, after
        any call still queued, so no more store work is done for it."""
        self._done = True
        running, self._running = self._running, None
        if running is not None:
            running.close()  # type: ignore[attr-defined]


def thd_collect(tx: Tx, document: Document) -> bytes:
    """The whole document, in this one transaction."""
    pieces: list[bytes] = []
    while True:
        piece = document.thd_next(tx)
        if piece is None:
            return b"".join(pieces)
        pieces.append(piece)


def text_pieces(parts: Iterator[str], limit: int = PIECE) -> Iterator[bytes]:
    """Join ``parts`` into UTF-8 pieces of roughly ``limit`` bytes (never empty)."""
    pending: list[str] = []
    size = 0
    for part in parts:
        pending.append(part)
        size += len(part)
        if size >= limit:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8")
