"""What the real-worker end-to-end tests drive: a private sshd, Debian's lava-worker, lavad.

Everything runs on this machine, on loopback, in the test's ``tmp_path``:

- :func:`start_sshd`: an OpenSSH server on 127.0.0.1 (a free port, a throw-away
  host key and one authorized key), the "device under test" of LAVA's ``ssh``
  device type: this host itself;
- :func:`start_worker`: Debian's ``lava-worker`` 2023.01 against a lavad URL;
- :class:`JobWatcher`: waits on lavad's event bus for a job to reach a state;
- :func:`populate_lab`: the user, device type, worker and device the jobs need.

Every wait is event-driven (process output lines, bus events) and bounded by
a timeout; nothing sleeps.  The system packages come from
``scripts/ci-system-deps.sh`` (CI runs it); without them the tests fail and
say so.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.utils import getProcessOutputAndValue

from lavad import devices, jobs, users
from lavad.events import Event, EventBus
from lavad.models import DeviceHealth, JobHealth, JobState

LAVA_TEMPLATES = "/opt/lava-server-templates/usr/share/lava-server/device-types"
LAVA_WORKER = "/usr/bin/lava-worker"
SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
SSH = "/usr/bin/ssh"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "worker"
WORKER_NAME = "worker-01"
DEVICE_NAME = "ssh-01"
# A clean environment for Debian's programs: no virtualenv or pyenv on their PATH.
SYSTEM_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
              "LC_ALL": "C.UTF-8"}


def missing_system_deps() -> list[str]:
    """What scripts/ci-system-deps.sh installs and this machine lacks."""
    wanted = [LAVA_WORKER, "/usr/bin/lava-run", SSHD, SSH, SSH_KEYGEN,
              os.path.join(LAVA_TEMPLATES, "ssh.jinja2")]
    missing = [path for path in wanted if not os.path.exists(path)]
    if os.geteuid() != 0:
        missing.append("root (lava-run must run as root)")
    return missing


def require_system_deps() -> None:
    """Fail (never skip) when the real worker cannot run here."""
    import pytest
    missing = missing_system_deps()
    if missing:
        pytest.fail("the real-worker end-to-end test needs Debian's lava-dispatcher, "
                    "openssh-server and LAVA's device-type templates; missing: %s. Run "
                    "scripts/ci-system-deps.sh as root (CI runs it)." % ", ".join(missing),
                    pytrace=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for programs that cannot bind 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LineProcess(ProcessProtocol):
    """A child process whose output lines can be awaited; all output goes to ``log_path`` too."""

    def __init__(self, reactor: Any, name: str, log_path: Path) -> None:
        self.reactor = reactor
        self.name = name
        self.lines: list[str] = []
        self.ended: Deferred = Deferred()
        self.exit: Any = None
        self._partial = {1: b"", 2: b""}
        self._waiters: list[tuple[re.Pattern[str], Deferred]] = []
        self._log = open(log_path, "w", encoding="utf-8")
        self.log_path = log_path

    def childDataReceived(self, fd: int, data: bytes) -> None:
        buffered = self._partial.get(fd, b"") + data
        *complete, self._partial[fd] = buffered.split(b"\n")
        for raw in complete:
            self._line(raw.decode("utf-8", "replace").rstrip("\r"))

    def _line(self, line: str) -> None:
        self.lines.append(line)
        self._log.write(line + "\n")
        self._log.flush()
        for entry in list(self._waiters):
            match = entry[0].search(line)
            if match:
                self._waiters.remove(entry)
                entry[1].callback(match)

    def processEnded(self, reason: Any) -> None:
        for fd, rest in self._partial.items():
            if rest:
                self._line(rest.decode("utf-8", "replace"))
        self._log.close()
        self.exit = reason.value
        waiters, self._waiters = self._waiters, []
        for _pattern, d in waiters:
            d.errback(AssertionError("%s ended (%s) before printing the awaited line; its "
                                     "output is in %s" % (self.name, reason.value,
                                                          self.log_path)))
        self.ended.callback(reason.value)

    def wait_for(self, pattern: str, timeout: float, after: int = 0) -> Deferred:
        """Fires with the match of the first line matching ``pattern``, among the lines
        printed from line number ``after`` on (those already printed, then the next ones)."""
        regex = re.compile(pattern)
        for line in self.lines[after:]:
            match = regex.search(line)
            if match:
                d: Deferred = Deferred()
                d.callback(match)
                return d
        if self.ended.called:
            raise AssertionError("%s has ended; its output is in %s"
                                 % (self.name, self.log_path))
        d = Deferred()
        self._waiters.append((regex, d))
        return _bounded(d, self.reactor, timeout, "%s never printed /%s/ (output in %s)"
                        % (self.name, pattern, self.log_path))

    @property
    def running(self) -> bool:
        return not self.ended.called

    def signal(self, name: str) -> None:
        if self.running and self.transport is not None:
            try:
                self.transport.signalProcess(name)
            except ProcessExitedAlready:
                pass

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL if it is still there after ``timeout`` seconds."""
        if not self.running:
            return
        self.signal("TERM")
        try:
            await _bounded(_chain(self.ended), self.reactor, timeout, "")
        except AssertionError:
            self.signal("KILL")
            await _bounded(_chain(self.ended), self.reactor, timeout,
                           "%s survived SIGKILL" % self.name)


