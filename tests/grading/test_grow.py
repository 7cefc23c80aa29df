"""Tests of mtbert_ref.grading.grow (notebook 08): the checkers accept right answers and name the bugs."""
from __future__ import annotations

import random
import re

import pytest
import torch
from torch import nn

from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grading.grow import check_grow_linear, check_init_strategy, check_replay_mix
from mtbert_ref.lessons.grow import replay_mix
from mtbert_ref.modeling.grow import grow_linear
from mtbert_ref.modeling.grow_rows import imprint_rows


# ------------------------------------------------------------------------------------------ checkers
def test_checkers_accept_reference_copies():
    check_grow_linear(fresh_copy(grow_linear), hidden_tests=True)
    check_init_strategy(fresh_copy(imprint_rows), hidden_tests=True)
    check_replay_mix(fresh_copy(replay_mix), hidden_tests=True)


def test_checkers_reject_the_reference_itself():
    with pytest.raises(GradingError, match="reference implementation"):
        check_grow_linear(grow_linear)


def test_checker_accepts_a_plain_linear_student():
    def student(layer, id2label, new_labels, new_weight, new_bias):
        if not new_labels or len(set(new_labels)) != len(new_labels) or set(new_labels) & set(id2label.values()):
            raise ValueError("bad labels")
        c, d = layer.out_features, layer.in_features
        out = nn.Linear(d, c + len(new_labels), bias=layer.bias is not None).to(layer.weight)
        with torch.no_grad():
            out.weight.copy_(torch.cat([layer.weight, new_weight]))
            if layer.bias is not None:
                out.bias.copy_(torch.cat([layer.bias, new_bias]))
        m = dict(id2label)
        m.update({c + i: n for i, n in enumerate(new_labels)})
        return out, m, {n: i for i, n in m.items()}
    check_grow_linear(student, hidden_tests=True)


def _grow_variant(kind):
    def student(layer, id2label, new_labels, new_weight, new_bias):
        if not new_labels or len(set(new_labels)) != len(new_labels) or set(new_labels) & set(id2label.values()):
            raise ValueError("bad labels")
        c, d, k = layer.out_features, layer.in_features, len(new_labels)
        out = nn.Linear(d, c + k, bias=layer.bias is not None).to(layer.weight)
        w = torch.cat([new_weight, layer.weight]) if kind == "prepend" else torch.cat([layer.weight, new_weight])
        if kind == "randn":
            w = torch.cat([layer.weight, torch.randn_like(new_weight)])
        with torch.no_grad():
            out.weight.copy_(w)
            if layer.bias is not None:
                out.bias.copy_(torch.cat([layer.bias, new_bias]))
        m = dict(id2label)
        start = 0 if kind == "ids" else c
        m.update({start + i: n for i, n in enumerate(new_labels)})
        if kind == "inplace":
            with torch.no_grad():
                layer.weight.mul_(1.0001)
        return out, m, {n: i for i, n in m.items()}
    return student


@pytest.mark.parametrize("kind,msg", [("prepend", "weight has the right shape"),
                                     ("randn", "weight has the right shape"),
                                     ("ids", "id2label"),
                                     ("inplace", "original layer was modified")])
def test_check_grow_linear_rejects(kind, msg):
    with pytest.raises(GradingError, match=msg):
        check_grow_linear(_grow_variant(kind))


def test_check_grow_linear_rejects_missing_errors_and_stub():
    def lenient(layer, id2label, new_labels, new_weight, new_bias):
        c, d = layer.out_features, layer.in_features
        out = nn.Linear(d, c + len(new_labels), bias=layer.bias is not None).to(layer.weight)
        with torch.no_grad():
            out.weight.copy_(torch.cat([layer.weight, new_weight]))
            if layer.bias is not None:
                out.bias.copy_(torch.cat([layer.bias, new_bias]))
        m = {**id2label, **{c + i: n for i, n in enumerate(new_labels)}}
        return out, m, {n: i for i, n in m.items()}
    check_grow_linear(lenient)                           # the visible test does not test errors
    with pytest.raises(GradingError, match="should raise ValueError"):
        check_grow_linear(lenient, hidden_tests=True)

    def stub(*a):
        raise NotImplementedError()
    with pytest.raises(GradingError, match="not implemented"):
        check_grow_linear(stub)


