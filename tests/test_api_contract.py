"""The HTTP API keeps its published contract (issue "Nothing lost", item 4): schemathesis, the
standard client for checking a server against its OpenAPI schema, runs every check it has
against the application; HEAD works wherever GET does, a 405 says what is allowed, and an
article opens whatever its id holds (ids are often URLs or paths)."""

from __future__ import annotations

import html
import json
import re
import warnings
from urllib.parse import quote, unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx versions
    from fastapi.testclient import TestClient

from indexer import build_index
from search.server import create_app


@pytest.fixture(scope="module")
def contract_app(corpus_index_dir):
    return create_app(corpus_index_dir)


def valid_requests_are_accepted_or_have_nothing_to_search(ctx, response, case):
    """``positive_data_acceptance``, except for what OpenAPI cannot say about free text: a
    schema-valid query may have nothing to search (only punctuation), name a day that does not
    exist (2021-02-31) or ask for a page past the result window. Those, and only those, are
    400 ``bad_query``, as the schema documents; any other 400 still fails."""
    if response.status_code == 400 and response.json().get("code") == "bad_query":
        return None
    return positive_data_acceptance(ctx, response, case)


EVERY_CHECK = [check for check in CHECKS.get_all() if check is not positive_data_acceptance] + [
    valid_requests_are_accepted_or_have_nothing_to_search
]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_the_api_answers_as_its_openapi_schema_says(contract_app, mode):
    """Every operation of the schema, with requests it allows (positive) and forbids
    (negative), 80 of each, through every check."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", contract_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/search", "/api/articles/{doc_id}", "/api/suggest", "/api/stats", "/healthz"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
            continue  # nothing to get wrong in a request without parameters

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case):
            case.call_and_validate(checks=EVERY_CHECK)

        answers_as_documented()


def test_every_check_schemathesis_has_runs():
    names = {check.__name__ for check in EVERY_CHECK}
    assert {"not_a_server_error", "status_code_conformance", "response_schema_conformance", "negative_data_rejection",
            "unsupported_method", "allow_header_conformance", "content_type_conformance"} <= names


def test_head_works_wherever_get_does_and_a_405_says_what_is_allowed(contract_app):
    client = TestClient(contract_app)
    for path in ("/", "/?q=l%C3%BAa", "/api/search?q=l%C3%BAa", "/api/stats", "/healthz"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
    refused = client.post("/api/search?q=l%C3%BAa")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET"
    assert refused.json()["code"] == "method_not_allowed"


ODD_IDS = ["2021/12/abc", "tin?id=7", "bai#2", "giam-50%-phi", "có dấu cách", "thời-sự/Đà-Nẵng/mưa-lũ", "../../etc/passwd"]


BODIES = [
    "Mưa lũ miền Trung làm hàng trăm ngôi nhà ở Quảng Nam bị ngập sâu.",
    "Chính phủ hỗ trợ gạo cứu đói cho người dân vùng mưa lũ miền Trung.",
    "Đường sắt Bắc Nam tạm ngừng chạy tàu qua Quảng Bình vì mưa lũ miền Trung.",
    "Học sinh Hà Tĩnh nghỉ học ba ngày do mưa lũ miền Trung kéo dài.",
    "Mưa lũ miền Trung khiến giá rau xanh ở Đà Nẵng tăng gấp đôi.",
    "Lực lượng cứu hộ sơ tán hai nghìn hộ dân khỏi vùng mưa lũ miền Trung.",
    "Các nhà khoa học cảnh báo mưa lũ miền Trung sẽ còn cực đoan hơn.",
]


def test_an_article_opens_whatever_its_id_holds_from_the_api_and_from_the_page(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(
        json.dumps({"id": doc_id, "title": f"Mưa lũ miền Trung, bài {n}", "body": body}, ensure_ascii=False) + "\n"
        for n, (doc_id, body) in enumerate(zip(ODD_IDS, BODIES))), encoding="utf-8")
    build_index([feed], tmp_path / "ix")
    client = TestClient(create_app(tmp_path / "ix"))
    for doc_id in ODD_IDS:
        answer = client.get(f"/api/articles/{quote(doc_id, safe='')}")
        assert answer.status_code == 200 and answer.json()["id"] == doc_id, doc_id
    page = client.get("/", params={"q": "mưa lũ miền Trung"}).text
    links = [html.unescape(link) for link in re.findall(r'<h2><a href="(/articles/[^"]+)"', page)]
    linked = {unquote(link[len("/articles/"):].split("?")[0]): link for link in links}
    assert set(ODD_IDS) <= set(linked)
    for n, doc_id in enumerate(ODD_IDS):
        article = client.get(linked[doc_id])
        assert article.status_code == 200 and f"Mưa lũ miền Trung, bài {n}" in article.text, doc_id
