"""Notebook 07 — many heads on one shared encoder: multi-class, multi-label and regression tasks at once.

The idea in one picture::

    text ──► encoder (one pass) ──► pooled vector (batch, hidden) ──┬─► heads["A"]  Linear(hidden, 4)  → softmax
                                                                    ├─► heads["B"]  Linear(hidden, 7)  → sigmoid each
                                                                    └─► heads["C"]  Linear(hidden, 1)  → a number

Each task is declared by a :class:`TaskSpec` (name, kind, label names, loss weight). Four 4-way tasks are::

    tasks = {"A": list("abcd"), "B": list("efgh"), "C": list("ijkl"), "D": list("mnop")}
    model = MtBertForMultiTask.from_encoder(None, tasks)        # the embedded MiniLM + four heads
    model.predict(["a sentence"])                            # [{'A': 'c', 'B': 'e', 'C': 'l', 'D': 'm'}]

Reference implementations (the graded exercises of the notebook):

* :func:`build_heads` — task spec → an ``nn.ModuleDict`` of ``nn.Linear`` heads and each task's ``id2label``.
* :func:`multitask_loss` — one loss over all tasks where every example counts only for the tasks it is labelled
  for (multi-class missing = -100, multi-label missing entries = -100, regression missing = NaN), weighted per task.

And the model around them: :class:`MultiTaskConfig` / :class:`MtBertForMultiTask` (a transformers
``PreTrainedModel``: ``save_pretrained`` / ``from_pretrained``, ``Trainer``, registered with the Auto classes).
The task spec and :func:`build_heads` live in :mod:`.tasks`; the data side (sampler, dataset, collator, metrics) in
:mod:`mtbert_ref.lessons.multitask`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import ModelOutput

from .base import SavesTokenizerAndCard
from .init import prior_bias
from .losses import IGNORE_INDEX, KIND_TO_PROBLEM_TYPE, problem_type_loss
from .pooling import POOLINGS, pool
from .tasks import TASK_KINDS, TaskSpec, _spec_from_dict, build_heads, make_tasks, unpack_labels

__all__ = ["TASK_KINDS", "IGNORE", "TaskSpec", "make_tasks", "build_heads", "multitask_loss", "MultiTaskConfig",
           "MultiTaskOutput", "MtBertForMultiTask"]

IGNORE = IGNORE_INDEX


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
        z, y = logits[task.name], labels[task.name]
        if task.kind == "multi_class":
            y = y.long()
        loss = problem_type_loss(z, y, KIND_TO_PROBLEM_TYPE[task.kind], ignore_unknown=True)
        if loss is None:  # no known entry in this batch: the task is left out
            continue
        per_task[task.name] = loss
        term = task.weight * loss
        total = term if total is None else total + term
    if total is None:  # nothing labelled in this batch: a zero that backward() accepts
        total = sum(v.sum() for v in logits.values()) * 0.0
    return total, per_task


# ============================================================================================== the model
class MultiTaskConfig(PreTrainedConfig):
    """Configuration of :class:`MtBertForMultiTask`: the encoder's own config, the task spec, pooling.

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
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
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
    """What :class:`MtBertForMultiTask` returns.

    loss: the weighted total (when labels were given); logits: ``{task: (batch, len(labels))}``;
    task_losses: ``{task: unweighted loss}`` for the tasks labelled in this batch; pooled: the shared
    (batch, hidden) vector every head reads.
    """
    loss: torch.Tensor | None = None
    logits: dict | None = None
    task_losses: dict | None = None
    pooled: torch.Tensor | None = None


