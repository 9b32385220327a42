"""``auth.users.*``, ``auth.groups.*`` and their ``groups``/``perms`` sub-namespaces.

Every method needs a global permission of Django's ``auth`` application
(``auth.view_user``, ``auth.change_group``...); superusers hold them all.
API tokens are not managed here: ``lavad manage tokens`` does that.
"""

from __future__ import annotations

import builtins
from typing import Any

from lavad import accounts, users
from lavad.errors import Conflict, Invalid, NotFound
from lavad.xmlrpc.dispatch import Fault, Namespace, exposed
from lavad.xmlrpc.values import datetime_value


def user_not_found(username: Any) -> dict[Any, tuple[int, str]]:
    return {(NotFound, "User"): (404, "User '%s' was not found." % username)}


class UsersAPI(Namespace):
    name = "auth.users"
    summary = "User accounts."

    @exposed
    async def list(self) -> builtins.list[dict[str, Any]]:
        """All users by username: ``[{username, last_name, first_name, is_superuser,
        is_staff, is_active}]``.  Needs ``auth.view_user``."""
        self.call.check_perm("auth.view_user")
        return [{"username": u["username"], "last_name": u["last_name"],
                 "first_name": u["first_name"], "is_superuser": u["is_superuser"],
                 "is_staff": u["is_staff"], "is_active": u["is_active"]}
                for u in await self.call.run(users.thd_list_users)]

    @exposed
    async def show(self, username: Any) -> dict[str, Any]:
        """One user: ``{date_joined, email, first_name, groups, permissions
        ("app.model.codename"), id, is_active, is_staff, is_superuser, last_login,
        last_name, username}``.  Needs ``auth.view_user``."""
        self.call.check_perm("auth.view_user")
        u = await self.call.run(accounts.thd_user_record, username,
                                faults=user_not_found(username))
        return {"date_joined": datetime_value(u["date_joined"]), "email": u["email"],
                "first_name": u["first_name"], "groups": u["groups"],
                "permissions": u["permissions"], "id": u["id"], "is_active": u["is_active"],
                "is_staff": u["is_staff"], "is_superuser": u["is_superuser"],
                "last_login": datetime_value(u["last_login"]), "last_name": u["last_name"],
                "username": u["username"]}

    @exposed
    async def add(self, username: Any, first_name: Any = None, last_name: Any = None,
                  email: Any = None, is_active: Any = True, is_staff: Any = False,
                  is_superuser: Any = False, ldap: Any = False) -> None:
        """Create a user (without a password: the account is used with API tokens).
        ``ldap`` is refused: lavad has no LDAP.  Needs ``auth.add_user``."""
        self.call.check_perm("auth.add_user")
        if ldap:
            raise Fault(400, "Bad request: authentication via LDAP not configured.")
        bad = (400, "Bad request: user already exists?")
        await self.call.run(users.thd_add_user, username, email=email or "",
                            first_name=first_name or "", last_name=last_name or "",
                            is_active=bool(is_active), is_staff=bool(is_staff),
                            is_superuser=bool(is_superuser),
                            faults={Conflict: bad, Invalid: bad})

    @exposed
    async def update(self, username: Any, first_name: Any = None, last_name: Any = None,
                     email: Any = None, is_active: Any = None, is_staff: Any = None,
                     is_superuser: Any = None) -> None:
        """Change a user; nil arguments are left alone.  Needs ``auth.change_user``."""
        self.call.check_perm("auth.change_user")
        faults = user_not_found(username)
        faults[Invalid] = (400, "Bad request")
        await self.call.run(users.thd_update_user, username, first_name=first_name,
                            last_name=last_name, email=email, is_active=is_active,
                            is_staff=is_staff, is_superuser=is_superuser, faults=faults)

    @exposed
    async def delete(self, username: Any) -> None:
        """Remove a user (one who submitted jobs is kept: deactivate it instead).
        Needs ``auth.change_user``."""
        self.call.check_perm("auth.change_user")
        await self.call.run(users.thd_delete_user, username, faults={
            (NotFound, "User"): (404, "Bad request: user does not exists")})


