"""Notebook 07 — many heads on one shared encoder: multi-class, multi-label and regression tasks at once.

The idea in one picture::

    text ──► encoder (one pass) ──► pooled vector (batch, hidden) ──┬─► heads["A"]  Linear(hidden, 4)  → softmax
                                                                    ├─► heads["B"]  Linear(hidden, 7)  → sigmoid each
                                                                    └─► heads["C"]  Linear(hidden, 1)  → a number

Each task is declared by a :class:`TaskSpec` (name, kind, label names, loss weight). Four 4-way tasks are::

    tasks = {"A": list("abcd"), "B": list("efgh"), "C": list("ijkl"), "D": list("mnop")}
    model = MultiTaskModel.from_encoder(None, tasks)        # the embedded MiniLM + four heads
    model.predict(["a sentence"])                            # [{'A': 'c', 'B': 'e', 'C': 'l', 'D': 'm'}]

Reference implementations (the graded exercises of the notebook):

* :func:`build_heads` — task spec → an ``nn.ModuleDict`` of ``nn.Linear`` heads and each task's ``id2label``.
* :func:`multitask_loss` — one loss over all tasks where every example counts only for the tasks it is labelled
  for (multi-class missing = -100, multi-label missing entries = -100, regression missing = NaN), weighted per task.
* :class:`TaskSampler` — which task the next batch comes from when datasets differ in size: proportional,
  temperature (p ∝ n^(1/T)) or round-robin.

And the machinery around them: :class:`MultiTaskConfig` / :class:`MultiTaskModel` (a transformers
``PreTrainedModel``: ``save_pretrained`` / ``from_pretrained``, ``Trainer``), :class:`MultiTaskDataset`,
:class:`MultiTaskCollator`, :class:`MultiTaskLoader`, :func:`evaluate_tasks`, :func:`summary_table`.
"""
from __future__ import annotations

import itertools
import math
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import ModelOutput

from .checking import GradingError, call_student, clone_inputs, expect_equal, expect_tensor, passed
from .device import seed_everything

__all__ = [
    "TASK_KINDS",
    "TaskSpec",
    "make_tasks",
    "build_heads",
    "multitask_loss",
    "TaskSampler",
    "MultiTaskConfig",
    "MultiTaskOutput",
    "MultiTaskModel",
    "MultiTaskDataset",
    "MultiTaskCollator",
    "MultiTaskLoader",
    "evaluate_tasks",
    "task_metrics",
    "summary_table",
    "check_build_heads",
    "check_multitask_loss",
    "check_task_sampler",
]

TASK_KINDS = ("multi_class", "multi_label", "regression")
_KIND_ALIASES = {"multi_class": "multi_class", "multiclass": "multi_class", "single_label": "multi_class",
                 "single_label_classification": "multi_class", "classification": "multi_class",
                 "multi_label": "multi_label", "multilabel": "multi_label",
                 "multi_label_classification": "multi_label", "regression": "regression"}
IGNORE = -100


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


