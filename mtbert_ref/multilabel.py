"""Notebook 06 — multi-label classification: references, demos and checkers.

In multi-class classification every example has exactly one label, and a softmax turns the logits into one
probability distribution. In *multi-label* classification an example may carry any number of labels — a Debian
package can be a command-line program, written in Python, that works with audio — so every label is its own yes/no
question: one logit per label, a sigmoid per logit, a binary cross-entropy per logit.

Reference implementations:
* :class:`BertMultiLabelClassifier` — encoder + pooler → dropout → one logit per label; BCE-with-logits loss with an
  optional ``pos_weight``. Same parameter names as transformers' ``BertForSequenceClassification``, and the same
  numbers as that class with ``problem_type="multi_label_classification"``.
* :func:`multilabel_loss` / :func:`predict_labels` — the loss and the thresholded prediction (exercise 1).
* :func:`tune_thresholds` — one global and one per-label threshold chosen on validation data (exercise 2).
* :class:`DebtagsTagger` — the repaired version of the buggy model students fix (exercise 3).
* :func:`saturation_demo`, :func:`softmax_vs_sigmoid` — why sigmoid + BCELoss and softmax are the wrong tools.
* :func:`multilabel_metrics`, :func:`precision_recall_plot`, :func:`per_label_f1_plot` — evaluation with scikit-learn.
* :func:`load_debtags`, :func:`encode_records`, :func:`tfidf_baseline` — the Debian-package data and a baseline.
"""
from __future__ import annotations

import gzip
import json
import math
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertModel

from .modeling.init import new_head_init, prior_bias
from .modeling.losses import multi_label_loss
from .modeling.pooling import masked_mean_pool
from .backbone import tiny_bert_config
from .grading.core import GradingError, call_student, clone_inputs, expect_tensor, expect_unchanged, passed
from .data import EncodedDataset, data_path
from .device import seed_everything

