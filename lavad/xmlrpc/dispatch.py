"""The XML-RPC method table and the dispatcher.

Each namespace (``system``, ``scheduler.devices``...) is a subclass of
:class:`Namespace`; the methods it exposes are marked with :func:`exposed`
and their docstrings are their help.  :class:`Registry` collects them into
the one table that ``system.listMethods``, ``system.methodHelp``,
``system.methodSignature`` and the ``/api/help/`` page read.

A namespace is instantiated for every call with the :class:`Call` (who is
calling, and the lab), as LAVA does, so an argument-count error names the
method exactly as LAVA's (``SchedulerDevicesAPI.show() missing 1 required
positional argument: 'hostname'``).

:func:`dispatch` runs one call and turns every outcome into a value or an
``xmlrpc.client.Fault``: domain errors (:mod:`lavad.errors`) keep their code
and message, anything else becomes fault -32603.
"""

from __future__ import annotations

import inspect
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from twisted.internet.defer import ensureDeferred, maybeDeferred
from twisted.logger import Logger

from lavad.errors import LavadError
from lavad.users import Principal

Fault = xmlrpc.client.Fault

# Fault codes (http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php and LAVA's).
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
AUTH_REQUIRED = 401
FORBIDDEN = 403

AUTH_REQUIRED_TEXT = "Authentication with user and token required for this API."
INTERNAL_TEXT = "Internal Server Error (contact server administrator for details): %s"

#: What V2 namespaces call an anonymous caller in their messages (Django's name).
ANONYMOUS_NAME = "AnonymousUser"

log = Logger(namespace="lavad.xmlrpc")


def internal_fault(exc: BaseException) -> Fault:
    return Fault(INTERNAL_ERROR, INTERNAL_TEXT % exc)


def exposed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a namespace method as callable over XML-RPC (its docstring is its help)."""
    fn.xmlrpc_exposed = True  # type: ignore[attr-defined]
    return fn


def signature(*types: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a method an introspection signature (return type first), reported by
    ``system.methodSignature`` instead of ``"undef"``."""
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.xmlrpc_signature = list(types)  # type: ignore[attr-defined]
        return fn
    return mark


class Call:
    """One XML-RPC call: the caller (a Principal, anonymous when ``id`` is None) and
    the environment (lab, files, settings, the registry)."""

    def __init__(self, env: Any, principal: Principal) -> None:
        self.env = env
        self.principal = principal

    @property
    def authenticated(self) -> bool:
        return self.principal.is_authenticated

    @property
    def username(self) -> str:
        """The caller as V2 namespaces name it in messages (``AnonymousUser`` when anonymous)."""
        return self.principal.username if self.authenticated else ANONYMOUS_NAME

    def authenticate(self) -> None:
        """Fault 401 unless the call carries a valid user token."""
        if not self.authenticated:
            raise Fault(AUTH_REQUIRED, AUTH_REQUIRED_TEXT)

    def check_perm(self, perm: str) -> None:
        """Authenticate, then require the global permission ``perm`` (``app.codename``)."""
        self.authenticate()
        if not self.principal.has_perm(perm):
            raise Fault(FORBIDDEN, "User '%s' is missing permission %s."
                        % (self.principal.username, perm))

    def check_staff(self) -> None:
        """Authenticate, then require a staff account."""
        self.authenticate()
        if not self.principal.is_staff:
            raise Fault(FORBIDDEN, "forbidden")

    async def run(self, fn: Callable[..., Any], *args: Any,
                  faults: dict[Any, tuple[int, str]] | None = None, **kwargs: Any) -> Any:
        """Run a domain ``thd_*`` function on the store thread.

        ``faults`` words domain errors the way this method's LAVA counterpart
        does: keys are an error class, or ``(class, model)`` to match only a
        :class:`~lavad.errors.NotFound` about that model; values are
        ``(code, text)``.  Other domain errors keep their own code and text.
        """
        try:
            return await self.env.lab.run(fn, *args, **kwargs)
        except LavadError as exc:
            for key, (code, text) in (faults or {}).items():
                cls, model = key if isinstance(key, tuple) else (key, None)
                if isinstance(exc, cls) and (model is None
                                             or getattr(exc, "model", None) == model):
                    raise Fault(code, text) from None
            raise


