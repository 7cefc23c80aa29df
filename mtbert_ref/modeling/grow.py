"""Notebook 08 — growing a classifier with new labels without losing the old ones (exercise 1: :func:`grow_linear`).

A fine-tuned classifier ends in a linear layer ``Linear(hidden, C)``: one row of weights (and one bias) per label.
Teaching it ``k`` more labels means giving that layer ``k`` more rows. transformers' only built-in answer,
``from_pretrained(..., num_labels=C + k, ignore_mismatched_sizes=True)``, throws the trained ``C`` rows away.
This module keeps them:

* :func:`grow_linear` — the exercise: a new ``Linear(hidden, C + k)`` whose first ``C`` rows are the old ones,
  plus the extended label maps.
* :class:`GrownLinear` — an ``nn.Linear`` that remembers its blocks of rows and computes each block with its own
  matrix product, so the old logits are *bit-identical* to the old layer's (one bigger product is not: the
  BLAS kernel may sum in another order and change the last bits).
* :func:`grow_classifier` — the whole operation on a bare ``nn.Linear``, a ``BertForSequenceClassification``
  (``classifier``), a RoBERTa-style head (``classifier.out_proj``) or one task head of the multi-task model
  (:mod:`.multitask`, addressed by the task name), updating ``num_labels``, ``id2label`` and ``label2id`` and
  recording the blocks in ``config.grown_heads``.
* Reloading: ``save_pretrained`` writes a plain Linear's ``weight``/``bias`` and ``config.grown_heads``; while this
  module is imported, ``from_pretrained`` of such a folder builds those heads as :class:`GrownLinear` before the
  weights load (a torch module-registration hook reads ``config.grown_heads``), so the reloaded model's logits, old
  and new labels, are bit-identical to the saved model's. :func:`restore_grown_heads` does the same on a model
  already loaded (a no-op when the heads are grown already).

Where the new rows start (random at the layer's scale, zeros, mean, imprinting) and how the old ones stay fixed
while the new ones train (:func:`~.grow_rows.freeze_rows`) is :mod:`.grow_rows`; the features a head sees and the
replay mix are :mod:`mtbert_ref.lessons.grow`; the checkers are :mod:`mtbert_ref.grading.grow`.

After growing, the head's parameters are *new* tensors: an optimizer built before growing still holds the old ones
and would train nothing of the new head. Build the optimizer after growing.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.module import register_module_module_registration_hook

from .grow_rows import freeze_rows, new_rows

__all__ = ["GrownLinear", "grow_linear", "validate_new_labels", "HEAD_PATHS", "find_head", "grow_classifier",
           "restore_grown_heads"]

HEAD_PATHS = ("classifier", "classifier.out_proj", "score", "head", "classifier.dense_out", "out_proj")


# --------------------------------------------------------------------------------------------- the grown layer
class GrownLinear(nn.Linear):
    """An ``nn.Linear`` whose rows come in blocks (old labels, then each batch of added labels).

    ``forward`` computes ``F.linear`` block by block and concatenates, so the first block's logits are computed
    exactly as the original ``Linear(in, C)`` computed them (same shapes, same kernel, same summation order):
    bit-identical. Its state dict is a plain Linear's (``weight``, ``bias``); ``config.grown_heads`` records the
    blocks, from which ``from_pretrained`` rebuilds it (see the module docstring).
    """

    def __init__(self, in_features: int, blocks: Sequence[int], bias: bool = True, device=None, dtype=None):
        blocks = tuple(int(b) for b in blocks)
        if not blocks or any(b < 1 for b in blocks):
            raise ValueError(f"blocks must be positive row counts, got {blocks}")
        super().__init__(in_features, sum(blocks), bias=bias, device=device, dtype=dtype)
        self.blocks = blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # from_pretrained can leave the weights as views of the checkpoint file at any byte offset; CPU matrix
        # kernels choose their code path by alignment, and an unaligned copy of the same numbers then rounds
        # differently in the last bit. An aligned copy (what torch allocates; differentiable) keeps it bit-identical.
        weight = self.weight if self.weight.data_ptr() % 64 == 0 else self.weight.clone()
        bias = self.bias if self.bias is None or self.bias.data_ptr() % 64 == 0 else self.bias.clone()
        outs, start = [], 0
        for n in self.blocks:
            w = weight[start:start + n]
            b = None if bias is None else bias[start:start + n]
            outs.append(F.linear(x, w, b))
            start += n
        return torch.cat(outs, dim=-1)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", blocks={self.blocks}"


def _blocks_of(layer: nn.Linear) -> tuple[int, ...]:
    return tuple(getattr(layer, "blocks", (layer.out_features,)))


def _as_grown(layer: nn.Linear, blocks: Sequence[int]) -> GrownLinear:
    """A GrownLinear holding ``layer``'s own Parameter objects (no copy), computing block-wise by ``blocks``."""
    g = GrownLinear.__new__(GrownLinear)
    nn.Module.__init__(g)
    g.in_features, g.out_features, g.blocks = layer.in_features, layer.out_features, tuple(int(b) for b in blocks)
    g.weight, g.bias = layer.weight, layer.bias
    g.train(layer.training)
    return g


