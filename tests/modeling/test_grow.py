"""Tests of mtbert_ref.modeling.grow and .grow_rows (notebook 08): growing a classifier's output layer by new labels,
the new rows' initialisation, frozen old rows, and the save_pretrained -> from_pretrained round trip."""
from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn
from transformers import BertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.modeling.grow import GrownLinear, find_head, grow_classifier, restore_grown_heads
from mtbert_ref.modeling.grow_rows import (
    freeze_rows,
    imprint_rows,
    init_mean,
    init_random,
    init_zeros,
    new_rows,
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
    from mtbert_ref.modeling.multitask import MultiTaskConfig, MtBertForMultiTask
    torch.manual_seed(0)
    cfg = MultiTaskConfig(encoder=tiny_bert_config().to_dict(),
                          tasks=[{"name": "topic", "kind": "multi_class", "labels": ["a", "b", "c"]},
                                 {"name": "tone", "kind": "multi_class", "labels": ["pos", "neg"]}])
    model = MtBertForMultiTask(cfg).eval()
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


# ------------------------------------------------------------------------------------------ reload without restore
def _multitask(labels=("a", "b", "c")):
    from mtbert_ref.modeling.multitask import MultiTaskConfig, MtBertForMultiTask
    torch.manual_seed(0)
    cfg = MultiTaskConfig(encoder=tiny_bert_config().to_dict(), classifier_dropout=0.0,
                          tasks=[{"name": "topic", "kind": "multi_class", "labels": list(labels)},
                                 {"name": "tone", "kind": "multi_class", "labels": ["pos", "neg"]}])
    return MtBertForMultiTask(cfg).eval()


def _logits(model, batch):
    with torch.no_grad():
        out = model(**batch).logits
    return out if isinstance(out, dict) else {"": out}


def _assert_same_logits(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize("hidden,c,k", [(32, 3, 1), (384, 135, 2)])
def test_bert_reload_bit_identical_without_restore(tmp_path, hidden, c, k):
    """from_pretrained alone gives the grown head back: GrownLinear, bit-identical logits for old and new labels."""
    torch.manual_seed(0)
    cfg = tiny_bert_config(hidden_size=hidden, num_hidden_layers=1, num_labels=c)
    model = BertForSequenceClassification(cfg).eval()
    grow_classifier(model, [f"new{j}" for j in range(k)], init="random", generator=torch.Generator().manual_seed(1))
    batches = [_batch(s, batch=n) for s, n in ((0, 2), (1, 6), (2, 33))]
    want = [_logits(model, b) for b in batches]
    model.save_pretrained(tmp_path)
    back = BertForSequenceClassification.from_pretrained(tmp_path).eval()       # no restore_grown_heads
    assert isinstance(back.classifier, GrownLinear) and back.classifier.blocks == (c, k)
    assert back.config.grown_heads == {"classifier": [c, k]} and back.num_labels == c + k
    for b, w in zip(batches, want):
        _assert_same_logits(_logits(back, b), w)
    same = back.classifier
    assert restore_grown_heads(back) is back and back.classifier is same          # idempotent: nothing to do
    restore_grown_heads(back)
    for b, w in zip(batches, want):
        _assert_same_logits(_logits(back, b), w)


def test_grown_twice_and_roberta_reload_bit_identical(tmp_path):
    model = _roberta(4)
    grow_classifier(model, ["x"], init="zeros")
    grow_classifier(model, ["y", "z"], init="mean")
    batch = _batch(5)
    batch["input_ids"][batch["attention_mask"] == 0] = 1
    want = _logits(model, batch)
    model.save_pretrained(tmp_path)
    back = RobertaForSequenceClassification.from_pretrained(tmp_path).eval()
    assert isinstance(back.classifier.out_proj, GrownLinear) and back.classifier.out_proj.blocks == (4, 1, 2)
    assert not isinstance(back.classifier.dense, GrownLinear)
    _assert_same_logits(_logits(back, batch), want)


@pytest.mark.parametrize("loader", ["class", "auto"])
def test_multitask_reload_bit_identical_without_restore(tmp_path, loader):
    from transformers import AutoModel

    from mtbert_ref.modeling.multitask import MtBertForMultiTask
    model = _multitask()
    grow_classifier(model, ["d", "e"], task="topic", init="random", generator=torch.Generator().manual_seed(0))
    batch = _batch(6)
    want = _logits(model, batch)
    model.save_pretrained(tmp_path)
    back = (MtBertForMultiTask if loader == "class" else AutoModel).from_pretrained(tmp_path).eval()
    assert isinstance(back.heads["topic"], GrownLinear) and back.heads["topic"].blocks == (3, 2)
    assert not isinstance(back.heads["tone"], GrownLinear)
    assert back.config.task_id2label("topic") == {0: "a", 1: "b", 2: "c", 3: "d", 4: "e"}
    _assert_same_logits(_logits(back, batch), want)
    restore_grown_heads(back)
    _assert_same_logits(_logits(back, batch), want)


def test_reload_in_a_fresh_process_bit_identical(tmp_path):
    """Nothing but importing the module is needed in the process that loads the folder."""
    import subprocess
    import sys
    model = _bert(3)
    grow_classifier(model, ["sports"], init="random", generator=torch.Generator().manual_seed(0))
    batch = _batch(7)
    model.save_pretrained(tmp_path / "model")
    torch.save({"batch": batch, "logits": _logits(model, batch)[""]}, tmp_path / "want.pt")
    code = ("import torch, mtbert_ref.modeling.grow; from transformers import BertForSequenceClassification as B; "
            f"m = B.from_pretrained({str(tmp_path / 'model')!r}).eval(); "
            f"w = torch.load({str(tmp_path / 'want.pt')!r}); "
            "print(type(m.classifier).__name__, torch.equal(m(**w['batch']).logits, w['logits']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "GrownLinear True"


def test_reload_at_another_size_gives_a_plain_head(tmp_path):
    """ignore_mismatched_sizes with another num_labels: the recorded blocks do not fit, the head stays plain."""
    model = _bert(3)
    grow_classifier(model, ["sports"])
    model.save_pretrained(tmp_path)
    back = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=6, ignore_mismatched_sizes=True)
    assert type(back.classifier) is nn.Linear and back.classifier.out_features == 6
    plain = BertForSequenceClassification(tiny_bert_config(num_labels=2))
    assert type(plain.classifier) is nn.Linear                              # configs without grown_heads: untouched


# ------------------------------------------------------------------------------------------ frozen rows, any optimizer
def _train_frozen(layer, opt, steps=6, n_old=4):
    torch.manual_seed(1)
    old = (layer.weight[:n_old].detach().clone(), layer.bias[:n_old].detach().clone())
    new = (layer.weight[n_old:].detach().clone(), layer.bias[n_old:].detach().clone())
    x, y = torch.randn(32, layer.in_features), torch.randint(0, layer.out_features, (32,))
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(layer(x), y).backward()
        opt.step()
    return old, new


@pytest.mark.parametrize("make_opt", [
    lambda p: torch.optim.AdamW(p, lr=0.1),                                       # default weight_decay=0.01
    lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.5, foreach=False),
    lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.5, fused=True),
    lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9, weight_decay=0.1),
    lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.1),
], ids=["adamw-default", "adamw-strong", "adamw-fused", "sgd-momentum-wd", "sgd-nesterov-wd", "adam-l2"])
def test_frozen_rows_bit_identical_under_weight_decay(make_opt):
    torch.manual_seed(0)
    g = grow_classifier(nn.Linear(12, 4), ["a", "b"], freeze_old=True)
    opt = make_opt(g.parameters())
    assert opt.param_groups[0]["weight_decay"] > 0
    (old_w, old_b), (new_w, new_b) = _train_frozen(g, opt)
    assert torch.equal(g.weight[:4], old_w) and torch.equal(g.bias[:4], old_b)
    assert not torch.equal(g.weight[4:], new_w) and not torch.equal(g.bias[4:], new_b)
    assert torch.equal(g.weight.grad[:4], torch.zeros(4, 12))


