"""The Chinese edition (issue #17): solutions/NN_name_zh/ is generated from the English solution and
translations/zh-CN/NN_name.json (scripts/authoring/translate.py). Fast checks: every markdown cell translated and in
sync with its English source, code cells and nbgrader metadata identical, Markdown structure kept. Slow: the zh
student notebooks equal a fresh `nbgrader generate_assignment`, and the nbgrader round trip of the zh assignments
(the English tests' own functions, imported)."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil

import nbformat
import pytest

from conftest import ROOT, run_nbgrader
from test_nbgrader_roundtrip import test_autograde_solution_full_marks_student_zero as _round_trip
from test_nbgrader_roundtrip import test_student_notebook_has_no_solution_or_hidden_tests as _no_solution_in_release
from test_nbgrader_roundtrip import test_student_notebook_in_sync_with_solutions as _release_in_sync

_spec = importlib.util.spec_from_file_location("mtbert_translate", ROOT / "scripts" / "authoring" / "translate.py")
translate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(translate)

LESSONS = translate.english_notebooks()
ZH = [translate.zh_name(n) for n in LESSONS]
# Two zh round trips run in the default suite (the quickest to autograde: benchmarks/RESULTS.md, figure 6); the other
# eight are `fullsize` (make test-full): each round trip takes 1–2.5 min on 2 cores.
DEFAULT_ROUND_TRIPS = ("00_bert_anatomy_zh", "08_growing_a_classifier_zh")
CJK = re.compile(r"[\u4e00-\u9fff]")
FENCE = re.compile(r"```.*?```", re.S)
CODE = re.compile(r"`([^`]+)`")
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#+) ", re.M)


def _norm(span: str) -> str:
    return " ".join(span.split())


def _spans(text: str) -> dict[str, set[str]]:
    prose = FENCE.sub("", text)
    return {"code block": {_norm(b) for b in FENCE.findall(text)},
            "code span": {_norm(s) for s in CODE.findall(prose)},
            "math": {_norm(m) for m in MATH.findall(prose)},
            "link": set(LINK.findall(prose))}


def test_there_is_a_chinese_edition_of_every_lesson():
    assert len(LESSONS) == 10 and LESSONS[0] == "00_bert_anatomy"
    missing = [z for z in ZH if not (translate.SOLUTIONS / z).is_dir() or not (ROOT / "notebooks" / z).is_dir()]
    assert not missing, f"no Chinese edition for {missing}: run scripts/authoring/translate.py --release"


@pytest.mark.parametrize("lesson", LESSONS)
def test_translation_in_sync_with_the_english_notebook(lesson):
    """No stale or missing translation; the committed zh notebook is what the generator makes; code cells identical."""
    problems = translate.check([lesson])
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_markdown_cell_is_chinese_and_keeps_its_markdown(lesson):
    en = nbformat.read(translate.source_path(lesson), as_version=4)
    zh = nbformat.read(translate.zh_path(lesson), as_version=4)
    for i, (a, b) in enumerate(zip(en.cells, zh.cells)):
        if a.cell_type != "markdown":
            continue
        assert CJK.search(b.source) and b.source != a.source, f"{lesson} cell {i} is not translated"
        assert [len(h) for h in HEADING.findall(FENCE.sub("", a.source))] == \
            [len(h) for h in HEADING.findall(FENCE.sub("", b.source))], f"{lesson} cell {i}: headings differ"
        ours = _spans(b.source)
        for kind, wanted in _spans(a.source).items():
            lost = sorted(wanted - ours[kind])
            assert not lost, f"{lesson} cell {i}: the translation lost the {kind}(s) {lost[:3]}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_nbgrader_metadata_and_code_cells_identical(lesson):
    assert not translate.code_cell_differences(lesson)
    en = nbformat.read(translate.source_path(lesson), as_version=4)
    zh = nbformat.read(translate.zh_path(lesson), as_version=4)
    grades = [(c.metadata.get("nbgrader", {}).get("grade_id"), c.metadata.get("nbgrader", {}).get("points"))
              for c in en.cells]
    assert grades == [(c.metadata.get("nbgrader", {}).get("grade_id"), c.metadata.get("nbgrader", {}).get("points"))
                      for c in zh.cells]
    assert zh.metadata["kernelspec"] == en.metadata["kernelspec"] and zh.metadata["mtbert"]["language"] == "zh-CN"


def test_translation_files_are_reviewable():
    """Each entry keeps its English source next to the Chinese, keyed by the English text's sha256."""
    for lesson in LESSONS:
        cells = json.loads(translate.translation_path(lesson).read_text(encoding="utf-8"))["cells"]
        for h, entry in cells.items():
            assert h == translate.cell_hash(entry["en"]), f"{lesson}: key {h[:12]} is not the hash of its 'en'"


