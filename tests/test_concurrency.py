"""One ``Index`` shared by many threads gives every thread exactly what it would get alone.

The server answers requests from threads that share one ``Index``; so does any tool that
embeds vnsearch in a threaded program. These tests switch threads every 10 µs, which makes a
race on shared analysis state (an ICU break iterator, the term interner) show up in a few
hundred searches instead of once a week in production.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from indexer import build_index
from indexer.analysis import TermKeys, batch_terms
from search import Index
from tests.conftest import CORPUS

# Queries of every kind the analysis handles: diacritics or none, both tone styles, codes,
# numbers, Telex, abbreviations, phrases, a misspelling (did-you-mean), an emoji.
QUERIES = [
    "sinh hoạt chi bộ", "sinh hoat chi bo", "Tỉnh uỷ Lào Cai", "tinh uy", "24-QĐ/TW", "4.400 đảng viên",
    "sinh hoatj chi booj", "UBND tỉnh", '"chi bộ" -"Hà Nội"', "lũ quét Bát Xát", "giá lúa miền Tây",
    "đội tuyển U23", "vắc xin", "ca trù", "kỳ thi tốt nghiệp", "Tỉnh ủyy", "an ninh 🚦 giao thông",
    "hòa bình", "hoà bình", "title:Tỉnh ủy", "rác thải môi trường", "kĩ thuật", "kỹ thuật",
]


def _answer(index: Index, query: str) -> tuple:
    results = index.search(query, limit=5)
    return (
        results.total, results.suggestion, results.searched_for, results.also_searched,
        tuple((hit.id, round(hit.score, 5), hit.snippet.html) for hit in results),
    )


@pytest.fixture
def fast_thread_switching():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


def test_thousands_of_searches_from_8_threads_equal_the_single_threaded_answers(tmp_path, fast_thread_switching):
    build_index([CORPUS], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as alone:
        expected = {q: _answer(alone, q) for q in QUERIES}
    # A fresh Index, so that its caches fill while threads race for them.
    with Index.open(tmp_path / "ix") as shared:
        work = [QUERIES[i % len(QUERIES)] for i in range(2400)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda q: (q, _answer(shared, q)), work))
    wrong = [q for q, answer in answers if answer != expected[q]]
    assert wrong == [], f"{len(wrong)} of {len(answers)} concurrent searches differ, e.g. {wrong[:3]}"


def test_builds_in_threads_each_give_the_index_a_single_build_gives(tmp_path, fast_thread_switching):
    build_index([CORPUS], tmp_path / "alone")
    with Index.open(tmp_path / "alone") as alone:
        expected = {q: _answer(alone, q) for q in QUERIES[:8]}
    with ThreadPoolExecutor(max_workers=4) as pool:
        # list() re-raises the first build that failed (an IndexError from the interner, before).
        list(pool.map(lambda n: build_index([CORPUS], tmp_path / f"ix{n}"), range(4)))
    for n in range(4):
        with Index.open(tmp_path / f"ix{n}") as index:
            assert {q: _answer(index, q) for q in QUERIES[:8]} == expected


def test_term_keys_from_racing_threads_stay_consistent(fast_thread_switching):
    keys = TermKeys()
    texts = ["Tỉnh uỷ Lào Cai tổng kết công tác xây dựng đảng", "Mưa lớn gây lũ quét tại Bát Xát",
             "Giá lúa tươi tăng thêm 300 đồng", "Đội tuyển U23 Việt Nam thắng 2-0"] * 50

    def analyse(text: str) -> list[str]:
        terms = batch_terms([text], keys=keys)
        return [keys.text(k) for k in terms.exact.keys.tolist()]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(analyse, texts))
    for text, terms in zip(texts, results):
        assert terms == analyse(text)
    assert len(set(keys.text(k) for k in range(1, len(keys)))) == len(keys) - 1  # no term twice


def test_the_term_interner_does_not_keep_document_ids_or_grow_across_builds(tmp_path):
    from indexer.analysis import TERM_KEYS

    before = len(TERM_KEYS)
    build_index([CORPUS], tmp_path / "ix")
    build_index([CORPUS], tmp_path / "ix")
    assert len(TERM_KEYS) == before
