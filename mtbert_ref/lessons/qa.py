"""Notebook 03 — the data side of extractive QA: windows with offsets and labels, the SQuAD metric, a baseline.

* :func:`prepare_features` — cut a long context into overlapping windows (a *stride*), keep for every window which
  example it came from and the character offsets of its context tokens, and label each window with the token
  positions of the answer — or the [CLS] position 0 when the answer is not (wholly) inside that window.
* :func:`squad_em_f1` / :func:`evaluate_squad` — SQuAD's exact match and token F1 after its answer normalisation.
* :func:`sentence_baseline` — the context sentence sharing the most words with the question.

The head, the model and span decoding are in :mod:`mtbert_ref.modeling.qa`.
"""
from __future__ import annotations

import collections
import re
import string

__all__ = ["prepare_features", "normalize_answer", "squad_em_f1", "evaluate_squad", "sentence_baseline"]


# --------------------------------------------------------------------------------------------- features
def prepare_features(examples: list[dict], tokenizer, max_length: int = 160, stride: int = 48) -> dict:
    """Tokenise (question, context) pairs into overlapping windows and label each window with the answer's tokens.

    examples: SQuAD-style dicts ``{"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}``
    (only the first gold answer is used as the training label; an empty ``text`` list means "no answer").

    Each window is ``[CLS] question [SEP] a piece of the context [SEP]`` with at most ``max_length`` tokens; only the
    context is cut (``truncation="only_second"``) and consecutive pieces share ``stride`` tokens, so an answer cut by
    one window's border is whole in the next. Returns a dict of lists with one entry per window:

    * ``input_ids``, ``token_type_ids``, ``attention_mask`` — lists of ints (not padded);
    * ``example_index`` — index into ``examples`` of the example the window belongs to;
    * ``offset_mapping`` — per token, ``(char_start, char_end)`` in the context for context tokens and ``None`` for
      the question and special tokens (they can never be part of an answer);
    * ``start_positions`` / ``end_positions`` — token indices of the answer's first and last token (the last context
      token whose start ≤ the answer's first character; the first context token whose end ≥ the answer's end), or
      ``0`` (the [CLS] token) for both when the answer is not wholly inside the window or there is no answer.
    """
    enc = tokenizer([ex["question"] for ex in examples], [ex["context"] for ex in examples],
                    truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    out = {k: [] for k in ("input_ids", "token_type_ids", "attention_mask", "example_index", "offset_mapping",
                           "start_positions", "end_positions")}
    for w in range(len(enc["input_ids"])):
        ex_i = int(enc["overflow_to_sample_mapping"][w])
        seq_ids = enc.sequence_ids(w)
        offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][w], seq_ids)]
        ctx_tokens = [i for i, o in enumerate(offsets) if o is not None]
        answers = examples[ex_i]["answers"]
        start_tok = end_tok = 0
        if answers["text"] and ctx_tokens:
            a_start = answers["answer_start"][0]
            a_end = a_start + len(answers["text"][0])
            first, last = ctx_tokens[0], ctx_tokens[-1]
            if offsets[first][0] <= a_start and offsets[last][1] >= a_end:
                start_tok = max(i for i in ctx_tokens if offsets[i][0] <= a_start)
                end_tok = min(i for i in ctx_tokens if offsets[i][1] >= a_end)
        out["input_ids"].append(list(enc["input_ids"][w]))
        out["token_type_ids"].append(list(enc["token_type_ids"][w]))
        out["attention_mask"].append(list(enc["attention_mask"][w]))
        out["example_index"].append(ex_i)
        out["offset_mapping"].append(offsets)
        out["start_positions"].append(start_tok)
        out["end_positions"].append(end_tok)
    return out


# --------------------------------------------------------------------------------------------- metrics
def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower-case, drop punctuation, drop the articles a/an/the, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:            # "no answer" on either side: 1 only if both are empty
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_em_f1(prediction: str, gold_answers: list[str]) -> tuple[float, float]:
    """Exact match and token F1 of one prediction, each the maximum over the gold answers (floats in [0, 1]).

    Both sides are normalised with :func:`normalize_answer`. F1 counts common tokens with multiplicity
    (precision = common / predicted tokens, recall = common / gold tokens). An empty gold list means the question
    has no answer: it is treated as the single gold answer "" (only an empty prediction scores 1).
    """
    golds = list(gold_answers) or [""]
    em = max(float(normalize_answer(prediction) == normalize_answer(g)) for g in golds)
    f1 = max(_f1(prediction, g) for g in golds)
    return em, f1


def evaluate_squad(predictions: dict, examples: list[dict], score_fn=squad_em_f1) -> dict:
    """Mean EM and F1 in percent over ``examples``; ``predictions`` maps id → text (or → {"text": ...})."""
    ems, f1s = [], []
    for ex in examples:
        pred = predictions.get(ex["id"], "")
        pred = pred["text"] if isinstance(pred, dict) else pred
        em, f1 = score_fn(pred, ex["answers"]["text"])
        ems.append(em)
        f1s.append(f1)
    n = max(1, len(examples))
    return {"exact_match": 100.0 * sum(ems) / n, "f1": 100.0 * sum(f1s) / n, "n": len(examples)}


def sentence_baseline(example: dict) -> str:
    """A trivial baseline: the context sentence sharing the most (normalised) words with the question."""
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])", example["context"])
    q_words = set(normalize_answer(example["question"]).split())
    return max(sentences, key=lambda s: len(q_words & set(normalize_answer(s).split())))

