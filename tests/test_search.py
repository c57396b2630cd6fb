"""Searching the shipped corpus: which documents come back, in what order, what is highlighted."""

import shutil

import pytest

from indexer import build_index
from indexer.errors import IncompatibleIndex, NotAnIndex, QueryError
from search import Index
from tests.conftest import CORPUS, SEED_ID, ids, write_page


def test_phrase_as_written_ranks_the_seed_first_and_highlights_it(corpus_index):
    results = corpus_index.search("sinh hoạt chi bộ")
    assert results.hits[0].id == SEED_ID
    assert "<mark>sinh hoạt chi bộ</mark>" in results.hits[0].snippet.html


def test_syllables_together_beat_syllables_scattered(corpus_index):
    order = ids(corpus_index.search("sinh hoạt chi bộ", fields=["body"]))
    # 008 has "sinh viên", "hoạt động", "Chi phí", "Bộ Giáo dục": every syllable, never together.
    assert order.index(SEED_ID) < order.index("008_chi_bo_rai_rac")
    assert order.index("014_dang_uy_cu") < order.index("008_chi_bo_rai_rac")


@pytest.mark.parametrize("query", ["Tỉnh ủy", "Tỉnh uỷ", "tinh uy", "TỈNH ỦY"])
def test_both_tone_styles_and_no_diacritics_find_the_seed(corpus_index, query):
    hit = corpus_index.search(query).hits[0]
    assert hit.id == SEED_ID
    assert "Tỉnh ủy" in hit.snippet.marked  # highlighted as written in the text


def test_query_without_diacritics_finds_the_phrase_with_diacritics(corpus_index):
    hit = corpus_index.search("sinh hoat chi bo").hits[0]
    assert hit.id == SEED_ID
    assert "sinh hoạt chi bộ" in hit.snippet.marked


def test_typed_diacritics_match_only_the_typed_forms_in_either_tone_placement(corpus_index):
    # 005 and 012 write "hoà"/"Hoà"; 009 only has "hoa" (flowers).
    for typed in ("hoà", "hòa"):
        assert set(ids(corpus_index.search(typed))) == {"005_thuy_loi_cu", "012_van_hoa_ca_tru"}
    assert "009_khong_byline_le_hoi" in ids(corpus_index.search("hoa"))


def test_pasted_text_ranks_typed_diacritics_above_folded_only_matches(corpus_index):
    order = ids(corpus_index.search("hoà bình ổn định thủy lợi ca trù lễ hội"))
    assert set(order[:2]) == {"005_thuy_loi_cu", "012_van_hoa_ca_tru"}
    assert order.index("009_khong_byline_le_hoi") > 1


def test_old_tone_style_text_is_found_with_new_style_query(corpus_index):
    hit = corpus_index.search("Đảng ủy khối doanh nghiệp").hits[0]
    assert hit.id == "014_dang_uy_cu"
    assert "Đảng uỷ" in " ".join(hit.snippet.marked)


def test_document_code_is_searched_as_written(corpus_index):
    hit = corpus_index.search("24-QĐ/TW").hits[0]
    assert hit.id == SEED_ID
    assert hit.snippet.marked == ["24-QĐ/TW"]


def test_numbers_are_searched_as_written(corpus_index):
    hit = corpus_index.search("4.400").hits[0]
    assert hit.id == SEED_ID and "4.400" in hit.snippet.marked


def test_city_abbreviation_either_way(corpus_index):
    assert corpus_index.search("TP HCM").hits[0].id == "007_kinh_te_fdi"
    assert corpus_index.search("TP.HCM").hits[0].id == "007_kinh_te_fdi"


def test_spelling_variants_match(corpus_index):
    # 010 writes "kỹ năng"; the query writes "kĩ năng".
    assert corpus_index.search("kĩ năng công nghệ").hits[0].id == "010_khong_byline_cong_nghe"


def test_footer_words_are_not_searchable(corpus_index):
    for phrase in ("Thống kê truy cập", "CHĂM SÓC KHÁCH HÀNG", "Đang online", "Lượt xem", "Giấy phép số"):
        # 010 really writes "chăm sóc khách hàng trực tuyến" in its article; no footer is indexed.
        assert set(ids(corpus_index.search(f'"{phrase}"', limit=50))) <= {"010_khong_byline_cong_nghe"}, phrase
    assert ids(corpus_index.search("BIDV 263,283 45/GP-BTTTT", limit=50)) == []


def test_hit_carries_metadata(corpus_index):
    hit = corpus_index.search("Lũ quét Bát Xát").hits[0]
    assert hit.id == "001_lu_quet_lao_cai"
    assert (hit.source, hit.authors, hit.date.isoformat()) == ("TMN", ("Minh Tuấn",), "2021-07-15T08:10:00")
    assert hit.to_json()["snippet"].count("<mark>") >= 1


def test_fields_restrict_where_words_are_looked_for(corpus_index):
    # "Tỉnh uỷ" is in the seed's title; the title-only search must not need the body.
    assert corpus_index.search("tổng kết", fields=["title"]).hits[0].id in {SEED_ID, "014_dang_uy_cu"}
    # "Lào Cai" is in the seed's body (and two others'), in no title: the body finds the seed,
    # the title-only search finds nothing at all.
    assert ids(corpus_index.search("Lào Cai", fields=["body"]))[0] == SEED_ID
    assert ids(corpus_index.search("Lào Cai", fields=["title"])) == []


