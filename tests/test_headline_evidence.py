"""Headline evidence: query words that headlines use without the article's text count for less."""

from collections import Counter
from dataclasses import replace

import pytest

from indexer import IndexSettings
from indexer.sources import NO_TITLE, Article
from search.engine import Term
from search.headline_evidence import (
    MIN_HEADLINES,
    HeadlineEvidence,
    count_headline_evidence,
    default_headline_evidence,
    read_table,
    write_table,
)
from search.query import parse_query
from search.rank import build_query


def article(title: str, body: str, *warnings: str) -> Article:
    return Article(id=title, title=title, body=body, origin="test", warnings=list(warnings))


def test_counts_headline_words_and_whether_the_text_uses_them():
    articles = [
        article("Bánh chưng ngày Tết", "Gói bánh chưng là phong tục của người Việt ngày Tết."),
        article("TP HCM: di dời chợ đầu mối", "Thành phố sẽ di dời các chợ đầu mối sau Tết."),
    ]
    in_headlines, in_text = count_headline_evidence(articles)
    assert in_headlines["tet"] == 1 and in_text["tet"] == 1
    assert in_headlines["di"] == 1 and in_text["di"] == 1
    assert in_headlines["hcm"] == 1 and in_text["hcm"] == 0
    # Bigrams too, folded as the index keeps them.
    assert in_headlines["banh chung"] == 1 and in_text["banh chung"] == 1
    assert in_headlines["tp hcm"] == 1 and in_text["tp hcm"] == 0


def test_articles_without_a_headline_of_their_own_and_repeated_copies_are_not_counted():
    copy = article("Bão số 7 đổ bộ", "Bão số 7 đổ bộ vào Thanh Hóa.")
    made_up = article("Lũ quét ở Lào Cai", "Lũ quét ở Lào Cai làm sập ba nhà.", NO_TITLE)
    in_headlines, _ = count_headline_evidence([copy, copy, made_up])
    assert in_headlines["bao"] == 1
    assert in_headlines["lu"] == 0


def test_a_word_the_text_rarely_repeats_counts_less_than_one_it_always_does():
    evidence = HeadlineEvidence({"hcm": (500, 350), "nam": (1300, 1240), "chi bo": (40, 38)}, overall=0.85)
    assert evidence.weight("hcm", 2.0) < 1.0 < evidence.weight("nam", 2.0)
    assert evidence.weight("chi bo", 2.0) > 1.0
    # Words no headline used, and the power 0, leave the weight alone.
    assert evidence.weight("sinh", 2.0) == 1.0
    assert evidence.weight("hcm", 0.0) == 1.0


def test_few_headlines_say_little_so_the_weight_stays_near_one():
    evidence = HeadlineEvidence({"kệ": (2, 0), "vụ": (900, 0)}, overall=0.85)
    assert 0.6 < evidence.weight("kệ", 2.0) < 1.0
    assert evidence.weight("vụ", 2.0) < 0.01


def test_the_table_round_trips_and_drops_words_of_a_single_headline(tmp_path):
    path = tmp_path / "evidence.tsv"
    rows = write_table(path, Counter({"tet": 5, "hcm": 4, "kệ": 1}), Counter({"tet": 5, "hcm": 1}), "test")
    assert rows == 2 and MIN_HEADLINES == 2
    table = read_table(path)
    assert table.counts == {"hcm": (4, 1), "tet": (5, 5)}
    assert table.overall == pytest.approx(6 / 10)


def test_a_broken_table_line_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "evidence.tsv"
    path.write_text("# overall\t0.85\ntet\t5\t5\nhcm\tbốn\t1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"evidence\.tsv:3: expected"):
        read_table(path)


def test_query_terms_are_weighted_by_their_evidence():
    evidence = HeadlineEvidence({"hcm": (500, 300), "cho": (400, 390)}, overall=0.85)
    built = build_query(parse_query("chợ hcm"), IndexSettings(), fields=("body",), evidence=evidence)
    boosts = {(t.field, t.text): t.boost for t in _terms(built.scored)}
    assert boosts[("body", "chợ")] > boosts[("body", "hcm")]
    plain = build_query(parse_query("chợ hcm"), replace(IndexSettings(), headline_evidence=0.0), fields=("body",), evidence=evidence)
    assert {t.boost for t in _terms(plain.scored) if t.field == "body"} == {1.0}


def test_shipped_table_was_counted_on_vntc_train_headlines():
    table = default_headline_evidence()
    assert len(table) > 10_000
    assert 0.8 < table.overall < 0.9
    # Articles about Hà Nội say "Hà Nội"; "TP HCM" in a headline is often "thành phố" or
    # "TP.HCM" in the text.
    assert table.weight("ha noi", 2.0) > table.weight("tp hcm", 2.0)


def _terms(node):
    if isinstance(node, Term):
        yield node
    for child in getattr(node, "children", ()):
        yield from _terms(child)
