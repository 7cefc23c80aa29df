"""Notebook 08 — growing a classifier with new labels without losing the old ones.

A fine-tuned classifier ends in a linear layer ``Linear(hidden, C)``: one row of weights (and one bias) per label.
Teaching it ``k`` more labels means giving that layer ``k`` more rows. transformers' only built-in answer,
``from_pretrained(..., num_labels=C + k, ignore_mismatched_sizes=True)``, throws the trained ``C`` rows away.
This module keeps them:

* :func:`grow_linear` — the exercise: a new ``Linear(hidden, C + k)`` whose first ``C`` rows are the old ones,
  plus the extended label maps.
* :class:`GrownLinear` — an ``nn.Linear`` that remembers its blocks of rows and computes each block with its own
  matrix product, so the old logits are *bit-identical* to the old layer's (one bigger product is not: the
  BLAS kernel may sum in another order and change the last bits).
* New-row initialisation: :func:`init_random` (at the scale of the layer's own rows), :func:`init_zeros`
  (zero weights, a low bias), :func:`init_mean` (mean of the old rows), :func:`imprint_rows` (imprinting: the
  normalised mean feature of the new label's examples, scaled like the old rows), all behind :func:`new_rows`.
* :func:`grow_classifier` — the whole operation on a bare ``nn.Linear``, a ``BertForSequenceClassification``
  (``classifier``), a RoBERTa-style head (``classifier.out_proj``) or one task head of a multi-task model
  (addressed by a module path such as ``"heads.topic"`` and the task name), updating ``num_labels``,
  ``id2label`` and ``label2id``.
* :func:`freeze_rows` — a gradient hook that keeps the old rows fixed while the new ones train.
* :func:`replay_mix` — the exercise: every new example plus a seeded sample of old ones, shuffled together.
* :func:`head_inputs` — the features a head sees (for imprinting), captured with a forward pre-hook.

After growing, the head's parameters are *new* tensors: an optimizer built before growing still holds the old
ones and would train nothing of the new head. Build the optimizer after growing.
"""
from __future__ import annotations

import random
from typing import Any, Iterable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .grading.core import GradingError, call_student, expect_equal, expect_tensor, expect_unchanged, passed

__all__ = [
    "GrownLinear",
    "grow_linear",
    "validate_new_labels",
    "init_random",
    "init_zeros",
    "init_mean",
    "imprint_rows",
    "new_rows",
    "INIT_STRATEGIES",
    "find_head",
    "grow_classifier",
    "restore_grown_heads",
    "freeze_rows",
    "unfreeze_rows",
    "head_inputs",
    "replay_mix",
    "check_grow_linear",
    "check_init_strategy",
    "check_replay_mix",
]

HEAD_PATHS = ("classifier", "classifier.out_proj", "score", "head", "classifier.dense_out", "out_proj")


# --------------------------------------------------------------------------------------------- the grown layer
class GrownLinear(nn.Linear):
    """An ``nn.Linear`` whose rows come in blocks (old labels, then each batch of added labels).

    ``forward`` computes ``F.linear`` block by block and concatenates, so the first block's logits are computed
    exactly as the original ``Linear(in, C)`` computed them (same shapes, same kernel, same summation order):
    bit-identical. Its state dict is a plain Linear's (``weight``, ``bias``), so ``save_pretrained`` /
    ``from_pretrained`` load it into an ordinary ``nn.Linear`` (see :func:`restore_grown_heads`).
    """

    def __init__(self, in_features: int, blocks: Sequence[int], bias: bool = True, device=None, dtype=None):
        blocks = tuple(int(b) for b in blocks)
        if not blocks or any(b < 1 for b in blocks):
            raise ValueError(f"blocks must be positive row counts, got {blocks}")
        super().__init__(in_features, sum(blocks), bias=bias, device=device, dtype=dtype)
        self.blocks = blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, start = [], 0
        for n in self.blocks:
            w = self.weight[start:start + n]
            b = None if self.bias is None else self.bias[start:start + n]
            outs.append(F.linear(x, w, b))
            start += n
        return torch.cat(outs, dim=-1)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", blocks={self.blocks}"


def _blocks_of(layer: nn.Linear) -> tuple[int, ...]:
    return tuple(getattr(layer, "blocks", (layer.out_features,)))


def validate_new_labels(existing: Iterable[str], new_labels: Sequence[str]) -> list[str]:
    """The new label names as a list; ValueError for an empty list, duplicates, or a name that already exists."""
    if isinstance(new_labels, str):
        raise ValueError(f"new_labels must be a list of names, got the single string {new_labels!r}; write "
                         f"[{new_labels!r}]")
    new_labels = list(new_labels)
    if not new_labels:
        raise ValueError("new_labels is empty: give at least one new label name")
    for name in new_labels:
        if not isinstance(name, str) or not name:
            raise ValueError(f"label names must be non-empty strings, got {name!r}")
    seen, dup = set(), []
    for name in new_labels:
        if name in seen and name not in dup:
            dup.append(name)
        seen.add(name)
    if dup:
        raise ValueError(f"new_labels contains duplicates: {dup}")
    existing = set(existing)
    clash = [n for n in new_labels if n in existing]
    if clash:
        raise ValueError(f"label(s) {clash} already exist in the classifier; new labels need new names")
    return new_labels


