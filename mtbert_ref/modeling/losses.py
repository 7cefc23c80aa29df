"""The loss for each problem type, in transformers' vocabulary — the one copy in the package.

``problem_type`` is what ``BertForSequenceClassification`` calls it:

* ``"regression"`` — mean squared error on the raw outputs;
* ``"single_label_classification"`` — softmax cross-entropy over the classes (optionally weighted per class);
* ``"multi_label_classification"`` — an independent sigmoid per label, binary cross-entropy from the logits.

:func:`infer_problem_type` infers it from ``num_labels`` and the labels' dtype exactly as transformers does. The
multi-task model's task kinds map onto it (:data:`KIND_TO_PROBLEM_TYPE`); entries it does not know (``-100`` for
classification, NaN for regression) are left out with ``ignore_unknown=True``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["PROBLEM_TYPES", "IGNORE_INDEX", "KIND_TO_PROBLEM_TYPE", "infer_problem_type", "multi_label_loss",
           "problem_type_loss"]

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
IGNORE_INDEX = -100   # the label value transformers' losses skip
KIND_TO_PROBLEM_TYPE = {"multi_class": "single_label_classification", "multi_label": "multi_label_classification",
                        "regression": "regression"}


def infer_problem_type(num_labels: int, labels: torch.Tensor, problem_type: str | None = None) -> str:
    """The problem type transformers would use: the explicit one if given, else inferred from num_labels and dtype."""
    if problem_type is not None:
        if problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type must be one of {PROBLEM_TYPES} or None, got {problem_type!r}")
        return problem_type
    if num_labels == 1:
        return "regression"
    if labels.dtype in (torch.long, torch.int):
        return "single_label_classification"
    return "multi_label_classification"


def multi_label_loss(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy over every (example, label) entry, computed from the logits.

    Per entry ``-(w·y·log σ(z) + (1 - y)·log σ(-z))`` with ``w = pos_weight[j]`` (1 without it), written with
    log-sigmoid so that it stays exact for huge |z|. A 0-d tensor in the dtype of ``logits`` — the value of
    ``F.binary_cross_entropy_with_logits(logits, targets, pos_weight=...)``.
    """
    y = targets.to(logits.dtype)
    w = 1.0 if pos_weight is None else pos_weight.to(device=logits.device, dtype=logits.dtype)
    per_entry = -(w * y * F.logsigmoid(logits) + (1.0 - y) * F.logsigmoid(-logits))
    return per_entry.mean()


def problem_type_loss(logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None = None,
                      class_weights: torch.Tensor | None = None, pos_weight: torch.Tensor | None = None,
                      ignore_unknown: bool = False) -> torch.Tensor | None:
    """The loss of ``problem_type`` (None: inferred); ``num_labels`` is ``logits.shape[-1]``.

    logits: (batch, num_labels) float. labels: (batch,) int64/int32 class ids for single-label; (batch,) or
    (batch, 1) float for regression with one output, (batch, num_labels) float for several; (batch, num_labels)
    0/1 for multi-label. ``class_weights`` (num_labels,): single-label only, as ``F.cross_entropy(weight=...)``
    (its mean divides by the summed weights of the targets). ``pos_weight`` (num_labels,): multi-label only.

    ``ignore_unknown``: leave out the entries whose label is unknown (-100 for the two classification types, NaN
    for regression) and return None when no entry is known (the multi-task model's rule). Otherwise -100 class ids
    are skipped as ``F.cross_entropy`` does and every other entry counts.
    """
    num_labels = logits.shape[-1]
    kind = infer_problem_type(num_labels, labels, problem_type)
    if class_weights is not None and kind != "single_label_classification":
        raise ValueError(f"class_weights apply to single-label classification only, not to {kind} "
                         "(for multi-label use pos_weight)")
    if pos_weight is not None and kind != "multi_label_classification":
        raise ValueError(f"pos_weight applies to multi-label classification only, not to {kind}")
    if kind == "single_label_classification":
        if labels.is_floating_point():
            raise TypeError("single-label classification needs integer class ids (torch.long), got "
                            f"{labels.dtype} labels; float labels mean regression or multi-label")
        z, y = logits.reshape(-1, num_labels), labels.reshape(-1).long()
        if ignore_unknown:
            known = y != IGNORE_INDEX
            if not bool(known.any()):
                return None
            z, y = z[known], y[known]
        weight = None if class_weights is None else class_weights.to(device=logits.device, dtype=logits.dtype)
        return F.cross_entropy(z, y, weight=weight)
    if kind == "multi_label_classification":
        y = labels.to(logits.dtype)
        if ignore_unknown:
            known = y != IGNORE_INDEX
            if not bool(known.any()):
                return None
            if not bool(known.all()):
                w = None if pos_weight is None else pos_weight.to(logits).expand_as(logits)[known]
                return F.binary_cross_entropy_with_logits(logits[known], y[known], pos_weight=w)
        return multi_label_loss(logits, y, pos_weight)
    # regression
    y = labels.to(logits.dtype)
    if ignore_unknown:
        y = y.reshape(logits.shape)
        known = ~torch.isnan(y)
        if not bool(known.any()):
            return None
        return F.mse_loss(logits[known], y[known])
    if num_labels == 1:
        return F.mse_loss(logits.squeeze(), y.squeeze())
    return F.mse_loss(logits, y)
