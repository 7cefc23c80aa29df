"""mtbert_ref.nsp: equivalence with transformers' BertForNextSentencePrediction, pair construction, checkers."""
from __future__ import annotations

import random

import pytest
import torch
from torch import nn
from transformers import BertForNextSentencePrediction

from mtbert_ref import load_tokenizer, tiny_bert_config
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.nsp import (
    HF_NSP_KEY_MAP,
    IS_NEXT,
    NOT_NEXT,
    BertForNSP,
    NSPHead,
    _check_pairs,
    _synthetic_documents,
    check_make_nsp_pairs,
    check_nsp_head,
    encode_pair,
    load_documents,
    make_nsp_pairs,
    map_state_dict,
    nsp_loss,
    tokenize_documents,
    truncate_pair,
)


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
    ref = BertForNSP.from_hf(hf).eval()
    ids, am, tt, labels = _batch()
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels)
        got = ref(ids, attention_mask=am, token_type_ids=tt, labels=labels)
    assert (got["logits"] - want.logits).abs().max() <= 1e-5
    assert (got["loss"] - want.loss).abs() <= 1e-5
    assert got["logits"].shape == (4, 2)


def test_nsp_gradients_match_transformers():
    hf = _hf_nsp()
    ref = BertForNSP.from_hf(hf)
    ids, am, tt, labels = _batch()
    hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels).loss.backward()
    ref(ids, attention_mask=am, token_type_ids=tt, labels=labels)["loss"].backward()
    assert torch.allclose(ref.nsp.seq_relationship.weight.grad, hf.cls.seq_relationship.weight.grad, atol=1e-6)
    assert torch.allclose(ref.bert.pooler.dense.weight.grad, hf.bert.pooler.dense.weight.grad, atol=1e-6)


def test_key_map_covers_every_weight_and_rejects_unknown():
    hf = _hf_nsp()
    mapped = map_state_dict(hf.state_dict(), HF_NSP_KEY_MAP)
    assert set(mapped) == set(BertForNSP(tiny_bert_config()).state_dict())
    with pytest.raises(KeyError, match="no mapping"):
        map_state_dict({"cls.predictions.bias": torch.zeros(3)}, HF_NSP_KEY_MAP)


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
        BertForNSP(encoder=BertModel(tiny_bert_config(), add_pooling_layer=False))


# ------------------------------------------------------------------------------------------ pairs
def test_truncate_pair_cuts_longer_first_a_front_b_back():
    a, b = list(range(10)), list(range(100, 104))
    ta, tb = truncate_pair(a, b, 8)
    assert (ta, tb) == (list(range(6, 10)), list(range(100, 104)))  # only A cut, from its start
    ta, tb = truncate_pair(list(range(5)), list(range(100, 110)), 6)
    assert (ta, tb) == ([2, 3, 4], [100, 101, 102])  # B cut to 5, then both alternately (A from the front)
    ta, tb = truncate_pair([1, 2], [3, 4], 3)  # tie: B is cut
    assert (ta, tb) == ([1, 2], [3])
    ta, tb = truncate_pair(list(range(50)), [7], 2)
    assert (ta, tb) == ([49], [7])
    assert a == list(range(10))  # inputs untouched
    with pytest.raises(ValueError):
        truncate_pair([1], [2], 1)


def test_encode_pair_matches_the_tokenizer():
    tok = load_tokenizer()
    first, second = "The fire crews were called to Hill Top.", "Rain has fallen in parts of the Illawarra."
    a = tok(first, add_special_tokens=False)["input_ids"]
    b = tok(second, add_special_tokens=False)["input_ids"]
    enc = encode_pair(a, b, tok.cls_token_id, tok.sep_token_id)
    want = tok(first, second)
    assert enc["input_ids"] == want["input_ids"]
    assert enc["token_type_ids"] == want["token_type_ids"]
    assert enc["attention_mask"] == want["attention_mask"]


