"""Notebook 07 — the data side of multi-task training (exercise 3: :class:`TaskSampler`).

:class:`TaskSampler` chooses the task of each batch when datasets differ in size (proportional, temperature
p ∝ n^(1/T), round-robin); :class:`MultiTaskLoader` draws batches from per-task loaders with it;
:class:`MultiTaskDataset` / :class:`MultiTaskCollator` turn texts and ``{task: label names}`` into batches in the
loss format; :func:`task_metrics`, :func:`evaluate_tasks` and :func:`summary_table` measure every task.
"""
from __future__ import annotations

import itertools
import random
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from ..data import PaddingCollator
from ..modeling.multitask import IGNORE, MtBertForMultiTask, TaskSpec
from ..modeling.tasks import labelled_rows, pack_row, unpack_labels

__all__ = ["TaskSampler", "MultiTaskLoader", "MultiTaskDataset", "MultiTaskCollator", "task_metrics", "MAIN_METRIC",
           "evaluate_tasks", "summary_table"]


# ============================================================================================== exercise 3
class TaskSampler:
    """Choose the task of each training batch when the tasks' datasets have different sizes.

    sizes: ``{task name: number of training examples}`` (a size-0 task is never chosen).
    strategy:
      * ``"proportional"`` — p_i = n_i / sum(n): every example is seen equally often; big tasks dominate.
      * ``"temperature"`` — p_i ∝ n_i ** (1 / temperature): T=1 is proportional, T→∞ uniform; T≈2–5 lifts small tasks.
      * ``"round_robin"`` — A, B, C, A, B, C, ... in the order of ``sizes``: every task equally often.
    Iterating yields task names forever (take what you need with ``itertools.islice``); random draws come from a
    ``random.Random(seed)`` owned by the sampler, so two samplers with the same seed give the same sequence.
    """

    STRATEGIES = ("proportional", "temperature", "round_robin")

    def __init__(self, sizes: Mapping[str, int], strategy: str = "proportional", temperature: float = 2.0,
                 seed: int = 0):
        if strategy not in self.STRATEGIES:
            raise ValueError(f"strategy must be one of {self.STRATEGIES}, got {strategy!r}")
        if strategy == "temperature" and not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if any(n < 0 for n in sizes.values()):
            raise ValueError(f"dataset sizes must be >= 0, got {dict(sizes)}")
        if not any(n > 0 for n in sizes.values()):
            raise ValueError(f"at least one task needs a non-empty dataset, got {dict(sizes)}")
        self.sizes = dict(sizes)
        self.strategy = strategy
        self.temperature = float(temperature)
        self.seed = seed
        self._rng = random.Random(seed)

    def probabilities(self) -> dict[str, float]:
        """{task: probability that a batch comes from it} (round-robin: the long-run share, uniform)."""
        names = list(self.sizes)
        n = np.array([float(self.sizes[k]) for k in names])
        if self.strategy == "proportional":
            w = n
        elif self.strategy == "temperature":
            w = np.where(n > 0, n ** (1.0 / self.temperature), 0.0)
        else:
            w = (n > 0).astype(float)
        w = w / w.sum()
        return {k: float(p) for k, p in zip(names, w)}

    def __iter__(self) -> Iterator[str]:
        if self.strategy == "round_robin":
            order = [k for k, v in self.sizes.items() if v > 0]
            yield from itertools.cycle(order)
            return
        probs = self.probabilities()
        names = [k for k in probs if probs[k] > 0]
        weights = [probs[k] for k in names]
        while True:
            yield self._rng.choices(names, weights=weights, k=1)[0]


