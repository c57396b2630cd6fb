"""The compiled scans of a snippet (search/_text.c) against their references: the tokenizer's
syllables (ICU), ``\\w+`` runs, the hash matching and the best window in Python, and whole
snippets against ``make_snippet_reference`` (ICU and regular expressions), character for
character, on random plain texts and on real articles."""

from __future__ import annotations

import gzip
import itertools
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.analysis import fold_code_points, is_plain_text, syllable_spans
from indexer.phonology import folding_code_table
from indexer.schema import IndexSettings
from search import _text
from search.query import parse_query
from search.rank import build_query
from search.snippets import (
    _best_window,
    _best_window_reference,
    make_snippet,
    make_snippet_reference,
    runs_of,
    syllable_spans_of,
    word_hash,
)
from tests.conftest import CORPUS, SHARED, requires_shared

# Plain text: Vietnamese letters in both cases, digits, and the punctuation that joins or
# splits syllables (". , ; ' ‘ ’ - /"), white space and line breaks.
ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ" \
           "ÀÁẢÃẠĐÈÉÌÍÒÓÙÚÝ0123456789 .,;:'‘’-/\n()“”!?%"
plain_texts = st.text(alphabet=ALPHABET, max_size=300)


def codes_of(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


@settings(max_examples=600, deadline=None)
@given(plain_texts)
def test_syllables_are_the_tokenizers_on_plain_text(text):
    assert is_plain_text(text)
    starts, ends, joined = syllable_spans_of(codes_of(text))
    expected = syllable_spans(text)
    assert list(zip(starts.tolist(), ends.tolist(), joined.astype(bool).tolist())) == [(s, e, j) for _, s, e, j in expected]


@settings(max_examples=300, deadline=None)
@given(plain_texts)
def test_runs_are_the_runs_of_word_characters(text):
    starts, ends = runs_of(codes_of(text))
    assert list(zip(starts.tolist(), ends.tolist())) == [m.span() for m in re.finditer(r"\w+", text)]


@settings(max_examples=300, deadline=None)
@given(plain_texts, st.lists(st.text(alphabet="abcdeghiklmnoqstuy", min_size=1, max_size=5), max_size=6))
def test_matching_proposes_exactly_the_words_with_a_query_hash(text, forms):
    folded = fold_code_points(codes_of(text))
    starts, ends = runs_of(folded)
    hashes = np.array(sorted({word_hash(f) for f in forms}), dtype=np.uint64)
    out = np.empty(starts.size, dtype=np.int32)
    found = out[: _text.matching(folded, starts, ends, hashes, out)].tolist()
    folded_text = folded.astype("<u4").tobytes().decode("utf-32-le")
    assert found == [k for k, (s, e) in enumerate(zip(starts.tolist(), ends.tolist())) if folded_text[s:e] in forms]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_folding_is_the_numpy_tables_for_any_text(text):
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    out = np.empty_like(codes)
    _text.fold(codes, folding_code_table(), out)
    assert out.tolist() == fold_code_points(codes).tolist()


@st.composite
def matches(draw):
    n = draw(st.integers(0, 40))
    starts = sorted(draw(st.lists(st.integers(0, 2000), min_size=n, max_size=n, unique=True)))
    ends = [s + draw(st.integers(1, 12)) for s in starts]
    forms = [draw(st.sampled_from(["sinh", "hoat", "chi", "bo", "dang"])) for _ in starts]
    joined = ([False] + [draw(st.booleans()) for _ in starts[1:]])[:n]
    return starts, ends, forms, joined


@settings(max_examples=500, deadline=None)
@given(matches(), st.sampled_from([1, 10, 60, 240]))
def test_the_best_window_is_the_references(found, max_chars):
    assert _best_window(*found, max_chars) == _best_window_reference(*found, max_chars)


def assert_same_snippets(texts: list[str], queries: list[str]) -> int:
    compared = 0
    for query in queries:
        terms = build_query(parse_query(query), IndexSettings()).terms
        for text in texts:
            for max_chars in (240, 90):
                assert make_snippet(text, terms, max_chars) == make_snippet_reference(text, terms, max_chars), (query, text[:80])
                compared += 1
    return compared


QUERIES = ["sinh hoạt chi bộ", "sinh hoat chi bo", "Tỉnh uỷ", "tinh uy", "kỹ sư Mỹ", "24-QĐ/TW", "4.400", "UBND TP.HCM",
           '"chi bộ"', "lũ quét", "hoà bình", "Al-Qaeda Iraq"]


def test_snippets_of_the_shipped_pages_are_the_references():
    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))]
    assert assert_same_snippets(texts, QUERIES) > 100


@settings(max_examples=300, deadline=None)
@given(plain_texts, st.sampled_from(QUERIES))
def test_snippets_of_random_plain_texts_are_the_references(text, query):
    assert_same_snippets([text * 5], [query])  # long enough for the region step too


def test_a_text_outside_plain_latin_goes_through_icu():
    text = "Giá lúa 😀 tăng ở Đồng Tháp, 稻米 giá lúa"
    assert not is_plain_text(text)
    terms = build_query(parse_query("giá lúa"), IndexSettings()).terms
    assert make_snippet(text, terms).marked == ["Giá lúa", "giá lúa"]


@requires_shared
@pytest.mark.realdata
def test_snippets_of_real_articles_are_the_references():
    with gzip.open(SHARED / "corpus" / "vntc.jsonl.gz", "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in itertools.islice(f, 400)]
    texts = [r["body"] for r in records] + [r["title"] for r in records]
    titled = [r for r in records if len(r["title"].split()) >= 3][:24]
    queries = [" ".join(r["title"].split()[:n]) for r, n in zip(titled, itertools.cycle((2, 3, 8)))]
    assert assert_same_snippets(texts, queries) == len(texts) * len(queries) * 2
