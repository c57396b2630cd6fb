"""Shared fixtures: the shipped corpus indexed once per session, and access to ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer import build_index
from search import Index

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
SEED_ID = "000_88a30b64d4879a10"

requires_shared = pytest.mark.skipif(
    not (SHARED / "corpus").is_dir(),
    reason="needs the real corpora in ../shared/corpus (present in CI, not on every machine)",
)


@pytest.fixture(scope="session")
def corpus_index_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus-index") / "index"
    build_index([CORPUS], path)
    return path


@pytest.fixture(scope="session")
def corpus_index(corpus_index_dir) -> Index:
    with Index.open(corpus_index_dir) as index:
        yield index


def index_of_records(folder: Path, records: list[dict]) -> Path:
    """An index (``folder/ix``) of these articles, written as a JSON Lines feed first."""
    folder.mkdir(parents=True, exist_ok=True)
    feed = folder / "news.jsonl"
    feed.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    build_index([feed], folder / "ix")
    return folder / "ix"


def write_page(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    """A page in the seed's format, written as a crawler would leave it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def ids(results) -> list[str]:
    return [hit.id for hit in results]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each test's outcome on its item, so fixtures can act on failure (screenshots)."""
    outcome = yield
    if call.when == "call":
        item.rep_call = outcome.get_result()
