"""The README is part of the interface: its commands exist and its Python example runs."""

import re
import subprocess
import sys

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    test_command = re.search(r"```sh\n(python3 -m venv[^\n]*pytest)\n```", README).group(1)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_python_example_runs(tmp_path):
    [example] = re.findall(r"```python\n(.*?)```", README, re.S)
    example = example.replace("/tmp/vnsearch-demo", str(tmp_path / "demo"))
    result = subprocess.run([sys.executable, "-c", example], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Tỉnh uỷ tổng kết công tác" in result.stdout.splitlines()[1]
    assert "'sinh hoạt chi bộ'" in result.stdout
    lines = result.stdout.splitlines()
    assert lines[-3:-1] == ["tỉnh ủy", "sinh hoạt chi bộ"]  # Telex decoded; did-you-mean
    assert "014_dang_uy_cu" in lines[-4] and "LCĐT" in lines[-4]  # newest first, with facets
    assert lines[-1] == "Tỉnh uỷ tổng kết công tác xây dựng tổ chức cơ sở đảng và đội ngũ đảng viên 4"  # in full, marked


def test_every_cli_command_in_the_readme_exists():
    from typer.testing import CliRunner

    from search.cli import app

    shell = "\n".join(re.findall(r"```sh\n(.*?)```", README, re.S))
    commands = set(re.findall(r"(?:^|&& )vnsearch (\w+)", shell, re.M))
    assert commands >= {"index", "update", "search", "inspect", "stats"}
    for command in commands:
        assert CliRunner().invoke(app, [command, "--help"]).exit_code == 0, command