def _fits(layer: Any, blocks: Sequence[int]) -> bool:
    """A plain (not yet grown) Linear with as many rows as ``blocks`` add up to."""
    return isinstance(layer, nn.Linear) and not isinstance(layer, GrownLinear) and \
        layer.out_features == sum(int(b) for b in blocks)


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


def _entry_store(entry: dict, str_keys: bool):
    """(get, put) of the id2label kept in one task entry ``{"id2label" or "labels", maybe "label2id", ...}``."""
    key = "id2label" if "id2label" in entry else "labels"

    def get():
        v = entry[key]
        return {int(i): n for i, n in v.items()} if isinstance(v, dict) else dict(enumerate(v))

    def put(m):
        names = [m[i] for i in range(len(m))]
        if isinstance(entry[key], dict):
            entry[key] = {(str(i) if str_keys else i): n for i, n in m.items()}
        else:
            entry[key] = names
        if "labels" in entry and key != "labels":
            entry["labels"] = names
        if "label2id" in entry:
            entry["label2id"] = {n: i for i, n in m.items()}
        if "num_labels" in entry:
            entry["num_labels"] = len(m)
    return get, put


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
        return _entry_store(entry, str_keys=True)
    for attr in ("task_id2label", "id2label_per_task", "task_labels", "tasks", "label_names"):
        store = getattr(config, attr, None)
        if not isinstance(store, dict) or task not in store:
            continue
        entry = store[task]
        if isinstance(entry, dict) and ("id2label" in entry or "labels" in entry):
            return _entry_store(entry, str_keys=False)
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
    The blocks are recorded in ``config.grown_heads``: ``save_pretrained`` → ``from_pretrained`` gives the grown
    head back with bit-identical logits (see the module docstring).
    init: see :func:`.grow_rows.new_rows`; for "imprint", ``features`` are the head's inputs (see
    :func:`mtbert_ref.lessons.grow.head_inputs`) for the new examples and ``feature_labels`` their labels (names
    from ``new_labels`` or indices 0..k-1).
    freeze_old: apply :func:`.grow_rows.freeze_rows` so only the new rows learn.

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
    """Turn the plain Linear heads named in ``config.grown_heads`` back into :class:`GrownLinear`; returns ``model``.

    Not needed after ``from_pretrained`` while this module is imported (the heads come back grown); kept for old
    notebooks and for a model loaded without it. Idempotent: a head that is a GrownLinear already is left alone.
    The weights are reused as they are (same Parameter objects); only the block-wise forward comes back, which
    makes the old logits bit-identical again (a plain Linear gives them to within float rounding).
    """
    for path, blocks in (getattr(model.config, "grown_heads", None) or {}).items():
        layer = _get(model, path)
        if isinstance(layer, GrownLinear):
            continue
        if sum(blocks) != layer.out_features:
            raise ValueError(f"config.grown_heads says {path} has blocks {blocks}, but it has {layer.out_features} rows")
        _set(model, path, _as_grown(layer, blocks))
    return model


def _rebuild_grown_heads(module: nn.Module, name: str, submodule: Any):
    """Global module-registration hook: a model whose config lists ``grown_heads`` gets them as GrownLinear.

    transformers' ``from_pretrained`` builds ``cls(config)`` (e.g. ``self.classifier = nn.Linear(...)``) and then
    loads the weights into it. When ``module.config.grown_heads`` names a path starting at ``name`` and the Linear
    there has the recorded number of rows, it is swapped for a GrownLinear holding the same Parameters, before any
    weight is loaded. Anything else (no config, no ``grown_heads``, another size) is left as it is.
    """
    config = vars(module).get("config")
    grown = getattr(config, "grown_heads", None) if config is not None else None
    if not isinstance(grown, dict) or not isinstance(submodule, nn.Module):
        return None
    replacement = None
    for path, blocks in grown.items():
        first, _, rest = str(path).partition(".")
        if first != name:
            continue
        if not rest:
            if _fits(submodule, blocks):
                replacement = _as_grown(submodule, blocks)
            continue
        try:
            inner = _get(submodule, rest)
        except (AttributeError, KeyError, IndexError, TypeError):
            continue
        if _fits(inner, blocks):
            _set(submodule, rest, _as_grown(inner, blocks))
    return replacement


_REBUILD_HOOK = register_module_module_registration_hook(_rebuild_grown_heads)
