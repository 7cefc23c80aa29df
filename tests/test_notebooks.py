"""Every solution notebook executes top to bottom in a fresh kernel at full size, as a student runs it.

These runs take minutes each on a CPU, so they are marked `fullsize` and run by `make test-full` (and timed by
`make bench`). `make test` executes every solution top to bottom too, in nbgrader's grading mode (short training
demos): see test_autograde_solution_full_marks_student_zero in test_nbgrader_roundtrip.py, which also asserts that no
cell of the solution raised.
"""
from __future__ import annotations

import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import ASSIGNMENTS, SOLUTIONS, notebook_path


def execute_notebook(path, timeout=900, env_fast=False):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.fullsize
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_notebook_executes(assignment):
    path = notebook_path(SOLUTIONS, assignment)
    try:
        nb, seconds = execute_notebook(path)
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed while executing:\n{str(exc)[-4000:]}")
    print(f"\n{assignment}: executed in {seconds:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{assignment}: error outputs {errors[:1]}"
