"""User notifications: a job's ``notify:`` block delivered by email, IRC and callbacks.

- :mod:`lavad.notify.records`: the store side (criteria, plans, sent / not sent, the read API);
- :mod:`lavad.notify.compose`: messages and requests, composed without I/O;
- :mod:`lavad.notify.mail`, :mod:`lavad.notify.irc`, :mod:`lavad.notify.callbacks`: delivery;
- :mod:`lavad.notify.service`: :class:`NotificationService`, which ties them to the event bus.
"""

from lavad.notify.service import NotificationService

__all__ = ["NotificationService"]
