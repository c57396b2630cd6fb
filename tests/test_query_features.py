"""Query options news readers need: dates, sorting, paging, facets, recency, the Query object."""

from collections import Counter
from datetime import datetime

import pytest

from indexer.errors import QueryError
from search import Index, Query
from tests.conftest import SEED_ID, ids

# In the shipped corpus, "đảng viên" is in the seed (2021-12-02) and 014 (2021-12-20);
# 005 (2020-03-09) is the only article from 2020.


def test_since_and_until_keep_articles_dated_in_the_range(corpus_index):
    december = ids(corpus_index.search("đảng viên", since="2021-12-01", until="2021-12-31", fields=["body"]))
    assert set(december[:2]) == {SEED_ID, "014_dang_uy_cu"}
    assert all(h.date and h.date.strftime("%Y-%m") == "2021-12" for h in corpus_index.search("đảng viên", since="2021-12", until="2021-12"))
    assert ids(corpus_index.search("thuỷ lợi", until="2020")) == ["005_thuy_loi_cu"]
    assert "005_thuy_loi_cu" not in ids(corpus_index.search("thuỷ lợi", since="2021"))


def test_undated_articles_are_left_out_by_a_date_range(corpus_index):
    assert "009_khong_byline_le_hoi" in ids(corpus_index.search("lễ hội", limit=20))
    assert "009_khong_byline_le_hoi" not in ids(corpus_index.search("lễ hội", since="2000", limit=20))


def test_a_bad_date_is_a_query_error(corpus_index):
    with pytest.raises(QueryError, match="2021-13-01"):
        corpus_index.search("lũ quét", since="2021-13-01")


def test_sort_by_date_lists_newest_first(corpus_index):
    hits = corpus_index.search("đảng viên", sort="date", limit=20).hits
    dates = [h.date for h in hits if h.date]
    assert dates == sorted(dates, reverse=True)
    assert hits[0].id == "014_dang_uy_cu"  # 20 December, the newest of them


