"""Notebook 07 — the task spec of a multi-task model and its heads (exercise 1: :func:`build_heads`).

A :class:`TaskSpec` declares one task on top of the shared encoder: name, kind (``multi_class`` /
``multi_label`` / ``regression``), label names and loss weight. :func:`make_tasks` normalises the accepted spellings
of a spec into a list of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch
from torch import nn

from .losses import IGNORE_INDEX

__all__ = ["TASK_KINDS", "TaskSpec", "make_tasks", "build_heads", "packed_width", "pack_row", "unpack_labels", "labelled_rows"]

TASK_KINDS = ("multi_class", "multi_label", "regression")
_KIND_ALIASES = {"multi_class": "multi_class", "multiclass": "multi_class", "single_label": "multi_class",
                 "single_label_classification": "multi_class", "classification": "multi_class",
                 "multi_label": "multi_label", "multilabel": "multi_label",
                 "multi_label_classification": "multi_label", "regression": "regression"}


# ============================================================================================== task specs
@dataclass
class TaskSpec:
    """One task on top of the shared encoder.

    name: a key such as ``"section"``; kind: ``"multi_class"`` (exactly one label per example, softmax +
    cross-entropy), ``"multi_label"`` (any subset of the labels, one sigmoid + binary cross-entropy per label) or
    ``"regression"`` (one real number per label name, mean squared error); labels: the label names (for regression
    the names of the outputs, default ``["value"]``); weight: this task's factor in the total loss.
    """
    name: str
    kind: str = "multi_class"
    labels: list = field(default_factory=list)
    weight: float = 1.0

    def __post_init__(self):
        kind = _KIND_ALIASES.get(str(self.kind).lower().replace("-", "_"))
        if kind is None:
            raise ValueError(f"task {self.name!r}: kind must be one of {TASK_KINDS}, got {self.kind!r}")
        self.kind = kind
        self.name = str(self.name)
        self.labels = [str(x) for x in (self.labels or (["value"] if kind == "regression" else []))]
        if not self.labels:
            raise ValueError(f"task {self.name!r} ({kind}) needs at least one label name")
        if len(set(self.labels)) != len(self.labels):
            dup = sorted({x for x in self.labels if self.labels.count(x) > 1})
            raise ValueError(f"task {self.name!r} has duplicate label names: {dup}")
        if kind == "multi_class" and len(self.labels) < 2:
            raise ValueError(f"task {self.name!r}: a multi-class task needs at least 2 labels, got {self.labels}")
        self.weight = float(self.weight)
        if not self.weight >= 0:
            raise ValueError(f"task {self.name!r}: weight must be >= 0, got {self.weight}")

    @property
    def num_outputs(self) -> int:
        """Width of this task's head: one logit per label (one output per name for regression)."""
        return len(self.labels)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {lab: i for i, lab in enumerate(self.labels)}

    @property
    def packed_width(self) -> int:
        """Columns this task takes in a packed label row (:func:`unpack_labels`): 1 for multi-class, else L."""
        return 1 if self.kind == "multi_class" else len(self.labels)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "labels": list(self.labels), "weight": self.weight}


def make_tasks(spec) -> list[TaskSpec]:
    """Normalise a task spec into a list of :class:`TaskSpec`.

    Accepted: a list of TaskSpec or of dicts ``{"name", "kind", "labels", "weight"}``; or a mapping
    ``name -> labels`` (multi-class), ``name -> (kind, labels)``, ``name -> (kind, labels, weight)`` or
    ``name -> {"kind": ..., "labels": ..., "weight": ...}``. Task names must be unique.
    """
    tasks: list[TaskSpec] = []
    if isinstance(spec, Mapping):
        for name, val in spec.items():
            if isinstance(val, TaskSpec):
                tasks.append(TaskSpec(**{**val.to_dict(), "name": name}))
            elif isinstance(val, Mapping):
                tasks.append(_spec_from_dict({**dict(val), "name": name}))
            elif isinstance(val, tuple) and val and isinstance(val[0], str) and len(val) in (2, 3) \
                    and not isinstance(val[1], str):
                tasks.append(TaskSpec(name, val[0], list(val[1]), *(val[2:] or ())))
            else:
                tasks.append(TaskSpec(name, "multi_class", list(val)))
    else:
        for t in spec:
            tasks.append(t if isinstance(t, TaskSpec) else _spec_from_dict(dict(t)))
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be unique, got {names}")
    if not tasks:
        raise ValueError("a multi-task model needs at least one task")
    return tasks


