"""Notebook 01 — the data side of masked language modelling: the corpus, examples, batches, metrics, a demo.

* :func:`load_text_corpus` — the course's news corpus; :func:`chunk_documents` — pack sentences into examples;
* :class:`MLMCollator` — dynamic padding + dynamic masking; :func:`make_eval_set` — fixed, all-[MASK] eval batches;
* :func:`unigram_topk` / :func:`masked_token_accuracy` — the context-free baseline and top-k accuracy;
* :func:`fill_mask` — the fill-mask demo; :func:`compare_fill_mask` — several models side by side on the same
  prompts (e.g. the student's short training against the course's shipped head,
  :func:`mtbert_ref.shipped_heads.load_pretrained_mlm`).

The head, masking, the loss and the model are in :mod:`mtbert_ref.modeling.mlm`.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from ..data import PaddingCollator, data_path, read_jsonl
from ..modeling.mlm import IGNORE_INDEX, mask_tokens

__all__ = ["fill_mask", "compare_fill_mask", "load_text_corpus", "chunk_documents", "MLMCollator", "make_eval_set",
           "unigram_topk", "masked_token_accuracy"]


@torch.no_grad()
def fill_mask(text: str, model: nn.Module, tokenizer, top_k: int = 5, device=None) -> list[list[tuple[str, float]]]:
    """Top-``top_k`` predictions for every ``[MASK]`` in ``text``: one list of (token, probability) per mask.

    ``model`` is a :class:`MtBertForMaskedLM` or a transformers ``BertForMaskedLM`` (anything returning ``.logits`` of shape
    (1, seq, vocab)).
    """
    device = device if device is not None else next(model.parameters()).device
    enc = tokenizer(text, return_tensors="pt").to(device)
    model.eval()
    logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                   token_type_ids=enc.get("token_type_ids")).logits[0]
    where = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if where.numel() == 0:
        raise ValueError(f"no {tokenizer.mask_token} in {text!r}")
    out = []
    for pos in where.tolist():
        probs = logits[pos].float().softmax(-1)
        p, ids = probs.topk(top_k)
        out.append([(tokenizer.convert_ids_to_tokens(int(i)), float(q)) for q, i in zip(p, ids)])
    return out


def compare_fill_mask(prompts: Sequence[str], models: dict[str, nn.Module], tokenizer, top_k: int = 3,
                      device=None) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Fill-mask with every model of ``models`` (name → model) on every prompt (one ``[MASK]`` each); prints one line
    per prompt and model and returns ``{prompt: {name: [(token, probability), ...]}}``."""
    width = max(len(name) for name in models)
    table: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for text in prompts:
        print(text)
        table[text] = {}
        for name, model in models.items():
            preds = fill_mask(text, model, tokenizer, top_k=top_k, device=device)[0]
            table[text][name] = preds
            print(f"   {name:{width}s} → " + ", ".join(f"{tok} ({p:.2f})" for tok, p in preds))
    return table


def load_text_corpus(split: str | None = None) -> list[dict]:
    """The course's news corpus (``mtbert_ref/data/text_corpus/documents.jsonl``): a list of documents
    ``{"id", "source", "split", "sentences"}``; ``split`` = "train" or "test" keeps one split."""
    docs = read_jsonl(data_path("text_corpus", "documents.jsonl"))
    return [d for d in docs if split is None or d["split"] == split]


def chunk_documents(documents: Sequence[dict], tokenizer, max_length: int = 64) -> list[dict]:
    """Tokenise each document's text and cut it into examples of at most ``max_length`` tokens ([CLS] … [SEP]).

    Sentences are packed in order until the next one would not fit (a sentence longer than a whole example is cut),
    so little of the sequence length is padding. Each example has ``input_ids`` and ``special_tokens_mask``.
    """
    room = max_length - 2
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    examples: list[dict] = []

    def emit(ids: list[int]) -> None:
        examples.append({"input_ids": [cls_id] + ids + [sep_id], "special_tokens_mask": [1] + [0] * len(ids) + [1]})

    for doc in documents:
        current: list[int] = []
        for sent in doc["sentences"]:
            ids = tokenizer(sent, add_special_tokens=False)["input_ids"]
            while len(ids) > room:                     # a very long sentence: cut it
                if current:
                    emit(current)
                    current = []
                emit(ids[:room])
                ids = ids[room:]
            if len(current) + len(ids) > room:
                emit(current)
                current = []
            current = current + ids
        if current:
            emit(current)
    return examples


