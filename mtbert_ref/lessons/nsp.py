"""Notebook 02 — the data side of next-sentence prediction: sentence pairs from real documents, and accuracy.

* :func:`truncate_pair` — shorten a pair to a token budget, always cutting the longer segment (as BERT's
  ``create_pretraining_data.py`` does), A from its start and B from its end, so the A|B boundary survives;
* :func:`encode_pair` — ``[CLS] A [SEP] B [SEP]``, ``token_type_ids`` 0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]``;
* :func:`make_nsp_pairs` — seeded 50/50 IsNext/NotNext pairs from documents of tokenised sentences;
* :func:`tokenize_documents`, :func:`load_documents` — real text (the course's news corpus, read by notebook 01's
  :func:`mtbert_ref.lessons.mlm.load_text_corpus`) → token ids;
* :func:`nsp_accuracy` — held-out accuracy of an NSP model; :func:`is_next_probability` — the demo: how sure a
  model is that B follows A, for a few pairs of sentences written out (e.g. the course's shipped NSP head,
  :func:`mtbert_ref.shipped_heads.load_pretrained_nsp`, against the student's fine-tuned one).

The head, the loss and the model are in :mod:`mtbert_ref.modeling.nsp`.
"""
from __future__ import annotations

import random
from typing import Sequence

import torch
from torch import nn

from ..modeling.nsp import IS_NEXT, NOT_NEXT
from .mlm import load_text_corpus as load_documents

__all__ = ["truncate_pair", "encode_pair", "make_nsp_pairs", "tokenize_documents", "load_documents", "nsp_accuracy",
           "is_next_probability"]


def truncate_pair(tokens_a: Sequence[int], tokens_b: Sequence[int], max_num_tokens: int) -> tuple[list, list]:
    """Shorten A and B until ``len(A) + len(B) <= max_num_tokens``; return new lists (the inputs are not changed).

    One token at a time, always from the *longer* segment (B when they are equal), as BERT's
    ``truncate_seq_pair``. A loses tokens at its start and B at its end, so the tokens on both sides of the A|B
    boundary — the evidence NSP needs — stay. Neither segment becomes empty when ``max_num_tokens >= 2``.
    """
    if max_num_tokens < 2:
        raise ValueError(f"max_num_tokens must be at least 2 to keep both segments, got {max_num_tokens}")
    a, b = list(tokens_a), list(tokens_b)
    while len(a) + len(b) > max_num_tokens:
        if len(a) > len(b):
            a.pop(0)
        else:
            b.pop()
    return a, b


def encode_pair(tokens_a: Sequence[int], tokens_b: Sequence[int], cls_id: int, sep_id: int) -> dict:
    """``[CLS] A [SEP] B [SEP]`` as lists: input_ids, token_type_ids (0 … 0 for [CLS] A [SEP], 1 … 1 for B [SEP]),
    attention_mask (all 1: padding is added later, per batch)."""
    input_ids = [cls_id, *tokens_a, sep_id, *tokens_b, sep_id]
    token_type_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": [1] * len(input_ids)}


def make_nsp_pairs(documents: Sequence[Sequence[Sequence[int]]], cls_id: int, sep_id: int, max_length: int = 64,
                   seed: int = 0, max_sentences_a: int = 3) -> list[dict]:
    """Seeded IsNext/NotNext sentence pairs from documents of tokenised sentences.

    documents: a list of documents, each a list of sentences, each a list of token ids (no special tokens).
    Walks through every document with at least two sentences. At sentence ``i`` segment A is the next ``k``
    sentences (``k`` drawn from 1..max_sentences_a, leaving at least one sentence after A); then a fair coin:

    * IsNext (label 0): B is the sentence right after A, in the same document;
    * NotNext (label 1): B is a random sentence of a random *other* document.

    The pair is cut to ``max_length`` tokens with :func:`truncate_pair` (3 places go to [CLS], [SEP], [SEP]) and
    encoded with :func:`encode_pair`. The walk continues at the sentence after A (the IsNext B, or the sentence a
    NotNext pair did not use), so nothing is wasted. Returns a list of dicts: input_ids, token_type_ids,
    attention_mask (lists of ints) and labels (an int). The same seed gives the same pairs.
    """
    if max_length < 5:
        raise ValueError(f"max_length must be at least 5 ([CLS] a [SEP] b [SEP]), got {max_length}")
    if sum(1 for d in documents if any(len(s) for s in d)) < 2:
        raise ValueError("NotNext pairs need at least two non-empty documents")
    rng = random.Random(seed)
    docs = [[list(s) for s in d if len(s) > 0] for d in documents]
    budget = max_length - 3
    pairs = []
    for d, doc in enumerate(docs):
        i = 0
        while i < len(doc) - 1:
            k = rng.randint(1, min(max_sentences_a, len(doc) - 1 - i))
            tokens_a = [t for s in doc[i:i + k] for t in s]
            if rng.random() < 0.5:
                label, tokens_b = IS_NEXT, doc[i + k]
            else:
                other = rng.randrange(len(docs) - 1)
                other = other + 1 if other >= d else other           # any document but this one
                while not docs[other]:                               # (skip documents without sentences)
                    other = rng.randrange(len(docs))
                    if other == d:
                        other = (other + 1) % len(docs)
                label, tokens_b = NOT_NEXT, docs[other][rng.randrange(len(docs[other]))]
            a, b = truncate_pair(tokens_a, tokens_b, budget)
            pairs.append({**encode_pair(a, b, cls_id, sep_id), "labels": label})
            i += k
    return pairs


def tokenize_documents(documents: Sequence[Sequence[str]], tokenizer) -> list[list[list[int]]]:
    """Each document's sentences → token ids (no special tokens); empty sentences are dropped."""
    out = []
    for sentences in documents:
        ids = tokenizer(list(sentences), add_special_tokens=False)["input_ids"] if sentences else []
        out.append([s for s in ids if s])
    return out


@torch.no_grad()
def nsp_accuracy(model: nn.Module, loader, device="cpu") -> float:
    """Fraction of pairs whose argmax logit equals the label (model returns a dict or an object with logits)."""
    model.eval()
    right = total = 0
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch.pop("labels")
        out = model(**batch)
        logits = out["logits"] if isinstance(out, dict) else out.logits
        right += int((logits.argmax(-1) == labels).sum())
        total += labels.numel()
    return right / max(1, total)


@torch.no_grad()
def is_next_probability(model: nn.Module, tokenizer, pairs: Sequence[tuple[str, str]], device=None) -> list[float]:
    """P(IsNext) — softmax of logit 0 — for each (A, B) pair of sentences, encoded ``[CLS] A [SEP] B [SEP]``.

    ``model`` is any NSP model returning ``logits`` (batch, 2): transformers' ``BertForNextSentencePrediction``
    or the course's :class:`~mtbert_ref.modeling.nsp.MtBertForNextSentencePrediction`.
    """
    device = device if device is not None else next(model.parameters()).device
    model.eval()
    enc = tokenizer([a for a, _ in pairs], [b for _, b in pairs], return_tensors="pt", padding=True).to(device)
    out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], token_type_ids=enc["token_type_ids"])
    logits = out["logits"] if isinstance(out, dict) else out.logits
    return [float(p) for p in logits.float().softmax(-1)[:, IS_NEXT]]