def test_pages_continue_the_ranking(corpus_index):
    everything = ids(corpus_index.search("tỉnh", limit=6))
    first, second = corpus_index.search("tỉnh", limit=3), corpus_index.search("tỉnh", limit=3, page=2)
    assert ids(first) + ids(second) == everything
    assert [h.rank for h in second] == [4, 5, 6]
    assert second.page == 2 and second.pages == -(-second.total // 3)
    assert ids(corpus_index.search("tỉnh", limit=3, page=1000)) == []


def test_facets_count_matching_articles_by_source_and_year(corpus_index):
    results = corpus_index.search("tỉnh", facets=True, limit=1)
    sources = dict(results.facets["source"])
    assert sources["TMN"] >= 3 and sources["LCĐT"] == 2
    assert dict(results.facets["year"]).get("2021", 0) >= 5
    assert sum(sources.values()) <= results.total
    assert corpus_index.search("tỉnh").facets is None  # only when asked for


def test_recent_boost_lifts_newer_articles_and_is_off_by_default(corpus_index):
    plain = corpus_index.search("xây dựng Đảng", limit=5)
    boosted = corpus_index.search("xây dựng Đảng", limit=5, recent=True)
    # The seed (2 December 2021) outscores 014 (20 December, the newest article) on the words;
    # with the boost, 014 gets twice its score and the seed 1 + ½^(age in days / 30).
    assert ids(plain)[:2] == [SEED_ID, "014_dang_uy_cu"]
    assert ids(boosted)[:2] == ["014_dang_uy_cu", SEED_ID]
    score, date = {h.id: h.score for h in plain}, {h.id: h.date for h in plain}
    age_days = (date["014_dang_uy_cu"] - date[SEED_ID]).total_seconds() / 86400
    assert {h.id: h.score for h in boosted}["014_dang_uy_cu"] == pytest.approx(2 * score["014_dang_uy_cu"], rel=1e-5)
    assert {h.id: h.score for h in boosted}[SEED_ID] == pytest.approx((1 + 0.5 ** (age_days / 30)) * score[SEED_ID], rel=1e-5)


def test_a_query_object_is_the_same_as_keyword_arguments(corpus_index):
    query = Query("đảng viên", limit=2, page=2, sort="date", facets=True)
    by_object = corpus_index.search(query)
    by_keywords = corpus_index.search("đảng viên", limit=2, page=2, sort="date", facets=True)
    assert ids(by_object) == ids(by_keywords) and by_object.facets == by_keywords.facets


def test_json_form_has_paging_and_facets(corpus_index):
    out = corpus_index.search("tỉnh", limit=2, facets=True).to_json()
    assert {"query", "searched_for", "suggestion", "took_ms", "total", "page", "pages", "hits", "facets"} <= set(out)
    # The facet counts are those of every matching article, not of the page shown.
    every = corpus_index.search("tỉnh", limit=1000, collapse=False)
    by_source = Counter(hit.source for hit in every if hit.source)
    assert out["facets"]["source"] == [{"value": v, "count": n} for v, n in sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))]
    assert sum(item["count"] for item in out["facets"]["year"]) == sum(1 for hit in every if hit.date)
    assert out["total"] == every.total and out["pages"] == -(-every.total // 2)
    assert isinstance(datetime.fromisoformat(out["hits"][0]["date"]), datetime)


@pytest.mark.parametrize("options, message", [({"sort": "title"}, "sort"), ({"page": 0}, "page")])
def test_bad_options_are_query_errors(corpus_index, options, message):
    with pytest.raises(QueryError, match=message):
        corpus_index.search("tỉnh", **options)


def test_category_filter_uses_the_category_column(tmp_path):
    from indexer import build_index

    source = tmp_path / "news.jsonl"
    source.write_text(
        '{"id": "a", "title": "Bóng đá", "body": "Đội tuyển thắng 2-0.", "category": "Thể thao"}\n'
        '{"id": "b", "title": "Giá vàng", "body": "Giá vàng tăng, đội ngũ phân tích dự báo.", "category": "Kinh tế"}\n',
        encoding="utf-8",
    )
    build_index([source], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        assert ids(index.search("đội category:\"the thao\"")) == ["a"]
        assert dict(index.search("đội", facets=True).facets["category"]) == {"Thể thao": 1, "Kinh tế": 1}


def test_near_copies_of_a_story_are_folded_into_one_hit(tmp_path):
    import json

    from indexer import build_index
    from tests.conftest import CORPUS

    # The same story as another paper ran it: one word changed, a photo caption dropped, a
    # credit line added.
    story = (CORPUS / "001_lu_quet_lao_cai.txt").read_text(encoding="utf-8").split("\n")[3:11]
    body = "\n".join(line for line in story if line.strip())
    edited = body.replace("Trận mưa lớn", "Cơn mưa lớn").replace("Quang cảnh khu vực bị lũ quét.\n", "")
    edited += "\nBài viết có sử dụng tư liệu của phóng viên thường trú."
    other = (CORPUS / "002_gia_lua.txt").read_text(encoding="utf-8").split("\n", 1)[1] + "\nLũ quét không ảnh hưởng đến vụ lúa."
    source = tmp_path / "news.jsonl"
    with open(source, "w", encoding="utf-8") as f:
        for doc_id, text in (("tmn-1", body), ("bao-khac-7", edited), ("gia-lua", other)):
            f.write(json.dumps({"id": doc_id, "title": "Lũ quét ở Bát Xát", "body": text}, ensure_ascii=False) + "\n")
    build_index([source], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        collapsed = index.search("lũ quét Bát Xát")
        assert ids(collapsed) == ["tmn-1", "gia-lua"]
        assert collapsed.hits[0].near_duplicates == ("bao-khac-7",)
        assert sorted(ids(index.search("lũ quét Bát Xát", collapse=False))) == ["bao-khac-7", "gia-lua", "tmn-1"]
