"""make collect = nbgrader zip_collect + scripts/instructor/lms.py: Canvas, Moodle and plain downloads land in
submitted/<student>/<assignment>/<notebook>.ipynb (asserted on the files zip_collect really wrote)."""
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "instructor"))
import lms  # noqa: E402

from conftest import ROOT  # noqa: E402

A = "00_bert_anatomy"


@pytest.mark.parametrize("path, lms_name, student, file, resub, late", [
    ("garciajose_12345_678901_00_bert_anatomy.ipynb", "canvas", "garciajose", A, 0, False),
    ("garcíajosé_LATE_12345_678901_00_bert_anatomy-1.ipynb", "canvas", "garcíajosé", A, 1, True),
    ("李雷_77_88_00_bert_anatomy-2.ipynb", "canvas", "李雷", A, 2, False),
    ("canvas-dl/smithann_5_6_my copy.ipynb", "canvas", "smithann", "my copy", 0, False),
    ("José García_4567_assignsubmission_file_/00_bert_anatomy.ipynb", "moodle", "José García", A, 0, False),
    ("李雷_4568_assignsubmission_file_00_bert_anatomy.ipynb", "moodle", "李雷", A, 0, False),
    ("Ann_Smith_9_assignsubmission_file_/sub/hw.ipynb", "moodle", "Ann_Smith", "hw", 0, False),
    ("alice.ipynb", "plain", "alice", None, 0, False),
    ("José García/my copy (1).ipynb", "plain", "José García", "my copy (1)", 0, False),
])
def test_parse_lms_names(path, lms_name, student, file, resub, late):
    info = lms.parse(path)
    assert info == dict(lms=lms_name, student_id=student, file=file, resubmission=resub, late=late)
    assert lms.parse(path, lms_name)["student_id"] == student


def test_parse_canvas_user_id_and_forced_lms():
    assert lms.parse("garciajose_12345_678901_00_bert_anatomy.ipynb", "canvas-id")["student_id"] == "12345"
    assert lms.parse("alice.ipynb", "canvas") is None
    assert lms.parse("notes.txt") is None


@pytest.fixture
def course(tmp_path):
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    (tmp_path / "notebooks" / A).mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / A / f"{A}.ipynb", tmp_path / "notebooks" / A)
    return tmp_path


def _nb(marker):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {marker}")])
    return nbformat.writes(nb)


def _submitted(course):
    out = {}
    for p in sorted((course / "submitted").glob(f"*/{A}/*.ipynb")):
        out[p.parts[-3]] = (p.name, nbformat.read(p, as_version=4).cells[0].source)
    return out


@pytest.mark.slow
def test_zip_collect_canvas_and_moodle(course, tmp_path, capsys):
    dl = tmp_path / "dl"
    dl.mkdir()
    with zipfile.ZipFile(dl / "canvas.zip", "w") as z:
        z.writestr("garcíajosé_12345_600_00_bert_anatomy.ipynb", _nb("josé first"))
        z.writestr("garcíajosé_12345_601_00_bert_anatomy-1.ipynb", _nb("josé resubmitted"))
        z.writestr("lilei_LATE_777_602_00_bert_anatomy.ipynb", _nb("li lei late"))
        z.writestr("smithann_55_603_homework (2).ipynb", _nb("ann renamed"))
        z.writestr("brokenbob_66_604_00_bert_anatomy.ipynb", "{not json")
    with zipfile.ZipFile(dl / "moodle.zip", "w") as z:
        z.writestr("José García_4567_assignsubmission_file_/00_bert_anatomy.ipynb", _nb("moodle josé"))
        z.writestr("李雷_4568_assignsubmission_file_/00_bert_anatomy.ipynb", _nb("moodle 李雷"))
        z.writestr("李雷_4568_assignsubmission_file_/notes.txt", "hi")
    code = lms.main([A, str(dl), "--course", str(course)])
    out = capsys.readouterr()
    text = out.out + out.err
    got = _submitted(course)
    assert got == {
        "garcíajosé": (f"{A}.ipynb", "# josé resubmitted"),
        "lilei": (f"{A}.ipynb", "# li lei late"),
        "smithann": (f"{A}.ipynb", "# ann renamed"),
        "José García": (f"{A}.ipynb", "# moodle josé"),
        "李雷": (f"{A}.ipynb", "# moodle 李雷"),
    }, text
    assert code == 1
    assert "NOT COLLECTED: brokenbob" in text and "not a readable notebook" in text
    assert "notes.txt: not a notebook" in text
    assert "superseded" in text and "garcíajosé_12345_600" in text


@pytest.mark.slow
def test_zip_collect_plain_folder_and_errors(course, tmp_path, capsys):
    dl = tmp_path / "downloads"
    (dl / "bob").mkdir(parents=True)
    (dl / "alice.ipynb").write_text(_nb("alice"))
    (dl / "bob" / "my copy (1).ipynb").write_text(_nb("bob"))
    (dl / "carol.ipynb").write_text("{not json")
    (dl / "notes.txt").write_text("hi")
    code = lms.main([A, str(dl), "--course", str(course), "--lms", "plain"])
    text = "".join(capsys.readouterr())
    assert _submitted(course) == {"alice": (f"{A}.ipynb", "# alice"), "bob": (f"{A}.ipynb", "# bob")}
    assert code == 1
    assert "NOT COLLECTED: carol.ipynb" in text and "notes.txt" in text
    with pytest.raises(SystemExit, match="unknown assignment"):
        lms.main(["99_nothing", str(dl), "--course", str(course)])
