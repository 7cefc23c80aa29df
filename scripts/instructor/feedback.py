"""Feedback without the hidden tests (issue #19, item 5): ``nbgrader generate_feedback`` shows each test cell as the
student received it, with one line where the hidden tests were, so neither their code nor how to call them leaks —
neither in the cell nor in the lines a Python traceback quotes from it.

nbgrader_config.py adds :class:`HideHiddenTests` to ``GenerateFeedback.preprocessors``. A failed hidden test still says
why in its output: the checker's one-sentence GradingError (mtbert_ref/grading/core.py), not its code.
"""
from __future__ import annotations

import re

try:
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # the tests import this file without nbgrader's app
    NbGraderPreprocessor = object

# The one pattern of a hidden-tests block (with its indent and the line end after it); repair.py uses it too.
HIDDEN = re.compile(r"^([ \t]*)### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*(\n|$)", re.S | re.M)
NOTE = "# (hidden tests: not shown; their result is in this cell's output and score)"


def hide(source: str) -> str:
    return HIDDEN.sub(lambda m: m.group(1) + NOTE + m.group(2), source)


def hide_in_traceback(text: str) -> str:
    """A Python traceback quotes the cell's lines around the error (hidden tests included): drop those lines."""
    out, skipping = [], False
    for line in text.split("\n"):
        if "BEGIN HIDDEN TESTS" in line:
            skipping = True
            out.append(NOTE)
        if not skipping:
            out.append(line)
        if "END HIDDEN TESTS" in line:
            skipping = False
    return "\n".join(out)


class HideHiddenTests(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = hide(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [hide_in_traceback(t) for t in output.get("traceback", [])]
        return cell, resources
