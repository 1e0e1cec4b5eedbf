"""RFC 9162 Merkle tree algorithms: hashes, proof generation from complete subtrees, verification.

Nothing here touches a store. The tree is the one of RFC 9162 §2.1.1 (Certificate Transparency
v2, the same as RFC 6962's): SHA-256, a leaf hashed as ``HASH(0x00 || data)`` and an interior
node as ``HASH(0x01 || left || right)`` — the prefixes keep a leaf from ever being passed off as
a node (domain separation, §2.1.1) — and MTH of an n-leaf list splitting at the largest power of
two *smaller* than n, so the tree is left-full and grows only on its right edge.

**Generation** (§2.1.3.1 PATH, §2.1.4.1 PROOF/SUBPROOF) is written as the RFC's recursion, but
over leaf *ranges* instead of hashes: `inclusion_ranges` and `consistency_ranges` return, in
proof order, the ranges ``[start, end)`` whose MTH the proof carries. Every such range is a
subtree of the RFC tree, so it splits into at most log2(n) *complete* subtrees
(`complete_subtrees`), and a complete subtree's hash never changes once its last leaf is in. A
store that keeps the hash of every complete subtree (`node_id` numbers them) therefore answers
any proof, for the current or any older tree size, from O(log n) node reads: the caller
collects `proof_node_ids`, reads them in one query and hands them over as a `NodeSource`.

**Verification** (`verify_inclusion`, §2.1.3.2; `verify_consistency`, §2.1.4.2) follows the
RFC's numbered steps literally, each one commented. Around them, the edge cases the RFC leaves
to the implementation are decided as transparency-dev/merkle decides them (its published probes
are in the tests): every hash must be 32 bytes; equal tree sizes need an empty proof and equal
roots; a consistency proof from the empty tree is refused (the RFC defines PROOF only for
``0 < m < n``, and any tree "extends" the empty one, so such a proof would prove nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "NodeSource",
    "TreeBuilder",
    "complete_subtrees",
    "consistency_proof",
    "consistency_ranges",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "node_id",
    "proof_node_ids",
    "range_hash",
    "root",
    "root_node_ids",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
#: MTH({}) = SHA-256 of the empty string (§2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Answers the hash of the complete subtree ``(level, index)``: leaves ``index·2^level`` to
#: ``(index+1)·2^level − 1``. Level 0 is the leaf hashes.
NodeSource = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = HASH(0x00 || d)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1), where MTH splits D_n (§2.1.1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, built bottom-up in one pass (O(n) time, O(log n) memory)."""
    builder = TreeBuilder()
    for value in leaf_hashes:
        builder.append(value)
    return builder.root()


def node_id(level: int, index: int) -> int:
    """The in-order position of complete subtree ``(level, index)``: one integer key per node.

    Leaf ``i`` is ``2i`` and a node sits between its two children, so ids are unique, never
    change as the tree grows, and those of a subtree fall inside the range of its leaves' ids.
    """
    return (index << (level + 1)) + (1 << level) - 1


class TreeBuilder:
    """Appends leaf hashes and reports every complete subtree as it completes.

    Keeps only the right edge of the tree (the complete subtrees of the binary decomposition of
    its size, largest first): the MTH of the whole is their right fold, since MTH splits at the
    largest power of two smaller than n. Used for appends (`exchange.audit.log`), for the full
    recomputation in `exchange.audit.verify` and for bulk loads.
    """

    __slots__ = ("_edge", "size")

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        """Resume a tree of ``size`` leaves from the hashes of its `edge_nodes`."""
        if len(edge) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} edge nodes")
        self.size = size
        self._edge = list(edge)

    @staticmethod
    def edge_nodes(size: int) -> list[tuple[int, int]]:
        """``(level, index)`` of the complete subtrees that make a tree of ``size`` leaves."""
        nodes, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                nodes.append((level, start >> level))
                start += 1 << level
        return nodes

    def append(self, value: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return ``(level, index, hash)`` of it and of each node it completes."""
        index = self.size
        completed = [(0, index, value)]
        level = 0
        # every 1 bit at the bottom of the old size is a left sibling waiting for this subtree
        while index >> level & 1:
            value = node_hash(self._edge.pop(), value)
            level += 1
            completed.append((level, index >> level, value))
        self._edge.append(value)
        self.size += 1
        return completed

    @property
    def edge(self) -> list[bytes]:
        return list(self._edge)

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        value = self._edge[-1]
        for left in reversed(self._edge[:-1]):
            value = node_hash(left, value)
        return value


# --- generation: RFC 9162 §2.1.3.1 and §2.1.4.1 over leaf ranges ------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """PATH(m, D_n) of §2.1.3.1 as the leaf ranges whose MTH it lists, bottom-up.

    PATH(0, {d0}) = {}; for n > 1 with k the split: PATH(m, D[n]) = PATH(m, D[0:k]) :
    MTH(D[k:n]) when m < k, else PATH(m − k, D[k:n]) : MTH(D[0:k]).
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # the recursion appends on the way back up: deepest sibling first
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """PROOF(m, D_n) = SUBPROOF(m, D_n, true) of §2.1.4.1 as leaf ranges, in proof order.

    SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}; for m < n with k the
    split: SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) when m <= k, else
    SUBPROOF(m − k, D[k:n], false) : MTH(D[0:k]).
    """
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size} leaves")
    ranges: list[tuple[int, int]] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def complete_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees ``(level, index)`` whose right fold is MTH(D[start:end]), in order.

    Valid for the ranges MTH's recursion produces: ``start`` is a multiple of a power of two at
    least as large as the range, so taking the largest power of two that fits, left to right,
    follows the split exactly.
    """
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"[{start}, {end}) is not a subtree of an RFC 9162 tree")
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def range_hash(start: int, end: int, node: NodeSource) -> bytes:
    """MTH(D[start:end]) from the complete subtrees' hashes."""
    hashes = [node(level, index) for level, index in complete_subtrees(start, end)]
    value = hashes[-1]
    for left in reversed(hashes[:-1]):
        value = node_hash(left, value)
    return value