class MultiTaskLoader:
    """Batches from several per-task loaders, the task of each batch chosen by a :class:`TaskSampler`.

    loaders: ``{task name: DataLoader}`` (an exhausted loader restarts, so a small task can be seen several
    times per "epoch" of a big one); yields ``num_steps`` batches. Each batch comes from one task's loader, so its
    labels dict holds that task only: the loss of the other tasks is simply absent for that step.
    """

    def __init__(self, loaders: Mapping[str, Iterable], sampler: TaskSampler, num_steps: int):
        missing = [k for k in sampler.sizes if sampler.sizes[k] > 0 and k not in loaders]
        if missing:
            raise ValueError(f"the sampler can choose {missing} but no loader was given for it")
        self.loaders = dict(loaders)
        self.sampler = sampler
        self.num_steps = int(num_steps)
        self.chosen: list[str] = []

    def __len__(self) -> int:
        return self.num_steps

    def __iter__(self):
        its = {k: iter(v) for k, v in self.loaders.items()}
        for task in itertools.islice(iter(self.sampler), self.num_steps):
            try:
                batch = next(its[task])
            except StopIteration:
                its[task] = iter(self.loaders[task])
                batch = next(its[task])
            self.chosen.append(task)
            yield batch


# ============================================================================================== data
def _task_list(tasks) -> list[TaskSpec]:
    """``tasks`` as a list of TaskSpec; a spec dict (or anything else) is a TypeError that says what to do."""
    if isinstance(tasks, Mapping) or isinstance(tasks, str):
        raise TypeError(f"expected a list of TaskSpec, got a {type(tasks).__name__}; turn a spec dict into one with "
                        "make_tasks(spec)")
    tasks = list(tasks)
    bad = [t for t in tasks if not isinstance(t, TaskSpec)]
    if bad:
        raise TypeError(f"expected a list of TaskSpec, got an item {bad[0]!r}; use make_tasks(spec)")
    return tasks


class MultiTaskDataset(torch.utils.data.Dataset):
    """Tokenised texts with per-task targets given by label *names*, ready for ``Trainer`` as they are.

    targets[i] is ``{task: target}`` where target is a label name (multi_class), a list of label names
    (multi_label), a float or list of floats (regression, one per output name), or None / absent when example i is
    not labelled for that task. Every item is a dict of tensors of one fixed width: ``input_ids``,
    ``attention_mask`` (and ``token_type_ids`` when the tokenizer gives them) padded to ``max_length``, and
    ``labels``, every task's targets packed side by side in one float row
    (:func:`mtbert_ref.modeling.tasks.unpack_labels` says the layout; the model unpacks it). So a plain stacking
    collator batches them, and ``Trainer(model=model, args=args, train_dataset=ds)`` trains with no collator
    given. :class:`MultiTaskCollator` batches the same items with dynamic padding (cut to the longest example of
    the batch) and labels as a ``{task: tensor}`` dict.
    """

    def __init__(self, texts: Sequence[str], targets: Sequence[Mapping[str, Any]], tokenizer,
                 tasks: Sequence[TaskSpec], max_length: int = 64):
        if isinstance(texts, str):
            raise TypeError("texts should be a list of strings, got one string")
        if len(texts) != len(targets):
            raise ValueError(f"{len(texts)} texts but {len(targets)} target dicts")
        self.tasks = _task_list(tasks)
        names = {t.name for t in self.tasks}
        for i, tg in enumerate(targets):
            unknown = [k for k in tg if k not in names]
            if unknown:
                raise KeyError(f"targets[{i}] names task(s) {unknown} that do not exist; the tasks are "
                               f"{[t.name for t in self.tasks]}")
        self.targets = [{t.name: self._encode(t, tg.get(t.name)) for t in self.tasks} for tg in targets]
        enc = tokenizer(list(texts), truncation=True, max_length=max_length)
        tokens = [{"input_ids": enc["input_ids"][i], "attention_mask": [1] * len(enc["input_ids"][i]),
                   **({"token_type_ids": enc["token_type_ids"][i]} if "token_type_ids" in enc else {})}
                  for i in range(len(texts))]
        pad_id = getattr(tokenizer, "pad_token_id", None) or 0
        self.features = PaddingCollator(pad_id, pad_to=max_length)(tokens) if tokens else {}
        self.labels = torch.tensor([pack_row(self.tasks, tg) for tg in self.targets], dtype=torch.float32)

    @staticmethod
    def _encode(task: TaskSpec, target):
        if target is None:
            return None
        lab2id = task.label2id
        if task.kind == "multi_class" and isinstance(target, (list, tuple, set)):
            raise TypeError(f"task {task.name!r} is multi_class: expected one label name, got the list {target!r}")
        if task.kind == "multi_label" and isinstance(target, str):
            raise TypeError(f"task {task.name!r} is multi_label: expected a list of label names, got the string "
                            f"{target!r} (write [{target!r}])")
        if task.kind == "multi_class":
            if target not in lab2id:
                raise KeyError(f"task {task.name!r} has no label {target!r}; its labels are {task.labels}")
            return lab2id[target]
        if task.kind == "multi_label":
            bad = [x for x in target if x not in lab2id]
            if bad:
                raise KeyError(f"task {task.name!r} has no labels {bad}; its labels are {task.labels}")
            return [lab2id[x] for x in target]
        values = [float(target)] if not isinstance(target, (list, tuple)) else [float(x) for x in target]
        if len(values) != len(task.labels):
            raise ValueError(f"task {task.name!r} is regression with outputs {task.labels}: expected "
                             f"{len(task.labels)} value(s), got {len(values)}")
        return values

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> dict:
        return {**{k: v[i] for k, v in self.features.items()}, "labels": self.labels[i]}

    def task_sizes(self) -> dict[str, int]:
        """Number of examples labelled for each task."""
        return {t.name: sum(tg[t.name] is not None for tg in self.targets) for t in self.tasks}

    def subset_for(self, task: str) -> "torch.utils.data.Subset":
        """The examples labelled for ``task`` (to build one loader per task for :class:`MultiTaskLoader`)."""
        if task not in {t.name for t in self.tasks}:
            raise KeyError(f"no task {task!r}; the tasks are {[t.name for t in self.tasks]}")
        idx = [i for i, tg in enumerate(self.targets) if tg[task] is not None]
        return torch.utils.data.Subset(self, idx)


