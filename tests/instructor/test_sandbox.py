"""Autograding runs each submission in a bubblewrap sandbox (scripts/instructor/sandbox.py).

A tiny course (one answer cell, one 2-point test cell) is autograded with real `nbgrader autograde`; a malicious
submission, graded between two honest ones, tries to (a) write gradebook.db, (b) write into the course tree, the
package and the environment, (c) read another student's submission and solutions/, (d) leave processes running,
(e) allocate far too much memory, (f) reach the network. Each attempt must fail, visible from outside: gradebook and
course tree unchanged, nothing left running, both honest students' scores right, no secret in the attacker's output.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import BIN, ROOT, autograde, run_nbgrader, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap (bwrap) is not installed: `make setup-sandbox` installs it (.ci/run does, so CI runs this)")]

A = "tiny"


def _cell(src, gid, **kw):
    cell = nbformat.v4.new_code_cell(src)
    cell.metadata["nbgrader"] = dict(grade_id=gid, schema_version=3, locked=not kw.get("solution"), task=False, **kw)
    return cell


def _course(tmp_path, secret) -> Path:
    course = tmp_path / "course"
    (course / "solutions" / A).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    nb = nbformat.v4.new_notebook(cells=[
        _cell(f"def add(a, b):\n    ### BEGIN SOLUTION\n    # {secret}\n    return a + b\n    ### END SOLUTION",
              "answer", solution=True, grade=False),
        _cell("assert add(2, 3) == 5\nassert add(-1, 1) == 0\nprint('ok')", "test_add", solution=False, grade=True,
              points=2),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, course / "solutions" / A / f"{A}.ipynb")
    run_nbgrader(["generate_assignment", A, "--force"], cwd=course)
    return course


def _submit(course, student, source):
    nb = nbformat.read(course / "notebooks" / A / f"{A}.ipynb", as_version=4)
    nb.cells[0].source = source
    (course / "submitted" / student / A).mkdir(parents=True)
    nbformat.write(nb, course / "submitted" / student / A / f"{A}.ipynb")


def _tree(course) -> dict:
    """Every file of the course except what nbgrader itself writes while grading."""
    return {str(p.relative_to(course)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(course.rglob("*"))
            if p.is_file() and p.relative_to(course).parts[0] not in ("autograded", "gradebook.db")}


def _running(marker) -> list[str]:
    found = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and marker in (p / "cmdline").read_bytes().decode(errors="replace"):
                found.append(p.name)
        except OSError:
            pass
    return found


ATTACK = '''
import json, os, re, socket, sqlite3, subprocess, sys
COURSE, PKG, PORT, MARKER, NAME = {course!r}, {pkg!r}, {port!r}, {marker!r}, {name!r}
R = {{}}
def attempt(what, f):
    try:
        R[what] = "SUCCEEDED " + repr(f())[:300]
    except BaseException as e:
        R[what] = "failed " + type(e).__name__
def sql():
    db = sqlite3.connect(COURSE + "/gradebook.db")
    db.execute("update grade set manual_score = 99, auto_score = 99")
    db.commit()
    return db.execute("select count(*) from grade").fetchone()
attempt("a_gradebook_sql", sql)
attempt("a_gradebook_append", lambda: open(COURSE + "/gradebook.db", "ab").write(b"garbage"))
attempt("b_course_file", lambda: open(COURSE + "/" + NAME, "w").write("x"))
attempt("b_solutions", lambda: open(COURSE + "/solutions/tiny/tiny.ipynb", "a").write("x"))
attempt("b_other_submission", lambda: open(COURSE + "/submitted/c_honest/tiny/tiny.ipynb", "w").write("{{}}"))
attempt("b_package", lambda: open(PKG + "/" + NAME + ".py", "w").write("x"))
attempt("b_environment", lambda: open(sys.prefix + "/" + NAME, "w").write("x"))
secrets = lambda path: re.findall(r"\\w*SECRET_\\w+", open(path).read())
attempt("c_read_submission", lambda: secrets(COURSE + "/submitted/a_honest/tiny/tiny.ipynb"))
attempt("c_read_solutions", lambda: secrets(COURSE + "/solutions/tiny/tiny.ipynb"))
attempt("c_list_course", lambda: os.listdir(COURSE))
attempt("c_walk_submitted", lambda: [f for _, _, fs in os.walk(COURSE + "/submitted") for f in fs] or 1 / 0)
attempt("e_memory", lambda: len(bytearray(8 << 30)))
attempt("f_network", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=3))
# (d) processes that should outlive the kernel: a detached child and a double-forked daemon, both trying again later
later = "import time, sys; time.sleep(900); open(sys.argv[1] + '/LATE', 'w')"
subprocess.Popen([sys.executable, "-c", later, COURSE, MARKER], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", later, COURSE, MARKER])
    os._exit(0)
print("REPORT" + json.dumps(R))
def add(a, b):
    return 0
'''
HONEST = "def add(a, b):\n    # {secret}\n    return a + b"


def test_malicious_submission_is_contained(tmp_path, monkeypatch):
    secret, marker, name = (f"{w}_{uuid.uuid4().hex}" for w in ("SECRET", "MARKER", "pwned"))
    course = _course(tmp_path, "SOLUTION_" + secret)
    pkg = str(ROOT / "mtbert_ref")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    _submit(course, "a_honest", HONEST.format(secret="HONEST_" + secret))
    _submit(course, "b_attacker", ATTACK.format(course=str(course), pkg=pkg, port=port, marker=marker, name=name))
    _submit(course, "c_honest", HONEST.format(secret="later"))
    run_nbgrader(["db", "upgrade"], cwd=course)
    before = _tree(course)
    env = subprocess_env(MTBERT_SANDBOX="on", MTBERT_SANDBOX_MEM_MB="2048")
    proc = subprocess.run([str(BIN / "nbgrader"), "autograde", A, "--force"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    listener.close()
    try:
        assert _running(marker) == [], "a process the submission started outlived grading"
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            scores = {s.student_id: s.score for s in gb.assignment_submissions(A)}
        assert scores == {"a_honest": 2, "b_attacker": 0, "c_honest": 2}, log[-4000:]
        db = sqlite3.connect(course / "gradebook.db")
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("select count(*) from grade where manual_score = 99 or auto_score = 99").fetchone() == (0,)
        assert _tree(course) == before, "student code changed the course tree"
        assert not (Path(pkg) / f"{name}.py").exists() and not (Path(sys.prefix) / name).exists()
        graded = nbformat.read(course / "autograded" / "b_attacker" / A / f"{A}.ipynb", as_version=4)
        text = json.dumps([c.get("outputs", []) for c in graded.cells])
        assert secret not in text, "the attacker read another submission or the solutions"
        lines = [line for c in graded.cells for o in c.get("outputs", []) for line in o.get("text", "").splitlines()]
        report = json.loads(next(line for line in lines if line.startswith("REPORT"))[len("REPORT"):])
        assert sorted(report) == sorted(["a_gradebook_sql", "a_gradebook_append", "b_course_file", "b_solutions",
                                         "b_other_submission", "b_package", "b_environment", "c_read_submission",
                                         "c_read_solutions", "c_list_course", "c_walk_submitted", "e_memory",
                                         "f_network"])
        succeeded = {k: v for k, v in report.items() if not v.startswith("failed")}
        # listing the (empty) course folder the sandbox made as the notebook's parent is harmless
        assert succeeded in ({}, {"c_list_course": "SUCCEEDED ['autograded']"}), succeeded
        assert report["e_memory"] == "failed MemoryError"
    finally:
        for pid in _running(marker):  # never leave anything behind, even when the test fails
            os.kill(int(pid), 9)
        for p in (Path(pkg) / f"{name}.py", Path(sys.prefix) / name):
            p.unlink(missing_ok=True)


def test_jobs_2_grades_everyone_into_one_gradebook(tmp_path):
    course = _course(tmp_path, "s")
    expected = {}
    for i, student in enumerate(["José García", "李雷", "12345", "anne", "bob"]):
        right = i % 2 == 0
        _submit(course, student, "def add(a, b):\n    return a + b" if right else "def add(a, b):\n    return a - b")
        expected[student] = 2 if right else 0
    proc = autograde(A, course, jobs=2, timeout=900, check=False)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s.student_id: s.score for s in gb.assignment_submissions(A)}
    assert scores == expected, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "autograded 5/5 submission(s) of tiny with 2 parallel sandboxes" in proc.stdout


def test_check_refuses_loudly_without_bwrap(tmp_path):
    env = subprocess_env(PATH=str(tmp_path), MTBERT_SANDBOX="on")  # a PATH without bwrap
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "instructor" / "sandbox.py"), "check"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "bubblewrap (bwrap) is not installed" in proc.stderr
    assert "make setup-sandbox" in proc.stderr and "MTBERT_SANDBOX=off" in proc.stderr
    env["MTBERT_SANDBOX"] = "off"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "instructor" / "sandbox.py"), "check"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "WITHOUT a sandbox" in proc.stderr
