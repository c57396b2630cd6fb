"""The Vietnamese analysis pipeline.

Text is analysed by small named steps joined with ``|``, Whoosh style::

    VietnameseTokenizer()          # ICU word break -> syllables, plus whole codes "24-qđ/tw"
    | LowercaseFilter()            # "Tỉnh" -> "tỉnh"
    | ToneMarkFilter()             # one tone placement: "uỷ" -> "ủy", "hoà" -> "hòa"
    | SpellingVariantFilter()      # i/y after a consonant: "kỹ" -> "kĩ", "lý" -> "lí"
    | FoldDiacriticsFilter()       # optional: "đảng" -> "dang"
    | SyllableBigramFilter()       # optional: "sinh hoạt chi bộ" -> "sinh hoạt", "hoạt chi", ...

Every step keeps ``pos``, ``startchar`` and ``endchar`` of the original text, so hits can be
highlighted in the text as it was written.

Per-syllable transforms are memoised: Vietnamese has only a few thousand distinct syllables, so
after the first documents nearly every lookup is a dictionary hit.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
import zlib
from array import array
from functools import lru_cache
from typing import Iterator, NamedTuple, Sequence

import icu
import numpy as np
from whoosh.analysis import Filter, LowercaseFilter, Token, Tokenizer

from indexer.lru import LRUCache

# Bump whenever the tokens produced for a text, or the indexed fields, change: indexes record
# it and refuse to open under another version, since their terms would no longer match.
ANALYZER_VERSION = "vi-5"

# --------------------------------------------------------------------------------------------
# Syllable-level transforms (pure functions, memoised, tested on their own)
# --------------------------------------------------------------------------------------------

TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền sắc ngã hỏi nặng
_VOWELS = set("aăâeêioôơuưy")
_MARKED_VOWELS = set("ăâêôơư")
_FINAL_CONSONANTS = {"", "c", "ch", "m", "n", "ng", "nh", "p", "t"}
_INVISIBLE_CHARS = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


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


def fold_keeping_offsets(text: str) -> str:
    """Lowercase and remove diacritics one character for one ("Đảng" -> "dang"): offsets in
    the result are offsets in ``text``. For finding where folded terms stand in a text."""
    if not _FOLD_ONE_FOR_ONE:
        _FOLD_ONE_FOR_ONE.update(_folding_table())
    return text.translate(_FOLD_ONE_FOR_ONE)


def metadata_key(value: str) -> str:
    """How source and category values are compared: "Dân  Trí" and "dan tri" are one key."""
    return fold_diacritics(" ".join(value.split()).lower())


def normalize_term(word: str) -> str:
    """A word as the index stores it: lowercase, canonical tone placement, i for final y."""
    return canonical_spelling(canonical_tone(word.lower()))


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------


class RawToken(NamedTuple):
    """One token found in a text, before any filter."""

    text: str
    pos: int
    startchar: int
    endchar: int
    compound: bool  # a whole code or number that spans several syllables ("24-QĐ/TW")
    joined: bool  # only white space separates it from the previous syllable


# Codes such as "24-QĐ/TW", "47-CT/TU", "NĐ-CP", "Covid-19", dates "30/7/2021": word characters
# joined by - / . with no space. Kept whole besides their parts, so they are "searched as
# written".
_CODE = re.compile(r"(?<![\w./-])[^\W_]+(?:[-/.][^\W_]+)+(?![\w]|[-/.][^\W_])")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")


def _looks_like_code(span: str) -> bool:
    if _NUMBER.match(span):
        return False  # "4.400" is already one ICU token
    return any(c.isdigit() or c.isupper() for c in span)


class VietnameseTokenizer(Tokenizer):
    """ICU word breaking at syllable level, with codes and dotted abbreviations also kept whole.

    "Quy định số 24-QĐ/TW" -> "Quy" "định" "số" "24-QĐ/TW" "24" "QĐ" "TW";
    "TP.HCM" -> "TP.HCM" "TP" "HCM" (so "TP HCM" finds it too); "4.400" stays one token.
    """

    _CACHE_SIZE = 64

    def __init__(self) -> None:
        # A BreakIterator holds the text it is walking: shared by threads, one thread's setText
        # moves another's iteration (measured: 113 of 160 concurrent searches came back wrong).
        # So each thread has its own, made on first use.
        self._local = threading.local()
        self._cache: LRUCache[list[RawToken]] = LRUCache(self._CACHE_SIZE)

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def raw_tokens(self, text: str) -> list[RawToken]:
        """All tokens of ``text`` (memoised: every field of a document analyses the same text)."""
        return self._cache.get_or_compute(text, lambda: self._tokenize(text))

    def syllables(self, text: str) -> list[tuple[str, int, int]]:
        """(syllable, start, end) of every ICU word in ``text``, dotted abbreviations split."""
        breaker = getattr(self._local, "breaker", None)
        if breaker is None:
            breaker = self._local.breaker = icu.BreakIterator.createWordInstance(icu.Locale("vi"))
        breaker.setText(text)
        rule_status = breaker.getRuleStatus
        # ICU counts UTF-16 code units; Python counts code points. They differ after any
        # character outside the BMP (emoji, rare CJK), so map the offsets back then.
        to_python = _utf16_to_python(text) if _ASTRAL.search(text) else None
        syllables: list[tuple[str, int, int]] = []
        append = syllables.append
        start = breaker.first()
        # One loop, no generator: this runs for every word of every query, snippet and
        # indexed text that the pattern of ``gaps_and_syllables`` leaves to ICU.
        for end in breaker:
            # Rule status 0 is space and punctuation; letters and numbers are >= 100.
            if rule_status() < 100:
                start = end
                continue
            if to_python is None:
                word_start, word_end = start, end
            else:
                word_start, word_end = to_python[start], to_python[end]
            start = end
            word = text[word_start:word_end]
            # ICU keeps "TP.HCM" whole (MidLetter rule): split it into syllables; the whole form
            # comes back as a code below. Numbers like "4.400" stay whole.
            if "." in word and not _NUMBER.match(word):
                offset = word_start
                for part in word.split("."):
                    if part:
                        append((part, offset, offset + len(part)))
                    offset += len(part) + 1
            else:
                append((word, word_start, word_end))
        return syllables

    def _tokenize(self, text: str) -> list[RawToken]:
        tokens: list[RawToken] = []
        codes = codes_in(text)
        pos = -1
        prev_end = 0
        for word, start, end in self.syllables(text):
            joined = pos >= 0 and _joins(text, prev_end, start)
            pos += 1
            code = codes.get(start)
            if code is not None and code.end() > end:
                tokens.append(RawToken(_clean_token(code.group()), pos, start, code.end(), True, joined))
            tokens.append(RawToken(_clean_token(word), pos, start, end, False, joined))
            prev_end = end
        return tokens

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            token.pos = start_pos
            token.startchar, token.endchar = start_char, start_char + len(value)
            token.compound = False
            token.joined = False
            yield token
            return
        for raw in self.raw_tokens(value):
            token.text = raw.text
            if keeporiginal:
                token.original = raw.text
            token.boost = 1.0
            token.stopped = False
            token.pos = start_pos + raw.pos
            token.startchar = start_char + raw.startchar
            token.endchar = start_char + raw.endchar
            token.compound = raw.compound
            token.joined = raw.joined
            yield token


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def _utf16_to_python(text: str) -> list[int]:
    """For each UTF-16 offset into ``text``, the Python string index it corresponds to."""
    out = []
    for i, c in enumerate(text):
        out.append(i)
        if ord(c) > 0xFFFF:
            out.append(i)  # the second half of a surrogate pair
    out.append(len(text))
    return out


def codes_in(text: str) -> dict[int, re.Match]:
    """Codes and dotted abbreviations in ``text`` by start offset ("24-QĐ/TW", "TP.HCM")."""
    codes: dict[int, re.Match] = {}
    done = 0
    # _CODE is costly to try at every word of an article; codes are rare, so find the places
    # where a separator stands between two word characters first and try _CODE only on the
    # run of non-space text around each.
    for hint in _CODE_HINT.finditer(text):
        at = hint.start()  # the separator
        if at < done or at == 0 or not text[at - 1].isalnum():
            continue
        start = max(text.rfind(" ", 0, at), text.rfind("\n", 0, at), text.rfind("\t", 0, at)) + 1
        space = _SPACE.search(text, at)
        done = space.start() if space else len(text)
        for m in _CODE.finditer(text, start, done):
            if _looks_like_code(m.group()):
                codes[m.start()] = m
    return codes


# A separator followed by a letter or digit; the character before it is checked in Python:
# a pattern that starts with a plain character set is several times faster to scan for.
_CODE_HINT = re.compile(r"[-/.][^\W_]")
_SPACE = re.compile(r"\s")


def _joins(text: str, prev_end: int, start: int) -> bool:
    """Only white space (or the . - / inside a code) between two syllables: they are neighbours."""
    return _JOINING[text[prev_end:start]]


class _JoiningGaps(dict):
    """gap -> does it join the syllables around it? Memoised: a handful of gaps (" ", ", ",
    ". ", "\n") are nearly all there are."""

    def __missing__(self, gap: str) -> bool:
        if len(self) >= 10_000:
            self.clear()
        joins = self[gap] = gap in _JOINERS or gap.isspace()
        return joins


# One character between syllables: white space joins them, and so do the separators of a code.
_JOINERS = frozenset(c for c in map(chr, range(0x3001)) if c.isspace()) | {".", "-", "/"}
_JOINING = _JoiningGaps()


def _clean_token(word: str) -> str:
    """Offset-safe clean-up of one token: NFC, invisible characters dropped.

    The document text is cleaned before indexing (indexer.clean), but the analyzer also sees
    queries and third-party text, so it does not rely on that.
    """
    if word.isascii():
        return word
    if _INVISIBLE_CHARS.search(word):
        word = _INVISIBLE_CHARS.sub("", word)
    return word if unicodedata.is_normalized("NFC", word) else unicodedata.normalize("NFC", word)


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


class ToneMarkFilter(Filter):
    """"uỷ" -> "ủy", "hoà" -> "hòa": one tone placement, so both writing styles match."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            if not t.text.isascii():
                t.text = canonical_tone(t.text)
            yield t


