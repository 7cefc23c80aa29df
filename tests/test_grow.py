"""Tests of mtbert_ref.grow: growing a classifier's output layer by new labels (notebook 08)."""
from __future__ import annotations

import importlib.util
import random

import pytest
import torch
from torch import nn
from transformers import BertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grow import (
    GrownLinear,
    check_grow_linear,
    check_init_strategy,
    check_replay_mix,
    find_head,
    freeze_rows,
    grow_classifier,
    grow_linear,
    head_inputs,
    imprint_rows,
    init_mean,
    init_random,
    init_zeros,
    new_rows,
    replay_mix,
    restore_grown_heads,
    unfreeze_rows,
)

torch.manual_seed(0)


def _bert(num_labels=5):
    torch.manual_seed(0)
    cfg = tiny_bert_config(num_labels=num_labels)
    cfg.id2label = {i: f"old{i}" for i in range(num_labels)}
    cfg.label2id = {v: k for k, v in cfg.id2label.items()}
    return BertForSequenceClassification(cfg).eval()


def _roberta(num_labels=4):
    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=37, max_position_embeddings=70, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, pad_token_id=1, num_labels=num_labels)
    return RobertaForSequenceClassification(cfg).eval()


def _batch(seed=0, batch=6, seq=9, vocab=99):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    ids[1, 5:] = 1
    return {"input_ids": ids, "attention_mask": mask}