def test_frozen_rows_in_a_whole_model_under_adamw(tmp_path):
    model = _bert(3).train()
    grow_classifier(model, ["x", "y"], freeze_old=True)
    old_w, old_b = model.classifier.weight[:3].detach().clone(), model.classifier.bias[:3].detach().clone()
    enc_w = model.bert.pooler.dense.weight.detach().clone()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)                          # the encoder trains too
    for step in range(4):
        opt.zero_grad()
        model(**_batch(step), labels=torch.tensor([0, 3, 4, 1, 3, 4])).loss.backward()
        opt.step()
    assert torch.equal(model.classifier.weight[:3], old_w) and torch.equal(model.classifier.bias[:3], old_b)
    assert not torch.equal(model.bert.pooler.dense.weight, enc_w)
    assert "classifier.frozen_weight_rows" not in model.state_dict()             # the held copy is not saved
    model.save_pretrained(tmp_path)
    back = BertForSequenceClassification.from_pretrained(tmp_path)
    assert torch.equal(back.classifier.weight[:3], old_w)


def test_unfreeze_and_other_optimizers_leave_rows_alone():
    torch.manual_seed(0)
    g = grow_classifier(nn.Linear(12, 4), ["a"], freeze_old=True)
    other = nn.Linear(3, 3)
    with torch.no_grad():
        g.weight[0] += 1.0                                  # a deliberate edit while frozen ...
    opt_other = torch.optim.AdamW(other.parameters())
    other(torch.randn(2, 3)).sum().backward()
    opt_other.step()                                        # ... survives a step of an optimizer that does not hold g
    assert g.weight[0, 0] == g.frozen_weight_rows[0, 0] + 1.0
    unfreeze_rows(g)
    assert g.frozen_rows == 0 and "frozen_weight_rows" not in dict(g.named_buffers())
    before = g.weight[:4].detach().clone()
    _train_frozen(g, torch.optim.AdamW(g.parameters(), lr=0.1), steps=2)
    assert not torch.equal(g.weight[:4], before)            # unfrozen: the old rows train (and decay) again
    freeze_rows(g, 4)
    assert torch.equal(g.frozen_weight_rows, g.weight[:4])  # a new freeze keeps the values of that moment
    with pytest.raises(ValueError, match="n_old"):
        freeze_rows(g, 9)
