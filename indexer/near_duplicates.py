"""Near-duplicate signatures: the same story with small edits, in two sources or two crawls.

Exact copies (same normalised body) are merged when the index is built. Near copies — a
reworded lead, a different footer, a corrected figure — are found at query time among the
hits, by comparing a small MinHash signature stored for each article: the estimated share of
word trigrams ("shingles") two bodies have in common. Thirty-two 16-bit minima per article
(64 bytes) tell a near copy (≥ 0.625 estimated) from a related story (typically < 0.2).
"""

from __future__ import annotations

import numpy as np

# 32 minima, near copies when 20 agree (an estimated word-trigram Jaccard ≥ 0.625): with
# independent slots the count of equal minima is binomial, so an edited repost (Jaccard 0.8)
# folds 99.4% of the time and two stories that share half their trigrams 8%; eight slots and
# six matches folded the repost only 82% of the time and the half-alike pair 22%.
SIGNATURE_SIZE = 32
NEAR_DUPLICATE_MATCHES = 20
# Which signature() a segment's signatures were made with (its description says so): only
# signatures of this scheme are compared (older ones stand as EMPTY: near copies of nothing).
# Scheme 1 mixed each shingle with (x·A + B) mod p for A, B < 2³¹, which for most x never
# wraps and so keeps their order: most of the 8 minima were the same shingle, the smallest,
# and two articles that shared one small trigram looked like copies (72% of the pairs folded
# on VNTC had a word-trigram Jaccard below 0.2). Scheme 2 mixes each slot with splitmix64, a
# bijection whose every output bit depends on every input bit, and has 32 slots instead of 8.
SIGNATURE_SCHEME = 2
_SEEDS = np.random.default_rng(20261125).integers(0, 1 << 64, SIGNATURE_SIZE, dtype=np.uint64)  # fixed across builds
EMPTY = np.full(SIGNATURE_SIZE, 0xFFFF, dtype=np.uint16)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 (arithmetic wraps by design)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def signature(syllable_hashes: np.ndarray) -> np.ndarray:
    """MinHash of the word trigrams of a text, from the stable hashes of its folded syllables:
    per slot, the top 16 bits of the least of its shingles mixed with that slot's seed."""
    h = syllable_hashes.astype(np.uint64)
    if h.size < 3:
        return EMPTY.copy()
    with np.errstate(over="ignore"):
        shingles = (h[:-2] * np.uint64(0x9E3779B1) + h[1:-1]) * np.uint64(0x85EBCA77) + h[2:]
        shingles &= np.uint64(0xFFFFFFFF)
        mixed = _splitmix64(shingles[None, :] ^ _SEEDS[:, None])
    return (mixed.min(axis=1) >> np.uint64(48)).astype(np.uint16)


def near_copy_matrix(signatures: np.ndarray) -> np.ndarray:
    """For rows of signatures, which pairs are near copies of each other (boolean matrix).
    Texts too short to have a signature are near copies of nothing."""
    same = (signatures[:, None, :] == signatures[None, :, :]).sum(axis=2) >= NEAR_DUPLICATE_MATCHES
    empty = (signatures == EMPTY).all(axis=1)
    same[empty, :] = False
    same[:, empty] = False
    return same


# The signature's positions in bands, one more than the positions in which two near copies may
# differ (SIGNATURE_SIZE - NEAR_DUPLICATE_MATCHES): by the pigeonhole principle two near copies
# agree on at least one whole band, so looking a signature up by each band finds every near
# copy (no false misses, unlike MinHash LSH with random bands), and candidates are then checked
# exactly. This is what makes collapsing linear in the number of hits instead of comparing
# every pair (a 20,000-hit pool was a 3 GB matrix). Bands of two 16-bit minima or more: two
# unrelated articles share one by chance once in 2³² tries.
_BANDS = tuple(tuple(int(p) for p in band)
               for band in np.array_split(np.arange(SIGNATURE_SIZE), SIGNATURE_SIZE - NEAR_DUPLICATE_MATCHES + 1))
assert min(map(len, _BANDS)) >= 2 and sorted(sum(_BANDS, ())) == list(range(SIGNATURE_SIZE))


def first_near_copies(signatures: np.ndarray) -> np.ndarray:
    """For rows of signatures in ranked order: the row each one folds into — the first earlier
    row, itself not folded, that it is a near copy of — or -1 for a row that stays. The same
    answer as scanning ``near_copy_matrix`` row by row, in time linear in the rows."""
    n = len(signatures)
    into = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return into
    empty = (signatures == EMPTY).all(axis=1)
    # Each band's minima as one number (at most three 16-bit minima: 48 bits), per row. Only
    # rows that share a band's number with another row can fold or be folded into (the
    # pigeonhole again): the others, nearly all of them, stay without a Python step each.
    wide = signatures.astype(np.int64)
    keys, shared = [], np.zeros(n, dtype=bool)
    for band in _BANDS:
        key = np.zeros(n, dtype=np.int64)
        for p in band:
            key = (key << 16) | wide[:, p]
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        same = np.zeros(n, dtype=bool)
        same[1:] = ordered[1:] == ordered[:-1]
        same[:-1] |= same[1:]  # the first of each group too
        shared[order[same]] = True
        keys.append(key.tolist())
    buckets: list[dict[int, list[int]]] = [{} for _ in _BANDS]  # band value -> rows kept, ascending
    for i in np.flatnonzero(shared & ~empty).tolist():  # empty rows: near copies of nothing
        first = -1
        for band, bucket in enumerate(buckets):
            for k in bucket.get(keys[band][i], ()):
                if first != -1 and k >= first:
                    break
                if int(np.count_nonzero(signatures[i] == signatures[k])) >= NEAR_DUPLICATE_MATCHES:
                    first = k
                    break
        if first >= 0:
            into[i] = first
        else:
            for band, bucket in enumerate(buckets):
                bucket.setdefault(keys[band][i], []).append(i)
    return into
