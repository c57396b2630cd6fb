"""Positions in the codec: the compiled encoder, decoders and counting sort against their
references, on random postings — long ones (skip entries every 128 postings), counts of 255
and more (written out), large positions (several varint bytes) — and damaged bytes refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.codec import (
    decode_positions,
    decode_positions_of_terms,
    decode_positions_reference,
    encode_positions,
    encode_positions_reference,
    order_by_key,
)

# A posting's positions: distinct, ascending; mostly few, sometimes 255 or more.
posting = st.one_of(
    st.lists(st.integers(0, 3000), min_size=1, max_size=6, unique=True),
    st.lists(st.integers(0, 2**28), min_size=1, max_size=3, unique=True),
    st.integers(255, 300).map(lambda n: list(range(0, 3 * n, 3))),
).map(sorted)
term = st.one_of(st.lists(posting, min_size=1, max_size=4), st.integers(129, 400).map(lambda n: [[n % 7, 9]] * n))


def flatten(terms: list[list[list[int]]]):
    df = np.array([len(t) for t in terms], dtype=np.int64)
    counts = np.array([len(p) for t in terms for p in t], dtype=np.int64)
    positions = np.array([x for t in terms for p in t for x in p], dtype=np.int64)
    return df, counts, positions


@settings(max_examples=200, deadline=None)
@given(st.lists(term, max_size=5), st.randoms(use_true_random=False))
def test_positions_encode_and_decode_as_their_references_do(terms, rnd):
    df, counts, positions = flatten(terms)
    offsets, data = encode_positions(df, counts, positions)
    reference_offsets, reference_data = encode_positions_reference(df, counts, positions)
    assert offsets.tolist() == reference_offsets.tolist() and data == reference_data
    freqs = np.minimum(counts, 255).astype(np.uint8)
    got_counts, got = decode_positions_of_terms(data, offsets.astype(np.uint64), df, freqs)
    assert got_counts.tolist() == counts.tolist() and got.tolist() == positions.tolist()
    first = 0
    for t, n in enumerate(df.tolist()):
        wanted = np.array(sorted(rnd.sample(range(n), rnd.randint(0, n))), dtype=np.int64)
        mine = freqs[first : first + n]
        compiled = decode_positions(data, int(offsets[t]), mine, wanted)
        reference = decode_positions_reference(data, int(offsets[t]), mine, wanted)
        assert [a.tolist() for a in compiled] == [a.tolist() for a in reference]
        assert compiled[0].tolist() == counts[first : first + n][wanted].tolist()
        first += n


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=300))
def test_the_counting_sort_orders_as_a_stable_argsort(keys):
    keys = np.array(keys, dtype=np.uint32)
    assert order_by_key(keys, int(keys.max(initial=0))).tolist() == np.argsort(keys, kind="stable").tolist()


def test_positions_cut_short_are_refused_not_read_past_the_end():
    df, counts, positions = flatten([[[5, 900, 70000]] * 200])
    offsets, data = encode_positions(df, counts, positions)
    freqs = np.minimum(counts, 255).astype(np.uint8)
    with pytest.raises(ValueError, match="past the positions file"):
        decode_positions(data[: len(data) // 2], 0, freqs, np.array([199], dtype=np.int64))
    with pytest.raises(ValueError, match="ascending"):
        encode_positions(np.array([1]), np.array([2]), np.array([7, 7]))