class MultiTaskCollator:
    """Batch :class:`MultiTaskDataset` items with dynamic padding and a ``labels`` dict in the loss format.

    The items' fixed-width rows are stacked and cut to the longest example of the batch; the packed labels become
    ``{task: tensor}``: multi_class → (batch,) int64, -100 where unlabelled; multi_label → (batch, L) float
    multi-hot, rows of -100 where unlabelled; regression → (batch, L) float, NaN where unlabelled. A task with no
    labelled example in the batch is left out of ``labels`` when ``drop_empty_tasks``. (``pad_token_id`` is kept
    for old call sites: the dataset has already padded with its tokenizer's pad id.)
    """

    def __init__(self, tasks: Sequence[TaskSpec], pad_token_id: int = 0, drop_empty_tasks: bool = True):
        self.tasks = _task_list(tasks)
        self.pad_token_id = pad_token_id
        self.drop_empty_tasks = drop_empty_tasks

    def __call__(self, examples: Sequence[dict]) -> dict:
        if len(examples) == 0:
            raise ValueError("MultiTaskCollator got an empty batch: expected a non-empty list of dataset items")
        batch = {k: torch.stack([ex[k] for ex in examples]) for k in examples[0]}
        width = int(batch["attention_mask"].sum(dim=1).max())
        for k in ("input_ids", "attention_mask", "token_type_ids"):
            if k in batch:
                batch[k] = batch[k][:, :width]
        labels = unpack_labels(batch["labels"], self.tasks)
        if self.drop_empty_tasks:
            labels = {t.name: labels[t.name] for t in self.tasks if labelled_rows(t, labels[t.name]).any()}
        batch["labels"] = labels
        return batch


