"""Queries typed in Telex or VNI without an input method: "sinh hoatj chi booj", "tinhr uyr".

People on a keyboard without a Vietnamese input method (or with it switched off) type the
keystrokes themselves. Telex marks letters and tones with letters ("aa" â, "ow" ơ, "dd" đ;
s f r x j for sắc huyền hỏi ngã nặng), VNI with digits (6 ^, 7 horn, 8 breve, 9 đ; 1-5 tones).
The one Python package that decodes such words, BoGo (``bogo`` 1.1 on PyPI), has had no
release since 2014; it agrees with the rules here on the words of the tests, which are about a
hundred lines, so they are implemented here rather than taken on as an unmaintained dependency.

A query is decoded only if its words look typed that way: at least one word changes, every
changed word becomes a Vietnamese syllable that the index knows while the word as typed is
unknown to it. English words that happen to end in s, f, r, x or j are left alone because
they are known words of the index or because they decode to nothing Vietnamese.
"""

from __future__ import annotations

import re
from typing import Callable

from indexer.analysis import place_tone

_TELEX_TONES = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323", "z": ""}
_VNI_TONES = {"1": "\u0301", "2": "\u0300", "3": "\u0309", "4": "\u0303", "5": "\u0323", "0": ""}
_TELEX_LETTERS = [("dd", "đ"), ("uwow", "ươ"), ("uow", "ươ"), ("uwo", "ươ"), ("aa", "â"), ("aw", "ă"),
                  ("ee", "ê"), ("oo", "ô"), ("ow", "ơ"), ("uw", "ư"), ("w", "ư")]
_VOWEL = re.compile(r"[aeiouyw]")  # "w" alone is "ư" in Telex: "nhwngx" is "những"


def telex_to_vietnamese(word: str) -> str | None:
    """"hoatj" -> "hoạt", "booj" -> "bộ", "ddawngr" -> "đẳng"; None if ``word`` has no Telex
    keys or does not decode to a Vietnamese syllable."""
    lower = word.lower()
    if not lower.isascii() or not lower.isalpha():
        return None
    tone = ""
    body = lower
    if len(body) > 1 and body[-1] in _TELEX_TONES and _VOWEL.search(body[:-1]):
        tone, body = _TELEX_TONES[body[-1]], body[:-1]
    letters = body
    for keys, letter in _TELEX_LETTERS:
        letters = letters.replace(keys, letter)
    if letters == lower:
        return None
    return _finish(word, letters, tone)


def vni_to_vietnamese(word: str) -> str | None:
    """"hoat5" -> "hoạt", "bo65" -> "bộ", "d9a8ng3" -> "đẳng"; None if ``word`` has no VNI
    digits among its letters or does not decode to a Vietnamese syllable."""
    lower = word.lower()
    if not lower.isascii() or not lower.isalnum() or lower.isdigit() or not re.search(r"[a-z]\d", lower):
        return None
    letters, tone = "", ""
    for char in lower:
        if not char.isdigit():
            letters += char
        elif char in _VNI_TONES:
            tone = _VNI_TONES[char]
        elif char == "9" and "d" in letters:
            letters = letters.replace("d", "đ", 1)
        elif char == "6" and re.search("[aeo]", letters):
            letters = _mark_last(letters, {"a": "â", "e": "ê", "o": "ô"})
        elif char == "7" and "uo" in letters:
            letters = letters.replace("uo", "ươ")
        elif char == "7" and re.search("[ou]", letters):
            letters = _mark_last(letters, {"o": "ơ", "u": "ư"})
        elif char == "8" and "a" in letters:
            letters = _mark_last(letters, {"a": "ă"})
        else:
            return None
    return _finish(word, letters, tone)


def _mark_last(letters: str, marks: dict[str, str]) -> str:
    for i in range(len(letters) - 1, -1, -1):
        if letters[i] in marks:
            return letters[:i] + marks[letters[i]] + letters[i + 1 :]
    return letters


def _finish(word: str, letters: str, tone: str) -> str | None:
    syllable = place_tone(letters, tone)
    if syllable is None:
        return None
    if word[:1].isupper():
        syllable = syllable[:1].upper() + syllable[1:]
    return syllable


def decode_typing(text: str, known: Callable[[str], bool]) -> tuple[str, str] | None:
    """``(decoded query, "Telex" or "VNI")`` if ``text`` looks typed in that way (see the
    module's description), else None. ``known(word)`` says whether the index has a word.

    One changed word whose only key is a final "s" is not enough ("bus" is not "bú"): an
    English plural looks the same.
    """
    words = text.split()
    for name, decode in (("Telex", telex_to_vietnamese), ("VNI", vni_to_vietnamese)):
        out, changed = [], []
        for word in words:
            core = word.strip(".,;:!?\"'()")
            decoded = decode(core) if core else None
            if decoded is None or known(core):
                out.append(word)
                continue
            if not known(decoded):
                break  # a word that decodes to nothing the index knows: not this way of typing
            out.append(word.replace(core, decoded))
            changed.append(core)
        else:
            plural_only = name == "Telex" and len(changed) == 1 and _only_final_s(changed[0])
            if changed and not plural_only:
                return " ".join(out), name
    return None


def _only_final_s(word: str) -> bool:
    lower = word.lower()
    return lower.endswith("s") and telex_to_vietnamese(lower[:-1]) is None
