"""Pooling: from per-token vectors (batch, seq, hidden) to one vector per sequence (batch, hidden).

The one copy of masked mean pooling in the package; every model and helper that pools imports it from here.
"""
from __future__ import annotations

import torch

__all__ = ["POOLINGS", "masked_mean_pool", "pool"]

POOLINGS = ("mean", "cls", "pooler")


def masked_mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of the token vectors where ``attention_mask`` is 1.

    last_hidden_state: (batch, seq_len, hidden) float; attention_mask: (batch, seq_len) of 0/1 (any integer or bool
    dtype), or None for "every position is real". Returns (batch, hidden) in the dtype of ``last_hidden_state``.
    A row with no real token gives zeros (the count is clamped to 1, never a division by 0).
    """
    if attention_mask is None:
        return last_hidden_state.mean(dim=1)
    if attention_mask.shape != last_hidden_state.shape[:2]:
        raise ValueError(f"attention_mask should have shape {tuple(last_hidden_state.shape[:2])} (batch, seq_len) "
                         f"to pool last_hidden_state {tuple(last_hidden_state.shape)}, got {tuple(attention_mask.shape)}")
    mask = attention_mask.to(last_hidden_state.dtype).unsqueeze(-1)        # (batch, seq_len, 1)
    summed = (last_hidden_state * mask).sum(dim=1)                         # (batch, hidden)
    counts = mask.sum(dim=1).clamp(min=1.0)                                # (batch, 1), never 0
    return summed / counts


def pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor | None = None, how: str = "mean",
         pooler_output: torch.Tensor | None = None) -> torch.Tensor:
    """Pool by name: "mean" (masked mean), "cls" (the [CLS] position) or "pooler" (BERT's dense + tanh on [CLS])."""
    if how == "mean":
        return masked_mean_pool(last_hidden_state, attention_mask)
    if how == "cls":
        return last_hidden_state[:, 0]
    if how == "pooler":
        if pooler_output is None:
            raise ValueError("pooling 'pooler' needs the encoder's pooler_output: build the encoder with its pooler "
                             "(add_pooling_layer=True)")
        return pooler_output
    raise ValueError(f"pooling must be one of {POOLINGS}, got {how!r}")
