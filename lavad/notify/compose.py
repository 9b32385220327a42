"""The messages, composed without I/O: email subject and body, the IRC line, callback requests.

Email and IRC text come from lavad's own Jinja2 templates
(``lavad/templates/notification_*.txt``) rendered in a sandboxed, autoescaping
environment, so values are HTML-escaped in the text as LAVA's are
(xmlrpc-events-notify.md 4.5, 4.6).  The data is what
:func:`lavad.notify.records.thd_plan` returns.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode


from lavad import dates
from lavad.notify.records import QUIET, STATUS_ONLY, VERBOSE
from lavad import TEMPLATE_DIR

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

EMAIL_TEMPLATE = "notification_email.txt"
IRC_TEMPLATE = "notification_irc.txt"
SUBJECT_DESCRIPTION = 200
PRIORITIES = {0: "Low", 50: "Medium", 100: "High"}
OUTCOMES = {"pass": "Test passed", "fail": "Test failed", "skip": "Test skipped"}
# What an HTTP client leaves unescaped in a URL (the rest is percent-encoded).
URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


# -- template filters --------------------------------------------------------------------------
def lava_time(value: str | None) -> str:
    """``YYYY-MM-DD HH:MM:SS (+0000 UTC)`` for a stored timestamp, "" for none."""
    if not value:
        return ""
    return dates.parse_stored(value).strftime("%Y-%m-%d %H:%M:%S (+0000 UTC)")


def duration(job: dict[str, Any]) -> str:
    """``H:MM:SS`` between start and end, or ``None``."""
    if not job.get("start_time") or not job.get("end_time"):
        return "None"
    delta = dates.parse_stored(job["end_time"]) - dates.parse_stored(job["start_time"])
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "None"
    return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def priority(value: int) -> str:
    return PRIORITIES.get(value, str(value))


def outcome(result: str) -> str:
    return OUTCOMES.get(result, "Unknown outcome")


def nonzero(measurement: str | None) -> bool:
    if measurement is None:
        return False
    try:
        return Decimal(str(measurement)) != 0
    except InvalidOperation:
        return False


def environment(template_dir: str = TEMPLATE_DIR) -> "SandboxedEnvironment":
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(template_dir), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True,
                               undefined=jinja2.ChainableUndefined)
    env.filters.update(lava_time=lava_time, duration=duration, priority=priority,
                       outcome=outcome, nonzero=nonzero)
    env.globals.update(VERBOSE=VERBOSE, QUIET=QUIET, STATUS_ONLY=STATUS_ONLY)
    return env


@functools.lru_cache(maxsize=1)
def _env() -> "SandboxedEnvironment":
    """The notification texts' environment, built at the first message (Jinja2 is
    imported then: a lab that notifies nobody never loads it)."""
    return environment()


# -- URLs ----------------------------------------------------------------------------------------
def url_prefix(site_domain: str, http_endpoint: str = "tcp:8000") -> str:
    """``http://<site domain>`` (LAVA always writes http); without a configured domain,
    ``localhost`` with the port of a ``tcp:PORT`` endpoint."""
    if site_domain:
        return "http://" + site_domain
    match = re.match(r"^tcp6?:(?:port=)?(\d+)", http_endpoint or "")
    if match and match.group(1) not in ("0", "80"):
        return "http://localhost:%s" % match.group(1)
    return "http://localhost"


# -- email ---------------------------------------------------------------------------------------
def email_subject(job: dict[str, Any]) -> str:
    description = " ".join(str(job.get("description") or "").split())
    return "LAVA notification for Test Job %s %s" % (job["id"],
                                                     description[:SUBJECT_DESCRIPTION])


def email_body(plan: dict[str, Any], user: dict[str, Any] | None, prefix: str) -> str:
    """The body for one recipient (``user`` None: a bare address)."""
    text = _env().get_template(EMAIL_TEMPLATE).render(
        job=plan["job"], user=user, url_prefix=prefix, verbosity=plan["verbosity"],
        lava_job_result=plan.get("lava_job_result"), results=plan.get("results") or [],
        blacklist=plan.get("blacklist") or [], compare=plan.get("compare"))
    return text.rstrip("\n")


def email_message(sender: str, to: str, subject: str, body: str) -> bytes:
    """The message as sent: plain text in UTF-8 with ``\\n`` line ends (the SMTP client
    sends them as ``\\r\\n``)."""
    from email.message import EmailMessage  # the email package's policies: at the first mail
    from email.policy import default as policy
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    longest = max((len(line.encode("utf-8")) for line in body.split("\n")), default=0)
    message.set_content(body, subtype="plain", charset="utf-8",
                        cte="8bit" if longest < 990 else "quoted-printable")
    return message.as_bytes(policy=policy)


# -- IRC -------------------------------------------------------------------------------------------
def irc_message(job: dict[str, Any], prefix: str) -> str:
    """The one line sent to IRC handles (verbosity and compare do not apply)."""
    text = _env().get_template(IRC_TEMPLATE).render(job=job, url_prefix=prefix)
    return " ".join(text.split())


# -- callbacks -------------------------------------------------------------------------------------
def request_url(url: str) -> str:
    """``url`` as an HTTP client sends it: characters outside URLs percent-encoded."""
    return quote(url, safe=URL_SAFE)


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def form_body(data: dict[str, Any]) -> bytes:
    """``application/x-www-form-urlencoded`` as python-requests encodes a dict: keys with
    null values dropped, booleans as ``True``/``False``, an iterable value repeats its key
    once per item (a mapping's items are its keys)."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            values = [value]
        else:
            values = list(value)
        for item in values:
            if item is None:
                continue
            if isinstance(item, dict):  # iterating a mapping gives its keys
                pairs.extend((key, _form_value(k)) for k in item)
                continue
            pairs.append((key, _form_value(item)))
    return urlencode(pairs).encode("ascii")
