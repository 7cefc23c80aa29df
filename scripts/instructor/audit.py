"""Static audit of a submitted notebook for code that can change how it is graded (issue #19, item 2).

Runs in the instructor's process at autograde time (scripts/instructor/sandbox.py, before the kernel starts), on every
code cell the student wrote or changed: cells identical to a cell of the released notebook and the test cells (nbgrader
has already put the instructor's versions back) are not the student's code. Nothing here executes student code: each
cell is turned from IPython syntax into Python by IPython's own transformer and read with :mod:`ast`.

A finding is a flag for the instructor (cell, line, the line's code, the technique), never a score by itself: an honest
student seldom needs any of these constructs, and when one does, the instructor reads the line and decides. The
techniques, and why each is on the list (docs/INSTRUCTOR_GUIDE.md has the threat model):

- changing an imported module or object (``torch.allclose = ...``, ``setattr(checker_module, ...)``): replaces a checker
  or what it compares with;
- code and frame internals (``__code__``, ``__globals__``, ``__closure__``, ``__dict__``, ``f_back``, ...), and the
  class graph (``__subclasses__``, ``__mro__``): reach or rewrite the grader's objects;
- ``exec``/``eval``/``compile``, ``globals()``/``vars()``, ``__import__``, ``__builtins__``, importlib with a computed
  name: run or reach code that no line of the notebook shows;
- ``sys.modules``, tracing/profiling hooks, import hooks, ``builtins``, ``ctypes``, ``gc``, ``inspect`` frames,
  ``signal``, ``os._exit``/``os.kill``/processes, ``unittest.mock``, ``atexit``: change the interpreter under the grader;
- IPython hooks (``get_ipython()``: input transformers, events, custom exception handlers; shell escapes, cell magics
  that run other languages): rewrite or hide later cells;
- a class that defines comparison/truth/conversion hooks (``__eq__``, ``__bool__``, ``__torch_function__``, ...) or
  subclasses ``torch.Tensor``: an object that "agrees" with any expected value.
"""
from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass

