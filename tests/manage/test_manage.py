"""``lavad manage``: each sub-command, its errors, and what it leaves in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from lavad import __version__, devices, users
from lavad.cli import main
from lavad.store.schema import open_database
from lavad.store.tx import SyncStore

PROG_ERROR = "lavad manage: error: "


class Result:
    def __init__(self, rc: int, out: str, err: str) -> None:
        self.rc, self.out, self.err = rc, out, err

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def data(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def manage(data_dir: Path, capsys: Any) -> Callable[..., Result]:
    """``lavad manage --data-dir <tmp> ARGS...`` in this process."""
    def run(*argv: str) -> Result:
        capsys.readouterr()
        rc = main(["manage", "--data-dir", str(data_dir), *argv])
        out, err = capsys.readouterr()
        return Result(rc, out, err)
    return run


@pytest.fixture
def ok(manage: Callable[..., Result]) -> Callable[..., Result]:
    """Like ``manage`` but the command must succeed silently on stderr."""
    def run(*argv: str) -> Result:
        result = manage(*argv)
        assert (result.rc, result.err) == (0, ""), result.err
        return result
    return run


def fails(result: Result, *fragments: str) -> None:
    """One error line on stderr naming ``fragments``, exit status 1, no traceback."""
    assert result.rc == 1
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(PROG_ERROR)
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def db(data_dir: Path) -> Any:
    """The domain functions on the database manage wrote (opened after the commands ran)."""
    stores: list[SyncStore] = []

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not stores:
            stores.append(SyncStore(open_database(str(data_dir / "lavad.sqlite3"))))
        return stores[0].run(fn, *args, **kwargs)
    yield run
    for store in stores:
        store.close()


def outbox(data_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    conn = open_database(str(data_dir / "lavad.sqlite3"))
    try:
        return [(kind, json.loads(payload)["data"]) for kind, payload in
                conn.execute("SELECT kind, payload FROM event_outbox ORDER BY id")]
    finally:
        conn.close()


@pytest.fixture
def lab(ok: Callable[..., Result], tmp_path: Path) -> Path:
    """A device type, a worker and a tag; returns a valid device dictionary file."""
    ok("device-types", "add", "qemu")
    ok("workers", "add", "worker01")
    ok("tags", "add", "usb")
    path = tmp_path / "qemu01.jinja2"
    path.write_text("{% extends 'qemu.jinja2' %}\n{% set memory = 512 %}\n")
    return path


# -- the command itself ---------------------------------------------------------------------------
def test_version(capsys: Any) -> None:
    """``lavad --version`` prints the lavad version and exits 0."""
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("lavad %s" % __version__)


def test_usage_error_exits_2(manage: Callable[..., Result], capsys: Any) -> None:
    """An unknown option is an argparse usage error: exit status 2."""
    with pytest.raises(SystemExit) as exc:
        main(["manage", "users", "add", "bob", "--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_missing_subcommand_exits_2(capsys: Any) -> None:
    """``lavad manage`` without a command is a usage error."""
    with pytest.raises(SystemExit) as exc:
        main(["manage"])
    assert exc.value.code == 2


def test_creates_data_dir(manage: Callable[..., Result], data_dir: Path) -> None:
    """A missing data directory is created along with the database, as the server does."""
    assert not data_dir.exists()
    assert manage("users", "list").rc == 0
    assert (data_dir / "lavad.sqlite3").is_file()


def test_global_options_after_the_action(tmp_path: Path, capsys: Any) -> None:
    """``--data-dir`` is also accepted after the sub-command, where admins often type it."""
    target = tmp_path / "late"
    assert main(["manage", "users", "add", "alice", "--data-dir", str(target)]) == 0
    assert (target / "lavad.sqlite3").is_file()


def test_data_dir_from_config(tmp_path: Path, capsys: Any) -> None:
    """The data directory comes from ``--config`` when the command line does not name one."""
    target = tmp_path / "from-config"
    config = tmp_path / "lavad.yaml"
    config.write_text("data_dir: %s\n" % target)
    assert main(["manage", "--config", str(config), "users", "add", "alice"]) == 0
    assert (target / "lavad.sqlite3").is_file()


def test_command_line_beats_config(tmp_path: Path, capsys: Any) -> None:
    """``--data-dir`` wins over the config file's data_dir, as for the server."""
    config = tmp_path / "lavad.yaml"
    config.write_text("data_dir: %s\n" % (tmp_path / "from-config"))
    cli_dir = tmp_path / "from-cli"
    assert main(["manage", "--config", str(config), "--data-dir", str(cli_dir),
                 "users", "add", "alice"]) == 0
    assert (cli_dir / "lavad.sqlite3").is_file()
    assert not (tmp_path / "from-config").exists()


