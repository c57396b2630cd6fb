"""Top k with MaxScore (``Engine.top_pruned``, compiled): the same documents and the same
float32 scores as scoring every document with NumPy (``Engine.scores`` and ``Engine.top``, the
oracle), while documents that cannot enter the top k are skipped."""

from __future__ import annotations

import gzip
import itertools
import json
import random
import re

import numpy as np
import pytest

from indexer import build_index
from search import Index
from search.engine import Engine
from search.query import parse_query
from search.rank import build_query
from tests.conftest import CORPUS, SHARED, requires_shared


def _sentences() -> list[str]:
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt")))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 5]


@pytest.fixture(scope="module")
def mixed_index(tmp_path_factory):
    """2,000 articles of sentences from the shipped pages, mixed at random."""
    folder = tmp_path_factory.mktemp("pruning")
    sentences = _sentences()
    rng = random.Random(7)
    with open(folder / "mixed.jsonl", "w", encoding="utf-8") as f:
        for n in range(2000):
            picked = rng.sample(sentences, rng.randint(2, 8))
            f.write(json.dumps({"id": f"bai-{n}", "title": picked[0][:80], "body": " ".join(picked[1:])}, ensure_ascii=False) + "\n")
    build_index([folder / "mixed.jsonl"], folder / "ix")
    with Index.open(folder / "ix") as index:
        yield index


def short_queries(index: Index, count: int, seed: int) -> list[str]:
    """Pairs and triples of neighbouring words of the articles, typed as written or without
    diacritics: what people type."""
    from indexer.analysis import fold_diacritics

    rng = random.Random(seed)
    words = [w for s in _sentences() for w in s.split() if any(c.isalnum() for c in w)]
    out = []
    while len(out) < count:
        i = rng.randrange(len(words) - 3)
        query = " ".join(words[i : i + rng.choice((1, 2, 2, 3))])
        out.append(fold_diacritics(query) if rng.random() < 0.3 else query)
    return out


def assert_same_top(index: Index, queries: list[str], wants=(10, 30)) -> tuple[int, int]:
    """Pruned and exhaustive top k agree on every query, and so do their totals (all under
    TRACK_TOTAL here); (queries pruned, queries where the loop skipped documents uncounted)."""
    engine = index._engine
    pruned_queries = skipping = 0
    for text in queries:
        built = build_query(parse_query(text), index.settings)
        for want in wants:
            pruned = engine.top_pruned(built.scored, None, want)
            scores = engine.scores(built.scored)
            docs, total = engine.top(scores, None, want)
            if pruned is None:
                continue
            pruned_queries += 1
            found, pruned_scores, counted, exact = pruned
            assert found.tolist() == docs.tolist(), text
            assert np.array_equal(pruned_scores, scores[docs]), text  # bit for bit
            assert exact and counted == total, text
            # Counting nothing apart shows whether the loop itself skipped documents.
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(engine, "TRACK_TOTAL", 0)
                skipped = not engine.top_pruned(built.scored, None, want)[3]
            skipping += skipped
    return pruned_queries, skipping


def test_pruned_top_k_is_the_exhaustive_top_k_on_a_thousand_short_queries(mixed_index):
    pruned, skipping = assert_same_top(mixed_index, short_queries(mixed_index, 1000, seed=1))
    # Pruning did skip documents, or the test would prove nothing.
    assert pruned == 2000 and skipping > 250


def test_a_pruned_search_has_the_hits_and_the_total_of_scoring_everything(mixed_index):
    results = mixed_index.search("giá lúa", limit=5)
    everything = mixed_index.search("giá lúa", limit=5, facets=True)  # facets count every match
    assert [h.id for h in results] == [h.id for h in everything]
    assert [h.score for h in results] == [h.score for h in everything]
    assert everything.to_json()["total_relation"] == "eq"
    # Under 10,000 matches the total counted apart is exact.
    assert results.to_json()["total_relation"] == "eq" and results.total == everything.total


def test_filters_and_required_words_are_respected_by_the_pruned_top_k(mixed_index):
    for query in ['"sinh hoạt" chi bộ', "giá lúa -gạo", "tỉnh ủy date:2021", "lũ quét title:Lào"]:
        for page in (1, 2):
            a = mixed_index.search(query, limit=10, page=page)
            b = mixed_index.search(query, limit=10, page=page, facets=True)  # exhaustive
            assert [(h.id, h.score) for h in a] == [(h.id, h.score) for h in b]


@requires_shared
@pytest.mark.realdata
def test_pruned_top_k_on_real_articles_and_two_thousand_queries(tmp_path, monkeypatch):
    with gzip.open(SHARED / "corpus" / "vntc.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = list(itertools.islice(f, 3000))
    (tmp_path / "vntc.jsonl").write_text("".join(lines), encoding="utf-8")
    build_index([tmp_path / "vntc.jsonl"], tmp_path / "ix")
    rng = random.Random(3)
    titles = [json.loads(line)["title"].split() for line in lines]
    queries = []
    for words in itertools.cycle([t for t in titles if len(t) >= 3]):
        if len(queries) == 2000:
            break
        start = rng.randrange(len(words) - 1)
        query = " ".join(words[start : start + rng.choice((1, 2, 3))])
        if any(c.isalnum() for c in query):
            queries.append(query)
    with Index.open(tmp_path / "ix") as index:
        pruned, skipping = assert_same_top(index, queries)
    assert pruned == 4000 and skipping > 500  # the loop skipped documents in most of them


def test_a_total_counted_apart_is_exact_when_every_scoring_term_is_counted(mixed_index):
    # The phrase bonus of a short query scores its bigrams again inside a Gate (with its own
    # k1 and b): the same postings, so the union of the other terms still counts every match.
    for query in ["giá lúa", "sinh hoạt chi bộ", "tinh uy"]:
        pruned = mixed_index.search(query, limit=5, require_all=True)
        everything = mixed_index.search(query, limit=5, require_all=True, facets=True)  # scores every match
        assert pruned.total_exact and pruned.total == everything.total, query
