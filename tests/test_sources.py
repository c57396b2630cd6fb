"""Reading pages and JSON Lines: metadata, footers, encodings, and every bad input reported."""

import gzip
import json
from datetime import datetime

import pytest

from indexer.errors import SourceNotFound
from indexer.sources import Article, Problem, expand_sources, parse_date, read_sources
from tests.conftest import CORPUS, SEED_ID, write_page


def articles(paths):
    return [r for r in read_sources(paths) if isinstance(r, Article)]


def problems(paths):
    return [r for r in read_sources(paths) if isinstance(r, Problem)]


def test_seed_page_metadata():
    seed = next(a for a in articles([CORPUS]) if a.id == SEED_ID)
    assert seed.title == "Tỉnh uỷ tổng kết công tác xây dựng tổ chức cơ sở đảng và đội ngũ đảng viên"
    assert seed.authors == ["Quỳnh Trang", "Hữu Huỳnh"]
    assert seed.date == datetime(2021, 12, 2, 17, 33)
    assert seed.source == "LCĐT"
    assert seed.lead.startswith("Chiều 2/12, tại Trung tâm Hội nghị tỉnh")
    assert seed.body.startswith(seed.lead)


def test_seed_footer_is_not_part_of_the_article():
    seed = next(a for a in articles([CORPUS]) if a.id == SEED_ID)
    for footer_words in ("CHĂM SÓC KHÁCH HÀNG", "Thống kê truy cập", "Đang online", "263,283", "Đăng nhập", "BIDV"):
        assert footer_words not in seed.body
    assert "Quang cảnh hội nghị." in seed.body  # captions stay
    assert seed.body.endswith("về công tác xây dựng tổ chức cơ sở đảng và đội ngũ đảng viên.")


def test_page_without_byline(tmp_path):
    write_page(tmp_path, "le-hoi.txt", "Lễ hội hoa Đà Lạt\n\nFestival Hoa Đà Lạt khai mạc tối 17/12 tại Quảng trường Lâm Viên.\n")
    [a] = articles([tmp_path])
    assert (a.id, a.title, a.date, a.source, a.authors) == ("le-hoi", "Lễ hội hoa Đà Lạt", None, None, [])
    assert a.body == "Festival Hoa Đà Lạt khai mạc tối 17/12 tại Quảng trường Lâm Viên."


def test_utf16_page_with_bom(tmp_path):
    text = "Giá lúa tăng\nThanh Hà   03-12-2021 06:45:00   TMN - Giá lúa tươi tăng thêm 300 đồng/kg so với tháng trước.\n"
    write_page(tmp_path, "gia-lua.txt", text, encoding="utf-16")
    [a] = articles([tmp_path])
    assert (a.title, a.authors, a.source) == ("Giá lúa tăng", ["Thanh Hà"], "TMN")


def test_a_footer_shared_by_a_sites_pages_is_removed_even_if_never_seen(tmp_path):
    footer = "Tòa soạn: 12 Lý Thường Kiệt\nTổng biên tập Nguyễn Văn An chịu trách nhiệm nội dung"
    for i, topic in enumerate(["lúa gạo", "bóng đá", "giáo dục", "y tế"]):
        write_page(tmp_path, f"p{i}.txt", f"Tin {topic}\n\nBài viết về {topic} có nội dung riêng, đầy đủ câu cú và thông tin.\n\n{footer}\n")
    for a in articles([tmp_path]):
        assert "Tòa soạn" not in a.body and "Tổng biên tập" not in a.body
        assert a.body.startswith("Bài viết về")


def test_non_utf8_file_is_reported_not_guessed(tmp_path):
    (tmp_path / "cp1258.txt").write_bytes("Tin tức\n\nNội dung".encode("cp1258", errors="replace") + b"\xff\xfe\xfa")
    [p] = problems([tmp_path])
    assert "not UTF-8" in p.reason and p.origin.endswith("cp1258.txt")


