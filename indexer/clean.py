"""Cleaning crawled text: Unicode clean-up, leftover HTML, and the hosting site's boilerplate.

Two layers:

* ``clean_text`` — character level, a pipeline of small steps applied to every title, body and
  query: HTML entities decoded, invisible characters removed, odd spaces made plain, NFC.
* ``strip_boilerplate`` — paragraph level: a page's menus, visitor counters, "related articles"
  lists and other furniture are cut off by general rules (see the function), never by a list of
  one site's phrases.

Why not jusText or trafilatura: both classify blocks of an HTML DOM (link density, tag context).
Our inputs are already text — the crawler kept neither links nor tags — so their strongest
signals are gone. The rules below borrow jusText's idea (a paragraph is judged by its length,
its sentence structure and its neighbours, and a run of poor paragraphs at the end of a page is
furniture) and add the one signal text keeps: lines repeated across many pages of one site.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Callable, Iterable, Sequence

# --------------------------------------------------------------------------------------------
# Character-level clean-up
# --------------------------------------------------------------------------------------------

# Regular expressions rather than str.translate: translate with a table goes character by
# character through Python dict lookups (half the reading time on VNTC), while these
# characters are rare and a regex scan skips everything else in C.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f]")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000\t]")
_TAG = re.compile(r"<(?:/?[A-Za-z][^<>]*|!--.*?--)>", re.S)
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h\d|/table)\b[^>]*>", re.I)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+\d*);?")


def decode_html_entities(text: str) -> str:
    """"Hà Nội&nbsp;&amp; Huế" -> "Hà Nội\\xa0& Huế" (left-over entities from crawls)."""
    return html.unescape(text) if "&" in text and _ENTITY.search(text) else text


def strip_html_tags(text: str) -> str:
    """Markup left in a body: block tags become line breaks, other tags disappear."""
    if "<" not in text or not _TAG.search(text):
        return text
    text = _BLOCK_TAG.sub("\n", text)
    text = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", text, flags=re.S | re.I)
    return _TAG.sub(" ", text)


def remove_invisible(text: str) -> str:
    """Zero-width spaces and joiners, byte-order marks and soft hyphens are dropped."""
    return _INVISIBLE.sub("", text)


def normalize_spaces(text: str) -> str:
    """Non-breaking and other typographic spaces become plain spaces; CR LF becomes LF."""
    text = _ODD_SPACES.sub(" ", text)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def compose_nfc(text: str) -> str:
    """NFC: "hoà" typed as "hoa" + combining grave is stored as one precomposed letter."""
    return unicodedata.normalize("NFC", text)


TEXT_CLEANUP: Sequence[Callable[[str], str]] = (
    strip_html_tags,
    decode_html_entities,
    remove_invisible,
    normalize_spaces,
    compose_nfc,
)


def clean_text(text: str) -> str:
    """Apply every character-level clean-up step, in order."""
    for step in TEXT_CLEANUP:
        text = step(text)
    return text


# --------------------------------------------------------------------------------------------
# Paragraph-level boilerplate
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…:;\"”»]\s*$")
_COUNTER = re.compile(r"^[\W_]*[^\W\d_][\w\s]{1,40}:\s*[\d.,]+\s*$")
_RELATED_HEADLINE = re.compile(r"\S.*\(\s*\d{1,2}/\d{1,2}(?:/\d{2,4})?\s*\)\s*$")
# VnExpress's link format exactly: the date glued to the headline, day and month in two digits.
_DATED_LINK = re.compile(r"\S\(\d{2}/\d{2}/\d{4}\)$")
# Tuổi Trẻ and Thanh Niên put links to earlier articles on a line of their own, each after ">>".
_LINK_ARROWS = re.compile(r">{2,}")
_LONGEST_LINKED_HEADLINE = 25  # words; a longer ">>" item is a summary point, which is text
_MENU_SEPARATORS = re.compile(r"\s[|•·»]\s|^\s*[•·▪►»|]")
_CONTACT = re.compile(r"©|\bcopyright\b|www\.|https?://|@\w+\.\w+|\b(?:ĐT|Fax|Tel|Hotline)\s*:", re.I)
# Link labels the VNTC crawl left as lines of their own inside bodies; they are widget labels
# of the news sites, not article text.
_WIDGET_LINES = {"xem tiếp", "ý kiến của bạn", "ý kiến bạn đọc", "gửi ý kiến", "in bài", "gửi bài"}
_LONGEST_WIDGET_LINE = 40  # with spaces and punctuation around it; anything longer is text


@lru_cache(maxsize=1024)
def word_count(line: str) -> int:
    """How many words ``line`` has. The rules below ask it several times of the same lines
    (an article's last paragraphs); memoised, they are counted once."""
    return len(_WORD.findall(line))


def is_prose(line: str) -> bool:
    """A line with sentence structure: long enough, punctuated like a sentence, not furniture."""
    if is_boilerplate_signal(line):
        return False
    n = word_count(line)
    return n >= 20 or (n >= 8 and (bool(_SENTENCE_END.search(line)) or "," in line))


def is_menu_line(line: str) -> bool:
    """"CHĂM SÓC KHÁCH HÀNG", "Trang chủ | Tin tức | Liên hệ": navigation, not text."""
    letters = [c for c in line if c.isalpha()]
    n_words = word_count(line)
    all_caps = len(letters) >= 4 and all(c.isupper() for c in letters) and 2 <= n_words <= 8
    return all_caps or bool(_MENU_SEPARATORS.search(line))


def is_counter_line(line: str) -> bool:
    """"Đang online: 58", "Tất cả: 263,283": a label and a number."""
    return bool(_COUNTER.match(line))


def is_related_headline(line: str) -> bool:
    """"Thêm 2 bệnh nhân tử vong vì cúm type A(10/01/2004)": a link to another article."""
    return bool(_RELATED_HEADLINE.match(line)) and word_count(line) <= 30


def is_related_links_line(line: str) -> bool:
    """">> Khởi tố tài xế gây tai nạn ở Đồng Nai >> Tai nạn thảm khốc tại Đồng Nai": links.

    Every item must read like a headline: short, and not a sentence ending in a full stop
    ("..." may end a headline). A ">>" line of prose, which some readers' letters have, stays.
    """
    if not line.lstrip().startswith(">>"):
        return False
    items = [item.strip() for item in _LINK_ARROWS.split(line) if item.strip()]
    return bool(items) and all(_is_linked_headline(item) for item in items)


def _is_linked_headline(item: str) -> bool:
    n = word_count(item)
    ends_sentence = item.endswith(".") and not item.endswith("..")
    return 1 <= n <= _LONGEST_LINKED_HEADLINE and not ends_sentence


def related_links_inside(paragraphs: Sequence[str]) -> set[int]:
    """Indexes of the lines that link to other articles from inside the text.

    A query for a headline must find its own article, not every article that links to it; and
    a snippet should not quote a list of links. Inside the text (the tail is handled apart) a
    line is a list of links if it is a ">>" line, a VnExpress link with its glued date
    ("Kết thúc điều tra vụ Công ty Đông Nam vào 20/8(06/08/2004)"), or one of two or more
    dated headlines in a row ("Xe đua F1 (30/8)" alone may be a caption).
    """
    dated = [is_related_headline(p) for p in paragraphs]
    out = set()
    for i, p in enumerate(paragraphs):
        in_run = dated[i] and ((i > 0 and dated[i - 1]) or (i + 1 < len(dated) and dated[i + 1]))
        if is_related_links_line(p) or in_run or (dated[i] and _DATED_LINK.search(p.rstrip())):
            out.add(i)
    return out


def is_widget_line(line: str) -> bool:
    return len(line) <= _LONGEST_WIDGET_LINE and line.strip().lower().rstrip(".:…") in _WIDGET_LINES


def is_boilerplate_signal(line: str) -> bool:
    """Lines that on their own say "site furniture", as opposed to merely short lines.

    Furniture is short: a long paragraph that mentions a website or a phone number is text.
    """
    if word_count(line) > 25:
        return False
    return (
        is_menu_line(line)
        or is_counter_line(line)
        or is_related_headline(line)
        or is_widget_line(line)
        or bool(_CONTACT.search(line))
    )


def strip_boilerplate(paragraphs: Sequence[str], site_lines: frozenset[str] = frozenset()) -> list[str]:
    """The article's own paragraphs, without the page furniture around them.

    * Lines in ``site_lines`` (repeated on many pages of the same site) are dropped anywhere.
    * Widget labels ("Xem tiếp") and lists of links to other articles are dropped anywhere.
    * The tail: the run of non-prose lines at the end of the page is dropped when it carries a
      furniture signal (a menu, a counter, a related-articles list, contact details). A tail of
      plain short lines without any such signal (a reporter's name, a last photo caption) stays.

    Short lines inside the article (photo captions such as "Quang cảnh hội nghị.") stay.
    """
    kept = [p for p in paragraphs if p.strip() and not is_widget_line(p) and not (site_lines and _line_key(p) in site_lines)]
    tail_start = len(kept)
    while tail_start > 0 and not is_prose(kept[tail_start - 1]):
        tail_start -= 1
    # A related-articles list can follow a prose line of its own and be long; its headlines are
    # not prose by the rule above unless very long, so they fall in the tail already.
    tail = kept[tail_start:]
    if tail_start > 0 and any(is_boilerplate_signal(p) for p in tail):
        kept = kept[:tail_start]
    # A page without any prose line is all "tail": keep its text, drop only the furniture.
    elif tail_start == 0:
        kept = [p for p in kept if not is_boilerplate_signal(p)]
    # After the tail, so that its links still mark it as furniture (and take a menu or a
    # "Xem thêm" line after them along); a page of nothing but links keeps them.
    links = related_links_inside(kept)
    if links and len(links) < len(kept):
        kept = [p for i, p in enumerate(kept) if i not in links]
    return kept


def _line_key(line: str) -> str:
    return " ".join(line.split()).lower()


def repeated_site_lines(pages: Iterable[Sequence[str]], min_pages: int = 3, min_share: float = 0.3) -> frozenset[str]:
    """Lines that stand on at least ``min_pages`` pages and ``min_share`` of all pages of a site.

    This is how a footer never seen before is recognised: a site repeats it on every page,
    while an article's own sentences are not repeated across articles.
    """
    counts: Counter[str] = Counter()
    n_pages = 0
    for lines in pages:
        n_pages += 1
        counts.update({_line_key(line) for line in lines if line.strip()})
    if n_pages < min_pages:
        return frozenset()
    threshold = max(min_pages, int(min_share * n_pages + 0.999))
    return frozenset(key for key, n in counts.items() if n >= threshold and key)