def _spec_from_dict(d: dict) -> TaskSpec:
    """A TaskSpec from a dict; with an ``id2label`` entry (as stored in the config) the labels come from it."""
    d = dict(d)
    id2label = d.pop("id2label", None)
    d.pop("label2id", None)
    if id2label is not None:
        id2label = {int(k): v for k, v in id2label.items()}
        if sorted(id2label) != list(range(len(id2label))):
            raise ValueError(f"task {d.get('name')!r}: id2label keys must be 0..n-1, got {sorted(id2label)}")
        d["labels"] = [id2label[i] for i in range(len(id2label))]
    return TaskSpec(**d)


# ============================================================================================== exercise 1
def build_heads(tasks: Sequence[TaskSpec], hidden_size: int) -> tuple[nn.ModuleDict, dict[str, dict[int, str]]]:
    """One ``nn.Linear(hidden_size, len(task.labels))`` head per task, in task order, and each task's id2label.

    Returns ``(heads, id2label)``: ``heads[task.name]`` is the task's Linear (with bias); ``id2label[task.name]`` is
    ``{0: first label, 1: second label, ...}``. Every task gets its own Linear (no weights shared between heads).
    Raises ValueError if two tasks share a name (a ModuleDict would silently keep only the last one).
    """
    heads = nn.ModuleDict()
    id2label: dict[str, dict[int, str]] = {}
    for task in tasks:
        if task.name in heads:
            raise ValueError(f"two tasks are named {task.name!r}; task names must be unique")
        heads[task.name] = nn.Linear(hidden_size, len(task.labels))
        id2label[task.name] = {i: label for i, label in enumerate(task.labels)}
    return heads, id2label



# ============================================================================================== packed labels
def packed_width(tasks: Sequence[TaskSpec]) -> int:
    """Width of a packed label row: the tasks' :attr:`TaskSpec.packed_width` side by side, in task order."""
    return sum(t.packed_width for t in tasks)


def unpack_labels(packed: torch.Tensor, tasks: Sequence[TaskSpec]) -> dict[str, torch.Tensor]:
    """``{task: labels}`` in the loss format from one float tensor (batch, packed_width(tasks)).

    A packed row holds every task's targets side by side, in task order: a multi-class task takes one column (the
    class id, -100 when unlabelled), a multi-label task L columns (0/1, all -100 when unlabelled), a regression task
    L columns (NaN when unlabelled). This is the form a dataset item can have so that a plain stacking collator
    (transformers' ``default_data_collator``, which ``Trainer`` uses when given none) batches it.
    """
    width = packed_width(tasks)
    if packed.dim() != 2 or packed.shape[1] != width:
        raise ValueError(f"packed labels should have shape (batch, {width}) for tasks {[t.name for t in tasks]}, "
                         f"got {tuple(packed.shape)}")
    out, col = {}, 0
    for t in tasks:
        block = packed[:, col:col + t.packed_width]
        col += t.packed_width
        if t.kind == "multi_class":
            ids = block[:, 0]
            if not torch.equal(ids, ids.round()):
                raise ValueError(f"task {t.name!r} is multi_class: its packed column must hold whole class ids")
            out[t.name] = ids.long()
        else:
            out[t.name] = block.float()
    return out


def pack_row(tasks: Sequence[TaskSpec], encoded: dict) -> list[float]:
    """One packed label row from ``{task: class id | [label ids] | [values] | None}`` (see :func:`unpack_labels`)."""
    row: list[float] = []
    for t in tasks:
        v = encoded.get(t.name)
        if t.kind == "multi_class":
            row.append(float(IGNORE_INDEX) if v is None else float(v))
        elif t.kind == "multi_label":
            row += [float(IGNORE_INDEX)] * len(t.labels) if v is None else [1.0 if j in v else 0.0
                                                                           for j in range(len(t.labels))]
        else:
            row += [float("nan")] * len(t.labels) if v is None else [float(x) for x in v]
    return row


def labelled_rows(task: TaskSpec, labels: torch.Tensor) -> torch.Tensor:
    """(batch,) bool: the examples labelled for ``task`` in the loss format (not -100, a row of -100, or all NaN)."""
    if task.kind == "multi_class":
        return labels != IGNORE_INDEX
    if task.kind == "multi_label":
        return ~(labels == IGNORE_INDEX).all(dim=-1)
    return ~torch.isnan(labels.float().reshape(labels.shape[0], -1)).all(dim=-1)