def test_binary_file_is_reported(tmp_path):
    (tmp_path / "anh.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    [p] = problems([tmp_path])
    assert "binary" in p.reason


def test_empty_page_is_reported(tmp_path):
    write_page(tmp_path, "rong.txt", "\n\n  \n")
    [p] = problems([tmp_path])
    assert "empty" in p.reason


def jsonl(tmp_path, lines, name="tin.jsonl", compress=False):
    data = "\n".join(l if isinstance(l, str) else json.dumps(l, ensure_ascii=False) for l in lines) + "\n"
    path = tmp_path / (name + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(data.encode()) if compress else data.encode())
    return path


def test_jsonl_fields_and_unknown_fields_kept_as_meta(tmp_path):
    path = jsonl(tmp_path, [{"id": "dt-1", "title": "Vinamilk lọt Top 1.000", "body": "Năm 2020, Vinamilk dẫn đầu.",
                             "date": "2020-10-01", "source": "Dân trí", "category": "business",
                             "url": "https://dantri.com.vn/x", "split": "test"}], compress=True)
    [a] = articles([path])
    assert (a.id, a.source, a.category, a.url) == ("dt-1", "Dân trí", "business", "https://dantri.com.vn/x")
    assert a.date == datetime(2020, 10, 1)
    assert a.meta == {"split": "test"}


def test_broken_json_line_is_reported_with_its_line_and_the_rest_is_read(tmp_path):
    path = jsonl(tmp_path, [{"id": "a", "title": "Một", "body": "Bài một."}, '{"id": "b", "title": ',
                            {"id": "c", "title": "Ba", "body": "Bài ba."}])
    records = list(read_sources([path]))
    assert [r.id for r in records if isinstance(r, Article)] == ["a", "c"]
    [p] = [r for r in records if isinstance(r, Problem)]
    assert p.origin == f"{path}:2" and "invalid JSON" in p.reason


def test_empty_body_and_huge_article_are_skipped_with_reasons(tmp_path):
    path = jsonl(tmp_path, [{"id": "rong", "title": "Không có nội dung", "body": "  "},
                            {"id": "lon", "title": "Quá lớn", "body": "chữ " * 300_000}])
    reasons = {p.id: p.reason for p in problems([path])}
    assert "empty article" in reasons["rong"]
    assert "above the 1,000,000 limit" in reasons["lon"]


def test_missing_title_is_reported_as_a_warning_and_the_body_start_used(tmp_path):
    path = jsonl(tmp_path, [{"id": "x", "body": "Mạo hiểm rừng Đa Mi. Cuộc hành quân khám phá thác sương mù."}])
    [a] = articles([path])
    assert a.title.startswith("Mạo hiểm rừng Đa Mi")
    assert a.warnings == ["no title: the start of the body is used as title"]


def test_vntc_body_mess_is_cleaned(tmp_path):
    body = ("Giá vàng tăng&nbsp;mạnh trong phiên sáng nay, theo các doanh nghiệp kinh doanh vàng bạc.\nXem tiếp\n"
            "Vàng tăng giá kỷ lục(10/01/2004)\nDân đổ xô bán vàng(09/01/2004)")
    [a] = articles([jsonl(tmp_path, [{"id": "v", "title": "Giá vàng", "body": body}])])
    assert a.body == "Giá vàng tăng mạnh trong phiên sáng nay, theo các doanh nghiệp kinh doanh vàng bạc."


def test_missing_source_path_is_an_error():
    with pytest.raises(SourceNotFound, match="khong-co: no such file"):
        expand_sources(["khong-co"])
    with pytest.raises(SourceNotFound, match="no file matches"):
        expand_sources(["khong-co/*.txt"])


@pytest.mark.parametrize("text, expected", [
    ("02-12-2021 17:33:00", datetime(2021, 12, 2, 17, 33)),
    ("2/12/2021", datetime(2021, 12, 2)),
    ("2020-10-01", datetime(2020, 10, 1)),
    ("31-02-2021", None),
    ("hôm qua", None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_links_to_folders_are_followed_and_a_symlink_loop_is_reported_not_followed(tmp_path):
    archive, elsewhere = tmp_path / "archive", tmp_path / "mnt" / "2021"
    write_page(archive, "a.txt", "Tin một\n\nGiá lúa tăng mạnh tại miền Tây.\n")
    write_page(elsewhere, "b.txt", "Tin hai\n\nLũ quét ở Bát Xát, Lào Cai.\n")
    (archive / "2021").symlink_to(elsewhere)  # an archive assembled from links
    (elsewhere / "back").symlink_to(archive)  # leads back to the folder being read: a loop
    records = list(read_sources([archive]))
    articles = [r.id for r in records if isinstance(r, Article)]
    [loop] = [r for r in records if isinstance(r, Problem)]
    assert articles == ["b", "a"]  # in the order of their paths: archive/2021/b.txt, archive/a.txt
    assert loop.origin.endswith("back") and loop.reason.startswith("symlink loop")


def test_a_broken_link_to_an_input_is_reported_as_unreadable(tmp_path):
    write_page(tmp_path / "src", "a.txt", "Tin một\n\nGiá lúa tăng mạnh tại miền Tây.\n")
    (tmp_path / "src" / "feed.jsonl").symlink_to(tmp_path / "mnt" / "feed.jsonl")
    [problem] = [r for r in read_sources([tmp_path / "src"]) if isinstance(r, Problem)]
    assert problem.unreadable and problem.reason.startswith("broken link: it points to")