__all__ = [
    "load_debtags",
    "label_matrix",
    "encode_records",
    "BertMultiLabelClassifier",
    "multilabel_loss",
    "predict_labels",
    "tune_thresholds",
    "f1_from_counts",
    "DebtagsTagger",
    "BUGGY_TAGGER_SOURCE",
    "saturation_demo",
    "softmax_vs_sigmoid",
    "multilabel_metrics",
    "per_label_f1",
    "precision_recall_plot",
    "per_label_f1_plot",
    "tfidf_baseline",
    "check_multilabel_loss_and_predict",
    "check_tune_thresholds",
    "check_fixed_model",
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


# --------------------------------------------------------------------------------------------- the model
class BertMultiLabelClassifier(nn.Module):
    """BERT encoder + pooler, dropout, one linear logit per label; binary cross-entropy on the logits.

    Parameter names (``bert.*``, ``classifier.*``) are those of ``BertForSequenceClassification``, so its state dict
    loads as is; with ``problem_type="multi_label_classification"`` both compute the same logits and loss.

    ``encoder``: a ``BertModel`` (e.g. ``load_encoder()``) or a ``BertConfig`` to build a random one.
    ``pos_weight``: optional (num_labels,) tensor; label j's positive examples count ``pos_weight[j]`` times in the
    loss — a common fix for rare labels (set it to about n_negative / n_positive, often capped).
    ``pooling``: "cls" (default; the pooled [CLS] vector, exactly as transformers) or "mean" (the masked mean of the
    last hidden states, notebook 00's ``masked_mean_pool``) — the better choice for encoders trained to produce mean-
    pooled sentence vectors, like the course's all-MiniLM-L6-v2, whose pooler was never trained by sentence-transformers.
    forward returns ``{"loss": scalar or None, "logits": (batch, num_labels)}`` — logits are raw scores, never
    probabilities: the loss applies the sigmoid itself (stably), and so does :func:`predict_labels`.
    """

    def __init__(self, encoder: BertModel | BertConfig, num_labels: int, pos_weight: torch.Tensor | None = None,
                 dropout: float | None = None, pooling: str = "cls"):
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' (pooled [CLS], as transformers) or 'mean', got {pooling!r}")
        self.pooling = pooling
        self.bert = encoder if isinstance(encoder, BertModel) else BertModel(encoder, add_pooling_layer=True)
        if self.bert.pooler is None:
            raise ValueError("the encoder has no pooler (built with add_pooling_layer=False); this head classifies "
                             "the pooled [CLS] vector")
        cfg = self.bert.config
        p = dropout if dropout is not None else (cfg.classifier_dropout if getattr(cfg, "classifier_dropout", None)
                                                 is not None else cfg.hidden_dropout_prob)
        self.num_labels = num_labels
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(cfg.hidden_size, num_labels)
        new_head_init(self.classifier, cfg)
        self.register_buffer("pos_weight", None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        if self.pooling == "mean":
            pooled = masked_mean_pool(out.last_hidden_state, attention_mask)
        else:
            pooled = out.pooler_output
        logits = self.classifier(self.dropout(pooled))
        loss = None if labels is None else multilabel_loss(logits, labels, self.pos_weight)
        return {"loss": loss, "logits": logits}

    @torch.no_grad()
    def init_bias_from_prior(self, targets: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        """Set each label's bias to the log-odds of its training frequency, so that before any training
        sigmoid(logit) starts at the label's base rate instead of 0.5. Returns the frequencies."""
        prior = torch.as_tensor(targets, dtype=torch.float32).mean(0).clamp(eps, 1 - eps)
        if prior.shape != self.classifier.bias.shape:
            raise ValueError(f"targets must be (examples, {self.num_labels}) multi-hot, got {tuple(targets.shape)}")
        self.classifier.bias.copy_(prior_bias(prior, "multi_label_classification", eps).to(self.classifier.bias))
        return prior


def multilabel_loss(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy over every (example, label) pair, computed from logits.

    logits: (batch, num_labels) float; targets: same shape, 0/1 (any dtype); pos_weight: None or (num_labels,).
    Per entry: ``-(w * y * log σ(z) + (1 - y) * log(1 - σ(z)))`` with ``w = pos_weight[j]`` (1 without it), written
    with log-sigmoid so that it stays exact for huge |z| (``log(1 - σ(z)) = log σ(-z)``). Returns a 0-d tensor
    in the dtype of ``logits`` — the same as ``F.binary_cross_entropy_with_logits(logits, targets, pos_weight=...)``.
    """
    return multi_label_loss(logits, targets, pos_weight)   # the one copy, in modeling/losses.py


def predict_labels(logits: torch.Tensor, threshold: float | torch.Tensor = 0.5) -> torch.Tensor:
    """Which labels to predict: ``σ(logits) >= threshold``, a bool tensor of the shape of ``logits``.

    ``threshold``: one number for every label, or a (num_labels,) tensor with one threshold per label (broadcast over
    the batch). Each label is decided on its own: a row may come out all False or all True.
    """
    probs = torch.sigmoid(logits)
    if isinstance(threshold, torch.Tensor):
        threshold = threshold.to(probs.device, probs.dtype)
    return probs >= threshold


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


# --------------------------------------------------------------------------------------------- find the bugs
BUGGY_TAGGER_SOURCE = '''\
import torch
from torch import nn
from transformers import BertModel, BertForMultiLabelClassification


class DebtagsTagger(BertForMultiLabelClassification):
    """Tags a Debian package description with any number of debtags."""

    def __init__(self, config, num_labels):
        super().__init__(config)
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        self.sigmoid = nn.functional.sigmoid()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        sequence_output, all_layers = self.bert(input_ids, attention_mask=attention_mask,
                                                token_type_ids=token_type_ids, output_hidden_states=True)
        cls_vector = all_layers[0][:, 0]                     # the [CLS] token's vector
        pooled = self.bert.pooler.activation(self.bert.pooler.dense(cls_vector))
        logits = self.classifier(self.dropout(logits))
        probs = self.sigmoid(logits)
        loss = None
        if labels is not None:
            loss = nn.CrossEntropyLoss()(probs, labels)
        return {"loss": loss, "logits": probs}
'''


class DebtagsTagger(nn.Module):
    """The repaired ``DebtagsTagger``: what the buggy version above meant to be.

    Fixes: (1) transformers has no ``BertForMultiLabelClassification`` — build on ``nn.Module`` and own a
    ``BertModel``; (2) the encoder returns a ``ModelOutput`` object, read its fields by name (unpacking it yields its
    *keys*, or fails); (3) ``all_layers[0]`` is the embedding layer's output, the input of layer 1 — the [CLS] vector
    to pool is the last layer's (``last_hidden_state[:, 0]``, which is what ``pooler_output`` is built from);
    (4) ``logits`` was used before it existed: the classifier reads the pooled vector; (5) ``nn.functional.sigmoid``
    is a function, not a module class — nothing to instantiate, and no sigmoid is needed in forward at all;
    (6) the loss for independent labels is ``BCEWithLogitsLoss`` on the raw logits with float 0/1 targets of shape
    (batch, num_labels) — ``CrossEntropyLoss`` expects one class per example, and feeding it probabilities
    squashes the gradient; (7) ``"logits"`` must be the raw scores.
    """

    def __init__(self, config: BertConfig, num_labels: int):
        super().__init__()
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = self.classifier(self.dropout(out.pooler_output))
        loss = None
        if labels is not None:
            loss = nn.BCEWithLogitsLoss()(logits, labels.to(logits.dtype))
        return {"loss": loss, "logits": logits}


# --------------------------------------------------------------------------------------------- checkers
def _ml_inputs(seed: int, device, batch=6, num_labels=5, scale=3.0, dtype=torch.float32, target_dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(batch, num_labels, generator=g, dtype=torch.float64) * scale).to(dtype)
    targets = (torch.rand(batch, num_labels, generator=g) < 0.35).to(target_dtype)
    targets[0] = 0          # a row without any label
    if batch > 1:
        targets[1] = 1      # a row with every label
    return logits.to(device), targets.to(device)


def _loss_diagnosis(got: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, pos_weight) -> str:
    """Name the likely bug when the student's loss equals a known wrong variant."""
    z, y = logits.detach().double(), targets.double()
    w = None if pos_weight is None else pos_weight.double().to(z.device)
    cands = {}
    cands["softmax"] = -(y * torch.log_softmax(z, -1)).sum(-1).mean()
    cands["softmax_ce"] = -(y * torch.log_softmax(z, -1)).mean()
    p = torch.sigmoid(z)
    cands["double_sigmoid"] = F.binary_cross_entropy_with_logits(p, y, pos_weight=w)
    cands["bce_on_logits"] = F.binary_cross_entropy(z.clamp(1e-7, 1 - 1e-7), y) if ((z > 0) & (z < 1)).all() else None
    cands["sum_over_labels"] = F.binary_cross_entropy_with_logits(z, y, pos_weight=w, reduction="none").sum(-1).mean()
    cands["sum_all"] = F.binary_cross_entropy_with_logits(z, y, pos_weight=w, reduction="sum")
    if w is not None:
        cands["no_pos_weight"] = F.binary_cross_entropy_with_logits(z, y)
        cands["weight_not_pos_weight"] = F.binary_cross_entropy_with_logits(z, y, weight=w)
    cands["naive_bce"] = F.binary_cross_entropy(p.float(), y.float(), weight=None if w is None else None).double() \
        if w is None else None
    g = float(got.detach().double())
    msgs = {
        "softmax": "it matches a softmax cross-entropy: softmax makes the labels compete for one unit of probability, "
                   "but in multi-label classification every label is an independent yes/no — use a sigmoid per label "
                   "(binary cross-entropy on each logit), not softmax.",
        "softmax_ce": "it matches a softmax cross-entropy averaged over entries: softmax is wrong for multi-label — "
                      "use a sigmoid (binary cross-entropy) per label.",
        "double_sigmoid": "it matches binary_cross_entropy_with_logits applied to sigmoid(logits): you passed "
                          "probabilities where logits are expected (the sigmoid was applied twice). Pass the raw logits.",
        "bce_on_logits": "it matches binary_cross_entropy on the raw logits: that function expects probabilities; "
                         "use binary_cross_entropy_with_logits on the logits.",
        "sum_over_labels": "it matches the loss summed over labels and averaged over examples: take the mean over "
                           "every (example, label) entry.",
        "sum_all": "it matches the sum over all entries: take the mean over every (example, label) entry.",
        "no_pos_weight": "it matches the loss without pos_weight: weight the positive term of label j by "
                         "pos_weight[j] (y * log σ(z) only, not the negative term).",
        "weight_not_pos_weight": "it matches the loss with every term of label j weighted by pos_weight[j] (`weight=`): "
                                 "pos_weight multiplies only the positive term y·log σ(z).",
        "naive_bce": "it matches sigmoid followed by binary_cross_entropy (BCELoss): on saturated logits σ(z) rounds "
                     "to 0 or 1, the log is clamped and the gradient vanishes — compute the loss from the logits "
                     "(log-sigmoid / binary_cross_entropy_with_logits).",
    }
    for name, val in cands.items():
        if val is not None and math.isclose(g, float(val), rel_tol=1e-4, abs_tol=1e-6):
            return " Likely bug: " + msgs[name]
    return ""


def _predict_diagnosis(got, logits, threshold) -> str:
    if not isinstance(got, torch.Tensor) or got.shape != logits.shape:
        return ""
    g = got.detach().bool() if got.dtype == torch.bool else got.detach() > 0.5
    thr = threshold.to(logits.device) if isinstance(threshold, torch.Tensor) else threshold
    cands = {
        "softmax": torch.softmax(logits, -1) >= thr,
        "raw": logits >= thr,
        "strict": torch.sigmoid(logits) > thr,
    }
    if isinstance(threshold, torch.Tensor):
        cands["wrong_axis"] = torch.sigmoid(logits) >= thr.view(-1, 1)[: logits.shape[0]] \
            if thr.numel() >= logits.shape[0] else None
    msgs = {
        "softmax": "your predictions match thresholding softmax(logits): multi-label needs a sigmoid per label.",
        "raw": "your predictions match comparing the raw logits with the threshold: the threshold is a probability, "
               "apply torch.sigmoid to the logits first.",
        "strict": "your predictions match `>`; the instructions ask for `>=` (probability equal to the threshold "
                  "counts as predicted).",
        "wrong_axis": "a per-label threshold must line up with the label axis (the last one): shape (num_labels,) "
                      "broadcasts over the batch as is.",
    }
    for name, c in cands.items():
        if c is not None and c.shape == g.shape and torch.equal(c.to(g.device), g):
            return " Likely bug: " + msgs[name]
    return ""


def check_multilabel_loss_and_predict(loss_fn, predict_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Check ``multilabel_loss(logits, targets, pos_weight=None)`` and ``predict_labels(logits, threshold)``."""
    device = torch.device(device)
    cases = [dict(seed=0), dict(seed=1, batch=4, num_labels=3, scale=40.0)]
    if hidden_tests:
        cases += [dict(seed=2, batch=1, num_labels=7), dict(seed=3, batch=9, num_labels=2, dtype=torch.float64),
                  dict(seed=4, batch=5, num_labels=4, target_dtype=torch.long),
                  dict(seed=5, batch=8, num_labels=6, scale=200.0)]
    n = 0
    for case in cases:
        logits, targets = _ml_inputs(device=device, **case)
        pw_options = [None, torch.linspace(0.5, 4.0, logits.shape[1], dtype=logits.dtype, device=device)]
        for pw in pw_options:
            before = clone_inputs((logits, targets, pw))
            desc = (f"multilabel_loss on logits {tuple(logits.shape)} ({logits.dtype}, |max| "
                    f"{float(logits.abs().max()):.0f}), targets {targets.dtype}"
                    + (", with pos_weight" if pw is not None else ", pos_weight=None"))
            got = call_student(loss_fn, logits, targets, pos_weight=pw, name="multilabel_loss",
                               reference=multilabel_loss)
            expect_unchanged(before, (logits, targets, pw), "An input of multilabel_loss")
            want = multilabel_loss(logits, targets, pw)
            if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype:
                close = torch.isclose(got.detach().double().to(device), want.double(), rtol=1e-5, atol=1e-6)
                if not bool(close):
                    raise GradingError(f"{desc}: got {float(got):.6g}, expected {float(want):.6g}."
                                       + _loss_diagnosis(got, logits, targets, pw))
            expect_tensor(got, want, desc, rtol=1e-5, atol=1e-6)
            n += 1
        # the gradient must flow (and be the stable one) on saturated logits
        z = logits.detach().clone().requires_grad_(True)
        got = call_student(loss_fn, z, targets, pos_weight=None, name="multilabel_loss", reference=multilabel_loss)
        if not isinstance(got, torch.Tensor) or not got.requires_grad:
            raise GradingError("multilabel_loss returned a value that does not depend on the logits through autograd "
                               "(did you call .item(), .detach() or build a new tensor?); return a 0-d tensor the "
                               "optimiser can backpropagate through.")
        got.backward()
        zr = logits.detach().clone().requires_grad_(True)
        multilabel_loss(zr, targets).backward()
        gmsg = (f"The gradient of multilabel_loss with respect to the logits (shape {tuple(z.shape)}, |max| logit "
                f"{float(logits.abs().max()):.0f})")
        if z.grad is None:
            raise GradingError(f"{gmsg} is None: the loss is not connected to the logits.")
        if not torch.allclose(z.grad.double(), zr.grad.double(), rtol=1e-4, atol=1e-7):
            hint = ""
            if float(logits.abs().max()) > 20 and (z.grad.abs() < 1e-12).any():
                hint = (" Some entries are exactly 0 on saturated logits: the sigmoid rounded to 0 or 1 before the "
                        "log. Compute the loss from the logits (F.logsigmoid or binary_cross_entropy_with_logits).")
            raise GradingError(f"{gmsg} differs from the expected one (max abs diff "
                               f"{float((z.grad - zr.grad).abs().max()):.3g}).{hint}")
        # prediction: a global and a per-label threshold
        L = logits.shape[1]
        thr_options = [0.5, 0.3, torch.linspace(0.2, 0.8, L, dtype=logits.dtype, device=device)]
        for thr in thr_options:
            before = clone_inputs((logits,))
            tdesc = f"a per-label threshold tensor of shape ({L},)" if isinstance(thr, torch.Tensor) else f"threshold={thr}"
            got = call_student(predict_fn, logits, thr, name="predict_labels", reference=predict_labels)
            expect_unchanged(before, (logits,), "The logits given to predict_labels")
            want = predict_labels(logits, thr)
            desc = f"predict_labels on logits {tuple(logits.shape)} with {tdesc}"
            if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype and \
                    not torch.equal(got, want):
                raise GradingError(f"{desc}: {int((got != want).sum())} of {want.numel()} decisions differ."
                                   + _predict_diagnosis(got, logits, thr))
            expect_tensor(got, want, desc)
            n += 1
    passed(f"multilabel_loss and predict_labels match the reference on {n} cases on {device.type}")


def _tune_inputs(seed, device, n=60, num_labels=5, empty_label=False, k=19, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, num_labels, generator=g) < torch.linspace(0.08, 0.5, num_labels)).float()
    noise = torch.randn(n, num_labels, generator=g)
    probs = torch.sigmoid(2.0 * (y - 0.5) * torch.linspace(0.5, 2.5, num_labels) + noise).to(dtype)
    if empty_label:
        y[:, -1] = 0
    cand = torch.linspace(0.05, 0.95, k, dtype=dtype)
    return probs.to(device), y.to(device), cand.to(device)


def check_tune_thresholds(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Check ``tune_thresholds(probs, targets, candidates) -> (global_threshold, per_label_thresholds)``.

    Any threshold that reaches the best F1 is accepted (ties need not be broken the same way), except for labels with
    no positive example, which must get the global threshold.
    """
    device = torch.device(device)
    cases = [dict(seed=0)]
    if hidden_tests:
        cases += [dict(seed=1, n=200, num_labels=8), dict(seed=2, n=40, num_labels=4, empty_label=True),
                  dict(seed=3, n=25, num_labels=1, k=7), dict(seed=4, n=90, num_labels=6, dtype=torch.float64)]
    for case in cases:
        probs, y, cand = _tune_inputs(device=device, **case)
        before = clone_inputs((probs, y, cand))
        out = call_student(student_fn, probs, y, cand, name="tune_thresholds", reference=tune_thresholds)
        expect_unchanged(before, (probs, y, cand), "An input of tune_thresholds")
        where = f"tune_thresholds on probs {tuple(probs.shape)} with {cand.numel()} candidates"
        if not isinstance(out, tuple) or len(out) != 2:
            raise GradingError(f"{where} should return a tuple (global_threshold, per_label_thresholds), got "
                               f"{type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, tuple) else "") + ".")
        g_t, per_t = out
        if isinstance(g_t, torch.Tensor) and g_t.numel() == 1:
            g_t = g_t.item()
        if not isinstance(g_t, (float, int)):
            raise GradingError(f"{where}: the global threshold should be a Python float (one number), got "
                               f"{type(g_t).__name__}" + (f" of shape {tuple(g_t.shape)}" if hasattr(g_t, 'shape') else "") +
                               ". Did you return the per-label thresholds first?")
        ref_g, ref_per = tune_thresholds(probs, y, cand)
        yb = y.bool()

        def micro(t):
            p = probs >= t
            return float(f1_from_counts((p & yb).sum().double(), (p & ~yb).sum().double(), (~p & yb).sum().double()))

        if not torch.isclose(cand.double(), torch.tensor(float(g_t), dtype=torch.float64, device=device)).any():
            raise GradingError(f"{where}: the global threshold {g_t:.6g} is not one of the candidates.")
        if micro(g_t) < micro(ref_g) - 1e-9:
            hint = ""
            macro_best = max((float(f1_from_counts(((probs >= t) & yb).sum(0).double(), ((probs >= t) & ~yb).sum(0)
                                                   .double(), ((probs < t) & yb).sum(0).double()).mean()), float(t))
                             for t in cand)
            if math.isclose(float(g_t), macro_best[1], abs_tol=1e-9):
                hint = (" It maximises the macro-F1 (mean of per-label F1s); the global threshold should maximise the "
                        "micro-F1: sum TP, FP and FN over all labels first, then compute one F1.")
            raise GradingError(f"{where}: the global threshold {g_t:.3g} gives micro-F1 {micro(g_t):.4f}, but "
                               f"{ref_g:.3g} gives {micro(ref_g):.4f}.{hint}")
        if not isinstance(per_t, torch.Tensor) or per_t.shape != ref_per.shape:
            expect_tensor(per_t, ref_per, f"{where}: the per-label thresholds", check_dtype=False)
        if per_t.dtype != cand.dtype:
            raise GradingError(f"{where}: the per-label thresholds have dtype {per_t.dtype}, expected {cand.dtype} "
                               "(the dtype of candidates).")
        per_t = per_t.detach().to(device)
        for j in range(y.shape[1]):
            col_p, col_y = probs[:, j], yb[:, j]
            if not col_y.any():
                if not math.isclose(float(per_t[j]), float(ref_g), abs_tol=1e-7):
                    raise GradingError(f"{where}: label {j} has no positive example, so its threshold should be the "
                                       f"global threshold {ref_g:.3g}; got {float(per_t[j]):.3g}.")
                continue

            def f1(t):
                p = col_p >= t
                return float(f1_from_counts((p & col_y).sum().double(), (p & ~col_y).sum().double(),
                                            (~p & col_y).sum().double()))
            if f1(per_t[j]) < f1(ref_per[j]) - 1e-9:
                hint = ""
                if math.isclose(float(per_t[j]), float(g_t), abs_tol=1e-9):
                    hint = " It equals your global threshold: tune each label's column on its own."
                raise GradingError(f"{where}: label {j}'s threshold {float(per_t[j]):.3g} gives F1 {f1(per_t[j]):.4f} "
                                   f"on that label, but {float(ref_per[j]):.3g} gives {f1(ref_per[j]):.4f}.{hint}")
            if not torch.isclose(cand.double(), per_t[j].double()).any():
                raise GradingError(f"{where}: label {j}'s threshold {float(per_t[j]):.6g} is not one of the candidates.")
    passed(f"tune_thresholds finds the best global and per-label thresholds on {len(cases)} case(s) on {device.type}")


def _model_inputs(seed, device, batch=4, seq=9, num_labels=5, vocab=99):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, seq), generator=g)
    ids[:, 0] = 2                                   # a [CLS]-like first token
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1:, seq - 3:] = 0
    ids[mask == 0] = 0
    tt = torch.zeros(batch, seq, dtype=torch.long)
    labels = (torch.rand(batch, num_labels, generator=g) < 0.4).float()
    return ids.to(device), mask.to(device), tt.to(device), labels.to(device)


def check_fixed_model(student_cls, device="cpu", hidden_tests: bool = False) -> None:
    """Build the student's repaired ``DebtagsTagger(config, num_labels)`` on a tiny random config, give it the
    reference's weights, and compare ``forward(...)["logits"]`` and ``["loss"]`` with the reference."""
    device = torch.device(device)
    if not isinstance(student_cls, type) or not issubclass(student_cls, nn.Module):
        raise GradingError(f"DebtagsTagger should be a class derived from torch.nn.Module, got "
                           f"{student_cls!r} ({type(student_cls).__name__}).")
    cases = [dict(seed=0)]
    if hidden_tests:
        cases += [dict(seed=1, batch=1, seq=5, num_labels=1), dict(seed=2, batch=7, seq=12, num_labels=9)]
    for case in cases:
        cfg = tiny_bert_config()
        seed_everything(case["seed"])
        num_labels = case.get("num_labels", 5)
        ref = DebtagsTagger(cfg, num_labels).to(device).eval()
        seed_everything(case["seed"])
        model = call_student(student_cls, cfg, num_labels, name="DebtagsTagger", reference=DebtagsTagger)
        state = ref.state_dict()
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise GradingError("The reference weights do not fit your DebtagsTagger: "
                               f"{str(exc).splitlines()[0]} Keep the layer names `bert`, `dropout`, `classifier` "
                               "and their sizes.") from None
        if missing:
            raise GradingError(f"Your DebtagsTagger has parameters the intended model does not have: "
                               f"{sorted(missing)[:4]}. Keep exactly `bert` (a BertModel with its pooler), `dropout` "
                               "and `classifier`.")
        if unexpected:
            raise GradingError(f"Your DebtagsTagger lacks parameters the intended model has: {sorted(unexpected)[:4]}. "
                               "It should own `self.bert = BertModel(config)` (pooler included) and "
                               "`self.classifier = nn.Linear(config.hidden_size, num_labels)`.")
        model.to(device).eval()
        ids, mask, tt, labels = _model_inputs(case["seed"], device, batch=case.get("batch", 4),
                                              seq=case.get("seq", 9), num_labels=num_labels)
        where = f"DebtagsTagger on a batch of {ids.shape[0]} sequences of {ids.shape[1]} tokens, {num_labels} labels"
        with torch.no_grad():
            out = call_student(model, ids, attention_mask=mask, token_type_ids=tt, labels=labels, name="DebtagsTagger.forward")
            want = ref(ids, attention_mask=mask, token_type_ids=tt, labels=labels)
            out_nolab = call_student(model, ids, attention_mask=mask, token_type_ids=tt, name="DebtagsTagger.forward")
        if not isinstance(out, dict) or "logits" not in out or "loss" not in out:
            raise GradingError(f"{where}: forward should return a dict with keys 'loss' and 'logits', got "
                               f"{type(out).__name__}" + (f" with keys {sorted(out)}" if isinstance(out, dict) else "") + ".")
        logits, wl = out["logits"], want["logits"]
        if isinstance(logits, torch.Tensor) and logits.shape == wl.shape and not torch.allclose(logits, wl, atol=1e-5):
            msg = ""
            if torch.allclose(logits, torch.sigmoid(wl), atol=1e-5):
                msg = ("'logits' are probabilities (sigmoid applied): return the raw scores of the classifier; the "
                       "loss and predict_labels apply the sigmoid themselves.")
            elif torch.allclose(logits, torch.softmax(wl, -1), atol=1e-5):
                msg = "'logits' went through a softmax: return the raw scores (and softmax is wrong for multi-label)."
            else:
                hs = ref.bert(ids, attention_mask=mask, token_type_ids=tt, output_hidden_states=True)
                variants = {
                    "embeddings": ref.classifier(ref.bert.pooler.activation(ref.bert.pooler.dense(hs.hidden_states[0][:, 0]))),
                    "no_pooler": ref.classifier(hs.last_hidden_state[:, 0]),
                    "first_sequence": None,
                }
                notes = {
                    "embeddings": "the features come from hidden_states[0], the output of the embedding layer (the "
                                  "input of the first Transformer layer): use the last layer's [CLS] vector — "
                                  "`outputs.pooler_output` (or the pooler applied to `outputs.last_hidden_state`).",
                    "no_pooler": "the classifier reads last_hidden_state[:, 0] without the pooler; the intended model "
                                 "classifies `outputs.pooler_output` (dense + tanh on the [CLS] vector), as "
                                 "BertForSequenceClassification does.",
                }
                for k, v in variants.items():
                    if v is not None and v.shape == logits.shape and torch.allclose(logits, v, atol=1e-5):
                        msg = notes[k]
                        break
            if msg:
                raise GradingError(f"{where}: {msg}")
        expect_tensor(logits, wl, f"{where}: 'logits'", atol=1e-5, rtol=1e-4)
        loss = out["loss"]
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise GradingError(f"{where}: 'loss' should be a 0-d tensor when labels are given, got "
                               f"{type(loss).__name__}" + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else "") + ".")
        if not math.isclose(float(loss), float(want["loss"]), rel_tol=1e-4, abs_tol=1e-6):
            z, y = wl.double(), labels.double()
            msg = ""
            if math.isclose(float(loss), float(F.binary_cross_entropy_with_logits(torch.sigmoid(z), y)), rel_tol=1e-4):
                msg = ("it is BCEWithLogitsLoss applied to probabilities: the sigmoid was applied twice — give the loss "
                       "the raw logits.")
            elif math.isclose(float(loss), float(F.binary_cross_entropy(torch.sigmoid(z), y)), rel_tol=1e-4):
                msg = ("it is sigmoid + BCELoss: same value here, but it breaks on saturated logits (gradient 0); use "
                       "nn.BCEWithLogitsLoss on the raw logits.")
            elif math.isclose(float(loss), float(-(y * torch.log_softmax(torch.sigmoid(z), -1)).sum(-1).mean()), rel_tol=1e-4) \
                    or math.isclose(float(loss), float(-(y * torch.log_softmax(z, -1)).sum(-1).mean()), rel_tol=1e-4):
                msg = ("it is CrossEntropyLoss (a softmax over the labels, made for one class per example): use "
                       "nn.BCEWithLogitsLoss on the raw logits with float 0/1 targets.")
            raise GradingError(f"{where}: 'loss' is {float(loss):.6g}, expected {float(want['loss']):.6g} "
                               "(BCEWithLogitsLoss, mean over every example and label)" + (f"; {msg}" if msg else "."))
        if not isinstance(out_nolab, dict) or out_nolab.get("loss", 0) is not None:
            raise GradingError(f"{where}: without labels forward should return loss=None (got "
                               f"{type(out_nolab.get('loss') if isinstance(out_nolab, dict) else out_nolab).__name__}).")
        # the loss must train the model: gradient reaches the encoder
        model.train()
        model.zero_grad()
        out = call_student(model, ids, attention_mask=mask, token_type_ids=tt, labels=labels, name="DebtagsTagger.forward")
        out["loss"].backward()
        emb = model.bert.embeddings.word_embeddings.weight.grad
        if emb is None or float(emb.abs().sum()) == 0.0:
            raise GradingError(f"{where}: no gradient reaches the encoder's embeddings from the loss; the loss must be "
                               "computed from the classifier's logits (without .detach() or torch.no_grad()).")
        model.eval()
    passed(f"DebtagsTagger matches the reference model (logits and BCE-with-logits loss) on {len(cases)} case(s) "
           f"on {device.type}")
