import pytest
import torch
from transformers import BertForMaskedLM, BertModel

from mtbert_ref.backbone import (BackboneNotFoundError, default_model_path, load_encoder, load_tokenizer,
                                 model_has_trained_head, resolve_model, tiny_bert_config)


def test_default_resolves_to_packaged_folder(monkeypatch):
    monkeypatch.delenv("MTBERT_MODEL", raising=False)
    src, what = resolve_model(None)
    assert src == str(default_model_path())
    assert (default_model_path() / "model.safetensors").exists()
    assert "embedded" in what
    for alias in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "default"):
        assert resolve_model(alias)[0] == src


def test_env_var_chooses_model(monkeypatch, tmp_path):
    cfg = tiny_bert_config()
    BertModel(cfg).save_pretrained(tmp_path)
    monkeypatch.setenv("MTBERT_MODEL", str(tmp_path))
    assert resolve_model(None) == (str(tmp_path), f"local folder {tmp_path}")
    model = load_encoder()
    assert model.config.hidden_size == 32


def test_local_folder_round_trip(tmp_path):
    torch.manual_seed(0)
    model = BertModel(tiny_bert_config())
    model.save_pretrained(tmp_path)
    again = load_encoder(str(tmp_path))
    ids = torch.randint(1, 99, (2, 7))
    model.eval(), again.eval()
    assert torch.equal(model(ids).last_hidden_state, again(ids).last_hidden_state)


def test_unreachable_name_says_what_was_tried(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneNotFoundError) as err:
        load_encoder("no-such-org/no-such-bert-model")
    msg = str(err.value)
    assert "no-such-org/no-such-bert-model" in msg
    assert "local folder" in msg and "cache" in msg
    assert "MTBERT_MODEL" in msg and "all-MiniLM-L6-v2" in msg
    with pytest.raises(BackboneNotFoundError):
        load_tokenizer("no-such-org/no-such-bert-model")


@pytest.mark.realmodel
def test_packaged_minilm_loads_and_runs():
    tok = load_tokenizer()
    model = load_encoder().eval()
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    batch = tok(["hello world", "a second, longer sentence"], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    assert out.last_hidden_state.shape == (2, batch["input_ids"].shape[1], 384)
    assert torch.isfinite(out.pooler_output).all()
    assert model.mtbert_source.startswith("all-MiniLM-L6-v2")


@pytest.mark.realmodel
def test_packaged_minilm_has_no_pretraining_heads():
    assert not model_has_trained_head(None, "cls.predictions")
    assert not model_has_trained_head(None, "cls.seq_relationship")
    assert model_has_trained_head(None, "embeddings.word_embeddings") or \
        model_has_trained_head(None, "bert.embeddings.word_embeddings")


@pytest.mark.realmodel
def test_task_class_on_packaged_encoder_gets_encoder_weights():
    enc = load_encoder()
    mlm = load_encoder(model_cls=BertForMaskedLM)
    assert torch.equal(mlm.bert.embeddings.word_embeddings.weight, enc.embeddings.word_embeddings.weight)
    assert mlm.cls.predictions.decoder.weight is mlm.bert.embeddings.word_embeddings.weight


def test_tiny_config_is_deterministic():
    cfg = tiny_bert_config(num_labels=5)
    assert cfg.hidden_dropout_prob == 0 and cfg.attention_probs_dropout_prob == 0
    assert cfg.num_labels == 5 and cfg.hidden_size == 32
