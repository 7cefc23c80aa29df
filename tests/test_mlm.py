"""Tests of mtbert_ref.mlm: equivalence with transformers' BertForMaskedLM, masking statistics against
DataCollatorForLanguageModeling, edge cases, and the checkers (reference passes, plausible mistakes fail)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertForMaskedLM, BertTokenizer, DataCollatorForLanguageModeling
from transformers.activations import ACT2FN

from mtbert_ref import tiny_bert_config
from mtbert_ref.checking import GradingError, fresh_copy
from mtbert_ref.mlm import (
    IGNORE_INDEX,
    BertMLM,
    MLMCollator,
    MLMHead,
    check_mask_tokens,
    check_mlm_head,
    check_mlm_loss,
    chunk_documents,
    fill_mask,
    hf_to_mtbert_key,
    load_text_corpus,
    make_eval_set,
    mask_tokens,
    masked_token_accuracy,
    mlm_loss,
    unigram_topk,
)


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
    ours = BertMLM.from_hf(hf).eval()
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
    ours = BertMLM.from_hf(hf).eval()
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
    ours = BertMLM.from_hf(_hf_model(2))
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
    assert hf_to_mtbert_key("bert.encoder.layer.0.output.dense.weight") == "bert.encoder.layer.0.output.dense.weight"
    assert hf_to_mtbert_key("cls.predictions.transform.LayerNorm.bias") == "head.transform.LayerNorm.bias"
    assert hf_to_mtbert_key("cls.predictions.bias") == "head.bias"
    assert hf_to_mtbert_key("cls.predictions.decoder.weight") == "head.decoder.weight"
    assert hf_to_mtbert_key("cls.predictions.decoder.bias") is None
    assert hf_to_mtbert_key("bert.pooler.dense.weight") is None
    assert hf_to_mtbert_key("cls.seq_relationship.weight") is None


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


# ------------------------------------------------------------------------------------------ helpers
def test_corpus_format_and_split():
    docs = load_text_corpus()
    assert len(docs) == 350
    assert {d["split"] for d in docs} == {"train", "test"}
    assert len(load_text_corpus("test")) == 52
    for d in docs:
        assert set(d) == {"id", "source", "split", "sentences"}
        assert d["sentences"] and all(isinstance(s, str) and s.strip() for s in d["sentences"])
    assert len({d["id"] for d in docs}) == len(docs)


def test_chunks_collator_eval_and_fill_mask(tokenizer):
    docs = [{"id": "a", "source": "t", "split": "train",
             "sentences": ["the fire crews have been called to a new fire near sydney.", "police said."] * 3}]
    ex = chunk_documents(docs, tokenizer, max_length=16)
    assert all(len(e["input_ids"]) <= 16 for e in ex)
    assert all(e["input_ids"][0] == tokenizer.cls_token_id and e["input_ids"][-1] == tokenizer.sep_token_id for e in ex)
    assert sum(len(e["input_ids"]) - 2 for e in ex) == 3 * (len(tokenizer("the fire crews have been called to a new "
                                                                          "fire near sydney.", add_special_tokens=False)
                                                                 ["input_ids"]) + 3)
    batch = MLMCollator(tokenizer, seed=0)(ex)
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert not bool((batch["labels"][batch["attention_mask"] == 0] != IGNORE_INDEX).any())
    evalset = make_eval_set(ex, tokenizer, mlm_probability=0.5)
    lab = evalset[0]["labels"]
    assert bool((evalset[0]["input_ids"][lab != IGNORE_INDEX] == tokenizer.mask_token_id).all())
    top = unigram_topk(ex, 2)
    assert tokenizer.convert_ids_to_tokens(top[0]) in ("fire", ".")
    base = masked_token_accuracy(None, evalset, constant_topk=top)
    model = BertMLM(tiny_bert_config(vocab_size=len(tokenizer)))
    acc = masked_token_accuracy(model, evalset)
    assert 0 <= base["top1"] <= base["top5"] <= 1 and acc["n"] == base["n"] > 0
    out = fill_mask("the fire [MASK] have been called.", model, tokenizer, top_k=3)
    assert len(out) == 1 and len(out[0]) == 3 and out[0][0][1] >= out[0][1][1]


# ------------------------------------------------------------------------------------------ checkers: heads
def test_check_mlm_head_accepts_the_reference():
    check_mlm_head(fresh_copy(MLMHead), hidden_tests=True)


def test_check_mlm_head_rejects_the_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_mlm_head(MLMHead)


class _Transform(nn.Module):
    def __init__(self, config, act=None, order="act-ln"):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.act = act or ACT2FN[config.hidden_act]
        self.order = order

    def forward(self, h):
        h = self.dense(h)
        return self.LayerNorm(self.act(h)) if self.order == "act-ln" else self.act(self.LayerNorm(h))


def _make_head(tie="tie", act=None, order="act-ln", add_bias=True, own_decoder_bias=False, select=True):
    class Head(nn.Module):
        def __init__(self, config, word_embeddings):
            super().__init__()
            self.transform = _Transform(config, act, order)
            self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=own_decoder_bias)
            if tie == "tie":
                self.decoder.weight = word_embeddings.weight
            elif tie == "copy":
                self.decoder.weight = nn.Parameter(word_embeddings.weight.detach().clone())
            self.bias = nn.Parameter(torch.zeros(config.vocab_size))

        def forward(self, sequence_output, masked_positions=None):
            if masked_positions is not None and select:
                sequence_output = sequence_output[masked_positions]
            out = self.decoder(self.transform(sequence_output))
            return out + self.bias if add_bias else out
    return Head


def test_check_mlm_head_accepts_an_equivalent_student_head():
    check_mlm_head(_make_head(), hidden_tests=True)


@pytest.mark.parametrize("kwargs, message", [
    (dict(tie="copy"), "copied, not tied"),
    (dict(tie="none"), "not tied to the word embeddings"),
    (dict(add_bias=False), r"without `\+ self.bias`"),
    (dict(order="ln-act"), "LayerNorm applied before the activation"),
    (dict(act=nn.Identity()), "without the activation"),
    (dict(act=nn.GELU(approximate="tanh")), "values differ"),
    (dict(own_decoder_bias=True), "its own bias"),
    (dict(select=False), "only the selected rows"),
])
def test_check_mlm_head_rejects_mistakes(kwargs, message):
    with pytest.raises(GradingError, match=message):
        check_mlm_head(_make_head(**kwargs), hidden_tests=True)


def test_check_mlm_head_hidden_tests_catch_hard_coded_gelu():
    head = _make_head(act=nn.GELU())
    check_mlm_head(head)                       # visible test: GELU config, passes
    with pytest.raises(GradingError, match="hidden_act"):
        check_mlm_head(head, hidden_tests=True)


def test_check_mlm_head_hidden_tests_catch_a_detached_decoder():
    base = _make_head()

    class Detached(base):
        def forward(self, sequence_output, masked_positions=None):
            if masked_positions is not None:
                sequence_output = sequence_output[masked_positions]
            h = self.transform(sequence_output)
            return F.linear(h, self.decoder.weight.detach()) + self.bias

    check_mlm_head(Detached)                   # same numbers: the visible test passes
    with pytest.raises(GradingError, match="No gradient reached the word-embedding matrix"):
        check_mlm_head(Detached, hidden_tests=True)


def test_check_mlm_head_names_missing_attributes():
    class NoTransform(nn.Module):
        def __init__(self, config, word_embeddings):
            super().__init__()
            self.net = nn.Linear(config.hidden_size, config.hidden_size)
            self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
            self.decoder.weight = word_embeddings.weight
            self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    with pytest.raises(GradingError, match="self.transform"):
        check_mlm_head(NoTransform)


# ------------------------------------------------------------------------------------------ checkers: masking
def test_check_mask_tokens_accepts_the_reference():
    check_mask_tokens(fresh_copy(mask_tokens), hidden_tests=True)


def _masker(mode):
    def masker(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability=0.15, generator=None):
        device = input_ids.device
        special = special_tokens_mask.bool()
        if mode == "no_generator":
            generator = None
        p = torch.rand(input_ids.shape, generator=generator, device=device)
        chosen = p < mlm_probability
        if mode != "special":
            chosen &= ~special
        labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
        if mode == "labels_everywhere":
            labels = input_ids.clone()
        if mode == "labels_masked":
            labels = torch.where(chosen, torch.full_like(input_ids, mask_token_id), labels)
        u = torch.rand(input_ids.shape, generator=generator, device=device)
        masked = input_ids if mode != "inplace" else input_ids
        if mode == "inplace":
            masked[chosen & (u < 0.8)] = mask_token_id
        else:
            masked = input_ids.clone()
            masked[chosen & (u < (1.0 if mode == "all_mask" else 0.8))] = mask_token_id
        rnd = torch.randint(vocab_size, input_ids.shape, generator=generator, device=device)
        r = chosen & (u >= 0.8) & (u < 0.9)
        if mode != "all_mask":
            masked[r] = rnd[r]
        if mode == "all_rate":
            return masked, labels
        return masked, labels
    return masker


@pytest.mark.parametrize("mode, message", [
    ("special", "must never be chosen"),
    ("labels_everywhere", "-100"),
    ("labels_masked", "ORIGINAL token id"),
    ("all_mask", "80% \\[MASK\\]"),
    ("inplace", "modified in place"),
    ("no_generator", "seeded the same"),
])
def test_check_mask_tokens_rejects_mistakes(mode, message):
    with pytest.raises(GradingError, match=message):
        check_mask_tokens(_masker(mode), hidden_tests=True)


def test_check_mask_tokens_hidden_tests_catch_a_hard_coded_probability():
    own = fresh_copy(mask_tokens)

    def fixed_rate(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability=0.15, generator=None):
        return own(input_ids, special_tokens_mask, mask_token_id, vocab_size, 0.15,
                                       generator=generator)

    check_mask_tokens(fixed_rate)                              # visible test uses 0.15: passes
    with pytest.raises(GradingError, match="mlm_probability=0.3"):
        check_mask_tokens(fixed_rate, hidden_tests=True)


def test_check_mask_tokens_rejects_wrong_return_type():
    with pytest.raises(GradingError, match="pair"):
        check_mask_tokens(lambda ids, special, m, v, p=0.15, generator=None: ids.clone())


# ------------------------------------------------------------------------------------------ checkers: loss
def test_check_mlm_loss_accepts_the_reference():
    check_mlm_loss(fresh_copy(mlm_loss), hidden_tests=True)


def _loss_all(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).clamp(min=0))


def _loss_sum(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum")


def _loss_full_only(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def _loss_item(logits, labels):
    if logits.dim() == 2 and labels.dim() == 2:
        labels = labels[labels != -100]
    return torch.tensor(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)).item(),
                        dtype=logits.dtype)


def _loss_nan_when_empty(logits, labels):
    if logits.dim() == 2 and labels.dim() == 2:
        labels = labels[labels != -100]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


@pytest.mark.parametrize("fn, message", [
    (_loss_all, "averages over every position"),
    (_loss_sum, "sum over positions"),
    (_loss_full_only, "raised ValueError"),
    (_loss_item, "no gradient"),
    (_loss_nan_when_empty, "no position is labelled"),
])
def test_check_mlm_loss_rejects_mistakes(fn, message):
    with pytest.raises(GradingError, match=message):
        check_mlm_loss(fn, hidden_tests=True)