def _grown(layer: nn.Linear, new_weight: torch.Tensor, new_bias: torch.Tensor | None) -> GrownLinear:
    """A GrownLinear: ``layer``'s rows, then ``new_weight``'s; same dtype and device; ``layer`` is untouched."""
    k, d = new_weight.shape
    if d != layer.in_features:
        raise ValueError(f"new_weight has {d} columns but the layer takes {layer.in_features} input features")
    out = GrownLinear(layer.in_features, _blocks_of(layer) + (k,), bias=layer.bias is not None,
                      device=layer.weight.device, dtype=layer.weight.dtype)
    with torch.no_grad():
        out.weight.copy_(torch.cat([layer.weight.detach(), new_weight.detach().to(layer.weight)], dim=0))
        if layer.bias is not None:
            if new_bias is None:
                raise ValueError("the layer has a bias, so new_bias (shape (k,)) is needed")
            out.bias.copy_(torch.cat([layer.bias.detach(), new_bias.detach().to(layer.bias).reshape(k)]))
    out.train(layer.training)
    out.weight.requires_grad_(layer.weight.requires_grad)
    if out.bias is not None:
        out.bias.requires_grad_(layer.bias.requires_grad)
    return out


def grow_linear(layer: nn.Linear, id2label: dict, new_labels: Sequence[str], new_weight: torch.Tensor,
                new_bias: torch.Tensor | None = None):
    """Return ``(bigger_layer, id2label, label2id)`` with the ``k = len(new_labels)`` new labels appended.

    layer: ``nn.Linear(d, C)`` (left unchanged); id2label: ``{0: name, ..., C-1: name}``; new_weight: (k, d);
    new_bias: (k,) or None when the layer has no bias. ``bigger_layer`` is a ``Linear(d, C + k)`` in the layer's
    dtype and on its device whose rows ``0..C-1`` equal the old rows exactly and rows ``C..C+k-1`` are the new ones.
    The new maps give id ``C + i`` to ``new_labels[i]``. ValueError for an empty/duplicate/already existing name.
    """
    new_labels = validate_new_labels(id2label.values(), new_labels)
    if len(new_labels) != new_weight.shape[0]:
        raise ValueError(f"{len(new_labels)} new labels but new_weight has {new_weight.shape[0]} rows")
    bigger = _grown(layer, new_weight, new_bias)
    c = layer.out_features
    new_id2label = {int(i): name for i, name in id2label.items()}
    new_id2label.update({c + i: name for i, name in enumerate(new_labels)})
    label2id = {name: i for i, name in new_id2label.items()}
    return bigger, new_id2label, label2id


# --------------------------------------------------------------------------------------------- new-row init
def _old_bias_mean(layer_bias: torch.Tensor | None, k: int, like: torch.Tensor) -> torch.Tensor | None:
    if layer_bias is None:
        return None
    return layer_bias.detach().mean().expand(k).clone().to(like.dtype)


@torch.no_grad()
def init_random(layer: nn.Linear, k: int, generator: torch.Generator | None = None):
    """Random rows at the scale of the layer's own rows: N(0, s²) with s the std of the old weights.

    Bias: the mean of the old biases. Unit-variance ``torch.randn`` rows are far larger than trained rows
    (a BERT head starts at std 0.02), so their logits dwarf the old ones and the new label wins everywhere.
    """
    w = layer.weight.detach()
    std = float(w.float().std()) if w.numel() > 1 else float(w.abs().mean())
    rows = torch.randn(k, w.shape[1], generator=generator, dtype=torch.float32).to(w.device, w.dtype) * std
    return rows, _old_bias_mean(layer.bias, k, w)


@torch.no_grad()
def init_zeros(layer: nn.Linear, k: int, low_bias: float | None = None):
    """Zero rows and a low bias (default: the smallest old bias minus 1).

    A zero row's logit is its bias for every input, so a low bias starts the new label "never predicted";
    training then grows its row from the gradient ``(p - y) x``.
    """
    w = layer.weight.detach()
    rows = torch.zeros(k, w.shape[1], dtype=w.dtype, device=w.device)
    if layer.bias is None:
        return rows, None
    value = float(layer.bias.detach().min()) - 1.0 if low_bias is None else float(low_bias)
    return rows, torch.full((k,), value, dtype=w.dtype, device=w.device)


@torch.no_grad()
def init_mean(layer: nn.Linear, k: int):
    """Every new row is the mean of the old rows (bias: mean of the old biases).

    Its logit is then the average of the old logits, never above their maximum: the new label starts
    plausible but not predicted.
    """
    w = layer.weight.detach()
    rows = w.mean(dim=0, keepdim=True).expand(k, -1).clone()
    bias = None if layer.bias is None else layer.bias.detach().mean().expand(k).clone()
    return rows, bias


