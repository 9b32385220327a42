"""Splitting a MultiNode definition into one definition per node.

A MultiNode job names its roles under ``protocols: lava-multinode: roles:``
(each with a ``device_type`` and a ``count``, or a ``connection``) and lists,
on every action, the roles that run it.  Each node of the group gets:

* the actions of its role, each with ``role:`` set to that role's name;
* the job-wide keys (``job_name``, ``timeouts``, ``priority``, ``visibility``,
  ``notify``, ``metadata``, ``reboot_to_fastboot``, ``secrets``);
* the role's scheduling keys at the top level (``device_type``,
  ``connection``, ``host_role``, ``context``);
* ``protocols: lava-multinode:`` with ``target_group``, ``role``,
  ``group_size``, ``sub_id`` (0, 1, ... across the whole group), the role's
  other keys (``tags``, ``timeout``, ``essential`` ...) and the protocol's own
  keys other than ``roles``.
"""

from __future__ import annotations

import copy
from typing import Any

JOB_WIDE = ("job_name", "timeouts", "priority", "visibility", "notify", "metadata",
            "reboot_to_fastboot", "secrets")
SCHEDULING = ("device_type", "connection", "host_role", "context")


class SplitError(Exception):
    """The definition cannot be split; ``key`` is set when a role has no actions."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def _role_actions(job: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The actions that list ``role``, copied, with ``role:`` set to it."""
    selected = []
    for action in job["actions"]:
        for kind, block in action.items():
            if not isinstance(block, dict) or "role" not in block:
                raise SplitError(
                    "Invalid YAML - Did not find a role in action '%s', check for consistent "
                    "use of whitespace indents." % next(iter(action)))
            if role in block["role"]:
                block = copy.deepcopy(block)
                block["role"] = role
                selected.append({kind: block})
    return selected


def split(job: dict[str, Any], target_group: str) -> list[tuple[str, dict[str, Any]]]:
    """``[(role, definition), ...]`` in sub_id order (roles in definition order)."""
    protocol = job["protocols"]["lava-multinode"]
    roles: dict[str, dict[str, Any]] = protocol["roles"]
    group_size = sum(spec["count"] for spec in roles.values() if "count" in spec)

    actions = {name: _role_actions(job, name) for name in roles}
    host_roles = [spec["host_role"] for spec in roles.values() if "host_role" in spec]
    if host_roles and host_roles[-1] in roles and roles[host_roles[-1]].get("count") != 1:
        raise SplitError("The count for a role designated as a host_role must be 1.")

    nodes: list[tuple[str, dict[str, Any]]] = []
    for name, spec in roles.items():
        for _ in range(spec["count"]):
            if not actions[name]:
                raise SplitError(repr(name), key=name)
            params: dict[str, Any] = {"target_group": target_group, "role": name,
                                      "group_size": group_size, "sub_id": len(nodes)}
            if "essential" in spec:
                params["essential"] = spec["essential"]
            for key, value in spec.items():
                if key != "count" and key not in SCHEDULING:
                    params[key] = value
            for key, value in protocol.items():
                if key not in ("role", "roles"):
                    params[key] = value
            node: dict[str, Any] = {"actions": actions[name]}
            node.update((key, job[key]) for key in JOB_WIDE if key in job)
            node.update((key, spec[key]) for key in SCHEDULING if key in spec)
            node["protocols"] = {"lava-multinode": params}
            nodes.append((name, copy.deepcopy(node)))
    return nodes
