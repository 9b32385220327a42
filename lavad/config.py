"""lavad's settings: defaults, a YAML file, the command line, checked all at once.

A configuration file may name an option by lavad's own key (``data_dir``,
``http``...) or by the key LAVA's ``settings.yml`` uses (``EVENT_TOPIC``,
``EMAIL_HOST``...), so a LAVA administrator's file carries over.  The command
line wins over the file, the file over the defaults.  Every problem found is
collected and reported in one :class:`ConfigError` paragraph, so an
administrator fixes them in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Callable

import yaml
from twisted.internet.endpoints import serverFromString


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is one paragraph naming every problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        count = len(self.errors)
        super().__init__("lavad cannot use this configuration (%d error%s): %s." % (
            count, "" if count == 1 else "s", "; ".join(self.errors)))


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its configuration."""

    data_dir: str = "./lavad-data"
    http: str = "tcp:8000"
    event_socket: str = "tcp://*:5500"
    events_enabled: bool = True
    event_topic: str = "org.lavasoftware"
    event_additional_sockets: tuple[str, ...] = ()
    events_include_restricted: bool = False
    email_host: str = "localhost"
    email_port: int = 25
    email_host_user: str = ""
    email_host_password: str = ""
    email_use_tls: bool = False
    email_use_ssl: bool = False
    email_timeout: float | None = None
    server_email: str = "root@localhost"
    log_size_limit: float = 5  # MiB, as LAVA's LOG_SIZE_LIMIT
    instance_name: str = "default"
    # Notifications: links in messages are http://<site_domain>/... ("" means
    # localhost and the HTTP endpoint's port); the IRC nick; TLS for IRC servers
    # given without a scheme; callback timeout (s) and allowed host patterns.
    site_domain: str = ""
    irc_nick: str = "lava-bot"
    irc_use_tls: bool = False
    callback_timeout: float = 5
    callback_allowed_hosts: tuple[str, ...] = ()


# -- value checks: each returns the value to store or raises ValueError ---------------
def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string, got %s" % _describe(value))
    return value


def _nonempty_str(value: Any) -> str:
    if not _str(value):
        raise ValueError("must not be empty")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false, got %s" % _describe(value))
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected a port number, got %s" % _describe(value))
    if not 0 < value < 65536:
        raise ValueError("%d is not a port number (1-65535)" % value)
    return value


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a number, got %s" % _describe(value))
    if value <= 0:
        raise ValueError("must be greater than 0, got %r" % value)
    return value


def _optional_timeout(value: Any) -> float | None:
    return None if value is None else _positive_number(value)


#: What the endpoint parsers are given for a reactor: they only keep it for listening,
#: which a check never does (twisted.internet.testing would pull in trial and unittest).
_UNUSED_REACTOR = object()


def _endpoint(value: Any) -> str:
    """A Twisted server endpoint string, parsed but never listened on."""
    _nonempty_str(value)
    try:
        serverFromString(_UNUSED_REACTOR, value)
    except Exception as exc:  # the parsers raise ValueError, TypeError, KeyError...
        raise ValueError("%r is not a Twisted endpoint such as tcp:8000 or "
                         "tcp:8000:interface=127.0.0.1 (%s: %s)"
                         % (value, type(exc).__name__, exc)) from None
    return value


_ZMQ_ADDRESS = re.compile(r"^(tcp|ipc|inproc|pgm|epgm|udp|ws|wss)://\S+$")


def _zmq_address(value: Any) -> str:
    if not _ZMQ_ADDRESS.match(_str(value)):
        raise ValueError("%r is not a ZMQ address such as tcp://*:5500" % value)
    return value


def _zmq_addresses(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError("expected a list of ZMQ addresses, got %s" % _describe(value))
    return tuple(_zmq_address(item) for item in value)


def _str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError("expected a list of strings, got %s" % _describe(value))
    return tuple(_str(item) for item in value)


_IRC_NICK = re.compile(r"^[A-Za-z\[\]\\`_^{|}][-A-Za-z0-9\[\]\\`_^{|}]{0,29}$")


def _irc_nick(value: Any) -> str:
    if not _IRC_NICK.match(_str(value)):
        raise ValueError("%r is not an IRC nickname" % value)
    return value


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping", type(None): "nothing"}.get(type(value),
                                                                       type(value).__name__)
    return "%s (%r)" % (kind, value)


