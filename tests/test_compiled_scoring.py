"""The compiled scoring loops (search._scoring) against their NumPy reference: the same
float32 values, bit for bit, on random postings and on real queries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import search.engine as engine
from search import _scoring
from search.engine import add_best_reference

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
    with Index.open(corpus_index_dir) as index:
        assert ranking(index) == compiled