# ============================================================================================== exercise 2
def multitask_loss(logits: Mapping[str, torch.Tensor], labels: Mapping[str, torch.Tensor],
                   tasks: Sequence[TaskSpec]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum of per-task losses, each computed only on the examples labelled for that task.

    logits[name]: (batch, len(task.labels)) float. labels[name] (a task may be absent from ``labels``):
      * multi_class: (batch,) int64 class ids; -100 = this example has no label for the task.
      * multi_label: (batch, len(labels)) float 0/1; an entry equal to -100 is unknown and ignored (a whole row
        of -100 = the example is not labelled for the task).
      * regression: (batch, len(labels)) float, or (batch,) for one output; NaN = unknown, ignored.
    Per task: cross-entropy / binary cross-entropy with logits / squared error, averaged over the *known* entries
    only. A task with no known entry in the batch is left out (it contributes nothing, and is not in the dict).
    Returns ``(total, per_task)`` with ``total = sum(task.weight * per_task[task.name])`` over the tasks present
    (a 0 that is still connected to the graph when none is) and ``per_task`` the unweighted losses.
    """
    per_task: dict[str, torch.Tensor] = {}
    total = None
    for task in tasks:
        if task.name not in labels or labels[task.name] is None:
            continue
        z = logits[task.name]
        y = labels[task.name]
        if task.kind == "multi_class":
            known = y != IGNORE
            if not bool(known.any()):
                continue
            loss = F.cross_entropy(z[known], y[known].long())
        elif task.kind == "multi_label":
            y = y.to(z.dtype)
            known = y != IGNORE
            if not bool(known.any()):
                continue
            loss = F.binary_cross_entropy_with_logits(z[known], y[known])
        else:
            y = y.to(z.dtype).reshape(z.shape)
            known = ~torch.isnan(y)
            if not bool(known.any()):
                continue
            loss = F.mse_loss(z[known], y[known])
        per_task[task.name] = loss
        term = task.weight * loss
        total = term if total is None else total + term
    if total is None:  # nothing labelled in this batch: a zero that backward() accepts
        total = sum(v.sum() for v in logits.values()) * 0.0
    return total, per_task


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


# ============================================================================================== the model
class MultiTaskConfig(PreTrainedConfig):
    """Configuration of :class:`MultiTaskModel`: the encoder's own config, the task spec, pooling.

    ``tasks`` is stored as a list of dicts ``{"name", "kind", "weight", "id2label", "label2id"}`` so that
    ``config.json`` says what every output means; :attr:`task_specs` gives them back as :class:`TaskSpec`.
    pooling: ``"mean"`` (mean of the token vectors, what sentence-transformers models such as MiniLM were trained
    for), ``"cls"`` (the [CLS] vector) or ``"pooler"`` (BERT's pooler: tanh(Linear([CLS]))). shared_layer_size:
    if > 0, one shared Linear+GELU layer of that width between the pooled vector and the heads.
    """
    model_type = "mtbert-multitask"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder: PreTrainedConfig | dict | None = None
    tasks: list | None = None
    pooling: str = "mean"
    classifier_dropout: float = 0.1
    shared_layer_size: int = 0

    def __post_init__(self, **kwargs):
        specs = make_tasks(self.tasks) if self.tasks else []
        self.tasks = [self._task_entry(t) for t in specs]
        if self.pooling not in ("mean", "cls", "pooler"):
            raise ValueError(f"pooling must be 'mean', 'cls' or 'pooler', got {self.pooling!r}")
        super().__post_init__(**kwargs)

    @staticmethod
    def _task_entry(t: TaskSpec) -> dict:
        return {"name": t.name, "kind": t.kind, "weight": t.weight,
                "id2label": {str(i): lab for i, lab in t.id2label.items()}, "label2id": t.label2id}

    @property
    def task_specs(self) -> list[TaskSpec]:
        return [_spec_from_dict(t) for t in self.tasks]

    def task_id2label(self, name: str) -> dict[int, str]:
        """{id: label} of one task (keys as ints)."""
        for t in self.tasks:
            if t["name"] == name:
                return {int(i): lab for i, lab in t["id2label"].items()}
        raise KeyError(f"no task named {name!r}; tasks: {[t['name'] for t in self.tasks]}")

    def set_task_labels(self, name: str, labels: Sequence[str]) -> None:
        """Replace one task's label names (and its id2label/label2id), e.g. after its head was grown."""
        for i, t in enumerate(self.tasks):
            if t["name"] == name:
                spec = TaskSpec(name=name, kind=t["kind"], labels=list(labels), weight=t["weight"])
                self.tasks[i] = self._task_entry(spec)
                return
        raise KeyError(f"no task named {name!r}; tasks: {[t['name'] for t in self.tasks]}")


@dataclass
class MultiTaskOutput(ModelOutput):
    """What :class:`MultiTaskModel` returns.

    loss: the weighted total (when labels were given); logits: ``{task: (batch, len(labels))}``;
    task_losses: ``{task: unweighted loss}`` for the tasks labelled in this batch; pooled: the shared
    (batch, hidden) vector every head reads.
    """
    loss: torch.Tensor | None = None
    logits: dict | None = None
    task_losses: dict | None = None
    pooled: torch.Tensor | None = None


class MultiTaskModel(PreTrainedModel):
    """A shared encoder, a pooling step, optionally one shared layer, and one Linear head per task.

    ``model.heads[name]`` is the ``nn.Linear`` of task ``name`` (an ``nn.ModuleDict`` in task order); its label
    names are ``model.config.task_id2label(name)``. ``forward(input_ids, attention_mask, labels={...})`` runs the
    encoder once for all tasks; ``forward(features=pooled)`` skips the encoder (for cached features).
    """
    config_class = MultiTaskConfig
    config: MultiTaskConfig
    base_model_prefix = "encoder"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: MultiTaskConfig):
        super().__init__(config)
        self.encoder = AutoModel.from_config(config.encoder, add_pooling_layer=config.pooling == "pooler")
        hidden = config.encoder.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        if config.shared_layer_size and config.shared_layer_size > 0:
            self.shared = nn.Sequential(nn.Linear(hidden, config.shared_layer_size), nn.GELU(),
                                        nn.Dropout(config.classifier_dropout))
            hidden = config.shared_layer_size
        else:
            self.shared = nn.Identity()
        self.heads, _ = build_heads(config.task_specs, hidden)
        self.post_init()

    # ------------------------------------------------------------------ construction
    def _init_weights(self, module):
        # the encoder's own initialisation (BERT: normal(0, initializer_range) for Linear/Embedding, LayerNorm 1/0,
        # position ids) applies to the encoder and, being the same rule, to the heads
        if hasattr(self, "encoder") and isinstance(self.encoder, PreTrainedModel):
            type(self.encoder)._init_weights(self.encoder, module)
        else:
            super()._init_weights(module)

    @classmethod
    def from_encoder(cls, name=None, tasks=None, *, pooling: str = "mean", classifier_dropout: float = 0.1,
                     shared_layer_size: int = 0, device=None, with_tokenizer: bool = True) -> "MultiTaskModel":
        """A multi-task model on the pretrained encoder ``name`` (None: $MTBERT_MODEL or the embedded MiniLM).

        The encoder weights are the pretrained ones; the heads (and the shared layer) start random. The tokenizer
        is attached as ``model.tokenizer`` so that :meth:`predict` works on raw text.
        """
        from .backbone import load_encoder, load_tokenizer
        if tasks is None:
            raise ValueError("from_encoder needs tasks, e.g. {'A': list('abcd'), 'B': ('multi_label', ['x', 'y'])}")
        enc = load_encoder(name, model_cls=AutoModel)
        config = MultiTaskConfig(encoder=enc.config.to_dict(), tasks=[t.to_dict() for t in make_tasks(tasks)],
                                 pooling=pooling, classifier_dropout=classifier_dropout,
                                 shared_layer_size=shared_layer_size)
        model = cls(config)
        own = model.encoder.state_dict()
        missing, _ = model.encoder.load_state_dict({k: v for k, v in enc.state_dict().items() if k in own},
                                                   strict=False)
        if missing:
            raise RuntimeError(f"the pretrained encoder lacks weights for {missing[:5]}")
        model.mtbert_source = getattr(enc, "mtbert_source", str(name))
        if with_tokenizer:
            model.tokenizer = load_tokenizer(name)
        if device is not None:
            model.to(device)
        return model.eval()

    @property
    def task_specs(self) -> list[TaskSpec]:
        return self.config.task_specs

    @torch.no_grad()
    def init_head_biases(self, targets: Sequence[Mapping[str, Any]], eps: float = 1e-3) -> dict[str, torch.Tensor]:
        """Start every classification head at its task's label frequencies instead of uniform / 0.5.

        ``targets``: the training targets in :class:`MultiTaskDataset`'s format (``{task: label name(s) or None}``
        per example); only the examples labelled for a task count for it. Multi-class heads get bias = log of the
        class frequencies (softmax then starts at them); multi-label heads get the log-odds of each label's frequency
        (sigmoid then starts at it). Regression heads are left alone. Returns ``{task: frequencies}``.
        Raises ValueError for a task with no labelled example or a label name the task does not have.
        """
        priors = {}
        for task in self.task_specs:
            if task.kind == "regression":
                continue
            counts, n = torch.zeros(len(task.labels)), 0
            for t in targets:
                target = t.get(task.name)
                if target is None:
                    continue
                names = [target] if task.kind == "multi_class" else list(target)
                unknown = [x for x in names if x not in task.label2id]
                if unknown:
                    raise ValueError(f"task {task.name!r}: unknown label(s) {unknown}; expected names among "
                                     f"{task.labels}")
                for x in names:
                    counts[task.label2id[x]] += 1
                n += 1
            if n == 0:
                raise ValueError(f"task {task.name!r} has no labelled example in targets")
            freq = (counts / n).clamp(eps, 1 - eps)
            bias = torch.log(freq) if task.kind == "multi_class" else torch.log(freq / (1 - freq))
            self.heads[task.name].bias.copy_(bias.to(self.heads[task.name].bias))
            priors[task.name] = freq
        return priors

    # ------------------------------------------------------------------ forward
    def pool(self, last_hidden_state: torch.Tensor, attention_mask: torch.Tensor | None,
             pooler_output: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, seq, hidden) → (batch, hidden) by the configured pooling."""
        if self.config.pooling == "pooler":
            return pooler_output
        if self.config.pooling == "cls":
            return last_hidden_state[:, 0]
        if attention_mask is None:
            return last_hidden_state.mean(dim=1)
        m = attention_mask.to(last_hidden_state.dtype).unsqueeze(-1)
        return (last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1.0)

    def encode(self, input_ids=None, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """The shared representation (batch, hidden) — the one encoder pass every task reads."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return self.pool(out.last_hidden_state, attention_mask, getattr(out, "pooler_output", None))

    def head_logits(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        """{task: (batch, len(labels)) logits} from the pooled vector."""
        h = self.shared(self.dropout(pooled))
        return {name: head(h) for name, head in self.heads.items()}

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: dict | None = None,
                task_mask: torch.Tensor | None = None, features: torch.Tensor | None = None,
                return_dict: bool | None = None) -> MultiTaskOutput:
        """One encoder pass, every head, and (with ``labels``) the task-masked loss of :func:`multitask_loss`.

        labels: ``{task: targets}`` in the format of :func:`multitask_loss` (tasks may be missing).
        task_mask: optional (batch, n_tasks) bool in task order; False marks the example unlabelled for that task
        (applied on top of the -100 / NaN markers). features: precomputed (batch, hidden) pooled vectors instead of
        input_ids (the encoder is skipped).
        """
        pooled = features if features is not None else self.encode(input_ids, attention_mask, token_type_ids)
        logits = self.head_logits(pooled)
        loss, task_losses = None, None
        if labels is not None:
            specs = self.task_specs
            if task_mask is not None:
                labels = _apply_task_mask(labels, task_mask, specs)
            loss, task_losses = multitask_loss(logits, labels, specs)
        return MultiTaskOutput(loss=loss, logits=logits, task_losses=task_losses, pooled=pooled)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, texts: Sequence[str] | str, tokenizer=None, batch_size: int = 32, max_length: int = 128,
                threshold: float = 0.5, device=None) -> list[dict[str, Any]]:
        """Named predictions for raw texts: one dict per text, ``{task: label}``.

        multi-class → the arg-max label; multi-label → the list of labels whose sigmoid ≥ ``threshold`` (best first);
        regression → a float (or ``{output name: float}`` when the task has several outputs).
        """
        if isinstance(texts, str):
            texts = [texts]
        tokenizer = tokenizer or getattr(self, "tokenizer", None)
        if tokenizer is None:
            raise ValueError("predict needs a tokenizer: pass tokenizer=..., or build the model with from_encoder")
        device = torch.device(device) if device is not None else next(self.parameters()).device
        was_training = self.training
        self.eval()
        results: list[dict[str, Any]] = []
        specs = self.task_specs
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt")
            enc = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
            logits = self(**enc).logits
            for i in range(enc["input_ids"].shape[0]):
                results.append({t.name: _decode(t, logits[t.name][i], threshold) for t in specs})
        self.train(was_training)
        return results


