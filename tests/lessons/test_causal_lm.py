"""mtbert_ref.lessons.causal_lm (notebook 02): greedy generation with BERT as a causal LM."""
from __future__ import annotations

import torch
from transformers import BertLMHeadModel

from mtbert_ref import tiny_bert_config
from mtbert_ref.lessons.causal_lm import greedy_generate
from mtbert_ref.modeling.causal_lm import MtBertForCausalLM


def _hf_clm():
    """A tiny transformers causal LM whose MLM head is random enough to matter (the one greedy decoding runs)."""
    torch.manual_seed(0)
    hf = BertLMHeadModel(tiny_bert_config(is_decoder=True)).eval()
    with torch.no_grad():
        for p in hf.cls.parameters():
            p.normal_(0, 0.5)
    return hf


def test_greedy_generate_equals_transformers_generate():
    hf = _hf_clm()
    ref = MtBertForCausalLM.from_hf(hf).eval()
    prompt = torch.tensor([[2, 17, 33, 41]])
    ours = greedy_generate(ref, prompt, max_new_tokens=6)
    theirs = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=6, do_sample=False,
                         pad_token_id=0)
    assert ours.tolist() == theirs.tolist()


def test_greedy_generate_stops_and_bans():
    ref = MtBertForCausalLM.from_hf(_hf_clm()).eval()
    prompt = torch.tensor([[2, 17, 33]])
    first = int(greedy_generate(ref, prompt, max_new_tokens=1)[0, -1])
    out = greedy_generate(ref, prompt, max_new_tokens=5, stop_id=first)
    assert out.shape[1] == 4
    out = greedy_generate(ref, prompt, max_new_tokens=5, banned_ids=[first])
    assert first not in out[0, 3:].tolist()