@pytest.mark.parametrize("seed,max_length", [(0, 40), (1, 7), (2, 16), (3, 128), (4, 64), (5, 9)])
def test_reference_pairs_satisfy_every_property(seed, max_length):
    docs, where = _synthetic_documents(seed, 150)
    pairs = make_nsp_pairs(docs, 101, 102, max_length=max_length, seed=seed)
    _check_pairs(pairs, docs, where, 101, 102, max_length, "")  # raises on any violation
    assert pairs == make_nsp_pairs(docs, 101, 102, max_length=max_length, seed=seed)
    assert pairs != make_nsp_pairs(docs, 101, 102, max_length=max_length, seed=seed + 1)


def test_make_nsp_pairs_edge_cases():
    with pytest.raises(ValueError, match="two"):
        make_nsp_pairs([[[5, 6], [7, 8]]], 1, 2)
    docs = [[[5, 6]], [[7, 8], [], [9]], [[10, 11]]]  # one-sentence documents, an empty sentence
    pairs = make_nsp_pairs(docs, 1, 2, max_length=10, seed=0)
    assert len(pairs) == 1  # only the middle document has two sentences
    ex = pairs[0]
    if ex["labels"] == IS_NEXT:
        assert ex["input_ids"] == [1, 7, 8, 2, 9, 2]
    else:
        assert ex["labels"] == NOT_NEXT and ex["input_ids"][4:6] in ([5, 6], [10, 11])


def test_pairs_from_the_real_corpus():
    tok = load_tokenizer()
    train_docs, test_docs = load_documents("train"), load_documents("test")
    assert train_docs and test_docs and not {d["id"] for d in train_docs} & {d["id"] for d in test_docs}
    docs = tokenize_documents([d["sentences"] for d in test_docs], tok)
    pairs = make_nsp_pairs(docs, tok.cls_token_id, tok.sep_token_id, max_length=48, seed=0)
    assert len(pairs) > 100
    assert all(len(p["input_ids"]) <= 48 for p in pairs)
    frac = sum(p["labels"] for p in pairs) / len(pairs)
    assert 0.4 < frac < 0.6
    text = tok.decode(pairs[0]["input_ids"])
    assert text.startswith("[CLS]") and text.count("[SEP]") == 2


# ------------------------------------------------------------------------------------------ checkers
def test_check_nsp_head_accepts_the_reference():
    check_nsp_head(fresh_copy(NSPHead))
    check_nsp_head(fresh_copy(NSPHead), hidden_tests=True)


def test_check_nsp_head_rejects_the_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_nsp_head(NSPHead)


class _SoftmaxHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output):
        return self.seq_relationship(pooled_output).softmax(-1)


class _SwappedHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output):
        return self.seq_relationship(pooled_output).flip(-1)


class _ExtraLayerHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output):
        return self.seq_relationship(torch.tanh(self.dense(pooled_output)))


class _OneLogitHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 1)

    def forward(self, pooled_output):
        return self.seq_relationship(pooled_output)


class _WrongName(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.classifier = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output):
        return self.classifier(pooled_output)


class _Stub(nn.Module):
    def __init__(self, config):
        raise NotImplementedError()


@pytest.mark.parametrize("bad,message", [
    (_SoftmaxHead, "probabilities"),
    (_SwappedHead, "swapped"),
    (_ExtraLayerHead, "parameters"),
    (_OneLogitHead, r"nn.Linear\(32, 2\)"),
    (_WrongName, "seq_relationship"),
    (_Stub, "not implemented"),
])
def test_check_nsp_head_rejects_wrong_heads(bad, message):
    with pytest.raises(GradingError, match=message):
        check_nsp_head(bad)


