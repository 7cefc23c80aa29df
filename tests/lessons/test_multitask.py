"""Tests of mtbert_ref.lessons.multitask (notebook 07): sampler, loader, dataset, collator, metrics, Trainer."""
from __future__ import annotations

import itertools
import random

import pytest
import torch
from transformers import Trainer, TrainingArguments

from mtbert_ref.lessons.multitask import (
    MultiTaskCollator, MultiTaskDataset, MultiTaskLoader, TaskSampler, evaluate_tasks, summary_table,
)
from mtbert_ref.modeling.multitask import IGNORE, make_tasks
from modeling.test_multitask import MIXED, ToyTokenizer, tiny_model  # noqa: E402  (tests/modeling helpers)


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


def test_trainer_needs_no_collator(tmp_path):
    """Trainer(model, args, train_dataset, eval_dataset) with nothing else: the items stack, the model unpacks."""
    tasks = make_tasks(MIXED)
    rng = random.Random(2)
    texts = [" ".join(rng.choice(["a", "b", "c", "d"]) for _ in range(rng.randint(2, 7))) for _ in range(16)]
    targets = [{"topic": rng.choice(tasks[0].labels) if i % 3 else None,
                "tags": rng.sample(tasks[1].labels, rng.randint(0, 2)) if i % 2 else None,
                "score": float(i) if i < 6 else None} for i in range(16)]
    ds = MultiTaskDataset(texts, targets, ToyTokenizer(), tasks, max_length=12)
    model = tiny_model()
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4, report_to="none",
                             learning_rate=1e-3, save_strategy="no", use_cpu=True, disable_tqdm=True)
    before = {n: model.heads[n].weight.detach().clone() for n in model.heads}
    trainer = Trainer(model=model, args=args, train_dataset=ds, eval_dataset=ds)
    result = trainer.train()
    assert result.global_step == 3 and torch.isfinite(torch.tensor(result.training_loss))
    assert all(not torch.equal(before[n], model.heads[n].weight.detach()) for n in model.heads)
    assert torch.isfinite(torch.tensor(trainer.evaluate()["eval_loss"]))


def test_packed_items_give_the_collators_loss():
    """The same loss from the default stacking collator (packed labels) and from MultiTaskCollator (a dict, cut)."""
    from transformers import default_data_collator
    tasks = make_tasks(MIXED)
    texts = ["a b c", "d", "a a a a a", "b c"]
    targets = [{"topic": tasks[0].labels[1], "tags": [tasks[1].labels[0]]}, {"score": 2.5},
               {"tags": []}, {"topic": tasks[0].labels[0], "score": -1.0}]
    ds = MultiTaskDataset(texts, targets, ToyTokenizer(), tasks, max_length=10)
    items = [ds[i] for i in range(4)]
    assert all(it["input_ids"].shape == (10,) and it["labels"].dtype == torch.float32 for it in items)
    plain, cut = default_data_collator(items), MultiTaskCollator(tasks)(items)
    assert cut["input_ids"].shape == (4, 7) and plain["input_ids"].shape == (4, 10)
    assert cut["labels"]["topic"].tolist() == [1, IGNORE, IGNORE, 0]
    assert cut["labels"]["tags"][2].tolist() == [0.0] * len(tasks[1].labels)
    model = tiny_model().eval()
    assert torch.allclose(model(**plain).loss, model(**cut).loss, atol=1e-6)
    with pytest.raises(ValueError, match=r"packed labels should have shape \(batch, 6\).*got \(4, 2\)"):
        model(input_ids=plain["input_ids"], attention_mask=plain["attention_mask"], labels=plain["labels"][:, :2])


@pytest.mark.parametrize("target, err, match", [
    ({"topci": "sport"}, KeyError, "topci"),
    ({"tags": "x"}, TypeError, "'tags' is multi_label.*string"),
    ({"topic": ["sport"]}, TypeError, "'topic' is multi_class.*list"),
    ({"topic": "nope"}, KeyError, "'topic' has no label 'nope'"),
    ({"score": [1.0, 2.0]}, ValueError, "'score' is regression.*expected 1 value"),
])
def test_dataset_bad_targets_name_the_task(target, err, match):
    with pytest.raises(err, match=match):
        MultiTaskDataset(["a b"], [target], ToyTokenizer(), make_tasks(MIXED))


def test_collator_and_dataset_errors():
    with pytest.raises(ValueError, match="empty batch"):
        MultiTaskCollator(make_tasks(MIXED))([])
    with pytest.raises(TypeError, match="list of TaskSpec.*make_tasks"):
        MultiTaskCollator(MIXED)
    with pytest.raises(TypeError, match="list of TaskSpec.*make_tasks"):
        MultiTaskDataset(["a b"], [{}], ToyTokenizer(), MIXED)
