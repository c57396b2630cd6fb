"""The compiled top k (``Engine.top_pruned``: block-max MaxScore in search/_scoring.c) is the
NumPy engine's top k: on random query trees over random postings, the same documents in the
same order with the same float32 scores, bit for bit, whatever is skipped on the way.

The oracle is ``Engine.scores`` (every document scored, term at a time, with NumPy) followed by
``Engine.top``; real indexes and queries are in tests/test_pruning.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from search import _scoring
from search.engine import AllOf, Best, Engine, Gate, Sum, Term, _Postings, block_maxima_reference, count_union_reference

SIZE = 300
TERMS = [f"âm tiết {n}" for n in range(8)]
score_values = st.sampled_from([0.25, 1.0, 1.5, 2.75]) | st.floats(2.0**-10, 30.0, width=32)


class PostingsEngine(Engine):
    """The engine over given postings and BM25 scores instead of an index's segments."""

    def __init__(self, live: np.ndarray, terms: dict[str, tuple[np.ndarray, np.ndarray]], block: int) -> None:
        super().__init__(SimpleNamespace(size=live.size, live=live))
        self.terms = terms
        self.BLOCK = block

    def _bm25(self, fieldname, text, k1, b):
        return self.terms[text]

    def postings(self, fieldname, text):
        docs, _ = self.terms[text]
        return _Postings(docs, np.ones(docs.size, dtype=np.float32))


@st.composite
def engines(draw) -> PostingsEngine:
    live = draw(arrays(np.bool_, SIZE, elements=st.booleans() | st.just(True)))
    terms = {}
    for text in TERMS:
        # Postings hold live documents only (Engine.postings drops the deleted); some terms are
        # in most documents, as the common syllables of a language are.
        share = draw(st.sampled_from([0.01, 0.05, 0.3, 0.9]))
        picked = np.flatnonzero(live & (np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(SIZE) < share))
        scores = draw(arrays(np.float32, picked.size, elements=score_values))
        terms[text] = (picked.astype(np.int32), scores)
    return PostingsEngine(live, terms, draw(st.sampled_from([8, 32, 64, 512])))


terms = st.builds(Term, st.just("body"), st.sampled_from(TERMS), st.sampled_from([1.0, 0.5, 1.7, 0.1, 0.0]))
trees = st.recursive(
    terms,
    lambda children: st.one_of(
        st.builds(lambda cs: Sum(tuple(cs)), st.lists(children, min_size=1, max_size=4)),
        st.builds(lambda cs, tb: Best(tuple(cs), tb), st.lists(children, min_size=1, max_size=4), st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        st.builds(lambda cond, scored: Gate(AllOf(tuple(cond)), scored), st.lists(terms, min_size=1, max_size=3), children),
    ),
    max_leaves=24,
)


@settings(max_examples=400, deadline=None)
@given(engines(), trees, st.integers(1, 40), st.none() | arrays(np.bool_, SIZE))
def test_the_compiled_top_k_is_the_numpy_engines_top_k(engine, tree, want, allowed):
    found, scores, counted, exact = engine.top_pruned(tree, allowed, want)
    every = engine.scores(tree)
    docs, total = engine.top(every, allowed, want)
    assert found.tolist() == docs.tolist()
    assert scores.view(np.int32).tolist() == every[docs].view(np.int32).tolist()  # bit for bit
    assert counted == total if exact else counted <= total


def test_a_long_query_of_common_words_skips_documents_and_counts_its_matches_apart():
    rng = np.random.default_rng(5)
    size = 8_000  # under TRACK_TOTAL: counted exactly
    live = np.ones(size, dtype=bool)
    terms = {}
    for n, text in enumerate(TERMS):
        docs = np.flatnonzero(rng.random(size) < (0.6 if n < 6 else 0.002)).astype(np.int32)
        terms[text] = (docs, rng.uniform(0.1, 1.0 if n < 6 else 9.0, docs.size).astype(np.float32))
    engine = PostingsEngine(live, terms, 512)
    tree = Sum(tuple(Term("body", t) for t in TERMS))
    docs, total = engine.top(engine.scores(tree), None, 10)
    found, scores, counted, exact = engine.top_pruned(tree, None, 10)
    assert found.tolist() == docs.tolist() and exact and counted == total
    # Counted up to a limit, the total is "at least": most documents were skipped unscored.
    engine.TRACK_TOTAL = 1000
    found, scores, counted, exact = engine.top_pruned(tree, None, 10)
    assert found.tolist() == docs.tolist()
    assert not exact and 1000 <= counted < total / 2


def test_a_gated_term_that_scores_nowhere_else_leaves_the_count_a_lower_bound():
    live = np.ones(50, dtype=bool)
    i32 = lambda *v: np.array(v, dtype=np.int32)  # noqa: E731
    terms = {"a": (i32(*range(0, 50, 2)), np.full(25, 0.5, dtype=np.float32)),
             "b": (i32(*range(1, 50, 2)), np.full(25, 9.0, dtype=np.float32))}
    engine = PostingsEngine(live, terms, 8)
    engine.TRACK_TOTAL = 5
    tree = Sum((Term("body", "a"), Gate(AllOf((Term("body", "b"),)), Term("body", "b"))))
    found, _, counted, exact = engine.top_pruned(tree, None, 3)
    assert found.tolist() == engine.top(engine.scores(tree), None, 3)[0].tolist()
    assert counted <= 50 and (exact is False or counted == 50)


def test_a_tree_the_bound_does_not_hold_for_is_scored_exhaustively():
    engine = PostingsEngine(np.ones(10, dtype=bool), {"x": (np.array([1, 4], dtype=np.int32), np.ones(2, dtype=np.float32))}, 8)
    assert engine.top_pruned(Best((Term("body", "x"), Term("body", "x")), 1.5), None, 3) is None
    assert engine.top_pruned(Term("body", "x", -1.0), None, 3) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, SIZE - 1), unique=True, max_size=200), st.sampled_from([1, 7, 64, 512]), st.data())
