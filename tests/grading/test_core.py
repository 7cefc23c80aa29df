"""The grading machinery: each failure class gets its own readable message."""
import functools
import sys
import time

import pytest
import torch

from mtbert_ref.modeling import pooling as anatomy
from mtbert_ref.grading.core import (GradingError, call_student, expect_equal, expect_tensor, expect_unchanged,
                                 fresh_copy, time_limit)


def test_expect_tensor_messages():
    want = torch.zeros(2, 3)
    with pytest.raises(GradingError, match=r"should be a torch.Tensor of shape \(2, 3\).*list"):
        expect_tensor([0, 0], want, "x")
    with pytest.raises(GradingError, match=r"has shape \(3, 2\), expected \(2, 3\)"):
        expect_tensor(torch.zeros(3, 2), want, "x")
    with pytest.raises(GradingError, match="dtype torch.float64, expected torch.float32"):
        expect_tensor(torch.zeros(2, 3, dtype=torch.float64), want, "x")
    bad = want.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(GradingError, match=r"NaN or inf \(first at index \(1, 2\)"):
        expect_tensor(bad, want, "x")
    off = want.clone()
    off[0, 1] = 0.5
    with pytest.raises(GradingError, match=r"1 of 6 values differ.*at \(0, 1\): got 0.5, expected 0"):
        expect_tensor(off, want, "x")
    expect_tensor(want + 1e-7, want, "x")


def test_expect_equal_types():
    expect_equal(3, 3, "n")
    with pytest.raises(GradingError, match=r"got 3.0 \(a float, expected a int\)"):
        expect_equal(3.0, 3, "n")
    with pytest.raises(GradingError, match="got 4, expected 3. hint"):
        expect_equal(4, 3, "n", "hint")


def test_student_exception_names_the_line():
    def student(x):
        y = x + 1
        return y / undefined_name  # noqa: F821

    with pytest.raises(GradingError, match=r"raised NameError: .*undefined_name.*test_core.py, line \d+: `return y / undefined_name"):
        call_student(student, 1)


def test_not_implemented_is_explained():
    def student(x):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented yet"):
        call_student(student, 1)


def test_reference_and_aliases_are_rejected():
    ref = anatomy.masked_mean_pool
    alias = anatomy.masked_mean_pool
    wrapped = functools.partial(anatomy.masked_mean_pool)

    def calls_it(h, m):
        return anatomy.masked_mean_pool(h, m)

    def calls_by_name(h, m):
        return ref(h, m)

    for fn in (alias, wrapped, calls_it, calls_by_name, lambda h, m: ref(h, m)):
        with pytest.raises(GradingError, match="reference implementation"):
            call_student(fn, torch.zeros(1, 1, 1), torch.ones(1, 1), reference=ref)
    # a student's own code, even if identical in text, is accepted
    own = fresh_copy(ref)
    assert call_student(own, torch.ones(1, 2, 3), torch.ones(1, 2), reference=ref).shape == (1, 3)


def test_time_limit_stops_endless_loop():
    def student():
        while True:
            time.sleep(0.01)

    start = time.perf_counter()
    with pytest.raises(GradingError, match="took longer than 0.3 s"):
        call_student(student, seconds=0.3)
    assert time.perf_counter() - start < 3


def test_time_limit_context_passes_fast_code():
    with time_limit(1.0):
        x = sum(range(100))
    assert x == 4950


def test_in_place_modification_detected():
    x = torch.ones(3)
    before = x.clone()
    x.mul_(2)
    with pytest.raises(GradingError, match="modified in place"):
        expect_unchanged(before, x, "The input")
    expect_unchanged(before, before.clone(), "The input")


# --- reference detection by real use (#19 item 3) ---------------------------------------------------------------
_H, _M = torch.ones(2, 3, 4), torch.ones(2, 3)


