"""Notebook 08 — the rows of a grown classifier: where the new ones start (exercise 2: :func:`imprint_rows`), and
how the old ones stay fixed while the new ones train.

A grown output layer ``Linear(d, C + k)`` (:mod:`.grow`) keeps its ``C`` trained rows; the ``k`` new rows need a start:

* :func:`init_random` — random at the scale of the layer's own rows (not unit-variance ``torch.randn``);
* :func:`init_zeros` — zero rows and a low bias: the new label starts as "never predicted";
* :func:`init_mean` — the mean of the old rows: plausible, never above the best old logit;
* :func:`imprint_rows` — imprinting: the normalised mean feature of each new label's examples, scaled like the old
  rows; it classifies the new labels before any training;

all behind :func:`new_rows` (which also keeps the naive ``"randn"`` for comparison). transformers' initialisation of
a wholly new head is :func:`.init.new_head_init`; none of these strategies is a copy of it.

:func:`freeze_rows` / :func:`unfreeze_rows` keep the old rows bit-identical under any ``torch.optim`` optimizer,
weight decay included (its docstring says exactly what holds).
"""
from __future__ import annotations

import weakref

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

__all__ = ["init_random", "init_zeros", "init_mean", "imprint_rows", "new_rows", "INIT_STRATEGIES", "freeze_rows",
           "unfreeze_rows"]

INIT_STRATEGIES = ("random", "zeros", "mean", "imprint", "randn")


def _old_bias_mean(layer_bias: torch.Tensor | None, k: int, like: torch.Tensor) -> torch.Tensor | None:
    if layer_bias is None:
        return None
    return layer_bias.detach().mean().expand(k).clone().to(like.dtype)


@torch.no_grad()
def init_random(layer: nn.Linear, k: int, generator: torch.Generator | None = None):
    """Random rows at the scale of the layer's own rows: N(0, s²) with s the std of the old weights.

    Bias: the mean of the old biases. Unit-variance ``torch.randn`` rows are far larger than trained rows
    (a BERT head starts at std 0.02), so their logits dwarf the old ones and the new label wins everywhere.
    """
    w = layer.weight.detach()
    std = float(w.float().std()) if w.numel() > 1 else float(w.abs().mean())
    rows = torch.randn(k, w.shape[1], generator=generator, dtype=torch.float32).to(w.device, w.dtype) * std
    return rows, _old_bias_mean(layer.bias, k, w)


@torch.no_grad()
def init_zeros(layer: nn.Linear, k: int, low_bias: float | None = None):
    """Zero rows and a low bias (default: the smallest old bias minus 1).

    A zero row's logit is its bias for every input, so a low bias starts the new label "never predicted";
    training then grows its row from the gradient ``(p - y) x``.
    """
    w = layer.weight.detach()
    rows = torch.zeros(k, w.shape[1], dtype=w.dtype, device=w.device)
    if layer.bias is None:
        return rows, None
    value = float(layer.bias.detach().min()) - 1.0 if low_bias is None else float(low_bias)
    return rows, torch.full((k,), value, dtype=w.dtype, device=w.device)


@torch.no_grad()
def init_mean(layer: nn.Linear, k: int):
    """Every new row is the mean of the old rows (bias: mean of the old biases).

    Its logit is then the average of the old logits, never above their maximum: the new label starts
    plausible but not predicted.
    """
    w = layer.weight.detach()
    rows = w.mean(dim=0, keepdim=True).expand(k, -1).clone()
    bias = None if layer.bias is None else layer.bias.detach().mean().expand(k).clone()
    return rows, bias


def imprint_rows(old_weight: torch.Tensor, old_bias: torch.Tensor | None, features: torch.Tensor,
                 labels: torch.Tensor, k: int):
    """Imprinting (Qi, Brown & Lowe, 2018): new rows made from the new labels' own examples.

    old_weight: (C, d); old_bias: (C,) or None; features: (n, d), the inputs of the layer for the examples of the
    new labels; labels: (n,) long in ``[0, k)`` (0 = first new label). For each new label j:
    1. normalise every feature to unit length, 2. average those of label j, 3. normalise the average,
    4. scale it to the mean L2 norm of the old rows. Bias: the mean of the old biases (None if old_bias is None).
    Returns ``(weight (k, d), bias (k,) or None)`` in old_weight's dtype and on its device.
    """
    features = features.detach().to(old_weight.device, old_weight.dtype)
    labels = labels.to(old_weight.device)
    missing = [j for j in range(k) if not bool((labels == j).any())]
    if missing:
        raise ValueError(f"imprinting needs at least one example of every new label; none for label index {missing}")
    unit = features / features.norm(dim=1, keepdim=True).clamp_min(1e-12)
    rows = torch.stack([unit[labels == j].mean(dim=0) for j in range(k)])
    rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
    scale = old_weight.detach().norm(dim=1).mean()
    bias = None if old_bias is None else old_bias.detach().mean().expand(k).clone()
    return rows * scale, bias