def test_require_all_words(corpus_index):
    assert ids(corpus_index.search("lúa gạo Philippines", require_all=True)) == ["002_gia_lua"]


def test_phrase_and_exclusion(corpus_index):
    assert ids(corpus_index.search('"sinh hoạt chi bộ"')) == [SEED_ID]
    assert SEED_ID not in ids(corpus_index.search("Tỉnh ủy -Lào"))


def test_query_with_nothing_to_search_is_an_error(corpus_index):
    with pytest.raises(QueryError, match="no words"):
        corpus_index.search(" … !!! ")


def test_unknown_field_is_an_error(corpus_index):
    with pytest.raises(QueryError, match="unknown field"):
        corpus_index.search("lúa", fields=["tieu_de"])


def test_a_folder_that_is_not_an_index_is_refused(tmp_path):
    with pytest.raises(NotAnIndex, match="not a vnsearch index"):
        Index.open(tmp_path)
    with pytest.raises(NotAnIndex, match="does not exist"):
        Index.open(tmp_path / "khong-co")


def test_index_from_another_analyzer_version_is_refused(corpus_index_dir, tmp_path):
    import json
    import shutil

    from indexer.checksums import sealed

    copy = tmp_path / "old"
    shutil.copytree(corpus_index_dir, copy)
    manifest_path = next(copy.glob("gen-*/manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["analyzer_version"] = "vi-0"
    manifest_path.write_text(json.dumps(sealed(manifest)))  # as that version would have written it
    with pytest.raises(IncompatibleIndex, match="rebuild"):
        Index.open(copy)


def test_stats(corpus_index):
    stats = corpus_index.stats()
    assert stats.documents == 15
    assert stats.to_json()["documents"] == 15
    assert stats.analyzer_version.startswith("vi-")


def test_the_article_about_a_phrase_beats_a_short_page_that_mentions_it_once(tmp_path):
    # The seed is about "sinh hoạt chi bộ" (four times, in a long article); a short page about
    # a village road mentions a party-cell meeting once in passing. BM25 discounts the long
    # article's count by its length; the whole phrase's count is discounted less (phrase_b).
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(CORPUS / f"{SEED_ID}.txt", src)
    write_page(src, "103_xa_nam_cuong.txt", (
        "Xã Nam Cường làm đường giao thông nông thôn\n"
        "Lê Hà   20-11-2021 14:00:00   LCĐT - Người dân xã Nam Cường góp công, góp đất làm đường bê tông về các thôn.\n\n"
        "Tại buổi sinh hoạt chi bộ tháng 11, đảng viên thôn Nậm Cang thống nhất đi đầu hiến đất làm đường.\n"))
    write_page(src, "101_bat_xat_mua_lu.txt", (
        "Bát Xát khắc phục hậu quả mưa lũ\n"
        "Minh Tuấn   16-07-2021 09:00:00   LCĐT - Huyện Bát Xát huy động lực lượng khắc phục hậu quả mưa lũ.\n\n"
        "Mưa lớn kéo dài làm sạt lở nhiều tuyến đường liên xã.\n"))
    write_page(src, "104_kim_thanh.txt", (
        "Cửa khẩu Kim Thành thông quan trở lại\n"
        "Đức Anh   05-11-2021 10:00:00   LCĐT - Hoạt động xuất nhập khẩu qua cửa khẩu quốc tế Kim Thành đã được nối lại.\n\n"
        "Mỗi ngày có hàng trăm xe hàng nông sản được thông quan.\n"))
    build_index([src], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        for typed in ("sinh hoạt chi bộ", "sinh hoatj chi booj", "sinh hoat chi bo"):
            assert ids(index.search(typed))[:2] == [SEED_ID, "103_xa_nam_cuong"], typed
        index.tune(phrase_k1=1.2, phrase_b=0.75)  # the phrase discounted like a syllable
        assert ids(index.search("sinh hoạt chi bộ"))[0] == "103_xa_nam_cuong"


def test_titles_are_highlighted_like_snippets(corpus_index):
    hit = corpus_index.search("tinh uy", limit=1).hits[0]
    assert hit.id == SEED_ID and hit.title_marked.marked == ["Tỉnh uỷ"]  # as written, old tone style
    assert hit.to_json()["title_html"].startswith("<mark>Tỉnh uỷ</mark> tổng kết công tác")
    assert corpus_index.get(SEED_ID).title_html == "Tỉnh uỷ tổng kết công tác xây dựng tổ chức cơ sở đảng và đội ngũ đảng viên"


def test_snippet_chars_zero_ranks_the_same_without_snippets(corpus_index):
    with_snippets = corpus_index.search("sinh hoạt chi bộ", limit=5)
    ranking_only = corpus_index.search("sinh hoạt chi bộ", limit=5, snippet_chars=0)
    assert [(h.id, h.score) for h in ranking_only] == [(h.id, h.score) for h in with_snippets]
    assert all(h.snippet.text == "" and not h.snippet.highlights for h in ranking_only)
    assert with_snippets.hits[0].snippet.highlights
    with pytest.raises(QueryError, match="snippet_chars must be 0"):
        corpus_index.search("chi bộ", snippet_chars=-1)
