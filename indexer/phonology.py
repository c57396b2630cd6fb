"""Vietnamese syllables as written and as searched: tone placement, i/y spelling, folding.

Pure functions on one syllable or one string, memoised (Vietnamese has only a few thousand
distinct syllables), each tested on its own: "hoà" -> "hòa", "kỹ" -> "kĩ", "Đảng" -> "dang".
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from functools import lru_cache

import icu
import numpy as np

TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền sắc ngã hỏi nặng
_VOWELS = set("aăâeêioôơuưy")
_MARKED_VOWELS = set("ăâêôơư")
_FINAL_CONSONANTS = {"", "c", "ch", "m", "n", "ng", "nh", "p", "t"}
INVISIBLE_CHARS = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def _split_syllable(base: str) -> tuple[str, str, str] | None:
    """Split a toneless lowercase syllable into onset, vowel cluster and final consonant.

    Returns None where the word is not shaped like a Vietnamese syllable ("café", "online").
    """
    i = 0
    while i < len(base) and base[i] not in _VOWELS:
        i += 1
    onset_end = i
    # "qu" and "gi" followed by another vowel: the u / i belongs to the onset ("quý", "giữ").
    if base[:i] in ("q", "g") and i + 1 < len(base) and base[i] in "ui" and base[i + 1] in _VOWELS:
        if (base[:i], base[i]) in (("q", "u"), ("g", "i")):
            onset_end = i + 1
    j = onset_end
    while j < len(base) and base[j] in _VOWELS:
        j += 1
    onset, nucleus, final = base[:onset_end], base[onset_end:j], base[j:]
    if not nucleus or final not in _FINAL_CONSONANTS or len(nucleus) > 3:
        return None
    if not all(c.isalpha() for c in onset):
        return None
    return onset, nucleus, final


def _tone_index(nucleus: str, has_final: bool) -> int:
    """Which vowel of the nucleus carries the tone in the traditional placement."""
    if "ươ" in nucleus:
        return nucleus.index("ơ")
    marked = [k for k, c in enumerate(nucleus) if c in _MARKED_VOWELS]
    if marked:
        return marked[-1]
    if has_final or len(nucleus) == 1:
        return len(nucleus) - 1
    if len(nucleus) == 3:
        return 1
    # An open pair takes the tone on its first vowel in the traditional placement: "hòa", "ủy",
    # "khỏe" (the "new" placement writes "hoà", "uỷ", "khoẻ"), as it does in "hài", "mùa", "nghĩa".
    return 0


# The vowel clusters of Vietnamese syllables (after the onset, "qu" and "gi" included there).
_NUCLEI = set(
    "a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua uâ uê ui uô uơ uy "
    "ưa ưi ươ ưu yê iêu oai oao oay oeo uây uôi uya uyê uyu ươi ươu yêu".split()
)


def place_tone(base: str, tone: str) -> str | None:
    """A toneless lowercase syllable with ``tone`` (one of TONE_MARKS, or "" for none) put on
    the vowel that carries it: ("hoa", "\u0300") -> "hòa". None if ``base`` is not shaped like
    a Vietnamese syllable. Used to decode Telex and VNI typing."""
    parts = _split_syllable(base)
    if parts is None or parts[1] not in _NUCLEI:
        return None
    if not tone:
        return base
    onset, nucleus, final = parts
    at = len(onset) + _tone_index(nucleus, bool(final))
    return unicodedata.normalize("NFC", base[: at + 1] + tone + base[at + 1 :])


@lru_cache(maxsize=200_000)
def canonical_tone(syllable: str) -> str:
    """Place the tone mark of a lowercase syllable in one canonical (traditional) position.

    "hoà", "uỷ", "thuỷ", "khoẻ" (the "new" placement) become "hòa", "ủy", "thủy", "khỏe". The
    traditional placement is the canonical one because it is what most text and most keyboard
    defaults produce. Words not shaped like a Vietnamese syllable are returned unchanged.
    """
    decomposed = unicodedata.normalize("NFD", syllable)
    tones = [c for c in decomposed if c in TONE_MARKS]
    if len(tones) != 1:
        return syllable
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    parts = _split_syllable(base)
    if parts is None:
        return syllable
    onset, nucleus, final = parts
    at = len(onset) + _tone_index(nucleus, bool(final))
    placed = base[: at + 1] + tones[0] + base[at + 1 :]
    return unicodedata.normalize("NFC", placed)


@lru_cache(maxsize=200_000)
def canonical_spelling(syllable: str) -> str:
    """Write a final "y" after a consonant as "i", so that kỹ/kĩ, lý/lí, quý/quí, mỹ/mĩ match.

    Both spellings are in use (the 1984 and 2018 school rules differ); a lone "y" ("ý kiến")
    and "y" in a vowel pair ("tay", "thủy") are left alone.
    """
    decomposed = unicodedata.normalize("NFD", syllable)
    base = "".join(c for c in decomposed if c not in TONE_MARKS)
    if len(base) < 2 or not base.endswith("y"):
        return syllable
    parts = _split_syllable(unicodedata.normalize("NFC", base))
    if parts is None or parts[1] != "y" or not parts[0]:
        return syllable
    return unicodedata.normalize("NFC", decomposed.replace("y", "i"))


class _IcuTransliterator:
    """A picklable, thread-safe holder for an ICU transliterator.

    ICU objects cannot be pickled, and ICU does not promise that one transliterator may be used
    by several threads at once: each thread gets its own, made on first use.
    """

    def __init__(self, rules: str) -> None:
        self.rules = rules
        self._local = threading.local()

    def __call__(self, text: str) -> str:
        instance = getattr(self._local, "instance", None)
        if instance is None:
            instance = self._local.instance = icu.Transliterator.createInstance(self.rules)
        return instance.transliterate(text)

    def __getstate__(self) -> dict:
        return {"rules": self.rules}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["rules"])


# Latin-ASCII after mark removal is what turns "đ" into "d": removing marks alone keeps "đ".
_fold_transliterator = _IcuTransliterator("NFD; [:Nonspacing Mark:] Remove; NFC; Latin-ASCII")


@lru_cache(maxsize=200_000)
def fold_diacritics(text: str) -> str:
    """Remove every diacritic and write "đ" as "d": "Đảng bộ" -> "Dang bo"."""
    if text.isascii():
        return text
    return _fold_transliterator(text)


def _folding_table() -> dict[int, str]:
    # Built from fold_diacritics (ICU); characters it folds to several ("æ", "…") are left
    # alone, so that the folded text keeps every offset.
    table = {code: chr(code).lower() for code in range(ord("A"), ord("Z") + 1)}
    for code in list(range(0xC0, 0x250)) + list(range(0x1E00, 0x1F00)):
        folded = fold_diacritics(chr(code)).lower()
        if len(folded) == 1 and folded != chr(code):
            table[code] = folded
    return table


_FOLD_ONE_FOR_ONE: dict[int, str] = {}
_FOLD_CODES: list[np.ndarray] = []  # the same table as an array indexed by code point


def fold_keeping_offsets(text: str) -> str:
    """Lowercase and remove diacritics one character for one ("Đảng" -> "dang"): offsets in
    the result are offsets in ``text``. For finding where folded terms stand in a text.

    As a table lookup over the text's code points (UTF-32) in NumPy: the same result as
    ``str.translate`` with the table (``fold_keeping_offsets_reference``), about 7× faster on a
    news article, which matters because every snippet folds its article."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # a lone surrogate too
    return fold_code_points(codes).astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


