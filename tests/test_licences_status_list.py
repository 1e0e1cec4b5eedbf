"""Bitstring Status List v1.0: the spec's example list, bit order, a hand-written decoder as the
reference, the validate algorithm's checks and random index allocation."""

from __future__ import annotations

import base64
import gzip
import itertools
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licences import status_list
from licences.errors import LicenceError, MalformedDocument, StatusListFull
from licences.status_list import MIN_ENTRIES, Bitstring

# Bitstring Status List v1.0 §2.2, Example 3: an all-zero list of the minimum size.
SPEC_ENCODED_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
LIST_URL = "https://example.com/credentials/status/3"


def _by_hand(encoded: str) -> bytes:
    """§3.4 with the standard library only: strip 'u', base64url-decode, gunzip."""
    assert encoded[0] == "u"
    text = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _encode_by_hand(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(gzip.compress(data, mtime=0)).decode().rstrip("=")


def test_spec_example_list_decodes_to_the_minimum_all_zero_list() -> None:
    bits = Bitstring.decode(SPEC_ENCODED_LIST)
    assert len(bits) == MIN_ENTRIES == 131_072
    assert bytes(bits) == bytes(16 * 1024) == _by_hand(SPEC_ENCODED_LIST)
    assert bits == Bitstring()


def test_index_zero_is_the_most_significant_bit_of_the_first_byte() -> None:
    bits = Bitstring()
    bits.set(0, True)
    assert bytes(bits)[:2] == b"\x80\x00"
    bits.set(9, True)
    assert bytes(bits)[:2] == b"\x80\x40"
    bits.set(MIN_ENTRIES - 1, True)
    assert bytes(bits)[-1] == 0x01
    bits.set(0, False)
    assert bytes(bits)[:2] == b"\x00\x40"
    assert bits.get(9) and not bits.get(0) and not bits.get(8)


@settings(max_examples=30, deadline=None)
@given(st.sets(st.integers(0, MIN_ENTRIES - 1), max_size=50))
def test_round_trip_and_hand_decoding(indices: set[int]) -> None:
    bits = Bitstring()
    for index in indices:
        bits.set(index, True)
    encoded = bits.encode()
    decoded = Bitstring.decode(encoded)
    assert decoded == bits
    assert {i for i in range(MIN_ENTRIES) if decoded.get(i)} == indices
    raw = _by_hand(encoded)  # an independent reading: byte i, bit 7 - (index % 8)
    assert {i for i in range(MIN_ENTRIES) if raw[i // 8] >> (7 - i % 8) & 1} == indices
    assert Bitstring.decode(_encode_by_hand(raw)) == bits  # and a list encoded by others


def test_encoding_is_deterministic() -> None:
    assert Bitstring().encode() == Bitstring().encode()


def test_larger_lists() -> None:
    bits = Bitstring(MIN_ENTRIES * 2)
    bits.set(MIN_ENTRIES * 2 - 1, True)
    decoded = Bitstring.decode(bits.encode())
    assert len(decoded) == MIN_ENTRIES * 2 and decoded.get(MIN_ENTRIES * 2 - 1)


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        (SPEC_ENCODED_LIST[1:], "multibase"),  # no 'u'
        ("z" + SPEC_ENCODED_LIST[1:], "multibase"),
        (SPEC_ENCODED_LIST + "==", "base64url"),
        (SPEC_ENCODED_LIST.replace("-", "+"), "base64url"),
        ("u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="), "GZIP"),
        (SPEC_ENCODED_LIST[:-8], "truncated|GZIP"),
        (_encode_by_hand(bytes(1024)), "at least 131072"),
        (
            "u"
            + base64.urlsafe_b64encode(gzip.compress(bytes(16384), mtime=0) * 2)
            .decode()
            .rstrip("="),
            "after the GZIP member",
        ),
        (None, "multibase"),
    ],
)
def test_decode_refuses(encoded: object, message: str) -> None:
    with pytest.raises(MalformedDocument, match=message):
        Bitstring.decode(encoded)  # type: ignore[arg-type]


def test_decode_refuses_a_gzip_bomb() -> None:
    bomb = _encode_by_hand(bytes(status_list.MAX_BYTES + 1))
    assert len(bomb) < 40_000
    with pytest.raises(MalformedDocument, match="expands past"):
        Bitstring.decode(bomb)


def test_bitstring_arguments() -> None:
    with pytest.raises(ValueError, match="at least"):
        Bitstring(MIN_ENTRIES - 8)
    with pytest.raises(ValueError, match="multiple of 8"):
        Bitstring(MIN_ENTRIES + 1)
    with pytest.raises(ValueError, match="bits"):
        Bitstring(MIN_ENTRIES, bytes(10))
    bits = Bitstring()
    for index in (-1, MIN_ENTRIES, True):
        with pytest.raises(IndexError):
            bits.get(index)  # type: ignore[arg-type]


def test_status_entry_matches_the_spec_example() -> None:
    # Bitstring Status List v1.0 §2.1, Example 2.
    assert status_list.status_entry(list_url=LIST_URL, index=94567, purpose="revocation") == {
        "id": "https://example.com/credentials/status/3#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://example.com/credentials/status/3",
    }
    with pytest.raises(ValueError, match="statusPurpose"):
        status_list.status_entry(list_url=LIST_URL, index=1, purpose="message")
    with pytest.raises(ValueError, match="statusListIndex"):
        status_list.status_entry(list_url=LIST_URL, index=-1, purpose="revocation")


