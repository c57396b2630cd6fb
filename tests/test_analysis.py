"""The Vietnamese analysis pipeline, step by step, with golden examples."""

import pickle

import pytest

from indexer.phonology import fold_keeping_offsets_reference
from tests.conftest import CORPUS

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.analysis import (
    VietnameseTokenizer,
    analyze,
    batch_terms,
    gaps_and_syllables,
    canonical_spelling,
    canonical_tone,
    document_terms,
    exact_analyzer,
    fold_diacritics,
    fold_keeping_offsets,
    folded_analyzer,
    folded_bigram_analyzer,
    normalize_term,
)


def raw(text):
    return [(t.text, t.pos, t.compound) for t in VietnameseTokenizer().raw_tokens(text)]


class TestTokenizer:
    def test_icu_breaks_vietnamese_into_syllables_with_offsets(self):
        text = "Tỉnh uỷ tổ chức hội nghị"
        tokens = VietnameseTokenizer().raw_tokens(text)
        assert [t.text for t in tokens] == ["Tỉnh", "uỷ", "tổ", "chức", "hội", "nghị"]
        assert all(text[t.startchar : t.endchar] == t.text for t in tokens)
        assert [t.pos for t in tokens] == [0, 1, 2, 3, 4, 5]

    def test_numbers_stay_whole(self):
        assert [t for t, _, _ in raw("trên 4.400 đại biểu, tăng 2,5 lần")] == ["trên", "4.400", "đại", "biểu", "tăng", "2,5", "lần"]

    def test_document_codes_are_kept_whole_and_as_parts(self):
        assert raw("Quy định số 24-QĐ/TW") == [
            ("Quy", 0, False), ("định", 1, False), ("số", 2, False),
            ("24-QĐ/TW", 3, True), ("24", 3, False), ("QĐ", 4, False), ("TW", 5, False),
        ]
        assert ("47-CT/TU", 0, True) in raw("47-CT/TU")
        assert ("NĐ-CP", 0, True) in raw("NĐ-CP")

    def test_dotted_abbreviation_is_whole_and_split(self):
        assert [t for t, _, _ in raw("TP.HCM")] == ["TP.HCM", "TP", "HCM"]

    def test_punctuation_and_emoji_make_no_tokens(self):
        assert raw("— !!! 🙂 …") == []

    def test_offsets_are_right_after_emoji(self):
        # ICU counts UTF-16 units, Python code points: an emoji shifts them apart.
        text = "🎉🎉 Tỉnh uỷ 😀 hoà giải"
        tokens = VietnameseTokenizer().raw_tokens(text)
        assert [text[t.startchar : t.endchar] for t in tokens] == ["Tỉnh", "uỷ", "hoà", "giải"]

    def test_decomposed_input_gives_composed_tokens(self):
        nfd = "Ho\u0300a Bi\u0300nh"
        assert [t.text for t in VietnameseTokenizer().raw_tokens(nfd)] == ["Hòa", "Bình"]

    def test_tokenizer_pickles_without_its_icu_objects(self):
        analyzer = folded_bigram_analyzer()
        analyze("Đảng bộ", analyzer)  # creates the ICU break iterator
        assert analyze("Đảng bộ tỉnh", pickle.loads(pickle.dumps(analyzer))) == ["dang bo", "bo tinh"]


class TestToneMarks:
    @pytest.mark.parametrize(
        "written, canonical",
        [("hoà", "hòa"), ("uỷ", "ủy"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("hoá", "hóa"),
         ("tuỳ", "tùy"), ("loà", "lòa")],
    )
    def test_both_tone_styles_have_one_form(self, written, canonical):
        assert canonical_tone(written) == canonical
        assert canonical_tone(canonical) == canonical

    @pytest.mark.parametrize(
        "word",
        ["hoàng", "người", "nghĩa", "của", "quý", "giữ", "gì", "thuở", "khuỷu", "xoáy", "huỳnh", "chuyển", "tiếng"],
    )
    def test_syllables_with_one_possible_placement_are_unchanged(self, word):
        assert canonical_tone(word) == word

    def test_non_vietnamese_words_are_left_alone(self):
        assert canonical_tone("café") == "café"


class TestSpellingVariants:
    @pytest.mark.parametrize("y_form, i_form", [("kỹ", "kĩ"), ("lý", "lí"), ("quý", "quí"), ("mỹ", "mĩ"), ("hy", "hi")])
    def test_i_and_y_after_a_consonant_match(self, y_form, i_form):
        assert canonical_spelling(y_form) == canonical_spelling(i_form) == i_form

    @pytest.mark.parametrize("word", ["ý", "tay", "thủy", "yêu", "khuya"])
    def test_y_that_is_not_a_variant_stays(self, word):
        assert canonical_spelling(word) == word


class TestFolding:
    def test_diacritics_removed_and_d_bar_folds_to_d(self):
        assert fold_diacritics("Đặng Xuân Phong, Ủy viên") == "Dang Xuan Phong, Uy vien"

    def test_ascii_is_unchanged(self):
        assert fold_diacritics("sinh hoat chi bo") == "sinh hoat chi bo"

    def test_folding_for_search_in_text_keeps_every_offset(self):
        text = "Đảng bộ Tỉnh uỷ… “Hoà bình”"
        folded = fold_keeping_offsets(text)
        assert folded == "dang bo tinh uy… “hoa binh”" and len(folded) == len(text)

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=60)
           | st.text(alphabet="ĐđẢảỦủỷỳÀàÁáƠơƯưÂâĂăÊêÔôÝýhoaHOA .,\n😀", max_size=60))
    def test_folding_by_table_lookup_is_str_translate_with_the_table(self, text):
        assert fold_keeping_offsets(text) == fold_keeping_offsets_reference(text)


