"""Tests of mtbert_ref.modeling.mlm: equivalence with transformers' BertForMaskedLM, the weight mapping, masking
statistics against DataCollatorForLanguageModeling, mlm_loss edge cases; MtBertForMaskedLM as a CourseModel (from_hf, to_hf,
save_pretrained / from_pretrained with the tie kept, tokenizer and model card, the fill-mask pipeline).
:func:`check_course_model` is shared with the QA and multiple-choice tests."""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoTokenizer, BertForMaskedLM, BertTokenizer, DataCollatorForLanguageModeling, pipeline

from mtbert_ref import load_tokenizer, tiny_bert_config
from mtbert_ref.modeling.base import CourseModel
from mtbert_ref.modeling.mlm import HF_RULES, HF_SKIP, IGNORE_INDEX, MtBertForMaskedLM, MLMHead, mask_tokens, mlm_loss
from mtbert_ref.modeling.weights import rename_keys


# ------------------------------------------------------------------------------------------ fixtures
def _hf_model(seed=0, **overrides):
    torch.manual_seed(seed)
    hf = BertForMaskedLM(tiny_bert_config(**overrides)).eval()
    with torch.no_grad():  # make the head's parameters non-trivial (the bias starts at 0, LayerNorm at 1/0)
        hf.cls.predictions.bias.normal_()
        hf.cls.predictions.transform.LayerNorm.weight.normal_(1.0, 0.2)
        hf.cls.predictions.transform.LayerNorm.bias.normal_()
    return hf


def _batch(seed=0, batch=3, seq=12, vocab=99):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, seq), generator=g)
    attn = torch.ones_like(ids)
    attn[1, 8:] = 0
    ids[1, 8:] = 0
    labels = torch.where(torch.rand(batch, seq, generator=g) < 0.3, ids, torch.full_like(ids, IGNORE_INDEX))
    labels[1, 8:] = IGNORE_INDEX
    labels[0, 2] = ids[0, 2]
    return ids, attn, labels


@pytest.fixture(scope="module")
def tokenizer():
    """A tiny WordPiece tokenizer written on the fly (no hub, no download)."""
    words = ["the", "fire", "crews", "have", "been", "called", "to", "a", "new", "near", "sydney", "said", "police",
             "rain", "has", "fallen", "in", "some", "parts", "of", "state", "."]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


# ------------------------------------------------------------------------------------------ equivalence
@pytest.mark.parametrize("overrides", [{}, {"hidden_act": "relu", "layer_norm_eps": 1e-7}])
def test_bertmlm_equals_transformers(overrides):
    hf = _hf_model(**overrides)
    ours = MtBertForMaskedLM.from_hf(hf).eval()
    ids, attn, labels = _batch()
    tt = torch.zeros_like(ids)
    tt[:, 6:] = 1
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=attn, token_type_ids=tt, labels=labels)
        got = ours(input_ids=ids, attention_mask=attn, token_type_ids=tt, labels=labels)
    assert got.logits.shape == want.logits.shape == (3, 12, 99)
    assert (got.logits - want.logits).abs().max().item() <= 1e-5
    assert abs(got.loss.item() - want.loss.item()) <= 1e-5


def test_masked_positions_give_the_same_rows_and_loss():
    hf = _hf_model(1)
    ours = MtBertForMaskedLM.from_hf(hf).eval()
    ids, attn, labels = _batch(1)
    positions = labels != IGNORE_INDEX
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=attn, labels=labels)
        got = ours(input_ids=ids, attention_mask=attn, labels=labels, masked_positions=positions)
    assert got.logits.shape == (int(positions.sum()), 99)
    assert (got.logits - want.logits[positions]).abs().max().item() <= 1e-5
    assert abs(got.loss.item() - want.loss.item()) <= 1e-5
    ours.only_masked = True
    with torch.no_grad():
        again = ours(input_ids=ids, attention_mask=attn, labels=labels)
    assert torch.equal(again.logits, got.logits)


