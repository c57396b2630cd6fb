"""The on-disk format of a segment (the codec): file names, constants, and the encodings of
postings, frequencies and stored blocks that the writer, the merger and the reader share.

The on-disk format of one index segment: term dictionary, postings, lengths, columns, documents.

Why not Whoosh's segment format: writing it goes through Python for every posting and every
term (measured: 41 documents/s for the 84k VNTC articles with vnsearch's nine text fields, 1.0 GB
of index for 245 MB of text), and reading it back block by block costs more than scoring. This
format is written and read with NumPy, whole arrays at a time, and memory-mapped when opened.

A segment is a set of files sharing a name prefix (``s000001``) inside a generation folder::

    s000001.json        doc count, the fields and where each field's terms are in the tables,
                        the source and category tables of the columns
    s000001.lex         every term of every field, UTF-8, sorted by bytes within a field
    s000001.terms.npy   per term: [lex offset, df, first document, gaps offset, frequency
                        offset]; one extra row ends the last term's lex bytes
    s000001.gaps        per term, the gaps between its documents: one byte each, 255 marking
                        one that does not fit, then those in 2 or 4 bytes (``patched_gaps``)
    s000001.tf          term frequencies, capped at 255 (BM25 saturates long before): half a
                        byte each for terms whose frequencies are at most 15, a byte otherwise,
                        none for terms that never occur twice in a document
    s000001.pos         positions of the exact syllables of title and body, per term
                        (``encode_positions``), for exact phrases
    s000001.pos.npy     where each of those terms' positions start in .pos
    s000001.len.npy     length in terms of every text field of every document (uint16 or uint32)
    s000001.sig.npy     near-duplicate signature of every document (indexer.near_duplicates)
    s000001.date.npy    seconds since 1970 (UTC, naive dates taken as UTC), or NO_DATE
    s000001.source.npy  index into the source table, or -1 (likewise category.npy)
    s000001.docs        stored fields: zlib-compressed blocks of DOCS_PER_BLOCK JSON lines, compressed
                        with a preset dictionary (``.zdict``)
    s000001.docs.npy    offset of each block in .docs
    s000001.zdict       the dictionary: the segment's first 32 KB of stored JSON

Files are written once and never changed, so a generation can share them with the next one
through hard links; which documents of a segment are deleted is kept beside, per generation.
"""

from __future__ import annotations

import mmap
import os
import zlib

import numpy as np

from indexer import _postings  # compiled by pip install; no slow fallback (README "Design notes")
from indexer.near_duplicates import EMPTY as _EMPTY

NO_DATE = np.iinfo(np.int64).min
EMPTY_SIGNATURE = _EMPTY.tolist()
# A hit decompresses its block. Measured on VNTC with the preset dictionary below (level 4):
# one article a block is 0.371 of its JSON and decompresses in 23 µs; eight were 0.341 and
# 95 µs, which made decompression most of a hit's cost once snippets were compiled. Segments
# record their own value (``docs_per_block``), so those written with 8 still read.
DOCS_PER_BLOCK = 1
# Small blocks compress poorly on their own: zlib's window starts empty. A preset dictionary
# of the segment's first stored documents gives every block the common words, field names and
# paths to refer back to. Measured on VNTC: level 4 with it makes 0.327 of the JSON in 0.054 ms
# a document; level 6 without, 0.344 in 0.099 ms.
DICTIONARY_BYTES = 32 * 1024  # zlib's window: it cannot use more
COMPRESSION_LEVEL = 4
FORMAT = "vnsearch-segment-6"  # 6: positions (.pos) for exact phrases

# Terms up to this many bytes are merged as fixed-width NumPy byte strings (longer: Python bytes).
LONGEST_FIXED_WIDTH_TERM = 64

# Columns of the .terms table.
LEX, DF, FIRST, GAPS, FREQS = range(5)
ALL_ONES = 2**32 - 1  # in the FREQS column: every frequency of the term is 1, none stored


def segment_files(name: str) -> list[str]:
    """The file names that make up segment ``name``."""
    suffixes = ("json", "lex", "terms.npy", "gaps", "tf", "pos", "pos.npy", "len.npy", "sig.npy", "date.npy", "source.npy", "category.npy", "docs", "docs.npy", "zdict")
    return [f"{name}.{s}" for s in suffixes]


