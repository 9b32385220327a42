"""Real deliveries on loopback: SMTP, ngircd, HTTP callbacks (xmlrpc-events-notify.md 4.3-4.7)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest_twisted
from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.words.protocols import irc

from notifylab import free_port, wait_for
from lavad import users
from lavad.notify.records import thd_job_notifications


async def statuses(nlab: Any, job_id: int) -> list[tuple[str, str]]:
    panel = await nlab.store.run(thd_job_notifications, nlab.root, job_id)
    return [(r["method"], r["status"]) for r in panel["recipients"]] + \
        [("callback", c["status"]) for c in panel["callbacks"]]


# -- email ----------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_email_reaches_a_real_smtp_server(nlab: Any, smtp_server: Any,
                                                make_notifier: Any) -> None:
    """A finished job's quiet email goes through SMTP to the user's address, from
    SERVER_EMAIL, with LAVA's subject, and the recipient is recorded as sent."""
    notifier = make_notifier(email_port=smtp_server.port)
    job = await nlab.submit({"criteria": {"status": "finished"},
                             "recipients": [{"to": {"method": "email", "user": "alice"}}]})
    await nlab.start(job)
    await nlab.finish(job)
    [mail] = await smtp_server.wait(1)
    await wait_for(notifier.when_idle())
    assert mail.sender == b"lava@example.com"
    assert mail.recipient == b"alice@example.com"
    assert mail.message["Subject"] == \
        "LAVA notification for Test Job %d smoke <one> & two" % job
    assert mail.message["To"] == "alice@example.com"
    assert mail.message.get_content_type() == "text/plain"
    assert mail.message.get_content_charset() == "utf-8"
    assert mail.body.startswith(
        "\nDear Alice Doe,\n\nThe job with ID # %d is now in state Finished and health "
        "Complete. Job was submitted by alice.\n\nJob details and log file: "
        "http://lava.example.com/scheduler/job/%d\n" % (job, job))
    assert "Description: smoke &lt;one&gt; &amp; two\n" in mail.body
    assert mail.body.rstrip("\n").endswith("--\nLAVA\nLinaro Automated Validation Architecture")
    assert await statuses(nlab, job) == [("email", "sent")]


@pytest_twisted.ensureDeferred
async def test_email_logs_in_to_the_relay(nlab: Any, smtp_server_login: Any,
                                          make_notifier: Any) -> None:
    """EMAIL_HOST_USER/EMAIL_HOST_PASSWORD: the relay's AUTH is used."""
    notifier = make_notifier(email_port=smtp_server_login.port, email_host_user="lava",
                             email_host_password="s3cret")
    job = await nlab.submit({"criteria": {"status": "running"}})
    await nlab.start(job)
    [mail] = await smtp_server_login.wait(1)
    await wait_for(notifier.when_idle())
    assert smtp_server_login.logins == [b"lava"]
    assert mail.recipient == b"alice@example.com"  # no recipients: the submitter
    assert await statuses(nlab, job) == [("email", "sent")]


@pytest_twisted.ensureDeferred
async def test_refused_email_stays_not_sent_and_is_retried_on_the_next_match(
        nlab: Any, smtp_server: Any, make_notifier: Any) -> None:
    """A relay that cannot be reached leaves the recipient "not sent"; with status all,
    the Finished match sends it again, and the callbacks fire on both matches."""
    dead = free_port()
    notifier = make_notifier(email_port=dead)
    job = await nlab.submit({"criteria": {"status": "all"}})
    await nlab.start(job)
    await wait_for(notifier.when_idle())
    assert await statuses(nlab, job) == [("email", "not sent")]
    await notifier.stopService()
    notifier = make_notifier(email_port=smtp_server.port)
    await nlab.finish(job)
    [mail] = await smtp_server.wait(1)
    await wait_for(notifier.when_idle())
    assert "now in state Finished and health Complete" in mail.body
    assert await statuses(nlab, job) == [("email", "sent")]


@pytest_twisted.ensureDeferred
async def test_sent_recipients_are_not_sent_twice(nlab: Any, smtp_server: Any,
                                                  make_notifier: Any) -> None:
    """With status all, a recipient sent at Running gets nothing at Finished."""
    notifier = make_notifier(email_port=smtp_server.port)
    job = await nlab.submit({"criteria": {"status": "all"}})
    await nlab.start(job)
    await smtp_server.wait(1)
    await wait_for(notifier.when_idle())
    await nlab.finish(job)
    await wait_for(notifier.when_idle())
    assert len(smtp_server.messages) == 1
    assert "now in state Running and health Unknown" in smtp_server.messages[0].body


# -- IRC -----------------------------------------------------------------------------------------
class Listener(irc.IRCClient):
    """The recipient: registers as ``nickname`` and fires ``received`` on a PRIVMSG."""

    heartbeatInterval = None

    def __init__(self, nickname: str) -> None:
        self.nickname = nickname
        self.signed_on: defer.Deferred = defer.Deferred()
        self.received: defer.Deferred = defer.Deferred()
        self.lost: defer.Deferred = defer.Deferred()

    def signedOn(self) -> None:
        self.signed_on.callback(self)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        if not self.received.called:
            self.received.callback((user, channel, message))

    def connectionLost(self, reason: Any) -> None:
        super().connectionLost(reason)
        self.lost.callback(None)


