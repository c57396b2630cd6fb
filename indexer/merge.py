"""Merging segments: their postings, columns and stored documents, without analysing text again.

Lucene's IndexWriter flushes a segment whenever its RAM buffer is full and lets a merge policy
combine segments later, merging postings term by term; tantivy does the same. vnsearch does
it here with arrays: a field's terms are taken in byte order, a slice of the term dictionary at
a time (at most ``chunk_postings`` postings in memory), and the postings of every input segment
for that slice are decoded in bulk, renumbered (deleted documents dropped, later segments after
earlier ones), and encoded again exactly as ``SegmentWriter`` encodes them. Stored documents
are copied as their JSON lines, blocked and compressed again; columns are concatenated.

The merged segment holds the same postings, lengths and columns as one segment written from
the same documents in the same order (``tests/test_merge.py`` compares them), so every score
is the same; only the compression of the stored documents differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from indexer.near_duplicates import SIGNATURE_SCHEME, SIGNATURE_SIZE
from indexer.codec import (
    ALL_ONES,
    DF,
    DOCS_PER_BLOCK,
    FIRST,
    FORMAT,
    FREQS,
    GAPS,
    LEX,
    POSITIONAL_FIELDS,
    StoredBlocks,
    concatenated_ranges,
    encode_positions,
    exclusive_cumsum,
    packed_frequencies,
    patched_gaps,
    save_array,
    segment_files,
)
from indexer.segment import SegmentReader, deleted_docs

# Postings decoded at once while merging: about 20 bytes each with their temporaries.
CHUNK_POSTINGS = 4_000_000


def merge_segments(directory: Path, entries: list[dict], out_directory: Path, name: str,
                   chunk_postings: int = CHUNK_POSTINGS) -> dict:
    """Merge the segments ``entries`` (of ``directory``, deletions applied) into one segment
    ``out_directory/name``; returns its description, as ``SegmentWriter.write`` does."""
    readers = [SegmentReader(directory, e["name"]) for e in entries]
    # New number of every document of every input; -1 for deleted ones.
    renumber: list[np.ndarray] = []
    docs = 0
    for entry, reader in zip(entries, readers):
        live = np.ones(reader.docs, dtype=bool)
        live[deleted_docs(directory, entry)] = False
        numbers = np.full(reader.docs, -1, dtype=np.int64)
        numbers[live] = np.arange(docs, docs + int(live.sum()))
        docs += int(live.sum())
        renumber.append(numbers)
    prefix = Path(out_directory) / name
    fields = list(dict.fromkeys(f for r in readers for f in r.field_order))
    exception_bytes = 2 if docs <= 65536 else 4
    tables: list[np.ndarray] = []
    field_rows: dict[str, list[int]] = {}
    sizes = {"lex": 0, "gaps": 0, "tf": 0, "pos": 0}
    row = 0
    position_offsets: list[np.ndarray] = []
    position_starts: dict[str, int] = {}
    with open(f"{prefix}.lex", "wb") as lex_out, open(f"{prefix}.gaps", "wb") as gaps_out, open(f"{prefix}.tf", "wb") as tf_out, \
            open(f"{prefix}.pos", "wb") as pos_out:
        for field in fields:
            first_row = row
            positional = field in POSITIONAL_FIELDS
            if positional:
                position_starts[field] = sum(o.size for o in position_offsets)
            for table, lex, gap_bytes, freq_bytes, positions in _merged_field(readers, renumber, field, exception_bytes, chunk_postings, positional):
                if positional:
                    offsets, position_bytes = positions
                    position_offsets.append(offsets + sizes["pos"])
                    pos_out.write(position_bytes)
                    sizes["pos"] += len(position_bytes)
                table[:, LEX] += sizes["lex"]
                table[:, GAPS] += sizes["gaps"]
                table[table[:, FREQS] != ALL_ONES, FREQS] += 2 * sizes["tf"]
                lex_out.write(lex)
                gaps_out.write(gap_bytes)
                tf_out.write(freq_bytes)
                sizes["lex"] += len(lex)
                sizes["gaps"] += len(gap_bytes)
                sizes["tf"] += len(freq_bytes)
                tables.append(table)
                row += table.shape[0]
            field_rows[field] = [first_row, row]
    terms = np.concatenate(tables + [np.array([[sizes["lex"], 0, 0, 0, 0]], dtype=np.int64)])
    if int(terms.max()) <= ALL_ONES:
        terms = terms.astype(np.uint32)
    save_array(f"{prefix}.terms.npy", terms)
    every_offset = np.concatenate(position_offsets) if position_offsets else np.zeros(0, dtype=np.int64)
    save_array(f"{prefix}.pos.npy", every_offset.astype(np.uint32 if sizes["pos"] < 2**32 else np.uint64))
    keep = [numbers >= 0 for numbers in renumber]
    lengths = np.hstack([np.asarray(r.lengths)[[r.field_order.index(f) for f in fields]][:, k] for r, k in zip(readers, keep)]) \
        if readers else np.zeros((len(fields), 0), dtype=np.uint32)
    save_array(f"{prefix}.len.npy", lengths.astype(np.uint16 if lengths.size == 0 or lengths.max() < 65536 else np.uint32))
    # Signatures are copied, not made again: those of an older scheme become EMPTY rows.
    signatures = [r.comparable_signatures()[k] for r, k in zip(readers, keep)]
    save_array(f"{prefix}.sig.npy", np.concatenate(signatures).reshape(docs, SIGNATURE_SIZE).astype(np.uint16))
    save_array(f"{prefix}.date.npy", np.concatenate([np.asarray(r.dates)[k] for r, k in zip(readers, keep)]).astype(np.int64))
    tables_out = {}
    for column in ("source", "category"):
        values: dict[str, int] = {}
        ids = []
        for r, k in zip(readers, keep):
            table, column_ids = r.column(column)
            mapping = np.array([values.setdefault(v, len(values)) for v in table] + [-1], dtype=np.int32)
            ids.append(mapping[np.asarray(column_ids)[k]])  # -1 (none) picks the last entry, -1
        save_array(f"{prefix}.{column}.npy", np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, dtype=np.int32))
        tables_out[column] = list(values)
    _write_stored(readers, keep, prefix)
    description = {
        "format": FORMAT,
        "name": name,
        "docs": docs,
        "fields": field_rows,
        "sources": tables_out["source"],
        "categories": tables_out["category"],
        "exception_bytes": exception_bytes,
        "docs_per_block": DOCS_PER_BLOCK,
        "signature_scheme": SIGNATURE_SCHEME,
        "positions": position_starts,
    }
    with open(f"{prefix}.json", "wb") as f:
        f.write(json.dumps(description, ensure_ascii=False).encode("utf-8"))
    return description


def _merged_field(readers: list[SegmentReader], renumber: list[np.ndarray], field: str, exception_bytes: int, chunk_postings: int,
                  positional: bool = False):
    """The merged field, a slice of its byte-ordered terms at a time: (table, lex, gaps, freqs,
    positions), positions being (offsets, bytes) for a positional field, else None."""
    per_reader = []
    for reader in readers:
        lo, hi = reader.fields.get(field, (0, 0))
        table = reader.term_table()
        per_reader.append((lo, reader.term_bytes(lo, hi), table[lo:hi, DF].astype(np.int64)))
    # The merged dictionary: every input's terms, in byte order, once. Fixed-width byte
    # strings sort and search as NumPy arrays (bytes order, as the dictionary is kept).
    kind = object if any(terms.dtype == object for _, terms, _ in per_reader) else \
        f"S{max((terms.dtype.itemsize for _, terms, _ in per_reader), default=1)}"
    merged = np.unique(np.concatenate([terms.astype(kind) for _, terms, _ in per_reader])) if per_reader else np.zeros(0, dtype="S1")
    # Each input's rows map to merged term numbers in order (both are in byte order).
    mapped = [np.searchsorted(merged, terms.astype(kind)).astype(np.int64) for _, terms, _ in per_reader]
    weight = np.zeros(len(merged), dtype=np.int64)
    for numbers, (_, _, df) in zip(mapped, per_reader):
        np.add.at(weight, numbers, df)
    # Slices of the dictionary with about chunk_postings postings each.
    slice_of = np.cumsum(weight) // chunk_postings
    bounds = [0] + (np.flatnonzero(np.diff(slice_of)) + 1).tolist()
    if bounds[-1] != len(merged):
        bounds.append(len(merged))
    for start, end in zip(bounds, bounds[1:]):
        term_ids, doc_ids, freqs, counts, positions = [], [], [], [], []
        for reader, numbers, (lo, _, _), new_numbers in zip(readers, mapped, per_reader, renumber):
            a, b = np.searchsorted(numbers, [start, end])
            if a == b:
                continue
            docs, tf, df = reader.postings_of_rows(lo + int(a), lo + int(b))
            new_docs = new_numbers[docs]
            live = new_docs >= 0
            term_ids.append(np.repeat(numbers[a:b], df)[live])
            doc_ids.append(new_docs[live])
            freqs.append(tf[live])
            if positional:
                # A position is within its document: it is copied as it is.
                count, where = reader.positions_of_rows(field, lo + int(a), lo + int(b), tf)
                counts.append(count[live])
                positions.append(where[np.repeat(live, count)])
        if not term_ids:
            continue
        # Inputs come in document order and each input's terms in merged order: a stable sort
        # by term gives each term's documents ascending.
        term_of = np.concatenate(term_ids)
        order = np.argsort(term_of, kind="stable")
        term_of, doc_of, tf_of = term_of[order], np.concatenate(doc_ids)[order], np.concatenate(freqs)[order]
        table, lex, gap_bytes, freq_bytes = _encode(term_of, doc_of, tf_of, merged, exception_bytes)
        encoded_positions = None
        if positional:
            count_of = np.concatenate(counts)
            gather = concatenated_ranges(exclusive_cumsum(count_of)[order], count_of[order])
            count_of = count_of[order]
            encoded_positions = encode_positions(table[:, DF], count_of, np.concatenate(positions)[gather])
        yield table, lex, gap_bytes, freq_bytes, encoded_positions


def _encode(term_of: np.ndarray, doc_of: np.ndarray, tf_of: np.ndarray, merged: np.ndarray, exception_bytes: int):
    """Table rows, lex, gap and frequency bytes for sorted postings, as SegmentWriter writes them."""
    total = term_of.size
    first_posting = np.ones(total, dtype=bool)
    first_posting[1:] = term_of[1:] != term_of[:-1]
    starts = np.flatnonzero(first_posting)
    distinct = term_of[starts]
    df = np.diff(np.append(starts, total))
    table = np.zeros((distinct.size, 5), dtype=np.int64)
    table[:, DF] = df
    table[:, FIRST] = doc_of[starts]
    gaps = np.diff(doc_of, prepend=np.int64(0))[~first_posting]
    table[:, GAPS], gap_bytes = patched_gaps(gaps, df - 1, exception_bytes)
    table[:, FREQS], freq_bytes = packed_frequencies(tf_of.astype(np.uint8), starts, df)
    encoded = merged[distinct].tolist()
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    if encoded:
        np.cumsum(lengths[:-1], out=table[1:, LEX])
    return table, b"".join(encoded), gap_bytes, freq_bytes


def _write_stored(readers: list[SegmentReader], keep: list[np.ndarray], prefix: Path) -> None:
    """Copy the live documents' stored JSON lines into blocks compressed as SegmentWriter does."""
    stored = StoredBlocks()
    for reader, live in zip(readers, keep):
        for line, is_live in zip(reader.stored_lines(), live):
            if is_live:
                stored.add(line)
    stored.write(str(prefix))


