"""``scheduler.workers.*``: workers and their configuration files."""

from __future__ import annotations

import builtins
from typing import Any

from lavad import devices, inventory
from lavad.errors import Conflict, NotFound, PermissionDenied
from lavad.models import WorkerHealth
from lavad.xmlrpc.dispatch import Fault, Namespace, exposed
from lavad.xmlrpc.values import binary, datetime_value, text_argument

WORKER_CHANGE = "lava_scheduler_app.change_worker"
HEALTHS = {"ACTIVE": WorkerHealth.ACTIVE, "MAINTENANCE": WorkerHealth.MAINTENANCE,
           "RETIRED": WorkerHealth.RETIRED}


def not_found(hostname: Any) -> tuple[int, str]:
    return 404, "Worker '%s' was not found." % hostname


class SchedulerWorkersAPI(Namespace):
    name = "scheduler.workers"
    summary = "Workers: list, show, add, update, delete, and their configuration files."

    def _hidden(self, hostname: Any) -> dict[Any, tuple[int, str]]:
        return {(NotFound, "Worker"): not_found(hostname),
                PermissionDenied: (403, "Worker '%s' not available to user '%s'."
                                   % (hostname, self.call.username))}

    @exposed
    async def list(self, show_all: Any = False) -> builtins.list[str]:
        """The hostnames of the workers the caller may see, sorted, without retired ones
        unless ``show_all``."""
        return await self.call.run(inventory.thd_workers, self.call.principal, bool(show_all))

    @exposed
    async def show(self, hostname: Any) -> dict[str, Any]:
        """One worker: ``{hostname, description, state, health, devices, last_ping,
        job_limit, version, default_config, default_env, default_env_dut}``, and
        ``token`` for superusers."""
        w = await self.call.run(inventory.thd_worker, self.call.principal, hostname,
                                self.env.files, faults=self._hidden(hostname))
        w["last_ping"] = datetime_value(w["last_ping"])
        return w

    @exposed
    async def add(self, hostname: Any, description: Any = None, disabled: Any = False) -> None:
        """Create a worker (Retired when ``disabled``).  Needs
        ``lava_scheduler_app.add_worker``."""
        self.call.check_perm("lava_scheduler_app.add_worker")
        health = WorkerHealth.RETIRED if disabled else WorkerHealth.ACTIVE
        await self.call.run(devices.thd_add_worker, hostname, description, health=health,
                            faults={Conflict: (400, "Bad request: worker already exists?")})

    @exposed
    async def update(self, hostname: Any, description: Any = None, health: Any = None,
                     job_limit: Any = None) -> None:
        """Change a worker; nil arguments are left alone.  ``health`` is ACTIVE,
        MAINTENANCE or RETIRED (an Active worker's Good devices go back to Unknown, a
        Retired worker retires its devices except Bad ones); ``job_limit`` is an
        integer >= 0 (0: no limit).  Needs ``lava_scheduler_app.change_worker``."""
        self.call.check_perm(WORKER_CHANGE)
        value = None
        if health is not None:
            value = HEALTHS.get(health) if isinstance(health, str) else None
            if value is None:
                raise Fault(400, "Invalid health: %s" % health)
        if job_limit is not None and (isinstance(job_limit, bool)
                                      or not isinstance(job_limit, int) or job_limit < 0):
            raise Fault(400, "Invalid job limit")
        await self.call.run(devices.thd_update_worker, hostname, self.call.principal,
                            "xmlrpc api", health=value, description=description,
                            job_limit=job_limit, faults={NotFound: not_found(hostname)})

    @exposed
    async def delete(self, hostname: Any) -> None:
        """Remove a worker.  Needs ``lava_scheduler_app.delete_worker``."""
        self.call.check_perm("lava_scheduler_app.delete_worker")
        await self.call.run(devices.thd_delete_worker, hostname,
                            faults={NotFound: not_found(hostname)})

    async def _get(self, hostname: Any, kind: str) -> Any:
        return binary(await self.call.run(inventory.thd_worker_file, self.call.principal,
                                          hostname, kind, self.env.files,
                                          faults=self._hidden(hostname)))

    async def _set(self, hostname: Any, kind: str, text: Any) -> bool:
        self.call.check_perm(WORKER_CHANGE)
        return await self.call.run(inventory.thd_set_worker_file, hostname, kind,
                                   text_argument(text), self.env.files,
                                   faults={(NotFound, "Worker"): not_found(hostname)})

    @exposed
    async def get_config(self, hostname: Any) -> Any:
        """The worker's dispatcher configuration (``dispatcher.yaml``) as base64."""
        return await self._get(hostname, "dispatcher")

    @exposed
    async def set_config(self, hostname: Any, config: Any) -> bool:
        """Replace the worker's dispatcher configuration ("" removes it); true when it
        was written.  Needs ``lava_scheduler_app.change_worker``."""
        return await self._set(hostname, "dispatcher", config)

    @exposed
    async def get_env(self, hostname: Any) -> Any:
        """The environment the worker gives its jobs (``env.yaml``, or the instance's)
        as base64."""
        return await self._get(hostname, "env")

    @exposed
    async def set_env(self, hostname: Any, env: Any) -> bool:
        """Replace the worker's ``env.yaml`` ("" removes it); true when it was written.
        Needs ``lava_scheduler_app.change_worker``."""
        return await self._set(hostname, "env", env)

    @exposed
    async def get_env_dut(self, hostname: Any) -> Any:
        """The environment the worker gives the devices (``env-dut.yaml``, or the
        instance's) as base64."""
        return await self._get(hostname, "env-dut")

    @exposed
    async def set_env_dut(self, hostname: Any, env: Any) -> bool:
        """Replace the worker's ``env-dut.yaml`` ("" removes it); true when it was
        written.  Needs ``lava_scheduler_app.change_worker``."""
        return await self._set(hostname, "env-dut", env)