# ------------------------------------------------------------------------------------------ bit-identical old logits
@pytest.mark.parametrize("d,c,k", [(768, 135, 1), (384, 16, 2), (32, 5, 7), (64, 100, 28)])
def test_grown_linear_old_logits_bit_identical(d, c, k):
    layer = nn.Linear(d, c)
    grown = grow_classifier(layer, [f"n{i}" for i in range(k)], init="random")
    assert isinstance(grown, GrownLinear) and isinstance(grown, nn.Linear)
    assert grown.out_features == c + k and grown.blocks == (c, k)
    for shape in [(1, d), (2, d), (7, d), (33, d), (3, 5, d)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            assert torch.equal(grown(x)[..., :c], layer(x)), shape
    assert len(grown.id2label) == c + k and grown.label2id[f"n{k - 1}"] == c + k - 1


def test_plain_bigger_matmul_is_not_always_bit_identical():
    """Why GrownLinear exists: on this CPU a bigger product changes the last bits for some shapes."""
    torch.manual_seed(0)
    for (d, c, k) in [(768, 135, 1), (384, 14, 2), (32, 5, 7)]:
        w, b, x = torch.randn(c, d) * 0.05, torch.randn(c), torch.randn(7, d)
        big_w, big_b = torch.cat([w, torch.randn(k, d)]), torch.cat([b, torch.zeros(k)])
        plain = torch.nn.functional.linear(x, big_w, big_b)[:, :c]
        # equal to rounding (the BLAS may sum in another order) ...
        assert torch.allclose(plain, torch.nn.functional.linear(x, w, b), atol=1e-5)
        # ... while the block-wise GrownLinear is exact
        g = GrownLinear(d, (c, k))
        with torch.no_grad():
            g.weight.copy_(big_w)
            g.bias.copy_(big_b)
            assert torch.equal(g(x)[:, :c], torch.nn.functional.linear(x, w, b))


def test_grow_twice_keeps_all_blocks():
    layer = nn.Linear(16, 4)
    g1 = grow_classifier(layer, ["a"], id2label={i: f"o{i}" for i in range(4)})
    g2 = grow_classifier(g1, ["b", "c"], init="mean")
    assert g2.blocks == (4, 1, 2)
    x = torch.randn(9, 16)
    with torch.no_grad():
        assert torch.equal(g2(x)[:, :5], g1(x))
        assert torch.equal(g2(x)[:, :4], layer(x))
    assert g2.id2label == {0: "o0", 1: "o1", 2: "o2", 3: "o3", 4: "a", 5: "b", 6: "c"}


def test_bert_for_sequence_classification_grow_and_loss():
    model = _bert(5)
    batch = _batch()
    with torch.no_grad():
        before = model(**batch).logits
    old_head = model.classifier
    out = grow_classifier(model, ["sports", "movies"], init="random", generator=torch.Generator().manual_seed(0))
    assert out is model and model.classifier is not old_head
    assert model.config.num_labels == 7 and model.num_labels == 7
    assert model.config.id2label[5] == "sports" and model.config.label2id["movies"] == 6
    with torch.no_grad():
        after = model(**batch).logits
    assert after.shape == (6, 7)
    assert torch.equal(after[:, :5], before)
    labels = torch.tensor([0, 5, 6, 1, 2, 6])
    loss = model(**batch, labels=labels).loss          # uses model.num_labels: must be the new count
    assert torch.isfinite(loss)
    assert grow_classifier.__doc__ and "optimizer" in grow_classifier.__doc__


def test_roberta_out_proj_grow():
    model = _roberta(4)
    batch = _batch(1)
    batch["input_ids"][batch["attention_mask"] == 0] = 1
    with torch.no_grad():
        before = model(**batch).logits
    grow_classifier(model, ["new"], init="zeros")
    assert isinstance(model.classifier.out_proj, GrownLinear)
    assert model.config.num_labels == 5 and model.num_labels == 5
    with torch.no_grad():
        after = model(**batch).logits
    assert torch.equal(after[:, :4], before)
    assert find_head(model)[0] == "classifier.out_proj"


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_dtype_and_device_kept(dtype):
    layer = nn.Linear(8, 3).to(dtype)
    for init in ("random", "zeros", "mean", "randn"):
        g = grow_classifier(layer, ["x"], init=init)
        assert g.weight.dtype == dtype and g.bias.dtype == dtype and g.weight.device == layer.weight.device
        x = torch.randn(4, 8, dtype=dtype)
        with torch.no_grad():
            assert torch.equal(g(x)[:, :3], layer(x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_device_kept_cuda():
    layer = nn.Linear(8, 3).cuda()
    g = grow_classifier(layer, ["x"])
    assert g.weight.device.type == "cuda"


def test_save_pretrained_round_trip(tmp_path):
    model = _bert(3)
    grow_classifier(model, ["sports"], init="mean")
    batch = _batch(2)
    with torch.no_grad():
        want = model(**batch).logits
    model.save_pretrained(tmp_path)
    back = BertForSequenceClassification.from_pretrained(tmp_path).eval()
    assert back.config.num_labels == 4
    assert back.config.id2label[3] == "sports" and back.config.label2id["sports"] == 3
    assert torch.equal(back.classifier.weight, model.classifier.weight)
    assert torch.equal(back.classifier.bias, model.classifier.bias)
    with torch.no_grad():
        assert torch.allclose(back(**batch).logits, want, atol=1e-6)
    restore_grown_heads(back)
    assert isinstance(back.classifier, GrownLinear) and back.classifier.blocks == (3, 1)
    with torch.no_grad():
        assert torch.equal(back(**batch).logits, want)


# ------------------------------------------------------------------------------------------ errors
def test_errors_are_clear():
    model = _bert(3)
    with pytest.raises(ValueError, match="already exist"):
        grow_classifier(model, ["old1"])
    with pytest.raises(ValueError, match="empty"):
        grow_classifier(model, [])
    with pytest.raises(ValueError, match="duplicates"):
        grow_classifier(model, ["a", "b", "a"])
    with pytest.raises(ValueError, match="list of names"):
        grow_classifier(model, "sports")
    with pytest.raises(LookupError, match=r"tried the attribute paths \['classifier', 'classifier.out_proj'"):
        grow_classifier(nn.Sequential(nn.Linear(3, 3)), ["x"])
    with pytest.raises(LookupError, match=r"heads.nope"):
        grow_classifier(model, ["x"], task="nope")
    with pytest.raises(ValueError, match="unknown init strategy"):
        grow_classifier(model, ["x"], init="magic")
    with pytest.raises(ValueError, match="needs features"):
        grow_classifier(model, ["x"], init="imprint")
    # nothing was changed by the failed calls
    assert model.config.num_labels == 3 and not isinstance(model.classifier, GrownLinear)


# ------------------------------------------------------------------------------------------ init strategies
def test_init_strategies_scale_and_properties():
    torch.manual_seed(0)
    layer = nn.Linear(64, 10)
    with torch.no_grad():
        layer.weight.mul_(5)
    w, b = init_random(layer, 3, torch.Generator().manual_seed(0))
    assert w.shape == (3, 64) and abs(float(w.std()) / float(layer.weight.detach().std()) - 1) < 0.2
    assert torch.allclose(b, layer.bias.mean().expand(3))
    wz, bz = init_zeros(layer, 2)
    assert torch.equal(wz, torch.zeros(2, 64)) and bool((bz < layer.bias.min()).all())
    wm, bm = init_mean(layer, 2)
    assert torch.allclose(wm[0], layer.weight.mean(0)) and torch.equal(wm[0], wm[1])
    # the mean row's logit never exceeds the best old logit: the new label is not predicted at first
    g = grow_classifier(layer, ["m"], init="mean")
    x = torch.randn(200, 64)
    with torch.no_grad():
        assert not bool((g(x).argmax(-1) == 10).any())
    fresh = nn.Linear(64, 10)                             # nn.Linear's own init: std 1/sqrt(3 * 64) = 0.07
    wr, br = new_rows(fresh, 2, "randn", generator=torch.Generator().manual_seed(0))
    assert float(wr.std()) > 10 * float(fresh.weight.detach().std()) and torch.equal(br, torch.zeros(2))


def test_imprinting_direction_and_scale():
    torch.manual_seed(0)
    old_w, old_b = torch.randn(6, 20), torch.randn(6)
    centre = torch.randn(20)
    feats = centre + 0.01 * torch.randn(8, 20)
    feats[0] *= 50                                        # one long vector must not dominate
    w, b = imprint_rows(old_w, old_b, feats, torch.zeros(8, dtype=torch.long), 1)
    assert torch.nn.functional.cosine_similarity(w[0], centre, dim=0) > 0.999
    assert torch.allclose(w.norm(dim=1), old_w.norm(dim=1).mean().expand(1))
    assert torch.allclose(b, old_b.mean().expand(1))
    with pytest.raises(ValueError, match="at least one example"):
        imprint_rows(old_w, old_b, feats, torch.zeros(8, dtype=torch.long), 2)


def test_imprint_through_head_inputs_on_bert():
    model = _bert(4)
    batch = _batch(3)
    feats = head_inputs(model, [batch])
    assert feats.shape == (6, 32)
    with torch.no_grad():
        want = model.bert(**batch).pooler_output
    assert torch.allclose(feats, want, atol=1e-6)
    grow_classifier(model, ["p", "q"], init="imprint", features=feats, feature_labels=["p", "q", "p", "q", "p", "q"])
    w = model.classifier.weight[4:]
    assert torch.allclose(w.norm(dim=1), model.classifier.weight[:4].norm(dim=1).mean().expand(2), atol=1e-5)


# ------------------------------------------------------------------------------------------ freezing
def test_freeze_rows_keeps_old_rows_under_adam():
    torch.manual_seed(0)
    layer = nn.Linear(12, 4)
    g = grow_classifier(layer, ["a", "b"], freeze_old=True)
    old_w, old_b = g.weight[:4].detach().clone(), g.bias[:4].detach().clone()
    new_w = g.weight[4:].detach().clone()
    opt = torch.optim.Adam(g.parameters(), lr=0.1)        # built after growing
    x, y = torch.randn(32, 12), torch.randint(0, 6, (32,))
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(g(x), y).backward()
        assert torch.equal(g.weight.grad[:4], torch.zeros(4, 12))
        opt.step()
    assert torch.equal(g.weight[:4], old_w) and torch.equal(g.bias[:4], old_b)
    assert not torch.equal(g.weight[4:], new_w)
    unfreeze_rows(g)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(g(x), y).backward()
    assert g.weight.grad[:4].abs().sum() > 0


def test_stale_optimizer_trains_nothing_of_the_new_head():
    model = _bert(3)
    opt = torch.optim.SGD(model.classifier.parameters(), lr=1.0)   # built BEFORE growing: the mistake
    grow_classifier(model, ["x"])
    w0 = model.classifier.weight.detach().clone()
    loss = model(**_batch(), labels=torch.tensor([3, 3, 3, 0, 1, 2])).loss
    loss.backward()
    opt.step()
    assert torch.equal(model.classifier.weight, w0)


# ------------------------------------------------------------------------------------------ multi-task
@pytest.mark.skipif(importlib.util.find_spec("mtbert_ref.modeling.multitask") is None, reason="mtbert_ref.modeling.multitask missing")
def test_multitask_one_task_head():
    from mtbert_ref.modeling.multitask import MultiTaskConfig, MultiTaskModel
    torch.manual_seed(0)
    cfg = MultiTaskConfig(encoder=tiny_bert_config().to_dict(),
                          tasks=[{"name": "topic", "kind": "multi_class", "labels": ["a", "b", "c"]},
                                 {"name": "tone", "kind": "multi_class", "labels": ["pos", "neg"]}])
    model = MultiTaskModel(cfg).eval()
    batch = _batch(4)
    with torch.no_grad():
        before = model(**batch).logits
    grow_classifier(model, ["d"], task="topic", init="mean")
    assert isinstance(model.heads["topic"], GrownLinear)
    assert model.config.task_id2label("topic") == {0: "a", 1: "b", 2: "c", 3: "d"}
    assert model.config.task_id2label("tone") == {0: "pos", 1: "neg"}
    with torch.no_grad():
        after = model(**batch).logits
    assert after["topic"].shape == (6, 4)
    assert torch.equal(after["topic"][:, :3], before["topic"]) and torch.equal(after["tone"], before["tone"])
    loss = model(**batch, labels={"topic": torch.tensor([3, 0, 1, 2, 3, 3])}).loss
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="already exist"):
        grow_classifier(model, ["a"], task="topic")
    with pytest.raises(LookupError):
        grow_classifier(model, ["z"], task="nosuchtask")


# ------------------------------------------------------------------------------------------ replay
def test_replay_mix_reference():
    new, old = list(range(10)), list(range(100, 200))
    mix = replay_mix(new, old, 2.0, seed=0)
    assert len(mix) == 30 and sorted(x for x in mix if x < 100) == new
    assert mix == replay_mix(new, old, 2.0, seed=0) and mix != replay_mix(new, old, 2.0, seed=1)
    assert len(replay_mix(new, old[:5], 3.0, 0)) == 15
    assert new == list(range(10)) and old == list(range(100, 200))
    with pytest.raises(ValueError):
        replay_mix(new, old, -1, 0)


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
        return rows * scale, bias
    return student


@pytest.mark.parametrize("kind,msg", [("no_unit", "Normalise every feature"),
                                     ("unit_only", "length 1"),
                                     ("max_norm", "new weight rows has the right shape"),
                                     ("zero_bias", "new bias")])
def test_check_init_strategy_rejects(kind, msg):
    with pytest.raises(GradingError, match=msg):
        check_init_strategy(_imprint_variant(kind))


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
