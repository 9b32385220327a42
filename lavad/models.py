"""LAVA's enumerations: stored integers and the display strings clients see."""

from __future__ import annotations

from enum import IntEnum


class DisplayEnum(IntEnum):
    """An integer enum whose display string is its LAVA name."""

    @property
    def display(self) -> str:
        return self.name.capitalize() if self.name.isupper() else self.name

    @classmethod
    def from_display(cls, text: str, ignore_case: bool = False) -> "DisplayEnum":
        for member in cls:
            if member.display == text or (ignore_case and member.display.lower() == text.lower()):
                return member
        raise ValueError(text)

    @classmethod
    def displays(cls) -> list[str]:
        return [m.display for m in cls]


class JobState(DisplayEnum):
    SUBMITTED = 0
    SCHEDULING = 1
    SCHEDULED = 2
    RUNNING = 3
    CANCELING = 4
    FINISHED = 5


class JobHealth(DisplayEnum):
    UNKNOWN = 0
    COMPLETE = 1
    INCOMPLETE = 2
    CANCELED = 3


class DeviceState(DisplayEnum):
    IDLE = 0
    RESERVED = 1
    RUNNING = 2


class DeviceHealth(DisplayEnum):
    GOOD = 0
    UNKNOWN = 1
    LOOPING = 2
    BAD = 3
    MAINTENANCE = 4
    RETIRED = 5


class WorkerState(DisplayEnum):
    ONLINE = 0
    OFFLINE = 1


class WorkerHealth(DisplayEnum):
    ACTIVE = 0
    MAINTENANCE = 1
    RETIRED = 2


class HealthDenominator(DisplayEnum):
    hours = 0
    jobs = 1


class TestResult(DisplayEnum):
    __test__ = False  # not a pytest class
    pass_ = 0
    fail = 1
    skip = 2
    unknown = 3

    @property
    def display(self) -> str:
        return self.name.rstrip("_")


# Priorities by name (job submission accepts these, any case).
PRIORITY_NAMES = {"low": 0, "medium": 50, "high": 100}

# Group object permissions: a higher one implies the lower ones.
DEVICE_TYPE_PERMISSIONS = ["view_devicetype", "submit_to_devicetype", "change_devicetype"]
DEVICE_PERMISSIONS = ["view_device", "submit_to_device", "change_device"]
WORKER_PERMISSIONS = ["view_worker", "change_worker"]