def _decode(task: TaskSpec, z: torch.Tensor, threshold: float):
    z = z.float().cpu()
    if task.kind == "multi_class":
        return task.labels[int(z.argmax())]
    if task.kind == "multi_label":
        p = torch.sigmoid(z)
        order = torch.argsort(p, descending=True).tolist()
        return [task.labels[j] for j in order if p[j] >= threshold]
    vals = z.tolist()
    return vals[0] if len(vals) == 1 else dict(zip(task.labels, vals))


def _apply_task_mask(labels: Mapping[str, torch.Tensor], task_mask: torch.Tensor,
                     specs: Sequence[TaskSpec]) -> dict[str, torch.Tensor]:
    """Write the missing-label markers (-100 / NaN) where ``task_mask`` (batch, n_tasks) is False."""
    out = dict(labels)
    for j, t in enumerate(specs):
        if t.name not in out or out[t.name] is None:
            continue
        keep = task_mask[:, j].bool()
        y = out[t.name]
        if t.kind == "multi_class":
            out[t.name] = torch.where(keep, y, torch.full_like(y, IGNORE))
        else:
            fill = IGNORE if t.kind == "multi_label" else float("nan")
            k = keep.view(-1, *([1] * (y.dim() - 1)))
            out[t.name] = torch.where(k, y, torch.full_like(y, fill))
    return out