def compress_block(block: bytes, dictionary: bytes) -> bytes:
    if not dictionary:
        return zlib.compress(block, COMPRESSION_LEVEL)
    compressor = zlib.compressobj(COMPRESSION_LEVEL, zdict=dictionary)
    return compressor.compress(block) + compressor.flush()


def packed_frequencies(freqs: np.ndarray, starts: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, bytes]:
    """Encode each term's frequencies (terms one after another, starting at ``starts``):
    nothing for a term whose frequencies are all 1 (most rare terms), half a byte each for a
    term whose frequencies are at most 15 (most others), else a byte each. Returns each term's
    FREQS value (byte offset × 2 + 1 if in half bytes, or ALL_ONES) and the bytes."""
    n = df.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), b""
    all_ones = np.logical_and.reduceat(freqs == 1, starts)
    small = np.maximum.reduceat(freqs, starts) <= 15
    sizes = np.where(all_ones, 0, np.where(small, (df + 1) // 2, df))
    offsets = exclusive_cumsum(sizes)
    out = np.zeros(int(sizes.sum()), dtype=np.uint8)
    # 32-bit positions where they fit: these arrays have one entry per posting.
    index_type = np.int32 if freqs.size < 2**31 else np.int64
    term = np.repeat(np.arange(n, dtype=index_type), df)
    rank = np.arange(freqs.size, dtype=index_type)
    rank -= starts.astype(index_type)[term]
    whole = ~all_ones[term] & ~small[term]
    out[offsets[term[whole]] + rank[whole]] = freqs[whole]
    half = ~all_ones[term] & small[term]
    low = half & (rank % 2 == 0)
    out[offsets[term[low]] + rank[low] // 2] = freqs[low]
    high = half & (rank % 2 == 1)
    out[offsets[term[high]] + rank[high] // 2] |= freqs[high] << 4
    column = np.where(all_ones, ALL_ONES, offsets * 2 + small)
    return column, out.tobytes()


def exclusive_cumsum(values: np.ndarray) -> np.ndarray:
    out = np.zeros(values.size, dtype=np.int64)
    if values.size:
        np.cumsum(values[:-1], out=out[1:])
    return out


def concatenated_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indexes of the ranges [starts[i], starts[i] + lengths[i]), one range after another:
    how runs of postings or positions are gathered in a new order."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.repeat(np.asarray(starts, dtype=np.int64) - exclusive_cumsum(lengths), lengths) + np.arange(int(lengths.sum()))


def found_in_sorted(haystack: np.ndarray, needles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each needle: where it is in the ascending ``haystack`` (any index where it is not)
    and whether it is there."""
    if haystack.size == 0:
        return np.zeros(needles.size, dtype=np.int64), np.zeros(needles.size, dtype=bool)
    at = np.searchsorted(haystack, needles)
    at[at == haystack.size] = 0
    return at, haystack[at] == needles


def patched_gaps(gaps: np.ndarray, counts: np.ndarray, exception_bytes: int) -> tuple[np.ndarray, bytes]:
    """Encode each term's document gaps (``counts[t]`` of them, terms one after another) as
    one byte per gap, 255 marking a gap that does not fit, followed by those gaps in
    ``exception_bytes`` bytes each (little-endian). Returns each term's byte offset and the bytes.

    Most gaps of frequent terms fit a byte; rare terms have few postings. Decoding is two
    array reads and a cumulative sum (``SegmentReader.postings``).
    """
    n = counts.size
    term_of_gap = np.repeat(np.arange(n, dtype=np.int32), counts)
    is_exception = gaps >= 255
    exceptions_per_term = np.bincount(term_of_gap[is_exception], minlength=n)
    offsets = exclusive_cumsum(counts + exceptions_per_term * exception_bytes)
    out = np.empty(int(counts.sum() + exceptions_per_term.sum() * exception_bytes), dtype=np.uint8)
    at = offsets[term_of_gap]
    at += np.arange(gaps.size)
    at -= exclusive_cumsum(counts)[term_of_gap]  # the gap's rank within its term
    out[at] = np.minimum(gaps, 255)
    del at
    exception_terms = term_of_gap[is_exception]
    exceptions = gaps[is_exception].astype(f"<u{exception_bytes}").view(np.uint8).reshape(-1, exception_bytes)
    exception_rank = np.arange(exception_terms.size) - exclusive_cumsum(exceptions_per_term)[exception_terms]
    at = offsets[exception_terms] + counts[exception_terms] + exception_rank * exception_bytes
    for k in range(exception_bytes):
        out[at + k] = exceptions[:, k]
    return offsets, out.tobytes()



# Positions are kept for these fields (the exact syllables of title and body): what a quoted
# phrase is checked against. A phrase typed without diacritics is checked through the written
# forms of each syllable (``indexer.phonology.written_forms``), so the folded families need
# none; the opening is part of the body.
POSITIONAL_FIELDS = ("title", "body")
# Postings per skip entry of a term's positions: a phrase reads the positions of its candidate
# documents only, jumping to each one's block (Lucene's and tantivy's block size).
POSITIONS_BLOCK = 128
# A syllable that does not stand together with the one before (punctuation between them,
# "Hà Nội, Huế") is this much further on: a phrase matches only syllables that stand together,
# as the bigram family does.
BREAK_STEP = 2


def varint_bytes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LEB128 varints of non-negative ``values`` (< 2**32): (the bytes, bytes per value)."""
    values = values.astype(np.uint64, copy=False)
    sizes = np.ones(values.size, dtype=np.int64)
    for bits in (7, 14, 21, 28):
        sizes += values >= (1 << bits)
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    at = exclusive_cumsum(sizes)
    for k in range(int(sizes.max(initial=0))):
        has = sizes > k
        more = sizes[has] > k + 1
        out[at[has] + k] = ((values[has] >> np.uint64(7 * k)) & np.uint64(127)).astype(np.uint8) | (more.astype(np.uint8) << 7)
    return out, sizes


def encode_positions(df: np.ndarray, counts: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, bytes]:
    """``encode_positions_reference``, compiled (``indexer/_postings.c``): what the writer
    and the merger call."""
    args = [np.ascontiguousarray(a, dtype=np.int64) for a in (df, counts, positions)]
    offsets = np.empty(args[0].size, dtype=np.int64)
    out = _filled(np.uint8, 2 * args[2].size + 4 * args[0].size + 16, lambda out: _postings.encode_positions(*args, offsets, out))
    return offsets, out.tobytes()


def _filled(dtype, room: int, fill) -> np.ndarray:
    """The output a compiled function writes (``fill(out)`` returns how much it wrote, or
    minus how much it needs when ``out`` is too small): guessed at ``room``, grown once."""
    while True:
        out = np.empty(room, dtype=dtype)
        written = fill(out)
        if written >= 0:
            return out[:written]
        room = -written


def order_by_key(keys: np.ndarray, largest: int) -> np.ndarray:
    """The indexes of ``keys`` (uint32, at most ``largest``) ordered by key, stable: what
    ``np.argsort(keys, kind="stable")`` gives, by a compiled counting sort."""
    if largest > 4 * keys.size + 2**20:  # keys too sparse for a table of counts
        return np.argsort(keys, kind="stable")
    keys = np.ascontiguousarray(keys, dtype=np.uint32)
    order = np.empty(keys.size, dtype=np.int64)
    _postings.order_by_key(keys, np.zeros(largest + 2, dtype=np.int64), order)
    return order


def encode_positions_reference(df: np.ndarray, counts: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, bytes]:
    """Encode the positions of terms' postings (terms one after another, ``df[t]`` postings
    each; ``counts[p]`` positions for posting p, ascending, one after another in
    ``positions``). Returns each term's byte offset and the bytes.

    A term's run: ``(df - 1) // POSITIONS_BLOCK`` skip entries (uint32: where postings 128,
    256, ... start, counted from the end of the entries), then per posting its count as a
    varint only if it is 255 or more (the frequency file holds min(count, 255)), then the first
    position and the distance to each next one as varints. In NumPy: the oracle of
    ``encode_positions``; ``indexer/_postings.c`` decodes.
    """
    df = np.asarray(df, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    n_terms, n_postings = df.size, counts.size
    positions = np.asarray(positions, dtype=np.int64)
    # Values to write: per posting [count if >= 255] + first position + distances.
    steps = positions.copy()
    if steps.size:
        steps[1:] -= positions[:-1]
    posting_starts = exclusive_cumsum(counts)
    has_positions = counts > 0
    steps[posting_starts[has_positions]] = positions[posting_starts[has_positions]]
    long = np.flatnonzero(counts >= 255)
    values = np.insert(steps, posting_starts[long], counts[long])
    encoded, sizes = varint_bytes(values)
    owner = np.repeat(np.arange(n_postings), counts)
    owner = np.insert(owner, posting_starts[long], long)
    posting_bytes = np.bincount(owner, weights=sizes, minlength=n_postings).astype(np.int64)
    # Within its term: where each posting's bytes start after the skip entries.
    term_of_posting = np.repeat(np.arange(n_terms), df)
    term_first = exclusive_cumsum(df)
    within = exclusive_cumsum(posting_bytes)
    within -= within[term_first[term_of_posting]] if n_postings else 0
    skips = np.maximum(df - 1, 0) // POSITIONS_BLOCK
    term_bytes = np.bincount(term_of_posting, weights=posting_bytes, minlength=n_terms).astype(np.int64) + 4 * skips
    offsets = exclusive_cumsum(term_bytes)
    out = np.empty(int(term_bytes.sum()), dtype=np.uint8)
    posting_at = offsets[term_of_posting] + 4 * skips[term_of_posting] + within
    byte_owner = np.repeat(owner, sizes)
    byte_rank = np.arange(encoded.size) - np.repeat(exclusive_cumsum(posting_bytes), posting_bytes) if encoded.size else np.zeros(0, dtype=np.int64)
    out[posting_at[byte_owner] + byte_rank] = encoded
    # Skip entries: posting number (j + 1) * POSITIONS_BLOCK of the term, for each entry j.
    entry_term = np.repeat(np.arange(n_terms), skips)
    entry_rank = np.arange(entry_term.size) - np.repeat(exclusive_cumsum(skips), skips)
    entry_value = within[term_first[entry_term] + (entry_rank + 1) * POSITIONS_BLOCK].astype("<u4").view(np.uint8).reshape(-1, 4)
    entry_at = offsets[entry_term] + 4 * entry_rank
    for k in range(4):
        out[entry_at + k] = entry_value[:, k]
    return offsets, out.tobytes()


def decode_positions(data, offset: int, freqs: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions of some postings of one term (``wanted``: posting numbers, ascending;
    ``freqs``: all the term's frequencies): (count per wanted posting, their positions one
    after another). Compiled (``indexer/_postings.c``); ``decode_positions_reference`` is
    the same in Python."""
    wanted = np.ascontiguousarray(wanted, dtype=np.int64)
    counts = np.empty(wanted.size, dtype=np.int32)
    freqs = np.ascontiguousarray(freqs, dtype=np.uint8)
    # Room for the frequencies' worth; a count of 255 or more (its varint tells) grows it.
    room = int(freqs[wanted].sum(dtype=np.int64)) if wanted.size else 0
    return counts, _filled(np.int32, room, lambda out: _postings.positions_at(data, offset, freqs, wanted, counts, out))


def decode_positions_reference(data, offset: int, freqs: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What ``decode_positions`` computes, reading every posting in order: the oracle of its tests."""
    raw = bytes(data)
    at = offset + 4 * (max(len(freqs) - 1, 0) // POSITIONS_BLOCK)

    def varint() -> int:
        nonlocal at
        value = shift = 0
        while True:
            byte = raw[at]
            at += 1
            value |= (byte & 127) << shift
            shift += 7
            if not byte & 128:
                return value

    per_posting = []
    for freq in np.asarray(freqs).tolist():
        count = varint() if freq == 255 else freq
        steps = [varint() for _ in range(count)]
        per_posting.append(np.cumsum(steps, dtype=np.int64))
    chosen = [per_posting[w] for w in np.asarray(wanted).tolist()]
    counts = np.array([c.size for c in chosen], dtype=np.int32)
    return counts, (np.concatenate(chosen).astype(np.int32) if chosen else np.zeros(0, dtype=np.int32))


def decode_positions_of_terms(data, offsets: np.ndarray, df: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every posting's positions of several terms (a merge's slice): (count per posting,
    positions one after another)."""
    freqs = np.ascontiguousarray(freqs, dtype=np.uint8)
    counts = np.empty(freqs.size, dtype=np.int64)
    args = (np.ascontiguousarray(offsets, dtype=np.uint64), np.ascontiguousarray(df, dtype=np.int64), freqs)
    room = int(freqs.sum(dtype=np.int64))
    return counts, _filled(np.int32, room, lambda out: _postings.positions_of_terms(data, *args, counts, out))


def find_term(lex, table, width: int, lo: int, hi: int, key: bytes) -> int | None:
    """The row among [lo, hi) of a term table (flat, ``width`` columns, LEX first) whose term
    is ``key``, by binary search in byte order; None if there is none. Compiled
    (``indexer/_postings.c``); ``find_term_reference`` is the same in Python."""
    row = _postings.find_term(lex, table, width, lo, hi, key)
    return None if row < 0 else row


def search_term(lex, table, width: int, lo: int, hi: int, key: bytes) -> int:
    """``find_term``'s search, answered as Java's ``Arrays.binarySearch`` answers: the row, or
    -(the row the term would stand at) - 1."""
    return _postings.find_term(lex, table, width, lo, hi, key)


def rows_searched(lo: int, hi: int, answer: int) -> list[int]:
    """The rows a binary search of [lo, hi) compared the key with, told again from its answer
    (``search_term``): each middle row is below where the search ended iff the key was found
    greater there, whatever the bytes said. A damaged row the search read is therefore among
    these, and checking them is checking the search (plus the row it ended at)."""
    end = answer if answer >= 0 else -answer - 1
    rows = []
    while lo < hi:
        mid = (lo + hi) // 2
        rows.append(mid)
        if mid < end:
            lo = mid + 1
        else:
            hi = mid
    return rows + [end]


def find_term_reference(lex, table, width: int, lo: int, hi: int, key: bytes) -> int | None:
    """What ``find_term`` computes, in Python: the oracle of its tests."""
    end = hi
    while lo < hi:
        mid = (lo + hi) // 2
        if lex[table[mid * width + LEX] : table[(mid + 1) * width + LEX]] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < end and lex[table[lo * width + LEX] : table[(lo + 1) * width + LEX]] == key:
        return lo
    return None


def decode_postings(gaps, gaps_at: int, df: int, first: int, exception_bytes: int, freqs, freq_at: int) -> tuple[np.ndarray, np.ndarray]:
    """One term's (documents, frequencies) from its ``patched_gaps`` at ``gaps_at`` and its
    ``packed_frequencies`` column value ``freq_at``. Compiled (``indexer/_postings.c``);
    ``decode_postings_reference`` is the same in NumPy."""
    docs, out = np.empty(df, dtype=np.int32), np.empty(df, dtype=np.uint8)
    _postings.decode(docs, out, gaps, gaps_at, first, exception_bytes, freqs, freq_at)
    return docs, out


def decode_postings_reference(gaps, gaps_at: int, df: int, first: int, exception_bytes: int, freqs, freq_at: int) -> tuple[np.ndarray, np.ndarray]:
    """What ``decode_postings`` computes, in NumPy: the oracle of its tests."""
    docs = np.empty(df, dtype=np.int32)
    docs[0] = first
    if df > 1:
        small = np.frombuffer(gaps, dtype=np.uint8, count=df - 1, offset=gaps_at)
        deltas = small.astype(np.int32)
        patched = np.flatnonzero(small == 255)
        if patched.size:
            deltas[patched] = np.frombuffer(gaps, dtype=f"<u{exception_bytes}", count=patched.size, offset=gaps_at + df - 1)
        np.cumsum(deltas, out=docs[1:])
        docs[1:] += first
    if freq_at == ALL_ONES:
        return docs, np.ones(df, dtype=np.uint8)
    if freq_at & 1:  # half a byte each
        packed = np.frombuffer(freqs, dtype=np.uint8, count=(df + 1) // 2, offset=freq_at >> 1)
        out = np.empty(2 * packed.size, dtype=np.uint8)
        out[0::2], out[1::2] = packed & 15, packed >> 4
        return docs, out[:df]
    return docs, np.frombuffer(freqs, dtype=np.uint8, count=df, offset=freq_at >> 1).copy()


def decode_rows(rows: np.ndarray, gaps_file, freqs_file, exception_bytes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every posting of some term table ``rows``, decoded in bulk with NumPy, as a merge reads
    a dictionary slice: (documents, frequencies, document frequency of each row)."""
    table = rows.astype(np.int64)
    df, first, gaps_at, freq_at = table[:, DF], table[:, FIRST], table[:, GAPS], table[:, FREQS]
    n = df.size
    # Gap bytes: df - 1 per term, from the term's gaps offset; 255 marks an exception stored
    # after them in exception_bytes bytes.
    counts = df - 1
    gap_total = int(counts.sum())
    term_of_gap = np.repeat(np.arange(n), counts)
    rank = np.arange(gap_total) - exclusive_cumsum(counts)[term_of_gap]
    raw = np.frombuffer(gaps_file, dtype=np.uint8) if len(gaps_file) else np.zeros(0, dtype=np.uint8)
    gaps = raw[gaps_at[term_of_gap] + rank].astype(np.int64)
    exceptional = gaps == 255
    if exceptional.any():
        width = exception_bytes
        per_term = np.bincount(term_of_gap[exceptional], minlength=n)
        exception_terms = term_of_gap[exceptional]
        exception_rank = np.arange(exception_terms.size) - exclusive_cumsum(per_term)[exception_terms]
        at = gaps_at[exception_terms] + counts[exception_terms] + exception_rank * width
        value = np.zeros(at.size, dtype=np.int64)
        for k in range(width):
            value |= raw[at + k].astype(np.int64) << (8 * k)
        gaps[exceptional] = value
    # Documents: each term's first document, then running sums of its gaps.
    steps = np.zeros(int(df.sum()), dtype=np.int64)
    term_starts = exclusive_cumsum(df)
    steps[term_starts] = first
    not_first = np.ones(steps.size, dtype=bool)
    not_first[term_starts] = False
    steps[not_first] = gaps
    docs = np.cumsum(steps)
    docs -= np.repeat(docs[term_starts] - first, df)
    # Frequencies: none stored (all 1), half a byte each, or a byte each.
    tf_raw = np.frombuffer(freqs_file, dtype=np.uint8) if len(freqs_file) else np.zeros(0, dtype=np.uint8)
    term_of = np.repeat(np.arange(n), df)
    within = np.arange(docs.size) - term_starts[term_of]
    freqs = np.ones(docs.size, dtype=np.uint8)
    ones = freq_at == ALL_ONES
    half = ~ones & (freq_at & 1 == 1)
    whole = ~ones & ~half
    offset = freq_at >> 1
    h = half[term_of]
    if h.any():
        byte = tf_raw[offset[term_of[h]] + within[h] // 2]
        freqs[h] = np.where(within[h] % 2 == 0, byte & 15, byte >> 4)
    w = whole[term_of]
    if w.any():
        freqs[w] = tf_raw[offset[term_of[w]] + within[w]]
    return docs, freqs, df


class EmptyMap(bytes):
    """Stands in for the memory map of an empty file (mmap cannot map zero bytes)."""


def map_file(path: str) -> bytes | mmap.mmap:
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return EmptyMap()
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def save_array(path: str, array_: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array_)


class StoredBlocks:
    """Stored documents (one JSON line each) gathered into blocks of DOCS_PER_BLOCK, compressed
    with a preset dictionary made of the first DICTIONARY_BYTES of them. The segment writer
    and the merger both write ``.docs``, ``.docs.npy`` and ``.zdict`` through it."""

    def __init__(self) -> None:
        self.blocks: list[bytes] = []  # compressed
        self._pending: list[bytes] = []
        self._waiting: list[bytes] = []  # whole blocks, until the dictionary can be made
        self.dictionary: bytes | None = None

    def add(self, line: bytes) -> None:
        self._pending.append(line)
        if len(self._pending) == DOCS_PER_BLOCK:
            self._flush_block()

    def bytes_held(self) -> int:
        return sum(map(len, self.blocks)) + sum(map(len, self._waiting))

    def _flush_block(self) -> None:
        if not self._pending:
            return
        block = b"\n".join(self._pending)
        self._pending = []
        if self.dictionary is not None:
            self.blocks.append(compress_block(block, self.dictionary))
            return
        self._waiting.append(block)
        if sum(map(len, self._waiting)) >= DICTIONARY_BYTES:
            self._start_compressing()

    def _start_compressing(self) -> None:
        """Make the dictionary of the blocks seen so far and compress them with it."""
        self.dictionary = b"\n".join(self._waiting)[-DICTIONARY_BYTES:]
        self.blocks += [compress_block(block, self.dictionary) for block in self._waiting]
        self._waiting = []

    def write(self, prefix: str) -> None:
        """Write ``prefix.docs``, ``prefix.docs.npy`` (block offsets) and ``prefix.zdict``."""
        self._flush_block()
        if self.dictionary is None:
            self._start_compressing()
        with open(f"{prefix}.docs", "wb") as f:
            for block in self.blocks:
                f.write(block)
        save_array(f"{prefix}.docs.npy", np.cumsum([0] + [len(b) for b in self.blocks], dtype=np.int64))
        write_bytes(f"{prefix}.zdict", self.dictionary)
