"""Tests of mtbert_ref.multitask (notebook 07): heads, task-masked loss, sampler, the PreTrainedModel, checkers."""
from __future__ import annotations

import itertools
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertForSequenceClassification, BertModel, Trainer, TrainingArguments

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.checking import GradingError, fresh_copy
from mtbert_ref.multitask import (
    IGNORE, MultiTaskCollator, MultiTaskConfig, MultiTaskDataset, MultiTaskLoader, MultiTaskModel, MultiTaskOutput,
    TaskSampler, TaskSpec, build_heads, check_build_heads, check_multitask_loss, check_task_sampler, evaluate_tasks,
    make_tasks, multitask_loss, summary_table,
)

CLASSIC = {"A": list("abcd"), "B": list("efgh"), "C": list("ijkl"), "D": list("mnop")}
MIXED = {"topic": ["sport", "politics", "science"], "tags": ("multi_label", ["x", "y", "z", "w"], 0.5),
         "score": ("regression", ["value"])}


def tiny_model(tasks=MIXED, seed=0, **cfg) -> MultiTaskModel:
    torch.manual_seed(seed)
    config = MultiTaskConfig(encoder=tiny_bert_config().to_dict(), tasks=[t.to_dict() for t in make_tasks(tasks)],
                             classifier_dropout=0.0, **cfg)
    return MultiTaskModel(config).eval()


