"""Request bodies read as LAVA's DRF serializers read them.

A write view declares its body as :class:`Field` s; :func:`parse` checks a
parsed body (JSON, or :class:`~lavad.http.rest.wire.FormData`) against them
and returns the values given, or raises the 400 DRF answers: one list of
messages per field, in declaration order (``{"name":["This field is
required."]}``), with DRF's texts.  Only the shape of values is checked here
(types, required, null, blank, length, choices); whether a named object exists
and every other rule is the domain's.

HTML-form semantics (a form or multipart body): a boolean or list field that
is absent means false or ``[]``, unless the write is partial; an empty value
means null for a nullable field that may not be blank.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lavad.http.rest.wire import FormData, HttpError

EMPTY: Any = object()   # a field the body does not give

# DRF's BooleanField inputs (1 also stands for True and 1.0, 0 for False and 0.0).
TRUE = {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
        "1", 1}
FALSE = {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off",
         "OFF", "0", 0}
NULLS = {"null", "Null", "NULL", "", None}
INT_MAX = 2 ** 31 - 1   # PostgreSQL's integer: what LAVA's database stores
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
BLANK = "This field may not be blank."


@dataclass(frozen=True)
class Field:
    """One body field.

    ``kind``: ``str``, ``int``, ``bool``, ``choice`` (one of ``choices``),
    ``email``, ``pk`` (a related object's primary key, ``pk_type`` ``int`` or
    ``str``), ``pks`` (a list of them), ``names`` (a list of related objects'
    names).
    """

    name: str
    kind: str = "str"
    required: bool = False
    null: bool = False
    blank: bool = False
    max_length: int | None = None
    min_value: int | None = None
    choices: tuple[str, ...] = ()
    pk_type: str = "int"
    trim: bool = True

    @property
    def many(self) -> bool:
        return self.kind in ("pks", "names")


def invalid(field: str, message: str) -> HttpError:
    return HttpError(400, {field: [message]})


def require_mapping(data: Any) -> Mapping[str, Any]:
    """The body as a mapping, or DRF's 400 for anything else (a list, a string...)."""
    if isinstance(data, Mapping):
        return data
    if data is None:
        raise HttpError(400, {"non_field_errors": ["No data provided"]})
    raise HttpError(400, {"non_field_errors": [
        "Invalid data. Expected a dictionary, but got %s." % type(data).__name__]})


def scalar(data: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A value the way LAVA's hand-written views read it: a form's last value."""
    value = data.get(name, default)
    if isinstance(data, FormData) and isinstance(value, list):
        return value[-1] if value else default
    return value


def parse(fields: Iterable[Field], data: Any, partial: bool = False) -> dict[str, Any]:
    """The values of ``fields`` that ``data`` gives (absent ones left out); 400 with
    every field's errors otherwise."""
    body = require_mapping(data)
    form = isinstance(body, FormData)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field in fields:
        raw = _get(field, body, form, partial)
        if raw is EMPTY:
            if field.required and not partial:
                errors[field.name] = [REQUIRED]
            continue
        try:
            values[field.name] = _value(field, raw)
        except ValueError as exc:
            errors[field.name] = [str(exc)]
    if errors:
        raise HttpError(400, errors)
    return values


def _get(field: Field, body: Mapping[str, Any], form: bool, partial: bool) -> Any:
    if not form:
        return body.get(field.name, EMPTY)
    if field.name not in body:
        if partial or not (field.many or field.kind == "bool"):
            return EMPTY
        return [] if field.many else False
    values = body[field.name]
    if field.many:
        return list(values)
    value = values[-1] if values else ""
    if value == "" and field.null and not field.blank:
        return None
    return value


def _value(field: Field, value: Any) -> Any:
    if value is None:
        if field.null:
            return None
        raise ValueError(NOT_NULL)
    kind = field.kind
    if kind in ("str", "email"):
        return _text(field, value)
    if kind == "int":
        return _integer(field, value)
    if kind == "bool":
        if isinstance(value, (list, dict)):
            raise ValueError("Must be a valid boolean.")
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        if field.null and value in NULLS:
            return None
        raise ValueError("Must be a valid boolean.")
    if kind == "choice":
        if value == "" and field.blank:
            return ""
        if isinstance(value, (str, int)) and not isinstance(value, bool) \
                and str(value) in field.choices:
            return str(value)
        raise ValueError('"%s" is not a valid choice.' % (value,))
    if kind == "pk":
        return _pk(field, value)
    if kind in ("pks", "names"):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
            raise ValueError('Expected a list of items but got type "%s".'
                             % type(value).__name__)
        if kind == "pks":
            return [_pk(field, item) for item in value]
        return [_name(item) for item in value]
    raise AssertionError("unknown field kind %r" % kind)


def _text(field: Field, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("Not a valid string.")
    text = str(value)
    if field.trim:
        text = text.strip()
    if text == "":
        if not field.blank:
            raise ValueError(BLANK)
        return text
    if field.max_length is not None and len(text) > field.max_length:
        raise ValueError("Ensure this field has no more than %d characters."
                         % field.max_length)
    if "\x00" in text:
        raise ValueError("Null characters are not allowed.")
    if field.kind == "email" and not EMAIL.match(text):
        raise ValueError("Enter a valid email address.")
    return text


def _integer(field: Field, value: Any) -> int:
    if isinstance(value, str) and len(value) > 1000:
        raise ValueError("String value too large.")
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        number = int(re.sub(r"\.0*\s*$", "", str(value)))
    except ValueError:
        raise ValueError("A valid integer is required.") from None
    minimum = field.min_value
    if minimum is not None and number < minimum:
        raise ValueError("Ensure this value is greater than or equal to %d." % minimum)
    if number > INT_MAX:
        raise ValueError("Ensure this value is less than or equal to %d." % INT_MAX)
    if number < -INT_MAX - 1:
        raise ValueError("Ensure this value is greater than or equal to %d." % (-INT_MAX - 1))
    return number


def _pk(field: Field, value: Any) -> Any:
    """A primary key as DRF's PrimaryKeyRelatedField takes it (existence is the domain's)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("Incorrect type. Expected pk value, received %s."
                         % type(value).__name__)
    if field.pk_type == "str":
        text = str(value)
        if not text or "\x00" in text:
            raise ValueError('Invalid pk "%s" - object does not exist.' % text)
        return text
    try:
        number = int(value) if not isinstance(value, str) else int(value.strip())
        if isinstance(value, float) and value != number:
            raise ValueError
    except (ValueError, OverflowError):
        raise ValueError("Incorrect type. Expected pk value, received %s."
                         % type(value).__name__) from None
    if not -INT_MAX - 1 <= number <= INT_MAX:
        raise ValueError('Invalid pk "%s" - object does not exist.' % value)
    return number


def _name(value: Any) -> str:
    """A related object named by a slug (DRF's SlugRelatedField)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("Invalid value.")
    text = str(value)
    if "\x00" in text:
        raise ValueError("Invalid value.")
    return text
