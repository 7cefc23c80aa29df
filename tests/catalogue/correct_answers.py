"""The correct-answer catalogue (issue #19): {assignment: {grade_id: [source, ...]}}, at least three correct,
differently written answers per graded exercise of the ten English assignments. Each source is the full text of the
solution cell with that grade id; tests/catalogue/test_correct_*.py give each one to its checker, in process and
through real nbgrader autograding."""
from catalogue import answers_00_01, answers_02_04, answers_05_07, answers_08_09

ANSWERS = {**answers_00_01.ANSWERS, **answers_02_04.ANSWERS, **answers_05_07.ANSWERS, **answers_08_09.ANSWERS}