def imprint_rows(old_weight: torch.Tensor, old_bias: torch.Tensor | None, features: torch.Tensor,
                 labels: torch.Tensor, k: int):
    """Imprinting (Qi, Brown & Lowe, 2018): new rows made from the new labels' own examples.

    old_weight: (C, d); old_bias: (C,) or None; features: (n, d), the inputs of the layer for the examples of the
    new labels; labels: (n,) long in ``[0, k)`` (0 = first new label). For each new label j:
    1. normalise every feature to unit length, 2. average those of label j, 3. normalise the average,
    4. scale it to the mean L2 norm of the old rows. Bias: the mean of the old biases (None if old_bias is None).
    Returns ``(weight (k, d), bias (k,) or None)`` in old_weight's dtype and on its device.
    """
    features = features.detach().to(old_weight.device, old_weight.dtype)
    labels = labels.to(old_weight.device)
    missing = [j for j in range(k) if not bool((labels == j).any())]
    if missing:
        raise ValueError(f"imprinting needs at least one example of every new label; none for label index {missing}")
    unit = features / features.norm(dim=1, keepdim=True).clamp_min(1e-12)
    rows = torch.stack([unit[labels == j].mean(dim=0) for j in range(k)])
    rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
    scale = old_weight.detach().norm(dim=1).mean()
    bias = None if old_bias is None else old_bias.detach().mean().expand(k).clone()
    return rows * scale, bias


INIT_STRATEGIES = ("random", "zeros", "mean", "imprint", "randn")


def new_rows(layer: nn.Linear, k: int, strategy: str = "random", *, features: torch.Tensor | None = None,
             labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
             low_bias: float | None = None):
    """``(weight (k, d), bias (k,) or None)`` for ``k`` new rows of ``layer`` by ``strategy``.

    "random" (layer-scale), "zeros" (low bias), "mean" (of the old rows), "imprint" (needs ``features`` (n, d)
    and ``labels`` (n,) in [0, k)), and "randn" — unit-variance ``torch.randn`` rows and zero bias, the naive
    choice kept for comparison.
    """
    if strategy == "random":
        return init_random(layer, k, generator)
    if strategy == "zeros":
        return init_zeros(layer, k, low_bias)
    if strategy == "mean":
        return init_mean(layer, k)
    if strategy == "imprint":
        if features is None or labels is None:
            raise ValueError("strategy 'imprint' needs features= (n, in_features) and labels= (n,) of the new "
                             "labels' examples (see head_inputs)")
        return imprint_rows(layer.weight, layer.bias, features, torch.as_tensor(labels), k)
    if strategy == "randn":
        w = layer.weight
        rows = torch.randn(k, w.shape[1], generator=generator).to(w.device, w.dtype)
        bias = None if layer.bias is None else torch.zeros(k, dtype=w.dtype, device=w.device)
        return rows, bias
    raise ValueError(f"unknown init strategy {strategy!r}; choose one of {INIT_STRATEGIES}")


# --------------------------------------------------------------------------------------------- whole models
def _get(root: nn.Module, path: str):
    obj = root
    for part in path.split("."):
        if isinstance(obj, (nn.ModuleDict, dict)) and part in obj:
            obj = obj[part]
        elif isinstance(obj, (nn.ModuleList, nn.Sequential)) and part.isdigit():
            obj = obj[int(part)]
        else:
            obj = getattr(obj, part)
    return obj


