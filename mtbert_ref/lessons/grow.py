"""Notebook 08 — the data side of growing a classifier (exercise 3: :func:`replay_mix`).

:func:`head_inputs` captures the features a model's output layer sees (what imprinting averages);
:func:`replay_mix` mixes a seeded sample of old examples into the new ones, so fine-tuning on the new labels keeps
the old ones in the loss. The layer surgery is :mod:`mtbert_ref.modeling.grow`, the new rows' initialisation and
the frozen rows :mod:`mtbert_ref.modeling.grow_rows`.
"""
from __future__ import annotations

import random
from typing import Iterable, Sequence

import torch
from torch import nn

from ..modeling.grow import find_head
from ..trainer import move_to

__all__ = ["head_inputs", "replay_mix"]


@torch.no_grad()
def head_inputs(model: nn.Module, batches: Iterable[dict], head: str | None = None, task: str | None = None,
                device: str | torch.device = "cpu") -> torch.Tensor:
    """The inputs of the model's output Linear for every example of ``batches`` (n, in_features), on the CPU.

    Captured by a forward pre-hook, so it works for any head (BERT's pooled output after dropout, RoBERTa's
    dense+tanh features, a multi-task head ...). The model runs in eval mode.
    """
    _, layer = find_head(model, head, task)
    got: list[torch.Tensor] = []
    handle = layer.register_forward_pre_hook(lambda mod, args: got.append(args[0].detach().float().cpu()))
    was_training = model.training
    model.eval().to(device)
    try:
        for batch in batches:
            batch = {k: v for k, v in move_to(batch, device).items() if k != "labels"}
            model(**batch)
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(got)


def replay_mix(new_examples: Sequence, old_examples: Sequence, ratio: float, seed: int) -> list:
    """Every new example once, plus ``min(len(old), round(ratio * len(new)))`` old examples drawn without
    replacement, all shuffled together; seeded by ``seed``; the input lists are not modified.

    Replay keeps the old labels' logits in the loss, so fine-tuning on the new labels cannot push them down
    everywhere. ``ratio`` is the number of replayed old examples per new one.
    """
    if ratio < 0:
        raise ValueError(f"ratio must be >= 0, got {ratio}")
    rng = random.Random(seed)
    n_old = min(len(old_examples), int(round(ratio * len(new_examples))))
    mixed = list(new_examples) + rng.sample(list(old_examples), n_old)
    rng.shuffle(mixed)
    return mixed