try:  # AutoConfig / AutoModel know the model type (for AutoModel.from_pretrained on a saved folder)
    AutoConfig.register(MultiTaskConfig.model_type, MultiTaskConfig)
    AutoModel.register(MultiTaskConfig, MultiTaskModel)
except ValueError:  # already registered (module reloaded)
    pass


# ============================================================================================== data
class MultiTaskDataset(torch.utils.data.Dataset):
    """Tokenised texts with per-task targets given by label *names*.

    targets[i] is ``{task: target}`` where target is a label name (multi_class), a list of label names
    (multi_label), a float or list of floats (regression), or None / absent when example i is not labelled for
    that task. Items are dicts of Python lists for :class:`MultiTaskCollator`.
    """

    def __init__(self, texts: Sequence[str], targets: Sequence[Mapping[str, Any]], tokenizer,
                 tasks: Sequence[TaskSpec], max_length: int = 64):
        if len(texts) != len(targets):
            raise ValueError(f"{len(texts)} texts but {len(targets)} target dicts")
        self.tasks = list(tasks)
        enc = tokenizer(list(texts), truncation=True, max_length=max_length)
        self.examples = []
        for i in range(len(texts)):
            ex = {k: enc[k][i] for k in ("input_ids", "token_type_ids") if k in enc}
            ex["labels"] = {t.name: self._encode(t, targets[i].get(t.name)) for t in self.tasks}
            self.examples.append(ex)

    @staticmethod
    def _encode(task: TaskSpec, target):
        if target is None:
            return None
        lab2id = task.label2id
        if task.kind == "multi_class":
            if target not in lab2id:
                raise KeyError(f"task {task.name!r} has no label {target!r}")
            return lab2id[target]
        if task.kind == "multi_label":
            bad = [x for x in target if x not in lab2id]
            if bad:
                raise KeyError(f"task {task.name!r} has no labels {bad}")
            return [lab2id[x] for x in target]
        return [float(target)] if not isinstance(target, (list, tuple)) else [float(x) for x in target]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict:
        return self.examples[i]

    def task_sizes(self) -> dict[str, int]:
        """Number of examples labelled for each task."""
        return {t.name: sum(ex["labels"][t.name] is not None for ex in self.examples) for t in self.tasks}

    def subset_for(self, task: str) -> "torch.utils.data.Subset":
        """The examples labelled for ``task`` (to build one loader per task for :class:`MultiTaskLoader`)."""
        idx = [i for i, ex in enumerate(self.examples) if ex["labels"][task] is not None]
        return torch.utils.data.Subset(self, idx)


