"""Every answer of the correct-answer catalogue passes its checker, visible and hidden cases (issue #19: no honest
answer loses points). The answer is compiled under a notebook cell's file name into a fresh namespace, as a student's
cell would be, and given to the checker exactly as the notebook's test cell gives it."""
import json

import pytest

from mtbert_ref import load_tokenizer
from catalogue.correct_answers import ANSWERS
from conftest import ASSIGNMENTS, SOLUTIONS, notebook_path
from grading.checkers import CHECKS, run_check

CASES = [(a, gid, k) for a, by_id in ANSWERS.items() for gid, srcs in by_id.items() for k in range(len(srcs))]


def graded_exercises(assignment: str) -> list[str]:
    """The grade ids of the code exercises of one English assignment: its solution cells, except the concept
    questions (one value each, checked by grading.concepts; not code that can be written in several ways)."""
    nb = json.loads(notebook_path(SOLUTIONS, assignment).read_text(encoding="utf-8"))
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
           if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    return [i for i in ids if not i.startswith("concept_")]


def compile_answer(assignment: str, grade_id: str, k: int) -> dict:
    namespace = {"__name__": f"catalogue_{grade_id}_{k}"}
    code = compile(ANSWERS[assignment][grade_id][k], f"/tmp/ipykernel_catalogue/{grade_id}_{k}.py", "exec")
    exec(code, namespace)  # noqa: S102 - the catalogue's own answers, as a notebook cell runs them
    return namespace


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def test_the_catalogue_covers_every_graded_exercise_three_times():
    assert sorted(ANSWERS) == ASSIGNMENTS
    for assignment in ASSIGNMENTS:
        assert sorted(ANSWERS[assignment]) == sorted(graded_exercises(assignment)), assignment
        for grade_id, sources in ANSWERS[assignment].items():
            assert len(sources) >= 3, (assignment, grade_id)
            assert len(set(sources)) == len(sources), f"{grade_id}: two answers are the same text"
            assert grade_id in CHECKS, grade_id


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
@pytest.mark.parametrize("assignment, grade_id, k", CASES, ids=[f"{g}-{k}" for _, g, k in CASES])
def test_correct_answer_gets_full_marks(assignment, grade_id, k, hidden, request):
    namespace = compile_answer(assignment, grade_id, k)
    run_check(grade_id, [namespace[n] for n in CHECKS[grade_id][2]], request.getfixturevalue, hidden)
