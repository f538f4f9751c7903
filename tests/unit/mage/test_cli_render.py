"""`modelswap mage render --out DIR` writes the generated Mage files into DIR (a Mage project root)."""

from __future__ import annotations

from modelswap.cli import main
from modelswap.mage import check_drift, render_blocks


def test_render_writes_every_file_and_lists_it(tmp_path, capsys):
    assert main(["mage", "render", "--out", str(tmp_path)]) == 0
    assert check_drift(tmp_path) == []
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == sorted(str(tmp_path / path) for path in render_blocks())


def test_render_keeps_the_projects_other_files(tmp_path):
    own = tmp_path / "transformers" / "mine.py"
    own.parent.mkdir()
    own.write_text("mine\n")
    assert main(["mage", "render", "--out", str(tmp_path)]) == 0
    assert own.read_text() == "mine\n"