class SpellingVariantFilter(Filter):
    """"kỹ" -> "kĩ", "lý" -> "lí", "Mỹ" -> "mĩ": the i/y spelling variants match."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            if t.text.endswith(("y", "ý", "ỳ", "ỷ", "ỹ", "ỵ")):
                t.text = canonical_spelling(t.text)
            yield t


class FoldDiacriticsFilter(Filter):
    """"đảng viên" -> "dang vien": for people who type without diacritics."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            t.text = fold_diacritics(t.text)
            yield t


class SyllableBigramFilter(Filter):
    """Adjacent syllables as one term: "sinh hoạt chi bộ" -> "sinh hoạt", "hoạt chi", "chi bộ".

    Vietnamese words are several syllables; a bigram term is matched only where the syllables
    stand together, which ranks "sinh hoạt chi bộ" above the same syllables scattered, at the
    cost of a term lookup rather than a positional phrase check. Pairs are not formed across
    punctuation ("Hà Nội, Huế" has no "nội huế") nor with whole codes.
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        prev_text = None
        prev_pos = prev_start = 0
        for t in tokens:
            if t.compound:
                continue
            text, pos, start = t.text, t.pos, t.startchar
            if prev_text is not None and t.joined and pos == prev_pos + 1:
                t.text = prev_text + " " + text
                t.pos = prev_pos
                t.startchar = prev_start
                yield t
            prev_text, prev_pos, prev_start = text, pos, start


# --------------------------------------------------------------------------------------------
# Analyzers used by the index schema
# --------------------------------------------------------------------------------------------

# One tokenizer instance for every field, so its memo serves all fields of a document.
_TOKENIZER = VietnameseTokenizer()


def exact_analyzer():
    """Syllables as written, with case, tone placement and i/y spelling made canonical."""
    return _TOKENIZER | LowercaseFilter() | ToneMarkFilter() | SpellingVariantFilter()


def folded_analyzer():
    """Syllables without diacritics: "Đảng bộ" -> "dang", "bo"."""
    return exact_analyzer() | FoldDiacriticsFilter()


def folded_bigram_analyzer():
    """Adjacent syllables without diacritics: "chi bo"."""
    return folded_analyzer() | SyllableBigramFilter()


def syllable_spans(text: str) -> list[tuple[str, int, int, bool]]:
    """(syllable as written, start, end, joined) for every syllable of ``text``, where joined
    means only white space (or a code's separator) stands between it and the previous one:
    the tokenizer's syllables without token objects, for snippets."""
    out = []
    prev_end = -1
    for word, start, end in _TOKENIZER.syllables(text):
        out.append((word, start, end, prev_end >= 0 and _joins(text, prev_end, start)))
        prev_end = end
    return out


class TermKeys:
    """Integer keys for the terms one writer meets while indexing.

    Each distinct syllable-level term (exact or folded form) gets a number from 1 up; a bigram
    is the pair of its syllables' numbers in one integer (``first << 32 | second``), so it is
    never built as a string while documents are analysed. Counting and sorting integer keys
    is what makes indexing fast; ``text`` turns a key back into the term when a segment is
    written.

    Each build or update makes its own (``indexer.build``), so the table lives as long as the
    segments it numbers and holds only their vocabulary and document ids. One instance may
    still be shared by threads: new terms are numbered under a lock (the tables are appended
    to together, and an array cannot grow while NumPy reads it), lookups of known syllables
    take no lock.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._numbers: dict[str, int] = {}
        self._texts: list[str] = [""]  # key 0 is never used
        self._hashes = array("I", [0])  # crc32: small, for near-duplicate signatures
        self._digests = array("Q", [0])  # 64 bits: for exact-duplicate fingerprints
        # raw syllable as written -> exact key, and exact key -> folded key: most syllables
        # repeat, so after the first documents analysis is lookups, done in bulk.
        self._exact_keys: dict[str, int] = {}
        self._folded = array("I", [0])  # 0: not the exact form of any syllable seen

    def __len__(self) -> int:
        """How many keys are taken, key 0 (never used) included."""
        return len(self._texts)

    def number(self, term: str) -> int:
        key = self._numbers.get(term)
        if key is None:
            with self._lock:
                key = self._numbers.get(term)
                if key is None:
                    key = len(self._texts)
                    encoded = term.encode("utf-8")
                    self._texts.append(term)
                    self._hashes.append(zlib.crc32(encoded))
                    self._digests.append(int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "little"))
                    self._folded.append(0)
                    self._numbers[term] = key  # last: a key is visible only once complete
        return key

    def stable_hashes(self, keys: Sequence[int]) -> np.ndarray:
        """A hash of each (syllable-level) term that is the same in every process and run,
        unlike the keys themselves (uint32)."""
        with self._lock:
            return np.frombuffer(self._hashes, dtype=np.uint32)[np.asarray(keys, dtype=np.int64)]

    def fingerprint(self, keys: Sequence[int]) -> str:
        """A hash of a sequence of (syllable-level) terms, the same in every process and run.

        It hashes the terms' 64-bit digests rather than their text: several times cheaper
        than joining the text, and two different terms sharing a digest is not a real risk.
        """
        with self._lock:
            digests = np.frombuffer(self._digests, dtype=np.uint64)[np.asarray(keys, dtype=np.int64)]
        return hashlib.sha1(digests.tobytes()).hexdigest()

    def forms_of(self, word: str) -> tuple[int, int]:
        """(exact key, folded key) of a syllable as written."""
        exact = self._exact_keys.get(word)
        if exact is None:
            with self._lock:
                exact = self._exact_keys.get(word)
                if exact is None:
                    if len(self._exact_keys) >= 500_000:  # junk input must not grow it without end
                        self._exact_keys.clear()
                    term = normalize_term(_clean_token(word))
                    exact = self.number(term)
                    self._folded[exact] = self.number(fold_diacritics(term))
                    self._exact_keys[word] = exact
        return exact, self._folded[exact]

    def syllable_keys(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(exact keys, folded keys) of syllables as written, as arrays: ``forms_of`` in bulk."""
        keys = list(map(self._exact_keys.get, words))
        if None in keys:
            keys = [key if key is not None else self.forms_of(word)[0] for key, word in zip(keys, words)]
        exact = np.array(keys, dtype=np.int64)
        with self._lock:
            folded = np.frombuffer(self._folded, dtype=np.uint32)[exact].astype(np.int64)
        return exact, folded

    def text(self, key: int) -> str:
        if key >> 32:
            return self._texts[key >> 32] + " " + self._texts[key & 0xFFFFFFFF]
        return self._texts[key]


# For analysing the odd text outside a build (``vnsearch inspect``, tests); writers use their own.
TERM_KEYS = TermKeys()


class DocumentTerms(NamedTuple):
    """The term keys (see ``TermKeys``) of one text in each field family."""

    exact: np.ndarray
    folded: np.ndarray
    folded_bigrams: np.ndarray
    prefix: tuple[int, int, int] = (0, 0, 0)  # see document_terms(prefix_chars=...)

    def texts(self, family: int, keys: TermKeys | None = None) -> list[str]:
        """The terms of one family as text (0 exact, 1 folded, 2 folded bigrams)."""
        keys = keys if keys is not None else TERM_KEYS
        return [keys.text(k) for k in self[family].tolist()]


class FamilyTerms(NamedTuple):
    """The term keys of one field family for a batch of texts, text after text."""

    keys: np.ndarray  # int64
    docs: np.ndarray  # int64: which text of the batch each key comes from (ascending)
    in_prefix: np.ndarray  # bool: from a syllable that starts in the text's first prefix_chars

    def per_text(self, n_texts: int) -> list[np.ndarray]:
        """The keys of each text of the batch (``n_texts`` of them), in order."""
        return np.split(self.keys, np.searchsorted(self.docs, np.arange(1, n_texts)))


class BatchTerms(NamedTuple):
    """What ``exact_analyzer``, ``folded_analyzer`` and ``folded_bigram_analyzer`` make of a
    batch of texts, as term keys (see ``batch_terms``)."""

    exact: FamilyTerms
    folded: FamilyTerms
    folded_bigrams: FamilyTerms


def batch_terms(texts: Sequence[str], prefix_chars: Sequence[int] | None = None, keys: TermKeys | None = None) -> BatchTerms:
    """The terms of every text of a batch, in each field family, as term keys.

    The indexer analyses documents with this instead of running the three analyzers: the
    ICU pass (or the pattern that equals it, see ``gaps_and_syllables``) is shared by the
    families, there are no token objects or positions, and everything after finding the
    syllables is array arithmetic over the whole batch — per-syllable Python was most of the
    indexing time. The analyzers stay the specification; tests check both give the same terms.

    With ``prefix_chars`` (per text; 0 means the whole text), ``in_prefix`` marks the terms
    from syllables that start in the first ``prefix_chars`` characters (the article's opening).
    The keys are numbered by ``keys`` (the shared ``TERM_KEYS`` without).
    """
    keys = keys if keys is not None else TERM_KEYS
    all_gaps: list[str] = []
    all_words: list[str] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for d, text in enumerate(texts):
        gaps, words = gaps_and_syllables(text)
        all_gaps += gaps
        all_words += words
        counts[d] = len(words)
    n = len(all_words)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
    first = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    exact, folded = keys.syllable_keys(all_words)
    # Adjacent syllables of one text with only white space (or a code's separator) between.
    joined = np.fromiter(map(_JOINING.__getitem__, all_gaps), dtype=bool, count=n)
    joined[first[:-1][counts > 0]] = False
    # Where each syllable starts and ends in its text.
    word_lengths = np.fromiter(map(len, all_words), dtype=np.int64, count=n)
    ends = np.cumsum(np.fromiter(map(len, all_gaps), dtype=np.int64, count=n) + word_lengths)
    ends -= np.repeat(np.concatenate(([0], ends))[first[:-1]], counts)
    starts = ends - word_lengths
    if prefix_chars is None:
        in_prefix = np.ones(n, dtype=bool)
    else:
        limit = np.array(prefix_chars, dtype=np.int64)
        limit[limit <= 0] = np.iinfo(np.int64).max
        in_prefix = starts < limit[doc]
    follows = joined[1:]
    bigrams = FamilyTerms(((folded[:-1] << 32) | folded[1:])[follows], doc[1:][follows], in_prefix[1:][follows])
    # Codes ("24-QĐ/TW") are kept whole besides their syllables, just before the first one.
    at: list[int] = []
    code_keys: list[tuple[int, int]] = []
    for d, text in enumerate(texts):
        codes = codes_in(text) if counts[d] else None
        if not codes:
            continue
        doc_starts, doc_ends = starts[first[d] : first[d + 1]], ends[first[d] : first[d + 1]]
        for start, code in codes.items():
            i = int(np.searchsorted(doc_starts, start))
            if i < doc_starts.size and doc_starts[i] == start and code.end() > doc_ends[i]:
                at.append(int(first[d]) + i)
                code_keys.append(keys.forms_of(code.group()))
    if at:
        where = np.array(at, dtype=np.int64)
        order = np.argsort(where, kind="stable")
        where = where[order]
        whole = np.array(code_keys, dtype=np.int64)[order]
        exact = np.insert(exact, where, whole[:, 0])
        folded = np.insert(folded, where, whole[:, 1])
        doc, in_prefix = np.insert(doc, where, doc[where]), np.insert(in_prefix, where, in_prefix[where])
    return BatchTerms(FamilyTerms(exact, doc, in_prefix), FamilyTerms(folded, doc, in_prefix), bigrams)


def document_terms(text: str, prefix_chars: int = 0) -> DocumentTerms:
    """``batch_terms`` of one text; ``prefix`` counts the terms of each family that come from
    syllables starting in the first ``prefix_chars`` characters (all of them without)."""
    batch = batch_terms([text], [prefix_chars])
    return DocumentTerms(
        batch.exact.keys, batch.folded.keys, batch.folded_bigrams.keys,
        tuple(int(np.count_nonzero(family.in_prefix)) for family in batch),
    )


# --------------------------------------------------------------------------------------------
# Syllables by pattern, where the pattern is known to equal ICU
# --------------------------------------------------------------------------------------------

# UAX #29 word boundaries (what ICU's word break iterator implements) on text made only of
# Latin letters, ASCII digits, white space and common punctuation reduce to: runs of letters
# and digits, joined across one ' . ‘ ’ between two letters or one . , ; ' ‘ ’ between two
# digits. Checked against ICU on every VNTC title and body and on random strings (tests); ICU
# still breaks any text with another character (other scripts, emoji, "_", "@", combining
# marks). One regular expression call per text instead of a Python step per word boundary.
_LATIN = "A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF"
_WORD_PATTERN = (
    rf"[{_LATIN}0-9]+(?:(?:(?<=[{_LATIN}])[.'\u2018\u2019](?=[{_LATIN}])"
    rf"|(?<=[0-9])[.,;'\u2018\u2019](?=[0-9]))[{_LATIN}0-9]+)*"
)
_GAP_AND_WORD = re.compile(rf"([^{_LATIN}0-9]*)({_WORD_PATTERN})")
_PLAIN_PUNCTUATION = (
    " \t\n\r\f\v!-/:-?\\[-^`{-~\u00a0\u2009\u2013\u2014\u2018\u2019\u201c\u201d\u2026"
    "\u00ab\u00bb\u00b0\u2022\u00a9\u00ae\u2122\u20ac\u00a3\u00a5\u00a7\u00b6\u2020\u2021\u2032\u2033\u2039\u203a"
)
_OUTSIDE_PLAIN_TEXT = re.compile(rf"[^{_LATIN}0-9{_PLAIN_PUNCTUATION}]")
_DOT_IN_WORD = re.compile(r"[^\W_]\.[^\W_]")


def gaps_and_syllables(text: str) -> tuple[list[str], list[str]]:
    """The syllables of ``text`` (as ``VietnameseTokenizer.syllables`` finds them) and the
    text before each one, back to the previous syllable."""
    if _OUTSIDE_PLAIN_TEXT.search(text):
        gaps, words = [], []
        prev_end = 0
        for word, start, end in _TOKENIZER.syllables(text):
            gaps.append(text[prev_end:start])
            words.append(word)
            prev_end = end
        return gaps, words
    pairs = _GAP_AND_WORD.findall(text)
    if not pairs:
        return [], []
    gaps = [pair[0] for pair in pairs]
    words = [pair[1] for pair in pairs]
    if _DOT_IN_WORD.search(text):
        # As in ``syllables``: "TP.HCM" is two syllables joined by its dot; "4.400" stays whole.
        for i in reversed([i for i, word in enumerate(words) if "." in word and not _NUMBER.match(word)]):
            parts = words[i].split(".")
            words[i : i + 1] = parts
            gaps[i + 1 : i + 1] = ["."] * (len(parts) - 1)
    return gaps, words


def analyze(text: str, analyzer=None) -> list[str]:
    """The terms an analyzer makes of ``text`` (a convenience for tests and tools)."""
    analyzer = analyzer or exact_analyzer()
    return [t.text for t in analyzer(text, positions=True, chars=True)]