# The merge policy, after Lucene's LogMergePolicy: segments are grouped in levels by their
# live documents (each level MERGE_FACTOR times larger than the one below); MERGE_FACTOR
# adjacent segments of one level are merged into one of the next. Adjacent only: document
# numbers then keep reading order, which is how ties are ranked. So a build or a long run of
# updates does O(log n) rewrites per document, and an index of any size has a few segments.
MERGE_FACTOR = 10
LEVEL_DOCS = 1000  # level 0 is segments of up to this many live documents
# Every query looks each term up once per segment: beyond this many, the smallest adjacent
# ones are merged even if the levels do not ask for it.
MAX_SEGMENTS = 12


def merge_by_policy(directory: Path, entries: list[dict], out_directory: Path | None = None,
                    force: bool = False, chunk_postings: int = CHUNK_POSTINGS) -> list[dict]:
    """Merge segments of ``directory`` as the policy asks (all into one with ``force``);
    merged inputs' files are removed from ``directory``. Returns the new segment list."""
    out_directory = Path(out_directory or directory)
    entries = [dict(e) for e in entries]
    live = [e["docs"] - deleted_docs(directory, e).size for e in entries]
    while True:
        window = _next_merge(live, force)
        if window is None:
            return entries
        start, end = window
        name = _next_name(out_directory, entries)
        merged = merge_segments(directory, entries[start:end], out_directory, name, chunk_postings)
        for entry in entries[start:end]:
            for f in segment_files(entry["name"]) + ([entry["deleted"]] if entry.get("deleted") else []):
                (Path(directory) / f).unlink(missing_ok=True)
        entries[start:end] = [{"name": name, "docs": merged["docs"], "deleted": None}]
        live[start:end] = [merged["docs"]]


