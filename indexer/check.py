"""``vnsearch check``: read a whole index and say whether it is sound, like Lucene's CheckIndex.

Opening an index checks sizes and checksums; this goes further and reads every structure
back: each file's CRC-32 is recomputed (not taken from this process's memory of earlier
checks), the term tables must point inside their files in order, postings must decode to
ascending document numbers inside their segment, every stored document must decompress, and
the columns must have one value per document. The first problem found is raised as
CorruptIndex naming the file.
"""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from indexer.store import current_generation, default_index_dir, is_sharded, open_generation, open_segments, open_shards, read_copy_origins, read_duplicates
from indexer.checksums import damaged, verify_files
from indexer.codec import DF, FIRST, GAPS, LEX
from indexer.segment import SegmentReader

# Postings decoded per segment: spread over the whole term table. The checksums already
# cover every byte; decoding is a check that the writer wrote what the reader expects.
SAMPLED_TERMS = 2000


@dataclass(frozen=True)
class CheckReport:
    """What ``check_index`` read: all of it was found sound."""

    index_dir: str
    generation: str
    segments: int
    documents: int
    files: int
    bytes_checked: int
    seconds: float

    def to_json(self) -> dict:
        return {"ok": True, **asdict(self)}


def check_index(index_dir: str | os.PathLike | None = None) -> CheckReport:
    """Read the live generation of an index through (of every shard, for a sharded index);
    CorruptIndex on the first problem."""
    started = time.perf_counter()
    index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
    top = current_generation(index_dir)
    top_manifest = top.manifest()
    sharded = is_sharded(top_manifest)
    if sharded:
        _, parts = open_shards(top, top_manifest, verify=False)
    else:
        generation, manifest, _ = open_generation(index_dir, verify=False, generation=top)
        parts = [(generation, manifest)]
    segments = documents = files = checked = 0
    for generation, manifest in parts:
        verify_files(generation.path, manifest["files"], full=True, remembered=False, lazy=False)
        opened = open_segments(generation, manifest)
        for reader in opened.readers:
            _check_segment(generation.path, reader)
        read_duplicates(generation, manifest)
        read_copy_origins(generation, manifest)
        segments += len(opened.readers)
        documents += int(opened.live.sum())
        files += len(manifest["files"]) + 1
        checked += sum(f["size"] for f in manifest["files"].values())
    return CheckReport(
        index_dir=str(index_dir), generation=top.path.name, segments=segments, documents=documents,
        files=files + (1 if sharded else 0), bytes_checked=checked,
        seconds=round(time.perf_counter() - started, 2),
    )


def _check_positions(prefix: Path, reader: SegmentReader, field: str, text: str, docs: np.ndarray, freqs: np.ndarray) -> None:
    """A term's positions decode, one run per document as its frequency says, ascending."""
    try:
        where, positions = reader.positions(field, text, docs)
    except ValueError as e:
        raise damaged(Path(f"{prefix}.pos"), f"positions of {field}:{text!r} do not decode ({e})") from None
    counts = np.bincount(np.searchsorted(docs, where), minlength=docs.size)
    capped = np.minimum(counts, 255)
    steps = np.diff(positions.astype(np.int64))
    first = np.zeros(positions.size, dtype=bool)
    first[np.cumsum(counts)[:-1][counts[:-1] > 0]] = True
    if np.any(capped != freqs) or np.any(steps[~first[1:]] <= 0):
        raise damaged(Path(f"{prefix}.pos"), f"positions of {field}:{text!r} do not match its frequencies")


def _check_segment(directory: Path, reader: SegmentReader) -> None:
    prefix = Path(directory) / reader.name
    docs = reader.docs
    for suffix, column in (("date.npy", reader.dates), ("sig.npy", reader.signatures),
                           ("source.npy", reader.source_ids), ("category.npy", reader.category_ids)):
        if len(column) != docs:
            raise damaged(Path(f"{prefix}.{suffix}"), f"{len(column)} values for {docs} documents")
    if reader.lengths.shape != (len(reader.fields), docs):
        raise damaged(Path(f"{prefix}.len.npy"), f"shape {reader.lengths.shape}, expected ({len(reader.fields)}, {docs})")
    table = reader.term_table().astype(np.int64)
    sizes = reader.file_sizes
    terms = table[:-1]
    if table.shape[0] and (np.any(np.diff(table[:, LEX]) < 0) or table[-1, LEX] != sizes["lex"]):
        raise damaged(Path(f"{prefix}.terms.npy"), "term dictionary offsets out of order")
    if terms.size and (terms[:, DF].min() < 1 or terms[:, FIRST].max() >= docs or terms[:, GAPS].max() > sizes["gaps"]):
        raise damaged(Path(f"{prefix}.terms.npy"), "a term points outside its segment")
    for field, (lo, hi) in reader.fields.items():
        rows = range(lo, hi, max(1, (hi - lo) // SAMPLED_TERMS)) if hi > lo else range(0)
        previous = None
        for row in rows:
            try:
                text = reader.term_at(row).decode("utf-8")
            except UnicodeDecodeError:
                raise damaged(Path(f"{prefix}.lex"), f"a term of {field} is not UTF-8") from None
            if previous is not None and text.encode() <= previous.encode():
                raise damaged(Path(f"{prefix}.lex"), f"terms of {field} out of order at {text!r}")
            previous = text
            found, freqs = reader.postings(field, text)
            if found.size != table[row, DF] or (found.size > 1 and np.any(np.diff(found) <= 0)) or found.max(initial=0) >= docs:
                raise damaged(Path(f"{prefix}.gaps"), f"postings of {field}:{text!r} do not decode")
            if freqs.size and freqs.min() < 1:
                raise damaged(Path(f"{prefix}.tf"), f"frequencies of {field}:{text!r} do not decode")
            if field in reader.positional:
                _check_positions(prefix, reader, field, text, found, freqs)
    stored = 0
    try:
        for document in reader.iter_stored():
            if "id" not in document:
                raise ValueError("a stored document has no id")
            stored += 1
    except (ValueError, zlib.error) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise damaged(Path(f"{prefix}.docs"), f"stored documents cannot be read ({type(e).__name__}: {e})") from None
    if stored != docs:
        raise damaged(Path(f"{prefix}.docs"), f"{stored} stored documents for {docs}")
