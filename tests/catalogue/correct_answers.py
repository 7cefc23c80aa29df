"""The correct-answer catalogue (issue #19): {assignment: {grade_id: [source, ...]}}, at least three correct,
differently written answers per graded exercise of the ten English assignments. Each source is the full text of the
solution cell with that grade id; tests/catalogue/test_correct_*.py give each one to its checker, in process and
through real nbgrader autograding."""
from catalogue import (answers_00_01, answers_02, answers_03, answers_04, answers_05, answers_06, answers_07,
                       answers_08_09)

ANSWERS = {k: v for module in (answers_00_01, answers_02, answers_03, answers_04, answers_05, answers_06, answers_07,
                               answers_08_09) for k, v in module.ANSWERS.items()}
