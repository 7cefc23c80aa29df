"""Tests of mtbert_ref.modeling.multiple_choice (notebook 04): equal to BertForMultipleChoice, weight mapping;
MtBertForMultipleChoice as a CourseModel (from_hf, to_hf, save_pretrained / from_pretrained, tokenizer and card)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import BertForMultipleChoice, BertModel

from mtbert_ref.backbone import load_tokenizer, tiny_bert_config
from mtbert_ref.grading.core import fresh_copy
from mtbert_ref.modeling.base import CourseModel
from mtbert_ref.modeling.multiple_choice import (
    HF_RULES,
    MtBertForMultipleChoice,
    multiple_choice_logits,
)
from mtbert_ref.modeling.weights import rename_keys
from modeling.test_mlm import check_course_model  # noqa: E402  (the checks every course model passes)


# --------------------------------------------------------------------------------------------- HF equivalence
def _pair(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    cfg = tiny_bert_config(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    hf = BertForMultipleChoice(cfg).eval()
    ours = MtBertForMultipleChoice.from_hf(hf).eval()
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(1, 99, (3, 4, 10), generator=g)
    mask = torch.ones_like(ids)
    mask[0, 1, 6:] = 0
    mask[2, 3, 3:] = 0
    ids = ids * mask
    types = torch.zeros_like(ids)
    types[..., 5:] = 1
    labels = torch.tensor([2, 0, 3])
    return hf, ours, dict(input_ids=ids, attention_mask=mask, token_type_ids=types), labels


def test_equal_to_transformers():
    hf, ours, inputs, labels = _pair()
    with torch.no_grad():
        want = hf(**inputs, labels=labels)
        got = ours(**inputs, labels=labels)
    assert got.logits.shape == (3, 4)
    assert (got.logits - want.logits).abs().max() <= 1e-5
    assert abs(float(got.loss) - float(want.loss)) <= 1e-5
    assert abs(float(got.loss) - float(F.cross_entropy(want.logits, labels))) <= 1e-6


def test_key_map_complete_and_gradients_match():
    hf, ours, inputs, labels = _pair(seed=4)
    mapping = {k: next(iter(rename_keys({k: v}, HF_RULES))) for k, v in hf.state_dict().items()}
    assert set(mapping.values()) == set(ours.state_dict())
    assert mapping["classifier.weight"] == "head.classifier.weight"
    hf(**inputs, labels=labels).loss.backward()
    ours(**inputs, labels=labels).loss.backward()
    hf_params = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        q = hf_params[name.replace("head.", "", 1)]
        assert (p.grad - q.grad).abs().max() <= 1e-5, name


def test_train_mode_dropout_matches_transformers():
    hf, ours, inputs, labels = _pair(seed=2, dropout=0.2)
    hf.train()
    ours.train()
    torch.manual_seed(9)
    a = hf(**inputs).logits
    torch.manual_seed(9)
    b = ours(**inputs).logits
    assert (a - b).abs().max() <= 1e-5


def test_student_logits_fn_plugs_in():
    hf, ours, inputs, labels = _pair(seed=6)
    ours.logits_fn = fresh_copy(multiple_choice_logits)
    with torch.no_grad():
        assert (ours(**inputs).logits - hf(**inputs).logits).abs().max() <= 1e-5


def test_any_number_of_choices_and_missing_optional_inputs():
    hf, ours, inputs, _ = _pair(seed=8)
    for c in (1, 2, 7):
        ids = torch.randint(1, 99, (2, c, 6))
        with torch.no_grad():
            assert (ours(input_ids=ids).logits - hf(input_ids=ids).logits).abs().max() <= 1e-5




def test_forward_rejects_2d_input_ids():
    hf, ours, inputs, labels = _pair(seed=10)
    with pytest.raises(ValueError, match=r"\(batch, num_choices, seq_len\)"):
        ours(input_ids=inputs["input_ids"][:, 0])


def test_passed_in_encoder_weights_are_kept():
    torch.manual_seed(0)
    enc = BertModel(tiny_bert_config(), add_pooling_layer=True)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    model = MtBertForMultipleChoice.from_encoder(enc)
    assert all(torch.equal(v, model.bert.state_dict()[k]) for k, v in before.items())


# --------------------------------------------------------------------------------------------- CourseModel
def test_course_model_roundtrip_with_tokenizer(tmp_path):
    """from_hf / to_hf / save_pretrained → from_pretrained (check_course_model); logits_fn is not in the config, so
    the reloaded model uses the reference function unless it is passed again."""
    tok = load_tokenizer()
    torch.manual_seed(3)
    hf = BertForMultipleChoice(tiny_bert_config(vocab_size=len(tok)))
    student = fresh_copy(multiple_choice_logits)
    ours = MtBertForMultipleChoice.from_hf(hf, logits_fn=student)
    assert isinstance(ours, CourseModel) and MtBertForMultipleChoice.hf_class is BertForMultipleChoice
    assert ours.logits_fn is student
    enc = tok(["Which animal barks?"] * 3, ["a dog", "a cat", "a fish"], padding=True, return_tensors="pt")
    inputs = {k: v.unsqueeze(0) for k, v in enc.items()}             # (1 question, 3 choices, length)
    reloaded = check_course_model(ours, hf, inputs, lambda out: out.logits, tmp_path, tok)
    assert reloaded.logits_fn is multiple_choice_logits
    again = MtBertForMultipleChoice.from_pretrained(tmp_path, logits_fn=student).eval()
    assert again.logits_fn is student
    with torch.no_grad():
        assert torch.equal(again(**inputs).logits, reloaded(**inputs).logits)


def test_from_encoder_without_pooler_is_rejected():
    with pytest.raises(ValueError, match="pooler"):
        MtBertForMultipleChoice.from_encoder(BertModel(tiny_bert_config(), add_pooling_layer=False))
