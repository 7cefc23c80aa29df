"""The tampering catalogue (#19): what a dishonest student tries, each as one submission of notebook 00.

tests/test_class_autograde.py grades these in the same class as honest students and two victims graded after them,
with real ``nbgrader autograde`` in the sandbox, and asserts for each: the score is what the work deserves, or the
submission is flagged with the technique named (``flag``: a fragment of the flag's text); the victims keep their
scores; the course tree, the package and the gradebook are unchanged by student code; nothing is left running.

Classes (at least two variants each): in-kernel (replace a checker or what it compares with, hook imports or IPython,
objects that agree with anything, disguised uses of the reference), cross-submission (gradebook, other submissions,
the installed package, the instructor's files, processes that outlive grading), notebook file (copy/paste, stripped
or renamed metadata, changed points), resources (memory, processes).
"""
from __future__ import annotations

import copy

MARKER = "mtbert-tamper-marker"  # in every process a tamperer starts, to find survivors with pgrep -f

# --- in-kernel -------------------------------------------------------------------------------------------------
REPLACE_CHECKER = '''
import mtbert_ref.grading.anatomy as grading_module
grading_module.check_masked_mean_pool = lambda *args, **kwargs: None
masked_mean_pool = None
'''
SETATTR_CHECKER = '''
setattr(__import__("mtbert_ref.grading.anatomy", fromlist=["anatomy"]), "check_masked_mean_pool", print)
masked_mean_pool = None
'''
SWAP_SYS_MODULES = '''
import sys, types
fake = types.ModuleType("mtbert_ref.grading.anatomy")
fake.check_masked_mean_pool = lambda *a, **k: None
sys.modules["mtbert_ref.grading.anatomy"] = fake
masked_mean_pool = None
'''
HOOK_IMPORT = '''
import builtins
_real_import = builtins.__import__
class _Anything:
    def __getattr__(self, name):
        return lambda *a, **k: None
def _import(name, *args, **kwargs):
    return _Anything() if name.startswith("mtbert_ref.grading") else _real_import(name, *args, **kwargs)
builtins.__import__ = _import
masked_mean_pool = None
'''
TORCH_ISCLOSE = '''
import torch
torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)
def masked_mean_pool(last_hidden_state, attention_mask):
    return last_hidden_state.mean(1)
'''
TENSOR_ALL = '''
import torch
torch.Tensor.all = lambda self, *a, **k: torch.tensor(True)
def masked_mean_pool(last_hidden_state, attention_mask):
    return last_hidden_state.mean(1)
'''
AGREES_WITH_ANYTHING = '''
class Agree(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__
def count_parameters(module, trainable_only=False):
    return Agree(0)
'''
INPUT_TRANSFORMER = '''
get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
masked_mean_pool = None
'''
AST_TRANSFORMER = '''
import ast
class Nothing(ast.NodeTransformer):
    def visit_Module(self, node):
        return ast.Module(body=[ast.Pass()], type_ignores=[])
get_ipython().ast_transformers.append(Nothing())
masked_mean_pool = None
'''
REF_COMPUTED_IMPORT = '''
import importlib
masked_mean_pool = getattr(importlib.import_module("mtbert_ref.modeling." + "pooling"), "masked_" + "mean_pool")
def masked_mean_pool(last_hidden_state, attention_mask, _impl=masked_mean_pool):
    return _impl(last_hidden_state, attention_mask)
'''
REF_COPIED_CODE = '''
from mtbert_ref.modeling import pooling as _p
def masked_mean_pool(last_hidden_state, attention_mask):
    pass
masked_mean_pool.__code__ = _p.masked_mean_pool.__code__
'''
REF_EXEC_SOURCE = '''
import inspect
import mtbert_ref.modeling.pooling as _p
_ns = dict(vars(_p))
exec(inspect.getsource(_p.masked_mean_pool), _ns)
masked_mean_pool = _ns["masked_mean_pool"]
'''

# --- cross-submission (the sandbox) ------------------------------------------------------------------------------
WRITE_GRADEBOOK = '''
import os
for up in range(1, 7):
    path = os.path.join(*([".."] * up), "gradebook.db")
    try:
        with open(path, "r+b") as f:
            f.write(b"garbage")
        print("wrote", path)
    except OSError:
        pass
'''
LINGERING_PROCESS = f'''
import subprocess, sys
code = "import os, time  # {MARKER}\\nwhile True:\\n    time.sleep(0.5)\\n    for d in ('..', '../..', '../../..'):\\n        p = os.path.join(d, 'gradebook.db')\\n        if os.path.exists(p):\\n            open(p, 'ab').write(b'x')"
subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
'''
OVERWRITE_OTHERS = '''
import glob
for pattern in ("../../*/00_bert_anatomy/*.ipynb", "../../../submitted/*/00_bert_anatomy/*.ipynb",
                "/tmp/*/course/submitted/*/00_bert_anatomy/*.ipynb"):
    for path in glob.glob(pattern):
        try:
            open(path, "w").write("{}")
            print("overwrote", path)
        except OSError:
            pass
'''
PATCH_PACKAGE = '''
import mtbert_ref.grading.anatomy as _g
try:
    with open(_g.__file__, "a") as f:
        f.write("\\ncheck_masked_mean_pool = lambda *a, **k: None\\n")
    print("patched the package")
except OSError as exc:
    print("package is read-only:", type(exc).__name__)
'''
READ_SOLUTIONS = '''
import glob, os, mtbert_ref
roots = [os.path.dirname(mtbert_ref.__path__[0])] + [os.path.join(*([".."] * up)) for up in range(1, 6)]
for root in roots:
    for path in glob.glob(os.path.join(root, "solutions", "*", "*.ipynb")) + glob.glob(os.path.join(root, "source", "*", "*.ipynb")):
        try:
            print(open(path).read()[:3000])
        except OSError:
            pass
'''