def _chain(d: Deferred) -> Deferred:
    """A new Deferred firing with ``d``'s result, leaving ``d`` untouched."""
    out: Deferred = Deferred()

    def fire(result: Any) -> Any:
        if not out.called:
            out.callback(result)
        return result
    d.addBoth(fire)
    return out


def _bounded(d: Deferred, reactor: Any, timeout: float, message: str) -> Deferred:
    """``d``, failing with AssertionError(message) after ``timeout`` seconds."""
    def timed_out(failure: Any) -> Any:
        from twisted.internet.defer import TimeoutError
        if failure.check(TimeoutError):
            raise AssertionError(message or "timed out after %s s" % timeout)
        return failure
    return d.addTimeout(timeout, reactor).addErrback(timed_out)


def spawn(reactor: Any, name: str, argv: list[str], log_path: Path,
          env: dict[str, str] | None = None, path: str | None = None) -> LineProcess:
    """Start ``argv`` with stdin from /dev/null and its stdout and stderr read line by line.

    Not a stdin pipe: the grandchildren (lava-run) would inherit it and keep the
    process from counting as ended until they exit too.
    """
    process = LineProcess(reactor, name, log_path)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        reactor.spawnProcess(process, argv[0], argv, env=env or SYSTEM_ENV, path=path,
                             childFDs={0: devnull, 1: "r", 2: "r"})
    finally:
        os.close(devnull)
    return process


async def run(reactor: Any, argv: list[str], timeout: float = 60.0) -> tuple[str, str]:
    """Run a short command to completion; fail with its output if it exits non-zero."""
    d = getProcessOutputAndValue(argv[0], argv[1:], env=SYSTEM_ENV, reactor=reactor)
    out, err, code = await _bounded(d, reactor, timeout, "%s did not finish" % argv)
    if code != 0:
        raise AssertionError("%s exited %s:\n%s%s" % (argv, code, out.decode(), err.decode()))
    return out.decode(), err.decode()


# -- the "device under test": a private sshd ---------------------------------------------------
@dataclass
class Sshd:
    port: int
    identity_file: str
    process: LineProcess

    def device_dictionary(self) -> str:
        text = (FIXTURES / "devices" / "ssh-local-01.jinja2").read_text()
        return text.replace("@SSH_PORT@", str(self.port)) \
            .replace("@SSH_IDENTITY_FILE@", self.identity_file)


SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_key
PidFile none
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile {dir}/authorized_keys
StrictModes no
UsePAM no
PrintMotd no
LogLevel INFO
# OpenSSH 9's scp speaks SFTP: without this LAVA's scp-deploy fails ("Unable to copy overlay")
Subsystem sftp internal-sftp
"""


async def start_sshd(reactor: Any, directory: Path, timeout: float = 30.0,
                     attempts: int = 3) -> Sshd:
    """An sshd on a free loopback port, accepting ``directory/id_lava`` for root."""
    directory.mkdir(parents=True, exist_ok=True)
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    for key in ("id_lava", "host_key"):
        if not (directory / key).exists():
            await run(reactor, [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f",
                                str(directory / key)])
    shutil.copy(directory / "id_lava.pub", directory / "authorized_keys")
    for attempt in range(attempts):
        port = free_port()
        (directory / "sshd_config").write_text(SSHD_CONFIG.format(port=port, dir=directory))
        process = spawn(reactor, "sshd", [SSHD, "-D", "-e", "-f",
                                          str(directory / "sshd_config")],
                        directory / ("sshd-%d.log" % attempt))
        listening = process.wait_for(r"Server listening on 127\.0\.0\.1 port (\d+)|"
                                     r"Bind to port \d+ .* failed|Cannot bind", timeout)
        match = await listening
        if match.group(1):
            return Sshd(port, str(directory / "id_lava"), process)
        await process.stop()  # the port was taken in between: try another
    raise AssertionError("sshd could not bind a free port in %d attempts" % attempts)


async def check_ssh_login(reactor: Any, sshd: Sshd) -> str:
    """Run ``id -un`` over ssh as LAVA's ssh device type would log in."""
    out, _err = await run(reactor, [
        SSH, "-p", str(sshd.port), "-i", sshd.identity_file, "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", "root@127.0.0.1", "id -un"])
    return out.strip()


