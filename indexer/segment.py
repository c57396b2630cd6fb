"""The on-disk format of one index segment: term dictionary, postings, lengths, columns, documents.

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
                        one that does not fit, then those in 2 or 4 bytes (``_patched_gaps``)
    s000001.tf          term frequencies, capped at 255 (BM25 saturates long before): half a
                        byte each for terms whose frequencies are at most 15, a byte otherwise,
                        none for terms that never occur twice in a document
    s000001.len.npy     length in terms of every text field of every document (uint16 or uint32)
    s000001.sig.npy     near-duplicate signature of every document (indexer.near_duplicates)
    s000001.date.npy    seconds since 1970 (UTC, naive dates taken as UTC), or NO_DATE
    s000001.source.npy  index into the source table, or -1 (likewise category.npy)
    s000001.docs        stored fields: zlib-compressed blocks of 8 JSON lines, compressed
                        with a preset dictionary (``.zdict``)
    s000001.docs.npy    offset of each block in .docs
    s000001.zdict       the dictionary: the segment's first 32 KB of stored JSON

Files are written once and never changed, so a generation can share them with the next one
through hard links; which documents of a segment are deleted is kept beside, per generation.
"""

from __future__ import annotations

import json
import mmap
import os
import zlib
from array import array
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from indexer.analysis import metadata_key
from indexer.near_duplicates import EMPTY as _EMPTY
from indexer.near_duplicates import SIGNATURE_SIZE

NO_DATE = np.iinfo(np.int64).min
EMPTY_SIGNATURE = _EMPTY.tolist()
DOCS_PER_BLOCK = 8  # a hit decompresses its block: 8 keeps that quick, at ~3% more size
# Small blocks compress poorly on their own: zlib's window starts empty. A preset dictionary
# of the segment's first stored documents gives every block the common words, field names and
# paths to refer back to. Measured on VNTC: level 4 with it makes 0.327 of the JSON in 0.054 ms
# a document; level 6 without, 0.344 in 0.099 ms.
DICTIONARY_BYTES = 32 * 1024  # zlib's window: it cannot use more
COMPRESSION_LEVEL = 4
FORMAT = "vnsearch-segment-5"

# Columns of the .terms table.
LEX, DF, FIRST, GAPS, FREQS = range(5)
ALL_ONES = 2**32 - 1  # in the FREQS column: every frequency of the term is 1, none stored