def test_decoder_is_tied_after_loading_and_gradients_reach_the_embedding():
    ours = MtBertForMaskedLM.from_hf(_hf_model(2))
    emb = ours.bert.embeddings.word_embeddings.weight
    assert ours.head.decoder.weight is emb
    assert ours.head.decoder.bias is None
    assert sum(p is emb for p in ours.parameters()) == 1          # counted once
    ids, attn, labels = _batch(2)
    ours(input_ids=ids, attention_mask=attn, labels=labels).loss.backward()
    # rows of never-seen tokens still get a gradient through the decoder (the softmax touches every word)
    unseen = sorted(set(range(99)) - set(ids.flatten().tolist()))
    assert emb.grad[unseen].abs().sum() > 0


def test_key_mapping():
    def key(k):
        out = rename_keys({k: torch.zeros(1)}, HF_RULES, HF_SKIP)
        return next(iter(out), None)
    assert key("bert.encoder.layer.0.output.dense.weight") == "bert.encoder.layer.0.output.dense.weight"
    assert key("cls.predictions.transform.LayerNorm.bias") == "head.transform.LayerNorm.bias"
    assert key("cls.predictions.bias") == "head.bias"
    assert key("cls.predictions.decoder.weight") == "head.decoder.weight"
    assert key("cls.predictions.decoder.bias") is None
    assert key("bert.pooler.dense.weight") is None
    assert key("cls.seq_relationship.weight") is None


def test_head_rejects_mismatched_embedding():
    with pytest.raises(ValueError, match="vocab_size, hidden_size"):
        MLMHead(tiny_bert_config(), nn.Embedding(50, 32))


# ------------------------------------------------------------------------------------------ mask_tokens
def _special_batch(batch=256, seq=64, vocab=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, seq), generator=g)
    lengths = torch.randint(seq // 2, seq + 1, (batch,), generator=g)
    pos = torch.arange(seq)[None, :]
    ids[:, 0] = 2
    ids[pos == lengths[:, None] - 1] = 3
    ids[pos >= lengths[:, None]] = 0
    special = (pos == 0) | (pos >= lengths[:, None] - 1)
    return ids, special


def _rates(ids, special, masked, labels, mask_id):
    chosen = labels != IGNORE_INDEX
    n = int(chosen.sum())
    return {"chosen": n / int((~special).sum()),
            "mask": int((chosen & (masked == mask_id)).sum()) / n,
            "same": int((chosen & (masked == ids)).sum()) / n,
            "random": int((chosen & (masked != mask_id) & (masked != ids)).sum()) / n}


def test_mask_tokens_statistics_match_transformers_collator(tokenizer):
    """Both implementations draw from the same distribution: rates agree within a few standard deviations."""
    vocab = len(tokenizer)
    ids, special = _special_batch(vocab=vocab)
    ids = torch.where(ids >= vocab, ids % (vocab - 5) + 5, ids)
    ids[special & (ids != 0) & (ids != 2) & (ids != 3)] = 3
    mask_id = tokenizer.mask_token_id
    ours = _rates(ids, special, *mask_tokens(ids, special, mask_id, vocab, generator=torch.Generator().manual_seed(0)),
                  mask_id)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=0)
    theirs_in = ids.clone()
    theirs = _rates(ids, special, *collator.torch_mask_tokens(theirs_in, special_tokens_mask=special.long()), mask_id)
    n_eligible = int((~special).sum())
    n_chosen = ours["chosen"] * n_eligible
    # 5 standard deviations of the difference of two independent proportions
    for key, p, n in [("chosen", 0.15, n_eligible), ("mask", 0.8, n_chosen), ("random", 0.1, n_chosen)]:
        sd = (2 * p * (1 - p) / n) ** 0.5
        assert abs(ours[key] - theirs[key]) < 5 * sd + 0.002, (key, ours, theirs)
    assert abs(ours["chosen"] - 0.15) < 0.01 and abs(ours["mask"] - 0.8) < 0.03
    # tiny vocabulary: a random replacement often equals the original token, so "same" is about 0.1 + 0.1 / vocab
    assert abs(ours["same"] - (0.1 + 0.1 / vocab)) < 0.03


