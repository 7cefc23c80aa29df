"""Grading-speed figures for `make bench` (issue #19), measured side by side in one run on notebook 00:

  9. one submission autograded in the sandbox vs without it (median of alternating rounds; goal: <= 15 % more)
 10. 40 submissions with `make autograde JOBS=1` vs `JOBS=2` (goal on 2 cores: >= 1.7x)

    python benchmarks/grading.py            # both (about 25 minutes on a 2-core CPU)
    python benchmarks/run_all.py --only 9,10
Every submission is the solution notebook (full marks), so the time is the grader's, not a student's loop.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENT = "00_bert_anatomy"


def _env(**extra) -> dict:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", MTBERT_GRADING_SECRET=os.environ.get("MTBERT_GRADING_SECRET", "bench"))
    env.update(extra)
    return env


def _course(tmp: Path, students: int) -> Path:
    course = tmp / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    subprocess.run([str(BIN / "nbgrader"), "generate_assignment", ASSIGNMENT, "--force"], cwd=course, env=_env(),
                   check=True, capture_output=True)
    solution = next((course / "solutions" / ASSIGNMENT).glob("*.ipynb"))
    for i in range(students):
        dest = course / "submitted" / f"student{i:02d}" / ASSIGNMENT
        dest.mkdir(parents=True)
        shutil.copy(solution, dest / solution.name)
    subprocess.run([str(BIN / "nbgrader"), "db", "upgrade"], cwd=course, env=_env(), check=True, capture_output=True)
    return course


def _autograde(course: Path, jobs: int = 1, student: str | None = None, **env) -> float:
    cmd = [sys.executable, str(ROOT / "scripts" / "instructor" / "parallel.py"), ASSIGNMENT, "--jobs", str(jobs),
           "--course", str(course)]
    if student:
        cmd = [str(BIN / "nbgrader"), "autograde", ASSIGNMENT, "--force", "--student", student]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=course, env=_env(**env), capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
    return time.perf_counter() - start


def fig_sandbox(rows: list, rounds: int = 4) -> None:
    if not shutil.which("bwrap"):
        rows.append(("9", "sandboxed vs unsandboxed autograde", "skipped: bubblewrap not installed", "<= 1.15", "—"))
        return
    with tempfile.TemporaryDirectory() as tmp:
        course = _course(Path(tmp), 1)
        _autograde(course, student="student00")  # warm the file cache
        on, off = [], []
        for _ in range(rounds):
            off.append(_autograde(course, student="student00", MTBERT_SANDBOX="off"))
            on.append(_autograde(course, student="student00", MTBERT_SANDBOX="on"))
    ratio = statistics.median(on) / statistics.median(off)
    rows.append(("9", f"one submission of {ASSIGNMENT}: sandboxed {statistics.median(on):.1f} s vs unsandboxed "
                      f"{statistics.median(off):.1f} s (median of {rounds})", f"{ratio:.2f}x", "<= 1.15x",
                 "met" if ratio <= 1.15 else "NOT met"))


def fig_jobs(rows: list, students: int = 40) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        course = _course(Path(tmp), students)
        one = _autograde(course, jobs=1)
        two = _autograde(course, jobs=2)
    ratio = one / two
    rows.append(("10", f"{students} submissions of {ASSIGNMENT}: JOBS=1 {one / 60:.1f} min vs JOBS=2 "
                       f"{two / 60:.1f} min ({os.cpu_count()} cores)", f"{ratio:.2f}x", ">= 1.7x",
                 "met" if ratio >= 1.7 else "NOT met"))


if __name__ == "__main__":
    table: list = []
    fig_sandbox(table)
    fig_jobs(table)
    for row in table:
        print(" | ".join(row))