# --- resources ----------------------------------------------------------------------------------------------------
MEMORY_BOMB = '''
import mmap
try:
    _big = mmap.mmap(-1, 12 * 1024 ** 3)
    print("mapped 12 GiB")
except (OSError, MemoryError) as exc:
    print("memory limit hit:", type(exc).__name__)
'''
PROCESS_FLOOD = f'''
import subprocess
_procs = []
try:
    for _ in range(400):
        _procs.append(subprocess.Popen(["sleep", "600", "{MARKER}"]))
    print("started 400 processes")
except OSError as exc:
    print("process limit hit after", len(_procs), type(exc).__name__)
'''


# --- notebook file --------------------------------------------------------------------------------------------
def _cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def duplicate_answer_cell(nb):
    i = nb.cells.index(_cell(nb, "count_parameters"))
    nb.cells.insert(i, copy.deepcopy(nb.cells[i]))
    nb.cells[i].source = "def count_parameters(module, trainable_only=False):\n    raise NotImplementedError()"
    nb.cells[i].id = "duplicate-1"


def strip_metadata(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)


def rename_grade_id(nb):
    _cell(nb, "head_parameters").metadata["nbgrader"]["grade_id"] = "my_head_parameters"


def raise_points(nb):
    _cell(nb, "test_masked_mean_pool").metadata["nbgrader"]["points"] = 100


def unlock_and_edit_test(nb):
    cell = _cell(nb, "test_masked_mean_pool")
    cell.metadata["nbgrader"]["locked"] = False
    cell.source = "print('all good')"


def catalogue(student, full: int, pool_ok: str) -> dict:
    """The tampering submissions, as ``student(...)`` specs (expect = what the work deserves)."""
    no_pool = full - 3
    return {
        "t01_replaces_checker": student(pool=REPLACE_CHECKER, expect=no_pool, flag="anatomy"),
        "t02_setattr_checker": student(pool=SETATTR_CHECKER, expect=no_pool, flag="setattr"),
        "t03_swaps_sys_modules": student(pool=SWAP_SYS_MODULES, expect=no_pool, flag="sys.modules"),
        "t04_hooks_import": student(pool=HOOK_IMPORT, expect=no_pool, flag="__import__"),
        "t05_patches_torch_isclose": student(pool=TORCH_ISCLOSE, expect=no_pool, flag="torch"),
        "t06_patches_tensor_all": student(pool=TENSOR_ALL, expect=no_pool, flag="torch"),
        "t07_agrees_with_anything": student(count=AGREES_WITH_ANYTHING, expect=full - 2, flag="__eq__"),
        "t08_input_transformer": student(pool=INPUT_TRANSFORMER, expect=0, flag="get_ipython"),
        "t09_ast_transformer": student(pool=AST_TRANSFORMER, expect=0, flag="AST transformers"),
        "t10_reference_computed_import": student(pool=REF_COMPUTED_IMPORT, expect=no_pool, flag="importlib"),
        "t11_reference_copied_code": student(pool=REF_COPIED_CODE, expect=no_pool, flag="__code__"),
        "t12_reference_exec_source": student(pool=REF_EXEC_SOURCE, expect=no_pool, flag="exec"),
        "x01_writes_gradebook": student(pool=WRITE_GRADEBOOK + pool_ok),
        "x02_lingering_process": student(pool=LINGERING_PROCESS + pool_ok, flag="subprocess"),
        "x03_overwrites_others": student(pool=OVERWRITE_OTHERS + pool_ok),
        "x04_patches_package": student(pool=PATCH_PACKAGE + pool_ok),
        "x05_reads_solutions": student(pool=READ_SOLUTIONS + pool_ok),
        "r01_memory_bomb": student(pool=MEMORY_BOMB + pool_ok),
        "r02_process_flood": student(pool=PROCESS_FLOOD + pool_ok, flag="subprocess"),
        "n01_duplicated_answer_cell": student(transform=duplicate_answer_cell),
        "n02_stripped_metadata": student(transform=strip_metadata),
        "n03_renamed_grade_id": student(transform=rename_grade_id),
        "n04_raised_points": student(transform=raise_points),
        "n05_unlocked_test_cell": student(pool="masked_mean_pool = None", transform=unlock_and_edit_test,
                                          expect=no_pool),
    }
