"""The vnsearch command as a user runs it: output, JSON, batch, exit codes, one-line errors."""

import subprocess
import sys
import json

import pytest
from typer.testing import CliRunner

from search.cli import app
from tests.conftest import CORPUS, SEED_ID, write_page

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, list(map(str, args)), input=input)


def test_index_then_search_prints_the_seed_first(tmp_path):
    index = tmp_path / "ix"
    built = run("index", CORPUS, "--index", index)
    assert built.exit_code == 0, built.output
    assert "15 documents indexed" in built.output and "0 skipped" in built.output
    found = run("search", "sinh hoạt chi bộ", "--index", index)
    assert found.exit_code == 0
    first = found.output.split("\n\n")[1]
    assert "Tỉnh uỷ tổng kết công tác" in first and "LCĐT · 2021-12-02 17:33" in first
    assert "sinh hoạt chi bộ" in first
    assert all(len(line) <= 80 for line in found.output.splitlines())


def test_search_json(corpus_index_dir):
    result = run("search", "tinh uy", "--index", corpus_index_dir, "--json", "--limit", 3)
    data = json.loads(result.output)
    assert data["query"] == "tinh uy" and len(data["hits"]) == 3
    hit = data["hits"][0]
    assert hit["id"] == SEED_ID and hit["date"] == "2021-12-02T17:33:00" and hit["source"] == "LCĐT"
    assert "<mark>Tỉnh ủy</mark>" in hit["snippet"]
    assert set(hit) >= {"id", "score", "title", "source", "date", "snippet"}


def test_batch_gives_one_json_line_per_input_line_in_order(corpus_index_dir):
    result = run("search", "--batch", "-", "--index", corpus_index_dir, "--fields", "body", "--limit", 2,
                 input="sinh hoạt chi bộ\n\n!!!\n   \ngia lua\n")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [l["query"] for l in lines] == ["sinh hoạt chi bộ", "", "!!!", "   ", "gia lua"]
    assert lines[0]["hits"][0]["id"] == SEED_ID and "took_ms" in lines[0]
    assert lines[1]["hits"] == [] and lines[1]["error"].startswith("line 2: empty line")
    assert lines[2]["hits"] == [] and "line 3" in lines[2]["error"] and "no words" in lines[2]["error"]
    assert lines[3]["hits"] == [] and lines[3]["error"].startswith("line 4: empty line")
    assert lines[4]["hits"][0]["id"] == "002_gia_lua" and "error" not in lines[4]


def test_every_error_class_carries_its_documented_exit_code():
    from indexer.errors import (CorruptIndex, IncompatibleIndex, IndexLocked, NotAnIndex, QueryError,
                                SourceNotFound, VnsearchError)

    documented = {QueryError: 2, IndexLocked: 4, SourceNotFound: 5, NotAnIndex: 5, IncompatibleIndex: 5,
                  CorruptIndex: 5, VnsearchError: 5}
    assert {cls: cls.exit_code for cls in documented} == documented


def test_no_hits_exits_1(corpus_index_dir):
    result = run("search", "xyzzyq", "--index", corpus_index_dir)
    assert result.exit_code == 1 and "No documents match" in result.output


def test_query_that_parses_to_nothing_exits_2_with_one_line(corpus_index_dir):
    result = run("search", '" - :', "--index", corpus_index_dir)
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no words to search" in result.output


def test_folder_that_is_not_an_index(tmp_path):
    result = run("search", "lúa", "--index", tmp_path)
    assert result.exit_code == 5 and "not a vnsearch index" in result.output
    assert "Traceback" not in result.output


def test_missing_source(tmp_path):
    result = run("index", tmp_path / "khong-co", "--index", tmp_path / "ix")
    assert result.exit_code == 5 and "no such file or folder" in result.output
    assert not (tmp_path / "ix").exists()  # nothing is created for a mistyped source


def test_unreadable_documents_are_listed_reported_and_set_the_exit_code(tmp_path):
    src = tmp_path / "src"
    write_page(src, "tot.txt", "Tin tốt\n\nBài viết đầy đủ về giá lúa gạo tăng mạnh tại miền Tây.\n")
    (src / "hong.txt").write_bytes(b"\x00\x01\x02binary")
    (src / "tin.jsonl").write_text('{"id": "a", "title": "A", "body": "Nội dung."}\nnot json\n', encoding="utf-8")
    report = tmp_path / "report.jsonl"
    result = run("index", src, "--index", tmp_path / "ix", "--report", report)
    assert result.exit_code == 6  # input could not be read: not a success for cron or systemd
    assert "2 source file(s) could not be read completely" in result.output
    assert "hong.txt: binary file" in result.output and "tin.jsonl:2: invalid JSON" in result.output
    assert "2 documents indexed" in result.output and "2 skipped" in result.output
    entries = [json.loads(line) for line in report.read_text().splitlines()]
    statuses = sorted((e["status"], e["id"] or e["origin"].rsplit("/", 1)[-1]) for e in entries)
    assert statuses == [("indexed", "a"), ("indexed", "tot"), ("skipped", "hong"), ("skipped", "tin.jsonl:2")]


