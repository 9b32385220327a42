"""The internal event bus.

Every change of a job, device or worker state (and every other write worth
telling the outside world about) produces one :class:`Event`.  Writers never
call consumers directly: the store hands the events of a committed transaction
to :meth:`EventBus.publish`, and the publisher, websocket relay, notifiers and
scheduler subscribe.  A consumer's error is logged, never raised into the writer.
"""

from __future__ import annotations

import json
import uuid as _uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from twisted.logger import Logger

from lavad import dates

# Event kinds, named after LAVA's topic suffixes where LAVA has one.
TESTJOB = "testjob"
DEVICE = "device"
WORKER = "worker"
EVENT = "event"  # lava-test-event lines from a job log
LAB = "lab"      # other model changes (users, tags, device types...)


@dataclass(frozen=True)
class Event:
    """One change, as consumers see it.

    ``data`` is the payload in LAVA's key order for the kinds LAVA publishes;
    ``username`` is who caused it (LAVA's 4th frame); ``time`` is an ISO 8601
    UTC timestamp; ``uuid`` identifies the message.  ``restrict`` carries what
    consumers need to decide visibility without another query: for a job,
    ``{"job": id}``; for a device, ``{"device": hostname}``.
    """

    kind: str
    data: dict[str, Any]
    username: str = "lava"
    time: str = ""
    uuid: str = field(default_factory=lambda: str(_uuid.uuid1()))
    restrict: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": self.data, "username": self.username,
                "time": self.time, "uuid": self.uuid, "restrict": self.restrict}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Event":
        return cls(kind=obj["kind"], data=obj["data"], username=obj.get("username", "lava"),
                   time=obj.get("time", ""), uuid=obj.get("uuid") or str(_uuid.uuid1()),
                   restrict=obj.get("restrict") or {})


def lava_frames(event: Event, topic_prefix: str = "org.lavasoftware") -> list[str]:
    """LAVA's five message parts for ``event``: topic, uuid, datetime, username, data.

    The topic is ``topic_prefix`` + ``"."`` + kind; the datetime is the event's
    time as ISO 8601 with ``+00:00`` (no fraction when the microseconds are 0),
    or now when the event has no time; the data is ``json.dumps`` with its
    defaults (``", "``/``": "`` separators, ASCII escapes, the dict's key order).
    """
    when = dates.event(event.time) if event.time else \
        datetime.now(timezone.utc).isoformat()
    return ["%s.%s" % (topic_prefix, event.kind), event.uuid, str(when), event.username,
            json.dumps(event.data)]


Subscriber = Callable[[Event], Any]


class EventBus:
    """Synchronous fan-out of events to subscribers, in subscription order."""

    log = Logger()

    def __init__(self) -> None:
        self._subscribers: list[tuple[str | None, Subscriber]] = []

    def subscribe(self, callback: Subscriber, kind: str | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` for every event (of ``kind``, if given).

        Returns a function that unsubscribes.
        """
        entry = (kind, callback)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
        return unsubscribe

    def publish(self, event: Event) -> None:
        for kind, callback in list(self._subscribers):
            if kind is not None and kind != event.kind:
                continue
            try:
                callback(event)
            except Exception:
                self.log.failure("event consumer {callback!r} failed on {kind} event",
                                 callback=callback, kind=event.kind)
