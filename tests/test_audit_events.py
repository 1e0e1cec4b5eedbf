"""Audit events: the leaf data is RFC 8785 JSON byte for byte, subjects are keyed hashes only."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.audit.events import (
    AuditEvent,
    AuditEventError,
    AuditKind,
    leaf_data,
    leaf_fields,
    subject_hash,
    subject_key,
)

KEY = subject_key(b"a secret")
TIME = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
names = st.text(min_size=1).filter(str.strip)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(list(AuditKind)),
    actor=names,
    role=names,
    purpose=st.none() | names,
    item=st.none() | names,
    details=st.dictionaries(st.text(), json_values, max_size=5),
    index=st.integers(0, 2**53 - 1),
    offset=st.integers(0, 10**9),
)
def test_leaf_data_is_rfc8785_of_the_fields(
    kind, actor, role, purpose, item, details, index, offset
):
    event = AuditEvent(kind, actor, role, purpose, item, "11010519491231002X", details)
    moment = TIME + timedelta(microseconds=offset)
    try:
        data = leaf_data(event, index=index, recorded_at=moment, key=KEY)
    except AuditEventError as exc:  # only when a generated text happened to contain the ID
        assert "subject's identifier" in str(exc)
        return
    fields = leaf_fields(event, index=index, recorded_at=moment, key=KEY)
    assert data == rfc8785.dumps(fields)


def test_subject_is_stored_only_as_a_keyed_hash() -> None:
    event = AuditEvent(AuditKind.LOOKUP, "platform", "acceptance_platform", subject="110105X")
    data = leaf_data(event, index=0, recorded_at=TIME, key=KEY)
    assert b"110105X" not in data
    expected = hmac.new(KEY, b"110105X", hashlib.sha256).hexdigest()
    assert subject_hash("110105X", KEY) == expected
    assert expected.encode() in data
    assert subject_key(b"another secret") != KEY  # another exchange's hashes do not match


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "peek"}, "unknown audit kind 'peek'"),
        ({"actor": " "}, "actor must be a non-empty string"),
        ({"role": ""}, "role must be a non-empty string"),
        ({"purpose": ""}, "purpose must be a non-empty string or None"),
        ({"details": ["x"]}, "details must be a mapping"),
    ],
)
def test_bad_events_are_refused_naming_the_field(arguments: dict, message: str) -> None:
    fields = {"kind": "lookup", "actor": "a", "role": "r"} | arguments
    with pytest.raises(AuditEventError, match=message):
        AuditEvent(**fields)


def test_details_must_not_carry_the_identifier_or_non_json() -> None:
    leaky = AuditEvent("lookup", "a", "r", subject="110105X", details={"id": "110105X"})
    with pytest.raises(AuditEventError, match="contain the subject's identifier"):
        leaf_data(leaky, index=0, recorded_at=TIME, key=KEY)
    with pytest.raises(AuditEventError, match="not canonical JSON"):
        leaf_data(
            AuditEvent("lookup", "a", "r", details={"n": 2**60}), index=0, recorded_at=TIME, key=KEY
        )
    with pytest.raises(AuditEventError, match="timezone-aware"):
        leaf_data(
            AuditEvent("lookup", "a", "r"), index=0, recorded_at=datetime(2026, 1, 1), key=KEY
        )
