"""Sending one email through the relay of the settings (``EMAIL_*``, ``SERVER_EMAIL``).

As LAVA's transport does: ``EMAIL_HOST``:``EMAIL_PORT``, ``STARTTLS`` when
``EMAIL_USE_TLS``, TLS from the first byte when ``EMAIL_USE_SSL``, login when
``EMAIL_HOST_USER`` and ``EMAIL_HOST_PASSWORD`` are set.  ``EMAIL_TIMEOUT``
bounds the connection and each step; the whole exchange is bounded too, so a
relay that stops answering never keeps a delivery waiting for ever.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from twisted.internet.defer import Deferred
from twisted.mail.smtp import ESMTPSenderFactory

from lavad.config import Settings

DEFAULT_TIMEOUT = 60.0  # when EMAIL_TIMEOUT is unset


class MailRefused(Exception):
    """The relay accepted no recipient."""


def send_email(reactor: Any, settings: Settings, to: str, message: bytes) -> Deferred:
    """Send ``message`` (bytes, headers included) to ``to``; fires None once the relay
    took it, fails otherwise.  Cancelling the Deferred drops the connection."""
    timeout = float(settings.email_timeout or DEFAULT_TIMEOUT)
    host, port = settings.email_host, settings.email_port
    username = settings.email_host_user.encode("utf-8") or None
    password = settings.email_host_password.encode("utf-8") or None
    context = None
    if settings.email_use_tls or settings.email_use_ssl:
        from twisted.internet.ssl import optionsForClientTLS
        context = optionsForClientTLS(host)
    connector: Any = None

    def cancel(_: Deferred) -> None:
        factory.sendFinished = True
        if factory.currentProtocol is not None and factory.currentProtocol.transport:
            factory.currentProtocol.transport.abortConnection()
        elif connector is not None:
            connector.disconnect()

    sent: Deferred = Deferred(cancel)
    factory = ESMTPSenderFactory(
        username, password, settings.server_email, [to], BytesIO(message), sent,
        retries=0, timeout=timeout,
        # STARTTLS only when asked for (a relay's self-signed certificate must not stop
        # plain delivery); implicit TLS is set up on the connection instead.
        contextFactory=context if settings.email_use_tls else None,
        heloFallback=True, requireAuthentication=bool(username and password),
        requireTransportSecurity=settings.email_use_tls)
    if settings.email_use_ssl:
        connector = reactor.connectSSL(host, port, factory, context, timeout=timeout)
    else:
        connector = reactor.connectTCP(host, port, factory, timeout=timeout)
    sent.addTimeout(timeout * 3, reactor)

    def accepted(result: Any) -> None:
        count, _addresses = result
        if not count:
            raise MailRefused("the relay %s:%d refused %s" % (host, port, to))
    return sent.addCallback(accepted)
