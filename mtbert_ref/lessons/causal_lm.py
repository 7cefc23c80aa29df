"""Notebook 02 — text generation with BERT as a causal LM: greedy decoding for the demos.

* :func:`greedy_generate` — append the arg-max next token, again and again (no key/value cache).

The mask, the label shift, the loss and the model are in :mod:`mtbert_ref.modeling.causal_lm`.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["greedy_generate"]


@torch.no_grad()
def greedy_generate(model: nn.Module, input_ids: torch.Tensor, max_new_tokens: int = 20,
                    stop_id: int | None = None, banned_ids=()) -> torch.Tensor:
    """Append the arg-max next token ``max_new_tokens`` times (one prompt, shape (1, seq)); stop after ``stop_id``.

    Recomputes the whole prefix at every step (no key/value cache): simple, and fast enough for short demos.
    ``banned_ids`` (e.g. [PAD], [CLS], [MASK]) are never chosen.
    """
    model.eval()
    ids = input_ids
    for _ in range(max_new_tokens):
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids))
        logits = (out["logits"] if isinstance(out, dict) else out.logits)[:, -1, :].clone()
        if len(banned_ids):
            logits[:, list(banned_ids)] = torch.finfo(logits.dtype).min
        nxt = logits.argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], dim=-1)
        if stop_id is not None and int(nxt) == stop_id:
            break
    return ids
