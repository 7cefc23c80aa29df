"""Tests of mtbert_ref.classification and mtbert_ref.chinese (notebook 05): HF equivalence, metrics, data, checkers."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import f1_score
from sklearn.utils.class_weight import compute_class_weight
from torch import nn
from transformers import BertForSequenceClassification

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.chinese import (PACKAGE_LABELS, chinese_backbone, chinese_tokenizer, load_chinese_packages,
                                load_chinese_reviews, small_bert_config, unk_rate)
from mtbert_ref.classification import (
    BertSequenceClassifier,
    ClassificationHead,
    check_classification_head,
    check_classification_loss,
    check_macro_f1,
    check_training_step,
    class_weights_from_labels,
    classification_loss,
    confusion_matrix,
    hf_key_map,
    infer_problem_type,
    load_hf_classifier,
    load_tweets,
    macro_f1,
    majority_baseline,
    tfidf_logreg_baseline,
    training_step,
)


# --------------------------------------------------------------------------------------------- HF equivalence
def _pair(num_labels: int, problem_type=None, seed: int = 0):
    torch.manual_seed(seed)
    cfg = tiny_bert_config(num_labels=num_labels)
    if problem_type is not None:
        cfg.problem_type = problem_type
    hf = BertForSequenceClassification(cfg).eval()
    ours = BertSequenceClassifier.from_config(tiny_bert_config(), num_labels=num_labels, problem_type=problem_type)
    load_hf_classifier(ours, hf).eval()
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(1, 99, (5, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[3, 2:] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    return hf, ours, dict(input_ids=ids, attention_mask=mask, token_type_ids=types), g


@pytest.mark.parametrize("case", ["regression", "single_label", "single_label_int32", "multi_label",
                                  "explicit_regression_3_outputs"])
def test_equal_to_transformers(case):
    if case == "regression":
        hf, ours, inputs, g = _pair(1)
        labels = torch.randn(5, generator=g)
        want_type = "regression"
    elif case in ("single_label", "single_label_int32"):
        hf, ours, inputs, g = _pair(3)
        labels = torch.randint(0, 3, (5,), generator=g)
        want_type = "single_label_classification"
    elif case == "multi_label":
        hf, ours, inputs, g = _pair(4)
        labels = (torch.rand(5, 4, generator=g) > 0.5).float()
        want_type = "multi_label_classification"
    else:
        hf, ours, inputs, g = _pair(3, problem_type="regression")
        labels = torch.randn(5, 3, generator=g)
        want_type = "regression"
    with torch.no_grad():
        want = hf(**inputs, labels=labels)
        got = ours(**inputs, labels=labels.int() if case == "single_label_int32" else labels)
    assert hf.config.problem_type == want_type
    assert infer_problem_type(labels.shape[-1] if labels.dim() > 1 else hf.num_labels, labels,
                              ours.problem_type) == want_type
    assert (got.logits - want.logits).abs().max() <= 1e-5
    assert abs(float(got.loss) - float(want.loss)) <= 1e-5


def test_key_map_is_complete_and_gradients_match():
    hf, ours, inputs, g = _pair(3, seed=3)
    mapping = hf_key_map(list(hf.state_dict()))
    assert set(mapping.values()) == set(ours.state_dict())
    assert mapping["classifier.weight"] == "head.classifier.weight"
    labels = torch.randint(0, 3, (5,), generator=g)
    hf(**inputs, labels=labels).loss.backward()
    ours(**inputs, labels=labels).loss.backward()
    hf_grads = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        hf_name = name.replace("head.", "", 1)
        assert (p.grad - hf_grads[hf_name].grad).abs().max() <= 1e-5, name


def test_training_mode_dropout_matches_transformers():
    torch.manual_seed(0)
    cfg = tiny_bert_config(num_labels=3, hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.2)
    hf = BertForSequenceClassification(cfg).train()
    ours = load_hf_classifier(BertSequenceClassifier.from_config(cfg), hf).train()
    ids = torch.randint(1, 99, (3, 8))
    torch.manual_seed(5)
    a = hf(input_ids=ids).logits
    torch.manual_seed(5)
    b = ours(input_ids=ids).logits
    assert (a - b).abs().max() <= 1e-5


# --------------------------------------------------------------------------------------------- loss details
def test_class_weights_are_a_weighted_mean_over_target_weights():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 3, generator=g)
    labels = torch.tensor([0, 0, 0, 1, 2, 2, 0])
    w = torch.tensor([0.2, 1.5, 3.0])
    nll = -torch.log_softmax(logits, -1)[torch.arange(7), labels]
    manual = (w[labels] * nll).sum() / w[labels].sum()
    assert torch.allclose(classification_loss(logits, labels, class_weights=w), manual, atol=1e-6)
    # equal weights change nothing
    assert torch.allclose(classification_loss(logits, labels, class_weights=torch.ones(3)),
                          classification_loss(logits, labels), atol=1e-6)


def test_class_weights_rejected_outside_single_label_and_bad_problem_type():
    with pytest.raises(ValueError, match="single-label"):
        classification_loss(torch.randn(3, 1), torch.randn(3), class_weights=torch.ones(1))
    with pytest.raises(ValueError, match="problem_type"):
        classification_loss(torch.randn(3, 2), torch.tensor([0, 1, 1]), problem_type="binary")


def test_model_with_class_weights_uses_them():
    torch.manual_seed(0)
    w = torch.tensor([1.0, 5.0, 0.5])
    m = BertSequenceClassifier.from_config(tiny_bert_config(), num_labels=3, class_weights=w).eval()
    ids = torch.randint(1, 99, (4, 6))
    labels = torch.tensor([0, 1, 2, 1])
    out = m(input_ids=ids, labels=labels)
    assert torch.allclose(out.loss, F.cross_entropy(out.logits, labels, weight=w), atol=1e-6)
    assert m(input_ids=ids).loss is None


def test_class_weights_from_labels_matches_sklearn_balanced():
    labels = [0] * 50 + [1] * 30 + [2] * 20
    ours = class_weights_from_labels(labels, 3)
    sk = compute_class_weight("balanced", classes=np.arange(3), y=np.array(labels))
    assert np.allclose(ours.numpy(), sk, atol=1e-6)
    assert class_weights_from_labels([0, 0, 1], 3)[2] == 0


# --------------------------------------------------------------------------------------------- metrics
def test_macro_f1_matches_sklearn():
    rng = np.random.default_rng(0)
    for k in range(30):
        n = int(rng.integers(1, 40))
        t, p = rng.integers(0, 4, n), rng.integers(0, 4, n)
        assert macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro", zero_division=0), abs=1e-12)
        assert macro_f1(torch.tensor(t), torch.tensor(p).tolist(), num_labels=6) == pytest.approx(
            f1_score(t, p, labels=list(range(6)), average="macro", zero_division=0), abs=1e-12)
    assert isinstance(macro_f1([0, 1], [0, 1]), float)
    assert macro_f1([0, 0, 1], [0, 0, 0]) == pytest.approx(0.4)   # class 1 never predicted: F1 0
    with pytest.raises(ValueError, match="same length"):
        macro_f1([0, 1], [0])


def test_confusion_matrix_and_majority():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    assert np.array_equal(confusion_matrix(t, p, 3).numpy(), sk_confusion_matrix(t, p, labels=[0, 1, 2]))
    assert majority_baseline([2, 1, 2, 0], 3) == [2, 2, 2]


def test_training_step_lowers_the_loss():
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_bert_config(num_labels=2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = {"input_ids": torch.randint(1, 99, (8, 7)), "labels": torch.tensor([0, 1] * 4)}
    losses = [training_step(model, batch, opt, "cpu") for _ in range(15)]
    assert all(isinstance(x, float) for x in losses)
    assert losses[-1] < losses[0] * 0.75
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.parameters())


# --------------------------------------------------------------------------------------------- data
def test_tweets_data():
    train, test = load_tweets("train"), load_tweets("test")
    assert (len(train), len(test)) == (4000, 1000)
    assert np.bincount([ex["label"] for ex in test]).tolist() == [425, 375, 200]
    assert not {ex["text"] for ex in train} & {ex["text"] for ex in test}
    assert all(ex["text"].isascii() and not re.search(r"@(?!user\b)\w", ex["text"]) for ex in train)
    assert not any("http://" in ex["text"] for ex in train)
    with pytest.raises(ValueError):
        load_tweets("val")


def test_chinese_data_vocabulary_and_unk_rates():
    train, test = load_chinese_reviews("train"), load_chinese_reviews("test")
    assert (len(train), len(test)) == (5000, 1000)
    assert np.bincount([ex["label"] for ex in test]).tolist() == [500, 500]
    assert not {ex["text"] for ex in train} & {ex["text"] for ex in test}
    tok = chinese_tokenizer()
    assert tok.tokenize("这本书很好") == ["这", "本", "书", "很", "好"]
    texts = [ex["text"] for ex in test[:200]]
    ours = unk_rate(tok, texts)
    assert ours["unk_share"] < 0.02 and 0.8 < ours["tokens_per_char"] < 1.1
    cfg = small_bert_config(len(tok))
    assert cfg.vocab_size == len(tok) and cfg.num_labels == 2
    tok2, enc, desc = chinese_backbone("no-such-model-for-mtbert-tests")
    assert enc is None and "not reachable" in desc


def test_chinese_packages_multiclass_data_and_vocabulary():
    train, test = load_chinese_packages("train"), load_chinese_packages("test")
    assert (len(train), len(test)) == (872, 269)
    for split in (train, test):
        assert {ex["label"] for ex in split} == set(range(10))        # every class on both sides
        assert all(PACKAGE_LABELS[ex["label"]] == ex["label_name"] for ex in split)
    assert not {ex["text"] for ex in train} & {ex["text"] for ex in test}
    y_test = np.bincount([ex["label"] for ex in test])
    assert y_test.max() / len(test) < 0.35                          # majority baseline well below 50 %
    tok = chinese_tokenizer("chinese_packages")
    assert tok.tokenize("开发文件") == ["开", "发", "文", "件"]
    assert unk_rate(tok, [ex["text"] for ex in test])["unk_share"] < 0.03
    assert chinese_backbone(dataset="chinese_packages")[0].vocab == tok.vocab
    with pytest.raises(ValueError, match="dataset must be one of"):
        chinese_tokenizer("chinese_poems")
    with pytest.raises(ValueError, match="split"):
        load_chinese_packages("val")


def test_char_tfidf_baseline_reads_chinese_and_rejects_unknown_analyzers():
    train, test = load_chinese_packages("train"), load_chinese_packages("test")
    pred = tfidf_logreg_baseline([ex["text"] for ex in train], [ex["label"] for ex in train],
                                 [ex["text"] for ex in test], analyzer="char")
    acc = np.mean(np.array(pred) == np.array([ex["label"] for ex in test]))
    assert acc > 0.6                                                # majority: 0.28
    with pytest.raises(ValueError, match="analyzer"):
        tfidf_logreg_baseline(["a"], [0], ["a"], analyzer="bytes")


# --------------------------------------------------------------------------------------------- checkers
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
