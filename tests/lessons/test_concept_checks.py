"""The concept checks (mtbert_ref.grading.concepts): the key grades the right answer right and every other answer
wrong with its explanation, the format check is visible, the key is not in the package as plain text, and every
notebook's concept cells name a question that exists and answer it right in the solution."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from mtbert_ref.grading import concepts
from mtbert_ref.grading.core import GradingError

ROOT = Path(__file__).resolve().parents[2]

# The answer key in plain text lives here, in the tests, not in the installed package.
KEY = {
    "00.hidden_states_shape": (7, 4, 12, 384),
    "01.gradient_positions": "c",
    "02.causal_allowed": 9,
    "03.stride_overlap": 32,
    "04.flat_shape": (20, 32),
    "05.macro_f1_majority": 0.28,
    "06.zero_logits": "b",
    "07.temperature_share": 0.25,
    "08.grown_weight_shape": (18, 384),
    "09.padding_positions": 17,
}
WRONG = {"choice": ["a", "b", "c", "d"], "int": [0, 7, 16, 64], "number": [0.0, 1.0, 0.84], "shape": [(1,), (4, 12, 384), (384, 4)]}
BAD_FORMAT = {"choice": ["e", 3, None], "int": ["9", 9.0, True], "number": ["0.5", None], "shape": [4, "(4, 384)",
                                                                                                   (4.0, 384)]}


def test_every_question_has_a_key_here_and_the_key_grades_it_right(capsys):
    assert set(KEY) == set(concepts.QUESTIONS)
    for qid, answer in KEY.items():
        concepts.check_concept(qid, answer, hidden_tests=True)
        assert "right" in capsys.readouterr().out


@pytest.mark.parametrize("qid", sorted(KEY))
def test_a_wrong_answer_gets_the_explanation(qid):
    q = concepts.QUESTIONS[qid]
    wrong = [w for w in WRONG[q.kind] if concepts.normalise(q.kind, w, q.options) !=
             concepts.normalise(q.kind, KEY[qid], q.options)]
    assert wrong
    for w in wrong:
        concepts.check_concept(qid, w)   # the visible check only reads the format
        with pytest.raises(GradingError) as err:
            concepts.check_concept(qid, w, hidden_tests=True)
        assert "not right" in str(err.value) and q.explanation in str(err.value)
        assert len(q.explanation.split()) >= 15, "an explanation is a sentence about the concept, not 'wrong'"


@pytest.mark.parametrize("qid", sorted(KEY))
def test_a_badly_formatted_answer_is_refused_visibly(qid):
    q = concepts.QUESTIONS[qid]
    for bad in BAD_FORMAT[q.kind]:
        with pytest.raises(GradingError, match="should be"):
            concepts.check_concept(qid, bad)


def test_the_key_is_not_in_the_package_as_plain_text():
    source = re.sub(r"[0-9a-f]{64}", "", Path(concepts.__file__).read_text())   # the digests themselves
    for qid, answer in KEY.items():
        q = concepts.QUESTIONS[qid]
        assert re.fullmatch(r"[0-9a-f]{64}", q.key), qid
        if q.kind != "choice":   # a lone letter appears everywhere in any text
            canonical = concepts.normalise(q.kind, answer, q.options)
            assert not re.search(rf"(?<![\w.]){re.escape(canonical)}(?![\w.])", source), qid
    assert "_SALT" in source


def test_an_unknown_question_is_named():
    with pytest.raises(GradingError, match="no concept question"):
        concepts.check_concept("99.nothing", "a")


def _concept_cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        m = re.search(r"check_concept\((['\"])([^'\"]+)\1, (\w+)\)", cell.source)
        if m and cell.metadata.get("nbgrader", {}).get("grade"):
            qid, var = m.group(2), m.group(3)
            sol = nb.cells[i - 1]
            assert sol.metadata["nbgrader"]["solution"], f"{path.name}: the cell before {qid}'s test is no solution"
            value = re.search(rf"^{var} = (.+)$", sol.source, re.M)
            assert value, f"{path.name}: the solution cell does not set {var}"
            assert "hidden_tests=True" in cell.source and "BEGIN HIDDEN TESTS" in cell.source
            yield qid, ast.literal_eval(value.group(1)), cell.metadata["nbgrader"]["points"]


def test_each_notebook_asks_its_questions_and_its_solution_answers_right():
    asked = {}
    for path in sorted(ROOT.glob("solutions/[0-9][0-9]_*/*.ipynb")):
        if path.parent.name.endswith("_zh"):
            continue
        for qid, value, points in _concept_cells(path):
            assert concepts.QUESTIONS[qid].notebook == path.parent.name, (qid, path.parent.name)
            assert 1 <= points <= 2
            concepts.check_concept(qid, value, hidden_tests=True)
            asked[qid] = path.parent.name
    assert set(asked) == set(concepts.QUESTIONS), f"questions no notebook asks: {set(concepts.QUESTIONS) - set(asked)}"