# -- Debian's lava-worker ----------------------------------------------------------------------
MARK_VARIABLE = "LAVAD_E2E_RUN"

# lava-worker 2023.01 starts a job as ``nice lava-run ...`` and, right after telling the
# server RUNNING, checks that the pid's /proc/<pid>/cmdline holds "lava-run"; when it
# does not, it calls waitpid(pid) and blocks until the job ends. While nice execs
# lava-run the cmdline is briefly empty (seen here: 1-10 ms after the start, more under
# load), so now and then the worker freezes for a whole job: no pings, no cancel. This
# stand-in for nice, first in the worker's PATH, runs lava-run in its own process (no
# second exec, so no empty moment) and execs anything else as nice would.
NICE_SHIM = """#!/usr/bin/python3
import os, runpy, shutil, sys
args = sys.argv[1:]
if args[:1] == ["-n"]:
    args = args[2:]
os.nice(10)
path = shutil.which(args[0], path="/usr/sbin:/usr/bin:/sbin:/bin") or args[0]
if os.path.basename(args[0]) != "lava-run":
    os.execv(path, [args[0]] + args[1:])
sys.argv = [path] + args[1:]
runpy.run_path(path, run_name="__main__")
"""


def install_nice_shim(directory: Path) -> str:
    """Write the nice stand-in into ``directory``; returns the directory for PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "nice"
    shim.write_text(NICE_SHIM)
    shim.chmod(0o755)
    return str(directory)


def start_worker(reactor: Any, url: str, token: str, worker_dir: Path, log_path: Path,
                 ping_interval: int = 2, job_log_interval: int = 1) -> LineProcess:
    """``lava-worker`` 2023.01 named WORKER_NAME, logging at DEBUG to its stdout.

    Its environment (which lava-run and every process of a job inherit) carries
    ``LAVAD_E2E_RUN=<worker_dir>``, so :func:`kill_job_processes` finds them all, and
    puts the :data:`NICE_SHIM` first in PATH.
    """
    worker_dir.mkdir(parents=True, exist_ok=True)
    shim_dir = install_nice_shim(worker_dir.parent / "worker-bin")
    env = dict(SYSTEM_ENV, **{MARK_VARIABLE: str(worker_dir)})
    env["PATH"] = shim_dir + ":" + env["PATH"]
    return spawn(reactor, "lava-worker", [
        LAVA_WORKER, "--name", WORKER_NAME, "--url", url, "--token", token,
        "--worker-dir", str(worker_dir), "--ping-interval", str(ping_interval),
        "--job-log-interval", str(job_log_interval), "--log-file", "-", "--level", "DEBUG",
        "--exit-on-version-mismatch"], log_path, env=env)


def marked_pids(worker_dir: Path) -> list[int]:
    """Processes started by the worker of ``worker_dir`` (lava-run, ssh, its log sender...)."""
    mark = ("%s=%s" % (MARK_VARIABLE, worker_dir)).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as handle:
                if mark in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _processes() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(b")") + 2:].split()
        found.append((int(entry), fields[0].decode(), int(fields[1]), int(fields[2])))
    return found


def children_of(pid: int) -> list[int]:
    """The direct children of ``pid``."""
    return [p for p, _state, parent, _group in _processes() if parent == pid]


def live_group_members(group: int) -> list[int]:
    """The processes of process group ``group`` that still run (zombies excluded)."""
    return [p for p, state, _parent, g in _processes() if g == group and state != "Z"]


def job_process_groups(worker: LineProcess, worker_dir: Path) -> set[int]:
    """The process groups of the worker's jobs: lava-run makes one per job and names
    itself ``lava-run [job: N]`` (which also hides its environment from /proc)."""
    groups = {pid for _job, pid in worker_jobs(worker_dir) if pid > 0}
    if worker.running and worker.transport is not None and worker.transport.pid:
        groups.update(children_of(worker.transport.pid))
    return groups


def kill_job_processes(groups: set[int], worker_dir: Path) -> None:
    """SIGKILL the job process groups and whatever else carries the worker's mark.

    Once its server is gone, 2023.01's log sender busy-loops forever: never leave one.
    """
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in marked_pids(worker_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def worker_jobs(worker_dir: Path) -> list[tuple[int, int]]:
    """(job id, lava-run pid) of every job the worker still tracks in its own database."""
    database = worker_dir / "db.sqlite3"
    if not database.exists():
        return []
    conn = sqlite3.connect(str(database))
    try:
        return [(int(r[0]), int(r[1] or 0)) for r in conn.execute("SELECT id, pid FROM jobs")]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def remove_dut_overlays(job_ids: list[int]) -> None:
    """The ssh device type unpacks each job's overlay to /lava-<id> on the DUT: this host."""
    for job_id in job_ids:
        shutil.rmtree("/lava-%d" % job_id, ignore_errors=True)
        for path in glob.glob("/lava-%d-overlay-*.tar.gz" % job_id):
            os.unlink(path)


