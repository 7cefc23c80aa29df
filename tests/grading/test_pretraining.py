"""mtbert_ref.grading.pretraining (notebook 02): the checkers of NSP, the pretraining loss and the causal LM accept
the reference (and correct answers written otherwise) and reject each typical mistake with a named reason."""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grading.pretraining import (
    _check_pairs,
    _synthetic_documents,
    check_causal_mask,
    check_make_nsp_pairs,
    check_nsp_head,
    check_pretraining_loss,
    check_shift_labels,
)
from mtbert_ref.lessons.nsp import make_nsp_pairs
from mtbert_ref.modeling.causal_lm import causal_attention_mask, shift_labels
from mtbert_ref.modeling.nsp import NSPHead
from mtbert_ref.modeling.pretraining import pretraining_loss


# ------------------------------------------------------------------------------------------ NSP
@pytest.mark.parametrize("seed,max_length", [(0, 40), (1, 7), (2, 16), (3, 128), (4, 64), (5, 9)])
def test_reference_pairs_satisfy_every_property(seed, max_length):
    docs, where = _synthetic_documents(seed, 150)
    pairs = make_nsp_pairs(docs, 101, 102, max_length=max_length, seed=seed)
    _check_pairs(pairs, docs, where, 101, 102, max_length, "")  # raises on any violation
    assert pairs == make_nsp_pairs(docs, 101, 102, max_length=max_length, seed=seed)
    assert pairs != make_nsp_pairs(docs, 101, 102, max_length=max_length, seed=seed + 1)



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


# ------------------------------------------------------------------------------------------ pretraining loss
def test_check_pretraining_loss_accepts_the_reference():
    check_pretraining_loss(fresh_copy(pretraining_loss))
    check_pretraining_loss(fresh_copy(pretraining_loss), hidden_tests=True)


def test_check_pretraining_loss_rejects_the_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_pretraining_loss(pretraining_loss)


def _mlm(p, l):
    return F.cross_entropy(p.reshape(-1, p.shape[-1]), l.reshape(-1))


def averaged(p, s, l, n):
    return (_mlm(p, l) + F.cross_entropy(s, n)) / 2


def mlm_only(p, s, l, n):
    return _mlm(p, l)


def inverted(p, s, l, n):
    return _mlm(p, l) + F.cross_entropy(s, 1 - n)


def counts_ignored(p, s, l, n):
    return F.cross_entropy(p.reshape(-1, p.shape[-1]), l.reshape(-1).clamp(min=0)) + F.cross_entropy(s, n)


def divides_by_all(p, s, l, n):
    per = F.cross_entropy(p.reshape(-1, p.shape[-1]), l.reshape(-1), reduction="sum")
    return per / l.numel() + F.cross_entropy(s, n)


def sums(p, s, l, n):
    return F.cross_entropy(p.reshape(-1, p.shape[-1]), l.reshape(-1), reduction="sum") + \
        F.cross_entropy(s, n, reduction="sum")


def keeps_dim(p, s, l, n):
    return (_mlm(p, l) + F.cross_entropy(s, n)).reshape(1)


def casts_to_float32(p, s, l, n):
    return _mlm(p.float(), l) + F.cross_entropy(s.float(), n)


@pytest.mark.parametrize("bad,message", [
    (averaged, "averaged"),
    (mlm_only, "MLM loss alone"),
    (inverted, "inverted"),
    (counts_ignored, "-100 were counted"),
    (divides_by_all, "divided by all positions"),
    (sums, "summed"),
    (keeps_dim, "scalar"),
    (casts_to_float32, "dtype"),
])
def test_check_pretraining_loss_rejects_bugs(bad, message):
    with pytest.raises(GradingError, match=message):
        check_pretraining_loss(bad, hidden_tests=True)


# ------------------------------------------------------------------------------------------ causal LM
def test_checkers_accept_the_reference():
    check_causal_mask(fresh_copy(causal_attention_mask))
    check_causal_mask(fresh_copy(causal_attention_mask), hidden_tests=True)
    check_shift_labels(fresh_copy(shift_labels))
    check_shift_labels(fresh_copy(shift_labels), hidden_tests=True)


def test_checkers_reject_the_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_causal_mask(causal_attention_mask)
    with pytest.raises(GradingError, match="reference implementation"):
        check_shift_labels(shift_labels)


def _mask_from(allowed, dtype):
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed,
                                                                                      torch.finfo(dtype).min)


def future(am, dtype=torch.float32):
    s = am.shape[-1]
    return _mask_from(torch.ones(s, s, dtype=torch.bool).triu()[None, None] & am.bool()[:, None, None, :], dtype)


