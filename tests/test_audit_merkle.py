"""RFC 9162 Merkle tree: transparency-dev's published vectors and a naive second implementation.

The naive functions below are RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF,
SUBPROOF) transcribed as recursion over the leaf data itself, sharing nothing with
`exchange.audit.merkle` but SHA-256. The module's range-based generation, reading only complete
subtrees, must give the same hashes for every size, and its verifiers must accept exactly them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.audit import merkle

VECTORS = json.loads(
    Path("/work/shared/acceptance_vectors/transparency_dev_merkle.json").read_text()
)


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


# --- the naive reference: RFC 9162 §2.1 definitions, word for word --------------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return _sha(b"")
    if len(d) == 1:
        return _sha(b"\x00" + d[0])
    k = _k(len(d))
    return _sha(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def _data(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def _source(d: list[bytes]) -> merkle.NodeSource:
    """Complete subtrees computed naively: what a store would hold."""
    return lambda level, index: mth(d[index << level : (index + 1) << level])


# --- published vectors ------------------------------------------------------------------------


def test_hasher_matches_rfc6962_vectors() -> None:
    hasher = VECTORS["rfc6962_hasher"]
    assert merkle.EMPTY_ROOT.hex() == hasher["empty_root"]
    assert merkle.leaf_hash(b"").hex() == hasher["empty_leaf"]
    assert merkle.leaf_hash(b"L123456").hex() == hasher["leaf_L123456"]
    assert merkle.node_hash(b"N123", b"N456").hex() == hasher["node_N123_N456"]


def test_roots_match_published_roots_for_every_size() -> None:
    leaves = [bytes.fromhex(value) for value in VECTORS["leaf_inputs"]]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    for size, expected in enumerate(VECTORS["root_hashes"]):
        assert merkle.root(hashes[:size]).hex() == expected
        assert mth(leaves[:size]).hex() == expected  # the naive reference agrees too


@pytest.mark.parametrize(
    "probe",
    VECTORS["inclusion"],
    ids=[p["path"].removeprefix("testdata/") for p in VECTORS["inclusion"]],
)
def test_inclusion_probes(probe: dict) -> None:
    proof = [_b64(element) for element in probe["proof"] or []]
    verified = merkle.verify_inclusion(
        probe["leafIdx"], probe["treeSize"], _b64(probe["leafHash"]), proof, _b64(probe["root"])
    )
    assert verified is not probe["wantErr"], probe["desc"]


@pytest.mark.parametrize(
    "probe",
    VECTORS["consistency"],
    ids=[p["path"].removeprefix("testdata/") for p in VECTORS["consistency"]],
)
def test_consistency_probes(probe: dict) -> None:
    proof = [_b64(element) for element in probe["proof"] or []]
    verified = merkle.verify_consistency(
        probe["size1"], probe["size2"], _b64(probe["root1"]), _b64(probe["root2"]), proof
    )
    assert verified is not probe["wantErr"], probe["desc"]


def test_generation_reproduces_the_published_happy_paths() -> None:
    leaves = [bytes.fromhex(value) for value in VECTORS["leaf_inputs"]]
    node = _source(leaves)
    for probe in (p for p in VECTORS["inclusion"] if not p["wantErr"] and p["proof"]):
        size = probe["treeSize"]
        produced = merkle.inclusion_proof(probe["leafIdx"], size, node)
        assert produced == [_b64(element) for element in probe["proof"]]
    for probe in (p for p in VECTORS["consistency"] if not p["wantErr"] and p["proof"]):
        produced = merkle.consistency_proof(probe["size1"], probe["size2"], node)
        assert produced == [_b64(element) for element in probe["proof"]]


# --- against the naive reference --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_proof_equals_rfc_path_and_verifies(case: tuple[int, int]) -> None:
    size, index = case
    d = _data(size)
    proof = merkle.inclusion_proof(index, size, _source(d))
    assert proof == path(index, d)
    root = mth(d)
    leaf = merkle.leaf_hash(d[index])
    assert merkle.verify_inclusion(index, size, leaf, proof, root)
    assert merkle.range_hash(0, size, _source(d)) == root
    # the proof proves nothing else: another index, leaf or root fails (the size is bound to
    # the root by the signed checkpoint: a proof for leaf 0 of 3 also fits a tree of 4)
    assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"x"), proof, root)
    assert not merkle.verify_inclusion(index, size, leaf, proof, merkle.leaf_hash(b"x"))
    if size > 1:
        other = (index + 1) % size
        assert not merkle.verify_inclusion(other, size, leaf, proof, root)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_proof_equals_rfc_subproof_and_verifies(case: tuple[int, int]) -> None:
    old, new = case
    d = _data(new)
    proof = merkle.consistency_proof(old, new, _source(d))
    assert proof == subproof(old, d, True)
    old_root, new_root = mth(d[:old]), mth(d)
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)
    if old < new:
        assert not merkle.verify_consistency(old, new, new_root, old_root, proof)
        assert not merkle.verify_consistency(old, new, mth(d[: old - 1]), new_root, proof)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_tampering_any_proof_element_fails(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, 200))
    d = _data(size)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size - 1))
    inclusion = merkle.inclusion_proof(index, size, _source(d))
    consistency = merkle.consistency_proof(old, size, _source(d))
    root, leaf = mth(d), merkle.leaf_hash(d[index])
    for proof, check in (
        (inclusion, lambda p: merkle.verify_inclusion(index, size, leaf, p, root)),
        (consistency, lambda p: merkle.verify_consistency(old, size, mth(d[:old]), root, p)),
    ):
        position = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = bytearray(proof[position])
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not check([*proof[:position], bytes(flipped), *proof[position + 1 :]])
        assert not check(proof[:position] + proof[position + 1 :])  # removed
        assert not check([*proof, root])  # appended


def test_tree_builder_reports_every_complete_subtree_once() -> None:
    d = _data(37)
    builder = merkle.TreeBuilder()
    seen: dict[int, bytes] = {}
    for value in d:
        for level, index, digest in builder.append(merkle.leaf_hash(value)):
            node = merkle.node_id(level, index)
            assert node not in seen
            seen[node] = digest
            assert digest == mth(d[index << level : (index + 1) << level])
        assert builder.root() == mth(d[: builder.size])
    assert len(seen) == 2 * 37 - (37).bit_count()  # a leaf per entry, n - popcount(n) nodes
    resumed = merkle.TreeBuilder(37, [seen[i] for i in merkle.root_node_ids(37)])
    assert resumed.root() == mth(d)


def test_node_ids_are_unique_and_inside_their_leaves() -> None:
    ids = set()
    for level in range(6):
        for index in range(64 >> level):
            node = merkle.node_id(level, index)
            assert 2 * (index << level) <= node <= 2 * (((index + 1) << level) - 1)
            ids.add(node)
    assert len(ids) == sum(64 >> level for level in range(6))


def test_generation_refuses_impossible_requests() -> None:
    with pytest.raises(ValueError, match="not in a tree of 4 leaves"):
        merkle.inclusion_ranges(4, 4)
    with pytest.raises(ValueError, match="no consistency proof from 0 to 4"):
        merkle.consistency_ranges(0, 4)
    with pytest.raises(ValueError, match="not a subtree"):
        merkle.complete_subtrees(1, 3)