def fold_code_points(codes: np.ndarray) -> np.ndarray:
    """``fold_keeping_offsets`` of a text given as its code points (uint32), as code points."""
    table = folding_code_table()
    inside = codes < table.size
    return np.where(inside, table[np.where(inside, codes, 0)], codes)


def folding_code_table() -> np.ndarray:
    """The folding of ``fold_keeping_offsets`` as an array indexed by code point (uint32):
    code points past its end fold to themselves."""
    if not _FOLD_CODES:
        table = _folding_table()
        folding = np.arange(max(table) + 1, dtype=np.uint32)
        folding[list(table)] = [ord(folded) for folded in table.values()]
        _FOLD_CODES.append(folding)
    return _FOLD_CODES[0]


def fold_keeping_offsets_reference(text: str) -> str:
    """What ``fold_keeping_offsets`` computes, with ``str.translate``: the oracle of its tests."""
    if not _FOLD_ONE_FOR_ONE:
        _FOLD_ONE_FOR_ONE.update(_folding_table())
    return text.translate(_FOLD_ONE_FOR_ONE)


def metadata_key(value: str) -> str:
    """How source and category values are compared: "Dân  Trí" and "dan tri" are one key."""
    return fold_diacritics(" ".join(value.split()).lower())


def normalize_term(word: str) -> str:
    """A word as the index stores it: lowercase, canonical tone placement, i for final y."""
    return canonical_spelling(canonical_tone(word.lower()))


# The letters a letter typed without diacritics may stand for.
_MARKED_FORMS = {"a": "aăâ", "e": "eê", "o": "oôơ", "u": "uư", "d": "dđ"}
# A folded word with more spellings than this is not a Vietnamese syllable (none has more
# than a few dozen): it stands for itself.
MAX_WRITTEN_FORMS = 512


@lru_cache(maxsize=8192)
def written_forms(folded: str) -> tuple[str, ...]:
    """Every way the index's exact family may write a syllable whose letters without
    diacritics are ``folded`` (lowercase): "tang" -> "tang", "táng", "tăng", "tầng", "tặng",
    ...; "ky" -> "ki", "kì", "kí", "kĩ", ...; "lak" -> "lắk" (canonical tone placement and
    i/y where the word is shaped like a syllable, as ``normalize_term`` writes them; a tone on
    any vowel of a word that is not, such as "Đắk Lắk"). Used to find a phrase typed without
    diacritics among the positions, which only the exact family keeps. Includes ``folded``."""
    choices = [_MARKED_FORMS.get(c, c) for c in folded]
    vowels = [i for i, c in enumerate(folded) if c in _VOWELS]
    combinations = len(vowels) * len(TONE_MARKS) + 1
    for letters in choices:
        combinations *= len(letters)
    if combinations > MAX_WRITTEN_FORMS:
        return (folded,)
    forms = {folded}
    for letters in itertools.product(*choices):
        base = "".join(letters)
        forms.add(normalize_term(base))
        for i in vowels:
            for tone in TONE_MARKS:
                forms.add(normalize_term(unicodedata.normalize("NFC", base[: i + 1] + tone + base[i + 1 :])))
    return tuple(sorted(forms))
