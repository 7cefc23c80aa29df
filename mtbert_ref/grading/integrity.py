"""The grading kernel's integrity monitor (issue #19, item 2): did the student's code change the grader?

``nbgrader autograde`` starts every submission's kernel with this monitor installed before the first cell runs
(scripts/instructor/sandbox.py). It records, by identity, what a verdict depends on: the course's checkers and every
function they call (their code objects, defaults and module globals), torch's and numpy's functions and the Tensor
and Module classes, the builtins, ``sys.modules``, import/trace/profile hooks, and the IPython shell and kernel
machinery that runs cells and reports their errors (input and AST transformers, event callbacks, the traceback and
display hooks, the kernel's message sending). After every cell it compares and publishes one *heartbeat*: the list of
changes found, signed with a key that only the instructor's process and this monitor know (it arrives on a pipe that
is closed before any student code runs). The instructor's process checks every heartbeat; a change, a bad signature
or a heartbeat that stops arriving is flagged to the instructor with the cell (scripts/instructor/sandbox.py).

Nothing here decides a score; the students' own JupyterLab never runs it.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import os
import pkgutil
import sys
import types

MIME = "application/vnd.mtbert.integrity+json"
TRUSTED = ("mtbert_ref", "torch", "numpy", "transformers", "sklearn", "builtins", "math", "operator", "functools",
           "IPython", "ipykernel", "jupyter_client", "traitlets", "zmq", "inspect", "warnings", "contextlib",
           "traceback", "importlib", "collections", "copy", "json", "re")
_ROUTINES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type, types.ModuleType,
             types.MethodDescriptorType, types.WrapperDescriptorType, types.ClassMethodDescriptorType,
             staticmethod, classmethod, property)


# Hooks (IPython callbacks and transformers, import finders) that libraries add on their own while a notebook runs.
HOOK_OWNERS = TRUSTED + ("matplotlib", "matplotlib_inline", "_distutils_hack", "setuptools", "pkg_resources", "six",
                         "tqdm", "huggingface_hub", "safetensors", "tokenizers", "pandas", "scipy", "PIL", "google",
                         "debugpy", "comm", "ipywidgets", "jedi", "parso", "tornado", "asyncio", "_frozen_importlib",
                         "_frozen_importlib_external", "zipimport", "editables", "__editable__")


def _owner(obj) -> str:
    mod = getattr(obj, "__module__", None) or getattr(type(obj), "__module__", "") or ""
    return mod


def _same(a, b) -> bool:
    """Identical, or the same method of the same object (a bound method is a new object on every look-up)."""
    if a is b:
        return True
    if isinstance(a, types.MethodType) and isinstance(b, types.MethodType):
        return a.__func__ is b.__func__ and a.__self__ is b.__self__
    return False


# Builtins that ipykernel and IPython rebind on every execution (stdin forwarding, the shell accessor).
VOLATILE_BUILTINS = {"input", "raw_input", "getpass", "get_ipython", "display", "exit", "quit", "_", "__", "___"}


def _trusted(name: str) -> bool:
    return name.split(".")[0] in TRUSTED


def _watched(value) -> bool:
    return isinstance(value, _ROUTINES) or callable(value)


class Snapshot:
    """Identities of everything the verdict depends on, taken once; :meth:`changes` lists what differs now."""

    def __init__(self, shell=None):
        self.modules = {name: mod for name, mod in list(sys.modules.items()) if mod is not None and _trusted(name)}
        self.entries: list[tuple[str, dict, str, object]] = []   # (where, namespace dict, key, object)
        self.code: list[tuple[str, object, object, object, object]] = []
        self.class_keys: list[tuple[str, object, frozenset]] = []
        seen_classes: set[int] = set()
        for name, mod in self.modules.items():
            ns = getattr(mod, "__dict__", None)
            if not isinstance(ns, dict):
                continue
            for key, value in list(ns.items()):
                if not _watched(value):
                    continue
                self.entries.append((name, ns, key, value))
                owner = getattr(value, "__module__", None) or ""
                if isinstance(value, type) and id(value) not in seen_classes and owner == name:
                    seen_classes.add(id(value))
                    self._class(f"{name}.{key}", value)
                elif isinstance(value, types.FunctionType) and owner == name:
                    self._function(f"{name}.{key}", value)
        import torch
        for cls in (torch.Tensor, torch._C.TensorBase, torch.nn.Module, torch.nn.Parameter):
            if id(cls) not in seen_classes:
                seen_classes.add(id(cls))
                self._class(f"{cls.__module__}.{cls.__qualname__}", cls)
            self.class_keys.append((f"{cls.__module__}.{cls.__qualname__}", vars(cls), frozenset(vars(cls))))
        self.shell_parts = self._shell_parts(shell)
        self.hooks = self._hooks()

    def _class(self, where: str, cls: type) -> None:
        ns = vars(cls)
        if where.startswith("mtbert_ref"):  # a new attribute that shadows an inherited one
            self.class_keys.append((where, ns, frozenset(ns)))
        for key, value in list(ns.items()):
            if _watched(value) or isinstance(value, (staticmethod, classmethod, property)):
                self.entries.append((where, ns, key, value))
                fn = getattr(value, "__func__", value)
                if isinstance(fn, types.FunctionType):
                    self._function(f"{where}.{key}", fn)

    def _function(self, where: str, fn: types.FunctionType) -> None:
        self.code.append((where, fn, fn.__code__, fn.__defaults__, fn.__kwdefaults__))

    @staticmethod
    def _shell_parts(shell) -> dict:
        if shell is None:
            return {}
        parts = {}
        for attr in ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell", "showtraceback",
                     "_showtraceback", "showsyntaxerror", "display_pub", "displayhook", "display_trap", "events",
                     "InteractiveTB", "SyntaxTB", "compile", "custom_exceptions", "CustomTB", "kernel"):
            parts[f"shell.{attr}"] = (shell, attr, getattr(shell, attr, None))
        kernel = getattr(shell, "kernel", None)
        for attr in ("do_execute", "execute_request", "send_response", "session", "iopub_socket", "shell_handlers"):
            if kernel is not None:
                parts[f"kernel.{attr}"] = (kernel, attr, getattr(kernel, attr, None))
        session = getattr(kernel, "session", None)
        for attr in ("send", "serialize", "sign"):
            if session is not None:
                parts[f"session.{attr}"] = (session, attr, getattr(session, attr, None))
        pub = getattr(shell, "display_pub", None)
        if pub is not None:
            parts["display_pub.publish"] = (pub, "publish", getattr(pub, "publish", None))
        return parts

    @staticmethod
    def _hooks(shell=None) -> dict:
        import threading
        from IPython import get_ipython
        shell = shell or get_ipython()
        hooks = {"sys.gettrace()": sys.gettrace(), "sys.getprofile()": sys.getprofile(),
                 "threading trace hook": getattr(threading, "_trace_hook", None),
                 "threading profile hook": getattr(threading, "_profile_hook", None),
                 "sys.meta_path": tuple(sys.meta_path), "sys.path_hooks": tuple(sys.path_hooks),
                 "sys.stdout": sys.stdout, "sys.stderr": sys.stderr}
        if shell is not None:
            hooks.update({
                "IPython input transformers (cleanup)": tuple(shell.input_transformers_cleanup),
                "IPython input transformers (post)": tuple(shell.input_transformers_post),
                "IPython AST transformers": tuple(shell.ast_transformers),
                "IPython event callbacks": tuple(cb for _, v in sorted(shell.events.callbacks.items()) for cb in v),
            })
        return hooks

    def changes(self) -> list[str]:
        found = []
        for name, mod in self.modules.items():
            if sys.modules.get(name) is not mod:
                found.append(f"sys.modules[{name!r}] was replaced or removed")
        for where, ns, key, value in self.entries:
            now = ns.get(key, _MISSING)
            if _same(now, value) or (where == "builtins" and key in VOLATILE_BUILTINS):
                continue
            # torch itself rewraps some methods on first use (Optimizer.step's profiling hook): a replacement made by
            # a trusted library is not the notebook's doing, except inside the course's own package.
            if now is not _MISSING and not where.startswith("mtbert_ref") and _owner(now).split(".")[0] in HOOK_OWNERS:
                continue
            found.append(f"`{where}.{key}` was replaced or deleted")
        for where, ns, keys in self.class_keys:
            added = [k for k in ns if k not in keys and not k.startswith("_abc_") and k != "__slotnames__"
                     and _owner(ns[k]).split(".")[0] not in HOOK_OWNERS]
            if added:
                found.append(f"`{where}` got new attributes {sorted(added)[:3]} (they shadow the originals)")
        for where, fn, code, defaults, kwdefaults in self.code:
            if fn.__code__ is not code or fn.__defaults__ is not defaults or fn.__kwdefaults__ is not kwdefaults:
                found.append(f"the code or defaults of `{where}` were changed")
        for where, (obj, attr, value) in self.shell_parts.items():
            if not _same(getattr(obj, attr, None), value):
                found.append(f"the kernel's `{where}` was replaced")
        now = self._hooks()
        for what, value in self.hooks.items():
            if isinstance(value, tuple):
                have = now.get(what, ())
                gone = [v for v in value if not any(_same(v, h) for h in have)]
                added = [v for v in have if not any(_same(v, o) for o in value) and _owner(v).split(".")[0] not in HOOK_OWNERS]
                if gone or added:
                    found.append(f"{what} changed ({len(gone)} removed, {len(added)} added by the notebook's code)")
            elif not _same(now.get(what), value):
                found.append(f"{what} changed")
        return found[:20]


_MISSING = object()


def sign(key: bytes, seq: int, problems: list[str]) -> str:
    return hmac.new(key, json.dumps([seq, problems]).encode(), hashlib.sha256).hexdigest()


def _read_key() -> bytes:
    fd = os.environ.pop("MTBERT_INTEGRITY_FD", None)
    if fd is not None:
        chunks = []
        while True:
            chunk = os.read(int(fd), 4096)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(int(fd))
        return b"".join(chunks).strip()
    return os.environ.pop("MTBERT_INTEGRITY_KEY", "").encode()


def install() -> None:
    """Import every checker, take the snapshot, and publish a signed heartbeat after every cell."""
    from IPython import get_ipython
    import mtbert_ref.grading as grading
    for info in pkgutil.iter_modules(grading.__path__):
        importlib.import_module(f"mtbert_ref.grading.{info.name}")
    shell = get_ipython()
    key = _read_key()
    if shell is None or not key:
        return
    counter = iter(range(1, 10 ** 9))
    # The event callback is registered first so that the snapshot holds the callback list with it in.
    state = {}

    def heartbeat(result=None):
        seq = next(counter)
        # nbgrader's timeout interrupts the kernel (KeyboardInterrupt) when it likes, also while this hook runs:
        # a lost heartbeat would read as a silenced monitor, so an interrupted one is made again (at most 3 times).
        for attempt in range(3):
            try:
                try:
                    problems = state["snapshot"].changes()
                except Exception as exc:  # noqa: BLE001 - the grader's state is broken beyond comparing
                    problems = [f"the integrity monitor could not compare ({type(exc).__name__}: {exc})"]
                payload = {"seq": seq, "problems": problems, "mac": sign(key, seq, problems)}
                state["publish"](data={MIME: payload}, metadata={})
                return
            except KeyboardInterrupt:
                if attempt == 2:
                    raise

    shell.events.register("post_run_cell", heartbeat)
    state["publish"] = shell.display_pub.publish
    import warnings
    with warnings.catch_warnings():  # looking at deprecated aliases (torch.distributed.reduce_op) warns
        warnings.simplefilter("ignore")
        state["snapshot"] = Snapshot(shell)
