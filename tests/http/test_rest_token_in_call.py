"""Reads check the token in the view's own store call: one store call, same answers."""

from __future__ import annotations

import pytest

from lavad import users


@pytest.fixture
def calls(rest, monkeypatch):
    """The functions run on the store, in order."""
    seen: list[str] = []
    run = rest.store.run

    def counting(fn, *args, **kwargs):
        seen.append(getattr(fn, "__name__", repr(fn)))
        return run(fn, *args, **kwargs)

    monkeypatch.setattr(rest.store, "run", counting)
    return seen


@pytest.mark.parametrize("path", ["jobs/", "jobs/1/", "jobs/1/metadata/", "jobs/1/suites/",
                                  "devices/?limit=1", "workers/"])
def test_token_read_is_one_store_call(rest, calls, path):
    """A list or detail read with a token makes one store call."""
    answer = rest.get("/api/v0.2/" + path, "user1")
    assert answer.code == 200, answer.body
    assert calls == ["thd_as_token"]


def test_token_sees_what_its_owner_may_see(rest, calls):
    """The principal of the token decides visibility, as before: a superuser sees every job
    and its token, user1 sees the group job, anonymous callers neither."""
    admin = rest.get("/api/v0.2/jobs/", "admin").json
    user1 = rest.get("/api/v0.2/jobs/", "user1").json
    anonymous = rest.get("/api/v0.2/jobs/").json
    assert admin["count"] == 5 and "token" in admin["results"][0]
    assert 3 in [j["id"] for j in user1["results"]]
    assert "token" not in user1["results"][0]
    assert 3 not in [j["id"] for j in anonymous["results"]]


@pytest.mark.parametrize("path", ["jobs/", "jobs/1/", "jobs/?health=Nonsense", "jobs/99999/",
                                  "jobs/99999999999999999999999/", "jobs/1/metadata/"])
def test_unknown_token_is_refused_first(rest, path):
    """An unknown token is a 403 before any 400 or 404 of the read."""
    answer = rest.get("/api/v0.2/" + path, headers={"Authorization": "Token nosuchtoken"})
    assert answer.code == 403
    assert answer.json == {"detail": "Invalid token."}
    assert answer.headers.getRawHeaders("Allow")


def test_inactive_owner_is_refused(rest):
    """The token of a deactivated user is refused with DRF's text."""
    answer = rest.get("/api/v0.2/jobs/", "inactive")
    assert answer.code == 403
    assert answer.json == {"detail": "User inactive or deleted."}


def test_deactivation_takes_effect_at_once(rest):
    """A user deactivated between two reads is refused on the second."""
    assert rest.get("/api/v0.2/jobs/", "user1").code == 200
    rest.store.sync(users.thd_update_user, "user1", is_active=False)
    answer = rest.get("/api/v0.2/jobs/", "user1")
    assert answer.code == 403
    assert answer.json == {"detail": "User inactive or deleted."}


def test_deleted_token_takes_effect_at_once(rest):
    """A token deleted between two reads is refused on the second."""
    assert rest.get("/api/v0.2/jobs/1/", "user2").code == 200
    token = rest.store.sync(users.thd_list_tokens, "user2")[0]
    rest.store.sync(users.thd_delete_token, token["id"])
    answer = rest.get("/api/v0.2/jobs/1/", "user2")
    assert answer.code == 403
    assert answer.json == {"detail": "Invalid token."}


def test_other_reads_check_the_token_first(rest, calls):
    """Reads outside the list and detail views still check the token on its own."""
    answer = rest.get("/api/v0.2/jobs/1/junit/", "user1")
    assert answer.code == 200, answer.body
    assert calls[0] == "thd_token_principal"


def test_client_gone_is_not_logged():
    """A read cancelled because its client went away logs no failure and answers nothing."""
    from twisted.internet.defer import CancelledError, Deferred
    from twisted.logger import Logger
    from twisted.web.test.requesthelper import DummyRequest

    from lavad.config import Settings
    from lavad.http.rest.app import RestApi

    pending: list[Deferred] = []

    class Lab:
        def run(self, fn, *args, **kwargs):
            pending.append(Deferred())
            return pending[-1]

    api = RestApi(Lab(), Settings())
    logged: list[dict] = []
    api.log = Logger(observer=logged.append)
    request = DummyRequest([b"api", b"v0.2", b"jobs", b""])
    request.uri = b"/api/v0.2/jobs/"
    request.isSecure = lambda: False
    answer = Deferred.fromCoroutine(api.handle(request))
    failures: list = []
    answer.addErrback(failures.append)
    answer.cancel()
    assert pending and failures and failures[0].check(CancelledError)
    assert logged == []
    assert request.written == []