async def listen_as(port: int, nickname: str) -> Listener:
    client = Listener(nickname)
    await TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(
        protocol.Factory.forProtocol(lambda: client))
    await wait_for(client.signed_on, 10)
    return client


@pytest_twisted.ensureDeferred
async def test_irc_message_reaches_the_handle_through_ngircd(nlab: Any, ngircd: Any,
                                                             make_notifier: Any) -> None:
    """The PRIVMSG goes through a real ngircd to the handle, from the configured nick,
    with LAVA's one-line text; the recipient is recorded as sent."""
    notifier = make_notifier(irc_nick="lavabot")
    listener = await listen_as(ngircd.port, "alice-irc")
    job = await nlab.submit({"criteria": {"status": "finished"}, "recipients": [
        {"to": {"method": "irc", "user": "alice", "server": ngircd.address}}]})
    await nlab.start(job)
    await nlab.finish(job, "fail")
    user, channel, message = await wait_for(listener.received, 20)
    await wait_for(notifier.when_idle(), 20)
    assert user.split("!")[0] == "lavabot"
    assert channel == "alice-irc"
    assert message.startswith("The job with ID # %d has finished with status Finished and "
                              "health Incomplete on " % job)
    assert message.endswith(" (+0000 UTC). Job was submitted by alice. Job details and log "
                            "file: http://lava.example.com/scheduler/job/%d" % job)
    assert await statuses(nlab, job) == [("irc", "sent")]
    listener.transport.loseConnection()
    await wait_for(listener.lost)


@pytest_twisted.ensureDeferred
async def test_irc_messages_for_one_server_share_a_connection(nlab: Any, ngircd: Any,
                                                              make_notifier: Any) -> None:
    """Two handles on one server get their messages over one connection; an unknown
    handle ("No such nick") stays not sent."""
    notifier = make_notifier()
    first = await listen_as(ngircd.port, "first")
    second = await listen_as(ngircd.port, "second")
    job = await nlab.submit({"criteria": {"status": "running"}, "recipients": [
        {"to": {"method": "irc", "handle": "first", "server": ngircd.address}},
        {"to": {"method": "irc", "handle": "second", "server": ngircd.address}},
        {"to": {"method": "irc", "handle": "nobody-here", "server": ngircd.address}}]})
    await nlab.start(job)
    await wait_for(first.received, 20)
    await wait_for(second.received, 20)
    await wait_for(notifier.when_idle(), 20)
    [queue] = notifier._servers.values()
    assert queue.connections == 1
    assert await statuses(nlab, job) == [("irc", "sent"), ("irc", "sent"),
                                         ("irc", "not sent")]
    for listener in (first, second):
        listener.transport.loseConnection()
        await wait_for(listener.lost)


class Silent(protocol.Protocol):
    """A server that accepts connections and never says anything."""


@pytest_twisted.ensureDeferred
async def test_dead_irc_servers_delay_nothing(nlab: Any, smtp_server: Any, http_sink: Any,
                                              make_notifier: Any) -> None:
    """An IRC server that refuses connections and one that never answers neither delay the
    job's completion nor the email and callback; they are retried a bounded number of
    times, then recorded as not sent."""
    silent = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        protocol.Factory.forProtocol(Silent))
    refused = free_port()
    notifier = make_notifier(email_port=smtp_server.port)
    notifier.irc_options = {"attempts": 2, "reply_timeout": 1.0, "connect_timeout": 1.0,
                            "backoff": lambda n: 0.2}
    job = await nlab.submit({"criteria": {"status": "finished"}, "recipients": [
        {"to": {"method": "irc", "handle": "a", "server": "127.0.0.1:%d" % refused}},
        {"to": {"method": "irc", "handle": "b",
                "server": "127.0.0.1:%d" % silent.getHost().port}},
        {"to": {"method": "email", "email": "ops@example.com"}}],
        "callback": {"url": http_sink.url + "/done/{ID}"}})
    await nlab.start(job)
    started = reactor.seconds()
    await nlab.finish(job)
    assert reactor.seconds() - started < 1.0
    await smtp_server.wait(1)
    await http_sink.wait(1)
    assert reactor.seconds() - started < 1.0  # while both IRC servers are still tried
    assert not all(queue.idle for queue in notifier._servers.values())
    await wait_for(notifier.when_idle(), 20)
    assert await statuses(nlab, job) == [("irc", "not sent"), ("irc", "not sent"),
                                         ("email", "sent"), ("callback", "sent")]
    await silent.stopListening()