class MtBertForMultiTask(SavesTokenizerAndCard, PreTrainedModel):
    """A shared encoder, a pooling step, optionally one shared layer, and one Linear head per task.

    ``model.heads[name]`` is the ``nn.Linear`` of task ``name`` (an ``nn.ModuleDict`` in task order); its label
    names are ``model.config.task_id2label(name)``. ``forward(input_ids, attention_mask, labels={...})`` runs the
    encoder once for all tasks; ``forward(features=pooled)`` skips the encoder (for cached features).
    """
    config_class = MultiTaskConfig
    config: MultiTaskConfig
    base_model_prefix = "bert"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: MultiTaskConfig):
        super().__init__(config)
        self.bert = AutoModel.from_config(config.encoder, add_pooling_layer=config.pooling == "pooler")
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
        if hasattr(self, "bert") and isinstance(self.bert, PreTrainedModel):
            type(self.bert)._init_weights(self.bert, module)
        else:
            super()._init_weights(module)

    @classmethod
    def from_encoder(cls, name=None, tasks=None, *, pooling: str = "mean", classifier_dropout: float = 0.1,
                     shared_layer_size: int = 0, device=None, with_tokenizer: bool = True) -> "MtBertForMultiTask":
        """A multi-task model on the pretrained encoder ``name`` (None: $MTBERT_MODEL or the embedded MiniLM).

        The encoder weights are the pretrained ones; the heads (and the shared layer) start random. The tokenizer
        is attached as ``model.tokenizer`` so that :meth:`predict` works on raw text.
        """
        from ..backbone import load_encoder, load_tokenizer
        if tasks is None:
            raise ValueError("from_encoder needs tasks, e.g. {'A': list('abcd'), 'B': ('multi_label', ['x', 'y'])}")
        enc = load_encoder(name, model_cls=AutoModel)
        config = MultiTaskConfig(encoder=enc.config.to_dict(), tasks=[t.to_dict() for t in make_tasks(tasks)],
                                 pooling=pooling, classifier_dropout=classifier_dropout,
                                 shared_layer_size=shared_layer_size)
        model = cls(config)
        own = model.bert.state_dict()
        missing, _ = model.bert.load_state_dict({k: v for k, v in enc.state_dict().items() if k in own},
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
            bias = prior_bias(freq, KIND_TO_PROBLEM_TYPE[task.kind], eps=eps)
            self.heads[task.name].bias.copy_(bias.to(self.heads[task.name].bias))
            priors[task.name] = freq
        return priors

    # ------------------------------------------------------------------ forward
    def pool(self, last_hidden_state: torch.Tensor, attention_mask: torch.Tensor | None,
             pooler_output: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, seq, hidden) → (batch, hidden) by the configured pooling (:func:`..pooling.pool`)."""
        return pool(last_hidden_state, attention_mask, self.config.pooling, pooler_output)

    def encode(self, input_ids=None, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """The shared representation (batch, hidden) — the one encoder pass every task reads."""
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return self.pool(out.last_hidden_state, attention_mask, getattr(out, "pooler_output", None))

    def head_logits(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        """{task: (batch, len(labels)) logits} from the pooled vector."""
        h = self.shared(self.dropout(pooled))
        return {name: head(h) for name, head in self.heads.items()}

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: dict | torch.Tensor | None = None,
                task_mask: torch.Tensor | None = None, features: torch.Tensor | None = None,
                return_dict: bool | None = None) -> MultiTaskOutput:
        """One encoder pass, every head, and (with ``labels``) the task-masked loss of :func:`multitask_loss`.

        labels: ``{task: targets}`` in the format of :func:`multitask_loss` (tasks may be missing), or the same
        targets packed side by side in one (batch, width) float tensor (:func:`.tasks.unpack_labels`; what
        :class:`~mtbert_ref.lessons.multitask.MultiTaskDataset` items hold, so that ``Trainer`` needs no collator).
        task_mask: optional (batch, n_tasks) bool in task order; False marks the example unlabelled for that task
        (applied on top of the -100 / NaN markers). features: precomputed (batch, hidden) pooled vectors instead of
        input_ids (the encoder is skipped).
        """
        pooled = features if features is not None else self.encode(input_ids, attention_mask, token_type_ids)
        logits = self.head_logits(pooled)
        loss, task_losses = None, None
        if labels is not None:
            specs = self.task_specs
            if isinstance(labels, torch.Tensor):
                labels = unpack_labels(labels, specs)
            _check_labels(labels, specs, pooled.shape[0])
            if task_mask is not None:
                labels = _apply_task_mask(labels, task_mask, specs)
            loss, task_losses = multitask_loss(logits, labels, specs)
        return MultiTaskOutput(loss=loss, logits=logits, task_losses=task_losses, pooled=pooled)

    # ------------------------------------------------------------------ saving
    def model_card(self) -> str:
        """The README.md written beside the weights: the encoder, and every task with its kind and labels."""
        enc = self.config.encoder
        source = getattr(self, "mtbert_source", None) or getattr(self.config, "_name_or_path", "") or "unknown"
        lines = [f"# {type(self).__name__} (mtbert course)", "",
                 f"- encoder: {source} ({enc.model_type}, {enc.num_hidden_layers} layers, hidden {enc.hidden_size})",
                 f"- pooling: {self.config.pooling}; shared layer: {self.config.shared_layer_size or 'none'}", "",
                 "| task | kind | weight | labels |", "|---|---|---|---|"]
        lines += [f"| {t.name} | {t.kind} | {t.weight:g} | {', '.join(t.labels)} |" for t in self.task_specs]
        lines += ["", "Reload with `AutoModel.from_pretrained(folder)` after `import mtbert_ref`."]
        return "\n".join(lines) + "\n"


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


def _check_labels(labels, specs: Sequence[TaskSpec], batch: int) -> None:
    """Errors that name the task and what was expected, before any loss is computed."""
    if not isinstance(labels, Mapping):
        raise TypeError(f"labels should be a dict {{task name: tensor}}, got {type(labels).__name__}")
    by_name = {t.name: t for t in specs}
    unknown = [k for k in labels if k not in by_name]
    if unknown:
        raise KeyError(f"labels for task(s) {unknown} that the model does not have; its tasks are {list(by_name)}")
    for name, y in labels.items():
        if y is None:
            continue
        t = by_name[name]
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"labels[{name!r}] should be a tensor, got {type(y).__name__}")
        n = len(t.labels)
        if t.kind == "multi_class":
            if y.is_floating_point():
                raise TypeError(f"task {name!r} is multi_class: labels should be int64 class ids, got {y.dtype}")
            if tuple(y.shape) != (batch,):
                raise ValueError(f"task {name!r} is multi_class: labels should have shape ({batch},), got "
                                 f"{tuple(y.shape)}")
            bad = y[(y != IGNORE) & ((y < 0) | (y >= n))]
            if bad.numel():
                raise ValueError(f"task {name!r} has {n} classes: class ids must be in 0..{n - 1} or -100, got "
                                 f"{bad.unique().tolist()[:5]}")
        else:
            ok = (batch, n) if not (t.kind == "regression" and n == 1 and y.dim() == 1) else (batch,)
            if tuple(y.shape) != ok:
                raise ValueError(f"task {name!r} is {t.kind} with {n} label(s): labels should have shape "
                                 f"({batch}, {n}), got {tuple(y.shape)}")


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
    AutoModel.register(MultiTaskConfig, MtBertForMultiTask)
except ValueError:  # already registered (module reloaded)
    pass

