"""Tests of mtbert_ref.modeling.multilabel (notebook 06): equal to BertForSequenceClassification (multi-label),
from_hf / to_hf, save → load with tokenizer and model card, pooling, pos_weight, the loss and the prediction."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertForSequenceClassification, BertModel
from transformers.modeling_outputs import SequenceClassifierOutput

from mtbert_ref import load_tokenizer, tiny_bert_config
from mtbert_ref.device import seed_everything
from mtbert_ref.modeling.multilabel import MtBertForMultiLabelClassification, multilabel_loss, predict_labels


def _batch(seed=0, batch=4, seq=10, num_labels=6):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 99, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1:, 7:] = 0
    ids[mask == 0] = 0
    labels = (torch.rand(batch, num_labels, generator=g) < 0.4).float()
    return ids, mask, labels


def _hf(seed=0, num_labels=6):
    seed_everything(seed)
    return BertForSequenceClassification(tiny_bert_config(num_labels=num_labels,
                                                          problem_type="multi_label_classification")).eval()


# --------------------------------------------------------------------------------------------- HF equivalence
def test_matches_bert_for_sequence_classification_multilabel():
    seed_everything(0)
    cfg = tiny_bert_config(num_labels=6, problem_type="multi_label_classification")
    hf = BertForSequenceClassification(cfg).eval()
    ours = MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=6).eval()
    ours.load_state_dict(hf.state_dict(), strict=True)          # same parameter names
    ids, mask, labels = _batch()
    with torch.no_grad():
        a = hf(input_ids=ids, attention_mask=mask, labels=labels)
        b = ours(ids, attention_mask=mask, labels=labels)
    assert (a.logits - b["logits"]).abs().max() <= 1e-5
    assert abs(float(a.loss) - float(b["loss"])) <= 1e-5


def test_is_a_course_model_with_the_multilabel_problem_type():
    model = MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=3).eval()
    assert model.config.problem_type == "multi_label_classification" and model.config.num_labels == 3
    ids, mask, labels = _batch(num_labels=3)
    with torch.no_grad():
        out = model(ids, attention_mask=mask, labels=labels)
        no_labels = model(ids, attention_mask=mask)
    assert isinstance(out, SequenceClassifierOutput) and out.logits.shape == (4, 3) and out.loss.dim() == 0
    assert no_labels.loss is None and torch.equal(no_labels.logits, out.logits)


def test_from_hf_equal_logits():
    hf = _hf(3)
    ours = MtBertForMultiLabelClassification.from_hf(hf).eval()
    assert isinstance(ours, MtBertForMultiLabelClassification) and ours.num_labels == 6
    ids, mask, labels = _batch(3)
    with torch.no_grad():
        a = hf(input_ids=ids, attention_mask=mask, labels=labels)
        b = ours(ids, attention_mask=mask, labels=labels)
    assert torch.equal(a.logits, b.logits)
    assert abs(float(a.loss) - float(b.loss)) <= 1e-6


def test_to_hf_equal_logits_and_loss():
    seed_everything(4)
    ours = MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=5).eval()
    with torch.no_grad():
        ours.classifier.bias.normal_()                          # a head that is not at its initial values
    hf = ours.to_hf()
    assert isinstance(hf, BertForSequenceClassification) and not hf.training
    assert hf.config.problem_type == "multi_label_classification"
    ids, mask, labels = _batch(4, num_labels=5)
    assert labels.dtype == torch.float32 and set(labels.unique().tolist()) <= {0.0, 1.0}
    with torch.no_grad():
        a = ours(ids, attention_mask=mask, labels=labels)
        b = hf(input_ids=ids, attention_mask=mask, labels=labels)
    assert torch.equal(a.logits, b.logits)
    assert abs(float(a.loss) - float(b.loss)) <= 1e-6
    assert abs(float(b.loss) - float(F.binary_cross_entropy_with_logits(a.logits, labels))) <= 1e-6


def test_to_hf_refuses_mean_pooling_and_warns_about_pos_weight():
    with pytest.raises(TypeError, match="pooling"):
        MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=3, pooling="mean").to_hf()
    model = MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=3, pos_weight=torch.tensor([1.0, 2.0, 3.0]))
    with pytest.warns(UserWarning, match="pos_weight"):
        hf = model.to_hf()
    ids, mask, _ = _batch(num_labels=3)
    with torch.no_grad():
        assert torch.equal(hf.eval()(input_ids=ids, attention_mask=mask).logits,
                           model.eval()(ids, attention_mask=mask).logits)


def test_save_pretrained_then_from_pretrained_identical_logits(tmp_path):
    seed_everything(5)
    model = MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=4).eval()
    model.save_pretrained(tmp_path)
    loaded = MtBertForMultiLabelClassification.from_pretrained(tmp_path).eval()
    ids, mask, labels = _batch(5, num_labels=4)
    with torch.no_grad():
        a = model(ids, attention_mask=mask, labels=labels)
        b = loaded(ids, attention_mask=mask, labels=labels)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.loss, b.loss)


def test_save_keeps_pooling_and_pos_weight(tmp_path):
    seed_everything(6)
    pw = torch.tensor([1.0, 4.0, 0.5])
    model = MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=3, pooling="mean", pos_weight=pw).eval()
    model.save_pretrained(tmp_path)
    loaded = MtBertForMultiLabelClassification.from_pretrained(tmp_path).eval()
    assert loaded.pooling == "mean" and torch.equal(loaded.pos_weight, pw)
    ids, mask, labels = _batch(6, num_labels=3)
    with torch.no_grad():
        a = model(ids, attention_mask=mask, labels=labels)
        b = loaded(ids, attention_mask=mask, labels=labels)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.loss, b.loss)


def test_save_writes_tokenizer_and_model_card_with_label_names(tmp_path):
    names = ["interface::commandline", "implemented-in::python", "works-with::audio"]
    model = MtBertForMultiLabelClassification(tiny_bert_config(), labels=names)
    assert model.num_labels == 3 and model.config.id2label == dict(enumerate(names))
    model.tokenizer = load_tokenizer()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer_config.json").exists()
    assert (tmp_path / "tokenizer.json").exists() or (tmp_path / "vocab.txt").exists()
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "MtBertForMultiLabelClassification" in card and "BertForSequenceClassification" in card
    assert all(name in card for name in names) and "multi_label_classification" in card
    loaded = MtBertForMultiLabelClassification.from_pretrained(tmp_path)
    assert loaded.config.id2label == dict(enumerate(names))
    with pytest.raises(ValueError, match="label names"):
        MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=2, labels=names)


def test_passed_in_encoder_weights_are_kept():
    seed_everything(7)
    enc = BertModel(tiny_bert_config(), add_pooling_layer=True)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    model = MtBertForMultiLabelClassification(enc, 3)
    assert all(torch.equal(v, model.bert.state_dict()[k]) for k, v in before.items())
    assert float(model.classifier.bias.detach().abs().max()) == 0.0     # transformers' init of a new head: bias 0


def test_mean_pooling_reads_the_masked_mean_of_the_last_hidden_states():
    seed_everything(0)
    model = MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=6, pooling="mean").eval()
    ids, mask, labels = _batch()
    with torch.no_grad():
        got = model(ids, attention_mask=mask, labels=labels)
        h = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        want = model.classifier((h * m).sum(1) / m.sum(1))
    assert (got["logits"] - want).abs().max() <= 1e-6
    assert torch.isclose(got["loss"], F.binary_cross_entropy_with_logits(want, labels))
    with pytest.raises(ValueError, match="pooling"):
        MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=6, pooling="max")


def test_bias_from_prior_starts_at_the_base_rates():
    model = MtBertForMultiLabelClassification(tiny_bert_config(), num_labels=3).eval()
    targets = torch.tensor([[1, 0, 0], [1, 0, 1], [0, 0, 0], [1, 0, 0]], dtype=torch.float32)
    prior = model.init_bias_from_prior(targets)
    assert torch.allclose(prior, torch.tensor([0.75, 1e-3, 0.25]))
    assert torch.allclose(torch.sigmoid(model.classifier.bias), prior, atol=1e-6)
    with pytest.raises(ValueError, match="multi-hot"):
        model.init_bias_from_prior(torch.ones(4, 5))


def test_pos_weight_matches_bce_with_logits():
    seed_everything(1)
    pw = torch.tensor([1.0, 2.0, 5.0, 0.5, 3.0, 1.5])
    m = MtBertForMultiLabelClassification(tiny_bert_config(), 6, pos_weight=pw).eval()
    ids, mask, labels = _batch(1)
    with torch.no_grad():
        out = m(ids, attention_mask=mask, labels=labels)
    want = nn.BCEWithLogitsLoss(pos_weight=pw)(out["logits"], labels)
    assert abs(float(out["loss"]) - float(want)) <= 1e-6


def test_encoder_without_pooler_rejected():
    with pytest.raises(ValueError, match="pooler"):
        MtBertForMultiLabelClassification(BertModel(tiny_bert_config(), add_pooling_layer=False), 3)


# --------------------------------------------------------------------------------------------- loss, prediction
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
