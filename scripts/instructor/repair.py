"""Repair what copy/paste and editors do to a submission's nbgrader metadata, before nbgrader reads it (#19 item 4).

The first step of ``nbgrader autograde``'s sanitising (nbgrader_config.py puts :class:`RepairSubmission` before nbgrader's
own ClearOutput/DeduplicateIds/OverwriteCells). Without it, nbgrader 0.9 gives the whole notebook 0 and no feedback
when a cell was duplicated (copy/paste keeps the metadata: DeduplicateIds leaves an empty ``nbgrader`` dict that
OverwriteCells then fails on), when the notebook's metadata was stripped (a tool or another editor) or a grade id
renamed (the missing cells are put back next to cells that are no longer found); and every honest submission logs
"checksum has changed" for every test cell (the released test cell has no hidden tests, the gradebook's has).

What it does, matching cells to the gradebook's source cells (never trusting the submitted metadata):

- duplicates of a grade id: the copy that holds the student's work keeps the id (for an answer cell, the last copy
  that is not the released stub; for a test cell, the first), the others become plain cells that still run;
- a cell without (or with an unknown) grade id is matched to a missing one by content: a test cell by its released
  source, an answer cell by the ``def``/``class`` names of its stub; what cannot be matched stays as it is and an empty
  answer cell with the id is put before its test, so nbgrader can grade the rest;
- an untouched test cell gets the gradebook's source (with the hidden tests) before nbgrader compares checksums, so
  the "checksum has changed" warning is left for test cells the student really edited — which are also noted.

Each repair is recorded in the notebook's metadata (``mtbert.repairs``) and reported with the flags
(scripts/instructor/sandbox.py, ``make flags``): repairs are not accusations.
"""
from __future__ import annotations

import copy
import re

from nbformat.notebooknode import NotebookNode

from feedback import HIDDEN

try:
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # imported by the tests without nbgrader's app
    NbGraderPreprocessor = object

DEFINES = re.compile(r"^\s*(?:def|class)\s+(\w+)", re.M)


def released_source(source: str) -> str:
    """A source cell as the student received it: the hidden tests removed (nbgrader's ClearHiddenTests)."""
    return HIDDEN.sub("", source).strip()


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader") or {}


def repair(nb: NotebookNode, source_cells: list) -> list[str]:
    """Repair ``nb`` in place against the gradebook's source cells (objects with name, cell_type, source, locked,
    and, for this function, ``grade``/``solution`` flags and ``metadata``); return what was repaired."""
    notes: list[str] = []
    by_name = {c.name: c for c in source_cells}
    stub_of = {c.name: _norm(released_source(c.source)) for c in source_cells}

    # 1. unknown ids and duplicated ids
    seen: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        gid = _meta(cell).get("grade_id")
        if not gid:
            if "nbgrader" in cell.metadata and not cell.metadata["nbgrader"]:
                del cell.metadata["nbgrader"]
            continue
        if gid not in by_name:
            notes.append(f"cell {i + 1}: unknown grade id {gid!r} removed (the cell still runs)")
            del cell.metadata["nbgrader"]
            continue
        seen.setdefault(gid, []).append(i)
    for gid, where in seen.items():
        if len(where) < 2:
            continue
        src = by_name[gid]
        if src.locked and not src.solution:
            keep = where[0]
        else:
            worked = [i for i in where if _norm(nb.cells[i].source) != stub_of[gid]]
            keep = (worked or where)[-1]
        for i in where:
            if i != keep:
                del nb.cells[i].metadata["nbgrader"]
        notes.append(f"grade id {gid!r} was on {len(where)} cells (copy/paste); kept on cell {keep + 1}, the others "
                     "run as plain cells")

    # 2. ids missing: match by content
    present = {_meta(c).get("grade_id") for c in nb.cells}
    missing = [c for c in source_cells if c.name not in present]
    free = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not _meta(c).get("grade_id")]
    for src in missing:
        match = None
        if src.locked and not src.solution:
            match = next((i for i in free if _norm(nb.cells[i].source) == stub_of[src.name]), None)
        elif src.solution and src.cell_type == "code":
            names = DEFINES.findall(released_source(src.source))
            match = next((i for i in reversed(free) if names and set(names) <= set(DEFINES.findall(
                nb.cells[i].source))), None)
        if match is not None:
            nb.cells[match].metadata["nbgrader"] = copy.deepcopy(src.metadata)
            free.remove(match)
            notes.append(f"cell {match + 1} had lost its nbgrader metadata; matched to {src.name!r} by its content")
    # an answer cell that cannot be found: an empty one before its test, so nbgrader grades the rest
    present = {_meta(c).get("grade_id") for c in nb.cells}
    order = [c.name for c in source_cells]
    for src in source_cells:
        if src.name in present or not src.solution:
            continue
        after = order[order.index(src.name) + 1:]
        at = next((i for i, c in enumerate(nb.cells) if _meta(c).get("grade_id") in after), len(nb.cells))
        # NotebookNodes all the way down: nbgrader reads cell.metadata.nbgrader as attributes (DeduplicateIds)
        meta = NotebookNode(nbgrader=NotebookNode(copy.deepcopy(src.metadata)))
        empty = NotebookNode(cell_type=src.cell_type, metadata=meta,
                             source="# (this answer cell was missing from the submission)")
        if src.cell_type == "code":
            empty.update(outputs=[], execution_count=None)
        nb.cells.insert(at, empty)
        present.add(src.name)
        notes.append(f"answer cell {src.name!r} was missing; an empty one was put back (code elsewhere still runs)")

    # 3. untouched test cells: the gradebook's source, so nbgrader's checksum comparison is quiet
    for i, cell in enumerate(nb.cells):
        src = by_name.get(_meta(cell).get("grade_id"))
        if src is None or not src.locked:
            continue
        if _norm(cell.source) == stub_of[src.name]:
            cell.source = src.source
        elif not src.solution:
            notes.append(f"test cell {src.name!r} (cell {i + 1}) was edited; the instructor's version is graded")
    return notes


class _Source:
    """A gradebook source cell with what :func:`repair` needs."""

    def __init__(self, cell, graded: dict, solution: set):
        self.name, self.cell_type, self.source, self.locked = cell.name, cell.cell_type, cell.source, cell.locked
        self.solution = cell.name in solution
        points = graded.get(cell.name)
        self.metadata = {"grade": points is not None, "grade_id": cell.name, "locked": cell.locked,
                         "schema_version": 3, "solution": self.solution, "task": False,
                         **({"points": points} if points is not None else {})}


class RepairSubmission(NbGraderPreprocessor):
    """nbgrader preprocessor: :func:`repair` against the gradebook, notes in ``nb.metadata.mtbert.repairs``."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source_nb = gb.find_notebook(info["notebook"], info["assignment"])
            graded = {c.name: c.max_score for c in source_nb.grade_cells}
            solution = {c.name for c in source_nb.solution_cells}
            cells = [_Source(c, graded, solution) for c in source_nb.source_cells]
            index = {c.name: i for i, c in enumerate(source_nb.source_cells)}
        cells.sort(key=lambda c: index[c.name])
        notes = repair(nb, cells)
        for note in notes:
            self.log.warning("repaired: %s", note)
        if notes:
            nb.metadata.setdefault("mtbert", {})["repairs"] = notes
        return nb, resources