def test_mask_tokens_edge_cases():
    ids, special = _special_batch(batch=8, seq=20)
    before = ids.clone()
    masked, labels = mask_tokens(ids, special, 4, 1000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(ids, before)
    assert masked.dtype == labels.dtype == torch.long
    assert not bool((labels[special] != IGNORE_INDEX).any())
    m1, l1 = mask_tokens(ids, special, 4, 1000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(m1, masked) and torch.equal(l1, labels)
    m0, l0 = mask_tokens(ids, special, 4, 1000, mlm_probability=0.0)
    assert torch.equal(m0, ids) and bool((l0 == IGNORE_INDEX).all())
    mall, lall = mask_tokens(ids, special, 4, 1000, mlm_probability=1.0, generator=torch.Generator().manual_seed(1),
                             mask_replace_prob=1.0, random_replace_prob=0.0)
    assert bool((mall[~special] == 4).all()) and torch.equal(lall[~special], ids[~special])
    # an int 0/1 special_tokens_mask works like a bool one
    m2, _ = mask_tokens(ids, special.long(), 4, 1000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(m2, masked)


# ------------------------------------------------------------------------------------------ mlm_loss
def test_mlm_loss_layouts_and_empty():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 11, generator=g)
    labels = torch.full((2, 5), IGNORE_INDEX)
    labels[0, 1], labels[1, 3], labels[1, 4] = 3, 7, 0
    full = mlm_loss(logits, labels)
    want = F.cross_entropy(logits.reshape(-1, 11), labels.reshape(-1), ignore_index=IGNORE_INDEX)
    assert torch.allclose(full, want)
    sel = labels != IGNORE_INDEX
    assert torch.allclose(mlm_loss(logits[sel], labels), want)
    assert torch.allclose(mlm_loss(logits[sel], labels[sel]), want)
    empty = mlm_loss(logits.requires_grad_(True), torch.full((2, 5), IGNORE_INDEX))
    assert empty.item() == 0.0 and empty.requires_grad
    with pytest.raises(ValueError, match="masked_positions"):
        mlm_loss(logits[sel][:2], labels)


# ------------------------------------------------------------------------------------------ CourseModel
@pytest.fixture(scope="module")
def real_tokenizer():
    """The embedded offline tokenizer (the MiniLM vocabulary)."""
    return load_tokenizer()


def check_course_model(ours, hf, inputs, logits_of, folder, tok):
    """The checks every course model passes: from_hf == transformers, to_hf() == course model, save_pretrained →
    from_pretrained gives identical logits, and the folder holds the tokenizer and the model card.

    ``logits_of(output)`` picks the tensor to compare. Returns the reloaded model.
    """
    hf.eval()
    ours.eval()
    with torch.no_grad():
        want = logits_of(hf(**inputs))
        got = logits_of(ours(**inputs))
        assert (got - want).abs().max().item() <= 1e-5
        back = ours.to_hf()
        assert type(back) is type(hf) and not back.training
        assert (logits_of(back(**inputs)) - got).abs().max().item() <= 1e-6
        ours.tokenizer = tok
        ours.save_pretrained(folder)
        reloaded = type(ours).from_pretrained(folder).eval()
        assert type(reloaded) is type(ours)
        assert torch.equal(logits_of(reloaded(**inputs)), got)
    files = set(os.listdir(folder))
    assert {"config.json", "model.safetensors", "tokenizer_config.json", "README.md"} <= files, files
    assert "tokenizer.json" in files or "vocab.txt" in files, files
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert type(ours).__name__ in card and type(hf).__name__ in card
    assert AutoTokenizer.from_pretrained(folder)("a test")["input_ids"] == tok("a test")["input_ids"]
    return reloaded


def _mlm_pair(tok, seed=0):
    hf = _hf_model(seed, vocab_size=len(tok))
    return hf, MtBertForMaskedLM.from_hf(hf)


def test_bertmlm_course_model_roundtrip_keeps_the_tie(real_tokenizer, tmp_path):
    tok = real_tokenizer
    hf, ours = _mlm_pair(tok)
    assert isinstance(ours, CourseModel) and MtBertForMaskedLM.hf_class is BertForMaskedLM
    inputs = dict(tok(["the fire crews have been called.", "rain has fallen in some parts"], padding=True,
                      return_tensors="pt"))
    reloaded = check_course_model(ours, hf, inputs, lambda out: out.logits, tmp_path, tok)
    emb = reloaded.bert.embeddings.word_embeddings.weight
    assert reloaded.head.decoder.weight is emb and sum(p is emb for p in reloaded.parameters()) == 1
    assert isinstance(reloaded.head, MLMHead) and reloaded.only_masked is False
    back = ours.to_hf()
    assert back.cls.predictions.decoder.weight is back.bert.embeddings.word_embeddings.weight


def test_fill_mask_pipeline_agrees_with_the_course_model(real_tokenizer, tmp_path):
    """pipeline("fill-mask") on to_hf() + tokenizer, on a folder written by to_hf().save_pretrained, and on the
    course model's own saved folder (a BertForMaskedLM checkpoint) gives the course model's top tokens at [MASK]."""
    tok = real_tokenizer
    _, ours = _mlm_pair(tok, seed=3)
    ours.eval()
    text = f"the fire {tok.mask_token} have been called to a new fire near sydney."
    enc = tok(text, return_tensors="pt")
    pos = int((enc["input_ids"][0] == tok.mask_token_id).nonzero()[0, 0])
    with torch.no_grad():
        want = ours(**enc).logits[0, pos].topk(5).indices.tolist()
    hf = ours.to_hf().eval()
    got = [r["token"] for r in pipeline("fill-mask", model=hf, tokenizer=tok)(text, top_k=5)]
    assert got[0] == want[0] and got == want
    hf.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    from_folder = [r["token"] for r in pipeline("fill-mask", model=str(tmp_path))(text, top_k=5)]
    assert from_folder == want
    ours.save_pretrained(tmp_path / "course", tokenizer=tok)
    from_course = [r["token"] for r in pipeline("fill-mask", model=str(tmp_path / "course"))(text, top_k=5)]
    assert from_course == want


def test_from_pretrained_reads_a_transformers_checkpoint(tmp_path):
    """A BertForMaskedLM folder (what a hub name such as bert-base-uncased gives) loads into MtBertForMaskedLM with its MLM
    head, not a random one: the logits equal the transformers model's."""
    hf = _hf_model(5).eval()
    hf.save_pretrained(tmp_path)
    ours = MtBertForMaskedLM.from_pretrained(tmp_path)
    assert not ours.training and ours.head.decoder.weight is ours.bert.embeddings.word_embeddings.weight
    ids, attn, _ = _batch(5)
    with torch.no_grad():
        assert (ours(input_ids=ids, attention_mask=attn).logits - hf(input_ids=ids, attention_mask=attn).logits
                ).abs().max().item() <= 1e-5


def test_an_untied_config_is_rejected():
    with pytest.raises(ValueError, match="tie_word_embeddings"):
        MtBertForMaskedLM(tiny_bert_config(tie_word_embeddings=False))


def test_from_pretrained_with_a_plugged_in_head(tmp_path):
    """head_cls is not in the config: from_pretrained rebuilds the reference head, or the one passed again."""
    class OtherHead(MLMHead):
        pass

    ours = MtBertForMaskedLM.from_hf(_hf_model(4), head_cls=OtherHead).eval()
    ours.save_pretrained(tmp_path)
    assert type(MtBertForMaskedLM.from_pretrained(tmp_path).head) is MLMHead
    again = MtBertForMaskedLM.from_pretrained(tmp_path, head_cls=OtherHead).eval()
    assert type(again.head) is OtherHead and again.head.decoder.weight is again.bert.embeddings.word_embeddings.weight
    ids, attn, _ = _batch(4)
    with torch.no_grad():
        want = ours(input_ids=ids, attention_mask=attn).logits
        assert torch.equal(again(input_ids=ids, attention_mask=attn).logits, want)
