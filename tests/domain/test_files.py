"""LabFiles: device-type templates, device rendering and worker files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from lavad.errors import Invalid, NotFound
from lavad.files import SYSTEM_TEMPLATE_DIR, LabFiles, atomic_write

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "worker"
# Where scripts/ci-system-deps.sh unpacks LAVA 2023.01's templates from the lava-server .deb.
LAVA_TEMPLATES = "/opt/lava-server-templates" + SYSTEM_TEMPLATE_DIR


def lava_templates() -> str:
    if not os.path.isfile(os.path.join(LAVA_TEMPLATES, "ssh.jinja2")):
        pytest.fail("LAVA's device-type templates are missing from %s: run "
                    "scripts/ci-system-deps.sh as root (CI runs it)" % LAVA_TEMPLATES)
    return LAVA_TEMPLATES


def ssh_dictionary(port: int = 2222, identity: str = "/srv/key") -> str:
    text = (FIXTURES / "devices" / "ssh-local-01.jinja2").read_text()
    return text.replace("@SSH_PORT@", str(port)).replace("@SSH_IDENTITY_FILE@", identity)


@pytest.fixture
def files(tmp_path) -> LabFiles:
    """Overrides in data/device-types, then a second 'system' directory."""
    system = tmp_path / "system"
    system.mkdir()
    (system / "base.jinja2").write_text("{% block body %}{% endblock %}\n")
    (system / "plain.jinja2").write_text(
        "{% extends 'base.jinja2' %}\n{% block body %}\n"
        "device_type: plain\nport: {{ port|default(22) }}\nname: {{ scheduled_device_name }}\n"
        "{% endblock %}\n")
    return LabFiles(str(tmp_path / "data"), [str(tmp_path / "data" / "device-types"),
                                             str(system)])


def test_default_template_dirs(tmp_path):
    """Without template_dirs, the overrides in the data dir come before Debian's directory."""
    files = LabFiles(str(tmp_path))
    assert files.template_dirs == [str(tmp_path / "device-types"), SYSTEM_TEMPLATE_DIR]


def test_render_real_lava_ssh_template():
    """The fixture ssh dictionary renders with LAVA 2023.01's ssh.jinja2 into the device YAML."""
    files = LabFiles("/nonexistent-data", [lava_templates()])
    text = files.render_device(ssh_dictionary(2345, "/tmp/id_lava"), {}, "ssh-01", "ssh")
    device = yaml.safe_load(text)
    ssh = device["actions"]["deploy"]["methods"]["ssh"]
    assert ssh["host"] == "127.0.0.1"
    assert ssh["port"] == 2345
    assert ssh["user"] == "root"
    assert ssh["identity_file"] == "/tmp/id_lava"
    assert "schroot" not in (device["actions"]["boot"]["methods"] or {})
    assert "ssh" in device["actions"]["boot"]["methods"]
    assert "Compression=yes" in ssh["options"]


def test_render_job_context_reaches_lava_template():
    """Job context variables override template defaults (LAVA's ssh_user default)."""
    files = LabFiles("/nonexistent-data", [lava_templates()])
    dictionary = "{% extends 'ssh.jinja2' %}\n{% block schroot %}{% endblock schroot %}\n"
    device = yaml.safe_load(files.render_device(dictionary, {"ssh_user": "lava"}, "d", "ssh"))
    assert device["actions"]["deploy"]["methods"]["ssh"]["user"] == "lava"


def test_render_passes_context_and_scheduled_names(files):
    """Context variables and scheduled_device_name reach the device-type template."""
    text = files.render_device("{% extends 'plain.jinja2' %}", {"port": 2200}, "dev-1", "plain")
    assert yaml.safe_load(text) == {"device_type": "plain", "port": 2200, "name": "dev-1"}
    assert files.render_device("{% extends 'plain.jinja2' %}", None, "d", "plain") \
        .count("port: 22") == 1


