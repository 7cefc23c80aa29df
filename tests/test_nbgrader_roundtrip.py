"""nbgrader round trip: notebooks/ is what generate_assignment makes of solutions/; a solution scores full marks and
an untouched student notebook scores 0 — read from the gradebook, never from `nbgrader validate`'s exit code."""
from __future__ import annotations

import re
import shutil

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import ASSIGNMENTS, NOTEBOOKS, SOLUTIONS, autograde, notebook_path, run_nbgrader

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def _cells(path):
    nb = nbformat.read(path, as_version=4)
    return nb, [(c.cell_type, c.source, c.metadata.get("nbgrader", {})) for c in nb.cells]


def test_there_are_assignments():
    assert "00_bert_anatomy" in ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_in_sync_with_solutions(assignment, course_copy):
    fresh = notebook_path(course_copy / "notebooks", assignment)
    committed_dir = NOTEBOOKS / assignment
    assert committed_dir.exists(), f"notebooks/{assignment} is missing: run `make release`"
    committed = notebook_path(NOTEBOOKS, assignment)
    assert committed.name == fresh.name
    nb_fresh, fresh_cells = _cells(fresh)
    nb_committed, committed_cells = _cells(committed)
    assert len(fresh_cells) == len(committed_cells), \
        f"notebooks/{assignment} has {len(committed_cells)} cells, a fresh release {len(fresh_cells)}: run `make release`"
    for i, (a, b) in enumerate(zip(committed_cells, fresh_cells)):
        assert a == b, f"cell {i} of notebooks/{assignment}/{committed.name} differs from a fresh release: run `make release`"
    assert nb_committed.metadata.get("kernelspec") == nb_fresh.metadata.get("kernelspec")
    extra = sorted(p.name for p in committed_dir.iterdir() if not p.name.startswith(".")) 
    assert extra == sorted(p.name for p in (course_copy / "notebooks" / assignment).iterdir()
                           if not p.name.startswith(".")), "notebooks/ holds files a release would not make"


