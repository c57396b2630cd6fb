"""When was this covered? Matching articles per day, month or year (issue "The newsroom desk",
item 1): in the library, the CLI, the API and the page's chart, counted over the whole match
set, the undated apart."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexer.errors import QueryError
from search import Index, Query
from search.cli import app
from search.server import create_app
from tests.conftest import index_of_records

# Flood coverage over a season: three in October 2020, none in November, two in December, one
# in January 2021, and one without a date; and an article about something else.
ARTICLES = [
    ("lu-1", "Lũ lớn ở Quảng Bình", "Lũ dâng cao, nhiều nhà ở Quảng Bình bị ngập sâu.", "2020-10-08"),
    ("lu-2", "Lũ chia cắt Quảng Trị", "Lũ lớn chia cắt nhiều xã, hàng nghìn hộ phải sơ tán.", "2020-10-19"),
    ("lu-3", "Cứu trợ vùng lũ", "Đoàn cứu trợ mang gạo và nước sạch vào vùng lũ.", "2020-10-20"),
    ("lu-4", "Lũ muộn ở miền Trung", "Mưa lớn cuối năm gây lũ muộn ở miền Trung.", "2020-12-03"),
    ("lu-5", "Khắc phục hậu quả lũ", "Các tỉnh miền Trung khắc phục hậu quả lũ, sửa trường học.", "2020-12-28"),
    ("lu-6", "Tổng kết mùa lũ", "Mùa lũ năm 2020 là mùa lũ lớn nhất nhiều năm qua.", "2021-01-15"),
    ("lu-7", "Ký ức mùa lũ", "Một bài tản văn về mùa lũ ở quê nhà, không ghi ngày.", None),
    ("gia-vang", "Giá vàng tăng", "Giá vàng trong nước tăng mạnh.", "2020-11-05"),
]


def records(articles) -> list[dict]:
    return [{"id": doc_id, "title": title, "body": body, "source": "VNE", **({"date": date} if date else {})}
            for doc_id, title, body, date in articles]


@pytest.fixture(scope="module")
def floods_dir(tmp_path_factory):
    return index_of_records(tmp_path_factory.mktemp("timeline"), records(ARTICLES))


@pytest.fixture(scope="module")
def floods(floods_dir):
    with Index.open(floods_dir) as index:
        yield index


def test_matches_are_counted_per_month_over_the_whole_match_set_with_empty_months_and_undated_apart(floods):
    results = floods.search("lũ", histogram="month", limit=1)  # one hit on the page; all seven counted
    assert results.total == 7 and len(results.hits) == 1
    assert results.timeline.periods == (("2020-10", 3), ("2020-11", 0), ("2020-12", 2), ("2021-01", 1))
    assert results.timeline.undated == 1
    assert results.to_json()["timeline"] == {
        "interval": "month", "undated": 1,
        "periods": [{"period": "2020-10", "count": 3}, {"period": "2020-11", "count": 0},
                    {"period": "2020-12", "count": 2}, {"period": "2021-01", "count": 1}]}


def test_years_and_days_and_filters(floods):
    assert floods.search("lũ", histogram="year").timeline.periods == (("2020", 5), ("2021", 1))
    days = floods.search("lũ", histogram="day", since="2020-10", until="2020-10").timeline
    assert [p for p, n in days.periods if n] == ["2020-10-08", "2020-10-19", "2020-10-20"] and len(days.periods) == 13
    assert days.undated == 0  # a date range leaves the undated out
    assert floods.search(Query("lũ", histogram="year")).timeline == floods.search("lũ", histogram="year").timeline
    assert floods.search("lũ").timeline is None and floods.search("lũ").to_json()["timeline"] is None


def test_a_bad_interval_is_a_query_error(floods):
    with pytest.raises(QueryError, match="histogram must be one of day, month, year, not 'week'"):
        floods.search("lũ", histogram="week")


def test_the_cli_draws_the_timeline_and_prints_it_as_json(floods_dir):
    out = CliRunner().invoke(app, ["search", "lũ", "--index", str(floods_dir), "--histogram", "month"])
    assert out.exit_code == 0 and "Matching articles per month:" in out.output
    lines = {line.split()[0]: line for line in out.output.splitlines() if line.startswith("  20") or line.startswith("  undated")}
    assert lines["2020-10"].endswith(" 3") and "█" * 40 in lines["2020-10"]  # the largest fills the bar
    assert lines["2020-11"].split() == ["2020-11", "0"] and lines["undated"].endswith(" 1")
    data = json.loads(CliRunner().invoke(app, ["search", "lũ", "--index", str(floods_dir), "--histogram", "year", "--json"]).output)
    assert data["timeline"]["periods"] == [{"period": "2020", "count": 5}, {"period": "2021", "count": 1}]
    bad = CliRunner().invoke(app, ["search", "lũ", "--index", str(floods_dir), "--histogram", "week"])
    assert bad.exit_code == 2 and "histogram must be one of" in bad.stderr


def test_the_api_counts_per_period_and_the_page_charts_it_with_bars_that_narrow_the_search(floods_dir):
    client = TestClient(create_app(floods_dir))
    answer = client.get("/api/search", params={"q": "lũ", "histogram": "year"})
    assert answer.status_code == 200 and answer.json()["timeline"]["undated"] == 1
    assert client.get("/api/search", params={"q": "lũ", "histogram": "week"}).status_code in (400, 422)
    page = client.get("/", params={"q": "lũ"}).text
    assert '<figure class="timeline"' in page and "<svg" in page
    assert 'data-period="2020-10"' in page and 'data-period="2020-11"' not in page  # empty months: no bar to click
    assert "since=2020-10&amp;until=2020-10" in page and "1 bài không rõ ngày" in page
    narrowed = client.get("/", params={"q": "lũ", "since": "2020-10", "until": "2020-10"}).text
    assert 'data-period="2020-10-19"' in narrowed  # within one month, by day
    hits = [line for line in narrowed.split('class="hit" data-id="')[1:]]
    assert sorted(hit.split('"')[0] for hit in hits) == ["lu-1", "lu-2", "lu-3"]  # October's, nothing else


def test_an_article_dated_in_year_one_leaves_the_page_without_a_chart_not_without_hits(tmp_path):
    ix = index_of_records(tmp_path, records(ARTICLES[:3] + [("co", "Lũ thời cổ", "Một trận lũ trong truyền thuyết.", "0001-01-01")]))
    with Index.open(ix) as index:
        with pytest.raises(QueryError, match="more periods than a timeline shows"):
            index.search("lũ", histogram="month")  # asked for: a clear error
        assert len(index.search("lũ", histogram="year").timeline.periods) == 2020  # 0001 to 2020
    page = TestClient(create_app(ix)).get("/", params={"q": "lũ"})
    assert page.status_code == 200 and 'class="hit"' in page.text and "<figure" not in page.text
