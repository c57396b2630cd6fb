"""The Vietnamese analysis pipeline, step by step, with golden examples."""

import pickle

import pytest

from indexer.analysis import (
    VietnameseTokenizer,
    analyze,
    canonical_spelling,
    canonical_tone,
    exact_analyzer,
    fold_diacritics,
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
