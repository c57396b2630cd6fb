"""Deep pages cannot take the server down (issue "Answers that mean what was typed", item 4).

A search pages through at most MAX_RESULT_WINDOW hits, past which it is a clear error; near
copies are collapsed in time linear in the hits; so one request's memory and time do not grow
with the page number a client sends.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from indexer import build_index
from indexer.errors import QueryError
from indexer.near_duplicates import EMPTY, NEAR_DUPLICATE_MATCHES, SIGNATURE_SIZE, first_near_copies, near_copy_matrix
from search import Index
from search.api import MAX_RESULT_WINDOW
from search.cli import app
from search.server import create_app

ONE_GB = 1 << 30


def folded_by_comparing_every_pair(signatures: np.ndarray) -> list[int]:
    """The quadratic definition: each row folds into the first earlier kept row it is a near
    copy of."""
    similar = near_copy_matrix(signatures)
    kept: list[int] = []
    into = []
    for i in range(len(signatures)):
        earlier = [k for k in kept if similar[i, k]]
        into.append(earlier[0] if earlier else -1)
        if not earlier:
            kept.append(i)
    return into


@st.composite
def signatures_with_near_copies(draw) -> np.ndarray:
    """Stories and their edited copies: each row a story's signature with a few minima changed
    (so some are near copies, some not), among them texts too short to have one."""
    values = st.integers(0, 3)  # few distinct minima: many chance agreements in a band
    stories = draw(st.lists(st.lists(values, min_size=SIGNATURE_SIZE, max_size=SIGNATURE_SIZE), min_size=1, max_size=6))
    rows = []
    for _ in range(draw(st.integers(0, 60))):
        if draw(st.integers(0, 9)) == 0:
            rows.append(list(EMPTY))
            continue
        row = list(draw(st.sampled_from(stories)))
        edits = SIGNATURE_SIZE - NEAR_DUPLICATE_MATCHES + 2  # up to two past the threshold
        for position in draw(st.lists(st.integers(0, SIGNATURE_SIZE - 1), max_size=edits)):
            row[position] = draw(values)
        rows.append(row)
    return np.array(rows, dtype=np.uint16).reshape(-1, SIGNATURE_SIZE)


@settings(max_examples=300, deadline=None)
@given(signatures_with_near_copies())
def test_collapsing_by_signature_bands_folds_exactly_as_comparing_every_pair(signatures):
    assert first_near_copies(signatures).tolist() == folded_by_comparing_every_pair(signatures)


def test_a_copy_folds_up_to_the_threshold_and_not_past_it():
    story = np.arange(1, SIGNATURE_SIZE + 1, dtype=np.uint16)
    allowed = SIGNATURE_SIZE - NEAR_DUPLICATE_MATCHES
    at_threshold, past_it = story.copy(), story.copy()
    at_threshold[::2][:allowed] = 999  # spread over the bands
    past_it[::2][: allowed + 1] = 999
    assert first_near_copies(np.stack([story, at_threshold, past_it])).tolist() == [-1, 0, -1]


SYLLABLES = ("giá xăng dầu tăng lúa gạo vàng nhà đất chứng khoán ngân hàng lãi suất xuất khẩu cà phê hồ tiêu "
             "cao su thủy sản điện than thép xi măng phân bón sữa đường muối cá tôm gỗ dệt may da giày").split()


@pytest.fixture(scope="module")
def large_index(tmp_path_factory):
    """A little more than a result window of articles, every one of them about "giá"."""
    folder = tmp_path_factory.mktemp("deep")
    rng = random.Random(20261204)
    feed = folder / "gia.jsonl"
    with feed.open("w", encoding="utf-8") as f:
        # More than a window: near copies fold, and a 45-syllable vocabulary makes chance ones.
        for n in range(MAX_RESULT_WINDOW + 3000):
            words = " ".join(rng.choice(SYLLABLES) for _ in range(40))
            record = {"id": f"gia-{n}", "title": f"Giá {rng.choice(SYLLABLES)} {rng.choice(SYLLABLES)} tuần {n}",
                      "body": f"{words}."}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    build_index([feed], folder / "ix")
    return folder / "ix"


def test_a_page_past_the_result_window_is_a_clear_error(large_index):
    with Index.open(large_index) as index:
        assert len(index.search("giá", limit=100, page=MAX_RESULT_WINDOW // 100).hits) == 100  # the last page served
        with pytest.raises(QueryError, match=r"page 101 of 100 hits goes to hit 10,100, past the 10,000"):
            index.search("giá", limit=100, page=101)
        results = index.search("giá", limit=10)
        # A few words match the articles that have them all, counted exactly; the pages
        # offered stop at the window.
        assert results.total == MAX_RESULT_WINDOW + 3000 and results.total_exact
        assert results.pages == MAX_RESULT_WINDOW // 10  # never offers more
        # Pasted text is ranked OR, skipping documents that cannot enter the top hits: its
        # matches are counted up to the window ("at least 10,000", as Elasticsearch's
        # track_total_hits); facets count every match.
        pasted = "giá xăng dầu tăng lúa gạo vàng nhà đất"
        results = index.search(pasted, limit=10)
        assert results.total == MAX_RESULT_WINDOW and not results.total_exact
        assert results.pages == MAX_RESULT_WINDOW // 10
        assert index.search(pasted, limit=10, facets=True).total == MAX_RESULT_WINDOW + 3000


def test_the_cli_exits_2_and_the_api_answers_400_past_the_window(large_index):
    result = CliRunner().invoke(app, ["search", "giá", "--index", str(large_index), "--page", "1000", "--limit", "100"])
    assert result.exit_code == 2 and "past the 10,000 a search can page through" in result.stderr
    client = TestClient(create_app(large_index))
    answer = client.get("/api/search", params={"q": "giá", "page": 1000, "limit": 100})
    assert answer.status_code == 400 and answer.json()["code"] == "bad_query"
    assert client.get("/api/search", params={"q": "giá", "page": 100, "limit": 100}).status_code == 200


def _at_most_one_gb() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ONE_GB, ONE_GB))


@pytest.mark.parametrize("page, expected_exit", [(100, 0), (1000, 2), (100_000, 2)])
def test_deep_pages_run_within_one_gb_of_address_space(large_index, page, expected_exit):
    process = subprocess.run(
        [sys.executable, "-c", "from search.cli import main; main()", "search", "giá", "--index", str(large_index), "--page", str(page),
         "--limit", "100", "--json"],
        capture_output=True, text=True, preexec_fn=_at_most_one_gb, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        timeout=120,
    )
    assert process.returncode == expected_exit, process.stderr
    assert "Traceback" not in process.stderr and "MemoryError" not in process.stderr
    if expected_exit == 0:
        assert len(json.loads(process.stdout)["hits"]) == 100