class MultiTaskCollator:
    """Pad a list of :class:`MultiTaskDataset` items into a batch with a ``labels`` dict in the loss format.

    multi_class → (batch,) int64, -100 where unlabelled; multi_label → (batch, L) float multi-hot, rows of -100
    where unlabelled; regression → (batch, L) float, NaN where unlabelled. A task with no labelled example in the
    batch is left out of ``labels`` when ``drop_empty_tasks``.
    """

    def __init__(self, tasks: Sequence[TaskSpec], pad_token_id: int = 0, drop_empty_tasks: bool = True):
        self.tasks = list(tasks)
        self.pad_token_id = pad_token_id
        self.drop_empty_tasks = drop_empty_tasks

    def __call__(self, examples: Sequence[dict]) -> dict:
        width = max(len(ex["input_ids"]) for ex in examples)
        batch = {
            "input_ids": torch.tensor([ex["input_ids"] + [self.pad_token_id] * (width - len(ex["input_ids"]))
                                       for ex in examples], dtype=torch.long),
            "attention_mask": torch.tensor([[1] * len(ex["input_ids"]) + [0] * (width - len(ex["input_ids"]))
                                            for ex in examples], dtype=torch.long),
        }
        if "token_type_ids" in examples[0]:
            batch["token_type_ids"] = torch.tensor([ex["token_type_ids"] + [0] * (width - len(ex["token_type_ids"]))
                                                    for ex in examples], dtype=torch.long)
        labels = {}
        for t in self.tasks:
            vals = [ex["labels"].get(t.name) for ex in examples]
            if self.drop_empty_tasks and all(v is None for v in vals):
                continue
            n = len(t.labels)
            if t.kind == "multi_class":
                y = torch.tensor([IGNORE if v is None else v for v in vals], dtype=torch.long)
            elif t.kind == "multi_label":
                y = torch.full((len(vals), n), float(IGNORE))
                for i, v in enumerate(vals):
                    if v is not None:
                        y[i] = 0.0
                        y[i, list(v)] = 1.0
            else:
                y = torch.tensor([[float("nan")] * n if v is None else list(v) for v in vals], dtype=torch.float)
            labels[t.name] = y
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
        keep = y != IGNORE
        if not keep.any():
            return {"n": 0}
        pred, gold = z[keep].argmax(-1).numpy(), y[keep].numpy()
        return {"n": int(keep.sum()), "accuracy": float((pred == gold).mean()),
                "macro_f1": float(f1_score(gold, pred, average="macro", labels=list(range(z.shape[1])),
                                           zero_division=0))}
    if task.kind == "multi_label":
        keep = ~(y == IGNORE).all(-1)
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
def evaluate_tasks(model: MultiTaskModel, loader: Iterable, device="cpu", threshold: float = 0.5,
                   tasks: Sequence[TaskSpec] | None = None) -> dict[str, dict]:
    """Run ``model`` over ``loader`` (batches from :class:`MultiTaskCollator`, or dicts with ``features``) and
    return ``{task: task_metrics(...)}``."""
    from .trainer import move_to
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


# ============================================================================================== checkers
def _specs_for_check(case: int) -> list[TaskSpec]:
    if case == 0:
        return make_tasks({"A": list("abcd"), "B": list("efgh"), "C": list("ijkl"), "D": list("mnop")})
    if case == 1:
        return [TaskSpec("topic", "multi_class", ["sport", "politics", "science"]),
                TaskSpec("tags", "multi_label", ["x", "y", "z", "w", "v"], weight=0.5),
                TaskSpec("score", "regression")]
    if case == 2:
        return [TaskSpec("only", "multi_label", ["yes"])]
    if case == 3:
        return [TaskSpec("pos", "regression", ["valence", "arousal"], weight=2.0),
                TaskSpec("b", "multi_class", ["n", "y"])]
    return [TaskSpec(f"t{i}", TASK_KINDS[i % 3], [f"l{i}_{j}" for j in range(2 + i)]) for i in range(7)]


