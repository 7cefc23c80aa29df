"""Head initialisation: transformers' rule for a new head, and starting a classifier's biases at the label prior.

The one copy of each in the package.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["new_head_init", "prior_bias"]


def new_head_init(module: nn.Module, config) -> None:
    """transformers' initialisation of a freshly added head: Linear weights normal(0, initializer_range), biases 0,
    LayerNorm weight 1 / bias 0. The one copy in the package."""
    std = getattr(config, "initializer_range", 0.02)
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def prior_bias(frequencies: torch.Tensor, problem_type: str, eps: float = 1e-3) -> torch.Tensor:
    """The bias that makes an untrained head predict the label frequencies of the training data.

    frequencies: (num_labels,) in [0, 1] — the share of training examples with each class / label (clamped to
    [eps, 1 - eps]). Single-label (softmax): ``log(p)``; multi-label (one sigmoid per label): ``log(p / (1 - p))``.
    """
    p = torch.as_tensor(frequencies, dtype=torch.float32).clamp(eps, 1 - eps)
    if problem_type == "single_label_classification":
        return torch.log(p)
    if problem_type == "multi_label_classification":
        return torch.log(p / (1 - p))
    raise ValueError(f"a prior bias is defined for single_label_classification and multi_label_classification, "
                     f"not {problem_type!r}")
