"""The HTTP API and the search page, through httpx against the application.

The API answers with the very objects ``vnsearch search --json`` prints, errors are JSON with
a status that says whose fault they are, and nothing a user or an article contains is ever
rendered as markup.
"""

from __future__ import annotations

import json
import re
import warnings

import markupsafe
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx versions
    from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexer import build_index
from search.cli import app as cli_app
from search.server import MAX_QUERY_CHARS, create_app
from tests.conftest import CORPUS, SEED_ID, write_page


@pytest.fixture(scope="module")
def client(corpus_index_dir) -> TestClient:
    return TestClient(create_app(corpus_index_dir), raise_server_exceptions=False)


def test_api_search_is_exactly_the_cli_json(client, corpus_index_dir):
    cli = CliRunner().invoke(cli_app, ["search", "sinh hoat chi bo", "--index", str(corpus_index_dir), "--json",
                                       "--limit", "3", "--facets", "--since", "2021-01"])
    api = client.get("/api/search", params={"q": "sinh hoat chi bo", "limit": 3, "facets": True, "since": "2021-01"})
    assert api.status_code == 200 and api.headers["content-type"] == "application/json"
    expected, got = json.loads(cli.output), api.json()
    expected.pop("took_ms"), got.pop("took_ms")
    assert got == expected and got["hits"][0]["id"] == SEED_ID


def test_every_search_option_is_a_parameter(client):
    out = client.get("/api/search", params={"q": "đảng viên", "limit": 2, "page": 2, "fields": "body", "all": True,
                                            "until": "2021-12-31", "sort": "date", "recent": True, "source": "lcdt"}).json()
    assert out["page"] == 2 and all(hit["source"] == "LCĐT" for hit in out["hits"])
    telex = client.get("/api/search", params={"q": "tinhr uyr"}).json()
    assert (telex["searched_for"], telex["typed_as"]) == ("tỉnh ủy", "Telex")
    assert client.get("/api/search", params={"q": "UBND"}).json()["also_searched"] == ["Ủy ban nhân dân"]


def test_article_suggest_stats_and_health(client):
    article = client.get(f"/api/articles/{SEED_ID}", params={"q": "chi bộ"}).json()
    assert article["id"] == SEED_ID and "<mark>chi bộ</mark>" in article["body_html"] and len(article["body"]) > 5000
    assert client.get("/api/suggest", params={"q": "sinh hoạt chi bô"}).json() == {"query": "sinh hoạt chi bô", "suggestion": "sinh hoạt chi bộ"}
    assert client.get("/api/stats").json()["documents"] == 15
    assert client.get("/healthz").json()["status"] == "ok"
    assert "/api/search" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    "url, status, code",
    [
        ("/api/search?q=", 400, "bad_parameter"),  # the schema says: at least one character
        ("/api/search?q=%22%20-%20%3A", 400, "bad_query"),
        ("/api/search", 400, "bad_parameter"),
        ("/api/search?q=l%C3%BAa&limit=101", 400, "bad_parameter"),
        ("/api/search?q=l%C3%BAa&limit=abc", 400, "bad_parameter"),
        ("/api/search?q=l%C3%BAa&page=0", 400, "bad_parameter"),
        ("/api/search?q=l%C3%BAa&sort=title", 400, "bad_parameter"),
        ("/api/search?q=l%C3%BAa&since=2021-13", 400, "bad_query"),
        ("/api/search?q=l%C3%BAa&fields=author", 400, "bad_parameter"),
        (f"/api/search?q={'a' * (MAX_QUERY_CHARS + 1)}", 400, "bad_parameter"),
        ("/api/articles/khong-co-bai-nay", 404, "not_found"),
        ("/api/articles/..%2F..%2F..%2Fetc%2Fpasswd", 404, "not_found"),
        ("/api/articles/%2E%2E", 404, "not_found"),
        ("/api/nothing-here", 404, "not_found"),
    ],
)
def test_errors_are_json_with_a_status_and_a_code(client, url, status, code):
    response = client.get(url)
    assert response.status_code == status and response.json()["code"] == code
    assert response.json()["error"] and "Traceback" not in response.text