def test_documents_refused_for_their_content_exit_3(tmp_path):
    src = tmp_path / "src"
    write_page(src, "tot.txt", "Tin tốt\n\nBài viết đầy đủ về giá lúa gạo tăng mạnh tại miền Tây.\n")
    write_page(src, "rong.txt", "Chỉ có tiêu đề\n\n")
    result = run("index", src, "--index", tmp_path / "ix")
    assert result.exit_code == 3
    assert "rong.txt: empty article: a title but no text" in result.output


def test_duplicates_are_merged_and_counted(tmp_path):
    body = "Bài viết đầy đủ về giá lúa gạo tăng mạnh tại miền Tây, nông dân phấn khởi, thuỷ lợi hoà thuận."
    copy = "Bài viết đầy đủ về  giá lúa gạo tăng mạnh tại miền Tây, nông dân phấn khởi, thủy lợi hòa thuận."
    src = tmp_path / "src"
    src.mkdir()
    (src / "tin.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "title": "Giá lúa", "body": b}, ensure_ascii=False)
                  for i, b in [("a", body), ("b", copy), ("c", "Khác hẳn: bài về bóng đá.")]),
        encoding="utf-8",
    )
    index = tmp_path / "ix"
    result = run("index", src, "--index", index)
    assert "2 documents indexed" in result.output and "1 duplicates merged" in result.output
    hit = json.loads(run("search", "giá lúa", "--index", index, "--json").output)["hits"][0]
    assert (hit["id"], hit["duplicates"]) == ("a", ["b"])


def test_stats_json(corpus_index_dir):
    data = json.loads(run("stats", "--index", corpus_index_dir, "--json").output)
    assert data["documents"] == 15 and data["fields"] == ["title", "body"] and data["size_bytes"] > 0
    assert data["ranking_tables"]["abbreviations"]["same"] and data["tuned"] == {}
    shown = run("stats", "--index", corpus_index_dir).output
    assert "abbreviations as built (abbreviations.tsv)" in shown and "headlines     as built" in shown


@pytest.mark.parametrize("command", ["index", "update", "search", "stats", "inspect"])
def test_every_command_has_help(command):
    result = run(command, "--help")
    assert result.exit_code == 0 and len(result.output) > 200


def test_facets_pages_and_dates_in_the_human_output(corpus_index_dir):
    result = run("search", "tỉnh", "--index", corpus_index_dir, "--limit", "2", "--page", "2", "--facets", "--since", "2021")
    assert result.exit_code == 0
    assert "3–4, page 2 of" in result.output
    assert "source:" in result.output and "year:" in result.output and "2021 (" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())


def test_sort_by_date_in_json(corpus_index_dir):
    data = json.loads(run("search", "đảng viên", "--index", corpus_index_dir, "--sort", "date", "--json").output)
    dates = [h["date"] for h in data["hits"] if h["date"]]
    assert dates == sorted(dates, reverse=True) and data["page"] == 1


def test_a_bad_sort_is_a_usage_error(corpus_index_dir):
    result = run("search", "tỉnh", "--index", corpus_index_dir, "--sort", "title")
    assert result.exit_code == 2 and "sort must be one of" in result.output


def test_telex_query_says_what_it_searched_for(corpus_index_dir):
    result = run("search", "sinh hoatj chi booj", "--index", corpus_index_dir, "--limit", "1")
    assert "Searched for: sinh hoạt chi bộ (typed as Telex)" in result.output and SEED_ID in result.output


def test_no_hits_says_so_and_suggests(corpus_index_dir):
    result = run("search", "quéet", "--index", corpus_index_dir)
    assert result.exit_code == 1
    assert "Did you mean: quét" in result.output and "No documents match" in result.output


def test_inspect_shows_an_article_and_its_title_terms(corpus_index_dir):
    result = run("inspect", "005_thuy_loi_cu", "--index", corpus_index_dir)
    assert result.exit_code == 0
    assert "Công trình thuỷ lợi hồ Núi Cốc được nâng cấp" in result.output and "thủy" in result.output
    data = json.loads(run("inspect", "005_thuy_loi_cu", "--index", corpus_index_dir, "--json").output)
    assert data["source"] == "TN" and "thuy loi" in data["title_terms"]["folded bigrams"]
    missing = run("inspect", "no-such-id", "--index", corpus_index_dir)
    assert missing.exit_code == 1 and "no article with id" in missing.output


def test_a_batch_file_that_is_not_text_is_one_clear_error(corpus_index_dir, tmp_path):
    picture = tmp_path / "anh-chup.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    result = run("search", "--batch", picture, "--index", corpus_index_dir)
    assert result.exit_code == 2
    assert f"{picture}:1: not UTF-8 text" in result.stderr and "Traceback" not in result.output


def test_an_index_path_that_is_a_file_is_one_clear_error(tmp_path):
    not_a_folder = tmp_path / "ghi-chu.txt"
    not_a_folder.write_text("Ghi chú của phóng viên.\n", encoding="utf-8")
    result = run("index", CORPUS, "--index", not_a_folder)
    assert result.exit_code == 5
    assert "is a file, not an index folder" in result.stderr
    assert not_a_folder.read_text(encoding="utf-8") == "Ghi chú của phóng viên.\n"


def test_a_search_process_does_not_load_the_builder():
    # tqdm, multiprocessing and the merger are ~70 ms of a cold `vnsearch search`.
    code = ("import sys; from search.cli import main; import search, indexer; from indexer import QueryError; "
            "print(sorted(m for m in ('indexer.build', 'indexer.merge', 'tqdm', 'multiprocessing') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