def no_padding(am, dtype=torch.float32):
    s = am.shape[-1]
    return _mask_from(torch.ones(s, s, dtype=torch.bool).tril()[None, None].expand(am.shape[0], 1, s, s), dtype)


def padding_rows(am, dtype=torch.float32):
    s = am.shape[-1]
    return _mask_from(torch.ones(s, s, dtype=torch.bool).tril()[None, None] & am.bool()[:, None, :, None], dtype)


def no_diagonal(am, dtype=torch.float32):
    s = am.shape[-1]
    return _mask_from(torch.ones(s, s, dtype=torch.bool).tril(-1)[None, None] & am.bool()[:, None, None, :], dtype)


def minus_inf(am, dtype=torch.float32):
    s = am.shape[-1]
    allowed = torch.ones(s, s, dtype=torch.bool).tril()[None, None] & am.bool()[:, None, None, :]
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, float("-inf"))


def boolean(am, dtype=torch.float32):
    s = am.shape[-1]
    return torch.ones(s, s, dtype=torch.bool).tril()[None, None] & am.bool()[:, None, None, :]


def ones_zeros(am, dtype=torch.float32):
    return boolean(am).to(dtype)


def three_dims(am, dtype=torch.float32):
    s = am.shape[-1]
    return _mask_from(torch.ones(s, s, dtype=torch.bool).tril()[None] & am.bool()[:, None, :], dtype)


def fixed_float32(am, dtype=torch.float32):
    s = am.shape[-1]
    return _mask_from(torch.ones(s, s, dtype=torch.bool).tril()[None, None] & am.bool()[:, None, None, :],
                      torch.float32)


@pytest.mark.parametrize("bad,message", [
    (future, "future"),
    (no_padding, "padding is not masked"),
    (padding_rows, "queries"),
    (no_diagonal, "attend to itself"),
    (minus_inf, "-inf"),
    (boolean, "bool"),
    (ones_zeros, "1/0"),
    (three_dims, "head dimension"),
    (fixed_float32, "dtype"),
])
def test_check_causal_mask_rejects_bugs(bad, message):
    with pytest.raises(GradingError, match=message):
        check_causal_mask(bad, hidden_tests=True)


def wrong_way(labels):
    return torch.cat([torch.full_like(labels[:, :1], -100), labels[:, :-1]], dim=1)


def dropped(labels):
    return labels[:, 1:]


def zero_filled(labels):
    return torch.cat([labels[:, 1:], torch.zeros_like(labels[:, :1])], dim=1)


def rolled(labels):
    return labels.roll(-1, dims=1)


def in_place(labels):
    labels[:, :-1] = labels[:, 1:].clone()
    labels[:, -1] = -100
    return labels


@pytest.mark.parametrize("bad,message", [
    (wrong_way, "wrong way"),
    (dropped, "keep the sequence length"),
    (zero_filled, "last position should be -100"),
    (rolled, "last position should be -100"),
    (in_place, "in place"),
])
def test_check_shift_labels_rejects_bugs(bad, message):
    with pytest.raises(GradingError, match=message):
        check_shift_labels(bad, hidden_tests=True)


def _strided(step):
    """make_nsp_pairs whose walk continues at i + 1 or i + k + 1 instead of i + k (recipe step 6)."""
    def fn(documents, cls_id, sep_id, max_length=64, seed=0, max_sentences_a=3):
        rng = random.Random(seed)
        docs = [[list(s) for s in d if s] for d in documents]
        pairs = []
        for d, doc in enumerate(docs):
            i = 0
            while i < len(doc) - 1:
                k = rng.randint(1, min(max_sentences_a, len(doc) - 1 - i))
                a = [t for s in doc[i:i + k] for t in s]
                if rng.random() < 0.5:
                    label, b = 0, list(doc[i + k])
                else:
                    other = rng.choice([j for j in range(len(docs)) if j != d and docs[j]])
                    label, b = 1, list(rng.choice(docs[other]))
                while len(a) + len(b) > max_length - 3:
                    if len(a) > len(b):
                        a.pop(0)
                    else:
                        b.pop()
                ids = [cls_id] + a + [sep_id] + b + [sep_id]
                pairs.append({"input_ids": ids, "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
                              "attention_mask": [1] * len(ids), "labels": label})
                i += {"one": 1, "k+1": k + 1, "k": k}[step]
        return pairs
    return fn


def test_strided_variant_with_the_right_step_passes():
    check_make_nsp_pairs(_strided("k"), hidden_tests=True)


@pytest.mark.parametrize("step,message", [("one", "overlaps the previous A"), ("k+1", "skips a sentence")])
def test_check_make_nsp_pairs_rejects_a_wrong_stride(step, message):
    with pytest.raises(GradingError, match=message):
        check_make_nsp_pairs(_strided(step))
