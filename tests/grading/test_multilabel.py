"""Tests of mtbert_ref.grading.multilabel (notebook 06): every checker accepts right answers in other styles and
names the bug of each wrong one."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertModel

from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grading.multilabel import check_fixed_model, check_multilabel_loss_and_predict, check_tune_thresholds
from mtbert_ref.lessons.find_the_bugs import DebtagsTagger
from mtbert_ref.lessons.multilabel import tune_thresholds
from mtbert_ref.modeling.multilabel import multilabel_loss, predict_labels


# --------------------------------------------------------------------------------------------- checker: loss & predict
def _loss_softmax(logits, targets, pos_weight=None):
    return -(targets.float() * torch.log_softmax(logits, -1)).sum(-1).mean()


def _loss_double_sigmoid(logits, targets, pos_weight=None):
    return F.binary_cross_entropy_with_logits(torch.sigmoid(logits), targets.to(logits.dtype), pos_weight=pos_weight)


def _loss_naive(logits, targets, pos_weight=None):
    p = torch.sigmoid(logits)
    y = targets.to(logits.dtype)
    w = 1.0 if pos_weight is None else pos_weight
    return -(w * y * torch.log(p).clamp(min=-100) + (1 - y) * torch.log(1 - p).clamp(min=-100)).mean()


def _loss_no_pw(logits, targets, pos_weight=None):
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


def _loss_sum_labels(logits, targets, pos_weight=None):
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), pos_weight=pos_weight,
                                              reduction="none").sum(-1).mean()


def _pred_ok(logits, threshold=0.5):
    return torch.sigmoid(logits) >= threshold


def _pred_raw(logits, threshold=0.5):
    return logits >= threshold


def _pred_softmax(logits, threshold=0.5):
    return torch.softmax(logits, -1) >= threshold


def _pred_float(logits, threshold=0.5):
    return (torch.sigmoid(logits) >= threshold).float()


def _pred_strict(logits, threshold=0.5):
    return torch.sigmoid(logits) > threshold


def _pred_argmax(logits, threshold=0.5):
    return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).bool()


def test_loss_checker_accepts_reference():
    check_multilabel_loss_and_predict(fresh_copy(multilabel_loss), fresh_copy(predict_labels), hidden_tests=True)


def test_loss_checker_rejects_the_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_multilabel_loss_and_predict(multilabel_loss, _pred_ok)


@pytest.mark.parametrize("fn, msg", [
    (_loss_softmax, "softmax"),
    (_loss_double_sigmoid, "probabilities where logits are expected"),
    (_loss_naive, "saturated|sigmoid followed by binary_cross_entropy"),
    (_loss_no_pw, "without pos_weight"),
    (_loss_sum_labels, "summed over labels"),
])
def test_loss_checker_rejects(fn, msg):
    with pytest.raises(GradingError, match=msg):
        check_multilabel_loss_and_predict(fn, _pred_ok, hidden_tests=True)


@pytest.mark.parametrize("fn, msg", [
    (_pred_raw, "raw logits"),
    (_pred_softmax, "softmax"),
    (_pred_float, "dtype"),
    (_pred_argmax, "one label per row"),
    (_pred_strict, "match `>`"),  # only the hidden cases hold probabilities exactly at the threshold
])
def test_predict_checker_rejects(fn, msg):
    with pytest.raises(GradingError, match=msg):
        check_multilabel_loss_and_predict(fresh_copy(multilabel_loss), fn, hidden_tests=True)


def test_unimplemented_stub_message():
    def stub(logits, targets, pos_weight=None):
        raise NotImplementedError()
    with pytest.raises(GradingError, match="not implemented yet"):
        check_multilabel_loss_and_predict(stub, _pred_ok)


# --------------------------------------------------------------------------------------------- checker: thresholds
def _tune_macro_global(probs, targets, candidates):
    _, per = tune_thresholds(probs, targets, candidates)
    y = targets.bool()
    best, best_t = -1.0, None
    for t in candidates:
        p = probs >= t
        tp, fp, fn = (p & y).sum(0).double(), (p & ~y).sum(0).double(), (~p & y).sum(0).double()
        f = (2 * tp / (2 * tp + fp + fn).clamp(min=1e-12)).mean().item()
        if f > best:
            best, best_t = f, float(t)
    return best_t, per


def _tune_same_for_all(probs, targets, candidates):
    g, _ = tune_thresholds(probs, targets, candidates)
    return g, torch.full((probs.shape[1],), g, dtype=candidates.dtype)


def _tune_no_fallback(probs, targets, candidates):
    g, per = tune_thresholds(probs, targets, candidates)
    per = per.clone()
    per[targets.sum(0) == 0] = candidates[0]
    return g, per


def _tune_swapped(probs, targets, candidates):
    g, per = tune_thresholds(probs, targets, candidates)
    return per, g


def _tune_strict(probs, targets, candidates):
    """Predicts where probs > t: a probability equal to a candidate is left out (the hidden on-grid case)."""
    below = torch.nextafter(candidates, torch.full_like(candidates, 2.0))    # the next float above each candidate
    g, per = tune_thresholds(probs, targets, below)
    k = int(torch.isclose(below, torch.tensor(g, dtype=below.dtype)).nonzero()[0])
    return float(candidates[k]), candidates[(per[:, None] == below[None, :]).float().argmax(1)]


def _unguard(monkeypatch):
    """The wrong variants above call the reference on purpose; let the checker run them as if students wrote them."""
    import mtbert_ref.grading.core as checking
    monkeypatch.setattr(checking, "_is_reference", lambda fn, reference=None: False)
    watch = checking._watch_reference
    monkeypatch.setattr(checking, "_watch_reference", lambda reference: watch(None))


def test_tune_checker_accepts_reference():
    check_tune_thresholds(fresh_copy(tune_thresholds), hidden_tests=True)


@pytest.mark.parametrize("fn, msg", [
    (_tune_macro_global, "micro-F1"),
    (_tune_same_for_all, "on its own"),
    (_tune_no_fallback, "no positive example"),
    (_tune_swapped, "Python float"),
    (_tune_strict, "does NOT count as predicted"),
])
def test_tune_checker_rejects(fn, msg, monkeypatch):
    _unguard(monkeypatch)
    with pytest.raises(GradingError, match=msg):
        check_tune_thresholds(fn, hidden_tests=True)


# --------------------------------------------------------------------------------------------- checker: the repaired model
def _tagger(features="pooler", output="logits", loss="bce", pooler=True):
    class Tagger(nn.Module):
        def __init__(self, config, num_labels):
            super().__init__()
            self.bert = BertModel(config, add_pooling_layer=pooler)
            self.dropout = nn.Dropout(config.hidden_dropout_prob)
            self.classifier = nn.Linear(config.hidden_size, num_labels)

        def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
            out = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                            output_hidden_states=True)
            if features == "pooler":
                h = out.pooler_output
            else:
                h = self.bert.pooler.activation(self.bert.pooler.dense(out.hidden_states[0][:, 0]))
            logits = self.classifier(self.dropout(h))
            probs = torch.sigmoid(logits)
            result = None
            if labels is not None:
                if loss == "bce":
                    result = F.binary_cross_entropy_with_logits(logits, labels)
                elif loss == "ce_probs":
                    result = nn.CrossEntropyLoss()(probs, labels)
                elif loss == "bcewl_probs":
                    result = F.binary_cross_entropy_with_logits(probs, labels)
            if output == "tuple":
                return result, logits
            return {"loss": result, "logits": probs if output == "probs" else logits}
    return Tagger


def test_fixed_model_checker_accepts_reference():
    check_fixed_model(fresh_copy(DebtagsTagger), hidden_tests=True)
    check_fixed_model(_tagger(), hidden_tests=True)


def test_fixed_model_checker_rejects_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_fixed_model(DebtagsTagger)


@pytest.mark.parametrize("cls, msg", [
    (_tagger(output="probs"), "probabilities"),
    (_tagger(features="embeddings"), r"hidden_states\[0\]"),
    (_tagger(loss="ce_probs"), "CrossEntropyLoss"),
    (_tagger(loss="bcewl_probs"), "applied twice"),
    (_tagger(pooler=False), "lacks parameters"),
    (_tagger(output="tuple"), "dict with keys"),
])
def test_fixed_model_checker_rejects(cls, msg):
    with pytest.raises(GradingError, match=msg):
        check_fixed_model(cls)


def test_fixed_model_checker_reports_constructor_error():
    class Broken(nn.Module):
        def __init__(self, config, num_labels):
            super().__init__()
            self.sigmoid = nn.functional.sigmoid()
    with pytest.raises(GradingError, match="TypeError"):
        check_fixed_model(Broken)
