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

import subprocess

from conftest import BIN, ROOT, SANDBOX_MISSING, autograde, notebook_path, run_nbgrader
from instructor.tampering import MARKER, catalogue

ASSIGNMENT = "00_bert_anatomy"
POINTS = {"test_masked_mean_pool": 3, "test_count_parameters": 2, "test_head_parameters": 2,
          "test_concept_hidden_states_shape": 1}
FULL = sum(POINTS.values())

CONCEPT_OK = "answer_hidden_states_shape = (7, 4, 12, 384)"   # the concept check (mtbert_ref.grading.concepts)
CONCEPT_WRONG = "answer_hidden_states_shape = (6, 4, 12, 384)"  # forgets the embeddings' entry

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


POOL_WARNS = '''
import warnings, sys
def masked_mean_pool(last_hidden_state, attention_mask):
    warnings.warn("an ordinary warning from a correct answer")
    print("a debugging line on stderr", file=sys.stderr)
    m = attention_mask.to(last_hidden_state.dtype).unsqueeze(-1)
    return (last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1)
'''
COUNT_READS_MT = '''
def count_parameters(module, trainable_only=False):
    helper_module = anatomy  # the set-up cell's own alias of the module that holds the reference: only read
    assert helper_module.__name__.startswith("mtbert_ref")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
'''


def _kill_after_tests(nb):
    nb.cells.append(nbformat.v4.new_code_cell("import os\nos._exit(1)"))


def _student(pool=POOL_OK, count=COUNT_OK, head=HEAD_OK, delete=(), edit=None, expect=FULL, why="", flag=None,
             transform=None, concept=CONCEPT_OK):
    return dict(answers={"masked_mean_pool": pool, "count_parameters": count, "head_parameters": head,
                         "concept_hidden_states_shape": concept},
                delete=delete, edit=edit or {}, expect=expect, why=why, flag=flag, transform=transform)