# -- lavad ---------------------------------------------------------------------------------
@dataclass
class JobWatcher:
    """Records lavad's testjob events from the start; waits for a job to reach a state."""

    bus: EventBus
    reactor: Any
    events: list[Event] = field(default_factory=list)
    _waiters: list[tuple[Callable[[Event], bool], Deferred]] = field(default_factory=list)
    _unsubscribe: Callable[[], None] | None = None

    def start(self) -> "JobWatcher":
        self._unsubscribe = self.bus.subscribe(self._on_event, "testjob")
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        for entry in list(self._waiters):
            if entry[0](event):
                self._waiters.remove(entry)
                entry[1].callback(event)

    def history(self, job_id: int) -> list[tuple[str, str]]:
        return [(e.data["state"], e.data["health"]) for e in self.events
                if e.data.get("job") == job_id]

    def wait(self, job_id: int, timeout: float, state: str | None = None,
             health: str | None = None) -> Deferred:
        """Fires with the first event of ``job_id`` with ``state`` (and ``health``)."""
        def matches(event: Event) -> bool:
            return event.data.get("job") == job_id and \
                (state is None or event.data.get("state") == state) and \
                (health is None or event.data.get("health") == health)
        for event in self.events:
            if matches(event):
                d: Deferred = Deferred()
                d.callback(event)
                return d
        d = Deferred()
        self._waiters.append((matches, d))

        def explain() -> str:
            return ("job %s never reached state=%s health=%s within %s s; its events: %s"
                    % (job_id, state, health, timeout, self.history(job_id)))
        return d.addTimeout(timeout, self.reactor).addErrback(
            lambda f: _reraise(f, explain))


def _reraise(failure: Any, explain: Callable[[], str]) -> Any:
    from twisted.internet.defer import TimeoutError
    if failure.check(TimeoutError):
        raise AssertionError(explain())
    return failure


@dataclass
class LabSetup:
    admin: Any            # the superuser Principal that submits and cancels
    api_token: str        # its API token
    worker_token: str


def first_job_id() -> int:
    """Job ids for this test process, unlike those of any other running at the same time.

    lava-run keeps a job's files in /var/lib/lava/dispatcher/tmp/<id> and the ssh device
    type unpacks its overlay to /lava-<id> on the DUT (this host): two runs whose jobs
    share an id, at the same time, would delete each other's files.
    """
    return 1_000_000 + os.getpid() * 100


def _thd_skip_job_ids(tx: Any, submitter_id: int, first_id: int) -> None:
    """Make the next job id ``first_id``: a placeholder row just below it, finished."""
    placeholder = jobs.thd_insert_job(tx, submitter_id, "job_name: placeholder\n",
                                      description="e2e: job ids start above this one",
                                      emit=False)
    tx.execute("UPDATE test_jobs SET id = ?, state = ?, health = ? WHERE id = ?",
               (first_id - 1, JobState.FINISHED, JobHealth.CANCELED, placeholder))


async def populate_lab(lab: Any, sshd: Sshd, worker_token: str = "w" * 32) -> LabSetup:
    """A superuser with a token, device type ``ssh``, the worker and device ``ssh-01`` (Good).

    Job ids start at :func:`first_job_id`.
    """
    admin = await lab.run(users.thd_add_user, "admin", is_superuser=True, is_staff=True)
    await lab.run(_thd_skip_job_ids, admin["id"], first_job_id())
    token = await lab.run(users.thd_add_token, "admin", "e2e")
    await lab.run(devices.thd_add_device_type, "ssh")
    await lab.run(devices.thd_add_worker, WORKER_NAME, token=worker_token)
    await lab.run(devices.thd_add_device, DEVICE_NAME, "ssh", worker_host=WORKER_NAME,
                  health=DeviceHealth.GOOD, dictionary=sshd.device_dictionary())
    principal = await lab.run(users.thd_principal, admin["id"])
    return LabSetup(principal, token["secret"], worker_token)


def job_definition(name: str) -> str:
    return (FIXTURES / "jobs" / name).read_text()
