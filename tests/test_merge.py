"""Merging segments keeps every posting, length and column: the same index, the same scores.

A segment written from articles in one go and the merge of segments written from the same
articles in parts (some of them deleted) must hold the same postings for every term of every
field, the same field lengths, dates, sources, signatures and stored documents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.analysis import TermKeys
from indexer.build import add_articles
from indexer.schema import INDEX_FIELDS
from indexer.merge import merge_segments
from indexer.segment import SegmentReader
from indexer.segment_writer import SegmentWriter
from indexer.sources import Problem, read_sources
from tests.conftest import CORPUS


def _articles():
    return [a for a in read_sources([str(CORPUS)]) if not isinstance(a, Problem)]


def _write(directory: Path, name: str, articles) -> dict:
    keys = TermKeys()
    writer = SegmentWriter(INDEX_FIELDS, keys.text)
    add_articles(writer, keys, articles)
    return writer.write(directory, name)


def _contents(reader: SegmentReader) -> dict:
    out = {}
    for field in reader.field_order:
        for term in reader.terms(field):
            docs, freqs = reader.postings(field, term)
            out[(field, term)] = (docs.tolist(), freqs.tolist())
            if field in reader.positional:  # where the term stands in each document
                out[(field, term, "positions")] = [a.tolist() for a in reader.positions(field, term, docs)]
    out["lengths"] = np.asarray(reader.lengths).tolist()
    out["dates"] = np.asarray(reader.dates).tolist()
    out["signatures"] = np.asarray(reader.signatures).tolist()
    out["sources"] = [reader.sources[i] if i >= 0 else None for i in np.asarray(reader.source_ids)]
    out["categories"] = [reader.categories[i] if i >= 0 else None for i in np.asarray(reader.category_ids)]
    out["stored"] = list(reader.iter_stored())
    return out


@pytest.mark.parametrize("chunk_postings", [50, 4_000_000])  # many slices of the dictionary, or one
def test_merged_parts_equal_one_segment_of_the_same_articles(tmp_path, chunk_postings):
    articles = _articles()
    _write(tmp_path, "whole", articles)
    parts = [articles[:4], articles[4:5], articles[5:11], articles[11:]]
    entries = [_write(tmp_path, f"p{i}", part) for i, part in enumerate(parts)]
    merge_segments(tmp_path, [{"name": e["name"], "deleted": None} for e in entries], tmp_path, "merged", chunk_postings)
    assert _contents(SegmentReader(tmp_path, "merged")) == _contents(SegmentReader(tmp_path, "whole"))


def test_deleted_documents_are_dropped_and_the_rest_renumbered(tmp_path):
    articles = _articles()
    gone = {1, 6, 7, 14}  # the second article, two of the middle part, the last
    _write(tmp_path, "kept", [a for i, a in enumerate(articles) if i not in gone])
    _write(tmp_path, "a", articles[:6]), _write(tmp_path, "b", articles[6:])
    np.save(tmp_path / "a.del.npy", np.array([1], dtype=np.int32))
    np.save(tmp_path / "b.del.npy", np.array([0, 1, 8], dtype=np.int32))
    entries = [{"name": "a", "deleted": "a.del.npy"}, {"name": "b", "deleted": "b.del.npy"}]
    merge_segments(tmp_path, entries, tmp_path, "merged", 100)
    assert _contents(SegmentReader(tmp_path, "merged")) == _contents(SegmentReader(tmp_path, "kept"))


def test_long_gaps_and_large_frequencies_survive_a_merge(tmp_path):
    # Gaps over 254 documents are stored as exceptions after the term's gap bytes; frequencies
    # over 15 take a whole byte; a term over 64 bytes is merged as a Python byte string; a term
    # in more than 128 documents has skip entries in its positions, and one that occurs 255
    # times or more in a document has its count written out.
    # 700 short documents, in three parts.
    keys = TermKeys()
    texts = []
    for n in range(700):
        words = ["thường"] + (["hiếm"] if n in (0, 300, 699) else []) + ["lũ"] * (1 + n % 40 + (300 if n % 250 == 3 else 0))
        if n % 97 == 0:  # a term longer than the fixed-width merge takes: a long code
            words.append("https://baolaocai.vn/" + "tin-tuc/" * 12 + str(n))
        texts.append(words)

    def write(name: str, part: list[list[str]]) -> dict:
        writer = SegmentWriter(("body",), keys.text)  # a positional field
        for words in part:
            writer.add({"body": [keys.number(w) for w in words]}, {"id": str(len(words))}, None, None, None)
        return writer.write(tmp_path, name)

    write("whole", texts)
    entries = [write("a", texts[:100]), write("b", texts[100:650]), write("c", texts[650:])]
    merge_segments(tmp_path, [{"name": e["name"], "deleted": None} for e in entries], tmp_path, "merged", 500)
    merged, whole = SegmentReader(tmp_path, "merged"), SegmentReader(tmp_path, "whole")
    assert merged.postings("body", "hiếm")[0].tolist() == [0, 300, 699]
    lu = merged.positions("body", "lũ", np.array([253]))[1]
    assert lu.size == 1 + 253 % 40 + 300 and lu[0] == 1 and np.all(np.diff(lu) == 1)
    assert _contents(merged) == _contents(whole)
