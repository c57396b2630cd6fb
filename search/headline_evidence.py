"""How much a query word says about an article's text, learned from headlines.

Most words of a news headline are also in the article's text — 85% of them in VNTC — but not
all alike: "người", "nam" or "cho" almost always are, while headline shorthand ("TP HCM" over
an article that writes "thành phố"), puns and quoted catchwords often are not. People search
with headline-like queries, so a query word that headlines use without the text using it is
weaker evidence that an article is the one they mean, and it should count for less.

For every syllable and syllable bigram (folded, as the index keeps them) the table counts the
headlines using it and, of those, the articles whose text also uses it. A query term counts
``(share of its headlines whose text has it / share over all words) ** power`` times its
usual weight (``IndexSettings.headline_evidence`` is the power; 0 turns it off), the share
smoothed towards the overall one (of syllables) by ``PRIOR_HEADLINES`` imaginary headlines, so
terms seen in few headlines stay near weight 1 and terms in fewer than ``MIN_HEADLINES`` are
left alone. Bigrams common in headlines ("viet nam", "tp hcm") are in the text much less often
than syllables, so they count clearly less than rare ones, which say the most.

The shipped table was counted on the train split of VNTC only, so the test split that
bench/quality.py measures is not in it (rebuild it with
``python bench/headline_evidence.py``). Measured with
bench/quality.py: held-out test titles against bodies, MRR@10 +0.009; XQuAD questions
+0.004 (README "Benchmarks").
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from indexer.analysis import TermKeys, batch_terms
from indexer.ranking_tables import HEADLINE_EVIDENCE
from indexer.sources import NO_TITLE, Article

SHIPPED = HEADLINE_EVIDENCE
# How many headlines' worth of the overall share a word's own counts are mixed with.
PRIOR_HEADLINES = 10.0
# Words used in fewer headlines than this are not written to the table: their weight would be
# within a few percent of 1.
MIN_HEADLINES = 2
_HEADER = "# vnsearch headline evidence"


class HeadlineEvidence:
    """Per folded term: in how many headlines it is, and how many of those articles' texts."""

    def __init__(self, counts: dict[str, tuple[int, int]], overall: float) -> None:
        if not 0.0 < overall <= 1.0:
            raise ValueError(f"overall share must be in (0, 1], not {overall}")
        self.counts = counts
        # The share of headline syllables that the text has too (85% in VNTC). Bigrams are
        # measured against it as well: a bigram common in headlines is in the text less often
        # (47% on average), and it counts less. Measuring bigrams against their own average
        # instead was worse (MRR@10 0.571 / 0.578 vs 0.580, train titles, README).
        self.overall = overall

    def weight(self, folded_term: str, power: float) -> float:
        """The factor for a query term ("chi", or a bigram "chi bo"); 1.0 for unknown terms."""
        if not power:
            return 1.0
        counted = self.counts.get(folded_term)
        if counted is None:
            return 1.0
        in_headlines, in_text = counted
        share = (in_text + PRIOR_HEADLINES * self.overall) / (in_headlines + PRIOR_HEADLINES)
        return (share / self.overall) ** power

    def __len__(self) -> int:
        return len(self.counts)


def count_headline_evidence(articles: Iterable[Article], batch_size: int = 256) -> tuple[Counter, Counter]:
    """(headlines using each folded term, of those the articles whose text uses it too).

    Articles without a headline of their own (their title is the start of their text) and
    repeated copies of one headline and text are left out: they would count as agreeing.
    """
    in_headlines: Counter = Counter()
    in_text: Counter = Counter()
    batch: list[Article] = []
    seen: set[int] = set()
    keys = TermKeys()

    def count(batch: list[Article]) -> None:
        titles, bodies = batch_terms([a.title for a in batch], keys=keys), batch_terms([a.body for a in batch], keys=keys)
        for title_family, body_family in ((titles.folded, bodies.folded), (titles.folded_bigrams, bodies.folded_bigrams)):
            for title_keys, body_keys in zip(title_family.per_text(len(batch)), body_family.per_text(len(batch))):
                body_set = set(body_keys.tolist())
                for key in set(title_keys.tolist()):
                    term = keys.text(key)
                    in_headlines[term] += 1
                    in_text[term] += key in body_set

    for article in articles:
        if not article.title or not article.body or NO_TITLE in article.warnings:
            continue
        pair = hash((article.title, article.body))
        if pair in seen:
            continue
        seen.add(pair)
        batch.append(article)
        if len(batch) == batch_size:
            count(batch)
            batch = []
    if batch:
        count(batch)
    return in_headlines, in_text


def write_table(path: Path, in_headlines: Counter, in_text: Counter, described: str) -> int:
    """Write the table (terms in at least MIN_HEADLINES headlines); the number of rows."""
    syllables = [t for t in in_headlines if " " not in t]
    overall = sum(in_text[t] for t in syllables) / max(1, sum(in_headlines[t] for t in syllables))
    rows = sorted(t for t, n in in_headlines.items() if n >= MIN_HEADLINES)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{_HEADER}: {described}\n")
        f.write(f"# overall\t{overall:.6f}\n")
        f.write("# term\theadlines\talso in text\n")
        for term in rows:
            f.write(f"{term}\t{in_headlines[term]}\t{in_text[term]}\n")
    return len(rows)


def read_table(path: Path) -> HeadlineEvidence:
    counts: dict[str, tuple[int, int]] = {}
    overall = None
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("# overall\t"):
                overall = float(line.split("\t")[1])
                continue
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
                raise ValueError(f"{path}:{line_no}: expected 'term<TAB>headlines<TAB>also in text', got {line!r}")
            counts[parts[0]] = (int(parts[1]), int(parts[2]))
    if overall is None:
        raise ValueError(f"{path}: no '# overall<TAB>share' line")
    return HeadlineEvidence(counts, overall)


@lru_cache(maxsize=1)
def default_headline_evidence() -> HeadlineEvidence:
    """The shipped table (read once per process)."""
    return read_table(SHIPPED)
