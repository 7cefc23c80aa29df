"""Tests of mtbert_ref.multilabel (notebook 06): HF equivalence, edge cases, data, and every checker."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from torch import nn
from torch.nn import functional as F
from transformers import BertForSequenceClassification, BertModel

from mtbert_ref import tiny_bert_config
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.device import seed_everything
from mtbert_ref.multilabel import (
    BUGGY_TAGGER_SOURCE,
    BertMultiLabelClassifier,
    DebtagsTagger,
    check_fixed_model,
    check_multilabel_loss_and_predict,
    check_tune_thresholds,
    label_matrix,
    load_debtags,
    multilabel_loss,
    multilabel_metrics,
    predict_labels,
    saturation_demo,
    softmax_vs_sigmoid,
    tune_thresholds,
)


def _batch(seed=0, batch=4, seq=10, num_labels=6):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 99, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1:, 7:] = 0
    ids[mask == 0] = 0
    labels = (torch.rand(batch, num_labels, generator=g) < 0.4).float()
    return ids, mask, labels


# --------------------------------------------------------------------------------------------- HF equivalence
def test_matches_bert_for_sequence_classification_multilabel():
    seed_everything(0)
    cfg = tiny_bert_config(num_labels=6, problem_type="multi_label_classification")
    hf = BertForSequenceClassification(cfg).eval()
    ours = BertMultiLabelClassifier(tiny_bert_config(), num_labels=6).eval()
    ours.load_state_dict(hf.state_dict(), strict=True)          # same parameter names
    ids, mask, labels = _batch()
    with torch.no_grad():
        a = hf(input_ids=ids, attention_mask=mask, labels=labels)
        b = ours(ids, attention_mask=mask, labels=labels)
    assert (a.logits - b["logits"]).abs().max() <= 1e-5
    assert abs(float(a.loss) - float(b["loss"])) <= 1e-5


def test_mean_pooling_reads_the_masked_mean_of_the_last_hidden_states():
    seed_everything(0)
    model = BertMultiLabelClassifier(tiny_bert_config(), num_labels=6, pooling="mean").eval()
    ids, mask, labels = _batch()
    with torch.no_grad():
        got = model(ids, attention_mask=mask, labels=labels)
        h = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        want = model.classifier((h * m).sum(1) / m.sum(1))
    assert (got["logits"] - want).abs().max() <= 1e-6
    assert torch.isclose(got["loss"], F.binary_cross_entropy_with_logits(want, labels))
    with pytest.raises(ValueError, match="pooling"):
        BertMultiLabelClassifier(tiny_bert_config(), num_labels=6, pooling="max")


def test_bias_from_prior_starts_at_the_base_rates():
    model = BertMultiLabelClassifier(tiny_bert_config(), num_labels=3).eval()
    targets = torch.tensor([[1, 0, 0], [1, 0, 1], [0, 0, 0], [1, 0, 0]], dtype=torch.float32)
    prior = model.init_bias_from_prior(targets)
    assert torch.allclose(prior, torch.tensor([0.75, 1e-3, 0.25]))
    assert torch.allclose(torch.sigmoid(model.classifier.bias), prior, atol=1e-6)
    with pytest.raises(ValueError, match="multi-hot"):
        model.init_bias_from_prior(torch.ones(4, 5))


def test_pos_weight_matches_bce_with_logits():
    seed_everything(1)
    pw = torch.tensor([1.0, 2.0, 5.0, 0.5, 3.0, 1.5])
    m = BertMultiLabelClassifier(tiny_bert_config(), 6, pos_weight=pw).eval()
    ids, mask, labels = _batch(1)
    with torch.no_grad():
        out = m(ids, attention_mask=mask, labels=labels)
    want = nn.BCEWithLogitsLoss(pos_weight=pw)(out["logits"], labels)
    assert abs(float(out["loss"]) - float(want)) <= 1e-6


def test_repaired_tagger_equals_reference_classifier():
    seed_everything(2)
    tagger = DebtagsTagger(tiny_bert_config(), 4).eval()
    ref = BertMultiLabelClassifier(tiny_bert_config(), 4).eval()
    ref.load_state_dict(tagger.state_dict(), strict=True)
    ids, mask, labels = _batch(2, num_labels=4)
    with torch.no_grad():
        a, b = tagger(ids, attention_mask=mask, labels=labels), ref(ids, attention_mask=mask, labels=labels)
    assert torch.allclose(a["logits"], b["logits"], atol=1e-6) and abs(float(a["loss"] - b["loss"])) < 1e-6
    assert tagger(ids, attention_mask=mask)["loss"] is None


def test_buggy_source_is_really_broken():
    with pytest.raises(ImportError, match="BertForMultiLabelClassification"):
        exec(compile(BUGGY_TAGGER_SOURCE, "<buggy>", "exec"), {})


def test_encoder_without_pooler_rejected():
    with pytest.raises(ValueError, match="pooler"):
        BertMultiLabelClassifier(BertModel(tiny_bert_config(), add_pooling_layer=False), 3)


# --------------------------------------------------------------------------------------------- loss, prediction, thresholds
def test_loss_exact_on_extreme_logits():
    z = torch.tensor([[-500.0, -30.0, 0.0, 30.0, 500.0]])
    y = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]])
    want = F.binary_cross_entropy_with_logits(z, y)
    got = multilabel_loss(z, y)
    assert torch.isfinite(got) and abs(float(got - want)) < 1e-4
    pw = torch.tensor([2.0, 1.0, 3.0, 1.0, 0.5])
    assert abs(float(multilabel_loss(z, y, pw) - F.binary_cross_entropy_with_logits(z, y, pos_weight=pw))) < 1e-3


def test_predict_labels_global_and_per_label():
    z = torch.tensor([[0.0, 2.0, -2.0], [-0.1, 0.5, 3.0]])
    assert predict_labels(z).tolist() == [[True, True, False], [False, True, True]]
    thr = torch.tensor([0.4, 0.9, 0.99])
    assert predict_labels(z, thr).tolist() == [[True, False, False], [True, False, False]]
    assert predict_labels(z).dtype == torch.bool


def test_saturation_demo_shows_vanishing_gradient():
    rows = {r["logit"]: r for r in saturation_demo((0.0, 30.0, 120.0), target=0.0)}
    assert rows[30.0]["naive_grad"] == 0.0 and abs(rows[30.0]["stable_grad"] - 1.0) < 1e-6
    assert rows[30.0]["naive_loss"] == pytest.approx(100.0) and rows[30.0]["stable_loss"] == pytest.approx(30.0)
    assert rows[0.0]["naive_loss"] == pytest.approx(rows[0.0]["stable_loss"], rel=1e-6)
    half = {r["logit"]: r for r in saturation_demo((10.0,), target=0.0, dtype=torch.float16)}
    g = half[10.0]["naive_grad"]                    # float16 saturates much earlier: 0 or even NaN
    assert g == 0.0 or g != g
    assert abs(half[10.0]["stable_grad"] - 1.0) < 1e-3


def test_softmax_vs_sigmoid():
    out = softmax_vs_sigmoid(torch.tensor([[4.0, 4.0, -3.0]]))
    assert torch.allclose(out["softmax_row_sums"], torch.ones(1))
    assert (out["softmax"][0, :2] < 0.5).all() and (out["sigmoid"][0, :2] > 0.9).all()


def test_tune_thresholds_against_sklearn():
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(80, 4, generator=g) < 0.3).float()
    y[:, 3] = 0
    probs = torch.sigmoid(3 * (y - 0.5) + torch.randn(80, 4, generator=g))
    cand = torch.linspace(0.05, 0.95, 19)
    g_t, per_t = tune_thresholds(probs, y, cand)
    micro = [f1_score(y.numpy(), (probs >= t).numpy(), average="micro", zero_division=0) for t in cand]
    assert g_t == pytest.approx(float(cand[int(np.argmax(micro))]))
    for j in range(3):
        col = [f1_score(y[:, j].numpy(), (probs[:, j] >= t).numpy(), zero_division=0) for t in cand]
        assert float(per_t[j]) == pytest.approx(float(cand[int(np.argmax(col))]))
    assert float(per_t[3]) == pytest.approx(g_t)          # no positives: falls back to the global threshold
    assert per_t.dtype == cand.dtype and isinstance(g_t, float)


def test_metrics():
    yt = np.array([[1, 0, 1], [0, 1, 0]])
    yp = np.array([[1, 0, 0], [0, 1, 0]])
    m = multilabel_metrics(yt, yp)
    assert m["subset_accuracy"] == 0.5 and m["hamming_loss"] == pytest.approx(1 / 6)
    assert m["micro_precision"] == 1.0 and m["micro_recall"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------------------------- data
def test_debtags_data():
    records, meta = load_debtags()
    assert 3000 <= len(records) <= 12000
    labels = meta["labels"]
    assert len(labels) == len(set(labels)) >= 20
    assert set(meta["facets"]) >= {"interface", "implemented-in", "works-with", "use"}
    assert sum(len(v) for v in meta["facets"].values()) == len(labels)
    splits = {r["split"] for r in records}
    assert splits == {"train", "val", "test"}
    names = [r["package"] for r in records]
    assert len(names) == len(set(names))
    y = label_matrix(records, labels)
    assert (y.sum(1) >= 1).all()                    # every package carries at least one target tag
    assert (y[[r["split"] == "test" for r in records]].sum(0) > 0).all()
    assert max(len(r["text"]) for r in records) <= 200
    test_texts = {r["text"].split(": ", 1)[1] for r in records if r["split"] == "test"}
    train_texts = {r["text"].split(": ", 1)[1] for r in records if r["split"] == "train"}
    assert len(test_texts & train_texts) <= 0.01 * len(test_texts)
    assert "other" in meta["sections"]
    assert len(load_debtags("val")[0]) == sum(r["split"] == "val" for r in records)


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
])
def test_predict_checker_rejects(fn, msg):
    with pytest.raises(GradingError, match=msg):
        check_multilabel_loss_and_predict(fresh_copy(multilabel_loss), fn)


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


def _unguard(monkeypatch):
    """The wrong variants above call the reference on purpose; let the checker run them as if students wrote them."""
    import mtbert_ref.grading.core as checking
    monkeypatch.setattr(checking, "_is_reference", lambda fn, reference=None: False)


def test_tune_checker_accepts_reference():
    check_tune_thresholds(fresh_copy(tune_thresholds), hidden_tests=True)


@pytest.mark.parametrize("fn, msg", [
    (_tune_macro_global, "micro-F1"),
    (_tune_same_for_all, "on its own"),
    (_tune_no_fallback, "no positive example"),
    (_tune_swapped, "Python float"),
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
