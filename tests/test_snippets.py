"""Snippets show the passage that matched, with the query's words highlighted as written."""

from __future__ import annotations

import pytest

from indexer.schema import IndexSettings
from search.query import parse_query
from search.rank import build_query
from search.snippets import make_snippet


def snippet(text: str, query: str, max_chars: int = 240):
    return make_snippet(text, build_query(parse_query(query), IndexSettings()).terms, max_chars)


@pytest.mark.parametrize(
    "text, query, marked",
    [
        # Exact: the words as typed, the phrase highlighted whole where it stands together.
        ("Cuối năm, các chi bộ tổ chức sinh hoạt chi bộ đều đặn.", "sinh hoạt chi bộ", ["chi bộ", "sinh hoạt chi bộ"]),
        # Folded: typed without diacritics, highlighted as the text writes it.
        ("Ban Thường vụ Tỉnh uỷ Lào Cai họp.", "tinh uy", ["Tỉnh uỷ"]),
        ("Đảng bộ tỉnh họp", "dang bo", ["Đảng bộ"]),
        # The other tone placement: "ủy" typed, "uỷ" written (and "hoà"/"Hòa").
        ("Ban Thường vụ Tỉnh uỷ Lào Cai họp.", "Tỉnh ủy", ["Tỉnh uỷ"]),
        ("Hòa bình là khát vọng. Hóa học khác.", "hoà bình", ["Hòa bình"]),
        # The i/y spelling variant: "kỹ", "Mỹ" typed, "kĩ", "Mĩ" written.
        ("Ông là kĩ sư, học ở Mĩ.", "kỹ sư Mỹ", ["kĩ sư", "Mĩ"]),
        # Codes and numbers as written, not the "24" elsewhere.
        ("Thực hiện Quy định số 24-QĐ/TW của Bộ Chính trị, ngày 24 tháng 5.", "24-QĐ/TW", ["24-QĐ/TW"]),
        ("Sản lượng đạt 4.400 tấn, tăng 400 tấn.", "4.400", ["4.400"]),
    ],
)
def test_highlights_what_matched_as_written(text, query, marked):
    assert snippet(text, query).marked == marked


def test_diacritics_typed_do_not_highlight_a_word_with_other_diacritics():
    # "hòa" typed: "Hóa" has the same letters and is not what matched.
    assert snippet("Hòa bình là khát vọng. Hóa học khác.", "hòa").marked == ["Hòa"]


def test_an_emoji_before_the_match_does_not_shift_the_highlight():
    # ICU counts UTF-16 units; an emoji is two of them and one Python character.
    s = snippet("🎉🎉 Lễ hội hoa đào Sa Pa khai mạc.", "hoa đào")
    assert s.marked == ["hoa đào"] and s.html == "🎉🎉 Lễ hội <mark>hoa đào</mark> Sa Pa khai mạc."


def test_a_match_at_the_very_start_and_at_the_very_end_of_the_text():
    assert snippet("Đảng bộ tỉnh họp", "đảng bộ").html == "<mark>Đảng bộ</mark> tỉnh họp"
    assert snippet("Lễ hội kết thúc tại Sa Pa", "Sa Pa").html == "Lễ hội kết thúc tại <mark>Sa Pa</mark>"


def test_a_long_text_is_cut_around_the_match_with_ellipses():
    filler = "Mưa lớn kéo dài nhiều ngày gây ngập úng ở các xã vùng thấp. " * 40
    s = snippet(filler + "Cuối cùng Tỉnh uỷ Lào Cai tổng kết công tác.", "tổng kết", max_chars=120)
    assert s.marked == ["tổng kết"] and s.truncated_start and not s.truncated_end
    assert s.plain.startswith("… ") and s.plain.endswith("công tác.") and len(s.text) <= 130
    middle = snippet(filler + "Tỉnh uỷ Lào Cai tổng kết công tác. " + filler, "tổng kết", max_chars=120)
    assert middle.marked == ["tổng kết"] and middle.truncated_start and middle.truncated_end


def test_html_in_the_text_is_escaped_and_only_the_marks_are_markup():
    s = snippet('Bài viết <script>alert("x")</script> về giá lúa tăng.', "giá lúa")
    assert s.html == 'Bài viết &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; về <mark>giá lúa</mark> tăng.'
    tricky = snippet("Chữ </mark> trong bài về giá lúa.", "giá lúa")
    assert tricky.html.count("</mark>") == 1 and "&lt;/mark&gt;" in tricky.html


def test_no_match_gives_the_start_of_the_text_without_highlights():
    s = snippet("Giá lúa tươi tăng thêm 300 đồng mỗi ki lô gam ở miền Tây.", "bóng đá")
    assert s.highlights == () and s.plain.startswith("Giá lúa tươi")
