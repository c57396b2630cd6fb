"""The search page in a real browser: Debian's Chromium driven by Playwright.

A journalist types without diacritics, filters by source, follows "did you mean", opens an
article and turns the page; the server is the real ``vnsearch serve`` in its own process.
A failing test leaves a screenshot of what the browser showed in its tmp_path.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SEED_ID

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium is not installed (.ci/run installs Debian's chromium package)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(corpus_index_dir):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from search.cli import main; main()", "serve", "--index", str(corpus_index_dir), "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"vnsearch serve did not start: {process.stdout.read()}")
            time.sleep(0.2)
    yield base
    process.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        assert process.wait(timeout=15) == 0, process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, tmp_path, request):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")  # a phone
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"screenshot: {tmp_path / 'failure.png'}")
    context.close()


def _search(page, base: str, text: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=q]", text)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_typing_without_diacritics_finds_the_seed_first_with_the_phrase_marked(page, server):
    _search(page, server, "sinh hoat chi bo")
    first = page.locator("li.hit").first
    assert first.get_attribute("data-id") == SEED_ID
    assert "sinh hoạt chi bộ" in first.locator(".snippet mark").all_inner_texts()
    assert "q=sinh+hoat+chi+bo" in page.url  # shareable


def test_a_source_facet_filters_the_list(page, server):
    _search(page, server, "tỉnh")
    before = page.locator("li.hit").count()
    facet = page.locator("a.facet[data-facet=source]", has_text="LCĐT")
    facet.click()
    page.wait_for_load_state()
    sources = [m.split(" · ")[0] for m in page.locator("li.hit .meta").all_inner_texts()]
    assert sources and set(sources) == {"LCĐT"} and len(sources) < before
    assert "source=" in page.url and page.locator("aside.facets .on").inner_text().startswith("LCĐT")


def test_did_you_mean_is_a_link_that_searches_the_correction(page, server):
    _search(page, server, "sinh hoạt chi bô")
    page.click("#suggestion a")
    page.wait_for_load_state()
    assert page.input_value("input[name=q]") == "sinh hoạt chi bộ"
    assert page.locator("li.hit").first.get_attribute("data-id") == SEED_ID


def test_telex_typing_is_shown_as_searched_for(page, server):
    _search(page, server, "tinhr uyr")
    assert page.locator("#searched-for").inner_text() == "Đã tìm: tỉnh ủy (gõ kiểu Telex)"


def test_an_article_opens_with_the_query_words_marked_in_the_whole_text(page, server):
    _search(page, server, "sinh hoat chi bo")
    page.locator("li.hit h2 a").first.click()
    page.wait_for_load_state()
    assert page.locator("article.full").get_attribute("data-id") == SEED_ID
    marked = page.locator("article.full .body mark").all_inner_texts()
    assert marked.count("sinh hoạt chi bộ") >= 3


def test_page_two_continues_page_one(page, server):
    _search(page, server, "và")  # 15 articles match
    first_page = [page.locator("li.hit").nth(i).get_attribute("data-id") for i in range(page.locator("li.hit").count())]
    page.click("a[rel=next]")
    page.wait_for_load_state()
    assert "page=2" in page.url and page.locator("ol.results").get_attribute("start") == "11"
    second_page = [page.locator("li.hit").nth(i).get_attribute("data-id") for i in range(page.locator("li.hit").count())]
    assert second_page and not set(first_page) & set(second_page)


def test_the_timeline_is_drawn_above_the_hits_and_a_bar_narrows_the_search_to_its_month(page, server):
    _search(page, server, "và")  # 15 articles from March 2020 to December 2021
    bars = page.locator("figure.timeline a.bar")
    assert bars.count() >= 2 and page.locator("figure.timeline svg").is_visible()
    december = page.locator("figure.timeline a.bar[data-period='2021-12']")
    december.click()
    page.wait_for_load_state()
    assert "since=2021-12" in page.url and "until=2021-12" in page.url
    dates = [m.split(" · ")[1] for m in page.locator("li.hit .meta").all_inner_texts()]
    assert dates and all(d.endswith("/12/2021") or "/12/2021 " in d for d in dates)
    # Within one month the chart is by day.
    periods = page.locator("figure.timeline a.bar").evaluate_all("bars => bars.map(b => b.dataset.period)")
    assert periods and all(p.startswith("2021-12-") for p in periods)
    # Searching again from the box keeps the month (a date field would have dropped it).
    page.fill("input[name=q]", "tỉnh")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "since=2021-12" in page.url and "until=2021-12" in page.url


def test_the_related_list_under_an_article_opens_another_article(page, server):
    page.goto(server + f"/articles/{SEED_ID}")
    first = page.locator("aside.related li").first
    assert page.locator("aside.related h2").inner_text() == "Bài liên quan"
    other = first.get_attribute("data-id")
    assert other and other != SEED_ID
    first.locator("a").click()
    page.wait_for_load_state()
    assert page.locator("article.full").get_attribute("data-id") == other


def test_the_search_box_suggests_completions_as_you_type_without_diacritics(page, server):
    page.goto(server + "/")
    page.locator("input[name=q]").press_sequentially("sinh hoat chi b", delay=20)
    page.wait_for_function("document.querySelectorAll('#completions option').length > 0", timeout=5000)
    options = page.locator("#completions option").evaluate_all("options => options.map(o => o.value)")
    assert options[0].lower() == "sinh hoạt chi bộ"