def _variant(**changes):
    """make_nsp_pairs with one deliberate bug (the reference's logic, rewritten here as a student might)."""
    def fn(documents, cls_id, sep_id, max_length=64, seed=0, max_sentences_a=3):
        rng = random.Random(seed) if not changes.get("global_rng") else random
        docs = [[list(s) for s in d if s] for d in documents]
        pairs = []
        for d, doc in enumerate(docs):
            i = 0
            while i < len(doc) - 1:
                k = rng.randint(1, min(max_sentences_a, len(doc) - 1 - i))
                a = [t for s in doc[i:i + k] for t in s]
                p_next = changes.get("p_next", 0.5)
                if rng.random() < p_next:
                    label, b = 0, list(doc[i + k])
                else:
                    other = rng.randrange(len(docs)) if changes.get("same_doc_ok") else \
                        rng.choice([j for j in range(len(docs)) if j != d and docs[j]])
                    while not docs[other]:
                        other = rng.randrange(len(docs))
                    label, b = 1, list(rng.choice(docs[other]))
                if changes.get("flip_labels"):
                    label = 1 - label
                budget = max_length - 3
                if changes.get("cut_end"):
                    ids = [cls_id] + a + [sep_id] + b + [sep_id]
                    ids = ids[:max_length - 1] + ([sep_id] if len(ids) > max_length else [])
                    mid = ids.index(sep_id)
                    a, b = ids[1:mid], ids[mid + 1:-1]
                else:
                    while len(a) + len(b) > budget:
                        if changes.get("a_from_end"):
                            if len(a) > len(b):
                                a.pop()
                            else:
                                b.pop()
                        elif changes.get("always_b"):
                            if len(b) > 1:
                                b.pop()
                            else:
                                a.pop(0)
                        else:
                            if len(a) > len(b):
                                a.pop(0)
                            else:
                                b.pop()
                ids = [cls_id] + a + [sep_id] + b + [sep_id]
                if changes.get("types_all_zero"):
                    tt = [0] * len(ids)
                elif changes.get("sep_in_b"):
                    tt = [0] * (len(a) + 1) + [1] * (len(b) + 2)
                else:
                    tt = [0] * (len(a) + 2) + [1] * (len(b) + 1)
                pairs.append({"input_ids": ids, "token_type_ids": tt, "attention_mask": [1] * len(ids),
                              "labels": label})
                i += k
        return pairs
    return fn


def test_variant_without_bugs_passes():
    check_make_nsp_pairs(_variant(), hidden_tests=True)


@pytest.mark.parametrize("changes,message", [
    (dict(a_from_end=True), "does not end at the end of a sentence"),
    (dict(always_b=True), "cut the longer segment first"),
    (dict(cut_end=True), "empty segment|does not|cut the longer"),
    (dict(types_all_zero=True), "token_type_ids"),
    (dict(sep_in_b=True), "token_type_ids"),
    (dict(same_doc_ok=True), "same document"),
    (dict(p_next=0.8), "NotNext"),
    (dict(flip_labels=True), "labelled"),
    (dict(global_rng=True), "same seed"),
])
def test_check_make_nsp_pairs_rejects_bugs(changes, message):
    with pytest.raises(GradingError, match=message):
        check_make_nsp_pairs(_variant(**changes), hidden_tests=True)


def test_check_make_nsp_pairs_rejects_in_place_changes_and_too_few_pairs():
    def mutating(documents, cls_id, sep_id, max_length=64, seed=0):
        pairs = _variant()(documents, cls_id, sep_id, max_length, seed)
        documents[0][0].pop()
        return pairs
    with pytest.raises(GradingError, match="changed the documents"):
        check_make_nsp_pairs(mutating)

    def one_pair(documents, cls_id, sep_id, max_length=64, seed=0):
        a, b = documents[0][0][:2], documents[1][0][:2]
        return [{"input_ids": [cls_id, *a, sep_id, *b, sep_id], "token_type_ids": [0] * 4 + [1] * 3,
                 "attention_mask": [1] * 7, "labels": 1}]
    with pytest.raises(GradingError, match="pairs"):
        check_make_nsp_pairs(one_pair)


def test_check_make_nsp_pairs_rejects_the_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_make_nsp_pairs(make_nsp_pairs)