class UsersGroupsAPI(Namespace):
    name = "auth.users.groups"
    summary = "The groups of one user."

    @exposed
    async def list(self, username: Any) -> builtins.list[str]:
        """The names of the user's groups.  Needs ``auth.view_user``."""
        self.call.check_perm("auth.view_user")
        return await self.call.run(accounts.thd_user_groups, username,
                                   faults=user_not_found(username))

    @exposed
    async def add(self, username: Any, group: Any) -> None:
        """Put the user in ``group`` (created when missing).  Needs ``auth.change_user``."""
        self.call.check_perm("auth.change_user")
        await self.call.run(accounts.thd_join_group, username, group,
                            faults=user_not_found(username))

    @exposed
    async def delete(self, username: Any, group: Any) -> None:
        """Take the user out of ``group``.  Needs ``auth.change_user``."""
        self.call.check_perm("auth.change_user")
        await self.call.run(accounts.thd_leave_group, username, group,
                            faults=user_not_found(username))


class UsersPermissionsAPI(Namespace):
    name = "auth.users.perms"
    summary = "The global permissions given to one user."

    @exposed
    async def list(self, username: Any) -> builtins.list[dict[str, str]]:
        """The user's own permissions: ``[{app, model, codename}]``.  Needs
        ``auth.view_user``."""
        self.call.check_perm("auth.view_user")
        return await self.call.run(accounts.thd_permissions, user=username,
                                   faults=user_not_found(username))

    @exposed
    async def add(self, username: Any, app: Any, model: Any, codename: Any) -> None:
        """Give the user permission ``app``/``model``/``codename`` (for instance
        ``lava_scheduler_app``, ``device``, ``change_device``).  Needs ``auth.change_user``."""
        self.call.check_perm("auth.change_user")
        await self.call.run(accounts.thd_set_permission, app, model, codename, True,
                            user=username, faults=user_not_found(username))

    @exposed
    async def delete(self, username: Any, app: Any, model: Any, codename: Any) -> None:
        """Take a permission away from the user.  Needs ``auth.change_user``."""
        self.call.check_perm("auth.change_user")
        await self.call.run(accounts.thd_set_permission, app, model, codename, False,
                            user=username, faults=user_not_found(username))


class GroupsAPI(Namespace):
    name = "auth.groups"
    summary = "Groups of users (they carry permissions, and job visibility)."

    @exposed
    async def list(self) -> builtins.list[str]:
        """All group names, sorted.  Needs ``auth.view_group``."""
        self.call.check_perm("auth.view_group")
        return [g["name"] for g in await self.call.run(users.thd_list_groups)]

    @exposed
    async def show(self, name: Any) -> dict[str, Any]:
        """One group: ``{id, name, permissions ("app.model.codename"), users}``.
        Needs ``auth.view_group``."""
        self.call.check_perm("auth.view_group")
        return await self.call.run(accounts.thd_group_record, name)

    @exposed
    async def add(self, name: Any) -> None:
        """Create a group.  Needs ``auth.add_group``."""
        self.call.check_perm("auth.add_group")
        bad = (400, "Bad request: group already exists?")
        await self.call.run(users.thd_add_group, name, faults={Conflict: bad, Invalid: bad})

    @exposed
    async def delete(self, name: Any) -> None:
        """Remove a group.  Needs ``auth.change_group``."""
        self.call.check_perm("auth.change_group")
        await self.call.run(users.thd_delete_group, name, faults={
            NotFound: (404, "Bad request: group does not exists")})


class GroupsPermissionsAPI(Namespace):
    name = "auth.groups.perms"
    summary = "The global permissions given to one group."

    @exposed
    async def list(self, name: Any) -> builtins.list[dict[str, str]]:
        """The group's permissions: ``[{app, model, codename}]``.  Needs
        ``auth.view_group``."""
        self.call.check_perm("auth.view_group")
        return await self.call.run(accounts.thd_permissions, group=name)

    @exposed
    async def add(self, name: Any, app: Any, model: Any, codename: Any) -> None:
        """Give the group permission ``app``/``model``/``codename``.  Needs
        ``auth.change_group``."""
        self.call.check_perm("auth.change_group")
        await self.call.run(accounts.thd_set_permission, app, model, codename, True,
                            group=name)

    @exposed
    async def delete(self, name: Any, app: Any, model: Any, codename: Any) -> None:
        """Take a permission away from the group.  Needs ``auth.change_group``."""
        self.call.check_perm("auth.change_group")
        await self.call.run(accounts.thd_set_permission, app, model, codename, False,
                            group=name)