CLASS_ALL = {
    "s01_correct": _student(why="the instructor's answers"),
    "s02_correct_einsum": _student(pool=POOL_EINSUM),
    "s03_correct_loops": _student(count=COUNT_LOOP, head=HEAD_BY_NAME),
    "s04_slow_but_correct": _student(pool=POOL_SLOW_LOOPS, why="Python loops: slow on CPU, still correct"),
    "s11_pool_ignores_mask": _student(pool=POOL_NO_MASK, expect=FULL - 3),
    "s12_pool_nan_on_empty_row": _student(pool=POOL_NO_CLAMP, expect=FULL - 3,
                                          why="passes the visible test, fails a hidden one"),
    "s13_count_ignores_flag": _student(count=COUNT_IGNORES_FLAG, expect=FULL - 2),
    "s14_count_returns_tensor": _student(count=COUNT_TENSOR, expect=FULL - 2),
    "s15_head_counts_all": _student(head=HEAD_ALL, expect=FULL - 2),
    "s16_head_counts_tied_twice": _student(head=HEAD_DOUBLE_TIED, expect=FULL - 2),
    "s17_two_wrong": _student(pool=POOL_NO_MASK, head=HEAD_ALL, expect=FULL - 5),
    "s18_all_wrong": _student(pool=POOL_NO_MASK, count=COUNT_IGNORES_FLAG, head=HEAD_ALL, concept=CONCEPT_WRONG,
                              expect=0),
    "s19_endless_loop_in_function": _student(pool=POOL_ENDLESS, expect=FULL - 3,
                                             why="the checker's time limit stops it"),
    "s20_endless_loop_in_cell": _student(pool=TOP_LEVEL_LOOP, expect=FULL - 3,
                                         why="nbgrader's cell timeout interrupts it; the rest still runs"),
    "s21_imports_reference": _student(pool=POOL_REFERENCE, expect=FULL - 3, why="integrity check"),
    "s22_renamed_function": _student(pool=POOL_RENAMED, expect=FULL - 3),
    "s23_syntax_error": _student(pool=POOL_SYNTAX_ERROR, expect=FULL - 3),
    "s24_kills_kernel": _student(pool=KILLS_KERNEL, expect=0, flag="os._exit",
                                 why="the kernel dies at the first exercise: nothing after it can run"),
    "s25_deleted_test_cell": _student(delete=("test_count_parameters",), expect=FULL,
                                      why="nbgrader puts the deleted test back and runs it"),
    "s26_deleted_test_cell_wrong": _student(count=COUNT_IGNORES_FLAG, delete=("test_count_parameters",),
                                            expect=FULL - 2),
    "s27_edited_test_cell": _student(head=HEAD_ALL, edit={"test_head_parameters": "pass  # tests? what tests"},
                                     expect=FULL - 2, why="the original test cell is restored"),
    "s28_untouched": dict(answers={}, delete=(), edit={}, expect=0, why="the released notebook as is", flag=None,
                          transform=None),
    "s29_only_pool": dict(answers={"masked_mean_pool": POOL_OK}, delete=(), edit={}, expect=3, flag=None,
                          transform=None),
    # honest mistakes that cost nothing (#19 item 4)
    "h01_warns_while_checked": _student(pool=POOL_WARNS, why="a UserWarning and a stderr line inside the check"),
    "h02_kernel_dies_after_tests": _student(transform=_kill_after_tests, expect=FULL, flag="os._exit",
                                            why="the points earned before the kernel died are kept"),
    "h03_reads_constant_via_alias": _student(count=COUNT_READS_MT, why="reading mt.<constant> is not the reference"),
    **catalogue(_student, FULL, POOL_OK),
    "zz_victim_wrong_pool": _student(pool=POOL_NO_MASK, expect=FULL - 3,
                                     why="graded after every tampering attempt: the package and checkers are intact"),
    "zz_victim_correct": _student(why="graded last: a correct submission keeps full marks"),
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
    if spec.get("transform"):
        spec["transform"](nb)
    return nb


def _tree_digest(root) -> dict:
    """Content hash of every file of the course tree that student code must not change."""
    import hashlib
    skip = {"autograded", "feedback", "submitted"}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not (set(p.relative_to(root).parts) & skip) and not p.name.startswith(
                ("gradebook.db", ".nbgrader.log", "flags.csv")) and "__pycache__" not in p.parts}


def _flags(course, student):
    nb = nbformat.read(notebook_path(course / "autograded" / student, ASSIGNMENT), as_version=4)
    return [f for f in nb.metadata.get("mtbert", {}).get("flags", []) if f["kind"] in ("tampering", "kernel")]


# make test grades the class without these: each repeats a case that a faster test already covers through nbgrader
# (the correct-answer catalogue, tests/catalogue/, or a checker's wrong-answer catalogue, tests/grading/);
# make test-full grades the whole class.
EXTENDED = {"s02_correct_einsum", "s03_correct_loops", "s04_slow_but_correct", "s11_pool_ignores_mask",
            "s13_count_ignores_flag", "s14_count_returns_tensor", "s15_head_counts_all", "s16_head_counts_tied_twice",
            "s22_renamed_function", "s23_syntax_error", "s26_deleted_test_cell_wrong", "s29_only_pool"}


