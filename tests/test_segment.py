"""The segment format: what is written is read back, term by term and document by document."""

from datetime import datetime, timezone

import numpy as np
import pytest

from indexer.analysis import TermKeys
from indexer.codec import NO_DATE
from indexer.segment import SegmentReader, SegmentSet
from indexer.segment_writer import SegmentWriter

FIELDS = ("title", "body")
KEYS = TermKeys()


def keys(text):
    return [KEYS.number(word) for word in text.lower().split()]


def new_writer(fields=FIELDS):
    return SegmentWriter(fields, KEYS.text)


def add(writer, title, body, day=None, source="Báo Ninh Thuận", category=None):
    stored = {"title": title, "body": body}
    return writer.add({"title": keys(title), "body": keys(body)}, stored, day, source, category)


@pytest.fixture
def segment(tmp_path):
    writer = new_writer()
    add(writer, "Tỉnh ủy Ninh Thuận", "sinh hoạt chi bộ chi bộ", datetime(2021, 7, 30, 8, 0))
    add(writer, "Giá lúa tăng", "giá lúa tươi tăng", None, source="Tuổi Trẻ", category="Kinh tế")
    add(writer, "Đảng bộ", "sinh hoạt chi bộ định kỳ", datetime(2020, 1, 2), category="Chính trị")
    writer.write(tmp_path, "s000001")
    return SegmentReader(tmp_path, "s000001")


def test_postings_give_documents_and_frequencies(segment):
    docs, freqs = segment.postings("body", "bộ")
    assert docs.tolist() == [0, 2] and freqs.tolist() == [2, 1]
    assert segment.postings("title", "lúa")[0].tolist() == [1]


def test_absent_terms_and_fields_have_no_postings(segment):
    assert segment.postings("body", "bão").__getitem__(0).size == 0
    assert segment.postings("tags", "bộ")[0].size == 0
    assert segment.postings("body", "")[0].size == 0


def test_lengths_columns_and_stored_fields(segment):
    assert segment.field_lengths("body").tolist() == [6, 4, 6]
    assert segment.stored(1) == {"title": "Giá lúa tăng", "body": "giá lúa tươi tăng"}
    assert segment.dates[1] == NO_DATE
    assert datetime.fromtimestamp(int(segment.dates[0]), timezone.utc) == datetime(2021, 7, 30, 8, 0, tzinfo=timezone.utc)
    assert [segment.sources[i] for i in segment.source_ids] == ["Báo Ninh Thuận", "Tuổi Trẻ", "Báo Ninh Thuận"]
    assert segment.category_ids.tolist() == [-1, 0, 1]


def test_large_gaps_between_documents_are_kept_exactly(tmp_path):
    # Gaps of 1, 254 fit a byte; 255 and 70,000 are written after the term's bytes, in 4
    # bytes since the segment has more than 65,536 documents.
    writer = new_writer(("body",))
    wanted = {0, 1, 255, 510, 70_510}
    for n in range(70_511):
        writer.add({"body": keys("hiếm" if n in wanted else "thường")}, {}, None, None, None)
    writer.write(tmp_path, "s000001")
    reader = SegmentReader(tmp_path, "s000001")
    assert reader.postings("body", "hiếm")[0].tolist() == sorted(wanted)
    assert reader.postings("body", "thường")[0].size == 70_511 - len(wanted)


def test_a_set_of_segments_numbers_documents_in_order_and_masks_deletions(tmp_path):
    for name, bodies in (("s000001", ["lũ quét", "giá lúa"]), ("s000002", ["lũ quét ở Bát Xát"])):
        writer = new_writer(("body",))
        for body in bodies:
            writer.add({"body": keys(body)}, {"body": body}, None, "Tuổi Trẻ", None)
        writer.write(tmp_path, name)
    np.save(tmp_path / "s000001.del-000002.npy", np.array([0], dtype=np.int32))
    segments = SegmentSet(tmp_path, [{"name": "s000001", "deleted": "s000001.del-000002.npy"}, {"name": "s000002", "deleted": None}])
    assert segments.postings("body", "quét")[0].tolist() == [0, 2]
    assert segments.live.tolist() == [False, True, True]
    assert [doc["body"] for _, doc in segments.iter_live()] == ["giá lúa", "lũ quét ở Bát Xát"]
    assert segments.column_mask("source", {"tuoi tre"}).all()


