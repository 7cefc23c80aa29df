"""Notebook 05 — the lesson side of sequence classification: the tweets, class weights, the training step, the
metrics, the plots and the baselines.

* :func:`load_tweets` / :data:`TWEET_LABELS` — the 3-class tweet sentiment data (``mtbert_ref/data/tweets``).
* :func:`class_weights_from_labels` — inverse-frequency ("balanced") class weights for an imbalanced training set.
* :func:`training_step` — one optimisation step (exercise 3). It is the graded reference of a training-loop exercise,
  not model maths, so it lives here with the other per-notebook helpers rather than in :mod:`mtbert_ref.modeling`;
  the course's full training loop is :mod:`mtbert_ref.trainer`.
* :func:`macro_f1` (exercise 4), :func:`confusion_matrix`, :func:`plot_confusion_matrix`, :func:`predict_classes`.
* :func:`majority_baseline`, :func:`tfidf_logreg_baseline` — the classical baselines to beat.

The head, the loss and the model are in :mod:`mtbert_ref.modeling.classification`; the Chinese part of the notebook
is :mod:`mtbert_ref.lessons.chinese`; the checkers are in :mod:`mtbert_ref.grading.classification`.
"""
from __future__ import annotations

import gzip
import json
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..data import data_path

__all__ = ["TWEET_LABELS", "load_tweets", "class_weights_from_labels", "training_step", "as_class_ids", "macro_f1",
           "confusion_matrix", "plot_confusion_matrix", "predict_classes", "majority_baseline",
           "tfidf_logreg_baseline"]

TWEET_LABELS = ["negative", "neutral", "positive"]


