"""A simulated class of 30 submissions of notebook 00, autograded with nbgrader as an instructor would.

Every student's expected score is asserted (read from the gradebook), the run completes although some submissions
loop forever or kill their kernel, feedback HTML exists for everyone, and grading twice more gives identical scores.
"""
from __future__ import annotations

import shutil
import time

import nbformat
import pytest
from nbgrader.api import Gradebook

import re
import subprocess

from conftest import BIN, ROOT, notebook_path, run_nbgrader, subprocess_env

ASSIGNMENT = "00_bert_anatomy"
POINTS = {"test_masked_mean_pool": 3, "test_count_parameters": 2, "test_head_parameters": 2}
FULL = sum(POINTS.values())

# --- answers for the three solution cells (the student notebook keeps `import torch` from its set-up cell)
POOL_OK = '''
def masked_mean_pool(last_hidden_state, attention_mask):
    m = attention_mask.to(last_hidden_state.dtype).unsqueeze(-1)
    return (last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1)
'''
POOL_EINSUM = '''
def masked_mean_pool(last_hidden_state, attention_mask):
    m = attention_mask.to(last_hidden_state.dtype)
    total = torch.einsum("bsh,bs->bh", last_hidden_state, m)
    return total / torch.clamp(m.sum(dim=1, keepdim=True), min=1.0)
'''
POOL_SLOW_LOOPS = '''
def masked_mean_pool(last_hidden_state, attention_mask):
    out = torch.zeros(last_hidden_state.shape[0], last_hidden_state.shape[2], dtype=last_hidden_state.dtype,
                      device=last_hidden_state.device)
    for b in range(last_hidden_state.shape[0]):
        n = 0
        for t in range(last_hidden_state.shape[1]):
            if bool(attention_mask[b, t]):
                out[b] = out[b] + last_hidden_state[b, t]
                n += 1
        if n:
            out[b] = out[b] / n
    return out
'''
POOL_NO_MASK = '''
def masked_mean_pool(last_hidden_state, attention_mask):
    return last_hidden_state.mean(dim=1)
'''
POOL_NO_CLAMP = '''
def masked_mean_pool(last_hidden_state, attention_mask):
    m = attention_mask.to(last_hidden_state.dtype).unsqueeze(-1)
    return (last_hidden_state * m).sum(1) / m.sum(1)
'''
POOL_ENDLESS = '''
def masked_mean_pool(last_hidden_state, attention_mask):
    while True:
        pass
'''
POOL_REFERENCE = '''
from mtbert_ref.modeling.pooling import masked_mean_pool
'''
POOL_RENAMED = '''
def mean_pool(last_hidden_state, attention_mask):
    m = attention_mask.to(last_hidden_state.dtype).unsqueeze(-1)
    return (last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1)
'''
POOL_SYNTAX_ERROR = '''
def masked_mean_pool(last_hidden_state, attention_mask)
    return last_hidden_state.mean(1)
'''
TOP_LEVEL_LOOP = '''
import time
while True:
    time.sleep(0.1)
''' + POOL_OK
KILLS_KERNEL = '''
import os
os._exit(1)
'''
COUNT_OK = '''
def count_parameters(module, trainable_only=False):
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
'''
COUNT_LOOP = '''
def count_parameters(module, trainable_only=False):
    total = 0
    for p in module.parameters():
        if trainable_only and not p.requires_grad:
            continue
        total += p.numel()
    return total
'''
COUNT_IGNORES_FLAG = '''
def count_parameters(module, trainable_only=False):
    return sum(p.numel() for p in module.parameters())
'''
COUNT_TENSOR = '''
def count_parameters(module, trainable_only=False):
    return torch.tensor(sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only))
'''
HEAD_OK = '''
def head_parameters(model):
    enc = {id(p) for p in model.bert.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in enc)
'''
HEAD_BY_NAME = '''
def head_parameters(model):
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith("bert."))
'''
HEAD_ALL = '''
def head_parameters(model):
    return sum(p.numel() for p in model.parameters())
'''
HEAD_DOUBLE_TIED = '''
def head_parameters(model):
    return sum(p.numel() for n, p in model.named_parameters(remove_duplicate=False) if not n.startswith("bert."))
'''


def _student(pool=POOL_OK, count=COUNT_OK, head=HEAD_OK, delete=(), edit=None, expect=FULL, why=""):
    return dict(answers={"masked_mean_pool": pool, "count_parameters": count, "head_parameters": head},
                delete=delete, edit=edit or {}, expect=expect, why=why)


