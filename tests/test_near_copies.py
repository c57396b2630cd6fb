"""Near copies are folded into one hit, and only near copies: two articles that share a phrase
are two stories (the signatures of scheme 1 folded them: 72% of the pairs folded on VNTC had
a word-trigram Jaccard below 0.2)."""

from __future__ import annotations

import json

import numpy as np

from indexer import build_index
from indexer.analysis import TermKeys, batch_terms
from indexer.merge import merge_segments
from indexer.near_duplicates import EMPTY, NEAR_DUPLICATE_MATCHES, SIGNATURE_SCHEME, signature
from indexer.segment import SegmentReader, SegmentSet
from search import Index
from tests.test_merge import _articles, _write

FLOOD = ("Mưa lũ miền Trung làm hàng trăm ngôi nhà ở Quảng Nam bị ngập sâu, chính quyền địa phương đã sơ tán hơn "
         "hai nghìn hộ dân đến nơi an toàn trong đêm qua, các trường học được cho nghỉ để làm nơi tránh lũ.")
RELIEF = ("Chính phủ hỗ trợ gạo cứu đói cho người dân vùng mưa lũ miền Trung làm hàng trăm ngôi nhà bị hư hỏng, "
          "các đoàn cứu trợ từ Hà Nội và Thành phố Hồ Chí Minh đã lên đường từ sáng nay.")
FLOOD_REPOSTED = FLOOD.replace("hai nghìn", "ba nghìn").replace("đêm qua", "tối qua")


def signature_of(text: str) -> np.ndarray:
    keys = TermKeys()
    return signature(keys.stable_hashes(batch_terms([text], keys=keys).folded.per_text(1)[0]))


def equal_minima(a: str, b: str) -> int:
    return int((signature_of(a) == signature_of(b)).sum())


def test_an_edited_repost_is_a_near_copy_and_a_story_sharing_a_phrase_is_not():
    assert equal_minima(FLOOD, FLOOD_REPOSTED) >= NEAR_DUPLICATE_MATCHES
    assert equal_minima(FLOOD, RELIEF) < NEAR_DUPLICATE_MATCHES


def test_the_search_folds_the_repost_and_shows_the_other_story(tmp_path):
    feed = tmp_path / "mua-lu.jsonl"
    records = [("lu-quang-nam", "Lũ ở Quảng Nam", FLOOD), ("cuu-tro", "Cứu trợ miền Trung", RELIEF),
               ("lu-quang-nam-dang-lai", "Lũ ở Quảng Nam (đăng lại)", FLOOD_REPOSTED)]
    feed.write_text("".join(json.dumps({"id": i, "title": t, "body": b}, ensure_ascii=False) + "\n" for i, t, b in records),
                    encoding="utf-8")
    build_index([feed], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        hits = index.search("mưa lũ miền Trung").hits
    assert [h.id for h in hits] in (["lu-quang-nam", "cuu-tro"], ["cuu-tro", "lu-quang-nam"])
    assert {h.id: h.near_duplicates for h in hits}["lu-quang-nam"] == ("lu-quang-nam-dang-lai",)


def test_signatures_of_an_older_scheme_fold_nothing_until_rebuilt(tmp_path):
    """An index written before scheme 2 keeps working: its segments fold nothing, and a merge
    gives their documents EMPTY signatures of the current size."""
    articles = _articles()
    _write(tmp_path, "new", articles[:8])
    _write(tmp_path, "old", articles[8:])
    description = json.loads((tmp_path / "old.json").read_text(encoding="utf-8"))
    del description["signature_scheme"]  # as segments written before scheme 2
    (tmp_path / "old.json").write_text(json.dumps(description, ensure_ascii=False), encoding="utf-8")
    assert SegmentReader(tmp_path, "old").signature_scheme == 1
    joined = SegmentSet(tmp_path, [{"name": "new"}, {"name": "old"}]).signatures()
    assert (joined[8:] == EMPTY).all() and not (joined[:8] == EMPTY).all(axis=1).any()  # only the new ones compare
    merged = merge_segments(tmp_path, [{"name": "new", "deleted": None}, {"name": "old", "deleted": None}], tmp_path, "merged")
    assert merged["signature_scheme"] == SIGNATURE_SCHEME
    assert np.array_equal(SegmentSet(tmp_path, [{"name": "merged"}]).signatures(), joined)