# --------------------------------------------------------------------------------------------- data
def load_tweets(split: str = "train") -> list[dict]:
    """The course's 3-class tweet sentiment data (see ``mtbert_ref/data/tweets/SOURCE.md``).

    ``split`` is "train" (4,000 tweets) or "test" (1,000). Each item: ``{"text", "label" (0/1/2), "label_name"}``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with gzip.open(data_path("tweets", f"{split}.jsonl.gz"), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --------------------------------------------------------------------------------------------- class weights
def class_weights_from_labels(labels: Sequence[int], num_labels: int) -> torch.Tensor:
    """Inverse-frequency weights ``n / (num_labels * count_c)`` (scikit-learn's "balanced"); mean weight ≈ 1.

    A class absent from ``labels`` gets weight 0 (it cannot be a target anyway).
    """
    counts = torch.bincount(torch.as_tensor(list(labels), dtype=torch.long), minlength=num_labels).double()
    w = counts.sum() / (num_labels * counts.clamp(min=1))
    return torch.where(counts > 0, w, torch.zeros_like(w)).float()


# --------------------------------------------------------------------------------------------- training step
def _to_device(batch: dict, device) -> dict:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def training_step(model: nn.Module, batch: dict, optimizer: torch.optim.Optimizer, device="cpu") -> float:
    """One optimisation step: train mode, batch to ``device``, forward (``model(**batch).loss``), backward,
    ``optimizer.step()``, ``optimizer.zero_grad()``. Returns the loss as a Python float (``loss.item()``), so that
    a list of losses does not keep every step's computation graph alive."""
    model.train()
    batch = _to_device(batch, device)
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


# --------------------------------------------------------------------------------------------- metrics
def as_class_ids(x) -> torch.Tensor:
    """A 1-D CPU long tensor of class ids from a list, NumPy array or tensor (on any device)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().long().reshape(-1)
    return torch.as_tensor(np.asarray(x), dtype=torch.long).reshape(-1)


def macro_f1(y_true, y_pred, num_labels: int | None = None) -> float:
    """Unweighted mean over classes of F1 = 2·TP / (2·TP + FP + FN).

    y_true, y_pred: equal-length 1-D sequences of class ids (list, NumPy array or tensor on any device).
    Classes: 0..num_labels-1 when ``num_labels`` is given, otherwise every class that occurs in y_true or y_pred
    (scikit-learn's default). A class with 2·TP + FP + FN = 0 (never true, never predicted) scores 0; a class that
    is never predicted scores 0 as well (its recall is 0). Equal to
    ``sklearn.metrics.f1_score(y_true, y_pred, labels=..., average="macro", zero_division=0)``. Returns a float.
    """
    t, p = as_class_ids(y_true), as_class_ids(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.numel()} and {p.numel()}")
    classes = torch.arange(num_labels) if num_labels is not None else torch.unique(torch.cat([t, p]))
    if classes.numel() == 0:
        return 0.0
    scores = []
    for c in classes.tolist():
        tp = int(((t == c) & (p == c)).sum())
        fp = int(((t != c) & (p == c)).sum())
        fn = int(((t == c) & (p != c)).sum())
        denom = 2 * tp + fp + fn
        scores.append(2 * tp / denom if denom else 0.0)
    return float(sum(scores) / len(scores))


def confusion_matrix(y_true, y_pred, num_labels: int) -> torch.Tensor:
    """(num_labels, num_labels) long tensor: row = true class, column = predicted class."""
    t, p = as_class_ids(y_true), as_class_ids(y_pred)
    return torch.bincount(t * num_labels + p, minlength=num_labels * num_labels).reshape(num_labels, num_labels)


def plot_confusion_matrix(cm, labels: Sequence[str], title: str = "Confusion matrix", normalize: bool = True, ax=None):
    """Heatmap of a confusion matrix; with ``normalize`` each row shows the share of that true class (recall)."""
    import matplotlib.pyplot as plt

    cm = np.asarray(cm.cpu() if isinstance(cm, torch.Tensor) else cm, dtype=float)
    shown = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None) if normalize else cm
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else shown.max())
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            txt = f"{shown[i, j]:.2f}\n({int(cm[i, j])})" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                    color="white" if shown[i, j] > (0.6 if normalize else shown.max() * 0.6) else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    (fig or ax.figure).colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig or ax.figure


@torch.no_grad()
def predict_classes(model: nn.Module, dataset, collate_fn, device="cpu", batch_size: int = 64) -> torch.Tensor:
    """argmax class of every example of ``dataset`` (a sequence of encoded examples), in the dataset's order.

    Examples are batched by length (sorted) so dynamic padding adds almost nothing; ``labels`` are not given to the
    model. Returns a (len(dataset),) long tensor on the CPU.
    """
    model.eval().to(device)
    order = sorted(range(len(dataset)), key=lambda i: len(dataset[i]["input_ids"]))
    out = torch.empty(len(dataset), dtype=torch.long)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = collate_fn([{k: v for k, v in dataset[i].items() if k != "labels"} for i in idx])
        logits = model(**_to_device(batch, device)).logits
        out[torch.tensor(idx)] = logits.argmax(-1).cpu()
    return out


# --------------------------------------------------------------------------------------------- baselines
def majority_baseline(train_labels: Sequence[int], n: int) -> list[int]:
    """Predict the most frequent training class ``n`` times."""
    return [int(np.bincount(np.asarray(train_labels)).argmax())] * n


def tfidf_logreg_baseline(train_texts: Sequence[str], train_labels: Sequence[int], test_texts: Sequence[str],
                          class_weight: str | None = "balanced", seed: int = 0, analyzer: str = "word") -> list[int]:
    """TF-IDF over 1-2-grams + logistic regression (scikit-learn): the classical baseline to beat.

    ``analyzer="word"`` (English: word unigrams and bigrams) or ``"char"`` (Chinese, which has no spaces: character
    unigrams and bigrams).
    """
    if analyzer not in ("word", "char"):
        raise ValueError(f"analyzer must be 'word' or 'char', got {analyzer!r}")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    clf = make_pipeline(TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                        lowercase=True),
                        LogisticRegression(C=4.0, solver="newton-cg", max_iter=1000, class_weight=class_weight,
                                           random_state=seed))
    clf.fit(list(train_texts), list(train_labels))
    return [int(x) for x in clf.predict(list(test_texts))]