def _solution_lines(path):
    """Lines between the solution markers and the hidden-test markers of the instructor notebook."""
    nb = nbformat.read(path, as_version=4)
    hidden, solution = [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for begin, end, out in (("### BEGIN SOLUTION", "### END SOLUTION", solution),
                                ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", hidden)):
            for block in re.findall(re.escape(begin) + r"(.*?)" + re.escape(end), cell.source, flags=re.S):
                out.extend(l.strip() for l in block.splitlines() if len(l.strip()) > 12)
    return solution, hidden


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_has_no_solution_or_hidden_tests(assignment):
    student_text = "\n".join(c.source for c in nbformat.read(notebook_path(NOTEBOOKS, assignment), as_version=4).cells)
    for marker in MARKERS:
        assert marker not in student_text, f"notebooks/{assignment} contains {marker!r}"
    solution, hidden = _solution_lines(notebook_path(SOLUTIONS, assignment))
    assert solution, f"solutions/{assignment} has no ### BEGIN SOLUTION block"
    assert hidden, f"solutions/{assignment} has no ### BEGIN HIDDEN TESTS block"
    student_lines = {l.strip() for l in student_text.splitlines()}
    leaked = [l for l in hidden if l in student_lines and "check_" not in l]
    # hidden tests usually call the same checker as the visible test with other arguments: compare whole lines
    leaked_hidden = [l for l in hidden if l in student_lines and "hidden_tests=True" in l]
    assert not leaked_hidden and not leaked, f"hidden-test lines in notebooks/{assignment}: {(leaked_hidden + leaked)[:3]}"
    # every solution line that is specific enough must be gone (signatures and docstrings are outside the markers)
    leaked_sol = [l for l in solution if l in student_lines and not l.startswith(("#", "return", "pass"))]
    assert len(leaked_sol) <= len(solution) // 5, f"solution lines in notebooks/{assignment}: {leaked_sol[:5]}"


def _grade(course, assignment):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student_id: (s.score, s.max_score) for s in gb.assignment_submissions(assignment)}


def _failures(course, assignment, student):
    nb = nbformat.read(next((course / "autograded" / student / assignment).glob("*.ipynb")), as_version=4)
    out = []
    for c in nb.cells:
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"):
            for o in c.get("outputs", []):
                if o.output_type == "error":
                    out.append(f"{c.metadata['nbgrader']['grade_id']}: {o.ename}: {o.evalue[:300]}")
    return out


def _broken_submission(solution_path):
    """The solution with the body of its first exercise replaced by a crash; returns (notebook, lost points)."""
    nb = nbformat.read(solution_path, as_version=4)
    broken_at = None
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("solution") and "### BEGIN SOLUTION" in cell.source:
            m = re.search(r"^([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[^\n]*", cell.source, flags=re.S | re.M)
            indent = m.group(1)
            cell.source = cell.source[:m.start()] + f"{indent}raise RuntimeError('a deliberately broken answer')" + \
                cell.source[m.end():]
            broken_at = i
            break
    lost = next(c.metadata["nbgrader"]["points"] for c in nb.cells[broken_at + 1:]
                if c.metadata.get("nbgrader", {}).get("grade"))
    return nb, lost


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_solution_full_marks_student_zero(assignment, course_copy):
    """Three submissions: the solution (full marks), the untouched release (0), the solution with its first exercise
    broken (loses exactly that exercise's points); then feedback for all three."""
    solution = notebook_path(course_copy / "solutions", assignment)
    student = notebook_path(course_copy / "notebooks", assignment)
    for who, src in (("instructor_solution", solution), ("untouched_student", student)):
        dest = course_copy / "submitted" / who / assignment
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest / student.name)
    broken, lost = _broken_submission(solution)
    dest = course_copy / "submitted" / "broken_first_exercise" / assignment
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(broken, dest / student.name)
    autograde(assignment, course_copy, jobs=2)          # as `make autograde JOBS=2`: two sandboxes, one gradebook
    grades = _grade(course_copy, assignment)
    score, max_score = grades["instructor_solution"]
    assert max_score > 0, f"{assignment} has no graded points"
    assert score == max_score, (f"the solution of {assignment} scored {score}/{max_score}; failing tests: "
                                f"{_failures(course_copy, assignment, 'instructor_solution')}")
    # the solution ran top to bottom without any error, graded cell or not
    executed = nbformat.read(next((course_copy / "autograded" / "instructor_solution" / assignment).glob("*.ipynb")),
                             as_version=4)
    errors = [(i, o.ename, o.evalue[:300]) for i, c in enumerate(executed.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"cells of the {assignment} solution raised while being graded: {errors[:3]}"
    assert all(c.get("execution_count") for c in executed.cells if c.cell_type == "code" and c.source.strip()), \
        f"not every code cell of the {assignment} solution was executed"
    # No false alarm: the instructor's own answers raise no tampering flag and the kernel's integrity monitor reported
    # every cell (scripts/instructor/verdict.py); the untouched release needed no repair.
    flags = executed.metadata.get("mtbert", {}).get("flags", [])
    assert not flags, f"the {assignment} solution was flagged: {flags[:3]}"
    untouched = nbformat.read(next((course_copy / "autograded" / "untouched_student" / assignment).glob("*.ipynb")),
                              as_version=4)
    assert not untouched.metadata.get("mtbert", {}).get("repairs"), untouched.metadata["mtbert"]["repairs"]
    blank, _ = grades["untouched_student"]
    assert blank == 0, f"the untouched student notebook of {assignment} scored {blank}/{max_score}"
    got, _ = grades["broken_first_exercise"]
    assert got == max_score - lost, (f"a submission of {assignment} whose first exercise crashes scored {got}, "
                                     f"expected {max_score - lost}; failing tests: "
                                     f"{_failures(course_copy, assignment, 'broken_first_exercise')}")
    run_nbgrader(["generate_feedback", assignment, "--force"], cwd=course_copy)
    for who in ("instructor_solution", "untouched_student", "broken_first_exercise"):
        assert list((course_copy / "feedback" / who / assignment).glob("*.html")), f"no feedback HTML for {who}"
