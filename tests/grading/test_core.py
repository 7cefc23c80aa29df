"""The grading machinery: each failure class gets its own readable message."""
import functools
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
