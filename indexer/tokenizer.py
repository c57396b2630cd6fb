"""Vietnamese tokenization: syllables with their character offsets, codes kept whole.

ICU's word break iterator finds the syllables; codes ("24-QĐ/TW") and dotted abbreviations
("TP.HCM") are kept whole besides their parts; numbers ("4.400") stay whole. Where the text
allows it, one regular expression proven equal to ICU finds the syllables instead
(``gaps_and_syllables``): the indexer's hot path.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Iterator, NamedTuple

import icu
from whoosh.analysis import Token, Tokenizer

from indexer.lru import LRUCache
from indexer.phonology import INVISIBLE_CHARS


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
                tokens.append(RawToken(clean_token(code.group()), pos, start, code.end(), True, joined))
            tokens.append(RawToken(clean_token(word), pos, start, end, False, joined))
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
    return JOINING_GAPS[text[prev_end:start]]


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
JOINING_GAPS = _JoiningGaps()


def clean_token(word: str) -> str:
    """Offset-safe clean-up of one token: NFC, invisible characters dropped.

    The document text is cleaned before indexing (indexer.clean), but the analyzer also sees
    queries and third-party text, so it does not rely on that.
    """
    if word.isascii():
        return word
    if INVISIBLE_CHARS.search(word):
        word = INVISIBLE_CHARS.sub("", word)
    return word if unicodedata.is_normalized("NFC", word) else unicodedata.normalize("NFC", word)


# One tokenizer instance for every field, so its memo serves all fields of a document.
TOKENIZER = VietnameseTokenizer()


def syllable_spans(text: str) -> list[tuple[str, int, int, bool]]:
    """(syllable as written, start, end, joined) for every syllable of ``text``, where joined
    means only white space (or a code's separator) stands between it and the previous one:
    the tokenizer's syllables without token objects, for snippets."""
    out = []
    prev_end = -1
    for word, start, end in TOKENIZER.syllables(text):
        out.append((word, start, end, prev_end >= 0 and _joins(text, prev_end, start)))
        prev_end = end
    return out


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


def is_plain_text(text: str) -> bool:
    """Only Latin letters, ASCII digits, white space and common punctuation: the text whose
    syllables the pattern (and search._text) find as ICU does."""
    return _OUTSIDE_PLAIN_TEXT.search(text) is None


def gaps_and_syllables(text: str) -> tuple[list[str], list[str]]:
    """The syllables of ``text`` (as ``VietnameseTokenizer.syllables`` finds them) and the
    text before each one, back to the previous syllable."""
    if not is_plain_text(text):
        gaps, words = [], []
        prev_end = 0
        for word, start, end in TOKENIZER.syllables(text):
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