# lavad key -> (LAVA settings.yml key or None, check)
OPTIONS: dict[str, tuple[str | None, Callable[[Any], Any]]] = {
    "data_dir": (None, _nonempty_str),
    "http": (None, _endpoint),
    "event_socket": ("EVENT_SOCKET", _zmq_address),
    "events_enabled": ("EVENT_NOTIFICATION", _bool),
    "event_topic": ("EVENT_TOPIC", _nonempty_str),
    "event_additional_sockets": ("EVENT_ADDITIONAL_SOCKETS", _zmq_addresses),
    "events_include_restricted": (None, _bool),
    "email_host": ("EMAIL_HOST", _str),
    "email_port": ("EMAIL_PORT", _port),
    "email_host_user": ("EMAIL_HOST_USER", _str),
    "email_host_password": ("EMAIL_HOST_PASSWORD", _str),
    "email_use_tls": ("EMAIL_USE_TLS", _bool),
    "email_use_ssl": ("EMAIL_USE_SSL", _bool),
    "email_timeout": ("EMAIL_TIMEOUT", _optional_timeout),
    "server_email": ("SERVER_EMAIL", _nonempty_str),
    "log_size_limit": ("LOG_SIZE_LIMIT", _positive_number),
    "instance_name": ("INSTANCE_NAME", _nonempty_str),
    "site_domain": (None, _str),
    "irc_nick": (None, _irc_nick),
    "irc_use_tls": (None, _bool),
    "callback_timeout": ("CALLBACK_TIMEOUT", _positive_number),
    "callback_allowed_hosts": ("CALLBACK_ALLOWED_HOSTS", _str_list),
}
LAVA_KEYS = {lava: name for name, (lava, _) in OPTIONS.items() if lava is not None}
assert set(OPTIONS) == {f.name for f in fields(Settings)}


def _option_name(key: Any) -> str | None:
    """The lavad key for a file key (lavad's own or LAVA's), or None."""
    if not isinstance(key, str):
        return None
    return key if key in OPTIONS else LAVA_KEYS.get(key)


# How the command line spells an option, for error messages.
_FLAGS = {"events_enabled": "--no-events"}


def _read_file(path: str, errors: list[str]) -> dict[str, tuple[Any, str]]:
    """The file's options as ``{lavad key: (value, where)}``; problems go to ``errors``."""
    try:
        with open(path, encoding="utf-8") as stream:
            content = yaml.safe_load(stream)
    except OSError as exc:
        errors.append("cannot read the configuration file %s (%s)" % (path, exc.strerror or exc))
        return {}
    except UnicodeDecodeError as exc:
        errors.append("the configuration file %s is not UTF-8 text (%s)" % (path, exc))
        return {}
    except yaml.YAMLError as exc:
        errors.append("the configuration file %s is not valid YAML (%s)"
                      % (path, " ".join(str(exc).split())))
        return {}
    if content is None:
        return {}
    if not isinstance(content, dict):
        errors.append("the configuration file %s must hold a mapping of keys to values, "
                      "not %s" % (path, _describe(content)))
        return {}
    found: dict[str, tuple[Any, str]] = {}
    for key, value in content.items():
        where = "%s in %s" % (key, path)
        name = _option_name(key)
        if name is None:
            errors.append("unknown key %r in %s" % (key, path))
        elif name in found:
            errors.append("%s and %s set the same option" % (found[name][1], where))
        else:
            found[name] = (value, where)
    return found


def load_settings(cli_overrides: dict[str, Any] | None = None,
                  config_path: str | None = None) -> Settings:
    """Defaults, then ``config_path`` (YAML), then ``cli_overrides`` (lavad keys).

    ``None`` values in ``cli_overrides`` mean "not given".  Raises
    :class:`ConfigError` listing every problem found.
    """
    errors: list[str] = []
    values: dict[str, tuple[Any, str]] = {}
    if config_path is not None:
        values.update(_read_file(config_path, errors))
    for name, value in (cli_overrides or {}).items():
        if value is None:
            continue
        if name not in OPTIONS:
            errors.append("unknown option %r" % name)
            continue
        values[name] = (value, _FLAGS.get(name, "--" + name.replace("_", "-")))
    checked: dict[str, Any] = {}
    for name, (value, where) in values.items():
        try:
            checked[name] = OPTIONS[name][1](value)
        except ValueError as exc:
            errors.append("%s: %s" % (where, exc))
    if checked.get("email_use_tls") and checked.get("email_use_ssl"):
        errors.append("email_use_tls (EMAIL_USE_TLS) and email_use_ssl (EMAIL_USE_SSL) "
                      "cannot both be true")
    if errors:
        raise ConfigError(errors)
    return Settings(**checked)