def tiny_batch(batch=4, seq=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 99, (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[-1, seq - 3:] = 0
    ids[-1, seq - 3:] = 0
    return ids, mask


class ToyTokenizer:
    """Whitespace tokenizer on a fixed vocabulary (ids < 99), enough for the tiny config."""
    def __call__(self, texts, truncation=True, max_length=16, padding=False, return_tensors=None):
        ids = [[2] + [3 + (sum(map(ord, w)) % 90) for w in t.split()][:max_length - 2] + [4] for t in texts]
        if return_tensors == "pt":
            width = max(map(len, ids))
            mask = [[1] * len(x) + [0] * (width - len(x)) for x in ids]
            ids = [x + [0] * (width - len(x)) for x in ids]
            return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}
        return {"input_ids": ids}


# ----------------------------------------------------------------------------------------------- task spec
def test_classic_spec_four_tasks():
    tasks = make_tasks(CLASSIC)
    assert [t.name for t in tasks] == list("ABCD")
    assert all(t.kind == "multi_class" and t.num_outputs == 4 for t in tasks)
    assert tasks[3].id2label == {0: "m", 1: "n", 2: "o", 3: "p"}
    model = tiny_model(CLASSIC)
    ids, mask = tiny_batch()
    out = model(input_ids=ids, attention_mask=mask)
    assert set(out.logits) == set("ABCD") and all(v.shape == (4, 4) for v in out.logits.values())
    preds = model.predict(["one sentence in", "and another one"], tokenizer=ToyTokenizer())
    assert len(preds) == 2 and set(preds[0]) == set("ABCD")
    assert preds[0]["A"] in "abcd" and preds[1]["D"] in "mnop"


@pytest.mark.parametrize("bad, match", [
    ({"A": ["only"]}, "at least 2 labels"),
    ({"A": ["x", "x", "y"]}, "duplicate label"),
    ({"A": ("sideways", ["x", "y"])}, "kind must be one of"),
    ([{"name": "A", "labels": ["a", "b"]}, {"name": "A", "labels": ["c", "d"]}], "unique"),
    ({"A": {"labels": ["a", "b"], "weight": -1}}, "weight"),
])
def test_spec_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        make_tasks(bad)


def test_build_heads_and_duplicates():
    heads, id2label = build_heads(make_tasks(MIXED), 16)
    assert isinstance(heads, nn.ModuleDict) and list(heads) == ["topic", "tags", "score"]
    assert [(h.in_features, h.out_features) for h in heads.values()] == [(16, 3), (16, 4), (16, 1)]
    assert id2label["tags"] == {0: "x", 1: "y", 2: "z", 3: "w"}
    with pytest.raises(ValueError, match="named"):
        build_heads([TaskSpec("a", labels=["x", "y"]), TaskSpec("a", labels=["z", "w"])], 4)


# ----------------------------------------------------------------------------------------------- HF equivalence
def _copy_into_hf(model: MultiTaskModel, hf, task: str):
    state = {f"bert.{k}": v for k, v in model.encoder.state_dict().items()}
    state["classifier.weight"] = model.heads[task].weight
    state["classifier.bias"] = model.heads[task].bias
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and not [m for m in missing if "position_ids" not in m and "token_type_ids" not in m]
    return hf.eval()


@pytest.mark.parametrize("kind, problem_type, n", [("multi_class", "single_label_classification", 3),
                                                  ("multi_label", "multi_label_classification", 4),
                                                  ("regression", "regression", 1)])
def test_equals_bert_for_sequence_classification(kind, problem_type, n):
    """One task with pooler pooling is exactly BertForSequenceClassification (logits and loss)."""
    labels_names = [f"l{i}" for i in range(n)]
    model = tiny_model({"t": {"kind": kind, "labels": labels_names}}, pooling="pooler")
    hf = _copy_into_hf(model, BertForSequenceClassification(tiny_bert_config(num_labels=n, problem_type=problem_type)),
                       "t")
    ids, mask = tiny_batch()
    g = torch.Generator().manual_seed(3)
    if kind == "multi_class":
        y = torch.randint(0, n, (4,), generator=g)
    elif kind == "multi_label":
        y = (torch.rand(4, n, generator=g) < 0.5).float()
    else:
        y = torch.randn(4, generator=g)
    ours = model(input_ids=ids, attention_mask=mask, labels={"t": y})
    theirs = hf(input_ids=ids, attention_mask=mask, labels=y)
    assert (ours.logits["t"] - theirs.logits).abs().max() <= 1e-5
    assert abs(ours.loss.item() - theirs.loss.item()) <= 1e-5


def test_mean_pooling_equals_bertmodel():
    model = tiny_model(CLASSIC)
    bert = BertModel(tiny_bert_config(), add_pooling_layer=False)
    bert.load_state_dict(model.encoder.state_dict())
    ids, mask = tiny_batch()
    h = bert.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
    want = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    out = model(input_ids=ids, attention_mask=mask)
    assert (out.pooled - want).abs().max() <= 1e-5
    assert (out.logits["B"] - model.heads["B"](want)).abs().max() <= 1e-5
    # cached features give the same logits without the encoder
    again = model(features=want)
    assert all((again.logits[k] - out.logits[k]).abs().max() <= 1e-6 for k in out.logits)


# ----------------------------------------------------------------------------------------------- the loss
def _mixed_labels():
    return {"topic": torch.tensor([2, IGNORE, 0, IGNORE]),
            "tags": torch.tensor([[1., 0, 0, 1], [IGNORE] * 4, [0, 1, IGNORE, 0], [0, 0, 0, 0]]),
            "score": torch.tensor([[0.5], [float("nan")], [float("nan")], [-1.0]])}


def test_multitask_loss_masks_and_weights():
    tasks = make_tasks(MIXED)
    g = torch.Generator().manual_seed(0)
    logits = {t.name: torch.randn(4, t.num_outputs, generator=g, requires_grad=True) for t in tasks}
    labels = _mixed_labels()
    total, per = multitask_loss(logits, labels, tasks)
    want_topic = F.cross_entropy(logits["topic"][[0, 2]], torch.tensor([2, 0]))
    keep = labels["tags"] != IGNORE
    want_tags = F.binary_cross_entropy_with_logits(logits["tags"][keep], labels["tags"][keep])
    want_score = F.mse_loss(logits["score"][[0, 3]], labels["score"][[0, 3]])
    assert torch.allclose(per["topic"], want_topic) and torch.allclose(per["tags"], want_tags)
    assert torch.allclose(per["score"], want_score)
    assert torch.allclose(total, want_topic + 0.5 * want_tags + want_score)
    total.backward()
    # unlabelled rows receive no gradient
    assert logits["topic"].grad[[1, 3]].abs().sum() == 0
    assert logits["tags"].grad[1].abs().sum() == 0 and logits["tags"].grad[2, 2] == 0
    assert logits["score"].grad[[1, 2]].abs().sum() == 0


def test_multitask_loss_absent_and_empty_tasks():
    tasks = make_tasks(MIXED)
    logits = {t.name: torch.randn(2, t.num_outputs, requires_grad=True) for t in tasks}
    total, per = multitask_loss(logits, {"topic": torch.tensor([IGNORE, IGNORE])}, tasks)
    assert per == {} and total.item() == 0.0 and total.requires_grad
    total.backward()
    total, per = multitask_loss(logits, {"score": torch.tensor([1.0, 2.0])}, tasks)  # (batch,) regression
    assert list(per) == ["score"] and torch.isfinite(total)


def test_task_mask_equals_markers():
    model = tiny_model()
    ids, mask = tiny_batch()
    labels = _mixed_labels()
    full = {"topic": torch.tensor([2, 1, 0, 1]), "tags": torch.tensor([[1., 0, 0, 1], [0, 1, 1, 0], [0, 1, 1, 0],
                                                                       [0, 0, 0, 0]]),
            "score": torch.tensor([[0.5], [3.0], [3.0], [-1.0]])}
    tm = torch.tensor([[1, 1, 1], [0, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=torch.bool)
    a = model(input_ids=ids, attention_mask=mask, labels=full, task_mask=tm)
    labels["tags"][2, 2] = 1.0  # the mask cannot express single unknown entries; make the two batches agree
    b = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert isinstance(a, MultiTaskOutput) and torch.allclose(a.loss, b.loss)
    assert set(a.task_losses) == {"topic", "tags", "score"}


# ----------------------------------------------------------------------------------------------- sampler
def test_sampler_probabilities_and_draws():
    sizes = {"big": 900, "small": 100, "empty": 0}
    p = TaskSampler(sizes, "proportional").probabilities()
    assert p == pytest.approx({"big": 0.9, "small": 0.1, "empty": 0.0})
    t = TaskSampler(sizes, "temperature", temperature=2.0).probabilities()
    assert t["big"] == pytest.approx(30 / 40) and t["small"] == pytest.approx(10 / 40)
    assert TaskSampler(sizes, "temperature", temperature=1.0).probabilities() == pytest.approx(p)
    rr = TaskSampler(sizes, "round_robin")
    assert list(itertools.islice(iter(rr), 5)) == ["big", "small", "big", "small", "big"]
    draws = list(itertools.islice(iter(TaskSampler(sizes, "temperature", seed=5)), 4000))
    assert "empty" not in draws and abs(draws.count("small") / 4000 - 0.25) < 0.03
    assert draws[:300] == list(itertools.islice(iter(TaskSampler(sizes, "temperature", seed=5)), 300))
    for bad in [dict(strategy="x"), dict(strategy="temperature", temperature=0), dict(sizes={"a": 0})]:
        with pytest.raises(ValueError):
            TaskSampler(bad.pop("sizes", sizes), **bad)


def test_multitask_loader_and_collator_train():
    tasks = make_tasks(MIXED)
    tok = ToyTokenizer()
    rng = random.Random(0)
    texts = [" ".join(rng.choice(["red", "green", "blue", "cat", "dog"]) for _ in range(rng.randint(2, 8)))
             for _ in range(40)]
    targets = [{"topic": rng.choice(tasks[0].labels) if i % 2 == 0 else None,
                "tags": rng.sample(tasks[1].labels, rng.randint(0, 2)) if i % 3 else None,
                "score": float(len(texts[i].split())) if i < 10 else None} for i in range(40)]
    ds = MultiTaskDataset(texts, targets, tok, tasks)
    assert ds.task_sizes() == {"topic": 20, "tags": 26, "score": 10}
    collate = MultiTaskCollator(tasks)
    batch = collate([ds[i] for i in range(6)])
    assert batch["labels"]["topic"].tolist() == [tasks[0].label2id[targets[0]["topic"]], IGNORE,
                                                 tasks[0].label2id[targets[2]["topic"]], IGNORE,
                                                 tasks[0].label2id[targets[4]["topic"]], IGNORE]
    assert (batch["labels"]["tags"][0] == IGNORE).all() and torch.isnan(batch["labels"]["score"]).sum() == 0
    loaders = {t.name: torch.utils.data.DataLoader(ds.subset_for(t.name), batch_size=4, shuffle=True,
                                                   collate_fn=collate) for t in tasks}
    loader = MultiTaskLoader(loaders, TaskSampler(ds.task_sizes(), "temperature", 2.0, seed=0), num_steps=12)
    from mtbert_ref.trainer import train
    model = tiny_model()
    hist = train(model, loader, max_steps=12, lr=1e-3, progress=False)
    assert len(hist["loss"]) == 12 and len(set(loader.chosen)) == 3
    plain = torch.utils.data.DataLoader(ds, batch_size=8, collate_fn=collate)
    res = evaluate_tasks(model, plain)
    assert res["topic"]["n"] == 20 and res["tags"]["n"] == 26 and res["score"]["n"] == 10
    table = summary_table({"multi-task": res, "again": res}, tasks)
    assert list(table.index) == ["topic", "tags", "score"] and list(table["metric"]) == ["accuracy", "micro_f1", "mse"]
    assert (table["multi-task"] == table["again"]).all()


# ----------------------------------------------------------------------------------------------- transformers API
def test_init_head_biases_start_at_the_label_frequencies():
    model = tiny_model()
    head_w = {k: h.weight.clone() for k, h in model.heads.items()}
    score_bias = model.heads["score"].bias.clone()
    targets = [{"topic": "sport", "tags": ["x", "y"]}, {"topic": "sport", "tags": []}, {"topic": "science"},
               {"tags": ["x"], "score": 0.3}, {"topic": None, "tags": ["x", "z"]}]
    priors = model.init_head_biases(targets)
    assert set(priors) == {"topic", "tags"}                          # regression left alone
    ids, mask = tiny_batch()
    with torch.no_grad():
        feats = torch.zeros(2, model.config.encoder.hidden_size)     # zero features: the bias alone speaks
        out = model(features=feats)
    assert torch.allclose(out.logits["topic"].softmax(-1)[0], torch.tensor([2 / 3, 1e-3, 1 / 3]), atol=2e-3)
    assert torch.allclose(torch.sigmoid(out.logits["tags"][0]), torch.tensor([0.75, 0.25, 0.25, 1e-3]), atol=1e-6)
    assert torch.equal(model.heads["score"].bias, score_bias)
    assert all(torch.equal(model.heads[k].weight, w) for k, w in head_w.items())
    with pytest.raises(ValueError, match="unknown label"):
        model.init_head_biases([{"topic": "cooking"}])
    with pytest.raises(ValueError, match="no labelled example"):
        model.init_head_biases([{"tags": ["x"]}])


def test_save_pretrained_round_trip(tmp_path):
    model = tiny_model(shared_layer_size=8)
    ids, mask = tiny_batch()
    before = model(input_ids=ids, attention_mask=mask, labels=_mixed_labels())
    model.save_pretrained(tmp_path)
    again = MultiTaskModel.from_pretrained(tmp_path).eval()
    after = again(input_ids=ids, attention_mask=mask, labels=_mixed_labels())
    for k in before.logits:
        assert torch.equal(before.logits[k], after.logits[k])
    assert torch.equal(before.loss, after.loss)
    a, b = model.config.to_dict(), again.config.to_dict()
    for d in (a, b):
        d.pop("_name_or_path", None)
        d["encoder"].pop("dtype", None)
    assert a == b
    assert again.config.model_type == "mtbert-multitask"
    assert again.config.task_id2label("tags") == {0: "x", 1: "y", 2: "z", 3: "w"}
    from transformers import AutoModel
    assert isinstance(AutoModel.from_pretrained(tmp_path), MultiTaskModel)


def test_grow_one_task_survives_reload(tmp_path):
    """What the label-growing helper does: more rows in one head, new id2label; the config follows on reload."""
    model = tiny_model()
    head = model.heads["topic"]
    new = nn.Linear(head.in_features, head.out_features + 1)
    with torch.no_grad():
        new.weight[:-1] = head.weight
        new.bias[:-1] = head.bias
    model.heads["topic"] = new
    model.config.set_task_labels("topic", ["sport", "politics", "science", "music"])
    model.save_pretrained(tmp_path)
    again = MultiTaskModel.from_pretrained(tmp_path)
    assert again.heads["topic"].out_features == 4
    assert again.config.task_id2label("topic")[3] == "music"


def test_trainer_smoke(tmp_path):
    tasks = make_tasks(MIXED)
    rng = random.Random(1)
    texts = [" ".join(rng.choice(["a", "b", "c", "d"]) for _ in range(5)) for _ in range(16)]
    targets = [{"topic": rng.choice(tasks[0].labels), "tags": [rng.choice(tasks[1].labels)] if i % 2 else None}
               for i in range(16)]
    ds = MultiTaskDataset(texts, targets, ToyTokenizer(), tasks)
    model = tiny_model()
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4, report_to="none",
                             learning_rate=1e-3, logging_steps=1, save_strategy="no", use_cpu=True,
                             remove_unused_columns=False, disable_tqdm=True)
    before = model.heads["topic"].weight.detach().clone()
    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=MultiTaskCollator(tasks))
    result = trainer.train()
    assert result.global_step == 3 and torch.isfinite(torch.tensor(result.training_loss))
    assert not torch.equal(before, model.heads["topic"].weight.detach())


def test_from_encoder_minilm():
    model = MultiTaskModel.from_encoder(None, CLASSIC)
    assert model.config.encoder.hidden_size == 384 and list(model.heads) == list("ABCD")
    preds = model.predict(["A terminal text editor."])
    assert set(preds[0]) == set("ABCD") and preds[0]["C"] in "ijkl"


# ----------------------------------------------------------------------------------------------- checkers
def test_checkers_accept_the_reference_copy():
    check_build_heads(fresh_copy(build_heads), hidden_tests=True)
    check_multitask_loss(fresh_copy(multitask_loss), hidden_tests=True)
    check_task_sampler(fresh_copy(TaskSampler), hidden_tests=True)


def test_checkers_reject_the_reference_itself():
    with pytest.raises(GradingError, match="reference implementation"):
        check_build_heads(build_heads)


def _heads_shared(tasks, hidden_size):
    one = nn.Linear(hidden_size, max(len(t.labels) for t in tasks))
    return nn.ModuleDict({t.name: one for t in tasks}), {t.name: dict(enumerate(t.labels)) for t in tasks}


def _heads_dict(tasks, hidden_size):
    return {t.name: nn.Linear(hidden_size, len(t.labels)) for t in tasks}, {t.name: dict(enumerate(t.labels))
                                                                            for t in tasks}


def _heads_swapped(tasks, hidden_size):
    return nn.ModuleDict({t.name: nn.Linear(len(t.labels), hidden_size) for t in tasks}), \
        {t.name: dict(enumerate(t.labels)) for t in tasks}


def _heads_label2id(tasks, hidden_size):
    return nn.ModuleDict({t.name: nn.Linear(hidden_size, len(t.labels)) for t in tasks}), \
        {t.name: {lab: i for i, lab in enumerate(t.labels)} for t in tasks}


def _heads_no_dup_check(tasks, hidden_size):
    heads = nn.ModuleDict()
    for t in tasks:
        heads[t.name] = nn.Linear(hidden_size, len(t.labels))
    return heads, {t.name: dict(enumerate(t.labels)) for t in tasks}


@pytest.mark.parametrize("wrong, match", [
    (_heads_shared, "Linear\\(32, 4\\)|shares its weight"),
    (_heads_dict, "nn.ModuleDict"),
    (_heads_swapped, "is Linear\\(4, 32\\)"),
    (_heads_label2id, "id2label\\['A'\\]"),
])
def test_check_build_heads_rejects(wrong, match):
    with pytest.raises(GradingError, match=match):
        check_build_heads(wrong)


def test_check_build_heads_hidden_wants_duplicate_error():
    check_build_heads(_heads_no_dup_check)  # visible tests pass
    with pytest.raises(GradingError, match="ValueError"):
        check_build_heads(_heads_no_dup_check, hidden_tests=True)


def _make_loss(variant):
    def loss(logits, labels, tasks):
        per, total = {}, None
        for t in tasks:
            if t.name not in labels:
                continue
            z, y = logits[t.name], labels[t.name]
            if t.kind == "multi_class":
                known = y != -100
                if variant == "nan_empty" or known.any():
                    l_ = F.cross_entropy(z[known], y[known])
                else:
                    continue
            elif t.kind == "multi_label":
                if variant == "no_ml_mask":
                    l_ = F.binary_cross_entropy_with_logits(z, y.float())
                else:
                    known = y != -100
                    if not known.any():
                        continue
                    l_ = F.binary_cross_entropy_with_logits(z[known], y[known])
            else:
                y = y.reshape(z.shape)
                known = ~torch.isnan(y)
                if not known.any():
                    continue
                l_ = F.mse_loss(z[known], y[known])
            per[t.name] = l_
            w = 1.0 if variant == "no_weights" else t.weight
            total = w * l_ if total is None else total + w * l_
        if variant == "mean_tasks" and per:
            total = total / len(per)
        if total is None:
            total = sum(z.sum() for z in logits.values()) * 0.0
        return total, per
    return loss


@pytest.mark.parametrize("variant, match", [
    ("no_weights", "weights are ignored"),
    ("mean_tasks", "averaged over tasks"),
    ("no_ml_mask", "per_task\\['tags'\\].*not -100"),
    ("nan_empty", "per_task has entries for|NaN"),
])
def test_check_multitask_loss_rejects(variant, match):
    with pytest.raises(GradingError, match=match):
        check_multitask_loss(_make_loss(variant), hidden_tests=True)


def test_check_multitask_loss_accepts_a_student_version():
    check_multitask_loss(_make_loss("right"), hidden_tests=True)


def _make_sampler(variant):
    class Sampler:
        def __init__(self, sizes, strategy="proportional", temperature=2.0, seed=0):
            if strategy not in ("proportional", "temperature", "round_robin"):
                raise ValueError(strategy)
            if strategy == "temperature" and temperature <= 0:
                raise ValueError(temperature)
            self.sizes, self.strategy, self.t = dict(sizes), strategy, temperature
            self.rng = random.Random(seed) if variant != "global_rng" else random

        def probabilities(self):
            if self.strategy == "round_robin":
                k = sum(v > 0 for v in self.sizes.values())
                return {n: (1 / k if v > 0 else 0.0) for n, v in self.sizes.items()}
            power = 1.0 if self.strategy == "proportional" else (self.t if variant == "t_not_inverse" else 1 / self.t)
            w = {n: v ** power if v > 0 else 0.0 for n, v in self.sizes.items()}
            s = sum(w.values())
            return {n: x / s for n, x in w.items()}

        def __iter__(self):
            if self.strategy == "round_robin":
                names = [n for n, v in self.sizes.items() if v > 0]
                if variant == "rr_random":
                    while True:
                        yield self.rng.choice(names)
                yield from itertools.cycle(names)
            p = self.probabilities()
            names = list(p)
            while True:
                if variant == "uniform_draws":
                    yield self.rng.choice([n for n in names if p[n] > 0])
                else:
                    yield self.rng.choices(names, weights=[p[n] for n in names])[0]
    return Sampler


@pytest.mark.parametrize("variant, match", [
    ("t_not_inverse", "n_i \\*\\* \\(1 / T\\)"),
    ("rr_random", "first draws"),
    ("uniform_draws", "of the time"),
    ("global_rng", "different sequences"),
])
def test_check_task_sampler_rejects(variant, match):
    random.seed(123)
    with pytest.raises(GradingError, match=match):
        check_task_sampler(_make_sampler(variant))


def test_check_task_sampler_accepts_a_student_version():
    check_task_sampler(_make_sampler("right"), hidden_tests=True)
