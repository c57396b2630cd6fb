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


# The signature's positions in three bands. Two signatures with at least
# NEAR_DUPLICATE_MATCHES (6) of 8 minima equal differ in at most 2 positions, so at least one
# of three bands is equal as a whole: looking a signature up by each band finds every near
# copy (no false misses, unlike MinHash LSH with random bands), and candidates are then checked
# exactly. This is what makes collapsing linear in the number of hits instead of comparing
# every pair (a 20,000-hit pool was a 3 GB matrix).
_BANDS = ((0, 1, 2), (3, 4, 5), (6, 7))
assert SIGNATURE_SIZE - NEAR_DUPLICATE_MATCHES < len(_BANDS) and sorted(sum(_BANDS, ())) == list(range(SIGNATURE_SIZE))


def first_near_copies(signatures: np.ndarray) -> np.ndarray:
    """For rows of signatures in ranked order: the row each one folds into — the first earlier
    row, itself not folded, that it is a near copy of — or -1 for a row that stays. The same
    answer as scanning ``near_copy_matrix`` row by row, in time linear in the rows."""
    n = len(signatures)
    into = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return into
    rows = [tuple(map(int, row)) for row in signatures]
    empty = (signatures == EMPTY).all(axis=1)
    keys = [[tuple(row[p] for p in band) for row in rows] for band in _BANDS]
    buckets: list[dict[tuple, list[int]]] = [{} for _ in _BANDS]  # band value -> rows kept, ascending
    for i, row in enumerate(rows):
        if empty[i]:
            continue  # too short to have a signature: near copies of nothing
        first = -1
        for band, bucket in enumerate(buckets):
            for k in bucket.get(keys[band][i], ()):
                if first != -1 and k >= first:
                    break
                if sum(a == b for a, b in zip(row, rows[k])) >= NEAR_DUPLICATE_MATCHES:
                    first = k
                    break
        if first >= 0:
            into[i] = first
        else:
            for band, bucket in enumerate(buckets):
                bucket.setdefault(keys[band][i], []).append(i)
    return into