FRAME_AND_CODE = {
    "__code__", "__globals__", "__closure__", "__builtins__", "__dict__", "__defaults__", "__kwdefaults__",
    "__wrapped__", "__func__", "__subclasses__", "__bases__", "__base__", "__mro__", "__setattr__", "__delattr__",
    "__getattribute__", "__import__", "__loader__", "__spec__", "__reduce__", "__reduce_ex__", "__traceback__",
    "f_globals", "f_locals", "f_back", "f_code", "f_builtins", "tb_frame", "tb_next", "gi_frame", "cr_frame",
    "ag_frame", "co_code", "co_consts",
}
HOOK_METHODS = {
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__float__", "__int__", "__index__",
    "__complex__", "__torch_function__", "__torch_dispatch__", "__instancecheck__", "__subclasscheck__",
    "__getattr__", "__getattribute__", "__array__", "__array_function__", "__array_ufunc__", "__del__",
    "__init_subclass__", "__set_name__", "__class_getitem__", "__set__", "__get__", "__delete__",
}
BUILTINS = {
    "exec": "runs code given as a string (exec)", "eval": "evaluates code given as a string (eval)",
    "compile": "compiles code at run time (compile)", "__import__": "imports through __import__",
    "globals": "reaches the notebook's namespace through globals()", "vars": "reaches a namespace through vars()",
    "__builtins__": "reaches the builtins", "breakpoint": "starts a debugger (breakpoint)",
    "get_ipython": "uses the IPython shell (get_ipython)",
    "setattr": "sets an attribute by name (setattr)", "delattr": "deletes an attribute by name (delattr)",
}
# Modules whose every use is flagged, and (module, attribute) pairs of otherwise ordinary modules.
MODULES = {
    "ctypes": "calls C functions directly (ctypes)", "gc": "walks the interpreter's objects (gc)",
    "signal": "changes signal handling (signal)", "builtins": "changes the builtins (builtins)",
    "atexit": "runs code at interpreter exit (atexit)", "subprocess": "starts processes (subprocess)",
    "multiprocessing": "starts processes (multiprocessing)", "marshal": "loads code objects (marshal)",
    "unittest.mock": "patches objects (unittest.mock)", "mock": "patches objects (mock)",
    "code": "starts an interpreter (code)", "runpy": "runs code from a file (runpy)", "pty": "opens a terminal (pty)",
    "IPython": "uses the IPython shell", "ipykernel": "uses the kernel's internals (ipykernel)",
    "importlib": "imports with importlib", "inspect": "inspects live frames and source (inspect)",
    "types": "builds functions or code objects by hand (types)", "sys": None, "os": None, "threading": None,
}
ATTRS = {
    "sys": {"modules": "changes or reads sys.modules", "settrace": "installs a trace hook (sys.settrace)",
            "setprofile": "installs a profile hook (sys.setprofile)", "_getframe": "reads live frames (sys._getframe)",
            "meta_path": "installs an import hook (sys.meta_path)", "path_hooks": "installs an import hook",
            "path_importer_cache": "changes the import cache", "displayhook": "replaces sys.displayhook",
            "excepthook": "replaces sys.excepthook", "addaudithook": "installs an audit hook",
            "setrecursionlimit": None, "monitoring": "installs a monitoring hook (sys.monitoring)",
            "breakpointhook": "replaces the breakpoint hook", "exit": None},
    "os": {"_exit": "ends the kernel at once (os._exit)", "kill": "sends signals (os.kill)", "killpg": "sends signals",
           "system": "runs a shell command (os.system)", "popen": "runs a shell command (os.popen)",
           "fork": "forks the kernel (os.fork)", "forkpty": "forks the kernel", "abort": "aborts the kernel",
           "setsid": "leaves the kernel's session", "execv": "replaces the kernel (os.exec*)",
           "execve": "replaces the kernel (os.exec*)", "execl": "replaces the kernel (os.exec*)",
           "execvp": "replaces the kernel (os.exec*)", "spawnv": "starts processes (os.spawn*)",
           "posix_spawn": "starts processes (os.posix_spawn)"},
    "threading": {"settrace": "installs a trace hook in threads", "setprofile": "installs a profile hook in threads",
                  "settrace_all_threads": "installs a trace hook", "setprofile_all_threads": "installs a profile hook",
                  "excepthook": "replaces the thread exception hook"},
    "IPython.display": {},  # display(), HTML(), Markdown() are ordinary
}
SAFE_ASSIGN_PREFIXES = ("torch.backends.", "np.random.", "plt.rcParams", "pd.options.", "torch.manual_seed")
SAFE_LINE_MAGICS = {"matplotlib", "time", "timeit", "load_ext", "autoreload", "who", "whos", "config"}
SAFE_CELL_MAGICS = {"time", "timeit", "capture"}


@dataclass(frozen=True)
class Finding:
    cell: int            # 1-based position of the cell in the submitted notebook
    grade_id: str | None  # the nbgrader id of the cell, if it has one
    line: int            # 1-based line in the cell's source
    code: str            # that line, stripped
    technique: str       # what it does, in a sentence fragment

    def describe(self) -> str:
        return describe(self.as_dict())

    def as_dict(self) -> dict:
        return asdict(self)


def describe(f: dict) -> str:
    """One line per finding or flag (the audit's and the verdict's alike): where, the code, what it does."""
    where = f"cell {f['cell']}" + (f" (`{f['grade_id']}`)" if f.get("grade_id") else "")
    line = f", line {f['line']}: `{f['code']}`" if f.get("line") else ""
    return f"{where}{line} — {f['technique']}"


def _to_python(source: str) -> str:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - not IPython syntax either: parse as is
        return source


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


