"""lavad.config: defaults, the YAML file (lavad and LAVA keys), the command line, errors."""

from __future__ import annotations

import dataclasses

import pytest

from lavad.config import ConfigError, Settings, load_settings


def write(tmp_path, text: str) -> str:
    path = tmp_path / "lavad.yml"
    path.write_text(text)
    return str(path)


def errors_of(overrides=None, path=None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides or {}, path)
    return info.value


def test_defaults():
    """Without a file or options, the documented defaults apply."""
    settings = load_settings({}, None)
    assert settings == Settings()
    assert settings.data_dir == "./lavad-data"
    assert settings.http == "tcp:8000"
    assert settings.event_socket == "tcp://*:5500"
    assert settings.events_enabled is True
    assert settings.event_topic == "org.lavasoftware"
    assert settings.event_additional_sockets == ()
    assert settings.log_size_limit == 5
    assert settings.events_include_restricted is False


def test_settings_are_frozen():
    """Settings cannot be changed once loaded."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings({}, None).http = "tcp:1"  # type: ignore[misc]


def test_file_with_lavad_keys(tmp_path):
    """A file sets options by lavad's own key names."""
    path = write(tmp_path, "data_dir: /srv/lavad\nhttp: tcp:9000:interface=127.0.0.1\n"
                           "events_include_restricted: true\ninstance_name: lab1\n")
    settings = load_settings({}, path)
    assert settings.data_dir == "/srv/lavad"
    assert settings.http == "tcp:9000:interface=127.0.0.1"
    assert settings.events_include_restricted is True
    assert settings.instance_name == "lab1"


def test_file_with_lava_keys(tmp_path):
    """The keys of LAVA's settings.yml map onto lavad's options."""
    path = write(tmp_path, """
EVENT_NOTIFICATION: false
EVENT_TOPIC: org.example
EVENT_SOCKET: tcp://*:5555
EVENT_ADDITIONAL_SOCKETS: ["tcp://relay:5500", "ipc:///run/lava.sock"]
EMAIL_HOST: smtp.example.com
EMAIL_PORT: 587
EMAIL_HOST_USER: lava
EMAIL_HOST_PASSWORD: secret
EMAIL_USE_TLS: true
EMAIL_USE_SSL: false
EMAIL_TIMEOUT: 10
SERVER_EMAIL: lava@example.com
LOG_SIZE_LIMIT: 12
INSTANCE_NAME: staging
""")
    settings = load_settings({}, path)
    assert settings.events_enabled is False
    assert settings.event_topic == "org.example"
    assert settings.event_socket == "tcp://*:5555"
    assert settings.event_additional_sockets == ("tcp://relay:5500", "ipc:///run/lava.sock")
    assert (settings.email_host, settings.email_port) == ("smtp.example.com", 587)
    assert (settings.email_host_user, settings.email_host_password) == ("lava", "secret")
    assert (settings.email_use_tls, settings.email_use_ssl) == (True, False)
    assert settings.email_timeout == 10
    assert settings.server_email == "lava@example.com"
    assert settings.log_size_limit == 12
    assert settings.instance_name == "staging"


def test_command_line_wins_over_file(tmp_path):
    """Command-line values override the file; options not given keep the file's value."""
    path = write(tmp_path, "data_dir: /from/file\nhttp: tcp:9000\nEVENT_TOPIC: from.file\n")
    settings = load_settings({"data_dir": "/from/cli", "http": None,
                              "events_enabled": False}, path)
    assert settings.data_dir == "/from/cli"
    assert settings.http == "tcp:9000"
    assert settings.event_topic == "from.file"
    assert settings.events_enabled is False


def test_empty_file(tmp_path):
    """An empty file means the defaults."""
    assert load_settings({}, write(tmp_path, "")) == Settings()


def test_unknown_key_is_named(tmp_path):
    """An unknown key is an error that names the key and the file."""
    path = write(tmp_path, "ALLOWED_HOSTS: ['*']\nhttp: tcp:8001\n")
    error = errors_of(path=path)
    assert error.errors == ["unknown key 'ALLOWED_HOSTS' in %s" % path]
    assert "ALLOWED_HOSTS" in str(error)


def test_both_spellings_of_one_option(tmp_path):
    """Setting one option by its lavad and its LAVA name is an error."""
    path = write(tmp_path, "event_topic: a\nEVENT_TOPIC: b\n")
    assert "set the same option" in str(errors_of(path=path))


@pytest.mark.parametrize("text, words", [
    ("EMAIL_PORT: '25'", "EMAIL_PORT in"),
    ("EMAIL_PORT: 70000", "not a port number"),
    ("EVENT_NOTIFICATION: 'yes'", "expected true or false"),
    ("LOG_SIZE_LIMIT: 0", "greater than 0"),
    ("LOG_SIZE_LIMIT: true", "expected a number"),
    ("EVENT_ADDITIONAL_SOCKETS: tcp://x:1", "expected a list"),
    ("EVENT_ADDITIONAL_SOCKETS: [5500]", "expected a string"),
    ("EVENT_SOCKET: localhost:5500", "not a ZMQ address"),
    ("data_dir: ''", "must not be empty"),
    ("http: 'bogus:1'", "not a Twisted endpoint"),
    ("http: 'tcp:port'", "not a Twisted endpoint"),
    ("EMAIL_USE_TLS: true\nEMAIL_USE_SSL: true", "cannot both be true"),
])
def test_wrong_values(tmp_path, text, words):
    """Values of the wrong type or form are reported with the key and the reason."""
    assert words in str(errors_of(path=write(tmp_path, text + "\n")))


def test_unreadable_file(tmp_path):
    """A missing configuration file is reported."""
    error = errors_of(path=str(tmp_path / "missing.yml"))
    assert "cannot read the configuration file" in str(error)
    assert "missing.yml" in str(error)


def test_invalid_yaml(tmp_path):
    """A file that is not YAML is reported with where the parser stopped."""
    error = errors_of(path=write(tmp_path, "http: [tcp:1\n"))
    assert "is not valid YAML" in str(error)
    assert "line" in str(error)


def test_not_a_mapping(tmp_path):
    """A YAML file that is not a mapping is reported."""
    assert "must hold a mapping" in str(errors_of(path=write(tmp_path, "- a\n- b\n")))


def test_bad_command_line_values_name_the_option():
    """Errors in command-line values name the option as it is typed."""
    error = errors_of({"http": "tcp:nope", "event_socket": "nowhere"})
    assert any(e.startswith("--http: ") for e in error.errors)
    assert any(e.startswith("--event-socket: ") for e in error.errors)


def test_every_error_in_one_paragraph(tmp_path):
    """All problems of the file and the command line come in one one-paragraph message."""
    path = write(tmp_path, "NOPE: 1\nEMAIL_PORT: x\nLOG_SIZE_LIMIT: -1\n")
    error = errors_of({"http": "tcp:abc", "data_dir": ""}, path)
    assert len(error.errors) == 5
    message = str(error)
    assert message.startswith("lavad cannot use this configuration (5 errors): ")
    assert "\n" not in message
    for expected in ("'NOPE'", "EMAIL_PORT in", "LOG_SIZE_LIMIT in", "--http", "--data-dir"):
        assert expected in message