def test_a_missing_index_is_503_until_it_is_built(tmp_path):
    client = TestClient(create_app(tmp_path / "ix"), raise_server_exceptions=False)
    response = client.get("/api/search", params={"q": "lúa"})
    assert response.status_code == 503 and response.json()["code"] == "index_unavailable"
    assert client.get("/healthz").status_code == 503
    build_index([CORPUS], tmp_path / "ix")
    assert client.get("/api/search", params={"q": "lúa"}).status_code == 200


def test_the_next_request_after_an_update_sees_the_new_generation(tmp_path):
    src = tmp_path / "src"
    write_page(src, "a.txt", "Giá lúa tăng\n\nGiá lúa tươi tăng thêm 300 đồng mỗi ki lô gam ở miền Tây.\n")
    build_index([src], tmp_path / "ix")
    client = TestClient(create_app(tmp_path / "ix"))
    assert client.get("/api/search", params={"q": "lũ quét"}).json()["hits"] == []
    write_page(src, "b.txt", "Lũ quét ở Bát Xát\n\nMưa lớn gây lũ quét tại nhiều xã vùng cao của huyện Bát Xát.\n")
    CliRunner().invoke(cli_app, ["update", str(src), "--index", str(tmp_path / "ix")])
    assert [h["id"] for h in client.get("/api/search", params={"q": "lũ quét"}).json()["hits"]] == ["b"]


HOSTILE = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "</mark><b>đậm</b>"]


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory) -> TestClient:
    src = tmp_path_factory.mktemp("hostile")
    # Tags are cleaned out of articles when indexed; what is left of them, and comparisons
    # that are not tags, must still reach the page as text.
    write_page(src, "doc.txt", f"Giá lúa {HOSTILE[0]} tăng\n\nGiá lúa {HOSTILE[1]} tăng {HOSTILE[2]} ở miền Tây, "
                               "lạm phát <5% và lãi suất >3% & ổn định.\n")
    build_index([src], src / "ix")
    return TestClient(create_app(src / "ix"), raise_server_exceptions=False)


@pytest.mark.parametrize("query", ["giá lúa", *(f"giá lúa {h}" for h in HOSTILE)])
def test_article_and_query_text_is_escaped_in_html(hostile_client, query):
    for url, params in (("/", {"q": query}), ("/articles/doc", {"q": query})):
        page = hostile_client.get(url, params=params).text
        assert "<script>" not in page and "<img" not in page and "<b>đậm" not in page
        # The only markup inside a snippet or the text is the highlighting.
        assert not re.search(r"<(?!/?(mark|a|p|h1|h2|div|li|ol|span|strong|section|main|nav|aside|ul|h3|article|header|body|html|head|meta|title|style|form|input|button|details|summary|label|select|option|datalist|script|figure|figcaption|svg|rect)\b)[a-z]", page)
        # The one script is the page's own, by address (the search box's suggestions).
        assert page.count("<script") == page.count('<script src="/static/complete.js" defer></script>')
        if url == "/articles/doc":
            assert "lạm phát &lt;5% và lãi suất &gt;3% &amp; ổn định" in page
        elif query != "giá lúa":  # the search page shows the query back, as text
            assert f'value="{markupsafe.escape(query)}"' in page  # in the search box


def test_cors_is_off_by_default_and_on_for_named_origins(corpus_index_dir):
    origin = {"Origin": "https://cms.toasoan.vn"}
    plain = TestClient(create_app(corpus_index_dir)).get("/api/stats", headers=origin)
    assert "access-control-allow-origin" not in plain.headers
    allowed = TestClient(create_app(corpus_index_dir, ["https://cms.toasoan.vn"])).get("/api/stats", headers=origin)
    assert allowed.headers["access-control-allow-origin"] == "https://cms.toasoan.vn"


def test_the_page_keeps_the_query_and_filters_in_the_url(client):
    page = client.get("/", params={"q": "đảng viên", "source": "LCĐT"}).text
    assert 'value="đảng viên"' in page and 'name="source" value="LCĐT"' in page
    assert "bỏ lọc" in page  # the filter in force, with the way to drop it
    assert client.get("/", params={"q": "", "page": 1}).status_code == 200
    assert client.get("/", params={"q": '" - :'}).status_code == 400