def root_node_ids(size: int) -> list[int]:
    """The nodes `range_hash` reads for the root of a tree of ``size`` leaves."""
    return [node_id(level, index) for level, index in TreeBuilder.edge_nodes(size)]


def proof_node_ids(ranges: Iterable[tuple[int, int]]) -> set[int]:
    """Every node id `range_hash` reads for these ranges: one query's worth for a store."""
    return {
        node_id(level, index)
        for start, end in ranges
        for level, index in complete_subtrees(start, end)
    }


def inclusion_proof(index: int, size: int, node: NodeSource) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (§2.1.3.1)."""
    return [range_hash(start, end, node) for start, end in inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, node: NodeSource) -> list[bytes]:
    """The consistency proof from ``old_size`` to ``new_size`` leaves (§2.1.4.1)."""
    return [range_hash(s, e, node) for s, e in consistency_ranges(old_size, new_size)]


# --- verification: RFC 9162 §2.1.3.2 and §2.1.4.2, step by step ------------------------------


def _hashes_ok(*hashes: bytes, proof: Sequence[bytes] = ()) -> bool:
    return all(len(value) == HASH_SIZE for value in (*hashes, *proof))


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree ``(size, root_hash)``."""
    if not _hashes_ok(leaf, root_hash, proof=proof) or index < 0:
        return False
    # 1. If leaf_index is greater than or equal to tree_size, fail.
    if index >= size:
        return False
    # 2. Set fn to leaf_index and sn to tree_size - 1.
    fn, sn = index, size - 1
    # 3. Set r to hash.
    r = leaf
    # 4. For each value p in the inclusion_path array:
    for p in proof:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set r to HASH(0x01 || p || r).
            r = node_hash(p, r)
            # ii. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #     LSB(fn) is set or fn is 0.
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        # Otherwise: i. Set r to HASH(0x01 || r || p).
        else:
            r = node_hash(r, p)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the
    #    root_hash are equal, then the log has proven the inclusion of hash.
    return sn == 0 and r == root_hash


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows tree ``(new_size, new_root)`` extends ``(old_size, old_root)``."""
    # Edge cases outside the RFC's algorithm (module docstring).
    if old_size <= 0 or new_size < old_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not _hashes_ok(old_root, new_root, proof=proof):
        return False
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if not proof:
        return False
    path = list(proof)
    # 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3. Set fn to first - 1 and sn to second - 1.
    fn, sn = old_size - 1, new_size - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set fr to HASH(0x01 || c || fr).
            fr = node_hash(c, fr)
            # ii. Set sr to HASH(0x01 || c || sr).
            sr = node_hash(c, sr)
            # iii. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #      LSB(fn) is set or fn is 0.
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        # Otherwise: i. Set sr to HASH(0x01 || sr || c).
        else:
            sr = node_hash(sr, c)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 7. Verify that the fr calculated is equal to the first_hash supplied, that the sr
    #    calculated is equal to the second_hash value supplied, and that sn is 0.
    return fr == old_root and sr == new_root and sn == 0
