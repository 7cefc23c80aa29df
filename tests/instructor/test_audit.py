"""The instructor-side pieces of a trustworthy verdict, without a kernel: the static audit, the metadata repair, the
heartbeat check (the same pieces run for real, through nbgrader, in tests/test_class_autograde.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "instructor"))

from audit import audit_notebook, audit_source  # noqa: E402
from repair import released_source, repair  # noqa: E402
import verdict  # noqa: E402

from . import tampering  # noqa: E402

IN_KERNEL = {
    "REPLACE_CHECKER": "changes the imported `mtbert_ref.grading.anatomy`",
    "SETATTR_CHECKER": "setattr",
    "SWAP_SYS_MODULES": "sys.modules",
    "HOOK_IMPORT": "__import__",
    "TORCH_ISCLOSE": "changes the imported `torch`",
    "TENSOR_ALL": "changes the imported `torch`",
    "AGREES_WITH_ANYTHING": "defines `__eq__`",
    "INPUT_TRANSFORMER": "get_ipython",
    "AST_TRANSFORMER": "get_ipython",
    "REF_COMPUTED_IMPORT": "computed at run time",
    "REF_COPIED_CODE": "__code__",
    "REF_EXEC_SOURCE": "exec",
    "PROCESS_FLOOD": "subprocess",
    "LINGERING_PROCESS": "subprocess",
}
MORE = {
    "vars(torch)['equal'] = lambda *a: True": "vars()",
    "t = torch\nt.equal = None": "changes the imported `torch`",
    "import sys\nsys.settrace(lambda *a: None)": "trace hook",
    "import os\nos._exit(0)": "os._exit",
    "%%time\nimport builtins\nbuiltins.len = lambda x: 0": "builtins",
    "!cat /etc/passwd": "shell command",
    "from unittest import mock\nmock.patch('torch.equal', return_value=True).start()": "mock",
    "import ctypes": "ctypes",
    "import gc\ngc.get_objects()": "gc",
    "class T(torch.Tensor):\n    pass": "torch.Tensor",
    "f = eval": "eval",
    "def f(x):\n    return x\nf.__globals__['torch'] = None": "__globals__",
    "import inspect\ninspect.currentframe().f_back.f_globals['x'] = 1": "f_back",
    "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)": "get_ipython",
    "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)": "signal",
    "import importlib\nm = importlib.import_module(name)": "computed at run time",
}
HONEST = [
    "%matplotlib inline\nimport torch",
    "%%time\nx = torch.ones(3).sum()",
    "class Head(torch.nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
    "        setattr(self, 'layer', torch.nn.Linear(n, 2))\n    def forward(self, x):\n        return self.layer(x)",
    "torch.backends.cudnn.benchmark = False",
    "import numpy as np\nnp.random.seed(0)\nimport random\nrandom.seed(0)",
    "def f(d):\n    d['x'] = 1\n    return self.__dict__ if False else d",
    "from collections import Counter\nc = Counter('abc')\nc['a'] += 1",
    "import sys\nprint(sys.version, file=sys.stderr)",
    "model.bert.embeddings.word_embeddings.weight.requires_grad_(False)\nmodel.config.num_labels = 3",
    "import os\npath = os.path.join('a', 'b')",
]


@pytest.mark.parametrize("name", list(IN_KERNEL))
def test_catalogue_attacks_are_found_by_the_audit(name):
    found = audit_source(getattr(tampering, name), {"torch": "torch"})
    assert any(IN_KERNEL[name] in why for _, why in found), found


@pytest.mark.parametrize("source", list(MORE))
def test_more_tampering_constructs_are_found(source):
    found = audit_source(source, {"torch": "torch"})
    assert any(MORE[source] in why for _, why in found), found


@pytest.mark.parametrize("source", HONEST)
def test_honest_code_is_not_flagged(source):
    assert audit_source(source, {"torch": "torch", "model": "x"} if "model" not in source else {"torch": "torch"}) \
        == []


@pytest.mark.parametrize("assignment", sorted(p.name for p in (ROOT / "solutions").iterdir()
                                              if p.is_dir() and p.name[:2].isdigit()))
def test_the_solutions_raise_no_flag(assignment):
    """Every answer the instructor wrote, audited as a submission against the released notebook: no finding."""
    sol = nbformat.read(next((ROOT / "solutions" / assignment).glob("*.ipynb")), as_version=4)
    rel = nbformat.read(next((ROOT / "notebooks" / assignment).glob("*.ipynb")), as_version=4)
    assert [f.describe() for f in audit_notebook(sol, rel)] == []


def test_a_finding_names_cell_line_and_code():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch"),
                                         nbformat.v4.new_code_cell("x = 1\ntorch.equal = lambda *a: True")])
    nb.cells[1].metadata["nbgrader"] = {"grade_id": "answer", "solution": True}
    (f,) = audit_notebook(nb)
    assert (f.cell, f.grade_id, f.line, f.code) == (2, "answer", 2, "torch.equal = lambda *a: True")
    assert "changes the imported `torch`" in f.describe()


# --- repair --------------------------------------------------------------------------------------------------
class _Src:
    def __init__(self, name, source, solution, locked, points=None):
        self.name, self.source, self.solution, self.locked, self.cell_type = name, source, solution, locked, "code"
        self.metadata = {"grade": points is not None, "grade_id": name, "locked": locked, "solution": solution,
                         "schema_version": 3, "task": False, **({"points": points} if points else {})}


SOURCES = [_Src("ans", "def f(x):\n    raise NotImplementedError()", True, False),
           _Src("test_ans", "check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, hidden_tests=True)\n### END HIDDEN TESTS",
                False, True, 2)]


def _submission(answer="def f(x):\n    return x"):
    cells = [nbformat.v4.new_code_cell(answer), nbformat.v4.new_code_cell(released_source(SOURCES[1].source))]
    for cell, src in zip(cells, SOURCES):
        cell.metadata["nbgrader"] = dict(src.metadata)
    return nbformat.v4.new_notebook(cells=cells)


def test_untouched_test_cells_get_the_gradebook_source_so_no_checksum_warning():
    nb = _submission()
    assert repair(nb, SOURCES) == []
    assert nb.cells[1].source == SOURCES[1].source


def test_a_duplicated_answer_cell_keeps_the_id_on_the_worked_copy():
    nb = _submission()
    stub = nbformat.v4.new_code_cell(SOURCES[0].source, metadata={"nbgrader": dict(SOURCES[0].metadata)})
    nb.cells.insert(1, stub)
    notes = repair(nb, SOURCES)
    assert "nbgrader" in nb.cells[0].metadata and "nbgrader" not in nb.cells[1].metadata, notes
    assert any("copy/paste" in n for n in notes)


def test_stripped_metadata_is_matched_by_content():
    nb = _submission()
    for cell in nb.cells:
        del cell.metadata["nbgrader"]
    notes = repair(nb, SOURCES)
    assert [c.metadata["nbgrader"]["grade_id"] for c in nb.cells] == ["ans", "test_ans"], notes


def test_an_edited_test_cell_is_noted():
    nb = _submission()
    nb.cells[1].source = "pass"
    assert any("was edited" in n for n in repair(nb, SOURCES))


# --- heartbeats ---------------------------------------------------------------------------------------------------
def _beat(key, seq, problems=()):
    problems = list(problems)
    return nbformat.v4.new_output("display_data", data={verdict.MIME: {
        "seq": seq, "problems": problems, "mac": verdict._sign(key, seq, problems)}})


def _ran(source, *outputs):
    cell = nbformat.v4.new_code_cell(source)
    cell.execution_count, cell.outputs = 1, list(outputs)
    return cell


def test_heartbeats_are_checked_and_removed():
    key = b"k"
    nb = nbformat.v4.new_notebook(cells=[_ran("a = 1", _beat(key, 1)), _ran("b = 2", _beat(key, 2, ["x changed"]))])
    flags = verdict.read_heartbeats(nb, key)
    assert [f["technique"] for f in flags] == ["after this cell ran: x changed"] and flags[0]["cell"] == 2
    assert all(not c.outputs for c in nb.cells)


def test_forged_and_missing_heartbeats_are_flagged():
    key = b"k"
    nb = nbformat.v4.new_notebook(cells=[_ran("a = 1", _beat(key, 1)), _ran("b = 2", _beat(b"guess", 2)),
                                         _ran("c = 3")])
    techniques = " | ".join(f["technique"] for f in verdict.read_heartbeats(nb, key))
    assert "forged" in techniques and "stopped reporting" in techniques


def test_feedback_hides_hidden_tests_in_source_and_tracebacks():
    from feedback import HideHiddenTests, NOTE
    src = "check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, hidden_tests=True)\n### END HIDDEN TESTS"
    cell = nbformat.v4.new_code_cell(src)
    cell.outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="f", traceback=[
        "Cell In[7], line 1\n----> 1 check(f)\n      2 ### BEGIN HIDDEN TESTS\n      3 check(f, hidden_tests=True)\n"
        "      4 ### END HIDDEN TESTS\n", "NameError: name 'f' is not defined"])]
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    shown = cell.source + "".join(cell.outputs[0].traceback)
    assert "hidden_tests" not in shown and "HIDDEN TESTS" not in shown and NOTE in cell.source
    assert "----> 1 check(f)" in shown and "NameError" in shown


HEARTBEAT_UNDER_INTERRUPT = r'''
import os, json
os.environ["MTBERT_INTEGRITY_KEY"] = "k"
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
sent = []
shell.display_pub.publish = lambda data, metadata=None, **kw: sent.append(data)
from mtbert_ref.grading import integrity
real, calls = integrity.Snapshot.changes, []
def changes(self):  # nbgrader's interrupt lands while the monitor compares, on the first heartbeat
    calls.append(1)
    if len(calls) == 1:
        raise KeyboardInterrupt
    return real(self)
integrity.Snapshot.changes = changes
integrity.install()
shell.run_cell("x = 1")
print(json.dumps([d[integrity.MIME] for d in sent if integrity.MIME in d]))
'''


def test_an_interrupt_during_the_heartbeat_does_not_lose_it():
    """nbgrader's cell timeout (an interrupt message: KeyboardInterrupt) can arrive just after a checker's own time
    limit ended the cell, while the monitor's hook runs; the heartbeat must still be published once, correctly signed
    (CI saw a false "reports stopped" flag from this race)."""
    import json
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", HEARTBEAT_UNDER_INTERRUPT], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    beats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(beats) == 1, beats
    assert beats[0]["seq"] == 1 and beats[0]["mac"] == verdict._sign(b"k", 1, beats[0]["problems"])
