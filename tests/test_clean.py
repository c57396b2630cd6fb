"""Character clean-up and boilerplate rules."""

from hypothesis import given
from hypothesis import strategies as st

from indexer.clean import (
    clean_text,
    decode_html_entities,
    is_prose,
    is_related_links_line,
    normalize_spaces,
    remove_invisible,
    repeated_site_lines,
    strip_boilerplate,
    strip_html_tags,
)


def test_html_entities_are_decoded():
    assert decode_html_entities("Hà Nội &amp; TP.HCM &#273;&#7897;i") == "Hà Nội & TP.HCM đội"


def test_invisible_characters_are_removed():
    assert remove_invisible("\ufeffTỉnh\u200b ủy\u00ad") == "Tỉnh ủy"


def test_non_breaking_spaces_become_spaces():
    assert normalize_spaces("Tỉnh\u00a0ủy\r\nLào\u202fCai") == "Tỉnh ủy\nLào Cai"


def test_tags_become_line_breaks_or_vanish():
    assert strip_html_tags("<p>Đoạn một</p><p>Đoạn <b>hai</b></p>").split() == ["Đoạn", "một", "Đoạn", "hai"]
    assert "\n" in strip_html_tags("một<br>hai")


def test_clean_text_composes_decomposed_vietnamese():
    assert clean_text("Ho\u0300a Bi\u0300nh&nbsp;") == "Hòa Bình "


@given(st.text(max_size=200))
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


ARTICLE = [
    "Chiều 2/12, tại Trung tâm Hội nghị tỉnh, Tỉnh ủy tổ chức Hội nghị tổng kết công tác xây dựng đảng.",
    "Quang cảnh hội nghị.",
    "Kết luận hội nghị, đồng chí Bí thư Tỉnh ủy đề nghị các cấp ủy tiếp tục quán triệt, triển khai thực hiện tốt.",
]


def test_seed_footer_is_cut_by_general_rules():
    footer = ["CHĂM SÓC KHÁCH HÀNG", "Hướng dẫn Khách hàng Thanh toán Tiền nước qua App Ngân hàng BIDV",
              "Thống kê truy cập", "• Đang online: 58", "• Hôm nay: 134", "Đăng nhập"]
    assert strip_boilerplate(ARTICLE + footer) == ARTICLE


def test_unseen_footer_with_menu_and_copyright_is_cut():
    footer = ["Trang chủ | Thời sự | Thể thao", "© 2024 Báo Mới Sáng. Giấy phép 12/GP", "Đọc thêm"]
    assert strip_boilerplate(ARTICLE + footer) == ARTICLE


def test_vntc_related_articles_tail_is_cut():
    tail = ["Khó tìm việc cho lao động VN đang thất nghiệp tại Malaysia(27/03/2004)",
            "Nhiều lao động VN tại Malaysia sẽ phải về nước(15/03/2004)"]
    assert strip_boilerplate(ARTICLE + tail) == ARTICLE


def test_links_to_earlier_articles_are_dropped_inside_the_text():
    arrows = ">> Khởi tố tài xế gây tai nạn thảm khốc ở Đồng Nai >> Tai nạn thảm khốc tại Đồng Nai: 9 người chết, 16 người bị thương"
    dated = ["Kết thúc điều tra vụ Công ty Đông Nam vào 20/8(06/08/2004)",
             "VKS yêu cầu điều tra bổ sung vụ Công ty Đông Nam(24/04/2004)"]
    assert strip_boilerplate([arrows] + ARTICLE) == ARTICLE
    assert strip_boilerplate(ARTICLE[:1] + dated + ARTICLE[1:]) == ARTICLE
    assert strip_boilerplate(ARTICLE[:1] + dated[:1] + ARTICLE[1:]) == ARTICLE  # VnExpress's glued date


def test_lines_after_a_related_articles_list_go_with_it():
    tail = ["Khó tìm việc cho lao động VN đang thất nghiệp tại Malaysia(27/03/2004)",
            "Nhiều lao động VN tại Malaysia sẽ phải về nước(15/03/2004)", "Các tin khác"]
    assert strip_boilerplate(ARTICLE + tail) == ARTICLE


def test_arrow_lines_of_prose_and_dated_captions_stay():
    letter = (">> Thiết nghĩ, ý kiến của giáo sư Văn Như Cương là một giải pháp thỏa đáng, mong rằng "
              "Bộ GD-ĐT xem xét và giải quyết để dư luận được yên lòng.")
    caption = "Lễ khai mạc hội nghị (12/5)"
    assert strip_boilerplate(ARTICLE[:1] + [letter] + ARTICLE[1:]) == ARTICLE[:1] + [letter] + ARTICLE[1:]
    assert strip_boilerplate(ARTICLE[:1] + [caption] + ARTICLE[1:]) == ARTICLE[:1] + [caption] + ARTICLE[1:]
    assert is_related_links_line(">> Nếu tự tin, sẽ có cửa...")  # "..." may end a headline
    assert not is_related_links_line(letter)


def test_a_page_of_nothing_but_links_keeps_them():
    assert strip_boilerplate([">> Hà Nội lấy ý kiến về phương án tuyển sinh"]) == [">> Hà Nội lấy ý kiến về phương án tuyển sinh"]


def test_widget_lines_are_dropped_anywhere():
    assert strip_boilerplate([ARTICLE[0], "Xem tiếp", ARTICLE[2], "Ý kiến của bạn"]) == [ARTICLE[0], ARTICLE[2]]


def test_captions_and_a_closing_signature_stay():
    assert strip_boilerplate(ARTICLE + ["Minh Tuấn"]) == ARTICLE + ["Minh Tuấn"]


def test_prose_needs_sentence_structure():
    assert is_prose(ARTICLE[0])
    assert not is_prose("Hướng dẫn Khách hàng Thanh toán Tiền nước qua App Ngân hàng BIDV")


def test_lines_repeated_across_a_sites_pages_are_recognised():
    pages = [[f"Bài {i}: nội dung riêng của bài viết số {i}.", "Liên hệ tòa soạn: 024 1234 5678"] for i in range(5)]
    assert repeated_site_lines(pages) == frozenset({"liên hệ tòa soạn: 024 1234 5678"})
    assert repeated_site_lines(pages[:2]) == frozenset()  # too few pages to tell


def test_a_one_paragraph_article_that_mentions_a_website_is_kept():
    body = ["Như vậy là Huyền đã lên đường dự thi Hoa hậu Thế giới 2004. Vậy tôi mong khán giả bình chọn qua mạng tại link: http://missworldvote.streamos.com/voteform.php."]
    assert strip_boilerplate(body) == body


def test_a_page_without_prose_keeps_its_text_but_not_its_furniture():
    assert strip_boilerplate(["Ảnh: Hoàng Hà", "Lượt xem: 1.234"]) == ["Ảnh: Hoàng Hà"]
