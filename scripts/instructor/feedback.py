"""Feedback without the hidden tests (issue #19, item 5): ``nbgrader generate_feedback`` shows each test cell as the
student received it, with one line where the hidden tests were, so neither their code nor how to call them leaks.

nbgrader_config.py adds :class:`HideHiddenTests` to ``GenerateFeedback.preprocessors``. A failed hidden test still says
why in its output: the checker's one-sentence GradingError (mtbert_ref/grading/core.py), not its code.
"""
from __future__ import annotations

import re

try:
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # the tests import this file without nbgrader's app
    NbGraderPreprocessor = object

HIDDEN = re.compile(r"^([ \t]*)### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*$", re.S | re.M)
NOTE = "# (hidden tests: not shown; their result is in this cell's output and score)"


def hide(source: str) -> str:
    return HIDDEN.sub(lambda m: m.group(1) + NOTE, source)


class HideHiddenTests(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = hide(cell.source)
        return cell, resources