class _Auditor(ast.NodeVisitor):
    def __init__(self, imported: dict[str, str]):
        self.imported = imported  # local name -> dotted module/object path it was imported as
        self.found: list[tuple[int, str]] = []

    def flag(self, node: ast.AST, technique: str) -> None:
        self.found.append((getattr(node, "lineno", 1), technique))

    # imports ------------------------------------------------------------------------------------------------
    def _module_use(self, node, module: str) -> None:
        for mod, why in MODULES.items():
            if why and (module == mod or module.startswith(mod + ".")) and not module.startswith("IPython.display"):
                self.flag(node, why)
                return

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module_use(node, alias.name)
            self.imported[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._module_use(node, module)
        for alias in node.names:
            why = ATTRS.get(module, {}).get(alias.name)
            if why:
                self.flag(node, why)
            elif alias.name in BUILTINS and module == "builtins":
                self.flag(node, BUILTINS[alias.name])
            self.imported[alias.asname or alias.name] = f"{module}.{alias.name}"
            if module in ("unittest", "IPython") and alias.name in ("mock", "get_ipython"):
                self.flag(node, MODULES.get(f"{module}.{alias.name}") or "uses the IPython shell")

    # names and attributes -------------------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in BUILTINS and node.id not in self.imported:
            self.flag(node, BUILTINS[node.id])
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FRAME_AND_CODE and not (node.attr == "__dict__" and _dotted(node) == "self.__dict__"):
            self.flag(node, f"reaches interpreter internals (`{node.attr}`)")
        base = _dotted(node.value)
        module = self.imported.get(base.split(".")[0], "") if base else ""
        full = ".".join([module] + base.split(".")[1:]) if module else ""
        why = ATTRS.get(full, {}).get(node.attr) if full else None
        if why:
            self.flag(node, why)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = _dotted(node.func)
        name = func.split(".")[-1]
        if func in ("setattr", "delattr") and node.args:
            target = _root(node.args[0])
            if not (isinstance(target, ast.Name) and target.id in ("self", "cls")):
                before = len(self.found)
                self._changes(node, node.args[0], via=func)
                if len(self.found) == before:
                    self.flag(node, f"sets an attribute by name on an object that is not its own ({func})")
        if name == "import_module" and node.args and not isinstance(node.args[0], ast.Constant):
            self.flag(node, "imports a module whose name is computed at run time")
        if func == "type" and len(node.args) == 3:
            self.flag(node, "builds a class at run time (type with three arguments)")
        if func in ("getattr", "hasattr") and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value in FRAME_AND_CODE:
            self.flag(node, f"reaches interpreter internals (`{node.args[1].value}`)")
        self._magic(node, func)
        self.generic_visit(node)
        if func in ("setattr", "delattr"):  # the direct call is judged above, not as a bare name
            self.found = [f for f in self.found if f != (node.lineno, BUILTINS[func])]

    def _magic(self, node: ast.Call, func: str) -> None:
        if not func.startswith("get_ipython()") and not (isinstance(node.func, ast.Attribute) and isinstance(
                node.func.value, ast.Call) and _dotted(node.func.value.func) == "get_ipython"):
            return
        kind = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        arg = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        if kind == "run_line_magic" and arg in SAFE_LINE_MAGICS:
            self.found.append((node.lineno, "_ok_magic"))
        elif kind == "run_cell_magic" and arg in SAFE_CELL_MAGICS and len(node.args) == 3 \
                and isinstance(node.args[2], ast.Constant):
            self.found.append((node.lineno, "_ok_magic"))
            try:  # the cell body is a string: audit it as code
                inner = _Auditor(self.imported)
                inner.visit(ast.parse(_to_python(node.args[2].value)))
                self.found += [(node.lineno + ln - 1, why) for ln, why in inner.found]
            except SyntaxError:
                pass
        elif kind in ("system", "getoutput"):
            self.flag(node, "runs a shell command (!)")
        else:
            self.flag(node, f"runs the IPython magic or hook `{kind}`" + (f" {arg!r}" if arg else ""))

    # assignments ----------------------------------------------------------------------------------------------
    def _changes(self, node, target, via: str = "") -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._changes(node, t, via)
            return
        if isinstance(target, ast.Starred):
            target = target.value
        if not isinstance(target, (ast.Attribute, ast.Subscript)) and not via:
            return
        root = _root(target)
        dotted = _dotted(target) if isinstance(target, ast.Attribute) else _dotted(_root_chain(target))
        if any(dotted.startswith(p) for p in SAFE_ASSIGN_PREFIXES):
            return
        if isinstance(root, ast.Name) and root.id in self.imported:
            what = self.imported[root.id]
            self.flag(node, f"changes the imported `{what}`" + (f" ({via})" if via else ""))
        elif isinstance(root, ast.Call) and _dotted(root.func) in ("globals", "vars", "__import__", "getattr"):
            self.flag(node, f"changes a namespace reached through {_dotted(root.func)}()")
        elif via and not isinstance(root, ast.Name):
            self.flag(node, f"sets an attribute by name on a computed object ({via})")

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._changes(node, t)
        source = _root(node.value) if isinstance(node.value, (ast.Name, ast.Attribute)) else None
        if isinstance(source, ast.Name) and source.id in self.imported:  # `t = torch`: t is torch too
            for t in node.targets:
                if isinstance(t, ast.Name):
                    self.imported[t.id] = self.imported[source.id] + (
                        "." + _dotted(node.value).split(".", 1)[1] if "." in _dotted(node.value) else "")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._changes(node, node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._changes(node, node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self._changes(node, t)
        self.generic_visit(node)

    # classes --------------------------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            full = _dotted(base)
            module = self.imported.get(full.split(".")[0], "")
            resolved = ".".join([module] + full.split(".")[1:]) if module else full
            if resolved in ("torch.Tensor", "torch._C.TensorBase", "torch._C._TensorBase"):
                self.flag(node, "subclasses torch.Tensor (a tensor that can change how it compares)")
        for item in node.body:
            names = [item.name] if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) else \
                [t.id for t in getattr(item, "targets", []) if isinstance(t, ast.Name)]
            for name in names:
                if name in HOOK_METHODS:
                    self.flag(item, f"defines `{name}` on class `{node.name}` (changes how its objects compare, "
                                    "convert or answer attribute look-ups)")
        self.generic_visit(node)


def _root_chain(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Subscript):
        node = node.value
    return node


def audit_source(source: str, imported: dict[str, str] | None = None) -> list[tuple[int, str]]:
    """(line, technique) for one cell's code; ``imported`` (updated) carries import names across cells."""
    imported = {} if imported is None else imported
    try:
        tree = ast.parse(_to_python(source))
    except SyntaxError:
        return []
    auditor = _Auditor(imported)
    auditor.visit(tree)
    ok_lines = {ln for ln, why in auditor.found if why == "_ok_magic"}
    seen, out = set(), []
    for line, why in auditor.found:
        if why == "_ok_magic" or (line, why) in seen or (line in ok_lines and why == BUILTINS["get_ipython"]):
            continue
        seen.add((line, why))
        out.append((line, why))
    return sorted(out)


def _normal(source: str) -> str:
    return re.sub(r"\s+", " ", source).strip()


def audit_notebook(nb, released=None) -> list[Finding]:
    """Findings in the student's code cells of ``nb``. Cells whose source is that of a released cell, and test cells
    (grade without solution: nbgrader restores them), are not audited; their imports still count."""
    release_sources = {_normal(c.source) for c in (released.cells if released is not None else [])
                       if c.cell_type == "code"}
    imported: dict[str, str] = {}
    findings = []
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        instructors = (meta.get("grade") and not meta.get("solution")) or _normal(cell.source) in release_sources
        found = audit_source(cell.source, imported)
        if instructors:
            continue
        lines = cell.source.splitlines()
        for line, why in found:
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            findings.append(Finding(index, meta.get("grade_id"), line, code[:160], why))
    return findings