def _next_merge(live: list[int], force: bool) -> tuple[int, int] | None:
    """The [start, end) of the next adjacent run of segments to merge, or None."""
    if force:
        return (0, len(live)) if len(live) > 1 else None
    if any(n == 0 for n in live):  # nothing live left in a segment: drop it by merging it away
        i = live.index(0)
        return (max(0, i - 1), i + 1) if len(live) > 1 else None
    levels = [_level(n) for n in live]
    run = 1
    for i in range(1, len(levels) + 1):
        if i < len(levels) and levels[i] == levels[i - 1]:
            run += 1
            if run == MERGE_FACTOR:
                return i - MERGE_FACTOR + 1, i + 1
        else:
            run = 1
    if len(live) > MAX_SEGMENTS:
        size = min(MERGE_FACTOR, len(live) - MAX_SEGMENTS + 1)
        totals = [sum(live[i : i + size]) for i in range(len(live) - size + 1)]
        start = totals.index(min(totals))
        return start, start + size
    return None


def _level(live_docs: int) -> int:
    level, bound = 0, LEVEL_DOCS
    while live_docs > bound:
        level += 1
        bound *= MERGE_FACTOR
    return level


def _next_name(directory: Path, entries: list[dict]) -> str:
    taken = [int(e["name"][1:]) for e in entries if e["name"][1:].isdigit()]
    taken += [int(p.name[1:7]) for p in Path(directory).glob("s[0-9][0-9][0-9][0-9][0-9][0-9].json")]
    return f"s{max(taken, default=0) + 1:06d}"