def new_rows(layer: nn.Linear, k: int, strategy: str = "random", *, features: torch.Tensor | None = None,
             labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
             low_bias: float | None = None):
    """``(weight (k, d), bias (k,) or None)`` for ``k`` new rows of ``layer`` by ``strategy``.

    "random" (layer-scale), "zeros" (low bias), "mean" (of the old rows), "imprint" (needs ``features`` (n, d)
    and ``labels`` (n,) in [0, k)), and "randn" — unit-variance ``torch.randn`` rows and zero bias, the naive
    choice kept for comparison.
    """
    if strategy == "random":
        return init_random(layer, k, generator)
    if strategy == "zeros":
        return init_zeros(layer, k, low_bias)
    if strategy == "mean":
        return init_mean(layer, k)
    if strategy == "imprint":
        if features is None or labels is None:
            raise ValueError("strategy 'imprint' needs features= (n, in_features) and labels= (n,) of the new "
                             "labels' examples (see mtbert_ref.lessons.grow.head_inputs)")
        return imprint_rows(layer.weight, layer.bias, features, torch.as_tensor(labels), k)
    if strategy == "randn":
        w = layer.weight
        rows = torch.randn(k, w.shape[1], generator=generator).to(w.device, w.dtype)
        bias = None if layer.bias is None else torch.zeros(k, dtype=w.dtype, device=w.device)
        return rows, bias
    raise ValueError(f"unknown init strategy {strategy!r}; choose one of {INIT_STRATEGIES}")


# ============================================================================================== freezing
_FROZEN: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()
_STEP_HOOK = None


def _write_back_frozen_rows(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
    """After every optimizer step: rows frozen by :func:`freeze_rows` get their kept values back, bit for bit."""
    if not _FROZEN:
        return
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    with torch.no_grad():
        for layer in list(_FROZEN):
            for name in ("weight", "bias"):
                param, kept = getattr(layer, name, None), layer._buffers.get(f"frozen_{name}_rows")
                if param is not None and kept is not None and id(param) in held:
                    param[:kept.shape[0]].copy_(kept)


def freeze_rows(layer: nn.Linear, n_old: int) -> nn.Linear:
    """Keep rows ``0..n_old-1`` of ``layer`` (weight and bias) exactly as they are now; returns ``layer``.

    What holds, for every optimizer that subclasses ``torch.optim.Optimizer`` (SGD with momentum and weight decay,
    Adam, AdamW with its decoupled weight decay; for-loop, foreach or fused implementations): after each
    completed ``optimizer.step()`` those rows are bit-identical (``torch.equal``) to their values at the time of this
    call, while the other rows train as usual. How: a copy of the rows is held apart in two non-persistent buffers
    (``frozen_weight_rows``, ``frozen_bias_rows``; they follow ``.to()`` and are not saved); tensor hooks zero the
    rows' gradient after every backward (so ``weight.grad[:n_old]`` is 0 and Adam's moments and SGD's momentum get
    nothing from the loss), and an optimizer step post-hook writes the held copy back into the rows of every
    parameter the stepping optimizer holds — undoing weight decay, which moves a parameter whatever its gradient.
    Not covered: updates that bypass ``Optimizer.step`` (a hand-written ``p -= lr * (g + wd * p)``) and optimizers
    that keep their own master copy of the weights. To change the frozen rows on purpose, call
    :func:`unfreeze_rows` first (a later ``freeze_rows`` keeps the values of that moment).
    """
    global _STEP_HOOK
    unfreeze_rows(layer)
    n_old = int(n_old)
    if not 0 <= n_old <= layer.out_features:
        raise ValueError(f"n_old must be in 0..{layer.out_features}, got {n_old}")

    def mask(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[:n_old] = 0
        return grad

    handles = [layer.weight.register_hook(mask)]
    layer.register_buffer("frozen_weight_rows", layer.weight.detach()[:n_old].clone(), persistent=False)
    if layer.bias is not None:
        handles.append(layer.bias.register_hook(mask))
        layer.register_buffer("frozen_bias_rows", layer.bias.detach()[:n_old].clone(), persistent=False)
    layer._mtbert_freeze_handles = handles
    layer.frozen_rows = n_old
    _FROZEN.add(layer)
    if _STEP_HOOK is None:
        _STEP_HOOK = register_optimizer_step_post_hook(_write_back_frozen_rows)
    return layer


def unfreeze_rows(layer: nn.Linear) -> nn.Linear:
    """Undo :func:`freeze_rows` (if it was applied): remove the hooks and the held copy; all rows train again."""
    for h in getattr(layer, "_mtbert_freeze_handles", []):
        h.remove()
    layer._mtbert_freeze_handles = []
    for name in ("frozen_weight_rows", "frozen_bias_rows"):
        layer._buffers.pop(name, None)
    _FROZEN.discard(layer)
    layer.frozen_rows = 0
    return layer
