"""Domain errors.  Adapters map them to their wire form (HTTP status, XML-RPC fault)."""

from __future__ import annotations


class LavadError(Exception):
    """Base of the errors the internal API raises on purpose; ``message`` is user-facing."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(LavadError):
    """Bad input: the request names something impossible or is malformed."""

    code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(Invalid):
    """The object already exists (duplicate name, hostname...)."""


class Duplicate(Conflict):
    """Another object already has this name (the key given in ``field``)."""


class NotAuthenticated(LavadError):
    """The operation needs a user and the caller is anonymous (or the token is bad)."""

    code = 401


class PermissionDenied(LavadError):
    """The caller is known but not allowed."""

    code = 403


class NotFound(LavadError):
    """No such object, or one the caller may not see (the two are indistinguishable)."""

    code = 404

    def __init__(self, message: str, model: str | None = None, key: object = None) -> None:
        super().__init__(message)
        self.model = model
        self.key = key  # the missing object's key (a name, hostname or id), when known