def test_bad_config_is_one_line(tmp_path: Path, capsys: Any) -> None:
    """A missing config file is one error line naming it, exit status 1."""
    rc = main(["manage", "--config", str(tmp_path / "nope.yaml"), "users", "list"])
    err = capsys.readouterr().err
    assert rc == 1
    assert len(err.splitlines()) == 1
    assert err.startswith(PROG_ERROR) and "nope.yaml" in err


def test_unusable_data_dir(tmp_path: Path, capsys: Any) -> None:
    """A data directory that cannot be created is one error line naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rc = main(["manage", "--data-dir", str(blocker / "sub"), "users", "list"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith(PROG_ERROR) and str(blocker / "sub") in err


def test_runs_as_a_program(tmp_path: Path) -> None:
    """``python -m lavad.cli manage`` works as a separate process (the console script's code)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    data = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "lavad.cli", "manage", "--data-dir", data,
                           "users", "add", "admin", "--superuser"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("* admin ")
    done = subprocess.run([sys.executable, "-m", "lavad", "manage", "--data-dir", data,
                           "tokens", "add", "--user", "nobody"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert done.stderr == PROG_ERROR + "User 'nobody' was not found.\n"


# -- users ----------------------------------------------------------------------------------------
def test_users_add_and_list(ok: Callable[..., Result], db: Any) -> None:
    """``users add`` stores the flags and password; ``users list`` prints one line per user."""
    ok("users", "add", "admin", "--passwd", "s3cret", "--email", "admin@example.com",
       "--first-name", "Ada", "--last-name", "Admin", "--superuser", "--staff",
       "--irc-handle", "ada", "--irc-server", "irc.example.com")
    ok("users", "add", "bob", "--inactive")
    result = ok("users", "list")
    assert [line.split()[:2] for line in result.lines] == [["*", "admin"], ["*", "bob"]]
    assert "is_superuser=true" in result.lines[0]
    admin = db(users.thd_get_user, "admin")
    assert (admin["email"], admin["first_name"], admin["last_name"], admin["is_superuser"],
            admin["is_staff"], admin["is_active"], admin["irc_handle"],
            admin["irc_server"]) == ("admin@example.com", "Ada", "Admin", True, True, True,
                                     "ada", "irc.example.com")
    assert db(users.thd_authenticate_password, "admin", "s3cret") is not None
    assert db(users.thd_get_user, "bob")["is_active"] is False


def test_users_list_formats(ok: Callable[..., Result]) -> None:
    """``--format json`` and ``--format yaml`` print the same records, machine-readable."""
    ok("users", "add", "admin", "--email", "a@example.com")
    as_json = ok("users", "list", "--format", "json").data()
    as_yaml = yaml.safe_load(ok("users", "list", "--format", "yaml").out)
    assert as_json == as_yaml
    assert [(u["username"], u["email"]) for u in as_json] == [("admin", "a@example.com")]
    assert "password" not in as_json[0]


def test_users_update(ok: Callable[..., Result], db: Any) -> None:
    """``users update`` toggles flags both ways and changes the password and profile."""
    ok("users", "add", "carol", "--superuser")
    ok("users", "update", "carol", "--no-superuser", "--staff", "--inactive",
       "--passwd", "newpw", "--email", "c@example.com")
    carol = db(users.thd_get_user, "carol")
    assert (carol["is_superuser"], carol["is_staff"], carol["is_active"], carol["email"]) == \
        (False, True, False, "c@example.com")
    ok("users", "update", "carol", "--active", "--superuser", "--no-staff")
    carol = db(users.thd_get_user, "carol")
    assert (carol["is_superuser"], carol["is_staff"], carol["is_active"]) == (True, False, True)
    assert db(users.thd_authenticate_password, "carol", "newpw") is not None


def test_users_show(ok: Callable[..., Result]) -> None:
    """``users show`` prints one user with its groups and global permissions."""
    ok("users", "add", "dave")
    ok("groups", "add", "lab", "--member", "dave")
    ok("permissions", "grant", "--user", "dave", "lava_scheduler_app.add_device")
    record = ok("users", "show", "dave", "--format", "json").data()
    assert record["groups"] == ["lab"]
    assert record["permissions"] == ["lava_scheduler_app.add_device"]
    assert ok("users", "show", "dave").out.startswith("* dave ")


def test_users_errors(ok: Callable[..., Result], manage: Callable[..., Result]) -> None:
    """Duplicate, invalid and unknown usernames are one-line errors."""
    ok("users", "add", "erin")
    fails(manage("users", "add", "erin"), "already exists")
    fails(manage("users", "add", "bad name"), "valid username")
    fails(manage("users", "update", "nobody", "--staff"), "nobody", "not found")
    fails(manage("users", "show", "nobody"), "nobody")


# -- groups ---------------------------------------------------------------------------------------
def test_groups(ok: Callable[..., Result], manage: Callable[..., Result], db: Any) -> None:
    """``groups add/update/list`` manage members (comma list or repeated) and renames."""
    for name in ("u1", "u2", "u3"):
        ok("users", "add", name)
    ok("groups", "add", "lab", "--members", "u1,u2", "--member", "u3")
    assert db(users.thd_get_group, "lab")["members"] == ["u1", "u2", "u3"]
    ok("groups", "update", "lab", "--remove-member", "u1", "--remove-member", "u2",
       "--rename", "lab2")
    assert db(users.thd_get_group, "lab2")["members"] == ["u3"]
    ok("groups", "update", "lab2", "--add-member", "u1")
    assert db(users.thd_get_group, "lab2")["members"] == ["u1", "u3"]
    assert ok("groups", "list").lines == ["* lab2 id=1 members=u1,u3"]


def test_groups_errors(ok: Callable[..., Result], manage: Callable[..., Result],
                       db: Any) -> None:
    """A duplicate group or an unknown member is one error line and changes nothing."""
    ok("groups", "add", "lab")
    fails(manage("groups", "add", "lab"), "lab", "already exists")
    fails(manage("groups", "add", "other", "--members", "ghost"), "ghost")
    fails(manage("groups", "update", "lab", "--add-member", "ghost"), "ghost")
    fails(manage("groups", "update", "nolab", "--rename", "x"), "nolab")
    assert [g["name"] for g in db(users.thd_list_groups)] == ["lab"]


# -- tokens ---------------------------------------------------------------------------------------
def test_tokens(ok: Callable[..., Result], db: Any) -> None:
    """``tokens add`` prints the secret; ``list`` shows 8 characters of it unless asked."""
    ok("users", "add", "admin")
    ok("users", "add", "bob")
    secret = ok("tokens", "add", "--user", "admin", "--description", "lavacli").out.strip()
    assert len(secret) == 128
    ok("tokens", "add", "--user", "bob", "--secret", "bobsecret123")
    assert db(users.thd_authenticate_token, secret).username == "admin"
    lines = ok("tokens", "list").lines
    assert len(lines) == 2
    assert lines[0].startswith("* 1 user=admin description=lavacli created=")
    assert lines[0].endswith("secret=%s…" % secret[:8])
    assert secret not in ok("tokens", "list").out
    assert secret in ok("tokens", "list", "--show-secrets").out
    only_bob = ok("tokens", "list", "--user", "bob", "--format", "json").data()
    assert [(t["user"], t["secret"]) for t in only_bob] == [("bob", "bobsecre…")]
    ok("tokens", "rm", "1")
    assert [t["username"] for t in db(users.thd_list_tokens)] == ["bob"]


def test_tokens_errors(ok: Callable[..., Result], manage: Callable[..., Result]) -> None:
    """An unknown user, a reused secret or a missing token id are one-line errors."""
    fails(manage("tokens", "add", "--user", "nobody"), "User 'nobody' was not found.")
    ok("users", "add", "admin")
    ok("users", "add", "bob")
    ok("tokens", "add", "--user", "admin", "--secret", "abc")
    fails(manage("tokens", "add", "--user", "admin", "--secret", "abc"), "already in use")
    fails(manage("tokens", "rm", "1", "--user", "bob"), "Token 1")
    fails(manage("tokens", "rm", "42"), "Token 42")
    fails(manage("tokens", "list", "--user", "nobody"), "nobody")


# -- device types, aliases, tags ------------------------------------------------------------------
def test_device_types(ok: Callable[..., Result], db: Any) -> None:
    """``device-types add/update`` set every field; ``--hidden``/``--display`` toggle."""
    ok("device-types", "add", "qemu", "--description", "QEMU", "--architecture", "amd64",
       "--processor", "x86", "--cpu-model", "qemu64", "--bits", "64", "--cores", "c1,c2",
       "--core-count", "4", "--health-frequency", "10", "--health-denominator", "jobs",
       "--disable-health-check", "--hidden", "--alias", "qemu-x86", "--alias", "kvm")
    dt = db(devices.thd_get_device_type, "qemu")
    assert dt == {"name": "qemu", "architecture": "amd64", "processor": "x86",
                  "cpu_model": "qemu64", "aliases": ["kvm", "qemu-x86"], "bits": 64,
                  "cores": ["c1", "c2"], "core_count": 4, "description": "QEMU",
                  "health_frequency": 10, "disable_health_check": True,
                  "health_denominator": "jobs", "display": False}
    ok("device-types", "update", "qemu", "--display", "--enable-health-check",
       "--health-denominator", "hours", "--description", "Emulated")
    dt = db(devices.thd_get_device_type, "qemu")
    assert (dt["display"], dt["disable_health_check"], dt["health_denominator"],
            dt["description"], dt["bits"]) == (True, False, "hours", "Emulated", 64)
    listed = ok("device-types", "list", "--format", "yaml").out
    assert yaml.safe_load(listed)[0]["name"] == "qemu"
    assert ok("device-types", "list").lines[0].startswith("* qemu ")


def test_device_types_errors(ok: Callable[..., Result], manage: Callable[..., Result]) -> None:
    """Duplicate names, bad denominators and unknown types are one-line errors."""
    ok("device-types", "add", "qemu")
    fails(manage("device-types", "add", "qemu"), "already exists")
    fails(manage("device-types", "add", "bbb", "--health-denominator", "weeks"),
          "hours", "jobs")
    fails(manage("device-types", "update", "nope", "--hidden"), "nope", "not found")
    fails(manage("device-types", "add", "bad/name"), "/")


def test_aliases(ok: Callable[..., Result], manage: Callable[..., Result], db: Any) -> None:
    """``aliases add/list`` map an alias to its device type; an unknown type is an error."""
    ok("device-types", "add", "qemu")
    ok("aliases", "add", "kvm", "--device-type", "qemu")
    assert ok("aliases", "list").lines == ["* kvm device_type=qemu"]
    assert db(devices.thd_resolve_device_type, "kvm") == "qemu"
    fails(manage("aliases", "add", "x", "--device-type", "nope"), "nope")
    fails(manage("aliases", "add", "kvm", "--device-type", "qemu"), "already exists")


def test_tags(ok: Callable[..., Result], manage: Callable[..., Result]) -> None:
    """``tags add/list`` store a tag and its description; names must be slugs."""
    ok("tags", "add", "usb", "--description", "has a USB port")
    assert ok("tags", "list").lines == ['* usb id=1 description="has a USB port"']
    fails(manage("tags", "add", "usb"), "already exists")
    fails(manage("tags", "add", "no spaces"), "slug")


# -- devices --------------------------------------------------------------------------------------
def test_devices_add(ok: Callable[..., Result], lab: Path, db: Any) -> None:
    """``devices add`` stores type, worker, tags, health, dictionary, owner and group."""
    ok("users", "add", "owner")
    ok("groups", "add", "lab")
    line = ok("devices", "add", "qemu01", "--device-type", "qemu", "--worker", "worker01",
              "--tags", "usb", "--health", "good", "--dictionary", str(lab),
              "--description", "first board", "--owner", "owner", "--group", "lab").out
    assert line.startswith("* qemu01 device_type=qemu physical_owner=owner physical_group=lab")
    assert "tags=usb" in line and "health=Good" in line
    device = db(devices.thd_get_device, "qemu01")
    assert (device["worker_host"], device["health"], device["description"]) == \
        ("worker01", "Good", "first board")
    assert db(devices.thd_get_device_dictionary, "qemu01") == lab.read_text()


def test_devices_list_and_update(ok: Callable[..., Result], lab: Path, tmp_path: Path,
                                 db: Any) -> None:
    """``devices update`` changes fields and health; retired devices need ``list --all``."""
    ok("device-types", "add", "bbb")
    ok("tags", "add", "hdmi")
    ok("devices", "add", "qemu01", "--device-type", "qemu")
    ok("devices", "add", "qemu02", "--device-type", "qemu")
    new_dict = tmp_path / "new.jinja2"
    new_dict.write_text("{% extends 'bbb.jinja2' %}\n")
    ok("devices", "update", "qemu01", "--device-type", "bbb", "--worker", "worker01",
       "--tags", "usb,hdmi", "--dictionary", str(new_dict), "--description", "moved",
       "--health", "Unknown", "--reason", "checked")
    device = db(devices.thd_get_device, "qemu01")
    assert (device["device_type"], device["worker_host"], device["description"],
            device["health"], len(device["tags"])) == ("bbb", "worker01", "moved", "Unknown", 2)
    assert db(devices.thd_get_device_dictionary, "qemu01") == new_dict.read_text()
    ok("devices", "update", "qemu02", "--health", "Retired")
    assert [line.split()[1] for line in ok("devices", "list").lines] == ["qemu01"]
    everything = ok("devices", "list", "--all", "--format", "json").data()
    assert [(d["hostname"], d["health"]) for d in everything] == \
        [("qemu01", "Unknown"), ("qemu02", "Retired")]
    assert sorted(everything[0]["tags"]) == ["hdmi", "usb"]


def test_devices_errors(ok: Callable[..., Result], manage: Callable[..., Result], lab: Path,
                        db: Any) -> None:
    """Duplicate hostname, unknown type/worker/tag/owner and bad health are one-line errors."""
    ok("devices", "add", "qemu01", "--device-type", "qemu")
    fails(manage("devices", "add", "qemu01", "--device-type", "qemu"), "already exists")
    fails(manage("devices", "add", "qemu02", "--device-type", "nope"), "nope", "not found")
    fails(manage("devices", "add", "qemu02", "--device-type", "qemu", "--worker", "nowhere"),
          "nowhere")
    fails(manage("devices", "add", "qemu02", "--device-type", "qemu", "--tags", "notag"),
          "notag")
    fails(manage("devices", "add", "qemu02", "--device-type", "qemu", "--owner", "ghost"),
          "ghost")
    fails(manage("devices", "add", "qemu02", "--device-type", "qemu", "--health", "Great"),
          "Invalid device health 'Great'")
    fails(manage("devices", "update", "qemu01", "--health", "Great"), "Great")
    fails(manage("devices", "update", "nodev", "--description", "x"), "nodev")
    assert [d["hostname"] for d in db(devices.thd_list_devices)] == ["qemu01"]


@pytest.mark.parametrize("content, message", [
    (None, "No such file"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary"),
    (b"\xff\xfe{% set x = 1 %}", "not UTF-8"),
    (b"  \n\n", "empty"),
    (b"{% extends 'qemu.jinja2' %\n", "not a valid jinja2 template"),
])
def test_bad_dictionary_file(ok: Callable[..., Result], manage: Callable[..., Result],
                             lab: Path, tmp_path: Path, db: Any, content: bytes | None,
                             message: str) -> None:
    """A missing, binary, non-UTF-8, empty or malformed dictionary is an error naming the file."""
    path = tmp_path / "bad.jinja2"
    if content is not None:
        path.write_bytes(content)
    fails(manage("devices", "add", "qemu09", "--device-type", "qemu", "--dictionary",
                 str(path)), str(path), message)
    ok("devices", "add", "qemu01", "--device-type", "qemu", "--dictionary", str(lab))
    fails(manage("devices", "update", "qemu01", "--dictionary", str(path)), str(path))
    assert [d["hostname"] for d in db(devices.thd_list_devices)] == ["qemu01"]
    assert db(devices.thd_get_device_dictionary, "qemu01") == lab.read_text()


def test_dictionary_directory(manage: Callable[..., Result], lab: Path, tmp_path: Path) -> None:
    """A directory given as dictionary file is an error naming it."""
    fails(manage("devices", "add", "qemu01", "--device-type", "qemu", "--dictionary",
                 str(tmp_path)), str(tmp_path))


# -- workers --------------------------------------------------------------------------------------
def test_workers(ok: Callable[..., Result], db: Any) -> None:
    """``workers add`` prints the token; ``list`` never shows it; ``update`` changes health."""
    token = ok("workers", "add", "worker01", "--description", "rack 1", "--job-limit", "2",
               "--health", "Maintenance").out.strip()
    assert len(token) == 32
    assert ok("workers", "add", "worker02", "--token", "tok-2").out == "tok-2\n"
    worker = db(devices.thd_get_worker, "worker01", with_token=True)
    assert (worker["token"], worker["description"], worker["job_limit"], worker["health"]) == \
        (token, "rack 1", 2, "Maintenance")
    listed = ok("workers", "list")
    assert [line.split()[1] for line in listed.lines] == ["worker01", "worker02"]
    assert token not in listed.out and "tok-2" not in listed.out
    assert "token" not in ok("workers", "list", "--format", "json").data()[0]
    line = ok("workers", "update", "worker01", "--health", "active", "--job-limit", "5",
              "--description", "rack 2", "--reason", "back").out
    assert line.startswith("* worker01 ") and token not in line
    worker = db(devices.thd_get_worker, "worker01")
    assert (worker["health"], worker["job_limit"], worker["description"]) == \
        ("Active", 5, "rack 2")


def test_workers_errors(ok: Callable[..., Result], manage: Callable[..., Result],
                        capsys: Any) -> None:
    """Duplicate workers, bad health and negative limits are one-line errors."""
    ok("workers", "add", "worker01")
    fails(manage("workers", "add", "worker01"), "already exists")
    fails(manage("workers", "add", "worker02", "--health", "Sleeping"), "Sleeping")
    fails(manage("workers", "add", "worker02", "--job-limit", "-1"), "job_limit")
    fails(manage("workers", "update", "worker01", "--health", "Sleeping"), "Sleeping")
    fails(manage("workers", "update", "nowhere", "--description", "x"), "nowhere")
    with pytest.raises(SystemExit) as exc:
        manage("workers", "update", "worker01", "--job-limit", "many")
    assert exc.value.code == 2


# -- permissions ----------------------------------------------------------------------------------
def test_object_permissions(ok: Callable[..., Result], lab: Path, db: Any) -> None:
    """``permissions add/list/rm`` manage group permissions on types, devices and workers."""
    ok("groups", "add", "lab")
    ok("devices", "add", "qemu01", "--device-type", "qemu")
    ok("permissions", "add", "--group", "lab", "--device-type", "qemu", "--permission",
       "view_devicetype")
    ok("permissions", "add", "--group", "lab", "--device", "qemu01", "--permission",
       "submit_to_device")
    ok("permissions", "add", "--group", "lab", "--worker", "worker01", "--permission",
       "change_worker")
    assert ok("permissions", "list").lines == [
        "* 1 kind=devicetype object=qemu group=lab permission=view_devicetype",
        "* 1 kind=device object=qemu01 group=lab permission=submit_to_device",
        "* 1 kind=worker object=worker01 group=lab permission=change_worker"]
    only = ok("permissions", "list", "--device", "qemu01", "--format", "json").data()
    assert [(p["kind"], p["permission"]) for p in only] == [("device", "submit_to_device")]
    ok("permissions", "rm", "--group", "lab", "--device-type", "qemu", "--permission",
       "view_devicetype")
    assert db(devices.thd_list_object_permissions, "devicetype") == []


def test_object_permissions_errors(ok: Callable[..., Result], manage: Callable[..., Result],
                                   lab: Path, capsys: Any) -> None:
    """Unknown groups, objects or codenames and duplicates are one-line errors."""
    ok("groups", "add", "lab")
    fails(manage("permissions", "add", "--group", "nogroup", "--device-type", "qemu",
                 "--permission", "view_devicetype"), "nogroup")
    fails(manage("permissions", "add", "--group", "lab", "--device-type", "nope",
                 "--permission", "view_devicetype"), "nope")
    fails(manage("permissions", "add", "--group", "lab", "--device-type", "qemu",
                 "--permission", "fly_devicetype"), "fly_devicetype")
    ok("permissions", "add", "--group", "lab", "--device-type", "qemu", "--permission",
       "view_devicetype")
    fails(manage("permissions", "add", "--group", "lab", "--device-type", "qemu",
                 "--permission", "view_devicetype"), "unique")
    fails(manage("permissions", "rm", "--group", "lab", "--worker", "worker01",
                 "--permission", "view_worker"), "not found")
    with pytest.raises(SystemExit) as exc:  # exactly one object is required
        manage("permissions", "add", "--group", "lab", "--permission", "view_devicetype")
    assert exc.value.code == 2


def test_global_permissions(ok: Callable[..., Result], manage: Callable[..., Result],
                            db: Any) -> None:
    """``permissions grant/revoke`` give users and groups Django-style global permissions."""
    ok("users", "add", "bob")
    ok("groups", "add", "admins", "--member", "bob")
    ok("permissions", "grant", "--user", "bob", "lava_scheduler_app.add_device")
    ok("permissions", "grant", "--group", "admins", "lava_scheduler_app.change_worker")
    principal = db(users.thd_principal_by_name, "bob")
    assert principal.has_perm("lava_scheduler_app.add_device")
    assert principal.has_perm("lava_scheduler_app.change_worker")
    assert ok("permissions", "list", "--group", "admins").lines == [
        "* lava_scheduler_app.change_worker group=admins"]
    ok("permissions", "revoke", "--user", "bob", "lava_scheduler_app.add_device")
    assert not db(users.thd_principal_by_name, "bob").has_perm("lava_scheduler_app.add_device")
    fails(manage("permissions", "grant", "--user", "bob", "lava_scheduler_app.fly"),
          "lava_scheduler_app.fly")
    fails(manage("permissions", "grant", "--user", "ghost", "lava_scheduler_app.add_device"),
          "ghost")


# -- the lab as a whole ---------------------------------------------------------------------------
def test_build_a_lab(ok: Callable[..., Result], tmp_path: Path, db: Any) -> None:
    """A small lab built only with manage reads back identically through the domain API."""
    dictionary = tmp_path / "qemu01.jinja2"
    dictionary.write_text("{% extends 'qemu.jinja2' %}\n{% set arch = 'amd64' %}\n")
    ok("users", "add", "admin", "--passwd", "pw", "--superuser", "--staff")
    ok("users", "add", "alice", "--email", "alice@example.com")
    ok("groups", "add", "team", "--members", "alice")
    secret = ok("tokens", "add", "--user", "alice", "--description", "ci").out.strip()
    ok("device-types", "add", "qemu", "--architecture", "amd64", "--alias", "kvm")
    ok("device-types", "add", "secret-board")
    ok("tags", "add", "usb")
    worker_token = ok("workers", "add", "worker01", "--job-limit", "1").out.strip()
    ok("devices", "add", "qemu01", "--device-type", "qemu", "--worker", "worker01",
       "--tags", "usb", "--health", "Good", "--dictionary", str(dictionary))
    ok("devices", "add", "board01", "--device-type", "secret-board", "--worker", "worker01")
    ok("permissions", "add", "--group", "team", "--device-type", "secret-board",
       "--permission", "view_devicetype")

    assert [u["username"] for u in db(users.thd_list_users)] == ["admin", "alice"]
    assert db(users.thd_get_group, "team")["members"] == ["alice"]
    assert db(users.thd_authenticate_token, secret).username == "alice"
    assert db(users.thd_authenticate_password, "admin", "pw").is_superuser
    assert db(devices.thd_get_worker, "worker01", with_token=True)["token"] == worker_token
    assert db(devices.thd_resolve_device_type, "kvm") == "qemu"
    qemu01 = db(devices.thd_get_device, "qemu01")
    assert (qemu01["device_type"], qemu01["worker_host"], qemu01["health"]) == \
        ("qemu", "worker01", "Good")
    assert db(devices.thd_get_device_dictionary, "qemu01") == dictionary.read_text()
    # The group permission restricts the type: alice sees it, an outsider does not.
    alice = db(users.thd_principal_by_name, "alice")
    ok("users", "add", "mallory")
    mallory = db(users.thd_principal_by_name, "mallory")
    assert [t["name"] for t in db(devices.thd_list_device_types, alice)] == \
        ["qemu", "secret-board"]
    assert [t["name"] for t in db(devices.thd_list_device_types, mallory)] == ["qemu"]


def test_writes_events_to_outbox(ok: Callable[..., Result], data_dir: Path) -> None:
    """Device and worker creations by manage are in event_outbox for the server to publish."""
    ok("device-types", "add", "qemu")
    ok("workers", "add", "worker01")
    ok("devices", "add", "qemu01", "--device-type", "qemu", "--worker", "worker01")
    events = outbox(data_dir)
    assert ("worker", {"hostname": "worker01", "health": "Active", "state": "Offline"}) \
        in events
    assert ("device", {"health": "Maintenance", "state": "Idle", "device": "qemu01",
                       "device_type": "qemu", "worker": "worker01"}) in events
    assert ("lab", {"object": "devicetype", "action": "add", "name": "qemu"}) in events


def test_failed_command_leaves_no_event(ok: Callable[..., Result],
                                        manage: Callable[..., Result], data_dir: Path) -> None:
    """A command that fails rolls back: nothing is written, no event reaches the outbox."""
    ok("device-types", "add", "qemu")
    before = outbox(data_dir)
    fails(manage("devices", "add", "qemu01", "--device-type", "qemu", "--tags", "nope"),
          "nope")
    assert outbox(data_dir) == before


def test_works_while_database_is_open(ok: Callable[..., Result], data_dir: Path,
                                      db: Any) -> None:
    """manage reads and writes while another connection (the server's) holds the database."""
    data_dir.mkdir()
    server = open_database(str(data_dir / "lavad.sqlite3"))
    try:
        assert server.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        server.execute("BEGIN")  # an open read transaction, as a server mid-query
        server.execute("SELECT count(*) FROM devices").fetchone()
        ok("device-types", "add", "qemu")
        ok("workers", "add", "worker01")
        ok("devices", "add", "qemu01", "--device-type", "qemu")
        assert ok("devices", "list").lines[0].startswith("* qemu01 ")
        server.execute("COMMIT")
        assert server.execute("SELECT hostname FROM devices").fetchall()[0][0] == "qemu01"
        assert server.execute("SELECT count(*) FROM event_outbox").fetchone()[0] >= 2
    finally:
        server.close()