# ============================================================================================== metrics
def task_metrics(task: TaskSpec, logits: torch.Tensor, labels: torch.Tensor, threshold: float = 0.5) -> dict:
    """Quality of one task on the labelled examples: multi-class accuracy and macro-F1; multi-label micro/macro-F1
    and exact match (sigmoid ≥ threshold); regression MSE and MAE. ``n`` is the number of labelled examples."""
    from sklearn.metrics import f1_score
    z = logits.detach().float().cpu()
    y = labels.detach().cpu()
    if task.kind == "multi_class":
        keep = labelled_rows(task, y)
        if not keep.any():
            return {"n": 0}
        pred, gold = z[keep].argmax(-1).numpy(), y[keep].numpy()
        return {"n": int(keep.sum()), "accuracy": float((pred == gold).mean()),
                "macro_f1": float(f1_score(gold, pred, average="macro", labels=list(range(z.shape[1])),
                                           zero_division=0))}
    if task.kind == "multi_label":
        keep = labelled_rows(task, y)
        if not keep.any():
            return {"n": 0}
        pred = (torch.sigmoid(z[keep]) >= threshold).numpy().astype(int)
        gold = y[keep].clamp(min=0).numpy().astype(int)
        return {"n": int(keep.sum()),
                "micro_f1": float(f1_score(gold, pred, average="micro", zero_division=0)),
                "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
                "exact_match": float((pred == gold).all(-1).mean())}
    y = y.float().reshape(z.shape)
    keep = ~torch.isnan(y)
    if not keep.any():
        return {"n": 0}
    d = z[keep] - y[keep]
    return {"n": int(keep.any(-1).sum()), "mse": float((d ** 2).mean()), "mae": float(d.abs().mean())}


MAIN_METRIC = {"multi_class": "accuracy", "multi_label": "micro_f1", "regression": "mse"}


def _cat_labels(chunks: list, task: TaskSpec, sizes: list[int]) -> torch.Tensor:
    parts = []
    for c, n in zip(chunks, sizes):
        if c is None:
            shape = (n,) if task.kind == "multi_class" else (n, len(task.labels))
            fill = IGNORE if task.kind != "regression" else float("nan")
            c = torch.full(shape, fill, dtype=torch.long if task.kind == "multi_class" else torch.float)
        parts.append(c.cpu())
    return torch.cat(parts)


@torch.no_grad()
def evaluate_tasks(model: MtBertForMultiTask, loader: Iterable, device="cpu", threshold: float = 0.5,
                   tasks: Sequence[TaskSpec] | None = None) -> dict[str, dict]:
    """Run ``model`` over ``loader`` (batches from :class:`MultiTaskCollator`, or dicts with ``features``) and
    return ``{task: task_metrics(...)}``."""
    from ..trainer import move_to
    model.eval().to(device)
    specs = list(tasks or model.task_specs)
    logits = {t.name: [] for t in specs}
    labels = {t.name: [] for t in specs}
    sizes = []
    for batch in loader:
        batch = move_to(batch, device)
        lab = batch.pop("labels", {})
        out = model(**batch)
        n = next(iter(out.logits.values())).shape[0]
        sizes.append(n)
        for t in specs:
            logits[t.name].append(out.logits[t.name].float().cpu())
            labels[t.name].append(lab.get(t.name))
    return {t.name: task_metrics(t, torch.cat(logits[t.name]), _cat_labels(labels[t.name], t, sizes), threshold)
            for t in specs}


def summary_table(results: Mapping[str, Mapping[str, dict]], tasks: Sequence[TaskSpec] | None = None):
    """A pandas DataFrame, one row per task, one column per model (the task's main metric: accuracy for
    multi-class, micro-F1 for multi-label, MSE for regression), plus the metric's name and the number of test
    examples. ``results`` is ``{model name: {task: metrics}}``."""
    import pandas as pd
    kinds = {t.name: t.kind for t in tasks} if tasks else {}
    rows = []
    task_names = list(dict.fromkeys(k for res in results.values() for k in res))
    for task in task_names:
        any_m = next(res[task] for res in results.values() if task in res)
        kind = kinds.get(task) or ("multi_class" if "accuracy" in any_m else
                                   "multi_label" if "micro_f1" in any_m else "regression")
        metric = MAIN_METRIC[kind]
        row = {"task": task, "kind": kind, "metric": metric, "n": any_m.get("n", 0)}
        for model_name, res in results.items():
            row[model_name] = res.get(task, {}).get(metric, float("nan"))
        rows.append(row)
    return pd.DataFrame(rows).set_index("task")
