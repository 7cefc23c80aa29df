"""Plots the notebooks share (matplotlib only; each function returns the Figure)."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["attention_heatmap", "parameter_bars", "loss_curve"]


def attention_heatmap(attn, tokens: Sequence[str], title: str = "", ax=None):
    """Heatmap of one attention matrix (query rows × key columns) with the tokens on both axes."""
    attn = np.asarray(attn.detach().float().cpu() if hasattr(attn, "detach") else attn)
    if attn.ndim != 2 or attn.shape[0] != attn.shape[1] or attn.shape[0] != len(tokens):
        raise ValueError(f"attention_heatmap expects a square (seq_len, seq_len) matrix matching {len(tokens)} tokens, "
                         f"got shape {attn.shape}")
    fig = None
    if ax is None:
        size = max(4.0, 0.35 * len(tokens) + 1.5)
        fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(attn, cmap="viridis", vmin=0.0, vmax=float(attn.max()))
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if title:
        ax.set_title(title)
    (fig or ax.figure).colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig or ax.figure


def parameter_bars(counts: Mapping[str, int], title: str = "Parameters per component", ax=None):
    """Horizontal bars of parameter counts (millions) per component."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(counts) + 1.2))
    names = list(counts)[::-1]
    vals = [counts[n] / 1e6 for n in names]
    ax.barh(names, vals, color="#4c72b0")
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:.2f}M", va="center", fontsize=8)
    ax.set_xlabel("parameters (millions)")
    ax.set_title(title)
    ax.set_xlim(0, max(vals) * 1.25 if vals else 1)
    return fig or ax.figure


def loss_curve(history: Mapping[str, Sequence[float]], title: str = "Training loss", smooth: int = 1, ax=None):
    """Plot each named series of a training history (e.g. {'train loss': [...], 'val loss': [...]})."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, series in history.items():
        y = np.asarray(series, dtype=float)
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(len(y)), y, label=name)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig or ax.figure
