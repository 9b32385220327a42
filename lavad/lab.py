"""The one internal API: what REST, XML-RPC and the server's own services call.

:class:`Lab` runs the domain functions (``lavad.users``, ``lavad.devices``,
``lavad.jobs``, ``lavad.permissions``) on the store thread and returns
Deferreds.  Adapters translate wire requests into these calls and domain
errors (``lavad.errors``) into wire errors; they hold no rules of their own.
``lavad manage`` calls the same ``thd_*`` functions through a
:class:`~lavad.store.tx.SyncStore`.
"""

from __future__ import annotations

import hmac
from typing import Any, Callable

from twisted.internet.defer import Deferred

from lavad import devices, jobs, permissions, statemachine, users
from lavad.events import DEVICE, EVENT, TESTJOB, WORKER, Event, EventBus
from lavad.store.tx import Tx
from lavad.users import ANONYMOUS, Principal


def thd_event_visible(tx: Tx, principal: Principal, event: Event) -> bool:
    """The event relays' visibility rule: the job's (testjob and test-shell events), the
    device's or the worker's."""
    if event.kind in (TESTJOB, EVENT):
        job = event.restrict.get("job", event.data.get("job"))
        return job is not None and permissions.thd_can_view_job(tx, principal, int(job))
    if event.kind == DEVICE:
        hostname = event.restrict.get("device", event.data.get("device"))
        return hostname is not None and permissions.thd_can_view_device(tx, principal, hostname)
    if event.kind == WORKER:
        hostname = event.data.get("hostname")
        return hostname is not None and permissions.thd_can_view_worker(tx, principal, hostname)
    return False


def thd_event_visible_to_anonymous(tx: Tx, event: Event) -> bool:
    """The ZMQ publisher's default rule: what an anonymous user may see."""
    return thd_event_visible(tx, ANONYMOUS, event)


def thd_check_worker_token(tx: Tx, hostname: str, token: str) -> bool | None:
    """True when ``token`` is the worker's (compared in constant time), None for no worker."""
    stored = tx.scalar("SELECT token FROM workers WHERE hostname = ?", (hostname,))
    if stored is None:
        return None
    return hmac.compare_digest(str(stored).encode(), str(token).encode())


class Lab:
    """The lab, seen through the store thread."""

    def __init__(self, store: Any) -> None:
        self.store = store

    @property
    def bus(self) -> EventBus:
        return self.store.bus

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred:
        """Run any domain ``thd_*`` function in one transaction."""
        return self.store.run(fn, *args, **kwargs)

    # -- who is calling -------------------------------------------------------------
    def authenticate_token(self, secret: str, username: str | None = None,
                           touch: bool = False) -> Deferred:
        """Fires with the Principal owning the API token, or None."""
        return self.run(users.thd_authenticate_token, secret, username, touch)

    def authenticate_password(self, username: str, password: str) -> Deferred:
        return self.run(users.thd_authenticate_password, username, password)

    def principal(self, user_id: int | None) -> Deferred:
        if user_id is None:
            return self.run(lambda tx: ANONYMOUS)
        return self.run(users.thd_principal, user_id)

    # -- visibility, asked in one place ------------------------------------------------
    def can_view_job(self, principal: Principal, job_id: int, nested: bool = False) -> Deferred:
        return self.run(permissions.thd_can_view_job, principal, job_id, nested)

    def can_view_device(self, principal: Principal, hostname: str) -> Deferred:
        return self.run(permissions.thd_can_view_device, principal, hostname)

    def can_view_device_type(self, principal: Principal, name: str) -> Deferred:
        return self.run(permissions.thd_can_view_device_type, principal, name)

    def event_visible(self, principal: Principal, event: Event) -> Deferred:
        """Whether ``principal`` may see a testjob, device, worker or test-shell event (the
        relays ask)."""
        return self.run(thd_event_visible, principal, event)

    def event_visible_to_anonymous(self, event: Event) -> Deferred:
        """Whether an anonymous user may see a testjob, device, worker or test-shell event
        (the ZMQ publisher asks)."""
        return self.run(thd_event_visible_to_anonymous, event)

    def check_worker_token(self, hostname: str, token: str) -> Deferred:
        """Fires True (the worker's token), False (another token) or None (no such worker)."""
        return self.run(thd_check_worker_token, hostname, token)

    # -- reads -------------------------------------------------------------------------
    def get_job(self, principal: Principal, job_id: int) -> Deferred:
        return self.run(jobs.thd_get_job, job_id, principal)

    def list_jobs(self, principal: Principal, limit: int = 50, offset: int = 0) -> Deferred:
        return self.run(jobs.thd_list_jobs, principal, limit, offset)

    def get_device(self, principal: Principal, hostname: str) -> Deferred:
        return self.run(devices.thd_get_device, hostname, principal)

    def list_devices(self, principal: Principal, include_retired: bool = True) -> Deferred:
        return self.run(devices.thd_list_devices, principal, include_retired)

    def get_device_type(self, principal: Principal, name: str) -> Deferred:
        return self.run(devices.thd_get_device_type, name, principal)

    def list_device_types(self, principal: Principal) -> Deferred:
        return self.run(devices.thd_list_device_types, principal)

    def get_worker(self, principal: Principal, hostname: str) -> Deferred:
        return self.run(devices.thd_get_worker, hostname, principal, principal.is_superuser)

    def list_workers(self, principal: Principal) -> Deferred:
        return self.run(devices.thd_list_workers, principal, principal.is_superuser)

    # -- state changes (each emits its event through the store) -------------------------------
    def set_device_health(self, principal: Principal, hostname: str, health: Any,
                          reason: str | None = None) -> Deferred:
        return self.run(devices.thd_update_device, hostname, principal, reason, health=health)

    def set_worker_health(self, principal: Principal, hostname: str, health: Any,
                          reason: str | None = None) -> Deferred:
        return self.run(devices.thd_update_worker, hostname, principal, reason, health=health)

    # -- the job state machine (lavad.statemachine) -----------------------------------------
    def cancel_job(self, principal: Principal, job_id: int | str) -> Deferred:
        """Cancel a job (all of a multinode group); fires True, or fails with
        NotFound / PermissionDenied."""
        return self.run(statemachine.thd_cancel_job, principal, job_id)

    def job_running(self, job_id: int | str) -> Deferred:
        """The worker started the job; fires whether anything changed."""
        return self.run(statemachine.thd_job_running, job_id)

    def job_finished(self, job_id: int | str, result: str, error_type: str = "",
                     errors: str = "") -> Deferred:
        """The worker reports the end of the job (``result`` ``pass``/``fail``)."""
        return self.run(statemachine.thd_job_finished, job_id, result, error_type, errors)