@pytest.mark.slow
@pytest.mark.parametrize("size", ["core", pytest.param("whole", marks=pytest.mark.fullsize)])
def test_class_is_graded_right_and_tampering_is_stopped_or_flagged(tmp_path, monkeypatch, size):
    """The class: honest students (right, wrong, slow, careless) and the tampering catalogue, graded with
    `make autograde JOBS=2` (two sandboxes, one gradebook); victims are graded after the tamperers."""
    assert EXTENDED <= set(CLASS_ALL), f"EXTENDED names students the class does not have: {EXTENDED - set(CLASS_ALL)}"
    CLASS = {k: v for k, v in CLASS_ALL.items() if size == "whole" or k not in EXTENDED}
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
    package = _tree_digest(ROOT / "mtbert_ref")
    run_nbgrader(["db", "upgrade"], cwd=course)
    before = _tree_digest(course)

    start = time.perf_counter()
    proc = autograde(ASSIGNMENT, course, jobs=2, timeout=3600)     # fails the test, with nbgrader's output, if it fails
    wall = time.perf_counter() - start
    print(f"\nautograded {len(CLASS)} submissions with JOBS=2 in {wall:.0f} s")

    # Student code changed nothing outside its sandbox, and left nothing running.
    assert _tree_digest(course) == before, "student code changed the course tree"
    assert _tree_digest(ROOT / "mtbert_ref") == package, "student code changed the installed package"
    left = subprocess.run(["pgrep", "-af", MARKER], capture_output=True, text=True).stdout.strip()
    assert not left, f"processes started by submissions outlived grading:\n{left}"

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s.student_id: (s.score, s.max_score) for s in gb.assignment_submissions(ASSIGNMENT)}
    assert set(scores) == set(CLASS), f"not every student was graded: missing {set(CLASS) - set(scores)}"
    assert all(m == FULL for _, m in scores.values()), "a submission changed its maximum score"
    report, problems = [], []
    for student, spec in CLASS.items():
        got, flags = scores[student][0], _flags(course, student)
        named = [f["technique"] for f in flags]
        report.append(f"{student:34s} {got:4.1f}/{FULL} deserved {spec['expect']}  flags: {named[:2]}")
        if spec["flag"]:
            if not any(spec["flag"] in t or spec["flag"] in (f.get("code") or "") for t, f in zip(named, flags)):
                problems.append(f"{student}: no flag naming {spec['flag']!r} (flags: {named})")
            if got > spec["expect"] and not flags:
                problems.append(f"{student}: {got} > deserved {spec['expect']} without a flag")
        else:
            if got != spec["expect"]:
                problems.append(f"{student}: got {got}, expected {spec['expect']} ({spec['why']})")
            if flags:
                problems.append(f"{student}: an honest submission was flagged: {named}")
    print("\n".join(report))
    if SANDBOX_MISSING:  # without the sandbox the cross-submission attacks are not stopped: only the rest is checked
        problems = [p for p in problems if not p.startswith(("x0", "r0", "zz_"))]
    assert not problems, "\n".join(problems) + "\n" + proc.stdout[-2000:]
    flags_proc = subprocess.run([str(BIN / "python"), str(ROOT / "scripts" / "instructor" / "flags.py"), "--course",
                                 str(course), "--out", str(tmp_path / "flags.csv")], capture_output=True, text=True)
    assert "FLAG t01_replaces_checker" in flags_proc.stdout and "line 2" in flags_proc.stdout

    run_nbgrader(["generate_feedback", ASSIGNMENT, "--force"], cwd=course)
    for student in CLASS:
        html = list((course / "feedback" / student / ASSIGNMENT).glob("*.html"))
        assert html, f"no feedback for {student}"
        text = html[0].read_text()
        assert "hidden_tests=True" not in text and "BEGIN HIDDEN TESTS" not in text, f"{student}: hidden tests shown"
        assert "BEGIN SOLUTION" not in text, f"{student}: the instructor's solution reached the feedback"
    text = next((course / "feedback" / "s21_imports_reference" / ASSIGNMENT).glob("*.html")).read_text()
    assert "reference implementation" in text, "the feedback should tell the student why the answer got 0"
    text = next((course / "feedback" / "t01_replaces_checker" / ASSIGNMENT).glob("*.html")).read_text()
    assert "Flagged for your instructor" in text
    # Honest submissions no longer log nbgrader's "checksum has changed" (untouched test cells); an edited one does.
    log = proc.stdout + proc.stderr
    assert 1 <= log.count("Attribute 'checksum'") <= 2, "only the two edited test cells should log a checksum change"

    # Determinism: the same submissions graded again give the same scores.
    for student in ("s12_pool_nan_on_empty_row", "s17_two_wrong", "s01_correct"):
        run_nbgrader(["autograde", ASSIGNMENT, "--force", "--student", student], cwd=course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in ("s12_pool_nan_on_empty_row", "s17_two_wrong", "s01_correct"):
            assert gb.find_submission(ASSIGNMENT, student).score == scores[student][0]