class MLMCollator:
    """Pad a batch (dynamic padding) and corrupt it with :func:`mask_tokens` — new masks every time (dynamic
    masking, as in RoBERTa), reproducible through ``seed``. ``mask_fn`` may be the student's function."""

    def __init__(self, tokenizer, mlm_probability: float = 0.15, seed: int = 0, mask_fn: Callable = mask_tokens):
        self.pad = PaddingCollator(pad_token_id=tokenizer.pad_token_id)
        self.mask_token_id = tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        self.mlm_probability = mlm_probability
        self.generator = torch.Generator().manual_seed(seed)
        self.mask_fn = mask_fn

    def __call__(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        batch = self.pad(examples)
        special = batch.pop("special_tokens_mask").bool()
        batch["input_ids"], batch["labels"] = self.mask_fn(batch["input_ids"], special, self.mask_token_id,
                                                           self.vocab_size, self.mlm_probability,
                                                           generator=self.generator)
        return batch


def make_eval_set(examples: Sequence[dict], tokenizer, mlm_probability: float = 0.15, seed: int = 1234,
                  batch_size: int = 64) -> list[dict[str, torch.Tensor]]:
    """Fixed evaluation batches: 15% of the tokens chosen with a fixed seed and *all* of them replaced by [MASK]
    (the fill-mask task itself), so every model is scored on exactly the same blanks."""
    pad = PaddingCollator(pad_token_id=tokenizer.pad_token_id)
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for start in range(0, len(examples), batch_size):
        batch = pad(list(examples[start:start + batch_size]))
        special = batch.pop("special_tokens_mask").bool()
        batch["input_ids"], batch["labels"] = mask_tokens(batch["input_ids"], special, tokenizer.mask_token_id,
                                                          len(tokenizer), mlm_probability, gen,
                                                          mask_replace_prob=1.0, random_replace_prob=0.0)
        batches.append(batch)
    return batches


def unigram_topk(examples: Iterable[dict], k: int = 5) -> list[int]:
    """The ``k`` most frequent non-special token ids of ``examples`` (the baseline that ignores context)."""
    counts: Counter = Counter()
    for ex in examples:
        counts.update(t for t, s in zip(ex["input_ids"], ex["special_tokens_mask"]) if not s)
    return [t for t, _ in counts.most_common(k)]


@torch.no_grad()
def masked_token_accuracy(model: nn.Module | None, batches: Sequence[dict], device="cpu", ks: Sequence[int] = (1, 5),
                          constant_topk: Sequence[int] | None = None) -> dict[str, float]:
    """Top-k accuracy at the labelled positions of ``batches`` (from :func:`make_eval_set`).

    With ``constant_topk`` (a ranked list of token ids, e.g. :func:`unigram_topk`) the same guess is used everywhere
    and ``model`` is not needed: that is the unigram-frequency baseline. ``model`` may compute logits at the masked
    positions only (the course's models, ``masked_positions``) or at every position (transformers' models).
    Returns {"top1": ..., "top5": ..., "n": ...}.
    """
    hits = {k: 0 for k in ks}
    n = 0
    if model is not None:
        model.eval()
    for batch in batches:
        labels = batch["labels"].to(device)
        positions = labels != IGNORE_INDEX
        targets = labels[positions]
        if constant_topk is not None:
            ranked = torch.tensor(list(constant_topk), device=device).expand(targets.shape[0], -1)
        else:
            out = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                        masked_positions=positions)
            logits = out.logits
            if logits.dim() == 3:        # a model that ignores masked_positions (transformers' BertForMaskedLM)
                logits = logits[positions]
            ranked = logits.topk(max(ks), dim=-1).indices
        for k in ks:
            hits[k] += int((ranked[:, :k] == targets[:, None]).any(-1).sum())
        n += int(targets.shape[0])
    return {**{f"top{k}": hits[k] / max(1, n) for k in ks}, "n": n}