def test_bigram_keys_are_written_as_their_text(tmp_path):
    writer = new_writer(("body",))
    sinh, hoat = KEYS.number("sinh"), KEYS.number("hoat")
    writer.add({"body": [sinh << 32 | hoat]}, {}, None, None, None)
    writer.write(tmp_path, "s000001")
    assert SegmentReader(tmp_path, "s000001").postings("body", "sinh hoat")[0].tolist() == [0]


def test_frequencies_above_255_are_capped_and_all_ones_terms_store_none(tmp_path):
    writer = new_writer(("body",))
    writer.add({"body": keys("lũ " * 300 + "quét")}, {}, None, None, None)
    writer.add({"body": keys("lũ quét")}, {}, None, None, None)
    writer.write(tmp_path, "s000001")
    reader = SegmentReader(tmp_path, "s000001")
    assert reader.postings("body", "lũ")[1].tolist() == [255, 1]
    assert reader.postings("body", "quét")[1].tolist() == [1, 1]
    assert reader.field_lengths("body").tolist() == [301, 2]


def test_gaps_in_a_small_segment_use_two_byte_exceptions(tmp_path):
    writer = new_writer(("body",))
    wanted = [3, 258, 600, 601]  # gaps 255, 342, 1
    for n in range(700):
        writer.add({"body": keys("hiếm" if n in wanted else "thường")}, {}, None, None, None)
    writer.write(tmp_path, "s000001")
    reader = SegmentReader(tmp_path, "s000001")
    assert reader.description["exception_bytes"] == 2
    assert reader.postings("body", "hiếm")[0].tolist() == wanted


def test_small_frequencies_are_read_back_from_half_bytes(tmp_path):
    writer = new_writer(("body",))
    for count in (3, 1, 15, 2, 7):  # an odd number of documents: the last half byte is padding
        writer.add({"body": keys("mưa " * count)}, {}, None, None, None)
    writer.add({"body": keys("nắng " * 16)}, {}, None, None, None)
    writer.write(tmp_path, "s000001")
    reader = SegmentReader(tmp_path, "s000001")
    assert reader.postings("body", "mưa")[1].tolist() == [3, 1, 15, 2, 7]
    assert reader.postings("body", "nắng")[1].tolist() == [16]  # above 15: a whole byte


def test_stored_documents_read_back_before_and_after_the_dictionary_is_made(tmp_path):
    # The first 32 KB of stored documents wait to become the compression dictionary; the rest
    # are compressed with it as they come. Every document must read back the same either way.
    writer = new_writer()
    paragraph = "Chiều 2/12, Ban Thường vụ Tỉnh ủy kiểm tra việc sinh hoạt chi bộ số {n} tại xã Phước Dân. "
    bodies = [paragraph.format(n=n) * (1 + n % 7) for n in range(400)]
    for n, body in enumerate(bodies):
        add(writer, f"Bài {n}", body)
    writer.write(tmp_path, "s000001")
    reader = SegmentReader(tmp_path, "s000001")
    assert (tmp_path / "s000001.zdict").stat().st_size == 32 * 1024
    assert [reader.stored(n)["body"] for n in (0, 7, 8, 199, 399)] == [bodies[n] for n in (0, 7, 8, 199, 399)]
    assert [doc["body"] for doc in reader.iter_stored()] == bodies


def test_a_segment_too_small_for_a_full_dictionary_reads_back(segment):
    assert [doc["title"] for doc in segment.iter_stored()] == ["Tỉnh ủy Ninh Thuận", "Giá lúa tăng", "Đảng bộ"]


@pytest.mark.parametrize("largest_syllable", [900, 2**31 - 1])  # packed sort; too wide to pack
@pytest.mark.parametrize("bigrams", [False, True])
def test_postings_are_ordered_by_key_then_document_however_they_are_sorted(largest_syllable, bigrams):
    from indexer.segment_writer import _sorted_by_key

    rng = np.random.default_rng(7)
    n_docs = 300
    per_doc = [rng.choice(np.arange(1, largest_syllable, largest_syllable // 97), size=20, replace=False) for _ in range(n_docs)]
    keys = np.concatenate(per_doc).astype(np.int64)
    if bigrams:
        keys = keys << 32 | (keys[::-1] & 0xFFFF)
    docs = np.repeat(np.arange(n_docs, dtype=np.int32), 20)
    freqs = rng.integers(1, 256, keys.size).astype(np.uint8)
    order = np.argsort(keys, kind="stable")
    got = _sorted_by_key(keys, docs, freqs, n_docs)
    assert [a.tolist() for a in got] == [keys[order].tolist(), docs[order].tolist(), freqs[order].tolist()]