class TestAnalyzers:
    def test_exact_analyzer_canonicalises_case_tone_and_spelling(self):
        assert analyze("Tỉnh Uỷ Kỹ thuật", exact_analyzer()) == ["tỉnh", "ủy", "kĩ", "thuật"]

    def test_old_and_new_tone_style_analyse_alike(self):
        assert analyze("Tỉnh uỷ hoà giải", exact_analyzer()) == analyze("Tỉnh ủy hòa giải", exact_analyzer())

    def test_folded_analyzer(self):
        assert analyze("Sinh hoạt chi bộ Đảng", folded_analyzer()) == ["sinh", "hoat", "chi", "bo", "dang"]

    def test_bigrams_stop_at_punctuation(self):
        assert analyze("Hà Nội, Huế", folded_bigram_analyzer()) == ["ha noi"]

    def test_bigrams_join_abbreviation_parts(self):
        assert "tp hcm" in analyze("tại TP.HCM", folded_bigram_analyzer())
        assert "tp hcm" in analyze("tại TP HCM", folded_bigram_analyzer())

    def test_normalize_term(self):
        assert normalize_term("THUỶ") == "thủy"


class TestDocumentTerms:
    """The indexer's one-pass analysis must give exactly what the three analyzers give."""

    @pytest.mark.parametrize(
        "text",
        [
            (CORPUS / "000_88a30b64d4879a10.txt").read_text(encoding="utf-8"),
            "Theo Quyết định 24-QĐ/TW, Tỉnh uỷ TP.HCM và Tỉnh ủy Hoà Bình… 4.400 đảng viên (2,5%).",
            "Kỹ sư   Lý\u00a0Quý 🎉 ở Mỹ/NĐ-CP — Covid-19; 30/7/2021.",
            "",
        ],
    )
    def test_same_terms_as_the_analyzers(self, text):
        terms = document_terms(text)
        exact, folded, bigrams = terms.texts(0), terms.texts(1), terms.texts(2)
        assert sorted(exact) == sorted(analyze(text, exact_analyzer()))
        assert sorted(folded) == sorted(analyze(text, folded_analyzer()))
        assert sorted(bigrams) == sorted(analyze(text, folded_bigram_analyzer()))

    def test_all_shipped_pages(self):
        for page in sorted(CORPUS.glob("*.txt")):
            text = page.read_text(encoding="utf-8")
            assert sorted(document_terms(text).texts(2)) == sorted(analyze(text, folded_bigram_analyzer())), page.name

    def test_prefix_counts_the_terms_of_the_opening(self):
        text = "Tỉnh uỷ Ninh Thuận họp.\nSinh hoạt chi bộ"
        terms = document_terms(text, prefix_chars=text.index("\n"))
        n_exact, n_folded, n_bigrams = terms.prefix
        assert terms.texts(0)[:n_exact] == ["tỉnh", "ủy", "ninh", "thuận", "họp"]
        assert terms.texts(2)[:n_bigrams] == ["tinh uy", "uy ninh", "ninh thuan", "thuan hop"]


    def test_a_batch_gives_each_text_the_terms_it_has_alone(self):
        texts = [
            "Tỉnh uỷ Ninh Thuận họp.\nSinh hoạt chi bộ",
            "",
            "Theo Quyết định 24-QĐ/TW, TP.HCM có 4.400 đảng viên.",
            "🎉 Covid-19 ở Mỹ/NĐ-CP",
            "Giá lúa tăng",
        ]
        openings = [text.find("\n") for text in texts]
        batch = batch_terms(texts, openings)
        for i, text in enumerate(texts):
            alone = document_terms(text, prefix_chars=max(openings[i], 0))
            for family, keys in zip(batch, alone[:3]):
                assert family.per_text(len(texts))[i].tolist() == keys.tolist(), text
            assert tuple(int(family.in_prefix[family.docs == i].sum()) for family in batch) == alone.prefix


# Text made only of what the pattern path accepts: letters with and without diacritics,
# digits, white space and the punctuation around words, weighted toward the characters that
# join words ("." "," ";" "'" "’") so that numbers, codes and abbreviations come up often.
_PLAIN_TEXT = st.text(
    alphabet=st.sampled_from(list("aAbđĐơƯễỷhoàquýTPHCM0123456789 .,;'’‘.-/:!?()\"“”…–\n\t\u00a0")),
    max_size=40,
)


class TestSyllablesByPattern:
    """``gaps_and_syllables`` finds ICU's syllables with one regular expression where the
    text allows it; it must agree with ICU exactly."""

    def icu(self, text):
        gaps, words, prev_end = [], [], 0
        for word, start, end in VietnameseTokenizer().syllables(text):
            gaps.append(text[prev_end:start])
            words.append(word)
            prev_end = end
        return gaps, words

    @settings(max_examples=3000, deadline=None)
    @given(_PLAIN_TEXT)
    def test_agrees_with_icu_on_any_plain_text(self, text):
        assert gaps_and_syllables(text) == self.icu(text)

    @pytest.mark.parametrize(
        "text",
        [
            "Theo Quyết định 24-QĐ/TW, TP.HCM có 4.400 đảng viên (2,5%); don't 1;2 a.1 1.a a1.2b",
            "Email ubnd@ninhthuan.gov.vn, biến x_y, 中文 và 🎉, chữ cái kết hợp: hoa\u0300",
        ],
    )
    def test_agrees_with_icu_on_codes_numbers_and_text_it_leaves_to_icu(self, text):
        assert gaps_and_syllables(text) == self.icu(text)

    def test_all_shipped_pages(self):
        for page in sorted(CORPUS.glob("*.txt")):
            text = page.read_text(encoding="utf-8")
            assert gaps_and_syllables(text) == self.icu(text), page.name
