"""Bad notify blocks are refused at submission with LAVA's texts (xmlrpc-events-notify.md 4.2)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from lavad.submission import SubmissionError

PREFIX = "Problem with submitted job data: "
DATA = "@ data['notify']"
BAD_BLOCKS = [
    # schema errors (voluptuous texts with their paths)
    ({"verbosity": "quiet"}, "required key not provided %s['criteria']" % DATA),
    ({"criteria": {"status": "done"}},
     "not a valid value for dictionary value %s['criteria']['status']" % DATA),
    ({"criteria": {"status": "finished"}, "verbosity": "loud"},
     "not a valid value for dictionary value %s['verbosity']" % DATA),
    ({"criteria": {"status": "finished"}, "recipients": [{"to": {"method": "sms"}}]},
     "not a valid value for dictionary value %s['recipients'][0]['to']['method']" % DATA),
    ({"criteria": {"status": "finished"}, "callbacks": [{"url": "http://x/", "method": "PUT"}]},
     "not a valid value for dictionary value %s['callbacks'][0]['method']" % DATA),
    ({"criteria": {"status": "complete", "type": "sideways"}},
     "not a valid value for dictionary value %s['criteria']['type']" % DATA),
    ({"criteria": {"status": "finished"}, "callbacks": [{"method": "POST"}]},
     "required key not provided %s['callbacks'][0]['url']" % DATA),
    ({"criteria": {"status": "finished"}, "compare": {"query": {"username": "alice"}}},
     "required key not provided %s['compare']['query']['name']" % DATA),
    ({"criteria": {"status": "finished"}, "recipients": [{"to": {"method": "email",
                                                               "email": 42}}]},
     "expected str for dictionary value %s['recipients'][0]['to']['email']" % DATA),
    ({"criteria": {"status": "finished"}, "callback": {"url": "http://a/"},
      "callbacks": [{"url": "http://b/"}]},
     "two or more values in the same group of exclusion 'legacy_callback' "
     "%s[<legacy_callback>]" % DATA),
    # semantic checks, after the schema
    ({"criteria": {"status": "finished"}, "recipients": [{"to": {"method": "email"}}]},
     "No valid user or email address specified."),
    ({"criteria": {"status": "finished"}, "recipients": [{"to": {"method": "irc",
                                                               "server": "irc.x"}}]},
     "No valid user or IRC handle specified."),
    ({"criteria": {"status": "finished"}, "recipients": [{"to": {"method": "irc",
                                                               "user": "nobody"}}]},
     "'nobody' is not an existing user in LAVA."),
    ({"criteria": {"status": "finished"}, "recipients": [{"to": {"method": "email",
                                                               "email": "alice@"}}]},
     "'alice@' is not a valid email address."),
    ({"criteria": {"status": "finished"}, "compare": {"query": {"username": "alice",
                                                                "name": "smoke"}}},
     "Query ~alice/smoke does not exist"),
    ({"criteria": {"status": "finished"}, "compare": {"query": {"entity": "testcase",
                                                                "conditions": {}}}},
     "Only TestJob queries allowed."),
    ({"criteria": {"status": "finished"}, "compare": {"query": {"entity": "testjob",
                                                                "conditions": {"colour": "red"}}}},
     "Conditions URL incorrect: Field does not exist. Please refer to query docs."),
    ({"criteria": {"status": "finished"}, "compare": {"query": {"entity": "testjob",
                                                                "conditions": {"state": "Gone"}}}},
     "state: Select a valid choice. Gone is not one of the available choices."),
]


@pytest.mark.parametrize("block, detail", BAD_BLOCKS)
@pytest_twisted.ensureDeferred
async def test_bad_notify_block_is_refused(nlab: Any, block: dict[str, Any],
                                           detail: str) -> None:
    """Each bad block gives its own error, prefixed as LAVA's submission faults are."""
    with pytest.raises(SubmissionError) as info:
        await nlab.submit(block)
    assert info.value.message == PREFIX + detail


@pytest.mark.parametrize("block", [
    {"criteria": {"status": "all", "extra": 1}, "verbosity": "status-only"},
    {"criteria": {"status": "finished"}, "recipients": [
        {"to": {"method": "email", "user": "{LAVA_DEVICE_OWNER}"}},
        {"to": {"method": "email", "user": "bob", "email": "not checked"}},
        {"to": {"method": "irc", "user": "alice"}}]},
    {"criteria": {"status": "finished"}, "compare": {"query": {
        "entity": "testjob", "conditions": {"submitter": "alice", "state": "Finished",
                                            "description__icontains": "smoke"}}}},
    {"criteria": {"status": "incomplete", "type": "regression",
                  "dependency_query": "testjob__description__exact__x"},
     "callback": {"url": "http://h/{ID}", "header": "X-Token", "token": "t"}},
])
@pytest_twisted.ensureDeferred
async def test_good_notify_blocks_are_accepted(nlab: Any, block: dict[str, Any]) -> None:
    """Extra keys, the device-owner marker, profile-only recipients and valid custom
    query conditions are accepted."""
    assert await nlab.submit(block) > 0