class Namespace:
    """A group of methods under one prefix, instantiated for each call."""

    #: The prefix (``scheduler.devices``).
    name: ClassVar[str] = ""
    #: One line describing the namespace on the help page.
    summary: ClassVar[str] = ""

    def __init__(self, call: Call) -> None:
        self.call = call

    @property
    def env(self) -> Any:
        return self.call.env


@dataclass(frozen=True)
class Method:
    """One row of the method table."""

    name: str                      # fully qualified: scheduler.devices.show
    namespace: type[Namespace]
    attr: str                      # the Python method name
    help: str
    signature: list[str] | str     # for system.methodSignature
    params: str                    # "(hostname, render=False, context=None)", for the help page

    def bind(self, call: Call) -> Callable[..., Any]:
        return getattr(self.namespace(call), self.attr)


def _params(fn: Callable[..., Any]) -> str:
    sig = inspect.signature(fn)
    parts = [str(p.replace(annotation=inspect.Parameter.empty))
             for name, p in sig.parameters.items() if name != "self"]
    return "(%s)" % ", ".join(parts)


class Registry:
    """The method table: every exposed method of the registered namespaces."""

    def __init__(self, namespaces: list[type[Namespace]] = ()) -> None:  # type: ignore[assignment]
        self._methods: dict[str, Method] = {}
        self._namespaces: list[type[Namespace]] = []
        for ns in namespaces:
            self.add(ns)

    def add(self, ns: type[Namespace]) -> None:
        self._namespaces.append(ns)
        for attr, fn in inspect.getmembers(ns, inspect.isfunction):
            if not getattr(fn, "xmlrpc_exposed", False) or attr.startswith("_"):
                continue
            name = "%s.%s" % (ns.name, attr)
            if name in self._methods:
                raise ValueError("XML-RPC method %s is registered twice" % name)
            self._methods[name] = Method(
                name=name, namespace=ns, attr=attr, help=inspect.getdoc(fn) or "",
                signature=getattr(fn, "xmlrpc_signature", "undef"), params=_params(fn))

    def lookup(self, name: Any) -> Method | None:
        return self._methods.get(name) if isinstance(name, str) else None

    def names(self) -> list[str]:
        return sorted(self._methods)

    def __len__(self) -> int:
        return len(self._methods)

    def __iter__(self) -> Iterator[Method]:
        return iter(self._methods[n] for n in self.names())

    def grouped(self) -> list[tuple[type[Namespace], list[Method]]]:
        """The namespaces (sorted by name) with their methods (sorted): for the help page."""
        out = []
        for ns in sorted(self._namespaces, key=lambda n: n.name):
            methods = [m for m in self if m.namespace is ns]
            out.append((ns, methods))
        return out


def _as_fault(exc: BaseException, method: str) -> Fault:
    if isinstance(exc, Fault):
        return exc
    if isinstance(exc, LavadError):
        translate = getattr(exc, "xmlrpc_fault", None)
        if callable(translate):
            code, text = translate()
            return Fault(code, text)
        return Fault(exc.code, exc.message)
    log.failure("XML-RPC method {method} failed", method=method)
    return internal_fault(exc)


async def dispatch(env: Any, principal: Principal, name: Any, params: Any) -> Any:
    """Call method ``name`` with ``params`` as ``principal``: its value, or raises a Fault."""
    method = env.registry.lookup(name)
    if method is None:
        if name == "close":
            return None
        raise Fault(METHOD_NOT_FOUND, "No such method: %r" % (name,))
    call = Call(env, principal)
    try:
        fn = method.bind(call)
        result = await maybeDeferred(_invoke, fn, tuple(params))
    except Exception as exc:  # noqa: BLE001 - every error becomes a fault
        raise _as_fault(exc, method.name) from None
    return result


def _invoke(fn: Callable[..., Any], params: tuple[Any, ...]) -> Any:
    result = fn(*params)
    if inspect.iscoroutine(result):
        return ensureDeferred(result)
    return result
