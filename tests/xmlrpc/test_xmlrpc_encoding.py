"""encode_response: a string result written directly, byte for byte what xmlrpc.client writes."""

from __future__ import annotations

import xmlrpc.client

import pytest

from lavad.xmlrpc.dispatch import Fault
from lavad.xmlrpc.resource import encode_response, escape

TEXTS = ["", "plain", "&", "<", ">", "a & b < c > d", "&amp;&lt;&gt;", "]]>", "<![CDATA[x]]>",
         "<value><string>x</string></value>", "\u00e9t\u00e9 \u2603 \U0001f600",
         "\x00\x01\x08\x0b\x0c\x1f\x7f", "\r\n\t\r", "'\"", "- name: x\n  job: '2'\n" * 500]


def _stdlib(value: object) -> bytes:
    return xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True).encode("utf-8")


@pytest.mark.parametrize("text", TEXTS, ids=repr)
def test_string_response_is_what_xmlrpc_client_writes(text: str) -> None:
    """A string's methodResponse equals xmlrpc.client.dumps's, escaping and all."""
    assert escape(text) == xmlrpc.client.escape(text)
    assert encode_response(text) == _stdlib(text)
    if not any(c < " " and c not in "\n\t" for c in text):  # XML refuses the others
        assert xmlrpc.client.loads(encode_response(text))[0] == (text,)


@pytest.mark.parametrize("value", [0, None, ["a", "<"], {"k": "&"}, b"x", True],
                         ids=repr)
def test_other_values_still_go_through_xmlrpc_client(value: object) -> None:
    """Values other than strings (and str subclasses) are written by xmlrpc.client."""
    assert encode_response(value) == _stdlib(value)


def test_a_str_subclass_and_a_fault_are_written_as_before() -> None:
    """A str subclass (which xmlrpc.client cannot send) and a Fault take the general path."""
    class Text(str):
        pass

    assert b"<fault>" in encode_response(Text("a<b"))
    fault = Fault(404, "Job <7> & co")
    assert encode_response(fault) == xmlrpc.client.dumps(
        fault, methodresponse=True, allow_none=True).encode("utf-8")


def test_unencodable_string_raises_as_before() -> None:
    """A lone surrogate fails to encode in both, as it did."""
    with pytest.raises(UnicodeEncodeError):
        _stdlib("\ud800")
    with pytest.raises(UnicodeEncodeError):
        encode_response("\ud800")