def test_render_plain_yaml_dictionary(files):
    """A dictionary without Jinja2 syntax is sent as it is."""
    assert files.render_device("actions: {}\n", {}, "d", "t") == "actions: {}"


def test_render_missing_template(files):
    """A dictionary extending an unknown device type is Invalid, naming it and the dirs."""
    with pytest.raises(Invalid) as exc:
        files.render_device("{% extends 'nope.jinja2' %}", {}, "dev-1", "nope")
    assert "Device 'dev-1'" in exc.value.message
    assert "'nope.jinja2' was not found" in exc.value.message
    assert files.template_dirs[0] in exc.value.message


def test_render_syntax_error(files):
    """A Jinja2 syntax error in the dictionary is Invalid with the line number."""
    with pytest.raises(Invalid) as exc:
        files.render_device("{% extends 'plain.jinja2' %}\n{% set x = %}", {}, "dev-1", "plain")
    assert "syntax error in the device dictionary, line 2" in exc.value.message


def test_render_is_sandboxed(files):
    """The sandbox refuses access to Python internals from a dictionary."""
    with pytest.raises(Invalid) as exc:
        files.render_device("{{ ''.__class__.__mro__ }}", {}, "d", "t")
    assert "cannot be rendered" in exc.value.message


def test_render_empty_dictionary(files):
    """A device without a dictionary cannot be rendered."""
    with pytest.raises(Invalid, match="no device dictionary"):
        files.render_device("  \n", {}, "d", "t")


def test_get_template_first_dir_wins(files, tmp_path):
    """get_template reads the override first and falls back to the next directory."""
    assert "device_type: plain" in files.get_template("plain")
    files.set_template("plain", "override\n")
    assert files.get_template("plain") == "override\n"
    assert not files.template_is_default("plain")
    assert (tmp_path / "data" / "device-types" / "plain.jinja2").read_text() == "override\n"
    files.set_template("plain", "")
    assert "device_type: plain" in files.get_template("plain")
    assert files.template_is_default("plain")


def test_get_template_missing(files):
    """A missing template is NotFound with LAVA's message."""
    with pytest.raises(NotFound) as exc:
        files.get_template("nope")
    assert exc.value.message == "Device-type 'nope' template was not found."
    assert not files.has_template("nope")


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "", "a\0b"])
def test_template_name_validation(files, name):
    """Names with a path separator or a leading dot are refused by every template call."""
    for call in (lambda: files.get_template(name), lambda: files.set_template(name, "x"),
                 lambda: files.has_template(name)):
        with pytest.raises(Invalid) as exc:
            call()
        assert exc.value.message == "Invalid device-type '%s'" % name


def test_set_template_delete_missing_is_noop(files):
    """Deleting a template that has no override changes nothing."""
    files.set_template("absent", "")
    assert not files.has_template("absent")


def test_list_templates(files):
    """Templates of every directory, once each, sorted, without the suffix."""
    files.set_template("zzz", "x")
    files.set_template("plain", "y")
    assert files.list_templates() == ["base", "plain", "zzz"]


