"""The scoring engine: how a query tree's scores are added up."""

import numpy as np

from search.engine import Sum, Term


def test_common_terms_added_as_dense_vectors_score_exactly_as_scattered_ones(corpus_index):
    engine = corpus_index._engine
    # "tỉnh" is in most of the shipped articles: far above the share that goes dense.
    docs, unit = engine.unit_scores("body", "tỉnh")
    assert docs.size > engine.DENSE_SHARE * engine.size
    scattered = np.zeros(engine.size, dtype=np.float32)
    scattered[docs] += unit * np.float32(2.5)
    assert np.array_equal(engine.scores(Term("body", "tỉnh", 2.5)), scattered)
    # A rare term next to it still goes by its postings.
    rare_docs, rare_unit = engine.unit_scores("body", "lũ")
    assert 0 < rare_docs.size <= engine.DENSE_SHARE * engine.size
    scattered[rare_docs] += rare_unit
    assert np.array_equal(engine.scores(Sum((Term("body", "tỉnh", 2.5), Term("body", "lũ")))), scattered)


def test_documents_tied_at_the_cut_are_taken_in_document_order(corpus_index):
    engine = corpus_index._engine
    scores = np.zeros(engine.size, dtype=np.float32)
    scores[[1, 3, 4, 6, 8]] = [2.0, 1.0, 1.0, 1.0, 1.0]  # four documents tie for second place
    for offset in range(4):
        assert engine.top(scores, None, limit=1, offset=offset)[0].tolist() == [[1], [3], [4], [6]][offset]
    docs, total = engine.top(scores, None, limit=3)
    assert docs.tolist() == [1, 3, 4] and total == 5
