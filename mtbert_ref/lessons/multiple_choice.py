"""Notebook 04 — multiple choice, the notebook's helpers: data, encoding, accuracy, a zero-shot baseline, a plot.

* :func:`load_multiple_choice` — the course's 4-choice questions.
* :func:`encode_choices` — one question and its choices → ``(num_choices, length)`` lists of token ids, token types
  and attention masks, the question truncated first (graded exercise).
* :func:`encode_dataset` — questions → an :class:`~mtbert_ref.data.EncodedDataset` for the padding collator.
* :func:`mc_accuracy` — share of questions whose highest-scoring choice is the right one (graded exercise).
* :func:`similarity_scores` — a zero-shot baseline with the sentence-embedding encoder.
* :func:`plot_choice_probabilities`.
"""
from __future__ import annotations

import json
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import BertModel

from ..data import EncodedDataset, data_path
from ..modeling.pooling import masked_mean_pool

__all__ = [
    "load_multiple_choice",
    "encode_choices",
    "encode_dataset",
    "mc_accuracy",
    "similarity_scores",
    "plot_choice_probabilities",
]


def load_multiple_choice(split: str = "train", source: str | None = None) -> list[dict]:
    """The course's 4-choice questions (see ``mtbert_ref/data/multiple_choice/SOURCE.md``).

    ``split``: "train" or "test"; ``source``: None (all), "trivia" or "debian". Each item:
    ``{"id", "source", "category", "answer_type", "question", "choices": [4 str], "label": int}``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source not in (None, "trivia", "debian"):
        raise ValueError(f"source must be None, 'trivia' or 'debian', got {source!r}")
    with open(data_path("multiple_choice", f"{split}.jsonl"), encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    return [it for it in items if source is None or it["source"] == source]


# --------------------------------------------------------------------------------------------- encoding
def encode_choices(tokenizer, question: str, choices: Sequence[str], max_length: int = 64) -> dict[str, list]:
    """One question and its choices → ``{"input_ids", "token_type_ids", "attention_mask"}``, each a list of
    ``len(choices)`` lists of ints (row c is ``[CLS] question [SEP] choice_c [SEP]``).

    token_type_ids are 0 for ``[CLS] question [SEP]`` and 1 for ``choice [SEP]``; attention_mask is all 1 (no padding
    here: :class:`mtbert_ref.data.PaddingCollator` pads each batch to its longest sequence). A pair longer than
    ``max_length`` tokens loses tokens from the *end of the question* first — the choice is what is being judged, so it
    is kept whole (only a choice that does not fit even with an empty question is cut as well). This is what
    ``tokenizer([question] * n, choices, truncation="only_first", max_length=max_length)`` returns whenever the choices
    fit.
    """
    q_ids = tokenizer(question, add_special_tokens=False)["input_ids"]
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    budget = max_length - 3
    if budget < 1:
        raise ValueError(f"max_length={max_length} leaves no room for [CLS] question [SEP] choice [SEP]")
    out: dict[str, list] = {"input_ids": [], "token_type_ids": [], "attention_mask": []}
    for choice in choices:
        c_ids = tokenizer(choice, add_special_tokens=False)["input_ids"]
        q = q_ids[:max(0, budget - len(c_ids))] if len(q_ids) + len(c_ids) > budget else q_ids
        c = c_ids[:budget - len(q)]
        ids = [cls_id] + q + [sep_id] + c + [sep_id]
        out["input_ids"].append(ids)
        out["token_type_ids"].append([0] * (len(q) + 2) + [1] * (len(c) + 1))
        out["attention_mask"].append([1] * len(ids))
    return out


def encode_dataset(tokenizer, items: Sequence[dict], max_length: int = 64,
                   encode_fn: Callable | None = None) -> EncodedDataset:
    """Encode questions (dicts with "question", "choices", "label") for :class:`~mtbert_ref.data.PaddingCollator`:
    each example is ``encode_fn(tokenizer, question, choices, max_length)`` plus ``labels`` (an int)."""
    encode_fn = encode_fn or encode_choices
    examples = []
    for it in items:
        enc = encode_fn(tokenizer, it["question"], it["choices"], max_length)
        examples.append({"input_ids": [list(map(int, r)) for r in enc["input_ids"]],
                         "token_type_ids": [list(map(int, r)) for r in enc["token_type_ids"]],
                         "attention_mask": [list(map(int, r)) for r in enc["attention_mask"]],
                         "labels": int(it["label"])})
    return EncodedDataset(examples)


# --------------------------------------------------------------------------------------------- metrics, baselines
def mc_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share (0..1, a Python float) of questions whose highest-scoring choice is the labelled one.

    logits: (batch, num_choices) float on any device; labels: (batch,) int. Ties go to the first maximal choice
    (``argmax``). An empty batch has no accuracy: ValueError.
    """
    if logits.shape[0] == 0:
        raise ValueError("mc_accuracy of an empty batch is undefined")
    pred = logits.argmax(dim=-1)
    return float((pred == labels.to(pred.device).long()).double().mean().item())


@torch.no_grad()
def similarity_scores(encoder: BertModel, tokenizer, items: Sequence[dict], device="cpu", batch_size: int = 64,
                      max_length: int = 64) -> torch.Tensor:
    """Zero-shot scores without any head: cosine similarity between the mean-pooled embedding of the question and of
    each choice (what all-MiniLM-L6-v2 was trained for). Returns (len(items), num_choices) on the CPU."""
    encoder.eval().to(device)

    def embed(texts: list[str]) -> torch.Tensor:
        vecs = []
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            h = encoder(**enc).last_hidden_state
            vecs.append(F.normalize(masked_mean_pool(h, enc["attention_mask"]), dim=-1).float().cpu())
        return torch.cat(vecs)

    q = embed([it["question"] for it in items])
    n = len(items[0]["choices"])
    c = embed([ch for it in items for ch in it["choices"]]).view(len(items), n, -1)
    return torch.einsum("bh,bch->bc", q, c)


def plot_choice_probabilities(items: Sequence[dict], probs_before, probs_after, n: int = 6,
                              title: str = "Probability given to each choice", wrap: int = 48):
    """Bar charts of the choice probabilities of ``n`` questions before and after fine-tuning (the right choice in
    green)."""
    import textwrap

    import matplotlib.pyplot as plt

    n = min(n, len(items))
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.55 * n + 0.6), squeeze=False)
    for k in range(n):
        ax = axes[k, 0]
        it = items[k]
        y = np.arange(len(it["choices"]))
        before = np.asarray(probs_before[k], dtype=float)
        after = np.asarray(probs_after[k], dtype=float)
        ax.barh(y + 0.2, before, height=0.4, color="#bbbbbb", label="before fine-tuning")
        colors = ["#2a9d3c" if j == it["label"] else "#c0504d" for j in range(len(y))]
        ax.barh(y - 0.2, after, height=0.4, color=colors, label="after (green = right answer)")
        ax.set_yticks(y, [textwrap.shorten(c, 28) for c in it["choices"]], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(textwrap.shorten(it["question"], wrap * 2), fontsize=8, loc="left")
        if k == n - 1:
            ax.set_xlabel("probability (softmax over the 4 choices)")
        if k == 0:
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
