"""What else did we write about this? Related coverage (issue "The newsroom desk", item 2):
an article's most telling terms searched against the index, the article itself and its exact
and near copies left out; in the library, the CLI, the API and under the article on the page."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexer.errors import QueryError
from search import Index
from search.cli import app
from search.related import telling_terms
from search.server import create_app
from tests.conftest import index_of_records

FLOOD = ("Mưa lớn kéo dài nhiều ngày gây lũ quét và sạt lở đất ở các huyện miền núi tỉnh Quảng Bình. "
         "Lũ quét cuốn trôi nhiều nhà dân, chia cắt các xã vùng cao; lực lượng cứu hộ đã sơ tán hàng trăm hộ "
         "dân đến nơi an toàn. Ban chỉ huy phòng chống thiên tai tỉnh Quảng Bình cho biết lũ quét và sạt lở "
         "đất còn đe dọa nhiều khu dân cư ven sông trong những ngày tới.")
ARTICLES = [
    ("lu-quang-binh", "Lũ quét và sạt lở đất ở Quảng Bình", FLOOD),
    # The same story reposted with a changed closing line: a near copy, never "related".
    ("lu-quang-binh-dang-lai", "Lũ quét và sạt lở đất ở Quảng Bình", FLOOD.replace("trong những ngày tới", "trong tuần này")),
    # Other coverage of the floods.
    ("cuu-ho-quang-binh", "Cứu hộ vùng lũ quét Quảng Bình",
     "Lực lượng cứu hộ tiếp cận các xã bị lũ quét chia cắt ở Quảng Bình, sơ tán hộ dân khỏi vùng sạt lở đất."),
    ("sat-lo-quang-tri", "Sạt lở đất vùi lấp nhà dân",
     "Sau mưa lớn, sạt lở đất vùi lấp nhiều nhà dân ở miền núi; lũ quét cuốn trôi cầu treo, chia cắt nhiều xã."),
    ("canh-bao-lu-quet", "Cảnh báo lũ quét miền núi",
     "Trung tâm dự báo cảnh báo nguy cơ lũ quét và sạt lở đất ở vùng núi các tỉnh miền Trung, trong đó có Quảng Bình."),
    # Other subjects that share only common words.
    ("gia-vang", "Giá vàng tăng mạnh", "Giá vàng trong nước tăng mạnh nhiều ngày liền, người dân đổ xô đi mua vàng."),
    ("bong-da", "Đội tuyển thắng đậm", "Đội tuyển bóng đá thắng đậm trong trận đấu trên sân nhà trước hàng nghìn khán giả."),
    ("hoc-phi", "Học phí đại học tăng", "Nhiều trường đại học tăng học phí năm học mới, sinh viên lo lắng."),
]
# The rest of a (small) archive: a term in more than a fifth of it tells nothing (MAX_DOC_SHARE).
MARKETS = ["Đồng Xuân", "Bến Thành", "Hàng Da", "Long Biên", "An Đông", "Bình Tây", "Hôm", "Cửa Nam", "Kim Biên", "Phùng Khoang"]
ARTICLES += [(f"cho-{n}", f"Chợ {market} ngày {n}", f"Giá rau xanh ở chợ {market} tăng nhẹ vào ngày thứ {n} của tháng, tiểu thương cho biết.")
             for n, market in enumerate(MARKETS * 3)]


@pytest.fixture(scope="module")
def desk_dir(tmp_path_factory):
    records = [{"id": doc_id, "title": title, "body": body, "source": "VNE"} for doc_id, title, body in ARTICLES]
    # An exact copy under another id: merged into the article when indexing.
    records.append({"id": "lu-quang-binh-ban-sao", "title": ARTICLES[0][1], "body": FLOOD, "source": "TTO"})
    return index_of_records(tmp_path_factory.mktemp("related"), records)


@pytest.fixture(scope="module")
def desk(desk_dir):
    with Index.open(desk_dir) as index:
        yield index


def test_related_articles_are_the_other_coverage_of_the_subject_without_the_article_or_its_copies(desk):
    related = [hit.id for hit in desk.related("lu-quang-binh", limit=5)]
    assert set(related[:3]) == {"cuu-ho-quang-binh", "sat-lo-quang-tri", "canh-bao-lu-quet"}
    assert not {"lu-quang-binh", "lu-quang-binh-dang-lai", "lu-quang-binh-ban-sao"} & set(related)
    assert [hit.rank for hit in desk.related("lu-quang-binh", limit=2)] == [1, 2]
    # A copy's id finds the same coverage, and the copy is not in it either.
    assert [hit.id for hit in desk.related("lu-quang-binh-ban-sao", limit=3)] == related[:3]


def test_the_telling_terms_are_the_subjects_words_not_the_common_ones(desk):
    terms = telling_terms(ARTICLES[0][1], FLOOD, desk._state.doc_freqs, len(desk))
    best = {term for _, term, _ in terms[:12]}
    assert {"lu quet", "sat lo", "quang binh"} <= best  # bigrams, folded, as the index has them
    # Words every story of the archive uses are not chosen at all ("giá", "ngày", "tăng").
    assert not {"gia", "ngay", "tang", "cho"} & {term for _, term, _ in terms}


def test_an_unknown_article_has_no_related_coverage_and_a_bad_limit_is_a_query_error(desk):
    assert desk.related("khong-co") is None
    with pytest.raises(QueryError):
        desk.related("lu-quang-binh", limit=0)


def test_the_cli_the_api_and_the_article_page_list_related_coverage(desk_dir):
    out = CliRunner().invoke(app, ["related", "lu-quang-binh", "--index", str(desk_dir), "-n", "3"])
    assert out.exit_code == 0 and " 1. " in out.output and "Cứu hộ vùng lũ quét Quảng Bình" in out.output
    data = json.loads(CliRunner().invoke(app, ["related", "lu-quang-binh", "--index", str(desk_dir), "--json"]).output)
    assert data["id"] == "lu-quang-binh" and len(data["related"]) >= 3 and data["related"][0]["rank"] == 1
    missing = CliRunner().invoke(app, ["related", "khong-co", "--index", str(desk_dir)])
    assert missing.exit_code == 1 and "no article with id 'khong-co'" in missing.stderr
    client = TestClient(create_app(desk_dir))
    answer = client.get("/api/articles/lu-quang-binh/related", params={"limit": 3}).json()
    assert [hit["id"] for hit in answer["related"]] == [hit["id"] for hit in data["related"][:3]]
    assert client.get("/api/articles/khong-co/related").status_code == 404
    assert client.get("/api/articles/lu-quang-binh/related", params={"limit": 0}).status_code in (400, 422)
    assert client.get("/api/articles/lu-quang-binh").json()["id"] == "lu-quang-binh"  # the article route still answers
    page = client.get("/articles/lu-quang-binh").text
    assert "Bài liên quan" in page and 'href="/articles/cuu-ho-quang-binh"' in page
