"""Helping the user's query: abbreviations both ways, Telex/VNI typing, did-you-mean."""

import pytest

from search import Index
from search.abbreviations import AbbreviationFileError, Abbreviations, default_abbreviations, read_abbreviations
from search.input_methods import decode_typing, telex_to_vietnamese, vni_to_vietnamese
from tests.conftest import SEED_ID, ids

# -- abbreviations ---------------------------------------------------------------------------


def test_the_shipped_table_expands_abbreviations_and_back():
    table = default_abbreviations()
    assert table.alternatives("UBND tỉnh Lào Cai") == ["Ủy ban nhân dân"]
    assert table.alternatives("uỷ ban nhân dân tỉnh") == ["UBND"]  # any tone style or case
    assert table.alternatives("Hội đồng nhân dân và MTTQ") == ["Mặt trận Tổ quốc", "HĐND"]
    assert "Thành phố Hồ Chí Minh" in table.alternatives("tại TP.HCM")
    assert table.alternatives("sinh hoạt chi bộ") == []


def test_an_abbreviation_finds_articles_that_write_it_out(corpus_index):
    # 005 writes "Uỷ ban nhân dân tỉnh" and never "UBND".
    results = corpus_index.search("UBND tỉnh phê duyệt")
    assert results.hits[0].id == "005_thuy_loi_cu"
    assert results.also_searched == ("Ủy ban nhân dân",)
    assert any("Uỷ ban nhân dân" in marked for marked in results.hits[0].snippet.marked)


def test_a_written_out_name_finds_the_abbreviation(corpus_index):
    # The seed has "Chủ tịch HĐND tỉnh" only in abbreviated form.
    results = corpus_index.search("Chủ tịch Hội đồng nhân dân tỉnh", fields=["body"], limit=15)
    assert SEED_ID in ids(results) and "HĐND" in results.also_searched


def test_a_phrase_or_required_word_is_satisfied_by_its_other_form(tmp_path):
    from indexer import build_index
    from tests.conftest import write_page

    src = tmp_path / "src"
    write_page(src, "viet-tat.txt", "UBND tỉnh Lào Cai họp phiên cuối năm\n\nUBND tỉnh Lào Cai đã họp phiên thường kỳ tháng 12.\n")
    write_page(src, "viet-du.txt", "Ủy ban nhân dân huyện Bát Xát tiếp dân\n\nỦy ban nhân dân huyện Bát Xát tiếp công dân định kỳ.\n")
    write_page(src, "khac.txt", "Giá lúa tăng\n\nGiá lúa tươi tăng thêm 300 đồng mỗi ki lô gam.\n")
    build_index([src], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        phrase = index.search('"ủy ban nhân dân"')
        assert phrase.also_searched == ("UBND",) and set(ids(phrase)) == {"viet-tat", "viet-du"}
        assert ids(phrase)[0] == "viet-du"  # the form typed ranks first
        assert set(ids(index.search('"UBND tỉnh"'))) == {"viet-tat"}
        assert set(ids(index.search('"ủy ban nhân dân tỉnh"'))) == {"viet-tat"}  # "UBND tỉnh"
        assert set(ids(index.search("UBND Bát Xát", require_all=True))) == {"viet-du"}
        assert set(ids(index.search("title:UBND"))) == {"viet-tat", "viet-du"}


def test_rewritings_put_the_other_form_in_place():
    table = default_abbreviations()
    assert table.rewritings("ủy ban nhân dân tỉnh Lào Cai") == ["UBND tỉnh Lào Cai"]
    assert "Ủy ban nhân dân tỉnh" in table.rewritings("UBND tỉnh")
    assert table.rewritings("giá lúa") == []


def test_users_extend_the_table_with_their_own_file(tmp_path, monkeypatch, corpus_index_dir):
    extra = tmp_path / "mine.tsv"
    extra.write_text("# my newsroom's abbreviations\nLĐLĐ\tLiên đoàn Lao động\n", encoding="utf-8")
    monkeypatch.setenv("VNSEARCH_ABBREVIATIONS", str(extra))
    assert default_abbreviations().alternatives("LĐLĐ tỉnh") == ["Liên đoàn Lao động"]
    assert default_abbreviations().alternatives("UBND") == ["Ủy ban nhân dân"]  # shipped ones stay


def test_a_malformed_line_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("UBND\tỦy ban nhân dân\nHĐND Hội đồng nhân dân\n", encoding="utf-8")
    with pytest.raises(AbbreviationFileError, match=r"bad.tsv, line 2: expected ABBREVIATION<TAB>expansion"):
        read_abbreviations(bad)


def test_an_empty_table_changes_nothing():
    assert Abbreviations([]).alternatives("UBND") == []


# -- Telex and VNI ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, meant",
    [("hoatj", "hoạt"), ("booj", "bộ"), ("tinhr", "tỉnh"), ("uyr", "ủy"), ("ddawngr", "đẳng"),
     ("nguwowif", "người"), ("truwowngf", "trường"), ("Vieetj", "Việt"), ("quoocs", "quốc"),
     ("hoaf", "hòa"), ("khoer", "khỏe"), ("nhwngx", "những"), ("tw", "tư")],
)
def test_telex_words_decode_to_syllables(typed, meant):
    assert telex_to_vietnamese(typed) == meant