class SegmentWriter:
    """Collects analysed documents in memory, then writes them as one segment.

    Terms arrive as integer keys (``indexer.analysis.TermKeys``) and ``term_text`` turns a key
    back into its text when the segment is written. Per field, each document adds its distinct
    keys and their frequencies to flat arrays; ``write`` turns them into postings with NumPy
    (unique, stable sort), so memory is about a dozen bytes per posting and no Python object
    is made per term until the dictionary is written.
    """

    def __init__(self, fields: tuple[str, ...], term_text: Callable[[int], str]) -> None:
        self.fields = fields
        self.term_text = term_text
        self.docs = 0
        self.postings = 0
        # Syllable keys fit 32 bits; a field's keys become 64-bit when the first bigram key
        # (``first << 32 | second``) comes. Most postings are syllables: this halves them.
        self._keys = {f: array("I") for f in fields}
        self._freqs = {f: array("B") for f in fields}
        self._per_doc = {f: array("I") for f in fields}  # distinct terms of each document
        self._lengths = {f: array("I") for f in fields}
        self._dates = array("q")
        self._signatures = array("H")
        self._sources: dict[str, int] = {}
        self._categories: dict[str, int] = {}
        self._source_ids = array("i")
        self._category_ids = array("i")
        self._stored_blocks: list[bytes] = []
        self._pending: list[str] = []
        self._dictionary: bytes | None = None  # until enough documents came to make it
        self._waiting_blocks: list[bytes] = []

    def add(
        self, terms: dict[str, Sequence[int]], stored: dict, date: datetime | None, source: str | None,
        category: str | None, signature: np.ndarray | None = None,
    ) -> int:
        """Add one document (term keys per field, near-duplicate signature) and return its
        number in the segment."""
        batch = {name: (np.asarray(keys, dtype=np.int64), np.zeros(len(keys), dtype=np.int64)) for name, keys in terms.items()}
        self.add_batch(batch, [(stored, date, source, category, signature)])
        return self.docs - 1

    def add_batch(
        self, terms: dict[str, tuple[np.ndarray, np.ndarray]],
        documents: Sequence[tuple[dict, datetime | None, str | None, str | None, np.ndarray | None]],
    ) -> None:
        """Add a batch of documents: per field, every term key of the batch and the number of
        the document (0 up, within the batch, ascending) it comes from; per document, its
        stored fields, date, source, category and near-duplicate signature."""
        n = len(documents)
        empty = np.zeros(0, dtype=np.int64)
        for name in self.fields:
            keys, docs = terms.get(name, (empty, empty))
            self._add_postings(name, keys, docs, n)
        for stored, date, source, category, signature in documents:
            self._signatures.extend(EMPTY_SIGNATURE if signature is None else signature.tolist())
            self._dates.append(_seconds(date))
            self._source_ids.append(_table_id(self._sources, source))
            self._category_ids.append(_table_id(self._categories, category))
            self._pending.append(json.dumps(stored, ensure_ascii=False, separators=(",", ":"), default=str))
            if len(self._pending) == DOCS_PER_BLOCK:
                self._flush_block()
            self.docs += 1

    def _add_postings(self, name: str, keys: np.ndarray, docs: np.ndarray, n_docs: int) -> None:
        """Count a batch's keys per document and append (key, frequency) postings, document
        after document."""
        self._lengths[name].frombytes(np.bincount(docs, minlength=n_docs).astype(np.uint32).tobytes())
        if keys.size == 0:
            self._per_doc[name].frombytes(np.zeros(n_docs, dtype=np.uint32).tobytes())
            return
        distinct, counts = _distinct_per_document(keys, docs, n_docs)
        self._per_doc[name].frombytes(np.bincount(distinct[1], minlength=n_docs).astype(np.uint32).tobytes())
        # A term more than 255 times in a document: BM25 has long saturated.
        self._freqs[name].frombytes(np.minimum(counts, 255).astype(np.uint8).tobytes())
        collected = self._keys[name]
        if collected.typecode == "I" and int(distinct[0].max()) >= 2**32:
            # A bigram key: this field's keys take 64 bits from now on.
            collected = self._keys[name] = array("q", collected)
        collected.frombytes(distinct[0].astype(np.uint32 if collected.typecode == "I" else np.int64).tobytes())
        self.postings += distinct[0].size

    # What writing costs beyond the collected arrays, per posting of the largest field: its
    # keys as int64, the packed sort key, documents and the sorted copies (see write()).
    WRITE_BYTES_PER_POSTING = 40

    def memory_bytes(self) -> int:
        """About how much memory this writer needs to hold and then write what it has
        collected: the buffer a writer flushes on reaching (Lucene's RAM buffer)."""
        collected = sum(len(a) * a.itemsize for group in (self._keys, self._freqs, self._per_doc, self._lengths) for a in group.values())
        largest = max((len(a) for a in self._keys.values()), default=0)
        stored = sum(map(len, self._stored_blocks)) + sum(map(len, self._waiting_blocks))
        return collected + stored + largest * self.WRITE_BYTES_PER_POSTING + len(self._signatures) * 2 + len(self._dates) * 16

    def _flush_block(self) -> None:
        if not self._pending:
            return
        block = "\n".join(self._pending).encode("utf-8")
        self._pending = []
        if self._dictionary is not None:
            self._stored_blocks.append(_compress(block, self._dictionary))
            return
        self._waiting_blocks.append(block)
        if sum(map(len, self._waiting_blocks)) >= DICTIONARY_BYTES:
            self._start_compressing()

    def _start_compressing(self) -> None:
        """Make the dictionary of the blocks seen so far and compress them with it."""
        self._dictionary = b"\n".join(self._waiting_blocks)[-DICTIONARY_BYTES:]
        self._stored_blocks += [_compress(block, self._dictionary) for block in self._waiting_blocks]
        self._waiting_blocks = []

    def write(self, directory: Path, name: str) -> dict:
        """Write the segment's files as ``directory/name.*``; returns its description."""
        self._flush_block()
        if self._dictionary is None:
            self._start_compressing()
        prefix = Path(directory) / name
        # A gap that does not fit a byte is written after the term's gap bytes in this many
        # bytes: enough for any gap inside this segment.
        exception_bytes = 2 if self.docs <= 65536 else 4
        lex_parts: list[bytes] = []
        gap_parts: list[bytes] = []
        freq_parts: list[bytes] = []
        tables: list[np.ndarray] = []
        lex_size = gap_size = freq_size = 0
        field_rows = {}
        row = 0
        for field in self.fields:
            table, lex, gaps, freqs = self._field_postings(field, exception_bytes)
            n = table.shape[0]
            table[:, LEX] += lex_size
            table[:, GAPS] += gap_size
            table[table[:, FREQS] != ALL_ONES, FREQS] += 2 * freq_size
            field_rows[field] = [row, row + n]
            row += n
            lex_parts.append(lex)
            gap_parts.append(gaps)
            freq_parts.append(freqs)
            lex_size += len(lex)
            gap_size += len(gaps)
            freq_size += len(freqs)
            tables.append(table)
        terms = np.concatenate(tables + [np.array([[lex_size, 0, 0, 0, 0]], dtype=np.int64)])
        if int(terms.max()) <= ALL_ONES:  # 20 bytes a term instead of 40
            terms = terms.astype(np.uint32)
        _write_bytes(f"{prefix}.lex", b"".join(lex_parts))
        _save(f"{prefix}.terms.npy", terms)
        _write_bytes(f"{prefix}.gaps", b"".join(gap_parts))
        _write_bytes(f"{prefix}.tf", b"".join(freq_parts))
        lengths = np.vstack([np.frombuffer(self._lengths[f], dtype=np.uint32) for f in self.fields]) if self.docs else np.zeros((len(self.fields), 0), dtype=np.uint32)
        # Two bytes a length unless a document is longer than 65,535 terms.
        _save(f"{prefix}.len.npy", lengths.astype(np.uint16 if lengths.size == 0 or lengths.max() < 65536 else np.uint32))
        _save(f"{prefix}.sig.npy", np.array(self._signatures, dtype=np.uint16).reshape(self.docs, SIGNATURE_SIZE))
        _save(f"{prefix}.date.npy", np.array(self._dates, dtype=np.int64))
        _save(f"{prefix}.source.npy", np.array(self._source_ids, dtype=np.int32))
        _save(f"{prefix}.category.npy", np.array(self._category_ids, dtype=np.int32))
        offsets = np.cumsum([0] + [len(b) for b in self._stored_blocks], dtype=np.int64)
        _write_bytes(f"{prefix}.docs", b"".join(self._stored_blocks))
        _save(f"{prefix}.docs.npy", offsets)
        _write_bytes(f"{prefix}.zdict", self._dictionary)
        description = {
            "format": FORMAT,
            "name": name,
            "docs": self.docs,
            "fields": field_rows,
            "sources": list(self._sources),
            "categories": list(self._categories),
            "exception_bytes": exception_bytes,
            "docs_per_block": DOCS_PER_BLOCK,
        }
        _write_bytes(f"{prefix}.json", json.dumps(description, ensure_ascii=False).encode("utf-8"))
        return description

    def _field_postings(self, field: str, exception_bytes: int) -> tuple[np.ndarray, bytes, bytes, bytes]:
        """The term table rows, lex bytes, gap bytes and frequency bytes of one field."""
        collected = self._keys[field]
        keys = np.frombuffer(collected, dtype=np.uint32 if collected.typecode == "I" else np.int64).astype(np.int64, copy=False)
        del collected
        total = keys.size
        docs = np.repeat(np.arange(self.docs, dtype=np.int32), np.frombuffer(self._per_doc[field], dtype=np.uint32))
        freqs = np.frombuffer(self._freqs[field], dtype=np.uint8)
        # One sort by key makes the postings lists, each key's documents ascending. The lists
        # are stored in key order; the term table, which is searched, is in byte order of the
        # terms and points into them.
        keys, docs, freqs = _sorted_by_key(keys, docs, freqs, self.docs)
        # The collected arrays are no longer needed: free them before the next field's sort.
        self._keys[field], self._freqs[field], self._per_doc[field] = array("I"), array("B"), array("I")
        first_posting = np.ones(total, dtype=bool)
        first_posting[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(first_posting)
        distinct = keys[starts]
        del keys
        n = distinct.size
        df = np.diff(np.append(starts, total))
        table = np.zeros((n, 5), dtype=np.int64)
        table[:, DF] = df
        table[:, FIRST] = docs[starts]
        gaps = np.diff(docs, prepend=np.int32(0))[~first_posting]
        table[:, GAPS], gap_bytes = _patched_gaps(gaps, df - 1, exception_bytes)
        table[:, FREQS], freq_bytes = _packed_frequencies(freqs, starts, df)
        encoded = [text.encode("utf-8") for text in map(self.term_text, distinct.tolist())]
        by_bytes = sorted(range(n), key=encoded.__getitem__)
        table = table[by_bytes]
        encoded = [encoded[i] for i in by_bytes]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        if n:
            np.cumsum(lengths[:-1], out=table[1:, LEX])
        lex = b"".join(encoded)
        return table, lex, gap_bytes, freq_bytes


def _syllable_bits(keys: np.ndarray) -> tuple[int, bool]:
    """How many bits the largest syllable number in ``keys`` needs, and whether any key is a
    bigram (``first << 32 | second``). Written as its two syllable numbers side by side in that
    many bits each, a bigram key keeps its order in far fewer than 64 bits."""
    largest_first = int((keys >> 32).max())
    return max(largest_first, int((keys & 0xFFFFFFFF).max())).bit_length(), largest_first > 0


def _compact(keys: np.ndarray, syllable_bits: int) -> np.ndarray:
    """Bigram keys with their syllable numbers side by side in ``syllable_bits`` each (a new array)."""
    compact = keys >> 32
    compact <<= syllable_bits
    compact |= keys & 0xFFFFFFFF
    return compact


def _expand(compact: np.ndarray, syllable_bits: int) -> np.ndarray:
    """``_compact`` undone, in place."""
    low = compact & ((1 << syllable_bits) - 1)
    compact >>= syllable_bits
    compact <<= 32
    compact |= low
    return compact


def _distinct_per_document(keys: np.ndarray, docs: np.ndarray, n_docs: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """((distinct keys, their documents), counts), ordered by document, then key."""
    syllable_bits, pairs = _syllable_bits(keys)
    key_bits = 2 * syllable_bits if pairs else syllable_bits
    doc_bits = max(1, (n_docs - 1).bit_length())
    if key_bits + doc_bits <= 63:
        # Key and document in one number: np.unique counts them in one sort.
        combined, counts = np.unique(docs << key_bits | (_compact(keys, syllable_bits) if pairs else keys), return_counts=True)
        distinct = combined & ((1 << key_bits) - 1)
        return ((_expand(distinct, syllable_bits) if pairs else distinct), combined >> key_bits), counts
    order = np.lexsort((keys, docs))
    keys, docs = keys[order], docs[order]
    starts = np.flatnonzero(np.concatenate(([True], (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1]))))
    return (keys[starts], docs[starts]), np.diff(np.append(starts, keys.size))


def _sorted_by_key(keys: np.ndarray, docs: np.ndarray, freqs: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Postings (key, document, frequency) ordered by key, then document.

    Where they fit, key, document and frequency are packed into one 64-bit number and sorted
    together: about twice as fast as a stable argsort of the keys and three gathers. Bigram
    keys are packed ``_compact``, which keeps their order.
    """
    if keys.size == 0:
        return keys, docs.astype(np.int32), freqs
    syllable_bits, pairs = _syllable_bits(keys)
    key_bits = 2 * syllable_bits if pairs else syllable_bits
    doc_bits = max(1, (n_docs - 1).bit_length())
    if key_bits + doc_bits + 8 > 64:  # documents were added in order: a stable sort keeps them so
        order = np.argsort(keys, kind="stable")
        return keys[order], docs[order].astype(np.int32), freqs[order]
    # Built in place: the postings of a large field are hundreds of megabytes per array.
    packed = (_compact(keys, syllable_bits) if pairs else keys.copy()).view(np.uint64)
    packed <<= np.uint64(doc_bits + 8)
    shifted_docs = docs.astype(np.uint64)
    shifted_docs <<= np.uint64(8)
    packed |= shifted_docs
    del shifted_docs
    packed |= freqs
    packed.sort(kind="stable")  # timsort: measured faster than quicksort on these runs
    freqs = (packed & np.uint64(0xFF)).astype(np.uint8)
    packed >>= np.uint64(8)
    docs = (packed & np.uint64((1 << doc_bits) - 1)).astype(np.int32)
    packed >>= np.uint64(doc_bits)
    keys = packed.view(np.int64)
    return (_expand(keys, syllable_bits) if pairs else keys), docs, freqs


def _packed_frequencies(freqs: np.ndarray, starts: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, bytes]:
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
    offsets = _exclusive_cumsum(sizes)
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


def _exclusive_cumsum(values: np.ndarray) -> np.ndarray:
    out = np.zeros(values.size, dtype=np.int64)
    if values.size:
        np.cumsum(values[:-1], out=out[1:])
    return out


def _patched_gaps(gaps: np.ndarray, counts: np.ndarray, exception_bytes: int) -> tuple[np.ndarray, bytes]:
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
    offsets = _exclusive_cumsum(counts + exceptions_per_term * exception_bytes)
    out = np.empty(int(counts.sum() + exceptions_per_term.sum() * exception_bytes), dtype=np.uint8)
    at = offsets[term_of_gap]
    at += np.arange(gaps.size)
    at -= _exclusive_cumsum(counts)[term_of_gap]  # the gap's rank within its term
    out[at] = np.minimum(gaps, 255)
    del at
    exception_terms = term_of_gap[is_exception]
    exceptions = gaps[is_exception].astype(f"<u{exception_bytes}").view(np.uint8).reshape(-1, exception_bytes)
    exception_rank = np.arange(exception_terms.size) - _exclusive_cumsum(exceptions_per_term)[exception_terms]
    at = offsets[exception_terms] + counts[exception_terms] + exception_rank * exception_bytes
    for k in range(exception_bytes):
        out[at + k] = exceptions[:, k]
    return offsets, out.tobytes()


class SegmentReader:
    """One segment opened for reading; arrays are memory-mapped, documents read on demand."""

    def __init__(self, directory: Path, name: str) -> None:
        prefix = Path(directory) / name
        self.name = name
        with open(f"{prefix}.json", encoding="utf-8") as f:
            self.description = json.load(f)
        if self.description.get("format") != FORMAT:
            raise ValueError(f"{prefix}.json: not a {FORMAT} segment")
        self.docs: int = self.description["docs"]
        self.fields: dict[str, list[int]] = self.description["fields"]
        self.field_order = list(self.fields)
        self.sources: list[str] = self.description["sources"]
        self.categories: list[str] = self.description["categories"]
        self._lex = _map(f"{prefix}.lex")
        terms = np.load(f"{prefix}.terms.npy", mmap_mode="r")
        # A flat memoryview: the binary search reads single values, which a memoryview gives
        # as Python ints ten times faster than indexing a memory-mapped array does.
        self._table = memoryview(np.ascontiguousarray(np.asarray(terms)).reshape(-1)) if terms.size else memoryview(b"").cast("I")
        self._width = terms.shape[1] if terms.ndim == 2 else 5
        self._gaps = _map(f"{prefix}.gaps")
        self._exception_dtype = np.dtype(f"<u{self.description['exception_bytes']}")
        self._freqs = _map(f"{prefix}.tf")
        self.lengths = np.load(f"{prefix}.len.npy", mmap_mode="r")
        self.dates = np.load(f"{prefix}.date.npy", mmap_mode="r")
        self.signatures = np.load(f"{prefix}.sig.npy", mmap_mode="r")
        self.source_ids = np.load(f"{prefix}.source.npy", mmap_mode="r")
        self.category_ids = np.load(f"{prefix}.category.npy", mmap_mode="r")
        self._docs = _map(f"{prefix}.docs")
        self._block_offsets = np.load(f"{prefix}.docs.npy")
        with open(f"{prefix}.zdict", "rb") as f:
            self._dictionary = f.read()
        self._per_block = int(self.description["docs_per_block"])

    def _term_row(self, field: str, text: str) -> int | None:
        bounds = self.fields.get(field)
        if bounds is None:
            return None
        key = text.encode("utf-8")
        lo, hi = bounds
        table, width, lex = self._table, self._width, self._lex
        while lo < hi:
            mid = (lo + hi) // 2
            if lex[table[mid * width + LEX] : table[(mid + 1) * width + LEX]] < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < bounds[1] and lex[table[lo * width + LEX] : table[(lo + 1) * width + LEX]] == key:
            return lo
        return None

    def postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, frequencies) of a term in a field; empty arrays if absent."""
        row = self._term_row(field, text)
        if row is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint8)
        at = row * self._width
        _, df, first, gaps_at, freq_at = self._table[at : at + 5].tolist()
        docs = np.empty(df, dtype=np.int32)
        docs[0] = first
        if df > 1:
            small = np.frombuffer(self._gaps, dtype=np.uint8, count=df - 1, offset=gaps_at)
            gaps = small.astype(np.int32)
            patched = np.flatnonzero(small == 255)
            if patched.size:
                gaps[patched] = np.frombuffer(self._gaps, dtype=self._exception_dtype, count=patched.size, offset=gaps_at + df - 1)
            np.cumsum(gaps, out=docs[1:])
            docs[1:] += first
        if freq_at == ALL_ONES:
            return docs, np.ones(df, dtype=np.uint8)
        if freq_at & 1:  # half a byte each
            packed = np.frombuffer(self._freqs, dtype=np.uint8, count=(df + 1) // 2, offset=freq_at >> 1)
            freqs = np.empty(2 * packed.size, dtype=np.uint8)
            freqs[0::2], freqs[1::2] = packed & 15, packed >> 4
            return docs, freqs[:df]
        return docs, np.frombuffer(self._freqs, dtype=np.uint8, count=df, offset=freq_at >> 1)

    def field_lengths(self, field: str) -> np.ndarray:
        return self.lengths[self.field_order.index(field)]

    def terms(self, field: str) -> Iterator[str]:
        """Every term of a field, in byte order."""
        lo, hi = self.fields.get(field, (0, 0))
        table, width, lex = self._table, self._width, self._lex
        for row in range(lo, hi):
            yield bytes(lex[table[row * width + LEX] : table[(row + 1) * width + LEX]]).decode("utf-8")

    def column(self, name: str) -> tuple[list[str], np.ndarray]:
        """The value table and per-document value numbers (-1: none) of "source" or "category"."""
        if name == "source":
            return self.sources, self.source_ids
        if name == "category":
            return self.categories, self.category_ids
        raise ValueError(f"no column {name!r}")

    def stored(self, docnum: int) -> dict:
        """The stored fields of one document."""
        block = docnum // self._per_block
        # Decode only the one document's line (JSON never has a raw newline inside).
        return json.loads(self._block(block).split(b"\n")[docnum % self._per_block])

    def iter_stored(self) -> Iterator[dict]:
        """Every document's stored fields, in document order."""
        for block in range(len(self._block_offsets) - 1):
            for line in self._block(block).decode("utf-8").split("\n"):
                yield json.loads(line)

    def _block(self, block: int) -> bytes:
        start, end = int(self._block_offsets[block]), int(self._block_offsets[block + 1])
        if not self._dictionary:
            return zlib.decompress(self._docs[start:end])
        return zlib.decompressobj(zdict=self._dictionary).decompress(self._docs[start:end])


def segment_files(name: str) -> list[str]:
    """The file names that make up segment ``name``."""
    suffixes = ("json", "lex", "terms.npy", "gaps", "tf", "len.npy", "sig.npy", "date.npy", "source.npy", "category.npy", "docs", "docs.npy", "zdict")
    return [f"{name}.{s}" for s in suffixes]


def _compress(block: bytes, dictionary: bytes) -> bytes:
    if not dictionary:
        return zlib.compress(block, COMPRESSION_LEVEL)
    compressor = zlib.compressobj(COMPRESSION_LEVEL, zdict=dictionary)
    return compressor.compress(block) + compressor.flush()


def _seconds(date: datetime | None) -> int:
    if date is None:
        return int(NO_DATE)
    if date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    return int(date.timestamp())


def _table_id(table: dict[str, int], key: str | None) -> int:
    if not key:
        return -1
    return table.setdefault(key, len(table))


class _EmptyMap(bytes):
    """Stands in for the memory map of an empty file (mmap cannot map zero bytes)."""


def _map(path: str) -> bytes | mmap.mmap:
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return _EmptyMap()
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _save(path: str, array_: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array_)


class SegmentSet:
    """The segments of one generation seen as one index: global document numbers follow the
    segments in order, and documents deleted by later updates are masked out."""

    def __init__(self, directory: Path, entries: list[dict]) -> None:
        self.directory = Path(directory)
        self.entries = entries
        self.readers = [SegmentReader(self.directory, e["name"]) for e in entries]
        self.offsets = np.cumsum([0] + [r.docs for r in self.readers], dtype=np.int64)
        self.size = int(self.offsets[-1])
        self.live = np.ones(self.size, dtype=bool)
        for entry, reader, offset in zip(entries, self.readers, self.offsets):
            if entry.get("deleted"):
                self.live[offset + deleted_docs(self.directory, entry)] = False
        self._dates: np.ndarray | None = None
        self._signatures: np.ndarray | None = None

    def postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Global (document numbers, frequencies) of a term, deleted documents included."""
        if len(self.readers) == 1:
            return self.readers[0].postings(field, text)
        docs, freqs = [], []
        for reader, offset in zip(self.readers, self.offsets):
            d, f = reader.postings(field, text)
            if d.size:
                docs.append(d + np.int32(offset))
                freqs.append(f)
        if not docs:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint8)
        return np.concatenate(docs), np.concatenate(freqs)

    def field_lengths(self, field: str) -> np.ndarray:
        return np.concatenate([r.field_lengths(field) for r in self.readers]) if self.readers else np.zeros(0, dtype=np.uint32)

    def locate(self, docnum: int) -> tuple[SegmentReader, int]:
        i = int(np.searchsorted(self.offsets, docnum, side="right")) - 1
        return self.readers[i], docnum - int(self.offsets[i])

    def stored(self, docnum: int) -> dict:
        reader, local = self.locate(docnum)
        return reader.stored(local)

    def signatures(self) -> np.ndarray:
        """The near-duplicate signature of every document (indexer.near_duplicates); joined
        from the segments once, since a search may ask several times."""
        if self._signatures is None:
            parts = [np.asarray(r.signatures) for r in self.readers]
            self._signatures = np.concatenate(parts) if parts else np.zeros((0, SIGNATURE_SIZE), dtype=np.uint16)
        return self._signatures

    def dates(self) -> np.ndarray:
        """Seconds since 1970 of every document, NO_DATE where it has none (joined once)."""
        if self._dates is None:
            self._dates = np.concatenate([r.dates for r in self.readers]) if self.readers else np.zeros(0, dtype=np.int64)
        return self._dates

    def column_counts(self, column: str, mask: np.ndarray) -> dict[str, int]:
        """How many of the documents in ``mask`` have each source (or category)."""
        counts: dict[str, int] = {}
        for r, offset in zip(self.readers, self.offsets):
            table, all_ids = r.column(column)
            ids = np.asarray(all_ids)[mask[offset : offset + r.docs]]
            for i, n in enumerate(np.bincount(ids[ids >= 0], minlength=len(table))):
                if n:
                    counts[table[i]] = counts.get(table[i], 0) + int(n)
        return counts

    def column_mask(self, column: str, keys: set[str]) -> np.ndarray:
        """Documents whose source (or category) compares equal to one of ``keys``
        (``indexer.analysis.metadata_key``: case, spacing and diacritics do not matter)."""
        mask = np.zeros(self.size, dtype=bool)
        for r, offset in zip(self.readers, self.offsets):
            table, ids = r.column(column)
            wanted = [i for i, value in enumerate(table) if metadata_key(value) in keys]
            if wanted:
                mask[offset : offset + r.docs] = np.isin(ids, wanted)
        return mask

    def iter_live(self) -> Iterator[tuple[int, dict]]:
        """(global number, stored fields) of every live document."""
        for reader, offset in zip(self.readers, self.offsets):
            for local, stored in enumerate(reader.iter_stored()):
                if self.live[offset + local]:
                    yield int(offset) + local, stored


def deleted_docs(directory: Path, entry: dict) -> np.ndarray:
    """The deleted document numbers (local to the segment) recorded for a segment entry."""
    if not entry.get("deleted"):
        return np.zeros(0, dtype=np.int64)
    return np.load(Path(directory) / entry["deleted"]).astype(np.int64)
