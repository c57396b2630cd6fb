"""On the real corpora in ../shared (skipped where absent): a few thousand documents each."""

import gzip
import itertools
import json
import re

import pytest
from typer.testing import CliRunner

from indexer import build_index
from indexer.analysis import fold_diacritics
from search import Index
from search.cli import app
from tests.conftest import SHARED, requires_shared

pytestmark = [requires_shared, pytest.mark.realdata]

DANTRI = SHARED / "corpus" / "dantri-unc.jsonl.gz"
VNTC = SHARED / "corpus" / "vntc.jsonl.gz"
XQUAD = SHARED / "eval" / "xquad_vi"


@pytest.fixture(scope="module")
def dantri_index(tmp_path_factory):
    path = tmp_path_factory.mktemp("dantri") / "ix"
    result = CliRunner().invoke(app, ["index", str(DANTRI), "--index", str(path), "--procs", "2"])
    assert result.exit_code == 0, result.output
    # Every record is indexed, merged into an exact copy, or skipped with a reason: together 2,653.
    counts = {kind: int(n.replace(",", "")) for n, kind in re.findall(r"([\d,]+) (documents indexed|duplicates merged|skipped)", result.output)}
    assert sum(counts.values()) == 2653 and counts["documents indexed"] > 2500, result.output
    return path


@pytest.fixture(scope="module")
def vntc_sample(tmp_path_factory):
    """The first 3,000 VNTC records, as they are (duplicates, HTML, related-article tails)."""
    folder = tmp_path_factory.mktemp("vntc")
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        lines = list(itertools.islice(f, 3000))
    path = folder / "vntc-3000.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    report = folder / "report.jsonl"
    result = CliRunner().invoke(app, ["index", str(path), "--index", str(folder / "ix"), "--report", str(report), "-j", "2"])
    return path, folder / "ix", report, result, [json.loads(l) for l in lines]


def test_dantri_json_lines_index_and_search(dantri_index):
    data = json.loads(CliRunner().invoke(app, ["search", "Vinamilk thương hiệu", "--index", str(dantri_index), "--json"]).output)
    top = data["hits"][0]
    assert top["id"] == "news_business_001"
    assert top["date"].startswith("2020-10-01") and top["source"] == "Dân trí"
    assert top["url"].startswith("https://dantri.com.vn/")


def test_dantri_titles_find_their_article_with_and_without_diacritics(dantri_index):
    with gzip.open(DANTRI, "rt", encoding="utf-8") as f:
        records = [json.loads(l) for l in itertools.islice(f, 0, 2653, 53)]
    with Index.open(dantri_index) as index:
        for variant in (lambda t: t, fold_diacritics):
            found = sum(index.search(variant(r["title"]), limit=3).hits[0].id == r["id"] for r in records)
            assert found / len(records) >= 0.9


def test_every_vntc_record_is_accounted_for(vntc_sample):
    _, _, report, result, records = vntc_sample
    entries = [json.loads(l) for l in report.read_text(encoding="utf-8").splitlines()]
    assert len(entries) == len(records)
    statuses = {e["status"] for e in entries}
    assert statuses <= {"indexed", "duplicate", "skipped"}
    duplicates = [e for e in entries if e["status"] == "duplicate"]
    assert duplicates and all(e["duplicate_of"] for e in duplicates)
    assert f"{len(duplicates):,} duplicates merged" in result.output


def test_vntc_duplicates_collapse_into_one_hit(vntc_sample):
    _, index_dir, report, _, records = vntc_sample
    entry = next(json.loads(l) for l in report.read_text(encoding="utf-8").splitlines() if '"duplicate"' in l)
    body = next(r["body"] for r in records if r["id"] == entry["id"])
    with Index.open(index_dir) as index:
        hits = index.search(" ".join(body.split()[:30]), limit=5).hits
    assert hits[0].id == entry["duplicate_of"] and entry["id"] in hits[0].duplicates
    assert entry["id"] not in [h.id for h in hits]


def test_vntc_known_item_titles_against_bodies(vntc_sample):
    _, index_dir, _, _, records = vntc_sample
    queries = [(r["title"], r["id"]) for r in records if r["title"] and "<" not in r["title"]][:200]
    with Index.open(index_dir) as index:
        def mrr(rewrite):
            total = 0.0
            for title, doc_id in queries:
                for hit in index.search(rewrite(title), fields=["body"], limit=10):
                    if hit.id == doc_id or doc_id in hit.duplicates:
                        total += 1 / hit.rank
                        break
            return total / len(queries)

        assert mrr(lambda t: t) >= 0.6
        assert mrr(fold_diacritics) >= 0.55


def test_vntc_related_article_tails_are_not_indexed(vntc_sample):
    _, index_dir, _, _, _ = vntc_sample
    with Index.open(index_dir) as index:
        for hit in index.search("Xem tiếp", limit=20):
            assert "Xem tiếp" not in hit.snippet.text


def test_vntc_links_to_other_articles_inside_the_text_are_not_indexed(vntc_sample):
    _, index_dir, _, _, records = vntc_sample
    linking = next(r for r in records if r["id"] == "vntc-test-XH-TN-8687")
    assert "&gt;&gt; Hà Nội lấy ý kiến về phương án tuyển sinh" in linking["body"]
    with Index.open(index_dir) as index:
        # The headline as a phrase: the article that only links to it must not have it.
        hits = index.search('"Hà Nội lấy ý kiến về phương án tuyển sinh"', limit=10, fields=("body",))
        assert linking["id"] not in {h.id for h in hits}


def test_xquad_questions_find_their_passage(tmp_path):
    build_index([XQUAD / "passages.jsonl"], tmp_path / "ix")
    with open(XQUAD / "questions.jsonl", encoding="utf-8") as f:
        questions = [json.loads(l) for l in itertools.islice(f, 0, 1190, 7)]
    with Index.open(tmp_path / "ix") as index:
        top10 = sum(
            any(h.id in q["relevant_ids"] for h in index.search(q["query"], limit=10)) for q in questions
        )
    assert top10 / len(questions) >= 0.8


def test_a_parallel_build_indexes_exactly_what_one_process_does(vntc_sample, tmp_path):
    # 3,000 records in chunks of 256 give each of two processes several chunks; duplicates
    # across the processes' shares must be found as in one pass.
    path, parallel_dir, _, _, records = vntc_sample
    summary = build_index([path], tmp_path / "one")
    with Index.open(parallel_dir) as parallel, Index.open(tmp_path / "one") as single:
        assert len(parallel) == len(single) == summary.indexed
        for record in [r for r in records if r["title"].strip()][::100]:
            a, b = parallel.search(record["title"], limit=5), single.search(record["title"], limit=5)
            assert [(h.id, h.duplicates) for h in a] == [(h.id, h.duplicates) for h in b]
            assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-5)


def test_syllables_by_pattern_agree_with_icu_on_real_articles():
    from indexer.analysis import VietnameseTokenizer, gaps_and_syllables

    tokenizer = VietnameseTokenizer()
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in itertools.islice(f, 0, 84_000, 28)]  # 3,000 across the file
    for record in records:
        for text in (record["title"], record["body"]):
            gaps, words, prev_end = [], [], 0
            for word, start, end in tokenizer.syllables(text):
                gaps.append(text[prev_end:start])
                words.append(word)
                prev_end = end
            assert gaps_and_syllables(text) == (gaps, words), record["id"]
