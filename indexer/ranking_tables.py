"""Where the tables that shape ranking at query time live, and their fingerprints.

The abbreviation table (shipped, plus the files named in $VNSEARCH_ABBREVIATIONS) and the
headline evidence table are read by ``search`` at query time, but they change scores as much
as a field weight does. An index is a function of (corpus, settings), so a build records
their fingerprints in the manifest and ``vnsearch stats`` says whether the tables in force are
the ones the index was built with. (They live here, not in ``search``, because the indexer
records them and the indexer never imports the search side.)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "search" / "data"
SHIPPED_ABBREVIATIONS = DATA / "abbreviations.tsv"
ABBREVIATIONS_ENVIRONMENT = "VNSEARCH_ABBREVIATIONS"
HEADLINE_EVIDENCE = DATA / "headline_evidence.tsv"


def abbreviation_files() -> list[str]:
    """The shipped abbreviation table, then the files named in $VNSEARCH_ABBREVIATIONS."""
    extra = [p for p in os.environ.get(ABBREVIATIONS_ENVIRONMENT, "").split(":") if p]
    return [str(SHIPPED_ABBREVIATIONS)] + extra


def ranking_tables() -> dict[str, dict]:
    """{table: {"files": [...], "sha1": digest of their bytes in order}} of the tables in force."""
    return {
        "abbreviations": _fingerprint(abbreviation_files()),
        "headline_evidence": _fingerprint([str(HEADLINE_EVIDENCE)]),
    }


def _fingerprint(paths: list[str]) -> dict:
    digest = hashlib.sha1()
    for path in paths:
        try:
            digest.update(Path(path).read_bytes())
        except OSError:
            digest.update(b"\0missing\0" + path.encode())  # the search side reports the error
        digest.update(b"\0")
    return {"files": [os.path.abspath(p) for p in paths], "sha1": digest.hexdigest()}