CLASS = {
    "s01_correct": _student(why="the instructor's answers"),
    "s02_correct_einsum": _student(pool=POOL_EINSUM),
    "s03_correct_loops": _student(count=COUNT_LOOP, head=HEAD_BY_NAME),
    "s04_slow_but_correct": _student(pool=POOL_SLOW_LOOPS, why="Python loops: slow on CPU, still correct"),
    "s05_correct": _student(pool=POOL_EINSUM, count=COUNT_LOOP),
    "s06_correct": _student(head=HEAD_BY_NAME),
    "s07_correct": _student(),
    "s08_correct": _student(pool=POOL_EINSUM, head=HEAD_BY_NAME),
    "s09_correct": _student(count=COUNT_LOOP),
    "s10_correct": _student(),
    "s11_pool_ignores_mask": _student(pool=POOL_NO_MASK, expect=FULL - 3),
    "s12_pool_nan_on_empty_row": _student(pool=POOL_NO_CLAMP, expect=FULL - 3,
                                          why="passes the visible test, fails a hidden one"),
    "s13_count_ignores_flag": _student(count=COUNT_IGNORES_FLAG, expect=FULL - 2),
    "s14_count_returns_tensor": _student(count=COUNT_TENSOR, expect=FULL - 2),
    "s15_head_counts_all": _student(head=HEAD_ALL, expect=FULL - 2),
    "s16_head_counts_tied_twice": _student(head=HEAD_DOUBLE_TIED, expect=FULL - 2),
    "s17_two_wrong": _student(pool=POOL_NO_MASK, head=HEAD_ALL, expect=FULL - 5),
    "s18_all_wrong": _student(pool=POOL_NO_MASK, count=COUNT_IGNORES_FLAG, head=HEAD_ALL, expect=0),
    "s19_endless_loop_in_function": _student(pool=POOL_ENDLESS, expect=FULL - 3,
                                             why="the checker's time limit stops it"),
    "s20_endless_loop_in_cell": _student(pool=TOP_LEVEL_LOOP, expect=FULL - 3,
                                         why="nbgrader's cell timeout interrupts it; the rest still runs"),
    "s21_imports_reference": _student(pool=POOL_REFERENCE, expect=FULL - 3, why="integrity check"),
    "s22_renamed_function": _student(pool=POOL_RENAMED, expect=FULL - 3),
    "s23_syntax_error": _student(pool=POOL_SYNTAX_ERROR, expect=FULL - 3),
    "s24_kills_kernel": _student(pool=KILLS_KERNEL, expect=0,
                                 why="the kernel dies at the first exercise: nothing after it can run"),
    "s25_deleted_test_cell": _student(delete=("test_count_parameters",), expect=FULL,
                                      why="nbgrader puts the deleted test back and runs it"),
    "s26_deleted_test_cell_wrong": _student(count=COUNT_IGNORES_FLAG, delete=("test_count_parameters",),
                                            expect=FULL - 2),
    "s27_edited_test_cell": _student(head=HEAD_ALL, edit={"test_head_parameters": "pass  # tests? what tests"},
                                     expect=FULL - 2, why="the original test cell is restored"),
    "s28_untouched": dict(answers={}, delete=(), edit={}, expect=0, why="the released notebook as is"),
    "s29_only_pool": dict(answers={"masked_mean_pool": POOL_OK}, delete=(), edit={}, expect=3),
    "s30_correct": _student(pool=POOL_SLOW_LOOPS, count=COUNT_LOOP, head=HEAD_BY_NAME),
}


def _make_submission(release_nb, spec):
    nb = nbformat.read(release_nb, as_version=4)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in spec["delete"]:
            continue
        if gid in spec["answers"]:
            cell.source = spec["answers"][gid].strip("\n")
        if gid in spec["edit"]:
            cell.source = spec["edit"][gid]
        cells.append(cell)
    nb.cells = cells
    return nb


@pytest.mark.slow
def test_class_of_30_is_graded_right(tmp_path, monkeypatch):
    assert len(CLASS) == 30
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    # A short cell timeout keeps this test quick; the endless loop is still cut and the correct slow answer passes.
    monkeypatch.setenv("MTBERT_CELL_TIMEOUT", "60")
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=course)
    release_nb = notebook_path(course / "notebooks", ASSIGNMENT)
    for student, spec in CLASS.items():
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        nbformat.write(_make_submission(release_nb, spec), dest / release_nb.name)

    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "nbgrader"), "autograde", ASSIGNMENT, "--force"], cwd=course,
                          env=subprocess_env(), capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    print(f"\nautograded {len(CLASS)} submissions in {wall:.0f} s")
    # nbgrader exits 1 when a submission killed its kernel, after grading everyone else: that student only
    failed = set(re.findall(r"error processing assignment '[^']+' for student '([^']+)'", proc.stdout + proc.stderr))
    assert failed <= {"s24_kills_kernel"}, f"nbgrader failed on {failed}:\n{proc.stderr[-4000:]}"
    assert proc.returncode == (1 if failed else 0), proc.stderr[-3000:]

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s.student_id: (s.score, s.max_score) for s in gb.assignment_submissions(ASSIGNMENT)}
        per_cell = {s: {g.name: g.score for g in gb.find_submission_notebook(release_nb.stem, ASSIGNMENT, s).grades}
                    for s in CLASS}
    assert set(scores) == set(CLASS), f"not every student was graded: missing {set(CLASS) - set(scores)}"
    wrong = {s: (scores[s][0], spec["expect"], per_cell[s], spec["why"]) for s, spec in CLASS.items()
             if scores[s][0] != spec["expect"]}
    assert not wrong, f"unexpected scores (got, expected, per cell, why): {wrong}\n{proc.stderr[-3000:]}"
    assert all(m == FULL for _, m in scores.values())

    run_nbgrader(["generate_feedback", ASSIGNMENT, "--force"], cwd=course)
    for student in CLASS:
        if student in failed:  # nbgrader keeps no graded notebook of a submission whose kernel died
            continue
        html = list((course / "feedback" / student / ASSIGNMENT).glob("*.html"))
        assert html, f"no feedback for {student}"
    text = next((course / "feedback" / "s21_imports_reference" / ASSIGNMENT).glob("*.html")).read_text()
    assert "reference implementation" in text, "the feedback should tell the student why the answer got 0"

    # Determinism: the same submissions graded twice more give the same scores.
    for _ in range(2):
        for student in ("s12_pool_nan_on_empty_row", "s17_two_wrong", "s01_correct"):
            run_nbgrader(["autograde", ASSIGNMENT, "--force", "--student", student], cwd=course)
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            for student in ("s12_pool_nan_on_empty_row", "s17_two_wrong", "s01_correct"):
                assert gb.find_submission(ASSIGNMENT, student).score == scores[student][0]
