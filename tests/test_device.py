import contextlib

import pytest
import torch

from mtbert_ref.device import autocast, autocast_dtype, pick_device, seed_everything, tolerance, under_grading


def test_pick_device_on_this_machine(monkeypatch):
    monkeypatch.delenv("MTBERT_DEVICE", raising=False)
    dev = pick_device()
    assert dev.type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        assert pick_device("cpu").type == "cpu"
        with pytest.raises(RuntimeError, match="cuda"):
            pick_device("cuda")


def test_env_var_forces_cpu(monkeypatch):
    monkeypatch.setenv("MTBERT_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")


def test_autocast_is_off_on_cpu():
    assert autocast_dtype("cpu") is None
    assert isinstance(autocast("cpu"), contextlib.nullcontext)
    with autocast("cpu"):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32


def test_seed_everything_repeats():
    seed_everything(3)
    a = torch.randn(4)
    g = seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    assert torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=seed_everything(3)))


def test_tolerances_grow_with_lower_precision():
    assert tolerance(torch.float32, "cpu")[0] < tolerance(torch.float16, "cuda")[0] <= tolerance(torch.bfloat16, "cuda")[0]


def test_under_grading(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("MTBERT_FAST", raising=False)
    assert not under_grading()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert under_grading()


@pytest.mark.cuda
def test_autocast_on_cuda_uses_reduced_precision():
    dev = pick_device("cuda")
    with autocast(dev):
        y = torch.ones(8, 8, device=dev) @ torch.ones(8, 8, device=dev)
    assert y.dtype in (torch.bfloat16, torch.float16)
