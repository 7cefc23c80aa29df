"""The grading machinery that every notebook's checkers are built from.

A checker runs the student's function and the reference on the same seeded inputs (and the same weights), on
the student's device, and compares. A failure raises :class:`GradingError` (an AssertionError, so nbgrader
counts the test cell as failed) with one readable message saying what was expected and what came back.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import os
import signal
import sys
import threading
import traceback
from typing import Any, Callable

import torch

from ..device import tolerance
from .i18n import say

__all__ = [
    "GradingError",
    "call_student",
    "expect_tensor",
    "expect_equal",
    "expect_unchanged",
    "time_limit",
    "passed",
    "clone_inputs",
    "hidden_seed",
    "checker",
    "guard_checkers",
]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the whole mtbert_ref package


class GradingError(AssertionError):
    """A graded check failed; the message is meant for the student.

    In JupyterLab, nbgrader's Validate dialog and the feedback, IPython shows only the checker's sentence (which names
    the student's own line where there is one), not a traceback through mtbert_ref's internals.
    """

    def _render_traceback_(self):
        return [f"\x1b[0;31mGradingError\x1b[0m: {self}"]


def checker(fn: Callable) -> Callable:
    """Decorator for every ``check_*``: warnings and stderr output raised while checking (an ordinary torch or numpy
    UserWarning from a correct answer, a progress bar) are shown on stdout instead, because nbgrader scores a test
    cell with any stderr output 0."""
    import functools
    import io
    import warnings

    @functools.wraps(fn)
    def run(*args, **kwargs):
        err = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
            warnings.simplefilter("always")
            try:
                return fn(*args, **kwargs)
            finally:
                notes = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
                notes += [line for line in err.getvalue().splitlines() if line.strip()]
                if notes:
                    shown = "\n  ".join(n[:300] for n in notes[:5]) + ("\n  …" if len(notes) > 5 else "")
                    print(say("core.note_printed", n=len(notes), shown=shown))
    return run


def guard_checkers(namespace: dict) -> None:
    """Apply :func:`checker` to every ``check_*`` function of a checker module (its last line)."""
    for name, value in list(namespace.items()):
        if name.startswith("check_") and inspect.isfunction(value) and not hasattr(value, "__wrapped__"):
            namespace[name] = checker(value)


def hidden_seed(checker: str, case: int = 0) -> int:
    """The seed of hidden case ``case`` of ``checker``, derived from the grading machine's secret.

    ``make autograde`` puts the instructor's secret in MTBERT_GRADING_SECRET (scripts/instructor/secret.py); with it,
    every submission of the course gets the same hidden cases (regrades are reproducible) and no one without the secret
    can know them in advance: a table of answers read from this package cannot match them. Without a secret (a student
    calling a checker with ``hidden_tests=True`` on their own machine) every call draws fresh cases.
    """
    import hashlib
    import hmac
    secret = os.environ.get("MTBERT_GRADING_SECRET", "")
    if not secret:
        return int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    digest = hmac.new(secret.encode(), f"{checker}/{case}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def passed(message: str) -> None:
    """Print a success line (the visible tests' reward)."""
    print(f"\u2713 {message}")


def _unwrap(fn: Any) -> Any:
    for _ in range(5):  # functools.partial / bound methods / functools.wraps
        inner = getattr(fn, "func", None) or getattr(fn, "__wrapped__", None)
        if inner is None:
            break
        fn = inner
    return fn


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if inspect.iscode(const):
            yield from _code_objects(const)


def _is_reference(fn: Any, reference: Any = None) -> bool:
    """True if ``fn`` *is* the course's reference: the object itself or an alias, a partial or ``functools.wraps``
    around it, anything defined inside mtbert_ref, a function carrying the reference's code object, or a subclass of
    the reference class. Calling, wrapping or copying it however reached is caught while the function runs
    (:func:`_watch_reference`); merely naming the module, reading a constant or using a notebook helper is not."""
    target = _unwrap(fn)
    module = getattr(target, "__module__", None) or ""
    if module.startswith("mtbert_ref"):
        return True
    if not inspect.isfunction(target) and not inspect.isclass(target):
        cls_mod = getattr(type(target), "__module__", "") or ""
        if cls_mod.startswith("mtbert_ref"):
            return True
    if reference is None:
        return False
    for ref in _references(reference):
        if target is ref:
            return True
        if inspect.isclass(target) and inspect.isclass(ref) and issubclass(target, ref):
            return True
    codes, _ = _reference_code(reference)
    own = [target] + ([v for v in vars(target).values()] if inspect.isclass(target) else [])
    return any(getattr(getattr(o, "__func__", o), "__code__", None) in codes for o in own)


def _references(reference) -> list:
    return [_unwrap(r) for r in (reference if isinstance(reference, (tuple, list)) else (reference,))]


def _fingerprint(code) -> tuple:
    consts = tuple(_fingerprint(c) if inspect.iscode(c) else repr(c) for c in code.co_consts)
    return code.co_code, code.co_names, code.co_varnames, consts


def _reference_code(reference) -> tuple[set, set]:
    """The code objects of the reference (its methods, for a class) and their fingerprints."""
    codes, tops = set(), set()
    for ref in _references(reference):
        objs = list(vars(ref).values()) if inspect.isclass(ref) else [ref]
        for obj in objs:
            fn = getattr(obj, "__func__", obj)
            fn = getattr(fn, "fget", fn)
            code = getattr(fn, "__code__", None)
            if code is not None:
                codes.update(_code_objects(code))
                tops.add(code)
    # Only whole function bodies count as copies: a one-line generator expression is written the same way by many.
    return codes, {_fingerprint(c) for c in tops}


def _is_cell_code(code) -> bool:
    """Code written in a notebook cell (ipykernel names each cell's file /tmp/ipykernel_<pid>/<hash>.py)."""
    return "ipykernel_" in (code.co_filename or "")


def _compiled_at_run_time(code) -> bool:
    """Code that no notebook cell and no file holds: built by exec/compile from a string (e.g. the reference's source
    read from the package)."""
    name = code.co_filename or ""
    return not _is_cell_code(code) and not os.path.isfile(name)


@contextlib.contextmanager
def _watch_reference(reference):
    """Record every call of the reference's code, or of a copy of it compiled at run time (exec, compile, types),
    while the block runs — however the student reached it (a computed import, a default argument, a copied
    ``__code__``, a subclass)."""
    hits: list = []
    if reference is None:
        yield hits
        return
    codes, prints = _reference_code(reference)

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code in codes or (_compiled_at_run_time(code) and _fingerprint(code) in prints):
                hits.append(code)

    old, old_threads = sys.getprofile(), threading.getprofile() if hasattr(threading, "getprofile") else None
    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        yield hits
    finally:
        sys.setprofile(old)
        threading.setprofile(old_threads)


def _student_line(tb) -> str:
    """The innermost traceback frame that is the student's code (not torch, transformers or mtbert_ref)."""
    frames = traceback.extract_tb(tb)
    chosen = None
    for fr in frames:
        fname = fr.filename or ""
        if fname.startswith(_PKG_DIR) or "site-packages" in fname or "/lib/python" in fname:
            continue
        chosen = fr
    if chosen is None:
        return ""
    code = (chosen.line or "").strip()
    where = say("core.line_of_cell", lineno=chosen.lineno) \
        if ("ipykernel" in chosen.filename or chosen.filename.startswith("<")) \
        else say("core.line_of_file", file=os.path.basename(chosen.filename), lineno=chosen.lineno)
    return say("core.at_line_code", where=where, code=code) if code else say("core.at_line", where=where)


class _CheckTimeout(Exception):
    pass


def _within_cell_timeout(seconds: float | None) -> float | None:
    """At most half of nbgrader's cell timeout (``MTBERT_CELL_TIMEOUT``, read by nbgrader_config.py), so that the
    checker's own message comes first and nbgrader's interrupt never lands while the grader's hooks run."""
    try:
        cell = float(os.environ.get("MTBERT_CELL_TIMEOUT", "0"))
    except ValueError:
        cell = 0.0
    if seconds and cell > 0:
        return min(seconds, cell / 2)
    return seconds


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str | None = None):
    """Stop ``what`` (by default "your code") after ``seconds`` with a GradingError (Unix main thread only; elsewhere
    no limit). When the cell timeout is set, the limit is at most half of it (see :func:`_within_cell_timeout`)."""
    what = what or say("core.your_code")
    seconds = _within_cell_timeout(seconds)
    usable = seconds and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise _CheckTimeout()

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    except _CheckTimeout:
        raise GradingError(say("core.took_too_long", what=what, seconds=seconds)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def call_student(fn: Callable, *args, name: str | None = None, seconds: float | None = 60, reference: Any = None,
                 **kwargs):
    """Run the student's ``fn(*args, **kwargs)``; turn any exception into a GradingError that names the student's line.

    ``reference`` is the reference implementation of the exercise: a student function that is or calls it is
    rejected (see :func:`_is_reference`). ``seconds`` limits the call's run time.
    """
    name = name or getattr(fn, "__name__", None) or say("core.your_function")
    if not callable(fn):
        raise GradingError(say("core.not_callable", name=name, type=type(fn).__name__))
    if _is_reference(fn, reference):
        raise GradingError(say("core.is_reference", name=name))
    try:
        with time_limit(seconds, f"`{name}`"), _watch_reference(reference) as used:
            result = fn(*args, **kwargs)
    except GradingError:
        raise
    except NotImplementedError:
        raise GradingError(say("core.not_implemented", name=name)) from None
    except Exception as exc:  # noqa: BLE001 - any student error becomes a readable message
        where = _student_line(sys.exc_info()[2])
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise GradingError(say("core.raised", name=name, exc=type(exc).__name__, msg=msg, where=where)) from None
    if used:
        ran = getattr(used[0], "co_qualname", used[0].co_name)
        raise GradingError(say("core.ran_reference", name=name, ran=ran))
    return result


def clone_inputs(obj):
    """Deep copy of tensors in (nested) tuples/lists/dicts, to detect in-place changes."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, (list, tuple)):
        return type(obj)(clone_inputs(o) for o in obj)
    if isinstance(obj, dict):
        return {k: clone_inputs(v) for k, v in obj.items()}
    return obj


def expect_unchanged(before, after, what: str) -> None:
    """Raise if a tensor input was modified in place."""
    if isinstance(before, torch.Tensor):
        if before.shape != after.shape or not torch.equal(before.to(after.device), after.detach()):
            raise GradingError(say("core.modified_in_place", what=what))
    elif isinstance(before, (list, tuple)):
        for b, a in zip(before, after):
            expect_unchanged(b, a, what)
    elif isinstance(before, dict):
        for k in before:
            expect_unchanged(before[k], after[k], f"{what}[{k!r}]")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _fmt_pair(got, want) -> tuple[str, str]:
    """Both values with as many digits as it takes to see that they differ (float64 differences hide at 6)."""
    if not (isinstance(got, float) and isinstance(want, float)):
        return _fmt(got), _fmt(want)
    for digits in (6, 9, 12, 17):
        g, w = f"{got:.{digits}g}", f"{want:.{digits}g}"
        if g != w:
            break
    return g, w


def expect_tensor(actual: Any, expected: torch.Tensor, what: str, *, atol: float | None = None,
                  rtol: float | None = None, check_dtype: bool = True, check_device: bool = True) -> None:
    """Compare a student's tensor with the expected one; raise a GradingError that says what differs.

    Checks, in order: is a tensor, shape, dtype, device, NaN/inf, values (with tolerances for the dtype and device).
    """
    if not isinstance(actual, torch.Tensor):
        raise GradingError(say("core.not_a_tensor", what=what, shape=tuple(expected.shape), type=type(actual).__name__))
    if tuple(actual.shape) != tuple(expected.shape):
        raise GradingError(say("core.wrong_shape", what=what, got=tuple(actual.shape), want=tuple(expected.shape)))
    if check_dtype and actual.dtype != expected.dtype:
        raise GradingError(say("core.wrong_dtype", what=what, got=actual.dtype, want=expected.dtype))
    if check_device and actual.device.type != expected.device.type:
        raise GradingError(say("core.wrong_device", what=what, got=actual.device, want=expected.device))
    a = actual.detach()
    e = expected.detach().to(a.device)
    if a.dtype.is_floating_point or a.dtype.is_complex:
        bad = ~torch.isfinite(a)
        if bad.any() and not (~torch.isfinite(e))[bad].all():
            idx = tuple(int(i) for i in bad.nonzero()[0])
            raise GradingError(say("core.not_finite", what=what, idx=idx, value=a[idx].item(), want=e[idx].item()))
        d_atol, d_rtol = tolerance(e.dtype, e.device)
        atol = d_atol if atol is None else atol
        rtol = d_rtol if rtol is None else rtol
        close = torch.isclose(a.to(e.dtype), e, atol=atol, rtol=rtol, equal_nan=True)
    else:
        close = a.to(e.dtype) == e
    if not bool(close.all()):
        wrong = (~close).nonzero()
        n_wrong = wrong.shape[0]
        shown = []
        for row in wrong[:3]:
            idx = tuple(int(i) for i in row)
            g, w = _fmt_pair(a[idx].item(), e[idx].item())
            shown.append(say("core.value_at", idx=idx, got=g, want=w))
        extra = "" if a.dtype in (torch.long, torch.int, torch.bool) else \
            say("core.tolerance", diff=float((a.double() - e.double()).abs().max()), dtype=e.dtype, atol=atol, rtol=rtol)
        raise GradingError(say("core.values_differ", what=what, n_wrong=n_wrong, n=a.numel(), extra=extra,
                               shown=say("core.separator").join(shown)))


def expect_equal(actual: Any, expected: Any, what: str, hint: str = "") -> None:
    """Exact comparison of plain Python values (ints, strings, lists, dicts); floats to 1e-6 relative."""
    if isinstance(expected, bool):
        ok = isinstance(actual, bool) and actual == expected
    elif isinstance(expected, int):
        ok = isinstance(actual, int) and not isinstance(actual, bool) and actual == expected
    elif isinstance(expected, float):
        ok = isinstance(actual, (int, float)) and math.isclose(float(actual), expected, rel_tol=1e-6, abs_tol=1e-9)
    else:
        ok = actual == expected
    if not ok:
        got = repr(actual)
        if len(got) > 200:
            got = got[:200] + "\u2026"
        same_type = type(actual) is type(expected) or (isinstance(expected, float) and isinstance(actual, int))
        type_note = "" if same_type else say("core.type_note", got=type(actual).__name__, want=type(expected).__name__)
        raise GradingError(say("core.not_equal", what=what, got=got, type_note=type_note, want=repr(expected),
                               hint=f" {hint}" if hint else ""))


def fresh_copy(fn: Callable) -> Callable:
    """Recompile ``fn`` from its source into a new function outside mtbert_ref (for the course's own tests:
    the reference, treated as if a student had typed it into a notebook cell — hence the cell-like file name)."""
    import textwrap
    src = textwrap.dedent(inspect.getsource(fn))
    namespace = dict(sys.modules[fn.__module__].__dict__)
    namespace["__name__"] = "student_copy"
    exec(compile(src, f"/tmp/ipykernel_course_tests/{fn.__name__}.py", "exec"), namespace)  # noqa: S102
    return namespace[fn.__name__]