def _imprint_variant(kind):
    def student(old_weight, old_bias, features, labels, k):
        f = features if kind == "no_unit" else features / features.norm(dim=1, keepdim=True)
        rows = torch.stack([f[labels == j].mean(0) for j in range(k)])
        rows = rows / rows.norm(dim=1, keepdim=True)
        if kind == "unit_only":
            scale = 1.0
        elif kind == "max_norm":
            scale = old_weight.norm(dim=1).max()
        else:
            scale = old_weight.norm(dim=1).mean()
        bias = None
        if old_bias is not None:
            bias = torch.zeros(k, dtype=old_bias.dtype) if kind == "zero_bias" else old_bias.mean().expand(k).clone()
        if kind == "float32_inside":  # computes in float32, hands back float64: off by float32 rounding
            rows = (rows.float() * (1 + 1e-6)).to(rows.dtype)
        return rows * scale, bias
    return student


@pytest.mark.parametrize("kind,msg", [("no_unit", "Normalise every feature"),
                                     ("unit_only", "length 1"),
                                     ("max_norm", "new weight rows has the right shape"),
                                     ("zero_bias", "new bias")])
def test_check_init_strategy_rejects(kind, msg):
    with pytest.raises(GradingError, match=msg):
        check_init_strategy(_imprint_variant(kind))


def test_check_init_strategy_float64_message_shows_the_difference():
    """The float64 case: the message gives the size of the difference and digits enough to see it."""
    with pytest.raises(GradingError) as err:
        check_init_strategy(_imprint_variant("float32_inside"), hidden_tests=True)
    msg = str(err.value)
    assert re.search(r"max abs diff \d\.\d{3}e-\d+ in torch\.float64", msg), msg
    got, want = re.search(r"got (\S+), expected (\S+?)[;.]\s", msg).groups()
    assert got != want, msg


def test_check_init_strategy_ok_variant_passes():
    check_init_strategy(_imprint_variant("ok"), hidden_tests=True)


def _replay_variant(kind):
    def student(new_examples, old_examples, ratio, seed):
        rng = random.Random(seed)
        n_old = min(len(old_examples), int(round(ratio * len(new_examples))))
        if kind == "mutates":
            rng.shuffle(old_examples)
            picked = old_examples[:n_old]
        elif kind == "first":
            picked = list(old_examples[:n_old])
        elif kind == "replacement":
            picked = [rng.choice(old_examples) for _ in range(n_old)]
        elif kind == "wrong_count":
            picked = rng.sample(list(old_examples), min(len(old_examples), int(ratio * len(old_examples) / 10)))
        else:
            picked = rng.sample(list(old_examples), n_old)
        if kind == "no_shuffle":
            return list(new_examples) + picked
        if kind == "drops_new":
            mixed = list(new_examples)[1:] + picked
        else:
            mixed = list(new_examples) + picked
        if kind == "global_rng":
            random.shuffle(mixed)
        else:
            rng.shuffle(mixed)
        return mixed
    return student


@pytest.mark.parametrize("kind,msg", [("mutates", "modified"), ("first", "always the first"),
                                     ("replacement", "appear twice"), ("no_shuffle", "together at one end"),
                                     ("drops_new", "missing"), ("global_rng", "same seed"),
                                     ("wrong_count", "old examples, expected")])
def test_check_replay_mix_rejects(kind, msg):
    with pytest.raises(GradingError, match=msg):
        check_replay_mix(_replay_variant(kind), hidden_tests=True)


def test_check_replay_mix_ok_variant_passes():
    check_replay_mix(_replay_variant("ok"), hidden_tests=True)
