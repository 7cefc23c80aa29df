"""mtbert_ref.modeling.nsp (notebook 02): equivalence with transformers' BertForNextSentencePrediction, the head,
the loss, the weight mapping."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import BertForNextSentencePrediction

from mtbert_ref import tiny_bert_config
from mtbert_ref.modeling.nsp import HF_RULES, MtBertForNextSentencePrediction, NSPHead, nsp_loss
from mtbert_ref.modeling.weights import rename_keys


def _hf_nsp(seed=0, **cfg):
    torch.manual_seed(seed)
    hf = BertForNextSentencePrediction(tiny_bert_config(**cfg)).eval()
    with torch.no_grad():  # transformers initialises the head small: make it count
        hf.cls.seq_relationship.weight.normal_()
        hf.cls.seq_relationship.bias.normal_()
    return hf


def _batch(vocab=99, batch=4, seq=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (batch, seq), generator=g)
    tt = torch.zeros_like(ids)
    tt[:, seq // 2:] = 1
    am = torch.ones_like(ids)
    am[1, seq - 3:] = 0
    am[2, seq - 1:] = 0
    ids = ids.masked_fill(am == 0, 0)
    tt = tt.masked_fill(am == 0, 0)
    labels = torch.tensor([0, 1, 1, 0][:batch])
    return ids, am, tt, labels


# ------------------------------------------------------------------------------------------ HF equivalence
@pytest.mark.parametrize("cfg", [{}, {"hidden_size": 48, "num_attention_heads": 6, "num_hidden_layers": 1}])
def test_bert_for_nsp_equals_transformers(cfg):
    hf = _hf_nsp(**cfg)
    ref = MtBertForNextSentencePrediction.from_hf(hf).eval()
    ids, am, tt, labels = _batch()
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels)
        got = ref(ids, attention_mask=am, token_type_ids=tt, labels=labels)
    assert (got["logits"] - want.logits).abs().max() <= 1e-5
    assert (got["loss"] - want.loss).abs() <= 1e-5
    assert got["logits"].shape == (4, 2)


def test_nsp_gradients_match_transformers():
    hf = _hf_nsp()
    ref = MtBertForNextSentencePrediction.from_hf(hf)
    ids, am, tt, labels = _batch()
    hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels).loss.backward()
    ref(ids, attention_mask=am, token_type_ids=tt, labels=labels)["loss"].backward()
    assert torch.allclose(ref.head.seq_relationship.weight.grad, hf.cls.seq_relationship.weight.grad, atol=1e-6)
    assert torch.allclose(ref.bert.pooler.dense.weight.grad, hf.bert.pooler.dense.weight.grad, atol=1e-6)


def test_key_map_covers_every_weight_and_rejects_unknown():
    hf = _hf_nsp()
    mapped = rename_keys(hf.state_dict(), HF_RULES)
    assert set(mapped) == set(MtBertForNextSentencePrediction(tiny_bert_config()).state_dict())
    with pytest.raises(KeyError, match="no mapping"):
        rename_keys({"cls.predictions.bias": torch.zeros(3)}, HF_RULES)


def test_nsp_head_shape_and_loss():
    cfg = tiny_bert_config()
    head = NSPHead(cfg)
    assert sum(p.numel() for p in head.parameters()) == 2 * (cfg.hidden_size + 1)
    pooled = torch.randn(5, cfg.hidden_size)
    logits = head(pooled)
    assert logits.shape == (5, 2)
    labels = torch.tensor([0, 1, 0, 1, 1])
    assert torch.isclose(nsp_loss(logits, labels), nn.CrossEntropyLoss()(logits, labels))


def test_encoder_without_pooler_is_rejected():
    from transformers import BertModel
    with pytest.raises(ValueError, match="pooler"):
        MtBertForNextSentencePrediction(encoder=BertModel(tiny_bert_config(), add_pooling_layer=False))


def test_head_cls_plugs_in_another_head():
    class ScaledHead(NSPHead):
        def forward(self, pooled_output):
            return 2 * super().forward(pooled_output)

    hf = _hf_nsp()
    ours = MtBertForNextSentencePrediction.from_hf(hf, head_cls=ScaledHead).eval()
    assert isinstance(ours.head, ScaledHead)
    ids, am, tt, _ = _batch()
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=am, token_type_ids=tt).logits
        assert torch.allclose(ours(ids, attention_mask=am, token_type_ids=tt).logits, 2 * want, atol=1e-5)
