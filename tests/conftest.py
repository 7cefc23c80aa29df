"""Shared fixtures: the course's assignments, nbgrader in a temporary course copy, notebook execution."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
ALL_ASSIGNMENTS = sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name[:2].isdigit()) \
    if SOLUTIONS.exists() else []
# solutions/NN_name_zh/ is the Chinese edition (scripts/authoring/translate.py), tested by tests/test_translation.py
ASSIGNMENTS = [a for a in ALL_ASSIGNMENTS if not a.endswith("_zh")]
BIN = Path(sys.executable).parent

# Never touch a model hub from the tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Hidden cases come from the grading secret (grading/core.hidden_seed): one fixed secret keeps the suite reproducible.
os.environ.setdefault("MTBERT_GRADING_SECRET", "mtbert-course-tests")

# Autograding runs each submission in a bubblewrap sandbox (scripts/instructor/sandbox.py). CI installs bwrap
# (.ci/run → make setup-sandbox) and must grade sandboxed; a developer machine without it grades the course's own
# notebooks unsandboxed (they are trusted code) and says so in the summary; tests/instructor/test_sandbox.py skips.
SANDBOX_MISSING = shutil.which("bwrap") is None
if SANDBOX_MISSING:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must autograde in the sandbox, but bubblewrap (bwrap) is not installed: "
                           "run `make setup-sandbox` first (.ci/run does)")
    os.environ["MTBERT_SANDBOX"] = "off"


def pytest_terminal_summary(terminalreporter):
    if SANDBOX_MISSING:
        terminalreporter.write_line("note: bubblewrap (bwrap) is not installed: autograde tests ran unsandboxed and "
                                    "the sandbox tests were skipped (`make setup-sandbox` installs it)")


def notebook_path(base: Path, assignment: str) -> Path:
    nbs = sorted((base / assignment).glob("*.ipynb"))
    assert len(nbs) == 1, f"{base / assignment} should hold exactly one notebook, found {[p.name for p in nbs]}"
    return nbs[0]


def subprocess_env(**extra) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs alembic and the kernel from the venv
    env.update(extra)
    return env


def run_nbgrader(args: list[str], cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=subprocess_env(), capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-5000:]}")
    return proc


def autograde(assignment: str, cwd: Path, jobs: int = 2, timeout: float = 1800,
              check: bool = True) -> subprocess.CompletedProcess:
    """`make autograde ASSIGNMENT=... JOBS=jobs`: every submission of ``cwd``, ``jobs`` sandboxes at a time, one
    gradebook. ``check``: fail with nbgrader's output when it fails (else the caller reads the gradebook)."""
    proc = subprocess.run([str(BIN / "python"), str(ROOT / "scripts" / "instructor" / "parallel.py"), assignment,
                           "--jobs", str(jobs), "--course", str(cwd)], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"autograde {assignment} --jobs {jobs} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory) -> Path:
    """A temporary course directory (config + solutions) in which nbgrader has generated every assignment."""
    base = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", base / "nbgrader_config.py")
    shutil.copytree(SOLUTIONS, base / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for a in ASSIGNMENTS:
        run_nbgrader(["generate_assignment", a, "--force"], cwd=base)
    return base


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def timer():
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start
