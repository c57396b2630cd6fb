"""Near-duplicate signatures: the same story with small edits, in two sources or two crawls.

Exact copies (same normalised body) are merged when the index is built. Near copies — a
reworded lead, a different footer, a corrected figure — are found at query time among the
hits, by comparing a small MinHash signature stored for each article: the estimated share of
word trigrams ("shingles") two bodies have in common. Eight 16-bit minima per article (16
bytes) tell a near copy (≥ 0.75 estimated) from a related story (typically < 0.2).
"""

from __future__ import annotations

import numpy as np

SIGNATURE_SIZE = 8
NEAR_DUPLICATE_MATCHES = 6  # of SIGNATURE_SIZE minima equal: Jaccard estimate ≥ 0.75
_PRIME = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20261125)  # fixed: signatures must be comparable across builds
_A = _rng.integers(1, 1 << 31, SIGNATURE_SIZE, dtype=np.uint64)
_B = _rng.integers(0, 1 << 31, SIGNATURE_SIZE, dtype=np.uint64)
EMPTY = np.full(SIGNATURE_SIZE, 0xFFFF, dtype=np.uint16)


def signature(syllable_hashes: np.ndarray) -> np.ndarray:
    """MinHash of the word trigrams of a text, from the stable hashes of its folded syllables."""
    h = syllable_hashes.astype(np.uint64)
    if h.size < 3:
        return EMPTY.copy()
    shingles = (h[:-2] * np.uint64(0x9E3779B1) + h[1:-1]) * np.uint64(0x85EBCA77) + h[2:]
    shingles &= np.uint64(0xFFFFFFFF)
    mixed = (shingles[None, :] * _A[:, None] + _B[:, None]) % _PRIME
    return (mixed.min(axis=1) & np.uint64(0xFFFF)).astype(np.uint16)


def near_copy_matrix(signatures: np.ndarray) -> np.ndarray:
    """For rows of signatures, which pairs are near copies of each other (boolean matrix).
    Texts too short to have a signature are near copies of nothing."""
    same = (signatures[:, None, :] == signatures[None, :, :]).sum(axis=2) >= NEAR_DUPLICATE_MATCHES
    empty = (signatures == EMPTY).all(axis=1)
    same[empty, :] = False
    same[:, empty] = False
    return same
