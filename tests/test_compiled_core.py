"""The compiled core (indexer._postings, search._scoring) against its NumPy references: the
same documents and the same float32 values, bit for bit, on random data and on real queries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import search.engine as engine
from indexer.codec import (
    ALL_ONES,
    decode_postings,
    decode_postings_reference,
    find_term,
    find_term_reference,
    packed_frequencies,
    patched_gaps,
)
from indexer.segment import SegmentReader
from search import _scoring
from search.engine import add_best_reference, bm25, bm25_reference

SIZE = 500

postings = st.lists(st.integers(0, SIZE - 1), unique=True, max_size=120).map(lambda ds: np.array(sorted(ds), dtype=np.int32))
# Scores as BM25 gives them (positive, a few orders of magnitude apart), ties included.
score_values = st.sampled_from([0.25, 1.0, 1.5, 2.75]) | st.floats(2.0**-13, 40.0, width=32)


@st.composite
def alternatives(draw):
    docs = draw(st.lists(postings, max_size=8))
    scores = [draw(arrays(np.float32, d.size, elements=score_values)) for d in docs]
    return docs, scores


@settings(max_examples=500, deadline=None)
@given(alternatives(), st.sampled_from([0.0, 0.1, 0.3, 1.0]), arrays(np.float32, SIZE, elements=st.floats(0, 50, width=32)))
def test_add_best_gives_the_references_float32_values_bit_for_bit(alts, tiebreak, start):
    docs, scores = alts
    compiled, reference = start.copy(), start.copy()
    _scoring.add_best(compiled, docs, scores, tiebreak)
    add_best_reference(reference, docs, scores, tiebreak)
    assert compiled.view(np.int32).tolist() == reference.view(np.int32).tolist()


def test_add_best_refuses_postings_out_of_order_or_of_another_type():
    out = np.zeros(10, dtype=np.float32)
    with pytest.raises(ValueError, match="ascending, distinct"):
        _scoring.add_best(out, [np.array([3, 2], dtype=np.int32)], [np.ones(2, dtype=np.float32)], 0.0)
    with pytest.raises(ValueError, match="ascending, distinct and below 10"):
        _scoring.add_best(out, [np.array([12], dtype=np.int32)], [np.ones(1, dtype=np.float32)], 0.0)
    with pytest.raises(TypeError, match="int32"):
        _scoring.add_best(out, [np.array([1], dtype=np.int64)], [np.ones(1, dtype=np.float32)], 0.0)
    assert not out.any()  # nothing was added before the check


QUERIES = ["sinh hoạt chi bộ", "sinh hoat chi bo", "Tỉnh uỷ Lào Cai", "giá lúa gạo tăng", "24-QĐ/TW", "UBND TP.HCM",
           "đội tuyển U23 Việt Nam", "lũ quét Bát Xát", "vắc xin", "kỳ thi tốt nghiệp trung học phổ thông"]


@pytest.mark.parametrize("query", QUERIES)
def test_the_engine_ranks_as_with_the_numpy_reference(corpus_index_dir, query, monkeypatch):
    from search import Index

    def ranking(index):
        return [(h.id, h.score) for h in index.search(query, limit=15, collapse=False)]

    with Index.open(corpus_index_dir) as index:
        compiled = ranking(index)
    monkeypatch.setattr(engine._scoring, "add_best", add_best_reference)
    monkeypatch.setattr(engine, "bm25", bm25_reference)
    monkeypatch.setattr(SegmentReader, "postings", SegmentReader.postings_reference)
    monkeypatch.setattr(engine.Engine, "top_pruned", lambda *args: None)  # every document scored, in NumPy
    with Index.open(corpus_index_dir) as index:
        assert ranking(index) == compiled


@st.composite
def encoded_postings(draw):
    """One term's postings as the codec writes them, among other bytes: documents far apart
    (gaps past a byte, past two bytes) and frequencies of every kind (all 1, at most 15, more)."""
    exception_bytes = draw(st.sampled_from([2, 4]))
    limit = 60_000 if exception_bytes == 2 else 3_000_000
    docs = np.array(sorted(draw(st.sets(st.integers(0, limit), min_size=1, max_size=300))), dtype=np.int64)
    kind = draw(st.sampled_from(["ones", "small", "large"]))
    top = {"ones": 1, "small": 15, "large": 255}[kind]
    freqs = np.array(draw(st.lists(st.integers(1, top), min_size=docs.size, max_size=docs.size)), dtype=np.uint8)
    gaps = np.diff(docs)
    offsets, gap_bytes = patched_gaps(gaps, np.array([docs.size - 1]), exception_bytes)
    column, freq_bytes = packed_frequencies(freqs, np.array([0]), np.array([docs.size]))
    before = draw(st.binary(max_size=7))  # the term's bytes stand among others'
    freq_at = int(column[0]) if int(column[0]) == ALL_ONES else int(column[0]) + 2 * len(before)
    return (before + gap_bytes + b"\x07", len(before) + int(offsets[0]), docs.size, int(docs[0]), exception_bytes,
            before + freq_bytes + b"\x09", freq_at), docs, freqs


@settings(max_examples=300, deadline=None)
@given(encoded_postings())
def test_decode_postings_gives_the_references_documents_and_frequencies(case):
    args, docs, freqs = case
    compiled, reference = decode_postings(*args), decode_postings_reference(*args)
    assert compiled[0].tolist() == reference[0].tolist() == docs.tolist()
    assert compiled[1].tolist() == reference[1].tolist() == freqs.tolist()


def test_decode_postings_refuses_to_read_past_its_file():
    with pytest.raises(ValueError, match="outside the postings file"):
        decode_postings(b"\x01\x02", 1, 5, 0, 2, b"", ALL_ONES)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.binary(max_size=6), max_size=40), st.lists(st.binary(max_size=6), max_size=10), st.sampled_from([np.uint32, np.int64]))
def test_find_term_finds_what_the_reference_finds(terms, probes, dtype):
    terms = sorted(terms)
    lex = b"".join(terms)
    table = np.zeros((len(terms) + 1, 5), dtype=dtype)
    table[1:, 0] = np.cumsum([len(t) for t in terms])
    flat = memoryview(np.ascontiguousarray(table).reshape(-1))
    for key in probes + terms:
        expected = terms.index(key) if key in terms else None
        assert find_term(lex, flat, 5, 0, len(terms), key) == find_term_reference(lex, flat, 5, 0, len(terms), key) == expected


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_bm25_gives_the_references_float32_values_bit_for_bit(data):
    size = data.draw(st.integers(1, 300))
    lengths = data.draw(arrays(np.float32, size, elements=st.floats(0, 5000, width=32)))
    docs = np.array(sorted(data.draw(st.sets(st.integers(0, size - 1), min_size=1))), dtype=np.int32)
    freqs = data.draw(arrays(np.float32, docs.size, elements=st.integers(1, 255).map(float)))
    average = data.draw(st.floats(0.5, 3000))
    k1, b = data.draw(st.sampled_from([(1.2, 0.75), (2.0, 0.3), (0.9, 0.4)]))
    idf = data.draw(st.floats(0.01, 12))
    compiled, reference = bm25(docs, freqs, lengths, average, k1, b, idf), bm25_reference(docs, freqs, lengths, average, k1, b, idf)
    assert compiled.view(np.int32).tolist() == reference.view(np.int32).tolist()


def test_every_term_of_a_real_segment_reads_as_with_the_references(corpus_index_dir):
    from search import Index

    with Index.open(corpus_index_dir) as index:
        readers = index._state.segments.readers
        checked = 0
        for reader in readers:
            for field in reader.field_order:
                for term in list(reader.terms(field)) + ["không-có-từ-này", "", "zzz"]:
                    compiled, reference = reader.postings(field, term), reader.postings_reference(field, term)
                    assert compiled[0].tolist() == reference[0].tolist() and compiled[1].tolist() == reference[1].tolist()
                    checked += 1
        assert checked > 4_000  # every term of every field of the shipped corpus
