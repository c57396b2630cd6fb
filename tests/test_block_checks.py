"""Opening an index costs the same at any size, and a damaged file still never gives silently
wrong hits (issue "Fast at any size", item 6): the large files a search reads by ranges are
checked block by block the first time a block is read, not whole at open."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer import build_index
from indexer.checksums import BLOCK_BYTES, DICTIONARY_BLOCK_BYTES, block_check
from indexer.errors import CorruptIndex
from indexer.store import current_generation
from search import Index
from search.cli import app

WORDS = ("giá xăng dầu tăng lúa gạo vàng nhà đất chứng khoán ngân hàng lãi suất xuất khẩu cà phê hồ tiêu cao su "
         "thủy sản điện than thép xi măng phân bón sữa đường muối cá tôm gỗ dệt may da giày bóng đá bão lũ").split()


@pytest.fixture(scope="module")
def large_index(tmp_path_factory) -> Path:
    """Enough articles for the postings and stored files to span several blocks."""
    folder = tmp_path_factory.mktemp("blocks")
    rng = random.Random(11)
    with open(folder / "tin.jsonl", "w", encoding="utf-8") as f:
        for n in range(6000):
            body = " ".join(rng.choice(WORDS) for _ in range(60))
            f.write(json.dumps({"id": f"tin-{n:05d}", "title": f"Bản tin {n}: {rng.choice(WORDS)} {rng.choice(WORDS)}",
                                "body": f"{body}. Mã bài {n:05d}-BT."}, ensure_ascii=False) + "\n")
    build_index([folder / "tin.jsonl"], folder / "ix")
    return folder / "ix"


def damaged_copy(source: Path, target: Path, suffix: str, at_end: bool) -> Path:
    """A copy of the index with one byte of its (single) segment's ``suffix`` file flipped."""
    import shutil

    shutil.copytree(source, target)
    generation = current_generation(target)
    [path] = list(generation.path.glob(f"*.{suffix}"))
    data = bytearray(path.read_bytes())
    at = len(data) - 10 if at_end else 10
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_large_files_carry_block_checksums_and_are_not_read_whole_at_open(large_index):
    generation = current_generation(large_index)
    files = generation.manifest()["files"]
    lazy = {name: entry for name, entry in files.items() if "block_crc32" in entry}
    assert {Path(name).suffix for name in lazy} >= {".docs", ".gaps"}
    with Index.open(large_index) as index:
        [docs_file] = [generation.path / name for name in lazy if name.endswith(".docs")]
        check = block_check(docs_file)
        assert check is not None and not any(check.checked)  # opened: sizes only
        index.search("giá xăng", limit=3)
        assert 0 < sum(check.checked) < len(check.crcs)  # the hits' blocks, not the file
        assert len(check.crcs) == -(-docs_file.stat().st_size // BLOCK_BYTES)


def test_a_damaged_block_is_named_when_read_and_the_rest_answers(large_index, tmp_path):
    damaged = damaged_copy(large_index, tmp_path / "ix", "docs", at_end=True)
    with Index.open(tmp_path / "ix") as index:
        assert index.get("tin-00000").id == "tin-00000"  # its block is sound
        with pytest.raises(CorruptIndex, match=rf"{damaged.name}: checksum mismatch in bytes"):
            index.get("tin-05999")  # stored last, in the damaged block
    result = CliRunner().invoke(app, ["check", "--index", str(tmp_path / "ix")])
    assert result.exit_code == 5 and damaged.name in result.stderr


def test_a_damaged_postings_block_is_never_used(large_index, tmp_path):
    damaged_copy(large_index, tmp_path / "ix", "gaps", at_end=False)
    result = CliRunner().invoke(app, ["search", "giá xăng dầu", "--index", str(tmp_path / "ix")])
    if result.exit_code != 5:  # the damaged block was not one this query reads: the answer is the sound one
        sound = CliRunner().invoke(app, ["search", "giá xăng dầu", "--index", str(large_index)])
        assert result.output.split("\n", 1)[1] == sound.output.split("\n", 1)[1]
    else:
        assert "checksum mismatch in bytes" in result.stderr and "Traceback" not in result.output


def test_the_term_dictionary_is_checked_where_a_search_reads_it_not_whole_at_open(large_index, tmp_path):
    import shutil

    shutil.copytree(large_index, tmp_path / "ix")  # files this process has not checked yet
    generation = current_generation(tmp_path / "ix")
    files = generation.manifest()["files"]
    dictionary = {name: entry for name, entry in files.items() if name.endswith((".lex", ".terms.npy"))}
    assert dictionary and all(entry.get("block_crc32") and entry["block_bytes"] == DICTIONARY_BLOCK_BYTES
                              for entry in dictionary.values())
    with Index.open(tmp_path / "ix") as index:
        checks = [block_check(generation.path / name) for name in dictionary]
        assert all(check is not None and not any(check.checked) for check in checks)  # opened: sizes only
        index.search("giá xăng", limit=3, snippet_chars=0)
        # The rows the lookups compared, a few blocks of each file: not the dictionary.
        assert all(0 < sum(check.checked) < len(check.crcs) for check in checks)


def _flip_a_byte_of_the_term(index_dir: Path, field: str, term: str) -> Path:
    """Flip one byte of ``term``'s own bytes in the dictionary (.lex) of the index's segment."""
    from indexer.segment import SegmentReader

    generation = current_generation(index_dir)
    [segment] = generation.manifest()["segments"]
    reader = SegmentReader(generation.path, segment["name"])
    row = reader._term_row(field, term)
    start = reader._table[row * reader._width]  # LEX column
    del reader
    path = generation.path / f"{segment['name']}.lex"
    data = bytearray(path.read_bytes())
    data[start] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_dictionary_row_is_named_by_the_lookup_that_reads_it_and_the_rest_answers(large_index, tmp_path):
    import shutil

    shutil.copytree(large_index, tmp_path / "ix")
    # The last article's code, as a query typed without diacritics looks it up.
    damaged = _flip_a_byte_of_the_term(tmp_path / "ix", "body_fold", "05999-bt")
    with Index.open(tmp_path / "ix") as index:
        with pytest.raises(CorruptIndex, match=rf"{damaged.name}: checksum mismatch in bytes"):
            index.search("05999-BT")  # its lookup reads the damaged row: never a silent "no such term"
        assert index.get("tin-00001").id == "tin-00001"  # a lookup in sound blocks (the ids) still answers
    result = CliRunner().invoke(app, ["check", "--index", str(tmp_path / "ix")])
    assert result.exit_code == 5 and damaged.name in result.stderr
