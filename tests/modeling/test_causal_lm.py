"""mtbert_ref.modeling.causal_lm (notebook 02): equivalence with transformers' BertLMHeadModel, the mask, the label
shift, the loss."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import BertLMHeadModel

from mtbert_ref import tiny_bert_config
from mtbert_ref.modeling.causal_lm import (
    MtBertForCausalLM,
    causal_attention_mask,
    causal_lm_labels,
    causal_lm_loss,
    shift_labels,
)


def _hf_clm(seed=0, **cfg):
    torch.manual_seed(seed)
    hf = BertLMHeadModel(tiny_bert_config(is_decoder=True, **cfg)).eval()
    with torch.no_grad():
        for p in hf.cls.parameters():
            p.normal_(0, 0.5)
    return hf


def _ids(batch=3, seq=9, vocab=99, seed=1, left=False):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (batch, seq), generator=g)
    am = torch.ones_like(ids)
    am[1, seq - 4:] = 0
    am[2, seq - 1:] = 0
    if left:
        am = am.flip(1)
    return ids.masked_fill(am == 0, 0), am


@pytest.mark.parametrize("cfg", [{}, {"hidden_size": 48, "num_attention_heads": 6, "num_hidden_layers": 3}])
def test_causal_lm_equals_transformers_right_padding(cfg):
    hf = _hf_clm(**cfg)
    ref = MtBertForCausalLM.from_hf(hf).eval()
    ids, am = _ids()
    labels = causal_lm_labels(ids, am)
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=am, labels=labels)
        got = ref(ids, attention_mask=am, labels=labels)
    assert (got["logits"] - want.logits).abs().max() <= 1e-5
    assert (got["loss"] - want.loss).abs() <= 1e-5


def test_causal_lm_equals_transformers_left_padding_at_real_tokens():
    hf = _hf_clm()
    ref = MtBertForCausalLM.from_hf(hf).eval()
    ids, am = _ids(left=True)
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=am).logits
        got = ref(ids, attention_mask=am)["logits"]
    assert torch.isfinite(got).all()
    real = am.bool()
    assert (got[real] - want[real]).abs().max() <= 1e-5


def test_eager_attention_gives_the_same_result():
    hf = _hf_clm()
    ref = MtBertForCausalLM.from_hf(hf).eval()
    ref.bert.config._attn_implementation = "eager"
    ids, am = _ids()
    with torch.no_grad():
        assert (ref(ids, attention_mask=am)["logits"] - hf(input_ids=ids, attention_mask=am).logits).abs().max() \
            <= 1e-5


def test_the_future_does_not_leak():
    ref = MtBertForCausalLM.from_hf(_hf_clm()).eval()
    ids, am = _ids()
    ids = ids[:1]
    changed = ids.clone()
    changed[0, 6:] = (changed[0, 6:] + 7) % 99
    with torch.no_grad():
        a = ref(ids)["logits"]
        b = ref(changed)["logits"]
        c = ref(changed, causal=False)["logits"]
        d = ref(ids, causal=False)["logits"]
    assert torch.allclose(a[0, :6], b[0, :6], atol=1e-6)      # causal: earlier positions unaffected
    assert not torch.allclose(c[0, :6], d[0, :6], atol=1e-3)  # bidirectional: they see the change


def test_causal_attention_mask_small_example():
    am = torch.tensor([[1, 1, 1], [1, 1, 0]])
    m = causal_attention_mask(am)
    assert m.shape == (2, 1, 3, 3) and m.dtype == torch.float32
    low = torch.finfo(torch.float32).min
    allowed = m == 0
    assert allowed[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert allowed[1, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    assert set(m.unique().tolist()) == {0.0, low}
    assert causal_attention_mask(am.bool(), torch.float16).dtype == torch.float16


def test_shift_labels_and_loss_match_transformers_loss_function():
    labels = torch.tensor([[5, 6, 7, -100], [8, 9, 10, 11]])
    assert shift_labels(labels).tolist() == [[6, 7, -100, -100], [9, 10, 11, -100]]
    logits = torch.randn(2, 4, 13)
    from transformers.loss.loss_utils import ForCausalLMLoss
    assert torch.isclose(causal_lm_loss(logits, labels), ForCausalLMLoss(logits, labels, vocab_size=13))
    manual = F.cross_entropy(logits[:, :-1].reshape(-1, 13), labels[:, 1:].reshape(-1))
    assert torch.isclose(causal_lm_loss(logits, labels), manual)
