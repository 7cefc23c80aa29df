"""Device handling in one place: pick a device, seed every generator, autocast, tolerances.

Everything in the course takes a ``device`` argument; nothing hard-codes CUDA. On a machine with a GPU the
notebooks use it, on a laptop they run on the CPU.
"""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

__all__ = [
    "pick_device",
    "seed_everything",
    "autocast",
    "autocast_dtype",
    "tolerance",
    "under_grading",
    "describe_device",
]


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    ``prefer`` (or the environment variable ``MTBERT_DEVICE``) forces one ("cpu", "cuda", "cuda:1", "mps").
    Otherwise: CUDA if available, then Apple's MPS, then the CPU.
    """
    choice = prefer if prefer is not None else os.environ.get("MTBERT_DEVICE") or None
    if choice is not None:
        dev = torch.device(choice)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {str(dev)!r} was asked for, but torch.cuda.is_available() is False on this machine; "
                               "use 'cpu' or unset MTBERT_DEVICE")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise RuntimeError("device 'mps' was asked for, but this torch build has no MPS backend available; use 'cpu'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: str | torch.device) -> str:
    """One line saying what the device is, for the top of a notebook."""
    device = torch.device(device)
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        name = torch.cuda.get_device_name(idx)
        bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
        return f"cuda:{idx} ({name}; autocast dtype {'bfloat16' if bf16 else 'float16'})"
    if device.type == "mps":
        return "mps (Apple GPU; autocast float16)"
    return f"cpu ({torch.get_num_threads()} threads; autocast off)"


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and every GPU); return a torch.Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def autocast_dtype(device: str | torch.device) -> torch.dtype | None:
    """The reduced precision used on this device: bf16 on CUDA where supported, else fp16; None on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    if device.type == "mps":
        return torch.float16
    return None


def autocast(device: str | torch.device, enabled: bool = True):
    """A context manager for mixed precision on ``device``.

    On CUDA: bf16 where the GPU supports it, fp16 otherwise (pair fp16 with a GradScaler, as
    :mod:`mtbert_ref.trainer` does). On the CPU it does nothing: CPU autocast is slower than fp32 on most laptops.
    """
    dtype = autocast_dtype(device)
    if not enabled or dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


# Tolerances used by the grading checkers when a student's result is compared with the reference *on the same
# device*. fp32 on the CPU is nearly exact; GPU kernels (TF32 matmuls on Ampere+) and reduced precision are not.
_TOLERANCES = {
    ("cpu", torch.float32): (1e-5, 1e-4),
    ("cpu", torch.float64): (1e-8, 1e-7),
    ("cuda", torch.float32): (1e-3, 1e-3),   # TF32 matmuls may be on
    ("mps", torch.float32): (1e-4, 1e-3),
    (None, torch.float16): (1e-2, 1e-2),
    (None, torch.bfloat16): (5e-2, 2e-2),
}


def tolerance(dtype: torch.dtype, device: str | torch.device = "cpu") -> tuple[float, float]:
    """(atol, rtol) for comparing two results of ``dtype`` computed on ``device``."""
    dev = torch.device(device).type
    for key in ((dev, dtype), (None, dtype)):
        if key in _TOLERANCES:
            return _TOLERANCES[key]
    if dtype in (torch.float64,):
        return _TOLERANCES[("cpu", torch.float64)]
    return (1e-4, 1e-3)


def under_grading() -> bool:
    """True while nbgrader executes the notebook (autograde or validate).

    Notebooks use it to shrink long training demos so that grading one submission takes seconds; graded cells
    never change under grading.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION")) or os.environ.get("MTBERT_FAST") == "1"