def test_status_list_credential_shape() -> None:
    bits = Bitstring.decode(SPEC_ENCODED_LIST)
    document = status_list.status_list_credential(
        list_url=LIST_URL,
        issuer="did:example:12345",
        purpose="revocation",
        bits=bits,
        valid_from=datetime(2021, 4, 5, 14, 27, 40, tzinfo=UTC),
    )
    assert document == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "did:example:12345",
        "validFrom": "2021-04-05T14:27:40Z",
        "credentialSubject": {
            "id": LIST_URL + "#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": bits.encode(),
        },
    }
    assert _by_hand(document["credentialSubject"]["encodedList"]) == _by_hand(SPEC_ENCODED_LIST)
    later = status_list.status_list_credential(
        list_url=LIST_URL,
        issuer="did:example:12345",
        purpose="suspension",
        bits=bits,
        valid_from=datetime(2021, 4, 5, tzinfo=UTC),
        valid_until=datetime(2021, 4, 6, tzinfo=UTC),
    )
    assert later["validUntil"] == "2021-04-06T00:00:00Z"


def _list(purpose: str = "revocation", set_bits: tuple[int, ...] = (94567,)) -> dict:
    bits = Bitstring()
    for index in set_bits:
        bits.set(index, True)
    return status_list.status_list_credential(
        list_url=LIST_URL,
        issuer="did:example:12345",
        purpose=purpose,
        bits=bits,
        valid_from=datetime(2021, 4, 5, tzinfo=UTC),
    )


def test_status_of_reads_the_bit() -> None:
    revoked = status_list.status_entry(list_url=LIST_URL, index=94567, purpose="revocation")
    fine = status_list.status_entry(list_url=LIST_URL, index=94566, purpose="revocation")
    assert status_list.status_of(_list(), revoked) is True
    assert status_list.status_of(_list(), fine) is False
    # A list that states several purposes (§3.2 step 5 note).
    several = _list()
    several["credentialSubject"]["statusPurpose"] = ["suspension", "revocation"]
    assert status_list.status_of(several, revoked) is True


def _entry(**change: object) -> dict:
    return status_list.status_entry(list_url=LIST_URL, index=5, purpose="revocation") | change


@pytest.mark.parametrize(
    ("list_credential", "entry", "message"),
    [
        (_list("suspension"), _entry(), "purpose"),
        (_list(), _entry(statusListCredential=LIST_URL + "/other"), "another status list"),
        (_list(), _entry(type="StatusList2021Entry"), "BitstringStatusListEntry"),
        (_list(), _entry(statusListIndex="-5"), "decimal digits"),
        (_list(), _entry(statusListIndex=5), "decimal digits"),
        (_list(), _entry(statusListIndex="５"), "decimal digits"),
        (_list(), _entry(statusListIndex=str(MIN_ENTRIES)), "past the end"),
        (_list(), _entry(statusSize=2), "statusSize"),
        (_list(), {"type": "BitstringStatusListEntry"}, "statusPurpose"),
        (_list() | {"type": ["VerifiableCredential"]}, _entry(), "BitstringStatusListCredential"),
        (
            _list() | {"credentialSubject": {"statusPurpose": "revocation"}},
            _entry(),
            "encodedList",
        ),
        (
            _list() | {"credentialSubject": {"statusPurpose": "revocation", "encodedList": "u"}},
            _entry(),
            "GZIP",
        ),
    ],
)
def test_status_of_refuses(list_credential: dict, entry: dict, message: str) -> None:
    with pytest.raises(MalformedDocument, match=message):
        status_list.status_of(list_credential, entry)


def test_random_index_avoids_taken_indices() -> None:
    rng = random.Random(4)
    taken = set(range(0, 1000, 2))
    draws = [status_list.random_index(1000, taken, rng) for _ in range(2000)]
    assert all(index % 2 == 1 for index in draws)
    assert set(draws) <= set(range(1000))
    assert len(set(draws)) > 400  # most of the 500 free indices come up


def test_random_index_is_spread_not_sequential() -> None:
    taken: set[int] = set()
    draws = []
    for _ in range(1000):
        index = status_list.random_index(MIN_ENTRIES, taken)  # the default: secrets
        taken.add(index)
        draws.append(index)
    assert len(set(draws)) == 1000
    assert draws != sorted(draws)
    consecutive = sum(1 for a, b in itertools.pairwise(draws) if b == a + 1)
    assert consecutive < 10
    # Both halves of the list are used.
    assert 300 < sum(1 for index in draws if index < MIN_ENTRIES // 2) < 700


def test_random_index_on_a_nearly_full_list_finds_the_last_free_index() -> None:
    taken = set(range(10_000)) - {7777}
    assert status_list.random_index(10_000, taken, random.Random(1)) == 7777


def test_random_index_when_full() -> None:
    with pytest.raises(StatusListFull) as caught:
        status_list.random_index(100, set(range(100)), random.Random(1))
    assert isinstance(caught.value, LicenceError) and caught.value.status == 409
    with pytest.raises(ValueError):
        status_list.random_index(0, set())