def _disguised_uses():
    import importlib
    import inspect
    import types

    def computed_import(h, m):
        mod = importlib.import_module("mtbert_ref.modeling." + "pooling")
        return getattr(mod, "masked_" + "mean_pool")(h, m)

    def copied_code(h, m):
        return h

    copied_code.__code__ = anatomy.masked_mean_pool.__code__
    copied = types.FunctionType(anatomy.masked_mean_pool.__code__, dict(anatomy.__dict__), "mine")

    def default_alias(h, m, _f=anatomy.masked_mean_pool):
        return _f(h, m)

    def helper(h, m):
        return anatomy.masked_mean_pool(h, m)

    def calls_a_helper(h, m):
        return helper(h, m) * 1

    src = inspect.getsource(anatomy.masked_mean_pool)
    ns = dict(anatomy.__dict__)
    exec(compile(src, "<read at run time>", "exec"), ns)  # noqa: S102 - the disguise under test
    return {"computed import": computed_import, "copied __code__": copied_code, "FunctionType of its code": copied,
            "default-argument alias": default_alias, "through a helper": calls_a_helper,
            "exec of its source": ns["masked_mean_pool"]}


@pytest.mark.parametrize("how", list(_disguised_uses()))
def test_disguised_uses_of_the_reference_are_rejected(how):
    fn = _disguised_uses()[how]
    with pytest.raises(GradingError, match="reference implementation"):
        call_student(fn, _H, _M, name="masked_mean_pool", reference=anatomy.masked_mean_pool)


def test_a_subclass_of_the_reference_class_is_rejected():
    from mtbert_ref.modeling.qa import QAHead

    class Mine(QAHead):
        pass

    class Borrowed(torch.nn.Module):
        forward = QAHead.forward

    for cls in (Mine, Borrowed):
        with pytest.raises(GradingError, match="reference implementation"):
            call_student(cls, 4, name="QAHead", reference=QAHead)


def test_reading_a_constant_or_a_notebook_helper_is_not_reference_use():
    import mtbert_ref as mt
    from mtbert_ref.modeling.losses import IGNORE_INDEX

    def own(h, m):
        _ = (mt.__name__, IGNORE_INDEX)
        w = m.to(h.dtype).unsqueeze(-1)
        return (h * w).sum(1) / w.sum(1).clamp(min=1)

    def uses_helper(h, m):  # a course helper that is not this exercise's reference
        torch.manual_seed(0)
        mt.seed_everything(0)
        return own(h, m)

    for fn in (own, uses_helper):
        assert call_student(fn, _H, _M, reference=anatomy.masked_mean_pool).shape == (2, 4)
    assert sys.getprofile() is None, "the reference watch must be removed after the call"


# --- warnings and stderr cost nothing; short messages (#19 items 4 and 6) --------------------------------------
def test_checker_moves_warnings_and_stderr_to_stdout(capsys):
    import warnings

    from mtbert_ref.grading.core import checker

    @checker
    def check_something():
        warnings.warn("an ordinary warning", UserWarning)
        print("progress 10%", file=sys.stderr)

    check_something()
    out = capsys.readouterr()
    assert out.err == ""
    assert "UserWarning: an ordinary warning" in out.out and "progress 10%" in out.out and "no points" in out.out


def test_grading_error_renders_as_one_sentence():
    err = GradingError("`f` returned 3, expected 4.")
    assert err._render_traceback_() == ["\x1b[0;31mGradingError\x1b[0m: `f` returned 3, expected 4."]


def test_hidden_seed_follows_the_secret(monkeypatch):
    from mtbert_ref.grading.core import hidden_seed
    monkeypatch.setenv("MTBERT_GRADING_SECRET", "a")
    a = [hidden_seed("check_x", i) for i in range(3)]
    assert a == [hidden_seed("check_x", i) for i in range(3)] and len(set(a)) == 3
    monkeypatch.setenv("MTBERT_GRADING_SECRET", "b")
    assert a != [hidden_seed("check_x", i) for i in range(3)]
    monkeypatch.delenv("MTBERT_GRADING_SECRET")
    assert hidden_seed("check_x", 0) != hidden_seed("check_x", 0) or hidden_seed("check_x", 0) != a[0]


def test_time_limit_is_at_most_half_the_cell_timeout(monkeypatch):
    """With nbgrader's cell timeout at 1 s, a checker's 60 s limit becomes 0.5 s: its message comes first."""
    monkeypatch.setenv("MTBERT_CELL_TIMEOUT", "1")

    def student():
        while True:
            time.sleep(0.01)

    start = time.perf_counter()
    with pytest.raises(GradingError, match="took longer than 0.5 s"):
        call_student(student, seconds=60)
    assert time.perf_counter() - start < 3
