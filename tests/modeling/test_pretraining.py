"""mtbert_ref.modeling.pretraining (notebook 02): equivalence with transformers' BertForPreTraining and its loss;
and the three notebook-02 models (NSP, pretraining, causal LM) as CourseModels: from_hf / to_hf / save / reload."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import BertForNextSentencePrediction, BertForPreTraining, BertLMHeadModel

from mtbert_ref import load_tokenizer, tiny_bert_config
from mtbert_ref.modeling.causal_lm import MtBertForCausalLM
from mtbert_ref.modeling.nsp import MtBertForNextSentencePrediction
from mtbert_ref.modeling.pretraining import MtBertForPreTraining, pretraining_loss


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
    ref = MtBertForPreTraining.from_hf(hf).eval()
    ids, am, tt, labels, nsl = _batch()
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels, next_sentence_label=nsl)
        got = ref(ids, attention_mask=am, token_type_ids=tt, labels=labels, next_sentence_label=nsl)
    assert (got["prediction_logits"] - want.prediction_logits).abs().max() <= 1e-5
    assert (got["seq_relationship_logits"] - want.seq_relationship_logits).abs().max() <= 1e-5
    assert (got["loss"] - want.loss).abs() <= 1e-5
    assert torch.isclose(got["mlm_loss"] + got["nsp_loss"], got["loss"])


def test_decoder_stays_tied_after_loading():
    ref = MtBertForPreTraining.from_hf(_hf_pretraining())
    assert ref.head.decoder.weight is ref.bert.embeddings.word_embeddings.weight


def test_no_loss_without_both_labels():
    hf = _hf_pretraining()
    ref = MtBertForPreTraining.from_hf(hf).eval()
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


# ------------------------------------------------------------------------------------------ as CourseModels
MODELS = [(MtBertForNextSentencePrediction, BertForNextSentencePrediction, {}, "logits"),
          (MtBertForPreTraining, BertForPreTraining, {}, "prediction_logits"),
          (MtBertForCausalLM, BertLMHeadModel, {"is_decoder": True}, "logits")]
IDS = [m[0].__name__ for m in MODELS]


def _hf_model(hf_cls, cfg):
    torch.manual_seed(0)
    hf = hf_cls(tiny_bert_config(**cfg)).eval()
    with torch.no_grad():  # random heads that count (transformers starts the biases at 0, LayerNorm at 1/0)
        for p in hf.cls.parameters():
            p.normal_(0, 0.5)
    return hf


def _logits(model, key, ids, am):
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=am)
        return out[key], (out["seq_relationship_logits"] if key == "prediction_logits" else None)


@pytest.mark.parametrize("cls,hf_cls,cfg,key", MODELS, ids=IDS)
def test_from_hf_and_to_hf_give_transformers_logits(cls, hf_cls, cfg, key):
    hf = _hf_model(hf_cls, cfg)
    ids, am, *_ = _batch()
    want = _logits(hf, key, ids, am)
    ours = cls.from_hf(hf).eval()
    back = ours.to_hf().eval()
    assert type(back) is hf_cls and back.config.is_decoder == bool(cfg.get("is_decoder"))
    for got in (_logits(ours, key, ids, am), _logits(back, key, ids, am)):
        assert (got[0] - want[0]).abs().max() <= 1e-5
        if want[1] is not None:
            assert (got[1] - want[1]).abs().max() <= 1e-5


@pytest.mark.parametrize("cls,hf_cls,cfg,key", MODELS, ids=IDS)
def test_save_and_reload_give_identical_logits_and_the_tokenizer(cls, hf_cls, cfg, key, tmp_path):
    ours = cls.from_hf(_hf_model(hf_cls, cfg)).eval()
    ours.tokenizer = load_tokenizer()
    ours.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors", "README.md", "tokenizer.json", "tokenizer_config.json"} \
        <= {p.name for p in tmp_path.iterdir()}
    card = (tmp_path / "README.md").read_text()
    assert cls.__name__ in card and hf_cls.__name__ in card
    again = cls.from_pretrained(tmp_path).eval()
    ids, am, *_ = _batch()
    want, got = _logits(ours, key, ids, am), _logits(again, key, ids, am)
    assert torch.equal(got[0], want[0])
    if want[1] is not None:
        assert torch.equal(got[1], want[1])
    if hasattr(again.head, "decoder"):
        assert again.head.decoder.weight is again.bert.embeddings.word_embeddings.weight
    assert type(again.bert).__name__ == "BertModel"


@pytest.mark.parametrize("cls", [MtBertForNextSentencePrediction, MtBertForPreTraining, MtBertForCausalLM], ids=IDS)
def test_a_given_encoder_is_shared_and_not_reinitialised(cls):
    from transformers import BertModel
    torch.manual_seed(0)
    encoder = BertModel(tiny_bert_config())
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    model = cls(encoder=encoder)
    assert model.bert is encoder
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())
    with pytest.raises(ValueError, match="BertConfig or a BertModel"):
        cls()