def test_list_templates_real_lava():
    """The unpacked lava-server package provides LAVA's 363 templates, base among them."""
    names = LabFiles("/nonexistent-data", [lava_templates()]).list_templates()
    assert "ssh" in names and "base" in names and "qemu" in names
    assert len(names) >= 300


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    """atomic_write replaces the file whole, creates the directory and leaves no temp file."""
    path = tmp_path / "sub" / "f.jinja2"
    atomic_write(str(path), "one")
    atomic_write(str(path), "two")
    assert path.read_text() == "two"
    assert os.listdir(tmp_path / "sub") == ["f.jinja2"]
    assert (path.stat().st_mode & 0o777) == 0o644


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    """When the rename fails the old content stays and the temp file is removed."""
    path = tmp_path / "f"
    path.write_text("old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        atomic_write(str(path), "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f"]


def test_set_template_write_error(tmp_path):
    """A template directory that cannot be created is Invalid with the reason."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    files = LabFiles(str(tmp_path), [str(blocker / "device-types")])
    with pytest.raises(Invalid) as exc:
        files.set_template("x", "text")
    assert exc.value.message.startswith("Unable to write device-type template: ")


# -- worker files ---------------------------------------------------------------------------
def test_worker_file_none(files):
    """No file anywhere: the empty string, and the worker uses the default."""
    for kind in ("dispatcher", "env", "env-dut"):
        assert files.worker_file("w1", kind) == ""
        assert files.worker_file_is_default("w1", kind)


def test_worker_file_global_fallbacks(files, tmp_path):
    """env and env-dut fall back to the instance-wide files; the worker's own wins."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "env.yaml").write_text("overrides: {A: '1'}\n")
    (data / "env.dut.yaml").write_text("legacy: true\n")
    assert files.worker_file("w1", "env") == "overrides: {A: '1'}\n"
    assert files.worker_file("w1", "env-dut") == "legacy: true\n"
    (data / "env-dut.yaml").write_text("new: true\n")
    assert files.worker_file("w1", "env-dut") == "new: true\n"
    files.set_worker_file("w1", "env", "purge: true\n")
    assert files.worker_file("w1", "env") == "purge: true\n"
    assert not files.worker_file_is_default("w1", "env")
    assert files.worker_file("w2", "env") == "overrides: {A: '1'}\n"
    assert (data / "dispatcher.d" / "w1" / "env.yaml").read_text() == "purge: true\n"
    files.set_worker_file("w1", "env", "")
    assert files.worker_file("w1", "env") == "overrides: {A: '1'}\n"


def test_worker_dispatcher_file_and_legacy_name(files, tmp_path):
    """dispatcher.yaml has no global fallback but reads the legacy dispatcher.d/<w>.yaml."""
    base = tmp_path / "data" / "dispatcher.d"
    base.mkdir(parents=True)
    (base / "w1.yaml").write_text("prefix: old-\n")
    assert files.worker_file("w1", "dispatcher") == "prefix: old-\n"
    files.set_worker_file("w1", "dispatcher", "prefix: new-\n")
    assert files.worker_file("w1", "dispatcher") == "prefix: new-\n"
    files.set_worker_file("w1", "dispatcher", "")
    assert files.worker_file("w1", "dispatcher") == ""
    assert not (base / "w1.yaml").exists()


def test_set_worker_file_checks_yaml(files):
    """Invalid YAML is refused with LAVA's message and nothing is written."""
    with pytest.raises(Invalid) as exc:
        files.set_worker_file("w1", "env", "a: [1\n")
    assert exc.value.message.startswith("Invalid YAML syntax in 'w1' config: ")
    assert files.worker_file("w1", "env") == ""


def test_worker_file_check_on_read(files, tmp_path):
    """With check=True a hand-edited broken file is Invalid; without, it is returned."""
    path = tmp_path / "data" / "dispatcher.d" / "w1"
    path.mkdir(parents=True)
    (path / "env-dut.yaml").write_text("a: [1\n")
    assert files.worker_file("w1", "env-dut") == "a: [1\n"
    with pytest.raises(Invalid, match="Invalid YAML syntax in 'w1' config"):
        files.worker_file("w1", "env-dut", check=True)


@pytest.mark.parametrize("hostname", ["a/b", "..", ".x", ""])
def test_worker_name_validation(files, hostname):
    """Worker names that are paths are refused."""
    with pytest.raises(Invalid, match="Invalid worker name"):
        files.worker_file(hostname, "env")
    with pytest.raises(Invalid, match="Invalid worker name"):
        files.set_worker_file(hostname, "env", "a: 1")


def test_worker_file_unknown_kind(files):
    """Only dispatcher, env and env-dut exist."""
    with pytest.raises(Invalid, match="Unknown worker file 'device'"):
        files.worker_file("w1", "device")
