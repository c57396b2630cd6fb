"""Search as you type (issue "The newsroom desk", item 4): the last, partly typed syllable
completed from the index's own words, with or without diacritics, written as the articles
write it, with the commonest continuation; in the library, the CLI and the API (the page's
box: tests/test_browser.py)."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexer import build_index
from indexer.errors import QueryError
from search import Index
from search.cli import app
from search.server import create_app
from tests.conftest import SHARED, index_of_records, requires_shared

# The Prime Minister written the ways news writes him, and words that share letters with the
# ones typed: "thu" (autumn, to collect), "tuổi" (age), "tương" (future, mutual).
ARTICLES = [
    ("thu-tuong-1", "Thủ tướng Phan Văn Khải tiếp đoàn doanh nghiệp", "Thủ tướng Phan Văn Khải đã tiếp đoàn doanh nghiệp Nhật Bản."),
    ("thu-tuong-2", "Thủ tướng Phan Văn Khải thăm Hà Nội", "Chiều qua, Thủ tướng Phan Văn Khải đã thăm một nhà máy."),
    ("thu-tuong-3", "Thủ tướng chỉ đạo chống lũ", "Thủ tướng Phan Văn Khải chỉ đạo các tỉnh miền Trung chống lũ."),
    ("thu-tuong-4", "Phó thủ tướng làm việc với tỉnh", "Phó thủ tướng làm việc với lãnh đạo tỉnh về mùa thu hoạch."),
    ("thu-hoach", "Mùa thu hoạch lúa", "Nông dân bước vào mùa thu hoạch, giá lúa tăng, tuổi trẻ về quê giúp gia đình."),
    ("tuong-lai", "Tương lai ngành lúa gạo", "Tương lai ngành lúa gạo phụ thuộc vào giá lúa sau mỗi mùa thu hoạch."),
]


@pytest.fixture(scope="module")
def typed_dir(tmp_path_factory):
    records = [{"id": doc_id, "title": title, "body": body} for doc_id, title, body in ARTICLES]
    return index_of_records(tmp_path_factory.mktemp("complete"), records)


@pytest.fixture(scope="module")
def typed(typed_dir):
    with Index.open(typed_dir) as index:
        yield index


def texts(completions) -> list[str]:
    return [c.text for c in completions]


def test_a_partly_typed_syllable_is_completed_as_the_articles_write_it_beside_the_one_before(typed):
    # Typed without diacritics: "thu" beside "tuong" is "Thủ tướng", not "thu" or "tương".
    assert texts(typed.complete("thu tuo"))[0] == "Thủ tướng"
    assert texts(typed.complete("thu ho"))[0] == "thu hoạch"
    # With diacritics, and the longer continuation most of its articles share.
    assert "Thủ tướng Phan Văn Khải" in texts(typed.complete("Thủ tướng Ph"))


def test_what_was_typed_before_stays_as_typed(typed):
    assert all(t.startswith("mùa ") for t in texts(typed.complete("mùa thu ho")))
    assert texts(typed.complete("mùa thu ho"))[0] == "mùa thu hoạch"


def test_after_a_space_the_words_that_follow_are_offered(typed):
    assert texts(typed.complete("Thủ tướng "))[0] == "Thủ tướng Phan Văn Khải"


def test_nothing_to_complete_gives_nothing_and_a_bad_limit_is_a_query_error(typed):
    assert typed.complete("xyzq") == [] and typed.complete("   ") == []
    assert typed.complete("giá lúa " * 40) == []  # pasted text, not typing
    with pytest.raises(QueryError):
        typed.complete("thu", limit=0)


def test_the_cli_and_the_api_complete(typed_dir):
    out = CliRunner().invoke(app, ["complete", "thu tuo", "--index", str(typed_dir)])
    assert out.exit_code == 0 and out.output.splitlines()[0].split("\t")[0] == "Thủ tướng"
    data = json.loads(CliRunner().invoke(app, ["complete", "thu tuo", "--index", str(typed_dir), "--json"]).output)
    assert data["completions"][0] == {"text": "Thủ tướng", "count": 4}
    assert CliRunner().invoke(app, ["complete", "xyzq", "--index", str(typed_dir)]).exit_code == 1
    client = TestClient(create_app(typed_dir))
    answer = client.get("/api/complete", params={"q": "thu tuo"}).json()
    assert answer["query"] == "thu tuo" and answer["completions"][0]["text"] == "Thủ tướng"
    assert client.get("/api/complete", params={"q": "thu", "limit": 0}).status_code in (400, 422)
    assert client.get("/static/complete.js").headers["content-type"].startswith("text/javascript")


@requires_shared
@pytest.mark.realdata
def test_on_vntc_thu_tuo_is_thu_tuong_and_hinh_su_is_completed_without_diacritics(tmp_path):
    with gzip.open(SHARED / "corpus" / "vntc.jsonl.gz", "rt", encoding="utf-8") as f:
        (tmp_path / "vntc.jsonl").write_text("".join(itertools.islice(f, 3000)), encoding="utf-8")
    build_index([tmp_path / "vntc.jsonl"], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        assert texts(index.complete("thu tuo"))[0] == "Thủ tướng"
        assert texts(index.complete("tham nh"))[0] == "tham nhũng"
        assert texts(index.complete("Ha N"))[0] == "Hà Nội"


def test_a_syllable_typed_with_diacritics_is_completed_only_as_typed(typed):
    assert all(t.lower().startswith("thủ") for t in texts(typed.complete("thủ")))
    assert "thu hoạch" not in [t.lower() for t in texts(typed.complete("thủ"))]


def test_what_stands_before_punctuation_is_not_a_context(typed):
    completions = texts(typed.complete("giá lúa. thu ho"))
    assert completions and completions[0] == "giá lúa. thu hoạch"