@pytest.mark.parametrize(
    "typed, meant",
    [("hoat5", "hoạt"), ("bo65", "bộ"), ("tinh3", "tỉnh"), ("d9a8ng3", "đẳng"), ("nguo72i", "người"),
     ("truo7ng2", "trường"), ("Vie6t5", "Việt"), ("quo6c1", "quốc")],
)
def test_vni_words_decode_to_syllables(typed, meant):
    assert vni_to_vietnamese(typed) == meant


@pytest.mark.parametrize("word", ["news", "chess", "hoa", "2021", "Covid-19", "xyzzy"])
def test_words_that_are_not_telex_or_vni_do_not_decode(word):
    assert telex_to_vietnamese(word) is None
    assert vni_to_vietnamese(word) is None


@pytest.mark.parametrize("typed, telex", [("tinhr", "tỉnh"), ("uyr", "ủy"), ("booj", "bộ"), ("ddaangf", "đầng"), ("nhwngx", "những")])
def test_telex_syllables_decode_to_vietnamese(typed, telex):
    assert telex_to_vietnamese(typed) == telex


def test_a_query_is_decoded_only_when_the_index_knows_the_result_and_not_the_typing():
    vocabulary = {"sinh", "hoạt", "chi", "bộ", "bú"}
    known = vocabulary.__contains__
    assert decode_typing("sinh hoatj chi booj", known) == ("sinh hoạt chi bộ", "Telex")
    assert decode_typing("sinh hoat5 chi bo65", known) == ("sinh hoạt chi bộ", "VNI")
    assert decode_typing("sinh hoạt chi bộ", known) is None
    assert decode_typing("bus", known) is None  # one English plural is not Telex


def test_telex_queries_are_searched_as_vietnamese_and_say_so(corpus_index):
    results = corpus_index.search("sinh hoatj chi booj")
    assert results.searched_for == "sinh hoạt chi bộ" and results.typed_as == "Telex"
    assert results.hits[0].id == SEED_ID
    results = corpus_index.search("tinhr uyr")
    assert (results.searched_for, results.typed_as) == ("tỉnh ủy", "Telex")
    assert results.hits[0].id == SEED_ID


# -- did you mean ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, meant",
    [("sinh hoạt chi bô", "sinh hoạt chi bộ"), ("Tỉnh ủyy", "Tỉnh ủy"), ("tinh uyy", "tinh uy"), ("lũ quéet", "lũ quét")],
)
def test_misspelt_queries_get_a_suggestion_from_the_index(corpus_index, typed, meant):
    assert corpus_index.search(typed).suggestion == meant


@pytest.mark.parametrize("query", ["sinh hoạt chi bộ", "Tỉnh ủy", "tinh uy", "giá lúa", "hoà", "bão số 5"])
def test_correct_queries_get_no_suggestion(corpus_index, query):
    assert corpus_index.search(query).suggestion is None


def test_a_telex_query_with_a_slip_is_decoded_and_then_corrected(tmp_path):
    from indexer import build_index

    source = tmp_path / "news.jsonl"
    source.write_text('{"id": "a", "title": "Lũ quét", "body": "Mưa lớn gây lũ quét ở vùng cao."}\n', encoding="utf-8")
    build_index([source], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        results = index.search("lũ quétt vungf")
        assert results.searched_for == "lũ quétt vùng" and results.typed_as == "Telex"
        assert results.suggestion == "lũ quét vùng"
