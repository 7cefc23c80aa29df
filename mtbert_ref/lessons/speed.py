"""Notebook 09 — making it fast: the reference answers and the measurement helpers.

References:
* :func:`pad_batch` — dynamic padding: pad a list of tokenised examples to the longest one in the batch.
* :func:`bucket_batches` — length bucketing: batches of similar lengths, every example exactly once, seeded.
* :func:`padding_fraction` — how much of a set of batches is padding.
* :func:`time_it` — wall-clock timing that synchronises the GPU, with warm-up and the median of repeats.
* :func:`cache_features` — run a frozen encoder once and keep its pooled features for head-only training.
"""
from __future__ import annotations

import random
import statistics
import time
from typing import Callable, Sequence

import torch

from ..modeling.pooling import pool as pool_hidden

__all__ = [
    "pad_batch",
    "bucket_batches",
    "padding_fraction",
    "time_it",
    "cache_features",
]


# --------------------------------------------------------------------------------------------- references
def pad_batch(examples: Sequence[dict], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad ``examples`` (dicts with ``input_ids`` and optionally ``token_type_ids``: lists of ints) to the longest.

    Returns ``input_ids`` (padded with ``pad_token_id``), ``attention_mask`` (1 for real tokens, 0 for padding) and,
    if the examples have them, ``token_type_ids`` (padded with 0) — all ``torch.long`` of shape (batch, longest).
    """
    if len(examples) == 0:
        raise ValueError("pad_batch needs at least one example")
    width = max(len(ex["input_ids"]) for ex in examples)
    out: dict[str, list] = {"input_ids": [], "attention_mask": []}
    with_types = "token_type_ids" in examples[0]
    if with_types:
        out["token_type_ids"] = []
    for ex in examples:
        n = len(ex["input_ids"])
        out["input_ids"].append(list(ex["input_ids"]) + [pad_token_id] * (width - n))
        out["attention_mask"].append([1] * n + [0] * (width - n))
        if with_types:
            out["token_type_ids"].append(list(ex["token_type_ids"]) + [0] * (width - n))
    return {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}


def bucket_batches(lengths: Sequence[int], batch_size: int, bucket_factor: int = 50, seed: int = 0) -> list[list[int]]:
    """Group example indices into batches of similar length.

    Shuffle the indices (``random.Random(seed)``), cut them into chunks of ``batch_size * bucket_factor``, sort each
    chunk by length, cut it into batches of ``batch_size`` (the last of a chunk may be shorter), then shuffle the
    order of the batches with the same generator. Every index appears exactly once.
    """
    rng = random.Random(seed)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * bucket_factor
    batches: list[list[int]] = []
    for start in range(0, len(idx), chunk):
        part = sorted(idx[start:start + chunk], key=lambda i: lengths[i])
        batches.extend(part[b:b + batch_size] for b in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]], pad_to: int | None = None) -> float:
    """Fraction of the token slots in ``batches`` that are padding (each batch padded to its longest, or ``pad_to``)."""
    slots = real = 0
    for b in batches:
        width = pad_to if pad_to is not None else max(lengths[i] for i in b)
        slots += width * len(b)
        real += sum(lengths[i] for i in b)
    return 1.0 - real / slots if slots else 0.0


def time_it(fn: Callable[[], object], repeat: int = 5, warmup: int = 1, device: str | torch.device = "cpu") -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs (synchronising CUDA)."""
    device = torch.device(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def cache_features(encoder, batches, device="cpu", pool: str = "mean") -> torch.Tensor:
    """Run a frozen ``encoder`` once over ``batches`` (dicts of tensors) and return pooled features on the CPU.

    ``pool`` is "mean" (masked mean of the last hidden states) or "cls" (the pooler output).
    """
    encoder.eval().to(device)
    feats = []
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        out = encoder(**batch)
        how = "pooler" if pool == "cls" else "mean"  # "cls" here means BERT's pooler output
        pooled = pool_hidden(out.last_hidden_state, batch["attention_mask"], how=how,
                             pooler_output=getattr(out, "pooler_output", None))
        feats.append(pooled.float().cpu())
    return torch.cat(feats)
