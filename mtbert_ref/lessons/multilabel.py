"""Notebook 06 — multi-label classification, the lesson side: data, demos, thresholds, metrics, plots, a baseline.

* :func:`load_debtags`, :func:`label_matrix`, :func:`encode_records` — the shipped Debian-package data (package
  descriptions tagged with debtags), its multi-hot target matrix, and tokenised examples for the trainer.
* :func:`f1_from_counts`, :func:`tune_thresholds` — one global (micro-F1) and one per-label threshold chosen on
  validation data (exercise 2).
* :func:`saturation_demo`, :func:`softmax_vs_sigmoid` — why sigmoid + ``BCELoss`` and softmax are the wrong tools.
* :func:`multilabel_metrics`, :func:`per_label_f1`, :func:`precision_recall_plot`, :func:`per_label_f1_plot` —
  evaluation with scikit-learn.
* :func:`tfidf_baseline` — TF-IDF + one logistic regression per label, the baseline the fine-tuned encoder is
  compared with.

The model, the loss and the prediction are in :mod:`mtbert_ref.modeling.multilabel`; the find-the-bugs exercise
in :mod:`mtbert_ref.lessons.find_the_bugs`.
"""
from __future__ import annotations

import gzip
import json
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from ..data import EncodedDataset, data_path

__all__ = [
    "load_debtags",
    "label_matrix",
    "encode_records",
    "f1_from_counts",
    "tune_thresholds",
    "saturation_demo",
    "softmax_vs_sigmoid",
    "multilabel_metrics",
    "per_label_f1",
    "precision_recall_plot",
    "per_label_f1_plot",
    "tfidf_baseline",
]