# -- callbacks -------------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_callbacks_post_json_and_form_data(nlab: Any, http_sink: Any,
                                                 make_notifier: Any) -> None:
    """POST callbacks carry the job data as JSON or as python-requests would form-encode
    it, the token in the named header, placeholders substituted; GET has no body."""
    await nlab.store.run(users.thd_add_token, "alice", description="hook",
                         secret="s3cr3t-token")
    notifier = make_notifier()
    job = await nlab.submit({"criteria": {"status": "finished"}, "callbacks": [
        {"url": http_sink.url + "/json/{ID}/{STATUS_STRING}", "method": "POST",
         "token": "hook", "content-type": "json", "dataset": "results"},
        {"url": http_sink.url + "/form?job={ID}&who={SUBMITTER}&x={UNKNOWN}",
         "method": "POST", "token": "plain", "header": "X-Lava-Token"},
        {"url": http_sink.url + "/get/{ DESCRIPTION }"}]})
    await nlab.start(job)
    await nlab.finish(job)
    requests = {r.path.split("/")[1].split("?")[0]: r for r in await http_sink.wait(3)}
    await wait_for(notifier.when_idle())

    posted = requests["json"]
    assert (posted.method, posted.path) == ("POST", "/json/%d/complete" % job)
    assert posted.headers["authorization"] == "s3cr3t-token"
    assert posted.headers["content-type"] == "application/json"
    data = json.loads(posted.body)
    assert list(data)[:8] == ["id", "status", "status_string", "state", "state_string",
                              "health", "health_string", "submit_time"]
    assert (data["id"], data["status"], data["status_string"], data["state_string"],
            data["health_string"], data["submitter_username"], data["description"],
            data["actual_device_id"], data["metadata"], data["health_check"]) == (
        job, 2, "complete", "Finished", "Complete", "alice", "smoke <one> & two", "qemu01",
        [{"build": "42"}], False)
    assert data["end_time"].endswith("+00:00") and "log" not in data
    assert data["results"] == {}

    form = requests["form"]
    assert form.path == "/form?job=%d&who=alice&x=%%7BUNKNOWN%%7D" % job
    assert form.headers["x-lava-token"] == "plain"
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = parse_qs(form.body.decode(), keep_blank_values=True)
    assert fields["metadata"] == ["build"] and fields["health_check"] == ["False"]
    assert "failure_comment" not in fields and fields["status_string"] == ["complete"]

    got = requests["get"]
    assert (got.method, got.path, got.body) == ("GET", "/get/smoke%20%3Cone%3E%20&%20two", b"")
    assert "authorization" not in got.headers
    assert await statuses(nlab, job) == [("callback", "sent")] * 3


@pytest_twisted.ensureDeferred
async def test_callback_errors_are_retried_then_recorded(nlab: Any, http_sink: Any,
                                                         make_notifier: Any) -> None:
    """A 5xx answer is retried a bounded number of times, then recorded as not sent."""
    http_sink.code = 503
    notifier = make_notifier()
    notifier.callback_retry_delay = 0.05
    job = await nlab.submit({"criteria": {"status": "running"},
                             "callback": {"url": http_sink.url + "/cb"}})
    await nlab.start(job)
    await http_sink.wait(3)
    await wait_for(notifier.when_idle())
    assert len(http_sink.requests) == 3
    assert await statuses(nlab, job) == [("callback", "not sent")]


@pytest_twisted.ensureDeferred
async def test_callback_hosts_outside_the_allowed_list_are_not_called(
        nlab: Any, http_sink: Any, make_notifier: Any) -> None:
    """CALLBACK_ALLOWED_HOSTS: a URL whose host matches no pattern is not requested."""
    notifier = make_notifier(callback_allowed_hosts=["*.example.com"])
    job = await nlab.submit({"criteria": {"status": "running"},
                             "callback": {"url": http_sink.url + "/cb"}})
    await nlab.start(job)
    await wait_for(notifier.when_idle())
    assert http_sink.requests == []
    assert await statuses(nlab, job) == [("callback", "not sent")]


@pytest_twisted.ensureDeferred
async def test_stopping_abandons_deliveries_at_once(nlab: Any, http_sink: Any,
                                                    make_notifier: Any) -> None:
    """Stopping the service while an IRC server is silent and a callback waits to retry
    returns promptly and leaves nothing on the reactor."""
    silent = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        protocol.Factory.forProtocol(Silent))
    http_sink.code = 500
    notifier = make_notifier()
    notifier.callback_retry_delay = 60
    job = await nlab.submit({"criteria": {"status": "running"}, "recipients": [
        {"to": {"method": "irc", "handle": "a",
                "server": "127.0.0.1:%d" % silent.getHost().port}}],
        "callback": {"url": http_sink.url + "/cb"}})
    await nlab.start(job)
    await http_sink.wait(1)
    started = reactor.seconds()
    await wait_for(notifier.stopService(), 5)
    assert reactor.seconds() - started < 1.0
    assert await statuses(nlab, job) == [("irc", "not sent"), ("callback", "not sent")]
    await silent.stopListening()
