"""The instructor's side of a trustworthy verdict (issue #19, items 2 and 4), used by sandbox.SandboxedExecute.

Before the kernel starts, :func:`audit` reads the student's cells (scripts/instructor/audit.py). After it ends,
:func:`read_heartbeats` checks the integrity monitor's signed report for every cell that ran
(mtbert_ref/grading/integrity.py) and removes it from the outputs, and :func:`finish_dead_kernel` keeps the points of
tests that ran before a kernel died. :func:`write_flags` puts everything found in the notebook's metadata
(``mtbert.flags``, read by ``make flags``) and at the top of the graded notebook, so the feedback shows it too.
Nothing the student's code does can reach this process: it only reads the notebook file and the kernel's messages.
"""
from __future__ import annotations

import hmac
import os
import sys

from nbformat.notebooknode import NotebookNode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audit import audit_notebook, describe  # noqa: E402 (sandbox.py uses verdict.describe too)

MIME = "application/vnd.mtbert.integrity+json"  # mtbert_ref.grading.integrity.MIME (not imported: no torch here)
FLAG_CELL = "mtbert-flags"


def flag(cell: int | None, grade_id: str | None, technique: str, line: int | None = None, code: str = "",
         kind: str = "tampering") -> dict:
    return {"cell": cell, "grade_id": grade_id, "line": line, "code": code, "technique": technique, "kind": kind}


def audit(nb, released) -> list[dict]:
    return [dict(f.as_dict(), kind="tampering") for f in audit_notebook(nb, released)]


def _sign(key: bytes, seq: int, problems: list) -> str:
    import hashlib
    import json
    return hmac.new(key, json.dumps([seq, problems]).encode(), hashlib.sha256).hexdigest()


def read_heartbeats(nb, key: bytes, last_cell: int | None = None) -> list[dict]:
    """Check and strip the integrity heartbeats; flags for changes, forgeries and silence (first cell only)."""
    flags, seen_problems, last_seq, silent_from = [], set(), 0, None
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        beats = [o for o in cell.get("outputs", []) if o.get("output_type") == "display_data" and MIME in o.get(
            "data", {})]
        cell.outputs = [o for o in cell.get("outputs", []) if o not in beats]
        ran = cell.get("execution_count") is not None and cell.source.strip()
        if last_cell is not None and index > last_cell:
            break
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not beats:
            if ran and silent_from is None:
                silent_from = (index, gid)
            continue
        for beat in beats:
            payload = beat["data"][MIME]
            seq, problems = payload.get("seq"), payload.get("problems")
            good = isinstance(seq, int) and isinstance(problems, list) and hmac.compare_digest(
                str(payload.get("mac", "")), _sign(key, seq, problems))
            if not good or seq <= last_seq:
                flags.append(flag(index, gid, "a forged or replayed integrity report appeared in this cell's output"))
                continue
            last_seq = seq
            for problem in problems:
                if problem not in seen_problems:
                    seen_problems.add(problem)
                    flags.append(flag(index, gid, f"after this cell ran: {problem}"))
        if silent_from is not None:  # a gap followed by reports again: the monitor was silenced for a while
            flags.append(flag(silent_from[0], silent_from[1], "the integrity monitor's reports stopped from this "
                                                              f"cell until cell {index}"))
            silent_from = None
    if silent_from is not None:
        flags.append(flag(silent_from[0], silent_from[1], "the integrity monitor stopped reporting from this cell "
                                                          "on (its hook was removed or its output suppressed)"))
    return flags


def finish_dead_kernel(nb, died_at: int | None, error: Exception) -> list[dict]:
    """The kernel died while running cell ``died_at`` (0-based): that cell and every later code cell get an error
    output (so their tests score 0 and say why), the tests that ran before keep their outputs and points."""
    start = died_at if died_at is not None else 0
    for cell in nb.cells[start:]:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        where = "while running this cell" if cell is nb.cells[start] else f"in cell {start + 1}, before this cell ran"
        cell.outputs = list(cell.get("outputs", [])) + [NotebookNode(
            output_type="error", ename="DeadKernelError", evalue=f"the kernel died {where}",
            traceback=[f"DeadKernelError: the kernel died {where} ({str(error).strip()[:200]}); tests that ran "
                       "before keep their points"])]
    gid = nb.cells[start].metadata.get("nbgrader", {}).get("grade_id") if start < len(nb.cells) else None
    return [flag(start + 1, gid, "the kernel died while running this cell (os._exit, a crash or out of memory); "
                                 "tests that ran before it kept their points", kind="kernel")]


def _cell_text(flags: list[dict], repairs: list[str]) -> str:
    parts = []
    serious = [f for f in flags if f["kind"] != "kernel"]
    if serious:
        parts.append("### \u26a0 Flagged for your instructor\n\nThe grader found code in this notebook that can change "
                     "how it is graded. Your instructor reviews these lines; the scores below may change.\n")
        parts += [f"- {describe(f)}" for f in serious]
    for f in flags:
        if f["kind"] == "kernel":
            parts.append(f"\n**The kernel died** in cell {f['cell']}: {f['technique']}.")
    if repairs:
        parts.append("\n**Repaired before grading** (your answers keep their points):\n")
        parts += [f"- {r}" for r in repairs]
    return "\n".join(parts)


def write_flags(nb, flags: list[dict]) -> None:
    """Record ``flags`` in the notebook metadata and in a Markdown cell at the top (feedback shows it)."""
    meta = nb.metadata.setdefault("mtbert", {})
    meta["flags"] = flags
    repairs = list(meta.get("repairs", []))
    nb.cells = [c for c in nb.cells if c.metadata.get("mtbert") != FLAG_CELL]
    if flags or repairs:
        cell = NotebookNode(cell_type="markdown", metadata={"mtbert": FLAG_CELL}, source=_cell_text(flags, repairs))
        if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
            cell["id"] = FLAG_CELL
        nb.cells.insert(0, cell)
