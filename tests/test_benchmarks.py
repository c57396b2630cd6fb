"""The benchmarks run end to end on small samples of ../shared (skipped where it is absent).

Their numbers are not checked here — speed and quality are measured on the full corpus by
bench/, never by timed unit tests — but a benchmark that no longer runs is caught in CI.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import requires_shared

pytestmark = [requires_shared, pytest.mark.realdata]

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_speed_benchmark_compares_the_engines_in_one_table():
    out = run("speed.py", "--docs", "300", "--queries", "30", "--rounds", "2")
    for row in ("| vnsearch, with snippets |", "| vnsearch, ranking only |", "| Whoosh 2.7 StandardAnalyzer, plain |",
                "| SQLite FTS5 (remove_diacritics) |"):
        assert out.count(row) == 2  # in the build table and in the query table
    assert "| engine | headlines | two words | headlines, body only |" in out
    assert "cold start" in out and "peak memory of the build" in out
    assert "vnsearch build, each round:" in out


def test_quality_benchmark_reports_the_three_ways_of_typing_a_query():
    out = run("quality.py", "--docs", "1500", "--queries", "40", "--no-xquad")
    assert "MRR@10" in out and "Recall@10" in out
    for variant in ("| exact ", "| no diacritics ", "| other tone style "):
        assert variant in out


def test_scale_benchmark_reports_each_replication_against_the_first():
    out = run("scale.py", "--copies", "1,2", "--limit", "1500", "--queries", "30", "--shards-at", "2")
    assert "| 1 | - | in process | 1,500 |" in out and "| 2 | - | in process | 3,000 |" in out and "p50 vs K=1" in out
    # The sharded build, searched in process and through Dask actors: the same documents.
    sharded = re.findall(r"^\| 2 \| 2 \| (in process|Dask actors) \| 3,000 \|", out, re.M)
    assert sharded == ["in process", "Dask actors"], out


def test_serve_benchmark_checks_every_response_while_an_update_publishes():
    out = run("serve.py", "--docs", "1500", "--requests", "60", "--clients", "1,4", "--queries", "30")
    # The script exits non-zero on any error or wrong result; every level sees the new generation.
    rows = re.findall(r"^\| (\d+) \| (\d+) \|.*\| (\d+) \|$", out, re.M)
    assert [r[0] for r in rows] == ["1", "4"] and all(int(r[1]) >= 60 and int(r[2]) > 0 for r in rows), out
    assert "throughput 4 clients / 1 client" in out


def test_pruning_bounds_benchmark_reports_the_share_of_blocks_to_score():
    out = run("pruning_bounds.py", "--docs", "1000", "--queries", "10")
    rows = re.findall(r"^\| (title|first 3 words|first 2 words) \| (\d+) \| [\d,]+ \| ([\d.]+) \|", out, re.M)
    assert len(rows) == 9 and all(0.0 <= float(share) <= 1.0 for _, _, share in rows), out


def test_compiled_benchmark_finds_the_compiled_core_and_its_reference_in_agreement():
    out = run("compiled.py", "--docs", "800", "--queries", "40")
    rows = re.findall(r"^\| (headlines|first two words) \| 40 \|.*\| (\d+) \|$", out, re.M)
    assert [name for name, _ in rows] == ["headlines", "first two words"], out
    assert all(different == "0" for _, different in rows), out


def test_precision_benchmark_checks_phrases_short_queries_and_highlights_against_the_text():
    out = run("precision.py", "--docs", "800", "--phrases", "10", "--queries", "10")
    for measure in ("| quoted phrases: hits that contain the phrase |", "| quoted phrases: p50 / p95 ms",
                    "| short queries: top-10 hits with every word",
                    "| highlights: marked spans that are accepted forms |", "| 'UBND TP.HCM': total / with both words"):
        assert measure in out, out


def test_desk_benchmark_times_the_timeline_and_judges_related_coverage():
    out = run("desk.py", "--docs", "1500", "--queries", "30", "--articles", "30")
    assert "| archive | articles | queries | search p50 / p95 ms | with timeline p50 / p95 ms | p50 ratio |" in out
    assert "| VNTC | " in out and "| Dân trí | 2,6" in out
    assert "| related (top 5 of 30 articles) | " in out and "| baseline: the title searched | " in out
    assert "| completion (" in out