def _set(root: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, last = path.rpartition(".")
    parent = _get(root, parent_path) if parent_path else root
    if isinstance(parent, nn.ModuleDict):
        parent[last] = module
    elif isinstance(parent, (nn.ModuleList, nn.Sequential)) and last.isdigit():
        parent[int(last)] = module
    else:
        setattr(parent, last, module)


def find_head(model: nn.Module, head: str | None = None, task: str | None = None) -> tuple[str, nn.Linear]:
    """``(path, layer)`` of the output ``nn.Linear`` to grow.

    ``head`` names it explicitly ("classifier", "heads.topic", ...); otherwise, with ``task``, the paths
    ``heads.<task>``, ``heads.<task>.classifier``, ``heads.<task>.out_proj``, ``classifiers.<task>`` are tried;
    otherwise ``classifier``, ``classifier.out_proj``, ``score``, ``head``. A path that leads to a module which is
    not itself a Linear is followed into its ``out_proj``/``classifier``/``linear``/``proj`` child or its last Linear.
    LookupError names every path tried.
    """
    if head is not None:
        candidates = [head]
    elif task is not None:
        candidates = [f"heads.{task}", f"heads.{task}.classifier", f"heads.{task}.out_proj",
                      f"heads.{task}.linear", f"classifiers.{task}", f"task_heads.{task}"]
    else:
        candidates = list(HEAD_PATHS)
    tried = []
    for path in candidates:
        tried.append(path)
        try:
            mod = _get(model, path)
        except (AttributeError, KeyError, IndexError, TypeError):
            continue
        if isinstance(mod, nn.Linear):
            return path, mod
        if isinstance(mod, nn.Module):
            for child in ("out_proj", "classifier", "linear", "proj", "out"):
                sub = getattr(mod, child, None)
                tried.append(f"{path}.{child}")
                if isinstance(sub, nn.Linear):
                    return f"{path}.{child}", sub
            linears = [(n, m) for n, m in mod.named_modules() if isinstance(m, nn.Linear)]
            if linears:
                n, m = linears[-1]
                return f"{path}.{n}", m
    raise LookupError(f"could not find the output Linear layer of {type(model).__name__}; tried the attribute paths "
                      f"{tried}. Pass head='path.to.layer' (e.g. head='classifier' or head='heads.topic').")


def _task_label_store(config: Any, task: str):
    """Where a multi-task config keeps the label names of ``task``: returns (getter, setter) of an id2label dict.

    Understood, in this order: the config's own ``task_id2label(task)`` / ``set_task_labels(task, names)`` methods
    (mtbert_ref.modeling.multitask.MultiTaskConfig); ``config.tasks`` as a list of dicts with a ``"name"`` key; a dict
    attribute ``task_id2label``, ``id2label_per_task``, ``task_labels``, ``tasks`` or ``label_names`` keyed by task.
    """
    if callable(getattr(config, "task_id2label", None)) and callable(getattr(config, "set_task_labels", None)):
        def get():
            return {int(i): n for i, n in config.task_id2label(task).items()}

        def put(m):
            config.set_task_labels(task, [m[i] for i in range(len(m))])
        get()  # raises KeyError naming the tasks if there is no such task
        return get, put
    tasks = getattr(config, "tasks", None)
    if isinstance(tasks, list) and tasks and all(isinstance(t, dict) and "name" in t for t in tasks):
        entry = next((t for t in tasks if t["name"] == task), None)
        if entry is None:
            raise LookupError(f"no task named {task!r} in config.tasks; tasks: {[t['name'] for t in tasks]}")
        key = "id2label" if "id2label" in entry else "labels"

        def get(entry=entry, key=key):
            v = entry[key]
            return {int(i): n for i, n in v.items()} if isinstance(v, dict) else dict(enumerate(v))

        def put(m, entry=entry, key=key):
            names = [m[i] for i in range(len(m))]
            entry[key] = {str(i): n for i, n in m.items()} if isinstance(entry[key], dict) else names
            if "labels" in entry and key != "labels":
                entry["labels"] = names
            if "label2id" in entry:
                entry["label2id"] = {n: i for i, n in m.items()}
            if "num_labels" in entry:
                entry["num_labels"] = len(m)
        return get, put
    for attr in ("task_id2label", "id2label_per_task", "task_labels", "tasks", "label_names"):
        store = getattr(config, attr, None)
        if not isinstance(store, dict) or task not in store:
            continue
        entry = store[task]
        if isinstance(entry, dict) and ("id2label" in entry or "labels" in entry):
            key = "id2label" if "id2label" in entry else "labels"
            inner = entry[key]

            def get(entry=entry, key=key):
                v = entry[key]
                return {int(i): n for i, n in v.items()} if isinstance(v, dict) else dict(enumerate(v))

            def put(m, entry=entry, key=key, as_list=isinstance(inner, (list, tuple))):
                entry[key] = [m[i] for i in range(len(m))] if as_list else {i: n for i, n in m.items()}
                if "label2id" in entry:
                    entry["label2id"] = {n: i for i, n in m.items()}
                if "num_labels" in entry:
                    entry["num_labels"] = len(m)
            return get, put
        if isinstance(entry, dict):
            def get(store=store):
                return {int(i): n for i, n in store[task].items()}

            def put(m, store=store):
                store[task] = dict(m)
            return get, put
        if isinstance(entry, (list, tuple)):
            def get(store=store):
                return dict(enumerate(store[task]))

            def put(m, store=store):
                store[task] = [m[i] for i in range(len(m))]
            return get, put
    raise LookupError(f"the config has no label names for task {task!r} (looked for config.task_id2label, "
                      "id2label_per_task, task_labels, tasks, label_names)")


@torch.no_grad()
def grow_classifier(model: nn.Module, new_labels: Sequence[str], init: str = "random", *, head: str | None = None,
                    task: str | None = None, features: torch.Tensor | None = None,
                    feature_labels: Sequence | torch.Tensor | None = None, freeze_old: bool = False,
                    generator: torch.Generator | None = None, low_bias: float | None = None,
                    id2label: dict | None = None):
    """Add ``new_labels`` to a classifier and return it; the old logits stay bit-identical for every input.

    model: a bare ``nn.Linear`` (returns the grown layer; pass ``id2label`` to have the maps checked — they are
    then stored on the layer as ``.id2label``/``.label2id``), or a model with a config (grown in place and
    returned): ``BertForSequenceClassification`` (``classifier``), ``RobertaForSequenceClassification``
    (``classifier.out_proj``), or one task of a multi-task model (``task="topic"``, head found at
    ``heads.topic`` unless ``head=`` says where; label names read from and written to the config's per-task maps).
    init: see :func:`new_rows`; for "imprint", ``features`` are the head's inputs (see :func:`head_inputs`) for the
    new examples and ``feature_labels`` their labels (names from ``new_labels`` or indices 0..k-1).
    freeze_old: register :func:`freeze_rows` so only the new rows learn.

    The head's parameters are new tensors: build the optimizer *after* growing.
    """
    k_labels = list(new_labels) if not isinstance(new_labels, str) else new_labels
    if isinstance(model, nn.Linear):
        path, layer = "", model
        old_map = dict(id2label) if id2label is not None else dict(getattr(model, "id2label", None) or
                                                                  {i: f"LABEL_{i}" for i in range(model.out_features)})
        get_put = None
    else:
        path, layer = find_head(model, head, task)
        config = getattr(model, "config", None)
        if task is not None:
            if config is None:
                raise LookupError(f"{type(model).__name__} has no .config holding the label names of task {task!r}")
            get_put = _task_label_store(config, task)
            old_map = get_put[0]()
        else:
            if config is None or getattr(config, "id2label", None) is None:
                old_map = {i: f"LABEL_{i}" for i in range(layer.out_features)}
                get_put = None
            else:
                old_map = {int(i): n for i, n in config.id2label.items()}
                get_put = "config"
    if len(old_map) != layer.out_features:
        raise ValueError(f"the label maps name {len(old_map)} labels but the layer at {path or 'model'!r} has "
                         f"{layer.out_features} outputs")
    k_labels = validate_new_labels(old_map.values(), k_labels)
    k = len(k_labels)
    labels_t = None
    if feature_labels is not None:
        if isinstance(feature_labels, torch.Tensor):
            labels_t = feature_labels.long()
        else:
            pos = {n: i for i, n in enumerate(k_labels)}
            labels_t = torch.tensor([pos[x] if isinstance(x, str) else int(x) for x in feature_labels])
    w, b = new_rows(layer, k, init, features=features, labels=labels_t, generator=generator, low_bias=low_bias)
    bigger, new_id2label, new_label2id = grow_linear(layer, old_map, k_labels, w, b)
    if freeze_old:
        freeze_rows(bigger, layer.out_features)
    if path == "":
        bigger.id2label, bigger.label2id = new_id2label, new_label2id
        return bigger
    _set(model, path, bigger)
    config = model.config
    if get_put == "config":
        config.id2label = new_id2label
        config.label2id = new_label2id
        if hasattr(model, "num_labels"):
            model.num_labels = len(new_id2label)
    elif get_put is not None:
        get_put[1](new_id2label)
    blocks = dict(getattr(config, "grown_heads", None) or {})
    blocks[path] = list(bigger.blocks)
    config.grown_heads = blocks
    return model


def restore_grown_heads(model: nn.Module) -> nn.Module:
    """After ``from_pretrained`` of a grown model: turn the plain Linear heads back into :class:`GrownLinear`.

    The weights are reused as they are (same Parameter objects); only the block-wise forward comes back, which
    makes the old logits bit-identical again (a plain Linear gives them to within float rounding).
    """
    for path, blocks in (getattr(model.config, "grown_heads", None) or {}).items():
        layer = _get(model, path)
        if isinstance(layer, GrownLinear):
            continue
        if sum(blocks) != layer.out_features:
            raise ValueError(f"config.grown_heads says {path} has blocks {blocks}, but it has {layer.out_features} rows")
        g = GrownLinear.__new__(GrownLinear)
        nn.Module.__init__(g)
        g.in_features, g.out_features, g.blocks = layer.in_features, layer.out_features, tuple(blocks)
        g.weight, g.bias = layer.weight, layer.bias
        g.train(layer.training)
        _set(model, path, g)
    return model


# --------------------------------------------------------------------------------------------- freezing
def freeze_rows(layer: nn.Linear, n_old: int) -> nn.Linear:
    """Zero the gradient of rows ``0..n_old-1`` (weight and bias) with tensor hooks; returns ``layer``.

    The rows then stay exactly as they are under SGD and Adam — but *not* under AdamW's decoupled weight decay,
    which shrinks every parameter whatever its gradient: give the head ``weight_decay=0``.
    """
    unfreeze_rows(layer)

    def mask(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[:n_old] = 0
        return grad

    handles = [layer.weight.register_hook(mask)]
    if layer.bias is not None:
        handles.append(layer.bias.register_hook(mask))
    layer._mtbert_freeze_handles = handles
    layer.frozen_rows = n_old
    return layer


def unfreeze_rows(layer: nn.Linear) -> nn.Linear:
    """Remove the hooks of :func:`freeze_rows` (if any)."""
    for h in getattr(layer, "_mtbert_freeze_handles", []):
        h.remove()
    layer._mtbert_freeze_handles = []
    layer.frozen_rows = 0
    return layer


# --------------------------------------------------------------------------------------------- features, replay
@torch.no_grad()
def head_inputs(model: nn.Module, batches: Iterable[dict], head: str | None = None, task: str | None = None,
                device: str | torch.device = "cpu") -> torch.Tensor:
    """The inputs of the model's output Linear for every example of ``batches`` (n, in_features), on the CPU.

    Captured by a forward pre-hook, so it works for any head (BERT's pooled output after dropout, RoBERTa's
    dense+tanh features, a multi-task head ...). The model runs in eval mode.
    """
    from .trainer import move_to
    _, layer = find_head(model, head, task)
    got: list[torch.Tensor] = []
    handle = layer.register_forward_pre_hook(lambda mod, args: got.append(args[0].detach().float().cpu()))
    was_training = model.training
    model.eval().to(device)
    try:
        for batch in batches:
            batch = {k: v for k, v in move_to(batch, device).items() if k != "labels"}
            model(**batch)
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(got)


def replay_mix(new_examples: Sequence, old_examples: Sequence, ratio: float, seed: int) -> list:
    """Every new example once, plus ``min(len(old), round(ratio * len(new)))`` old examples drawn without
    replacement, all shuffled together; seeded by ``seed``; the input lists are not modified.

    Replay keeps the old labels' logits in the loss, so fine-tuning on the new labels cannot push them down
    everywhere. ``ratio`` is the number of replayed old examples per new one.
    """
    if ratio < 0:
        raise ValueError(f"ratio must be >= 0, got {ratio}")
    rng = random.Random(seed)
    n_old = min(len(old_examples), int(round(ratio * len(new_examples))))
    mixed = list(new_examples) + rng.sample(list(old_examples), n_old)
    rng.shuffle(mixed)
    return mixed


# --------------------------------------------------------------------------------------------- checkers
def _linear_case(seed: int, d: int, c: int, k: int, bias: bool = True, dtype=torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    layer = nn.Linear(d, c, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(c, d, generator=g) * 0.3)
        if bias:
            layer.bias.copy_(torch.randn(c, generator=g))
    layer = layer.to(device=device, dtype=dtype)
    names = ["greetings", "money", "food", "coding", "ai", "trivia", "science", "emotion", "history", "profile"]
    id2label = {i: names[i % len(names)] + ("" if i < len(names) else f"_{i}") for i in range(c)}
    new_labels = [f"new_{j}" for j in range(k)]
    w = (torch.randn(k, d, generator=g) * 0.3).to(device=device, dtype=dtype)
    b = (torch.randn(k, generator=g)).to(device=device, dtype=dtype) if bias else None
    x = torch.randn(5, 3, d, generator=g).to(device=device, dtype=dtype)
    return layer, id2label, new_labels, w, b, x


def check_grow_linear(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Check ``grow_linear(layer, id2label, new_labels, new_weight, new_bias) -> (layer, id2label, label2id)``."""
    device = torch.device(device)
    cases = [dict(seed=0, d=8, c=4, k=1)]
    if hidden_tests:
        cases += [dict(seed=1, d=16, c=6, k=3), dict(seed=2, d=5, c=3, k=2, bias=False),
                  dict(seed=3, d=12, c=7, k=2, dtype=torch.float64), dict(seed=4, d=32, c=12, k=1)]
    for case in cases:
        layer, id2label, new_labels, w, b, x = _linear_case(device=device, **case)
        c, k, d = case["c"], case["k"], case["d"]
        desc = f"grow_linear on Linear({d}, {c}{'' if case.get('bias', True) else ', bias=False'}) with {k} new " \
               f"label(s) ({layer.weight.dtype})"
        before = {"weight": layer.weight.detach().clone(), "bias": None if b is None else layer.bias.detach().clone()}
        with torch.no_grad():
            old_logits = layer(x)
        maps_before = dict(id2label)
        result = call_student(student_fn, layer, id2label, list(new_labels), w.clone(), None if b is None else b.clone(),
                              name="grow_linear", reference=grow_linear)
        if not isinstance(result, tuple) or len(result) != 3:
            raise GradingError(f"{desc}: return a tuple (bigger_layer, id2label, label2id), got a "
                               f"{type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, tuple)
                                                             else "") + ".")
        bigger, got_id2label, got_label2id = result
        if layer.weight.shape != (c, d) or not torch.equal(layer.weight.detach(), before["weight"]) or (
                b is not None and not torch.equal(layer.bias.detach(), before["bias"])):
            raise GradingError(f"{desc}: the original layer was modified. Build a new nn.Linear and copy the rows into "
                               "it; leave `layer` as it was (the caller may still need it).")
        if id2label != maps_before:
            raise GradingError(f"{desc}: the id2label dict you were given was modified in place; return a new dict.")
        if not isinstance(bigger, nn.Linear):
            raise GradingError(f"{desc}: the first returned value should be an nn.Linear, got {type(bigger).__name__}.")
        if (bigger.in_features, bigger.out_features) != (d, c + k):
            raise GradingError(f"{desc}: the new layer has in_features={bigger.in_features}, "
                               f"out_features={bigger.out_features}; expected {d} and {c + k}.")
        if not isinstance(bigger.weight, nn.Parameter) or not bigger.weight.requires_grad:
            raise GradingError(f"{desc}: the new layer's weight must be a trainable nn.Parameter (requires_grad=True).")
        expect_tensor(bigger.weight.detach(), torch.cat([before["weight"], w]), f"{desc}: the new layer's weight",
                      atol=0.0, rtol=0.0)
        if not torch.equal(bigger.weight.detach()[:c], before["weight"]):
            raise GradingError(f"{desc}: rows 0..{c - 1} of the new weight must equal the old rows exactly.")
        if b is None:
            if bigger.bias is not None:
                raise GradingError(f"{desc}: the old layer has no bias, so the new one must not have one either "
                                   "(nn.Linear(..., bias=False)).")
        else:
            if bigger.bias is None:
                raise GradingError(f"{desc}: the new layer lost its bias; expected a bias of shape ({c + k},).")
            expect_tensor(bigger.bias.detach(), torch.cat([before["bias"], b]), f"{desc}: the new layer's bias",
                          atol=0.0, rtol=0.0)
        with torch.no_grad():
            got = bigger(x)
        expect_tensor(got, torch.cat([old_logits, F.linear(x, w, b)], -1), f"{desc}: the new layer's output")
        hint = ("The new labels get the ids that follow the old ones: C, C+1, ... (C = number of old labels), in the "
                "order of new_labels.")
        want_id2label = {**maps_before, **{c + i: n for i, n in enumerate(new_labels)}}
        expect_equal(got_id2label, want_id2label, f"{desc}: id2label", hint)
        expect_equal(got_label2id, {n: i for i, n in want_id2label.items()}, f"{desc}: label2id",
                     "label2id is the inverse of id2label: {name: id}.")
    if hidden_tests:
        layer, id2label, _, w, b, _ = _linear_case(seed=9, d=6, c=3, k=1, device=device)
        bad = [("a label name that already exists", [id2label[1]], w, b),
               ("an empty list of new labels", [], w[:0], b[:0]),
               ("the same new name twice", ["sports", "sports"], torch.cat([w, w]), torch.cat([b, b]))]
        for what, names, ww, bb in bad:
            try:
                student_fn(layer, dict(id2label), names, ww, bb)
            except ValueError:
                continue
            except NotImplementedError:
                raise GradingError("`grow_linear` is not implemented yet (it raised NotImplementedError).") from None
            except Exception as exc:  # noqa: BLE001
                raise GradingError(f"grow_linear with {what} should raise ValueError, but it raised "
                                   f"{type(exc).__name__}: {exc}") from None
            raise GradingError(f"grow_linear with {what} ({names!r}) should raise ValueError with a clear message, "
                               "but it returned normally.")
    passed(f"grow_linear keeps the old rows exactly and extends the label maps ({len(cases)} case(s), {device.type})")


def _imprint_case(seed: int, c: int, d: int, k: int, n: int, bias=True, dtype=torch.float32, device="cpu",
                  single=False):
    g = torch.Generator().manual_seed(seed)
    w = (torch.randn(c, d, generator=g) * torch.rand(c, 1, generator=g) * 2).to(device=device, dtype=dtype)
    bb = torch.randn(c, generator=g).to(device=device, dtype=dtype) if bias else None
    labels = torch.arange(n) % k
    if single:
        labels[labels == k - 1] = 0
        labels[0] = k - 1
    labels = labels[torch.randperm(n, generator=g)]
    centres = torch.randn(k, d, generator=g) * 2
    feats = centres[labels] + torch.randn(n, d, generator=g)
    feats = feats * (0.2 + 5 * torch.rand(n, 1, generator=g))      # very unequal norms
    return w, bb, feats.to(device=device, dtype=dtype), labels.to(device), k


def check_init_strategy(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Check ``imprint_rows(old_weight, old_bias, features, labels, k) -> (weight (k, d), bias (k,) or None)``."""
    device = torch.device(device)
    cases = [dict(seed=0, c=5, d=8, k=2, n=12)]
    if hidden_tests:
        cases += [dict(seed=1, c=10, d=16, k=3, n=30), dict(seed=2, c=4, d=6, k=2, n=9, bias=False),
                  dict(seed=3, c=6, d=12, k=1, n=5, dtype=torch.float64), dict(seed=4, c=7, d=10, k=3, n=11,
                                                                             single=True)]
    for case in cases:
        w, b, feats, labels, k = _imprint_case(device=device, **case)
        inputs = (w, b, feats, labels)
        before = [None if t is None else t.clone() for t in inputs]
        desc = (f"imprint_rows with old_weight {tuple(w.shape)}, {'no bias' if b is None else 'a bias'}, "
                f"features {tuple(feats.shape)} ({feats.dtype}), k={k}")
        got = call_student(student_fn, w, b, feats, labels, k, name="imprint_rows", reference=imprint_rows)
        for t0, t1, nm in zip(before, inputs, ("old_weight", "old_bias", "features", "labels")):
            if t0 is not None:
                expect_unchanged(t0, t1, f"The argument {nm} of imprint_rows")
        if not isinstance(got, tuple) or len(got) != 2:
            raise GradingError(f"{desc}: return a tuple (weight, bias), got a {type(got).__name__}.")
        want_w, want_b = imprint_rows(w, b, feats, labels, k)
        gw, gb = got
        if isinstance(gw, torch.Tensor) and gw.shape == want_w.shape and gw.dtype == want_w.dtype:
            a = gw.detach()
            if not torch.allclose(a.norm(dim=1), want_w.norm(dim=1), rtol=1e-4, atol=1e-6):
                if torch.allclose(a.norm(dim=1), torch.ones(k, dtype=a.dtype, device=a.device), atol=1e-4):
                    raise GradingError(f"{desc}: your rows have length 1; scale them to the mean L2 norm of the old "
                                       "rows (`old_weight.norm(dim=1).mean()`) so the new logits are on the old scale.")
            cos = F.cosine_similarity(a.to(want_w.device), want_w, dim=1)
            if bool((cos < 0.9999).any()):
                unnormed = torch.stack([feats[labels == j].mean(0) for j in range(k)])
                if bool((F.cosine_similarity(a, unnormed, dim=1) > 0.9999).all()):
                    raise GradingError(f"{desc}: the directions of your rows are those of the plain mean feature. "
                                       "Normalise every feature to unit length *before* averaging (step 1), so a "
                                       "long feature vector does not outweigh the others.")
        expect_tensor(gw, want_w, f"{desc}: the new weight rows")
        if want_b is None:
            if gb is not None:
                raise GradingError(f"{desc}: old_bias is None (the layer has no bias), so return None as the bias.")
        else:
            expect_tensor(gb, want_b, f"{desc}: the new bias", )
    passed(f"imprint_rows matches the reference ({len(cases)} case(s), {device.type})")


def check_replay_mix(student_fn, hidden_tests: bool = False) -> None:
    """Check ``replay_mix(new_examples, old_examples, ratio, seed) -> list`` by its properties (any seeded RNG)."""
    cases = [(10, 100, 2.0)]
    if hidden_tests:
        cases += [(7, 50, 3.0), (12, 20, 5.0), (6, 40, 0.0), (9, 30, 1.3), (1, 5, 2.0)]
    for n_new, n_old, ratio in cases:
        new = [("new", i) for i in range(n_new)]
        old = [("old", j) for j in range(n_old)]
        new_copy, old_copy = list(new), list(old)
        want_old = min(n_old, int(round(ratio * n_new)))
        desc = f"replay_mix with {n_new} new, {n_old} old examples and ratio={ratio}"
        results = {}
        for seed in (0, 1, 2, 3):
            got = call_student(student_fn, new, old, ratio, seed, name="replay_mix", reference=replay_mix)
            if new != new_copy or old != old_copy:
                raise GradingError(f"{desc}: an input list was modified (shuffled or emptied) in place; work on copies "
                                   "(`list(old_examples)`, `rng.sample(...)`).")
            if not isinstance(got, list):
                raise GradingError(f"{desc}: return a list, got a {type(got).__name__}.")
            n_got_new = sum(1 for x in got if x in new_copy)
            missing = [x for x in new_copy if x not in got]
            if missing:
                raise GradingError(f"{desc}: {len(missing)} new example(s) are missing from the mix (e.g. {missing[0]}); "
                                   "every new example must appear exactly once.")
            if n_got_new != n_new:
                raise GradingError(f"{desc}: the mix holds {n_got_new} new examples, expected each of the {n_new} "
                                   "exactly once.")
            olds = [x for x in got if x not in new_copy]
            if any(x not in old_copy for x in olds):
                raise GradingError(f"{desc}: the mix contains items that are neither new nor old examples.")
            if len(olds) != want_old:
                raise GradingError(f"{desc}: the mix holds {len(olds)} old examples, expected {want_old} "
                                   f"(= min(len(old_examples), round(ratio * len(new_examples)))).")
            if len(set(olds)) != len(olds):
                raise GradingError(f"{desc}: some old examples appear twice; draw them without replacement "
                                   "(`rng.sample`).")
            again = call_student(student_fn, new, old, ratio, seed, name="replay_mix", reference=replay_mix)
            if again != got:
                raise GradingError(f"{desc}: two calls with the same seed ({seed}) gave different mixes; use a random "
                                   "generator seeded with `seed` (e.g. `random.Random(seed)`), not the global one.")
            results[seed] = got
        if want_old > 0 and n_new + want_old >= 8:
            if all(results[s] == results[0] for s in results):
                raise GradingError(f"{desc}: seeds 0, 1, 2 and 3 all gave the same mix; the seed must change the "
                                   "sample and the order.")
            if all(all(x in new_copy for x in results[s][:n_new]) for s in results) or \
                    all(all(x in new_copy for x in results[s][-n_new:]) for s in results):
                raise GradingError(f"{desc}: the new examples always sit together at one end of the mix; shuffle the "
                                   "new and the old examples together, so each batch sees both.")
        if 0 < want_old < n_old:
            picked = [sorted(x for x in results[s] if x not in new_copy) for s in results]
            if all(p == sorted(old_copy[:want_old]) for p in picked):
                raise GradingError(f"{desc}: the replayed old examples are always the first {want_old} of "
                                   "old_examples; draw them at random (with the seeded generator).")
    passed(f"replay_mix keeps every new example, replays the right number of old ones, and is seeded "
           f"({len(cases)} case(s))")
