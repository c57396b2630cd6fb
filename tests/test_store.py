"""Index generations: atomic publication, the writer lock, readers that follow updates."""

import os

import pytest

from indexer import IndexLocked, build_index
from indexer.store import CURRENT, WriterLock, current_generation
from search import Index
from tests.conftest import write_page


def page(folder, name, title, body):
    write_page(folder, f"{name}.txt", f"{title}\n\n{body}\n")


def test_rebuild_publishes_a_new_generation_and_keeps_the_previous(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    page(src, "a", "Giá lúa tăng", "Giá lúa tươi tăng thêm 300 đồng mỗi ki lô gam ở miền Tây.")
    build_index([src], ix)
    first = current_generation(ix)
    page(src, "b", "Lũ quét ở Bát Xát", "Mưa lớn gây lũ quét tại nhiều xã vùng cao của huyện Bát Xát.")
    build_index([src], ix)
    second = current_generation(ix)
    assert second.number == first.number + 1
    assert first.path.exists()  # a reader that opened it may still be using it
    build_index([src], ix)
    assert not first.path.exists()  # only the newest two are kept


def test_an_open_index_follows_a_rebuild_on_its_next_search(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    page(src, "a", "Giá lúa tăng", "Giá lúa tươi tăng thêm 300 đồng mỗi ki lô gam ở miền Tây.")
    build_index([src], ix)
    with Index.open(ix) as index:
        assert [h.id for h in index.search("lũ quét")] == []
        page(src, "b", "Lũ quét ở Bát Xát", "Mưa lớn gây lũ quét tại nhiều xã vùng cao của huyện Bát Xát.")
        build_index([src], ix)
        assert [h.id for h in index.search("lũ quét")] == ["b"]


def test_a_failed_build_leaves_the_previous_index_searchable(tmp_path, monkeypatch):
    src, ix = tmp_path / "src", tmp_path / "ix"
    page(src, "a", "Giá lúa tăng", "Giá lúa tươi tăng thêm 300 đồng mỗi ki lô gam ở miền Tây.")
    build_index([src], ix)
    page(src, "b", "Lũ quét ở Bát Xát", "Mưa lớn gây lũ quét tại nhiều xã vùng cao của huyện Bát Xát.")
    import indexer.build

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(indexer.build, "document_fields", crash)
    with pytest.raises(RuntimeError):
        build_index([src], ix)
    with Index.open(ix) as index:
        assert len(index) == 1 and index.search("giá lúa").hits[0].id == "a"


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    with WriterLock(tmp_path):
        with pytest.raises(IndexLocked, match=f"being updated by PID {os.getpid()}"):
            with WriterLock(tmp_path):
                pass
    with WriterLock(tmp_path):  # released: the next writer gets it
        pass


def test_current_names_the_live_generation(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    page(src, "a", "Giá lúa tăng", "Giá lúa tươi tăng thêm 300 đồng mỗi ki lô gam ở miền Tây.")
    build_index([src], ix)
    assert (ix / CURRENT).read_text().strip() == current_generation(ix).path.name


def test_searches_in_threads_see_one_generation_while_it_is_replaced(tmp_path):
    import threading

    src, ix = tmp_path / "src", tmp_path / "ix"
    page(src, "a", "Giá lúa tăng", "Giá lúa tươi tăng thêm 300 đồng mỗi ki lô gam ở miền Tây.")
    build_index([src], ix)
    errors, seen = [], set()

    with Index.open(ix) as index:
        def search_repeatedly():
            try:
                for _ in range(40):
                    results = index.search("giá lúa lũ quét")
                    seen.add(tuple(sorted(h.id for h in results)))
            except Exception as e:  # any failure is the test's failure
                errors.append(e)

        threads = [threading.Thread(target=search_repeatedly) for _ in range(4)]
        for t in threads:
            t.start()
        for n in range(3):
            page(src, f"b{n}", "Lũ quét ở Bát Xát", "Mưa lớn gây lũ quét tại nhiều xã vùng cao của huyện Bát Xát.")
            build_index([src], ix)
        for t in threads:
            t.join()
    assert errors == []
    assert seen <= {("a",), ("a", "b0"), ("a", "b0", "b1"), ("a", "b0", "b1", "b2")}


def test_an_index_from_an_older_format_is_refused_for_search_and_update_with_rebuild(tmp_path):
    import json

    from indexer.build import update_index
    from indexer.checksums import sealed
    from indexer.errors import IncompatibleIndex
    from tests.conftest import CORPUS

    build_index([CORPUS], tmp_path / "ix")
    manifest_path = next((tmp_path / "ix").glob("gen-*/manifest.json"))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    # As vnsearch 0.2 wrote it: format 3, no checksums.
    older = {k: v for k, v in manifest.items() if k not in ("checksum", "files")}
    manifest_path.write_text(json.dumps({**older, "format": "vnsearch-index-3"}), encoding="utf-8")
    with pytest.raises(IncompatibleIndex, match="older vnsearch.*rebuild"):
        Index.open(tmp_path / "ix")
    with pytest.raises(IncompatibleIndex, match="older vnsearch.*rebuild"):
        update_index([CORPUS], tmp_path / "ix")
    # As the version before positions wrote it: checksums, but segments without .pos.
    manifest_path.write_text(json.dumps(sealed({**manifest, "format": "vnsearch-index-4"})), encoding="utf-8")
    with pytest.raises(IncompatibleIndex, match="older vnsearch.*vnsearch-index-4.*rebuild"):
        Index.open(tmp_path / "ix")


def test_tuned_settings_hold_across_a_refresh_and_stats_lists_them(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    page(src, "a", "Giá lúa tăng", "Giá lúa tươi tăng thêm 300 đồng mỗi ki lô gam ở miền Tây.")
    build_index([src], ix)
    with Index.open(ix) as index:
        index.tune(title_weight=5.0)
        build_index([src], ix)  # a new generation: the next search refreshes
        index.search("giá lúa")
        assert index.settings.title_weight == 5.0
        stats = index.stats()
        assert stats.tuned == {"title_weight": 5.0} and stats.settings["title_weight"] == 2.0


def test_stats_says_when_the_abbreviation_table_in_force_is_not_the_one_built_with(tmp_path, monkeypatch):
    src, ix = tmp_path / "src", tmp_path / "ix"
    page(src, "a", "UBND tỉnh họp", "Ủy ban nhân dân tỉnh Lào Cai họp phiên thường kỳ tháng 12.")
    build_index([src], ix)
    with Index.open(ix) as index:
        tables = index.stats().ranking_tables
        assert tables["abbreviations"]["same"] and tables["headline_evidence"]["same"]
        extra = tmp_path / "them.tsv"
        extra.write_text("BCĐ\tBan chỉ đạo\n", encoding="utf-8")
        monkeypatch.setenv("VNSEARCH_ABBREVIATIONS", str(extra))
        tables = index.stats().ranking_tables
        assert not tables["abbreviations"]["same"] and str(extra) in tables["abbreviations"]["files"]
        assert tables["headline_evidence"]["same"]
