"""lavad.tap: twistd's options for lavad and the service they build."""

from __future__ import annotations

import ast
import pathlib
import signal

import pytest
from twisted.application.service import IService, MultiService
from twisted.internet.testing import MemoryReactor
from twisted.python import usage

import lavad
from lavad.config import Settings
from lavad.service import LavadService
from lavad.tap import STARTUP_FAILURE_SIGNAL, Options, _ExitStatus, makeService


def parse(*argv):
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_defaults():
    """Without options, the settings are the defaults."""
    assert parse().settings == Settings()


def test_options():
    """--data-dir, --http, --event-socket and --no-events set their options."""
    settings = parse("--data-dir", "/srv/lab", "--http", "tcp:0:interface=127.0.0.1",
                     "--event-socket", "tcp://*:6000", "--no-events").settings
    assert settings.data_dir == "/srv/lab"
    assert settings.http == "tcp:0:interface=127.0.0.1"
    assert settings.event_socket == "tcp://*:6000"
    assert settings.events_enabled is False


def test_command_line_wins_over_config_file(tmp_path):
    """--config values apply unless the command line gives the same option."""
    config = tmp_path / "lavad.yml"
    config.write_text("data_dir: /from/file\nhttp: tcp:9000\nEVENT_TOPIC: org.example\n"
                      "EVENT_NOTIFICATION: true\n")
    settings = parse("--config", str(config), "--http", "tcp:9001", "--no-events").settings
    assert settings.data_dir == "/from/file"
    assert settings.http == "tcp:9001"
    assert settings.event_topic == "org.example"
    assert settings.events_enabled is False


def test_errors_are_one_usage_error(tmp_path):
    """Every configuration problem comes back as one UsageError paragraph."""
    config = tmp_path / "lavad.yml"
    config.write_text("SECRET_KEY: x\n")
    with pytest.raises(usage.UsageError) as info:
        parse("--config", str(config), "--http", "nope:1", "--event-socket", "5500")
    message = str(info.value)
    assert message.startswith("lavad cannot use this configuration (3 errors): ")
    assert "'SECRET_KEY'" in message and "--http" in message and "--event-socket" in message
    assert "\n" not in message


def test_unknown_option_is_refused():
    """An option lavad does not have is a usage error."""
    with pytest.raises(usage.UsageError):
        parse("--port", "8000")


def test_make_service_builds_without_starting(tmp_path):
    """makeService returns a MultiService, not started, that has touched nothing yet."""
    options = parse("--data-dir", str(tmp_path / "data"), "--http", "tcp:0")
    service = makeService(options)
    assert isinstance(service, MultiService)
    assert isinstance(service, LavadService)
    assert IService.providedBy(service)
    assert not service.running
    assert service.settings is options.settings
    assert (service.store, service.lab, service.port) == (None, None, None)
    assert not (tmp_path / "data").exists()


def test_failed_start_up_is_reported_as_exit_signal():
    """After a failed start-up the reactor is told to end the process by the failure signal."""
    reactor = MemoryReactor()
    lavad_service = LavadService(Settings(), reactor)
    reporter = _ExitStatus(lavad_service, reactor)
    reporter.startService()
    [(trigger, args, kwargs)] = reactor.triggers["after"]["shutdown"]
    trigger(*args, **kwargs)
    assert getattr(reactor, "_exitSignal", None) is None
    lavad_service.exit_status = 1
    trigger(*args, **kwargs)
    assert reactor._exitSignal == STARTUP_FAILURE_SIGNAL
    assert STARTUP_FAILURE_SIGNAL not in (signal.SIGTERM, signal.SIGINT)


def test_only_tap_imports_the_global_reactor():
    """No module of lavad but lavad/tap.py imports the global reactor."""
    root = pathlib.Path(lavad.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).as_posix() == "tap.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "twisted.internet" and \
                    any(alias.name == "reactor" for alias in node.names):
                offenders.append(str(path))
            elif isinstance(node, ast.Import) and any(
                    alias.name == "twisted.internet.reactor" for alias in node.names):
                offenders.append(str(path))
    assert offenders == []