# ---------------------------------------------------------------------------------------- the check fails when it must
@pytest.fixture
def course(tmp_path, monkeypatch):
    """A copy of one lesson (English and Chinese) that the generator reads instead of solutions/."""
    lesson = LESSONS[0]
    for name in (lesson, translate.zh_name(lesson)):
        shutil.copytree(translate.SOLUTIONS / name, tmp_path / name)
    monkeypatch.setattr(translate, "SOLUTIONS", tmp_path)
    return lesson


def _edit(path, index, change):
    nb = nbformat.read(path, as_version=4)
    change(nb.cells[index])
    nbformat.write(nb, path)


def test_check_names_a_stale_cell_and_shows_what_changed(course):
    en = nbformat.read(translate.source_path(course), as_version=4)
    i = next(k for k, c in enumerate(en.cells) if c.cell_type == "markdown" and k > 0)
    _edit(translate.source_path(course), i, lambda c: setattr(c, "source", c.source + "\nA sentence added later."))
    problems = translate.check([course])
    stale = [p for p in problems if f"cell {i}:" in p]
    assert stale and "A sentence added later." in stale[0] and "+A sentence added later." in stale[0], problems
    with pytest.raises(SystemExit, match=f"cell {i}"):
        translate.write(course)


def test_check_fails_on_a_changed_code_cell_or_an_outdated_file(course):
    zh = translate.zh_path(course)
    i = next(k for k, c in enumerate(nbformat.read(zh, as_version=4).cells) if c.cell_type == "code")
    _edit(zh, i, lambda c: setattr(c, "source", c.source + "\nprint('translated code')"))
    problems = translate.check([course])
    assert any(f"cell {i}: the code cell differs" in p for p in problems), problems
    assert any("differs from what the generator makes" in p for p in problems), problems
    translate.write(course)
    assert translate.check([course]) == []


def test_check_fails_on_an_untranslated_cell(course, tmp_path, monkeypatch):
    table = translate.load_table(course)
    first = next(iter(table))
    table[first] = dict(table[first], zh="")
    monkeypatch.setattr(translate, "TRANSLATIONS", tmp_path / "zh-CN")
    translate.save_table(course, table)
    assert any("not translated yet" in p for p in translate.check([course]))
    added, dropped = translate.update(course)
    assert (added, dropped) == (0, 0) and translate.load_table(course)[first]["zh"] == ""


# ---------------------------------------------------------------------------------------- nbgrader
@pytest.mark.parametrize("assignment", ZH)
def test_zh_student_notebook_has_no_solution_or_hidden_tests(assignment):
    _no_solution_in_release(assignment)


def _released(course_copy, assignment):
    if not (course_copy / "notebooks" / assignment).is_dir():  # conftest's course_copy releases English only
        run_nbgrader(["generate_assignment", assignment, "--force"], cwd=course_copy)
    return course_copy


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ZH)
def test_zh_student_notebook_in_sync_with_a_fresh_release(assignment, course_copy):
    _release_in_sync(assignment, _released(course_copy, assignment))


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [a if a in DEFAULT_ROUND_TRIPS else pytest.param(a, marks=pytest.mark.fullsize)
                                        for a in ZH])
def test_zh_round_trip_full_marks_zero_and_one_broken_exercise(assignment, course_copy):
    """The English round trip on the Chinese edition: same checkers, same points."""
    _round_trip(assignment, _released(course_copy, assignment))
