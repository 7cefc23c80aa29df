"""The course's training loop: device-agnostic, gradient accumulation, optional autocast, tqdm progress, history.

    history = train(model, loader, device=device, max_steps=200, lr=5e-5)
    loss_curve({"train loss": history["loss"]})

A batch is a dict of tensors; by default the loss is ``model(**batch).loss`` (transformers' convention). Pass
``loss_fn(model, batch) -> loss`` for anything else.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

from .device import autocast, autocast_dtype

__all__ = ["train", "param_groups", "move_to", "evaluate_loss", "predict"]


def move_to(batch, device):
    """Move every tensor of a (nested) batch to ``device`` (non_blocking when pinned)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


def param_groups(model: nn.Module, lr: float, weight_decay: float = 0.01, head_lr: float | None = None,
                 head_prefixes: tuple[str, ...] = ("classifier", "heads", "shared", "head")) -> list[dict]:
    """AdamW parameter groups: no weight decay for biases and LayerNorm weights; with ``head_lr``, the parameters
    whose names start with one of ``head_prefixes`` get that learning rate (and the others ``lr``).

    Raises ValueError when ``head_lr`` is given but no parameter matches — a silent no-op would hide a typo.
    """
    groups: dict[tuple[bool, bool], list] = {}
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_head = head_lr is not None and n.split(".")[0] in head_prefixes
        no_decay = p.ndim < 2 or "LayerNorm" in n or n.endswith(".bias")
        groups.setdefault((is_head, no_decay), []).append(p)
    if head_lr is not None and not any(is_head for is_head, _ in groups):
        names = sorted({n.split(".")[0] for n, _ in model.named_parameters()})
        raise ValueError(f"head_lr given but no parameter name starts with one of {head_prefixes}; the model's "
                         f"top-level modules are {names}: pass head_prefixes=")
    return [{"params": ps, "lr": head_lr if is_head else lr, "weight_decay": 0.0 if no_decay else weight_decay}
            for (is_head, no_decay), ps in groups.items()]


def adamw(groups, lr: float) -> torch.optim.AdamW:
    """AdamW with the fused kernel (one kernel over all parameters, as transformers' Trainer uses by default) where
    the parameters' device and dtype support it, else the default implementation — same update rule either way."""
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(groups, lr=lr)


def _default_loss(model, batch):
    out = model(**batch)
    loss = getattr(out, "loss", None)
    if loss is None and isinstance(out, dict):
        loss = out.get("loss")
    if loss is None:
        raise ValueError("the model returned no loss: give the batch a 'labels' entry or pass loss_fn=")
    return loss


def train(model: nn.Module, loader: Iterable, *, device: str | torch.device = "cpu", epochs: int = 1,
          max_steps: int | None = None, lr: float = 5e-5, weight_decay: float = 0.01, warmup_ratio: float = 0.1,
          grad_accum_steps: int = 1, use_autocast: bool = False, clip_grad_norm: float | None = 1.0,
          loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None,
          eval_fn: Callable[[nn.Module], dict] | None = None, eval_every: int | None = None,
          progress: bool = True, desc: str = "training", head_lr: float | None = None,
          head_prefixes: tuple[str, ...] = ("classifier", "heads", "shared", "head")) -> dict:
    """Train ``model`` and return its history: {'step', 'loss', 'lr', 'eval', 'seconds', 'samples_per_s'}.

    ``max_steps`` counts optimizer steps and stops early; ``epochs`` bounds the passes over ``loader``.
    The learning rate warms up linearly for ``warmup_ratio`` of the steps, then decays linearly to 0.
    ``use_autocast`` runs forward passes in bf16/fp16 on a GPU (a GradScaler guards fp16); on the CPU it is a no-op.
    ``head_lr``: a separate (usually much larger) learning rate for the new, randomly initialised layers — the
    parameters whose names start with one of ``head_prefixes`` — while the pretrained encoder keeps ``lr``; the
    schedule scales both alike. Ignored when an ``optimizer`` is given.
    """
    device = torch.device(device)
    model.to(device).train()
    loss_fn = loss_fn or _default_loss
    if optimizer is None:
        optimizer = adamw(param_groups(model, lr, weight_decay, head_lr, head_prefixes), lr=lr)
    try:
        per_epoch = len(loader) // grad_accum_steps  # type: ignore[arg-type]
    except TypeError:
        per_epoch = None
    total = max_steps if max_steps is not None else (per_epoch * epochs if per_epoch else None)
    warmup = int((total or 0) * warmup_ratio)

    def lr_at(step: int) -> float:
        if not total:
            return 1.0
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    use_scaler = use_autocast and autocast_dtype(device) == torch.float16 and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    history: dict = {"step": [], "loss": [], "lr": [], "eval": [], "seconds": 0.0, "samples": 0}
    step, micro, running = 0, 0, 0.0
    start = time.perf_counter()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    done = False
    for _epoch in range(epochs):
        for batch in loader:
            batch = move_to(batch, device)
            with autocast(device, enabled=use_autocast):
                loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss became {loss.item()} at step {step}; lower the learning rate")
            loss_scaled = loss / grad_accum_steps
            (scaler.scale(loss_scaled) if scaler else loss_scaled).backward()
            running += float(loss.detach())
            first = next(iter(batch.values())) if isinstance(batch, dict) else None
            history["samples"] += int(first.shape[0]) if isinstance(first, torch.Tensor) else 0
            micro += 1
            if micro % grad_accum_steps:
                continue
            if scaler:
                scaler.unscale_(optimizer)
            if clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            history["step"].append(step)
            history["loss"].append(running / grad_accum_steps)
            history["lr"].append(scheduler.get_last_lr()[0])
            running = 0.0
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
            if eval_fn is not None and eval_every and step % eval_every == 0:
                model.eval()
                history["eval"].append({"step": step, **eval_fn(model)})
                model.train()
            if max_steps is not None and step >= max_steps:
                done = True
                break
        if done:
            break
    bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    history["seconds"] = time.perf_counter() - start
    history["samples_per_s"] = history["samples"] / history["seconds"] if history["seconds"] else math.nan
    if eval_fn is not None and (not history["eval"] or history["eval"][-1]["step"] != step):
        model.eval()
        history["eval"].append({"step": step, **eval_fn(model)})
    model.eval()
    return history


@torch.no_grad()
def evaluate_loss(model: nn.Module, loader: Iterable, device="cpu", loss_fn: Callable | None = None) -> float:
    """Mean loss over ``loader`` in eval mode."""
    model.eval()
    loss_fn = loss_fn or _default_loss
    total, n = 0.0, 0
    for batch in loader:
        batch = move_to(batch, device)
        total += float(loss_fn(model, batch))
        n += 1
    return total / max(1, n)


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable, device="cpu", output_key: str = "logits",
            use_autocast: bool = False) -> torch.Tensor:
    """Concatenate ``model(**batch)[output_key]`` over ``loader`` (labels are dropped from the batch), on the CPU."""
    model.eval().to(device)
    outs = []
    for batch in loader:
        batch = {k: v for k, v in move_to(batch, device).items() if k != "labels"}
        with autocast(device, enabled=use_autocast):
            out = model(**batch)
        outs.append((out[output_key] if isinstance(out, dict) else getattr(out, output_key)).float().cpu())
    return torch.cat(outs)
