"""Quoted phrases are exact: positions in the index say where each syllable stands.

A phrase matches an article only where its syllables stand together, in the order typed, in
one field (title or body). Typed with diacritics, each syllable matches its typed form up to
tone placement ("hoà"/"hòa") and i/y spelling ("kỹ"/"kĩ"); typed without any, every form with
the same letters. Punctuation between two syllables keeps them apart, as it keeps them out of
one bigram. The oracle of the last tests is the analyzer itself: each article's syllables
found by ``exact_analyzer`` and the phrase looked for by hand.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from indexer import build_index
from indexer.analysis import exact_analyzer, fold_diacritics
from indexer.codec import BREAK_STEP
from search import Index
from search.abbreviations import default_abbreviations
from search.engine import Phrase, phrase_documents
from search.rank import query_syllables
from tests.conftest import SHARED, ids, requires_shared, write_page

ARTICLES = {
    # vntc-train-KD-VNE-484, abridged: the words of the phrase, not the phrase.
    "xang-dau-dao": ("Thị trường xăng dầu biến động", "Xăng dầu tăng giá. Giá xăng dầu tăng mạnh trong tuần qua."),
    "xang-dau": ("Bộ Tài chính cho tăng giá xăng dầu", "Từ 15 giờ hôm nay, các doanh nghiệp được tăng giá xăng dầu thêm 500 đồng mỗi lít."),
    "hai-ten": ("Hai ông Nguyễn Văn Giao và Phạm Văn An được khen thưởng", "Ông Nguyễn Văn Giao, ông Phạm Văn An nhận bằng khen."),
    "ten-dung": ("Ông Nguyễn Văn An nghỉ hưu", "Sau 35 năm công tác, ông Nguyễn Văn An nghỉ hưu."),
    "dau-phay": ("Tuyến bay Hà Nội, Huế mở lại", "Hãng mở lại đường bay Hà Nội, Huế từ tháng sau."),
    "lien-mach": ("Chuyến tàu Hà Nội Huế đông khách", "Tàu Hà Nội Huế chạy thêm chuyến dịp Tết."),
    "hai-truong": ("Giá xăng", "dầu thô giảm mạnh trên thị trường thế giới."),
    "cach-cu": ("Hoà bình và kỹ thuật", "Hội thảo về hoà bình khu vực và kỹ thuật cao."),
    "cach-moi": ("Hòa bình, kĩ thuật", "Các nhà khoa học bàn về hòa bình và kĩ thuật số."),
    "van-ban": ("Thực hiện Quy định 24-QĐ/TW", "Tỉnh ủy quán triệt Quy định 24-QĐ/TW của Bộ Chính trị."),
    "tang-gia": ("Tầng giá đỡ xăng dầu", "Tầng giá xăng dầu mới được thiết lập trong kho."),
}


@pytest.fixture(scope="module")
def news(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name, (title, body) in ARTICLES.items():
        write_page(src, f"{name}.txt", f"{title}\n\n{body}\n")
    build_index([src], src.parent / "ix")
    with Index.open(src.parent / "ix") as index:
        yield index


def matched(index, query: str) -> set[str]:
    return set(ids(index.search(query, limit=100)))


def test_a_phrase_matches_only_where_its_syllables_stand_together_in_order(news):
    assert matched(news, '"tăng giá xăng dầu"') == {"xang-dau"}
    assert matched(news, '"Nguyễn Văn An"') == {"ten-dung"}


def test_punctuation_between_syllables_breaks_a_phrase(news):
    assert matched(news, '"Hà Nội Huế"') == {"lien-mach"}
    assert matched(news, '"Hà Nội, Huế"') == {"dau-phay"}


def test_a_phrase_stands_in_one_field(news):
    # "Giá xăng" ends a title, "dầu thô" starts the body: not "xăng dầu".
    assert "hai-truong" not in matched(news, '"giá xăng dầu"')
    assert matched(news, 'title:"giá xăng"') == {"hai-truong", "xang-dau"}


def test_typed_diacritics_match_their_own_forms_in_either_tone_placement_and_i_y_spelling(news):
    assert matched(news, '"hòa bình"') == {"cach-cu", "cach-moi"}
    assert matched(news, '"hoà bình"') == {"cach-cu", "cach-moi"}
    assert matched(news, '"kỹ thuật"') == {"cach-cu", "cach-moi"}
    # "tầng giá" is not "tăng giá" once diacritics are typed ...
    assert "tang-gia" not in matched(news, '"tăng giá xăng dầu"')


def test_a_phrase_typed_without_diacritics_matches_every_form_of_its_letters(news):
    # ... and is, when they are not.
    assert matched(news, '"tang gia xang dau"') == {"xang-dau", "tang-gia"}
    assert matched(news, '"nguyen van an"') == {"ten-dung"}
    assert matched(news, '"hoa binh"') == {"cach-cu", "cach-moi"}


def test_a_code_in_a_phrase_matches_by_its_parts(news):
    assert matched(news, '"Quy định 24-QĐ/TW"') == {"van-ban"}
    assert matched(news, '"quy dinh 24-qd/tw"') == {"van-ban"}


def test_an_excluded_phrase_excludes_only_where_it_stands(news):
    assert matched(news, 'xăng dầu -"tăng giá xăng dầu"') == {"xang-dau-dao", "hai-truong", "tang-gia"}


def test_the_compiled_positions_read_as_their_reference_does(news):
    reader = _first_reader(news)
    docs = np.arange(reader.docs)
    for text in ("xăng", "dầu", "giá", "nội", "văn"):
        for field in ("title", "body"):
            compiled = reader.positions(field, text, docs)
            reference = reader.positions(field, text, docs, reference=True)
            assert [a.tolist() for a in compiled] == [a.tolist() for a in reference], (field, text)


def _first_reader(index):
    return index._engine.segments.readers[0]


# -- against the analyzer, on real articles -------------------------------------------------------

_ANALYZER = exact_analyzer()


def _standing(text: str) -> dict[int, set[str]]:
    """The exact forms standing at each position of a text, as the analyzer finds them."""
    out: dict[int, set[str]] = {}
    position = -1
    for token in _ANALYZER(text, positions=True, chars=True):
        if token.compound:
            continue
        position += 1 if position >= 0 and token.joined else (BREAK_STEP if position >= 0 else 1)
        out.setdefault(position, set()).add(token.text)
    return out


def _contains(where: dict[int, set[str]], slots: list[set[str]], offsets: list[int]) -> bool:
    return any(all(where.get(p + o, set()) & slot for slot, o in zip(slots, offsets)) for p in where if where[p] & slots[0])


def _oracle(texts: list[tuple[list, list]], phrase: str, accented: bool) -> set[int]:
    """The documents (by number) where the phrase stands, per ``_standing`` of each field."""
    syllables = [s for s in query_syllables(phrase) if not s.compound]
    offsets = [0]
    for s in syllables[1:]:
        offsets.append(offsets[-1] + (1 if s.joined else BREAK_STEP))
    out = set()
    for doc, fields in enumerate(texts):
        for standing in fields:
            if accented:
                slots = [{s.exact} for s in syllables]
            else:
                forms = set().union(*standing.values())
                slots = [{f for f in forms if fold_diacritics(f) == s.folded} for s in syllables]
            if _contains(standing, slots, offsets):
                out.add(doc)
                break
    return out


@requires_shared
@pytest.mark.realdata
def test_phrases_match_exactly_the_articles_that_contain_them(tmp_path):
    """300 VNTC articles; 120 phrases cut from their own text (2 to 5 syllables, half typed
    without diacritics): the index's matches are exactly the articles the analyzer finds the
    phrase in (or an abbreviation's other form), by hand."""
    import gzip
    import json

    corpus = SHARED / "corpus" / "vntc.jsonl.gz"
    rows = []
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) == 300:
                break
    source = tmp_path / "vntc.jsonl"
    source.write_text("".join(json.dumps({k: r[k] for k in ("id", "title", "body")}, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    build_index([source], tmp_path / "ix")
    rng = random.Random(7)
    abbreviations = default_abbreviations()
    with Index.open(tmp_path / "ix") as index:
        # The text as indexed: cleaned of entities and "related articles" tails.
        stored = [document for _, document in index._engine.segments.iter_live()]
        order = {document["id"]: n for n, document in enumerate(stored)}
        texts = [(document["title"], document["body"]) for document in stored]
        analysed = [(_standing(title), _standing(body)) for title, body in texts]
        for k in range(120):
            words = texts[rng.randrange(len(texts))][1].split()
            n = rng.randint(2, 5)
            start = rng.randrange(max(1, len(words) - n))
            phrase = " ".join(words[start : start + n])
            accented = k % 2 == 0
            typed = (phrase if accented else fold_diacritics(phrase)).replace('"', " ")  # a quote would end the phrase
            if not any(c.isalnum() for c in typed) or len([s for s in query_syllables(typed) if not s.compound]) < 2:
                continue
            got = {order[h.id] for h in index.search(f'"{typed}"', limit=300, collapse=False)}
            # An abbreviation in it may be written the other way ("GD-ĐT": "Giáo dục và Đào tạo").
            forms = [typed] + abbreviations.rewritings(typed)
            expected = set().union(*(_oracle(analysed, form, fold_diacritics(form) != form) for form in forms))
            assert got == expected, typed


def test_phrase_documents_compiled_and_reference_agree(news):
    reader = _first_reader(news)
    docs = np.arange(reader.docs)
    phrase = Phrase("body", (("xăng",), ("dầu",)), (0, 1))
    assert phrase_documents(reader, phrase, docs).tolist() == phrase_documents(reader, phrase, docs, reference=True).tolist()
