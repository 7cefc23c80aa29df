"""Tests of mtbert_ref.grading.classification (notebook 05): the checkers accept the references written as a student
would, reject the reference itself, and name the bug of each wrong answer."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from torch import nn

from mtbert_ref.grading.classification import (check_classification_head, check_classification_loss, check_macro_f1,
                                               check_training_step)
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.lessons.classification import macro_f1, training_step
from mtbert_ref.modeling.classification import ClassificationHead, classification_loss


def test_checkers_accept_the_reference_copies():
    check_classification_head(fresh_copy(ClassificationHead), hidden_tests=True)
    check_classification_loss(fresh_copy(classification_loss), hidden_tests=True)
    check_training_step(fresh_copy(training_step), hidden_tests=True)
    check_macro_f1(fresh_copy(macro_f1), hidden_tests=True)


def test_checkers_reject_the_reference_itself():
    with pytest.raises(GradingError, match="reference implementation"):
        check_macro_f1(macro_f1)
    with pytest.raises(GradingError, match="reference implementation"):
        check_training_step(training_step)


def test_checkers_report_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for check in (check_classification_head, check_classification_loss, check_training_step, check_macro_f1):
        with pytest.raises(GradingError, match="not implemented"):
            check(stub)


class NoDropoutHead(nn.Module):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__()
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, x):
        return self.classifier(x)


class DropoutAfterHead(nn.Module):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout_prob)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, x):
        return self.dropout(self.classifier(x))


class TanhHead(DropoutAfterHead):
    def forward(self, x):
        return self.classifier(self.dropout(torch.tanh(x)))


class NoBiasHead(DropoutAfterHead):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__(hidden_size, num_labels, dropout_prob)
        self.classifier = nn.Linear(hidden_size, num_labels, bias=False)


class FixedDropoutHead(DropoutAfterHead):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__(hidden_size, num_labels, 0.1)

    def forward(self, x):
        return self.classifier(self.dropout(x))


@pytest.mark.parametrize("wrong, message", [
    (NoDropoutHead, "has no nn.Dropout"),
    (DropoutAfterHead, "where dropout is applied"),
    (TanhHead, "no tanh"),
    (NoBiasHead, "has parameters"),
])
def test_head_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_classification_head(wrong)


def test_head_checker_hidden_catches_ignored_dropout_prob():
    check_classification_head(FixedDropoutHead)
    with pytest.raises(GradingError, match="dropout probability"):
        check_classification_head(FixedDropoutHead, hidden_tests=True)


def loss_always_ce(logits, labels, problem_type=None, class_weights=None):
    return F.cross_entropy(logits, labels.long(), weight=class_weights)


def loss_no_squeeze(logits, labels, problem_type=None, class_weights=None):
    n = logits.shape[-1]
    if problem_type == "regression" or (problem_type is None and n == 1):
        return F.mse_loss(logits, labels.float())
    if problem_type is None and labels.dtype in (torch.long, torch.int):
        return F.cross_entropy(logits, labels.long(), weight=class_weights)
    return F.binary_cross_entropy_with_logits(logits, labels.float())


def loss_ignores_weights(logits, labels, problem_type=None, class_weights=None):
    n = logits.shape[-1]
    if problem_type == "regression" or (problem_type is None and n == 1):
        return F.mse_loss(logits.squeeze(), labels.squeeze().float())
    if problem_type == "single_label_classification" or labels.dtype in (torch.long, torch.int):
        return F.cross_entropy(logits, labels.long())
    return F.binary_cross_entropy_with_logits(logits, labels.float())


def loss_weighted_over_batch(logits, labels, problem_type=None, class_weights=None):
    if class_weights is None:
        return loss_ignores_weights(logits, labels, problem_type)
    per = F.cross_entropy(logits, labels.long(), reduction="none")
    return (per * class_weights[labels.long()]).mean()


def loss_multilabel_as_ce(logits, labels, problem_type=None, class_weights=None):
    n = logits.shape[-1]
    if n == 1:
        return F.mse_loss(logits.squeeze(), labels.squeeze().float())
    if labels.dtype.is_floating_point:
        return F.cross_entropy(logits, labels)   # soft-target CE instead of BCE
    return F.cross_entropy(logits, labels.long(), weight=class_weights)


def loss_int32_unhandled(logits, labels, problem_type=None, class_weights=None):
    if labels.dtype == torch.int32:
        return F.binary_cross_entropy_with_logits(logits, F.one_hot(labels.long(), logits.shape[-1]).float())
    return classification_loss(logits, labels, problem_type, class_weights)


@pytest.mark.parametrize("wrong, message", [
    (loss_always_ce, "raised IndexError.*line"),
    (loss_no_squeeze, "squeeze"),
    (loss_ignores_weights, "You ignored class_weights"),
    (loss_weighted_over_batch, "divided the weighted sum by the batch size"),
    (loss_multilabel_as_ce, "binary_cross_entropy_with_logits"),
])
def test_loss_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_classification_loss(wrong)


def test_loss_checker_hidden_catches_int32_labels():
    with pytest.raises(GradingError, match="reference implementation|int32"):
        check_classification_loss(loss_int32_unhandled, hidden_tests=True)


def step_no_zero_grad(model, batch, optimizer, device):
    model.train()
    loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
    loss.backward()
    optimizer.step()
    return loss.item()


def step_no_train_mode(model, batch, optimizer, device):
    loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def step_returns_tensor(model, batch, optimizer, device):
    model.train()
    loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss


def step_no_optimizer_step(model, batch, optimizer, device):
    model.train()
    loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
    loss.backward()
    optimizer.zero_grad()
    return loss.item()


def step_zero_before_step(model, batch, optimizer, device):
    model.train()
    loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


@pytest.mark.parametrize("wrong, message", [
    (step_no_zero_grad, "still hold gradients"),
    (step_no_train_mode, "eval mode"),
    (step_returns_tensor, "returned a torch.Tensor"),
    (step_no_optimizer_step, "no parameter changed"),
    (step_zero_before_step, "parameter"),
])
def test_training_step_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_training_step(wrong)


def f1_accuracy(y_true, y_pred, num_labels=None):
    t, p = np.asarray(y_true), np.asarray(y_pred)
    return float((t == p).mean())


def f1_weighted(y_true, y_pred, num_labels=None):
    return float(f1_score(np.asarray(y_true), np.asarray(y_pred), average="weighted", zero_division=0))


def f1_predicted_classes_only(y_true, y_pred, num_labels=None):
    t, p = np.asarray(y_true), np.asarray(y_pred)
    return float(f1_score(t, p, labels=np.unique(p), average="macro", zero_division=0))


def f1_ignores_num_labels(y_true, y_pred, num_labels=None):
    return float(f1_score(np.asarray(y_true), np.asarray(y_pred), average="macro", zero_division=0))


def f1_nan_for_empty(y_true, y_pred, num_labels=None):
    t, p = np.asarray(y_true), np.asarray(y_pred)
    classes = range(num_labels) if num_labels else np.unique(np.concatenate([t, p]))
    scores = []
    for c in classes:
        tp = np.sum((t == c) & (p == c))
        prec = tp / np.sum(p == c) if np.sum(p == c) else float("nan")
        rec = tp / np.sum(t == c) if np.sum(t == c) else float("nan")
        scores.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return float(np.mean(scores))


@pytest.mark.parametrize("wrong, message", [
    (f1_accuracy, "accuracy"),
    (f1_weighted, "average the classes without weights"),
    (f1_predicted_classes_only, "even one never predicted"),
    (f1_ignores_num_labels, "With num_labels given"),
    (f1_nan_for_empty, "NaN"),
])
def test_macro_f1_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_macro_f1(wrong)
