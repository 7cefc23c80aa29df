"""scripts/instructor/collect.py puts downloads into nbgrader's layout and reports what it cannot collect."""
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "instructor"))
import collect  # noqa: E402

from conftest import ROOT  # noqa: E402


def test_collect_layout_and_problems(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(collect, "ROOT", tmp_path)
    (tmp_path / "notebooks" / "00_bert_anatomy").mkdir(parents=True)
    release = ROOT / "notebooks" / "00_bert_anatomy" / "00_bert_anatomy.ipynb"
    (tmp_path / "notebooks" / "00_bert_anatomy" / release.name).write_text(release.read_text())
    dl = tmp_path / "downloads"
    (dl / "bob").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nbformat.write(nb, dl / "alice.ipynb")
    nbformat.write(nb, dl / "bob" / "my copy (1).ipynb")
    (dl / "carol.ipynb").write_text("{not json")
    (dl / "notes.txt").write_text("hi")
    (dl / "dave").mkdir()
    code = collect.main(["00_bert_anatomy", str(dl)])
    err = capsys.readouterr().err
    assert code == 1
    for student in ("alice", "bob"):
        assert (tmp_path / "submitted" / student / "00_bert_anatomy" / "00_bert_anatomy.ipynb").exists()
    assert not (tmp_path / "submitted" / "carol").exists()
    assert "carol" in err and "not a readable notebook" in err
    assert "notes.txt" in err and "dave" in err
    with pytest.raises(SystemExit, match="unknown assignment"):
        collect.main(["99_nothing", str(dl)])
