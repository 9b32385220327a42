"""REST authentication: the ``Authorization: Token <secret>`` header and the token endpoint.

Any other scheme (``Basic``, ``Bearer``) leaves the request anonymous; a
malformed or unknown token fails the request with 403 even where anonymous
callers are allowed, with DRF's messages (spec 1.6).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lavad import users
from lavad.http.rest.wire import HttpError, detail
from lavad.store.tx import Tx
from lavad.users import ANONYMOUS, Principal

NO_CREDENTIALS = "Invalid token header. No credentials provided."
SPACES = "Invalid token header. Token string should not contain spaces."
BAD_CHARACTERS = "Invalid token header. Token string should not contain invalid characters."
INVALID = "Invalid token."
INACTIVE = "User inactive or deleted."
BAD_LOGIN = "Unable to log in with provided credentials."


def token_from_header(header: bytes | None) -> str | None:
    """The secret of a ``Token`` Authorization header; None for no header or another scheme."""
    if not header:
        return None
    parts = header.split()
    if not parts or parts[0].lower() != b"token":
        return None
    if len(parts) == 1:
        raise detail(403, NO_CREDENTIALS)
    if len(parts) > 2:
        raise detail(403, SPACES)
    try:
        return parts[1].decode("utf-8")
    except UnicodeDecodeError:
        raise detail(403, BAD_CHARACTERS) from None


thd_token_principal = users.thd_token_principal


def principal_or_refusal(found: Principal | str) -> Principal:
    """What :func:`thd_token_principal` found, or the 403 DRF answers for it."""
    if found == "inactive":
        raise detail(403, INACTIVE)
    if not isinstance(found, Principal):
        raise detail(403, INVALID)
    return found


async def authenticate(lab: Any, header: bytes | None) -> Principal:
    secret = token_from_header(header)
    if secret is None:
        return ANONYMOUS
    return principal_or_refusal(await lab.run(thd_token_principal, secret))


def thd_as_token(tx: Tx, secret: str, fn: Callable[..., Any],
                 *args: Any) -> tuple[Principal | str, Any]:
    """``(principal, fn(tx, principal, *args))`` for the owner of token ``secret``, in one
    transaction (a read then needs one store call, not two); ``(refusal, None)``
    without calling ``fn`` when the token does not authenticate."""
    found = thd_token_principal(tx, secret)
    if not isinstance(found, Principal):
        return found, None
    return found, fn(tx, found, *args)


def thd_obtain_token(tx: Tx, username: str, password: str) -> str | None:
    """The token endpoint: the user's first token (or a new one), None for bad credentials."""
    principal = users.thd_authenticate_password(tx, username, password)
    if principal is None or principal.id is None:
        return None
    return users.thd_first_or_new_token(tx, principal.id)


def credentials(data: Mapping[str, Any]) -> tuple[str, str]:
    """``username`` and ``password`` from a request body, or the 400 DRF answers."""
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    for name in ("username", "password"):
        value = data.get(name)
        if isinstance(value, list):
            value = value[-1] if value else None
        if value is None:
            errors[name] = ["This field is required."]
        elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
            errors[name] = ["Not a valid string."]
        elif str(value) == "":
            errors[name] = ["This field may not be blank."]
        else:
            values[name] = str(value)
    if errors:
        raise HttpError(400, errors)
    return values["username"], values["password"]
