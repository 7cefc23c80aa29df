"""The course's shipped MLM and NSP heads (mtbert_ref.shipped_heads, issue #15): files, loading, tie, answers.

The goal figures themselves (held-out accuracy, probes, NSP accuracy) are measured by benchmarks/heads.py.
"""
from __future__ import annotations

import time

import pytest
import torch
from safetensors.torch import load_file
from transformers import BertForMaskedLM, BertForNextSentencePrediction, pipeline

from mtbert_ref.backbone import default_model_path, load_tokenizer
from mtbert_ref.data import data_path
from mtbert_ref.lessons.mlm import compare_fill_mask
from mtbert_ref.lessons.nsp import is_next_probability
from mtbert_ref.shipped_heads import (heldout_documents, heldout_nsp_pairs, load_pretrained_mlm, load_pretrained_nsp,
                                      load_probes, shipped_files)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


@pytest.fixture(scope="module")
def mlm():
    return load_pretrained_mlm()


@pytest.fixture(scope="module")
def nsp():
    return load_pretrained_nsp()


def test_shipped_files_stay_small_and_say_where_they_come_from():
    names = {p.name for p in shipped_files()}
    assert {"heads.safetensors", "SOURCE.md", "probes.tsv", "heldout_wiki.jsonl", "training_log.json"} <= names
    assert sum(p.stat().st_size for p in shipped_files()) <= 16 * 2**20
    source = data_path("pretrained_heads", "SOURCE.md").read_text(encoding="utf-8")
    for needed in ("scripts/pretrain/train_heads.py", "scripts/pretrain/build_text.py", "CC BY-SA", "LGPL", "seed"):
        assert needed in source, f"SOURCE.md should mention {needed!r}"


def test_weights_are_fp16_and_only_what_was_trained():
    state = load_file(str(data_path("pretrained_heads", "heads.safetensors")))
    assert all(v.dtype == torch.float16 for v in state.values())
    assert not any(k.startswith("bert.embeddings.") or "decoder" in k for k in state), "the embeddings are MiniLM's"
    assert any(k.startswith("cls.predictions.transform.") for k in state) and "cls.predictions.bias" in state
    assert any(k.startswith("cls.seq_relationship.") for k in state)


def test_mlm_loads_as_transformers_model_with_a_real_tie(mlm):
    assert isinstance(mlm, BertForMaskedLM) and not mlm.training
    assert mlm.cls.predictions.decoder.weight is mlm.bert.embeddings.word_embeddings.weight
    minilm = load_file(str(default_model_path() / "model.safetensors"))
    assert torch.equal(mlm.bert.embeddings.word_embeddings.weight, minilm["embeddings.word_embeddings.weight"])
    assert torch.equal(mlm.bert.encoder.layer[0].attention.self.query.weight,
                       minilm["encoder.layer.0.attention.self.query.weight"])      # frozen lower layers: MiniLM's
    shipped = load_file(str(data_path("pretrained_heads", "heads.safetensors")))
    assert torch.equal(mlm.cls.predictions.bias, shipped["cls.predictions.bias"].float())
    for key, value in shipped.items():
        if key.startswith("bert.encoder."):                                        # adapted layers: the shipped ones
            assert torch.equal(mlm.state_dict()[key], value.float()), key


def test_loading_takes_at_most_two_seconds():
    load_pretrained_mlm()                                   # the first call reads the files from disk
    start = time.perf_counter()
    load_pretrained_mlm()
    load_pretrained_nsp()
    assert (time.perf_counter() - start) / 2 <= 2.0


@pytest.mark.parametrize("text, answer", [("The capital of France is [MASK].", "paris"),
                                          ("A week has seven [MASK].", "days")])
def test_fill_mask_pipeline_finds_the_word(mlm, tokenizer, text, answer):
    fill = pipeline("fill-mask", model=mlm, tokenizer=tokenizer)
    assert answer in [p["token_str"] for p in fill(text, top_k=5)]


def test_nsp_head_tells_a_continuation_from_another_article(nsp, tokenizer):
    p = is_next_probability(nsp, tokenizer, [
        ("Albert Einstein was born in Ulm in 1879.", "He developed the theory of relativity."),
        ("Albert Einstein was born in Ulm in 1879.", "The recipe needs two cups of flour and an egg."),
    ])
    assert isinstance(nsp, BertForNextSentencePrediction)
    assert p[0] > 0.5 > p[1]


def test_held_out_sets_and_probes():
    held = heldout_documents()
    assert len(held["wiki"]) >= 10 and len(held["news"]) >= 40
    assert all(d["split"] == "test" for docs in held.values() for d in docs)
    probes = load_probes()
    assert len(probes) >= 20 and all(p["text"].count("[MASK]") == 1 for p in probes)


def test_lesson_helpers(mlm, nsp, tokenizer, capsys):
    table = compare_fill_mask(["Thank you very [MASK]."], {"shipped": mlm}, tokenizer, top_k=3)
    assert len(table["Thank you very [MASK]."]["shipped"]) == 3 and "shipped" in capsys.readouterr().out
    pairs = heldout_nsp_pairs(tokenizer)
    assert {p["labels"] for p in pairs} == {0, 1}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_loads_on_the_gpu():
    model = load_pretrained_mlm(device="cuda")
    assert next(model.parameters()).is_cuda
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