def check_build_heads(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``build_heads(tasks, hidden_size) -> (nn.ModuleDict, id2label)`` against the reference."""
    cases = [(0, 32)]
    if hidden_tests:
        cases += [(1, 16), (2, 8), (3, 5), (4, 12)]
    for case, hidden in cases:
        tasks = _specs_for_check(case)
        desc = f"build_heads on tasks {[(t.name, t.kind, len(t.labels)) for t in tasks]} with hidden_size={hidden}"
        got = call_student(student_fn, tasks, hidden, name="build_heads", reference=build_heads)
        if not isinstance(got, tuple) or len(got) != 2:
            raise GradingError(f"{desc}: return a tuple (heads, id2label), got a {type(got).__name__}.")
        heads, id2label = got
        if not isinstance(heads, nn.ModuleDict):
            raise GradingError(f"{desc}: heads should be an nn.ModuleDict (so that its Linear layers are registered "
                               f"as sub-modules and trained), got a {type(heads).__name__}.")
        expect_equal(list(heads.keys()), [t.name for t in tasks], f"{desc}: the keys of heads (in task order)")
        seen = set()
        for t in tasks:
            h = heads[t.name]
            if not isinstance(h, nn.Linear):
                raise GradingError(f"{desc}: heads[{t.name!r}] should be an nn.Linear, got {type(h).__name__}.")
            if (h.in_features, h.out_features) != (hidden, len(t.labels)):
                hint = " The input size is the encoder's hidden size." if h.in_features != hidden else \
                    " One output per label name (regression: one per output name)."
                raise GradingError(f"{desc}: heads[{t.name!r}] is Linear({h.in_features}, {h.out_features}), expected "
                                   f"Linear({hidden}, {len(t.labels)}) for a {t.kind} task with {len(t.labels)} "
                                   f"label(s).{hint}")
            if h.bias is None:
                raise GradingError(f"{desc}: heads[{t.name!r}] has no bias; create it with bias=True (the default).")
            if id(h.weight) in seen:
                raise GradingError(f"{desc}: heads[{t.name!r}] shares its weight with another task's head; create a "
                                   "new nn.Linear for every task.")
            seen.add(id(h.weight))
        if not isinstance(id2label, dict):
            raise GradingError(f"{desc}: id2label should be a dict {{task name: {{id: label}}}}, got "
                               f"{type(id2label).__name__}.")
        want = build_heads(tasks, hidden)[1]
        for t in tasks:
            if t.name not in id2label:
                raise GradingError(f"{desc}: id2label has no entry for task {t.name!r}.")
            expect_equal(id2label[t.name], want[t.name], f"{desc}: id2label[{t.name!r}]",
                         "Keys are ints 0..n-1 in the order of task.labels; values are the label names.")
    if hidden_tests:
        dup = [TaskSpec("x", "multi_class", ["a", "b"]), TaskSpec("x", "multi_label", ["c"])]
        try:
            call_student(student_fn, dup, 8, name="build_heads", reference=build_heads)
        except GradingError as exc:
            if "ValueError" in str(exc):
                pass
            else:
                raise
        else:
            raise GradingError("build_heads accepted two tasks both named 'x'; raise ValueError when a task name "
                               "repeats (an nn.ModuleDict would silently keep only the last head).")
    passed(f"build_heads builds the right heads and label maps for {len(cases)} task spec(s)")


def _loss_case(case: int, device, dtype=torch.float32):
    g = torch.Generator().manual_seed(100 + case)
    tasks = _specs_for_check({0: 1, 1: 0, 2: 3, 3: 4, 4: 1, 5: 1}[case])
    batch = {0: 6, 1: 5, 2: 4, 3: 9, 4: 1, 5: 4}[case]
    logits, labels = {}, {}
    for t in tasks:
        n = len(t.labels)
        logits[t.name] = (torch.randn(batch, n, generator=g) * 2).to(dtype)
        if t.kind == "multi_class":
            y = torch.randint(0, n, (batch,), generator=g)
            y[torch.rand(batch, generator=g) < 0.35] = IGNORE
        elif t.kind == "multi_label":
            y = (torch.rand(batch, n, generator=g) < 0.4).to(dtype)
            y[torch.rand(batch, generator=g) < 0.35] = IGNORE
            if case >= 2:  # also single unknown entries
                y[torch.rand(batch, n, generator=g) < 0.1] = IGNORE
        else:
            y = torch.randn(batch, n, generator=g).to(dtype)
            y[torch.rand(batch, generator=g) < 0.35] = float("nan")
        labels[t.name] = y
    if case == 0:  # make sure each kind has at least one missing and one present row
        labels["topic"][0] = IGNORE
        labels["topic"][1] = 1
        labels["tags"][2] = IGNORE
        labels["tags"][3] = torch.tensor([1.0, 0, 0, 1, 0], dtype=dtype)
        labels["score"][4] = float("nan")
        labels["score"][5] = 0.5
    if case == 1:  # task D absent from the labels dict, task C entirely unlabelled in this batch
        del labels["D"]
        labels["C"][:] = IGNORE
        labels["A"][0] = 2
    if case == 4:  # one example, multi-label entirely unknown, regression given as (batch,)
        labels["tags"][:] = IGNORE
        labels["score"] = labels["score"].reshape(-1)
        labels["score"][:] = 1.5
        labels["topic"][:] = 0
    if case == 5:  # nothing labelled at all
        labels = {"topic": torch.full((batch,), IGNORE), "tags": torch.full((batch, 5), float(IGNORE), dtype=dtype),
                  "score": torch.full((batch, 1), float("nan"), dtype=dtype)}
    return tasks, {k: v.to(device) for k, v in logits.items()}, {k: v.to(device) for k, v in labels.items()}


def _loss_variants(logits, labels, tasks) -> dict[str, float]:
    """Plausible wrong totals, to name the bug."""
    out = {}
    _, per = multitask_loss(logits, labels, tasks)
    if per:
        out["the weights are ignored (plain sum of the task losses)"] = float(sum(per.values()))
        w = {t.name: t.weight for t in tasks}
        out["the weighted losses are averaged over tasks instead of summed"] = float(
            sum(w[k] * v for k, v in per.items()) / len(per))
    return out


def check_multitask_loss(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``multitask_loss(logits, labels, tasks) -> (total, per_task)`` against the reference."""
    device = torch.device(device)
    cases = [0, 1]
    if hidden_tests:
        cases += [2, 3, 4, 5]
    for case in cases:
        tasks, logits, labels = _loss_case(case, device)
        before = clone_inputs((logits, labels))
        logits_g = {k: v.clone().requires_grad_(True) for k, v in logits.items()}
        got = call_student(student_fn, logits_g, labels, tasks, name="multitask_loss", reference=multitask_loss)
        for k, y in labels.items():  # (NaN marks unknown regression targets: compare with equal_nan)
            if not torch.equal(torch.nan_to_num(before[1][k], nan=12345.0), torch.nan_to_num(y, nan=12345.0)):
                raise GradingError(f"labels[{k!r}] was modified in place by your code. Work on a copy (e.g. select "
                                   "with a boolean mask: `y[known]`) instead of writing into the labels.")
        want_total, want_per = multitask_loss(logits, labels, tasks)
        desc = f"multitask_loss on tasks {[(t.name, t.kind, t.weight) for t in tasks]}"
        if not isinstance(got, tuple) or len(got) != 2:
            raise GradingError(f"{desc}: return a tuple (total, per_task), got a {type(got).__name__}.")
        total, per = got
        if not isinstance(per, dict):
            raise GradingError(f"{desc}: per_task should be a dict {{task name: loss}}, got {type(per).__name__}.")
        extra = sorted(set(per) - set(want_per))
        if extra:
            raise GradingError(f"{desc}: per_task has entries for {extra}, which have no labelled example in this batch "
                               "(all -100 / NaN, or absent from labels); leave such tasks out.")
        lacking = sorted(set(want_per) - set(per))
        if lacking:
            raise GradingError(f"{desc}: per_task lacks {lacking}, which have labelled examples in this batch.")
        for t in tasks:
            if t.name not in want_per:
                continue
            hint = {"multi_class": " Use only the examples whose label is not -100 (cross_entropy's ignore_index).",
                    "multi_label": " Average the binary cross-entropy over the entries that are not -100 only "
                                   "(a row of -100 is an unlabelled example).",
                    "regression": " Average the squared error over the entries that are not NaN only."}[t.kind]
            try:
                expect_tensor(per[t.name], want_per[t.name], f"{desc}: per_task[{t.name!r}] ({t.kind})")
            except GradingError as exc:
                raise GradingError(str(exc) + hint) from None
        if not isinstance(total, torch.Tensor):
            raise GradingError(f"{desc}: total should be a torch.Tensor (a 0-dim loss), got {type(total).__name__}.")
        if total.dim() != 0:
            raise GradingError(f"{desc}: total has shape {tuple(total.shape)}, expected a 0-dim tensor (a scalar).")
        if not torch.isclose(total.detach().float().cpu(), want_total.detach().float().cpu(), atol=1e-5, rtol=1e-4):
            hint = ""
            for name, val in _loss_variants(logits, labels, tasks).items():
                if math.isclose(total.item(), val, rel_tol=1e-4, abs_tol=1e-6):
                    hint = f" It looks like {name}."
                    break
            if not torch.isfinite(total):
                hint = " A task without labelled examples gives NaN (a mean over nothing): skip such tasks."
            raise GradingError(f"{desc}: total is {total.item():.6g}, expected {want_total.item():.6g} = sum of "
                               f"task.weight * per-task loss over the tasks present.{hint}")
        if not want_per:
            if not total.requires_grad:
                raise GradingError(f"{desc}: with nothing labelled, total must still be connected to the logits "
                                   "(e.g. `sum(z.sum() for z in logits.values()) * 0.0`) so that backward() works.")
        elif not total.requires_grad:
            raise GradingError(f"{desc}: total does not require grad: it must be computed from the logits with torch "
                               "operations (no .item(), no float()).")
        if total.requires_grad:
            total.backward()
            for k, z in logits_g.items():
                if k not in want_per and z.grad is not None and z.grad.abs().sum() > 0:
                    raise GradingError(f"{desc}: the loss sends gradient into the logits of task {k!r}, which has no "
                                       "labelled example in the batch.")
    passed(f"multitask_loss matches the reference on {len(cases)} partly labelled batch(es) on {device.type}")


def _draw(sampler, n: int, what: str) -> list:
    """The first ``n`` task names a student's sampler yields (errors and endless waits become GradingErrors)."""
    from .checking import time_limit
    try:
        with time_limit(60, f"iterating {what}"):
            return list(itertools.islice(iter(sampler), n))
    except GradingError:
        raise
    except NotImplementedError:
        raise GradingError(f"iterating {what} raised NotImplementedError: write __iter__.") from None
    except Exception as exc:  # noqa: BLE001
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise GradingError(f"iterating {what} raised {type(exc).__name__}: {msg}") from None


def check_task_sampler(student_cls, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``TaskSampler(sizes, strategy, temperature, seed)``: probabilities(), seeded draws, round-robin."""
    cases = [({"big": 8000, "mid": 1500, "small": 500}, 2.0)]
    if hidden_tests:
        cases += [({"a": 10, "b": 10, "c": 10, "d": 10}, 3.0), ({"x": 50000, "y": 20}, 5.0),
                  ({"p": 300, "empty": 0, "q": 900}, 1.5), ({"solo": 7}, 2.0)]
    n_draws = 4000
    for sizes, temp in cases:
        for strategy in ("proportional", "temperature", "round_robin"):
            what = f"TaskSampler({sizes}, strategy={strategy!r}, temperature={temp}, seed=0)"
            s = call_student(student_cls, sizes, strategy, temp, 0, name="TaskSampler", reference=TaskSampler)
            want = TaskSampler(sizes, strategy, temp, 0).probabilities()
            probs = call_student(s.probabilities, name=f"{what}.probabilities", reference=TaskSampler.probabilities)
            if not isinstance(probs, dict):
                raise GradingError(f"{what}.probabilities() should return a dict {{task: probability}}, got "
                                   f"{type(probs).__name__}.")
            if list(probs) != list(want):
                raise GradingError(f"{what}.probabilities() has keys {list(probs)}, expected {list(want)} (every task, in "
                                   "the order of sizes).")
            for k in want:
                hint = {"proportional": "p_i = n_i / sum(n).",
                        "temperature": "p_i = n_i ** (1 / T) / sum_j n_j ** (1 / T).",
                        "round_robin": "Round-robin visits every non-empty task equally often: 1 / (number of "
                                       "non-empty tasks)."}[strategy]
                expect_equal(float(probs[k]) if isinstance(probs[k], (int, float, np.floating)) else probs[k],
                             want[k], f"{what}.probabilities()[{k!r}]", hint)
            draws = _draw(s, n_draws, what)
            unknown = sorted(set(map(str, draws)) - set(sizes))
            if unknown:
                raise GradingError(f"iterating {what} yielded {unknown[:3]}, which are not task names.")
            if len(draws) != n_draws:
                raise GradingError(f"iterating {what} stopped after {len(draws)} tasks; it should yield forever.")
            if strategy == "round_robin":
                order = [k for k, v in sizes.items() if v > 0]
                expect_equal(draws[:2 * len(order)], order * 2, f"the first draws of {what}",
                             "Round-robin cycles through the non-empty tasks in the order of sizes.")
            for k, p in want.items():
                freq = draws.count(k) / n_draws
                tol = 4.5 * math.sqrt(max(p * (1 - p), 1e-12) / n_draws) + 1e-3
                if abs(freq - p) > tol:
                    raise GradingError(f"iterating {what}: task {k!r} came {freq:.3f} of the time over {n_draws} draws, "
                                       f"expected about {p:.3f}. Draw each task with its probability "
                                       "(e.g. `rng.choices(names, weights=probs)`).")
                if p > 0 and n_draws * p >= 20 and freq == 0:
                    raise GradingError(f"iterating {what}: task {k!r} never came up.")
            mixed = [p for p in want.values() if 0 < p < 1]
            if strategy != "round_robin" and len(mixed) >= 2 and min(mixed) * 200 >= 5:
                s2 = call_student(student_cls, sizes, strategy, temp, 0, name="TaskSampler", reference=TaskSampler)
                again = list(itertools.islice(iter(s2), 200))
                if again != draws[:200]:
                    raise GradingError(f"two samplers built as {what} gave different sequences: use a random generator "
                                       "seeded with `seed` that belongs to the sampler (e.g. `random.Random(seed)`), "
                                       "not the global one.")
                s3 = call_student(student_cls, sizes, strategy, temp, 1, name="TaskSampler", reference=TaskSampler)
                other = list(itertools.islice(iter(s3), 200))
                if other == draws[:200]:
                    raise GradingError(f"{what} and the same sampler with seed=1 gave identical sequences: the seed "
                                       "must change the draws.")
    if hidden_tests:
        for bad in (dict(strategy="uniformish"), dict(strategy="temperature", temperature=0.0)):
            try:
                call_student(student_cls, {"a": 1, "b": 2}, bad["strategy"], bad.get("temperature", 2.0), 0,
                             name="TaskSampler", reference=TaskSampler)
            except GradingError as exc:
                if "ValueError" not in str(exc):
                    raise
            else:
                raise GradingError(f"TaskSampler({{'a': 1, 'b': 2}}, strategy={bad['strategy']!r}, temperature="
                                   f"{bad.get('temperature', 2.0)}) should raise ValueError.")
    passed(f"TaskSampler gives the right probabilities and draws for {len(cases)} dataset mix(es) × 3 strategies")
