"""A damaged index says so: every file, damaged every way, gives a clear error or right answers.

Archives keep an index for years, on disks that flip bits and copies that stop half-way. Each
file of a small index is damaged in turn (a flipped byte, cut in half, emptied, deleted), and
``search``, ``stats``, ``update`` and ``check`` must either answer exactly as the sound index
does or fail with one line naming the damaged file and saying to rebuild or restore: never a
traceback, never wrong hits.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer import build_index
from indexer.check import check_index
from indexer.errors import CorruptIndex, VnsearchError
from indexer.store import current_generation
from search import Index
from search.cli import app
from tests.conftest import CORPUS, SEED_ID

runner = CliRunner()
QUERY = "sinh hoạt chi bộ"


@pytest.fixture(scope="module")
def sound_index(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sound") / "ix"
    build_index([CORPUS], path)
    return path


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "flip":
        at = len(data) // 2
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :])
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "delete":
        path.unlink()


def _files(index: Path) -> list[str]:
    generation = current_generation(index)
    return ["CURRENT"] + sorted(f"{generation.path.name}/{f.name}" for f in generation.path.iterdir())


def _search_json(index: Path) -> tuple[int, dict | None, str]:
    result = runner.invoke(app, ["search", QUERY, "--index", str(index), "--json", "--limit", "15"])
    _no_traceback(result)
    return result.exit_code, json.loads(result.output) if result.exit_code == 0 else None, result.output


def _no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def _comparable(answer: dict) -> list:
    return [(h["id"], h["score"], h["snippet"]) for h in answer["hits"]]


def test_a_sound_index_checks_ok(sound_index):
    report = check_index(sound_index)
    assert report.documents == 15 and report.files == len(_files(sound_index)) - 1
    result = runner.invoke(app, ["check", "--index", str(sound_index)])
    assert result.exit_code == 0 and result.output.startswith("ok:")


@pytest.mark.parametrize("how", ["flip", "truncate", "empty", "delete"])
def test_every_damaged_file_gives_a_clear_error_or_the_right_answer(sound_index, tmp_path, how):
    _, expected, _ = _search_json(sound_index)
    assert expected["hits"][0]["id"] == SEED_ID
    for name in _files(sound_index):
        index = tmp_path / f"{how}-{name.replace('/', '-')}"
        shutil.copytree(sound_index, index)
        _damage(index / name, how)
        damaged_name = Path(name).name

        code, answer, output = _search_json(index)
        if code == 0:
            assert _comparable(answer) == _comparable(expected), f"{name} {how}: wrong hits"
        else:
            assert code == 5, f"{name} {how}: {output}"
            assert damaged_name in output and ("rebuild" in output and "restore" in output), output

        for command in (["stats"], ["update", str(CORPUS)]):
            result = runner.invoke(app, [*command, "--index", str(index)])
            _no_traceback(result)
            assert result.exit_code in (0, 5), f"{command} {name} {how}: {result.output}"
            if result.exit_code == 5:
                assert damaged_name in result.output, result.output

        result = runner.invoke(app, ["check", "--index", str(index)])
        _no_traceback(result)
        assert result.exit_code == 5 and damaged_name in result.output, f"check missed {name} {how}: {result.output}"


def test_opening_a_damaged_index_raises_corrupt_index_naming_the_file(sound_index, tmp_path):
    index = tmp_path / "ix"
    shutil.copytree(sound_index, index)
    gaps = next(current_generation(index).path.glob("*.gaps"))
    _damage(gaps, "flip")
    with pytest.raises(CorruptIndex, match="checksum mismatch") as raised:
        Index.open(index)
    assert raised.value.path == str(gaps) and isinstance(raised.value, VnsearchError)


def test_without_verification_only_sizes_are_checked(sound_index, tmp_path):
    index = tmp_path / "ix"
    shutil.copytree(sound_index, index)
    docs = next(current_generation(index).path.glob("*.docs"))
    _damage(docs, "truncate")
    with pytest.raises(CorruptIndex, match="truncated"):
        Index.open(index, verify=False)


def test_a_changed_manifest_is_caught_by_its_own_checksum(sound_index, tmp_path):
    index = tmp_path / "ix"
    shutil.copytree(sound_index, index)
    manifest_path = current_generation(index).path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["settings"]["title_weight"] = 20.0  # valid JSON, plausible, and wrong
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(CorruptIndex, match="manifest.json.*altered"):
        Index.open(index)
