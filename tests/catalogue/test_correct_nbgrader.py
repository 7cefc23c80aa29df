"""The correct-answer catalogue through real nbgrader (issue #19): submission k of every assignment holds answer k
of each of its exercises; all submissions are autograded as `make autograde JOBS=2` does (parallel.py, each kernel
in the sandbox where bubblewrap is installed) and every graded cell must have full marks in the gradebook, with no
flag raised. Scores come from the gradebook, never from nbgrader's exit status.

To grade 30 submissions in minutes, each leaves out the demo cells (training runs, figures) that no graded cell
depends on, as a student may delete them; tests/test_nbgrader_roundtrip.py grades the whole notebooks."""
from __future__ import annotations

import ast
import builtins
import shutil
import time

import nbformat
import pytest
from nbgrader.api import Gradebook

from catalogue.correct_answers import ANSWERS
from conftest import ASSIGNMENTS, ROOT, autograde, notebook_path, run_nbgrader

N_VARIANTS = min(len(srcs) for by_id in ANSWERS.values() for srcs in by_id.values())


def _names(source: str):
    """(names a code cell defines, names it reads); None for a cell Python cannot parse (magics): kept."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    defined, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    return defined, used - set(dir(builtins))


def _without_unneeded_demos(nb):
    """Drop the plain code cells (no nbgrader metadata) that define nothing a later kept cell reads."""
    needed, keep = set(), []
    for cell in reversed(nb.cells):
        names = _names(cell.source) if cell.cell_type == "code" else (set(), set())
        graded = bool(cell.metadata.get("nbgrader"))
        if cell.cell_type != "code" or graded or names is None or names[0] & needed:
            keep.append(cell)
            if names:
                needed |= names[1]
    nb.cells = keep[::-1]
    return nb


def _submission(release_nb, solution_nb, assignment: str, k: int):
    """The released notebook with answer k in every catalogued solution cell; other solution cells (the concept
    questions) get the instructor's answer, so that only the catalogue decides the points."""
    nb = nbformat.read(release_nb, as_version=4)
    instructor = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(solution_nb, as_version=4).cells
                  if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        gid = meta["grade_id"]
        if gid in ANSWERS[assignment]:
            cell.source = ANSWERS[assignment][gid][k].strip("\n")
        else:
            cell.source = instructor[gid].replace("### BEGIN SOLUTION\n", "").replace("### END SOLUTION\n", "") \
                .replace("### END SOLUTION", "")
    return _without_unneeded_demos(nb)


def _failures(course, student, assignment) -> list[str]:
    nb = nbformat.read(notebook_path(course / "autograded" / student, assignment), as_version=4)
    return [f"{c.metadata['nbgrader']['grade_id']}: {o.get('ename')}: {str(o.get('evalue'))[:300]}"
            for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
            for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.slow
def test_every_correct_answer_gets_full_marks_through_nbgrader(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for a in ASSIGNMENTS:
        shutil.copytree(ROOT / "solutions" / a, course / "solutions" / a,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    start = time.perf_counter()
    run_nbgrader(["generate_assignment", "[0-9][0-9]_*[!h]", "--force"], cwd=course)  # every English one, one run
    students = [f"catalogue_{k}" for k in range(N_VARIANTS)]
    for a in ASSIGNMENTS:
        release = notebook_path(course / "notebooks", a)
        for k, student in enumerate(students):
            dest = course / "submitted" / student / a
            dest.mkdir(parents=True)
            nbformat.write(_submission(release, notebook_path(course / "solutions", a), a, k), dest / release.name)
    assert sorted(p.name for p in (course / "notebooks").iterdir()) == ASSIGNMENTS
    run_nbgrader(["db", "upgrade"], cwd=course)

    logs = []
    for a in ASSIGNMENTS:
        proc = autograde(a, course, jobs=2, check=False)       # every assignment is graded; the gradebook judges
        logs.append(proc.stdout[-1500:] + proc.stderr[-1500:])
    wall = time.perf_counter() - start
    print(f"\nreleased and autograded {len(students) * len(ASSIGNMENTS)} catalogue submissions with JOBS=2 in "
          f"{wall:.0f} s")

    problems = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for a in ASSIGNMENTS:
            for student in students:
                try:
                    sub = gb.find_submission_notebook(notebook_path(course / "notebooks", a).stem, a, student)
                except Exception as exc:  # noqa: BLE001 - a submission nbgrader never graded
                    problems.append(f"{a} {student}: not graded ({exc})")
                    continue
                lost = [(g.name, g.score, g.max_score) for g in sub.grades if g.score != g.max_score]
                if lost:
                    problems.append(f"{a} {student}: lost points {lost}; {_failures(course, student, a)[:3]}")
    for a in ASSIGNMENTS:
        for student in students:
            path = course / "autograded" / student / a
            if path.exists():
                flags = nbformat.read(notebook_path(path.parent, a), as_version=4).metadata.get("mtbert", {}) \
                    .get("flags", [])
                if flags:
                    problems.append(f"{a} {student}: flagged {flags[:2]}")
    assert not problems, "\n".join(problems) + "\n" + "\n".join(logs)[-3000:]
