"""mtbert_ref.pretraining: equivalence with transformers' BertForPreTraining, the collator, the loss checker."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import BertForPreTraining

from mtbert_ref import load_tokenizer, tiny_bert_config
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.nsp import make_nsp_pairs
from mtbert_ref.pretraining import (
    BertForPretrainingRef,
    PretrainingCollator,
    check_pretraining_loss,
    pretraining_loss,
)


def _hf_pretraining(seed=0, **cfg):
    torch.manual_seed(seed)
    hf = BertForPreTraining(tiny_bert_config(**cfg)).eval()
    with torch.no_grad():  # randomise every head weight (transformers starts the bias at 0, LayerNorm at 1/0)
        for name, p in hf.cls.named_parameters():
            p.normal_(0, 0.5)
    return hf


def _batch(vocab=99, batch=4, seq=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (batch, seq), generator=g)
    am = torch.ones_like(ids)
    am[1, seq - 3:] = 0
    ids = ids.masked_fill(am == 0, 0)
    tt = torch.zeros_like(ids)
    tt[:, seq // 2:] = 1
    tt = tt.masked_fill(am == 0, 0)
    chosen = (torch.rand(batch, seq, generator=g) < 0.3) & (am == 1)
    chosen[0, 2] = True
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    nsl = torch.tensor([0, 1, 1, 0][:batch])
    return ids, am, tt, labels, nsl


@pytest.mark.parametrize("cfg", [{}, {"hidden_size": 48, "num_attention_heads": 6, "num_hidden_layers": 1,
                                      "hidden_act": "relu"}])
def test_pretraining_model_equals_transformers(cfg):
    hf = _hf_pretraining(**cfg)
    ref = BertForPretrainingRef.from_hf(hf).eval()
    ids, am, tt, labels, nsl = _batch()
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels, next_sentence_label=nsl)
        got = ref(ids, attention_mask=am, token_type_ids=tt, labels=labels, next_sentence_label=nsl)
    assert (got["prediction_logits"] - want.prediction_logits).abs().max() <= 1e-5
    assert (got["seq_relationship_logits"] - want.seq_relationship_logits).abs().max() <= 1e-5
    assert (got["loss"] - want.loss).abs() <= 1e-5
    assert torch.isclose(got["mlm_loss"] + got["nsp_loss"], got["loss"])


def test_decoder_stays_tied_after_loading():
    ref = BertForPretrainingRef.from_hf(_hf_pretraining())
    assert ref.mlm.decoder.weight is ref.bert.embeddings.word_embeddings.weight


def test_no_loss_without_both_labels():
    hf = _hf_pretraining()
    ref = BertForPretrainingRef.from_hf(hf).eval()
    ids, am, tt, labels, nsl = _batch()
    out = ref(ids, attention_mask=am, token_type_ids=tt, labels=labels)
    assert "loss" not in out
    assert hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels).loss is None


def test_pretraining_loss_equals_transformers_loss_on_its_logits():
    hf = _hf_pretraining()
    ids, am, tt, labels, nsl = _batch()
    with torch.no_grad():
        out = hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels, next_sentence_label=nsl)
    got = pretraining_loss(out.prediction_logits, out.seq_relationship_logits, labels, nsl)
    assert (got - out.loss).abs() <= 1e-6
    # each term is a mean with its own denominator
    mlm = F.cross_entropy(out.prediction_logits[labels != -100], labels[labels != -100])
    nsp = F.cross_entropy(out.seq_relationship_logits, nsl)
    assert torch.isclose(got, mlm + nsp, atol=1e-6)


def test_pretraining_collator_on_real_pairs():
    tok = load_tokenizer()
    docs = [[tok("The fire crews were called in. It rained.", add_special_tokens=False)["input_ids"],
             tok("Roads were closed.", add_special_tokens=False)["input_ids"],
             tok("Nobody was hurt.", add_special_tokens=False)["input_ids"]],
            [tok("Shares rose on Wall Street today.", add_special_tokens=False)["input_ids"],
             tok("The dollar fell.", add_special_tokens=False)["input_ids"]]]
    pairs = make_nsp_pairs(docs, tok.cls_token_id, tok.sep_token_id, max_length=32, seed=0)
    batch = PretrainingCollator(tok, mlm_probability=0.5, seed=0)(pairs)
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels", "next_sentence_label"}
    assert batch["labels"].shape == batch["input_ids"].shape
    assert batch["next_sentence_label"].tolist() == [p["labels"] for p in pairs]
    special = torch.isin(batch["labels"], torch.tensor(tok.all_special_ids))
    assert not special.any()  # [CLS], [SEP], [PAD] never chosen
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()
    again = PretrainingCollator(tok, mlm_probability=0.5, seed=0)(pairs)
    assert torch.equal(again["input_ids"], batch["input_ids"])


# ------------------------------------------------------------------------------------------ checker
def test_check_pretraining_loss_accepts_the_reference():
    check_pretraining_loss(fresh_copy(pretraining_loss))
    check_pretraining_loss(fresh_copy(pretraining_loss), hidden_tests=True)


def test_check_pretraining_loss_rejects_the_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_pretraining_loss(pretraining_loss)


def _mlm(p, l):
    return F.cross_entropy(p.reshape(-1, p.shape[-1]), l.reshape(-1))


def averaged(p, s, l, n):
    return (_mlm(p, l) + F.cross_entropy(s, n)) / 2


def mlm_only(p, s, l, n):
    return _mlm(p, l)


def inverted(p, s, l, n):
    return _mlm(p, l) + F.cross_entropy(s, 1 - n)


def counts_ignored(p, s, l, n):
    return F.cross_entropy(p.reshape(-1, p.shape[-1]), l.reshape(-1).clamp(min=0)) + F.cross_entropy(s, n)


def divides_by_all(p, s, l, n):
    per = F.cross_entropy(p.reshape(-1, p.shape[-1]), l.reshape(-1), reduction="sum")
    return per / l.numel() + F.cross_entropy(s, n)


def sums(p, s, l, n):
    return F.cross_entropy(p.reshape(-1, p.shape[-1]), l.reshape(-1), reduction="sum") + \
        F.cross_entropy(s, n, reduction="sum")


def keeps_dim(p, s, l, n):
    return (_mlm(p, l) + F.cross_entropy(s, n)).reshape(1)


def casts_to_float32(p, s, l, n):
    return _mlm(p.float(), l) + F.cross_entropy(s.float(), n)


@pytest.mark.parametrize("bad,message", [
    (averaged, "averaged"),
    (mlm_only, "MLM loss alone"),
    (inverted, "inverted"),
    (counts_ignored, "-100 were counted"),
    (divides_by_all, "divided by all positions"),
    (sums, "summed"),
    (keeps_dim, "scalar"),
    (casts_to_float32, "dtype"),
])
def test_check_pretraining_loss_rejects_bugs(bad, message):
    with pytest.raises(GradingError, match=message):
        check_pretraining_loss(bad, hidden_tests=True)