# --------------------------------------------------------------------------------------------- data
def load_debtags(split: str | None = None) -> tuple[list[dict], dict]:
    """The shipped Debian-package data: ``(records, meta)``.

    records: dicts ``{"package", "text", "section", "tags", "split"}`` (``split`` one of train/val/test; pass
    ``split=`` to keep one). meta: the content of ``labels.json`` (``meta["labels"]`` is the multi-label tag list,
    ``meta["facets"]`` the tags of each facet, ``meta["sections"]`` the Section classes). See SOURCE.md there.
    """
    with gzip.open(data_path("debtags", "packages.jsonl.gz"), "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    meta = json.loads(data_path("debtags", "labels.json").read_text(encoding="utf-8"))
    if split is not None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        records = [r for r in records if r["split"] == split]
    return records, meta


def label_matrix(records: Sequence[dict], labels: Sequence[str]) -> torch.Tensor:
    """(n_records, n_labels) float32 tensor of 0/1: entry [i, j] is 1 when record i carries tag labels[j]."""
    index = {t: j for j, t in enumerate(labels)}
    y = torch.zeros(len(records), len(labels), dtype=torch.float32)
    for i, r in enumerate(records):
        for t in r["tags"]:
            j = index.get(t)
            if j is not None:
                y[i, j] = 1.0
    return y


def encode_records(tokenizer, records: Sequence[dict], labels: Sequence[str], max_length: int = 48) -> EncodedDataset:
    """Tokenise each record's text (truncated to ``max_length`` tokens, not padded: the collator pads per batch) and
    attach its multi-label target as a list of floats (``labels`` key, length ``len(labels)``)."""
    enc = tokenizer([r["text"] for r in records], truncation=True, max_length=max_length)
    y = label_matrix(records, labels).tolist()
    return EncodedDataset([{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                            "labels": y[i]} for i in range(len(records))])


# --------------------------------------------------------------------------------------------- thresholds
def f1_from_counts(tp, fp, fn):
    """F1 = 2·TP / (2·TP + FP + FN), defined as 0 where the denominator is 0 (works on numbers and tensors)."""
    if isinstance(tp, torch.Tensor):
        den = 2 * tp + fp + fn
        return torch.where(den > 0, 2 * tp / den.clamp(min=1e-12), torch.zeros_like(den))
    den = 2 * tp + fp + fn
    return 2 * tp / den if den > 0 else 0.0


def tune_thresholds(probs: torch.Tensor, targets: torch.Tensor, candidates: torch.Tensor):
    """Choose decision thresholds on validation data. Returns ``(global_threshold, per_label_thresholds)``.

    probs: (n, num_labels) probabilities; targets: (n, num_labels) 0/1; candidates: (k,) thresholds to try.
    * global_threshold (Python float): the candidate whose predictions ``probs >= t`` have the highest micro-F1
      (TP, FP, FN summed over every entry of the matrix);
    * per_label_thresholds ((num_labels,) tensor, dtype of ``candidates``): for each label j, the candidate with the
      highest F1 of column j alone; a label without any positive example in ``targets`` gets the global threshold
      (its F1 is 0 whatever the threshold, so the data say nothing about it).
    Ties go to the smallest such candidate (``torch.argmax`` returns the first maximum).
    """
    y = targets.to(torch.bool)
    cand = candidates.to(probs.device)
    pred = probs.unsqueeze(0) >= cand.to(probs.dtype).view(-1, 1, 1)                 # (k, n, L)
    tp = (pred & y).sum(dim=1).double()                                            # (k, L)
    fp = (pred & ~y).sum(dim=1).double()
    fn = (~pred & y).sum(dim=1).double()
    micro = f1_from_counts(tp.sum(1), fp.sum(1), fn.sum(1))                        # (k,)
    global_t = float(candidates[int(torch.argmax(micro))])
    per = f1_from_counts(tp, fp, fn)                                               # (k, L)
    per_t = candidates[torch.argmax(per, dim=0).to(candidates.device)].clone()
    no_pos = (y.sum(0) == 0).to(candidates.device)
    per_t[no_pos] = global_t
    return global_t, per_t


# --------------------------------------------------------------------------------------------- why not sigmoid+BCELoss / softmax
def saturation_demo(logits: Sequence[float] = (-120.0, -30.0, -5.0, 0.0, 5.0, 17.0, 30.0, 120.0), target: float = 0.0,
                    dtype: torch.dtype = torch.float32) -> list[dict]:
    """Loss and gradient (w.r.t. the logit) of one entry with label ``target``, two ways, in ``dtype``:

    * ``naive``: ``BCELoss(sigmoid(z), y)`` — the sigmoid first, then log of the probability;
    * ``stable``: ``BCEWithLogitsLoss(z, y)`` — computed from the logit (log-sigmoid, never log(0)).
    Once σ(z) rounds to exactly 1.0 (z ≳ 17 in float32, z ≳ 8 in float16) or to 0.0, the naive loss is capped by
    BCELoss's clamp of the log at -100 and — worse — its gradient is exactly 0 (NaN in float16, where 0/0 appears):
    a confidently *wrong* prediction stops learning. The stable loss keeps growing linearly and its gradient stays σ(z) - y (±1).
    Returns one dict per logit: ``{"logit", "prob", "naive_loss", "stable_loss", "naive_grad", "stable_grad"}``.
    """
    rows = []
    for z0 in logits:
        z1 = torch.tensor([float(z0)], dtype=dtype, requires_grad=True)
        y = torch.tensor([float(target)], dtype=dtype)
        p = torch.sigmoid(z1)
        naive = F.binary_cross_entropy(p.float(), y.float())
        naive.backward()
        g_naive = float(z1.grad)
        z2 = torch.tensor([float(z0)], dtype=dtype, requires_grad=True)
        stable = F.binary_cross_entropy_with_logits(z2.float(), y.float())
        stable.backward()
        rows.append({"logit": float(z0), "prob": float(p.detach()), "naive_loss": float(naive.detach()),
                     "stable_loss": float(stable.detach()), "naive_grad": g_naive, "stable_grad": float(z2.grad)})
    return rows


def softmax_vs_sigmoid(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Probabilities from the same logits, read two ways.

    softmax: one distribution over all labels — the probabilities sum to 1, so if two labels are both true at most
    one can pass 0.5, and raising one label lowers all others. sigmoid: an independent yes/no per label.
    Returns ``{"softmax": ..., "sigmoid": ..., "softmax_row_sums": ..., "sigmoid_row_sums": ...}``.
    """
    sm = torch.softmax(logits, dim=-1)
    sg = torch.sigmoid(logits)
    return {"softmax": sm, "sigmoid": sg, "softmax_row_sums": sm.sum(-1), "sigmoid_row_sums": sg.sum(-1)}


# --------------------------------------------------------------------------------------------- metrics and plots
def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def multilabel_metrics(y_true, y_pred) -> dict[str, float]:
    """scikit-learn's multi-label metrics for 0/1 matrices (n, num_labels).

    micro_* pool every (example, label) decision — dominated by frequent labels; macro_* average the per-label scores
    — every label counts the same, rare ones included; subset_accuracy: rows where *every* label is right (harsh);
    hamming_loss: fraction of wrong (example, label) decisions (small because most entries are 0).
    """
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_score, recall_score
    yt, yp = _np(y_true).astype(int), _np(y_pred).astype(int)
    kw = dict(zero_division=0)
    return {
        "micro_f1": float(f1_score(yt, yp, average="micro", **kw)),
        "macro_f1": float(f1_score(yt, yp, average="macro", **kw)),
        "micro_precision": float(precision_score(yt, yp, average="micro", **kw)),
        "micro_recall": float(recall_score(yt, yp, average="micro", **kw)),
        "macro_precision": float(precision_score(yt, yp, average="macro", **kw)),
        "macro_recall": float(recall_score(yt, yp, average="macro", **kw)),
        "subset_accuracy": float(accuracy_score(yt, yp)),
        "hamming_loss": float(hamming_loss(yt, yp)),
    }


def per_label_f1(y_true, y_pred) -> np.ndarray:
    """F1 of each label (column) separately, as a numpy array (scikit-learn's ``f1_score(average=None)``)."""
    from sklearn.metrics import f1_score
    return f1_score(_np(y_true).astype(int), _np(y_pred).astype(int), average=None, zero_division=0)


def precision_recall_plot(y_true, probs, label_names: Sequence[str], which: Sequence[int] | None = None,
                          title: str = "Precision-recall curves (test set)", ax=None):
    """Precision-recall curve of a few labels (default: the 3 most and 3 least frequent) plus the micro-average."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import average_precision_score, precision_recall_curve
    yt, pr = _np(y_true).astype(int), _np(probs).astype(float)
    if which is None:
        order = np.argsort(-yt.sum(0), kind="stable")
        order = [j for j in order if yt[:, j].sum() > 0]
        which = list(order[:3]) + list(order[-3:])
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
    p, r, _ = precision_recall_curve(yt.ravel(), pr.ravel())
    ax.plot(r, p, color="black", lw=2, label=f"micro-average (AP {average_precision_score(yt.ravel(), pr.ravel()):.2f})")
    for j in which:
        p, r, _ = precision_recall_curve(yt[:, j], pr[:, j])
        ap = average_precision_score(yt[:, j], pr[:, j])
        ax.plot(r, p, lw=1, label=f"{label_names[j]} (n={yt[:, j].sum()}, AP {ap:.2f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower left")
    return fig or ax.figure


def per_label_f1_plot(f1_by_model: dict[str, Sequence[float]], label_names: Sequence[str],
                      support: Sequence[int] | None = None, title: str = "F1 per label (test set)", ax=None):
    """Horizontal bars: each label's F1 for one or more models; labels annotated with their test support."""
    import matplotlib.pyplot as plt
    names = [f"{n} ({s})" for n, s in zip(label_names, support)] if support is not None else list(label_names)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.27 * len(names) + 1.4))
    k = len(f1_by_model)
    height = 0.8 / max(1, k)
    y = np.arange(len(names))
    for i, (model, vals) in enumerate(f1_by_model.items()):
        ax.barh(y + (i - (k - 1) / 2) * height, _np(vals), height=height, label=model)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("F1")
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return fig or ax.figure


def tfidf_baseline(train_texts: Sequence[str], y_train, predict_texts: Sequence[Sequence[str]], C: float = 4.0):
    """TF-IDF (word 1-2-grams) + one logistic regression per label (one-vs-rest). Returns the predicted
    probabilities for each list in ``predict_texts`` (numpy arrays (n, num_labels)). Labels absent from the training
    set get probability 0."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    yt = _np(y_train).astype(int)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    X = vec.fit_transform(train_texts)
    outs = [np.zeros((len(t), yt.shape[1])) for t in predict_texts]
    Xs = [vec.transform(t) for t in predict_texts]
    for j in range(yt.shape[1]):
        if yt[:, j].min() == yt[:, j].max():
            continue
        clf = LogisticRegression(C=C, solver="liblinear", max_iter=200).fit(X, yt[:, j])
        for o, Xp in zip(outs, Xs):
            o[:, j] = clf.predict_proba(Xp)[:, 1]
    return outs