def test_block_maxima_are_the_references(docs, block, data):
    docs = np.array(sorted(docs), dtype=np.int32)
    scores = data.draw(arrays(np.float32, docs.size, elements=score_values))
    out = np.empty(-(-SIZE // block), dtype=np.float32)
    _scoring.block_maxima(out, docs, scores, block)
    assert out.tolist() == block_maxima_reference(docs, scores, block, SIZE).tolist()


def test_top_k_refuses_a_malformed_tree_before_reading_anything():
    i32 = lambda *v: np.array(v, dtype=np.int32)  # noqa: E731
    docs, scores, maxima = [i32(2, 1)], [np.ones(2, dtype=np.float32)], [np.ones(1, dtype=np.float32)]
    out_docs, out_scores = np.zeros(3, dtype=np.int32), np.zeros(3, dtype=np.float32)
    args = (i32(0), i32(0), i32(0), i32(), i32(0), np.zeros(1, dtype=np.float32), docs, scores,
            np.ones(1, dtype=np.float32), maxima, np.ones(1, dtype=np.float32), 8, None, 8, out_docs, out_scores)
    with pytest.raises(ValueError, match="ascending, distinct"):
        _scoring.top_k(*args)
    bad_child = (i32(1), i32(0), i32(1), i32(0)) + args[4:]  # a Sum whose child is itself
    with pytest.raises(ValueError, match="bad child"):
        _scoring.top_k(*bad_child)
    with pytest.raises(ValueError, match="disagree"):
        _scoring.top_k(*args[:9], maxima, np.ones(1, dtype=np.float32), 8, None, 8, out_docs, np.zeros(2, dtype=np.float32))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, SIZE - 1), unique=True, max_size=120).map(sorted), max_size=6),
       st.none() | arrays(np.bool_, SIZE), st.integers(1, 400))
def test_count_union_is_the_references(lists, allowed, limit):
    docs = [np.array(d, dtype=np.int32) for d in lists]
    flags = None if allowed is None else allowed.view(np.uint8)
    assert _scoring.count_union(docs, flags, SIZE, limit) == count_union_reference(docs, allowed, SIZE, limit)
