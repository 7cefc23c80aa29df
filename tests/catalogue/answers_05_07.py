"""Correct answers of notebooks 05-07, written differently from the reference and from each other (see
answers_00_01 for the rules every entry follows)."""

ANSWERS = {
    "05_sequence_classification": {
        "ex1_head": [
            '''import torch.nn.functional as F
from torch import nn


class ClassificationHead(nn.Module):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout_prob)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled_output):
        return F.linear(self.dropout(pooled_output), self.classifier.weight, self.classifier.bias)
''',
            '''from torch import nn


class ClassificationHead(nn.Module):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__()
        for name, layer in (("dropout", nn.Dropout(dropout_prob)), ("classifier", nn.Linear(hidden_size, num_labels))):
            self.add_module(name, layer)

    def forward(self, pooled_output):
        x = self.dropout(pooled_output)
        return x @ self.classifier.weight.t() + self.classifier.bias
''',
            '''import torch
from torch import nn


class ClassificationHead(nn.Module):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout_prob)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled_output):
        return torch.addmm(self.classifier.bias, self.dropout(pooled_output), self.classifier.weight.T)
''',
        ],
        "ex2_loss": [
            '''import torch


def _regression(logits, labels, weights):
    labels = labels.to(logits.dtype)
    if logits.shape[-1] == 1:
        return ((logits.reshape(-1) - labels.reshape(-1)) ** 2).mean()
    return ((logits - labels) ** 2).mean()


def _single(logits, labels, weights):
    z = logits.reshape(-1, logits.shape[-1])
    y = labels.reshape(-1).long()
    nll = -z.log_softmax(-1).gather(1, y[:, None]).squeeze(1)
    if weights is None:
        return nll.mean()
    w = weights.to(z.device, z.dtype)[y]
    return (w * nll).sum() / w.sum()


def _multi(logits, labels, weights):
    y = labels.to(logits.dtype)
    return (logits.clamp(min=0) - logits * y + torch.log1p(torch.exp(-logits.abs()))).mean()


def classification_loss(logits, labels, problem_type=None, class_weights=None):
    if problem_type is None:
        if logits.shape[-1] == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.int64, torch.int32):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    losses = {"regression": _regression, "single_label_classification": _single,
              "multi_label_classification": _multi}
    return losses[problem_type](logits, labels, class_weights)
''',
            '''import torch
from torch import nn


def classification_loss(logits, labels, problem_type=None, class_weights=None):
    n = logits.size(-1)
    kind = problem_type or ("regression" if n == 1 else
                            "single_label_classification" if labels.dtype in (torch.long, torch.int)
                            else "multi_label_classification")
    if kind == "regression":
        if n == 1:
            return nn.MSELoss()(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return nn.MSELoss()(logits, labels.to(logits.dtype))
    if kind == "single_label_classification":
        w = class_weights.to(device=logits.device, dtype=logits.dtype) if class_weights is not None else None
        return nn.CrossEntropyLoss(weight=w)(logits.view(-1, n), labels.view(-1).long())
    return nn.BCEWithLogitsLoss()(logits, labels.to(logits.dtype))
''',
            '''import torch
import torch.nn.functional as F


def classification_loss(logits, labels, problem_type=None, class_weights=None):
    num_labels = logits.shape[-1]
    integer = labels.dtype == torch.long or labels.dtype == torch.int
    if problem_type == "regression" or (problem_type is None and num_labels == 1):
        target = labels.to(logits.dtype)
        pred = logits.view(-1) if num_labels == 1 else logits
        return F.mse_loss(pred, target.view(-1) if num_labels == 1 else target)
    if problem_type == "single_label_classification" or (problem_type is None and integer):
        logp = F.log_softmax(logits.view(-1, num_labels), dim=-1)
        w = None if class_weights is None else class_weights.to(logits)
        return F.nll_loss(logp, labels.view(-1).long(), weight=w)
    target = labels.to(logits.dtype)
    return -(target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits)).mean()
''',
        ],
        "ex3_step": [
            '''def training_step(model, batch, optimizer, device):
    model.train()
    outputs = model(**{name: tensor.to(device) for name, tensor in batch.items()})
    loss = outputs["loss"]
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss.detach())
''',
            '''def training_step(model, batch, optimizer, device):
    model.train(True)
    inputs = {}
    for key in batch:
        inputs[key] = batch[key].to(device)
    loss = model(**inputs).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    value = loss.item()
    optimizer.zero_grad(set_to_none=True)
    return value
''',
            '''def training_step(model, batch, optimizer, device):
    model.train()
    for p in model.parameters():
        p.grad = None
    labels = batch["labels"].to(device)
    features = {k: v.to(device) for k, v in batch.items() if k != "labels"}
    out = model(**features, labels=labels)
    out.loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return out.loss.detach().cpu().item()
''',
        ],
        "ex4_f1": [
            '''import numpy as np
import torch


def macro_f1(y_true, y_pred, num_labels=None):
    t = np.asarray(torch.as_tensor(y_true).cpu()).reshape(-1).astype(np.int64)
    p = np.asarray(torch.as_tensor(y_pred).cpu()).reshape(-1).astype(np.int64)
    classes = np.arange(num_labels) if num_labels is not None else np.union1d(t, p)
    if len(classes) == 0:
        return 0.0
    index = {int(c): k for k, c in enumerate(classes)}
    conf = np.zeros((len(classes), len(classes)))
    for a, b in zip(t, p):
        if int(a) in index and int(b) in index:
            conf[index[int(a)], index[int(b)]] += 1
    tp = np.diag(conf)
    fn = np.array([np.sum(t == c) for c in classes]) - tp
    fp = np.array([np.sum(p == c) for c in classes]) - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean())
''',
            '''import torch


def macro_f1(y_true, y_pred, num_labels=None):
    t = [int(x) for x in torch.as_tensor(y_true).reshape(-1).tolist()]
    p = [int(x) for x in torch.as_tensor(y_pred).reshape(-1).tolist()]
    classes = list(range(num_labels)) if num_labels is not None else sorted(set(t) | set(p))
    scores = []
    for c in classes:
        tp = sum(1 for a, b in zip(t, p) if a == c and b == c)
        fp = sum(1 for a, b in zip(t, p) if a != c and b == c)
        fn = sum(1 for a, b in zip(t, p) if a == c and b != c)
        scores.append(0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0
''',
            '''import torch


def macro_f1(y_true, y_pred, num_labels=None):
    t = torch.as_tensor(y_true).reshape(-1).long().cpu()
    p = torch.as_tensor(y_pred).reshape(-1).long().cpu()
    classes = torch.arange(num_labels) if num_labels is not None else torch.unique(torch.cat([t, p]))
    if classes.numel() == 0:
        return 0.0
    is_t = t[:, None] == classes[None, :]
    is_p = p[:, None] == classes[None, :]
    tp = (is_t & is_p).sum(0).double()
    fp = (~is_t & is_p).sum(0).double()
    fn = (is_t & ~is_p).sum(0).double()
    denom = 2 * tp + fp + fn
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))
    return f1.mean().item()
''',
        ],
    },
    "06_multi_label": {
        "ex1_loss_predict": [
            '''import torch


def multilabel_loss(logits, targets, pos_weight=None):
    y = targets.to(logits.dtype)
    pw = torch.ones((), dtype=logits.dtype, device=logits.device) if pos_weight is None \\
        else pos_weight.to(logits.device, logits.dtype)
    # log(1 + e^-|x|) + max(-x, 0) is -log(sigmoid(x)) without overflow
    log_sig_neg = torch.log1p(torch.exp(-logits.abs())) + (-logits).clamp(min=0)
    per_entry = (1 - y) * logits + (1 + (pw - 1) * y) * log_sig_neg
    return per_entry.mean()


def predict_labels(logits, threshold=0.5):
    probs = torch.sigmoid(logits)
    return probs.ge(torch.as_tensor(threshold, dtype=probs.dtype, device=probs.device))
''',
            '''import torch
import torch.nn.functional as F


def multilabel_loss(logits, targets, pos_weight=None):
    pw = None if pos_weight is None else pos_weight.to(device=logits.device, dtype=logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), pos_weight=pw)


def predict_labels(logits, threshold=0.5):
    probs = torch.sigmoid(logits)
    if not torch.is_tensor(threshold):
        return probs >= threshold
    cols = [probs[:, j] >= threshold[j].item() for j in range(probs.shape[1])]   # one label at a time
    return torch.stack(cols, dim=1) if cols else probs >= 0.5
''',
            '''import torch
import torch.nn.functional as F


def multilabel_loss(logits, targets, pos_weight=None):
    y = targets.to(logits.dtype)
    w = 1.0 if pos_weight is None else pos_weight.to(device=logits.device, dtype=logits.dtype)
    return (w * y * F.softplus(-logits) + (1 - y) * F.softplus(logits)).mean()


def predict_labels(logits, threshold=0.5):
    probs = logits.sigmoid()
    thr = threshold.to(probs) if isinstance(threshold, torch.Tensor) else torch.full_like(probs, float(threshold))
    return torch.where(probs >= thr, True, False)
''',
        ],
        "ex2_thresholds": [
            '''import torch


def tune_thresholds(probs, targets, candidates):
    y = targets.bool()
    n_labels = probs.shape[1]
    best_micro, global_t = -1.0, None
    best_label = [-1.0] * n_labels
    per_label = [None] * n_labels
    for t in candidates.tolist():
        pred = probs >= t
        tp = (pred & y).sum(0).tolist()
        fp = (pred & ~y).sum(0).tolist()
        fn = (~pred & y).sum(0).tolist()
        den = 2 * sum(tp) + sum(fp) + sum(fn)
        micro = 2 * sum(tp) / den if den else 0.0
        if micro > best_micro:                       # strict: the first best candidate wins ties
            best_micro, global_t = micro, t
        for j in range(n_labels):
            d = 2 * tp[j] + fp[j] + fn[j]
            f = 2 * tp[j] / d if d else 0.0
            if f > best_label[j]:
                best_label[j], per_label[j] = f, t
    has_pos = y.any(0).tolist()
    per_t = [per_label[j] if has_pos[j] else global_t for j in range(n_labels)]
    return float(global_t), torch.tensor(per_t, dtype=candidates.dtype, device=candidates.device)
''',
            '''import torch


def tune_thresholds(probs, targets, candidates):
    y = targets.bool().unsqueeze(0)                                   # (1, N, L)
    pred = probs.unsqueeze(0) >= candidates.to(probs.device).view(-1, 1, 1)   # (C, N, L)
    tp = (pred & y).sum(1).double()                                   # (C, L)
    fp = (pred & ~y).sum(1).double()
    fn = (~pred & y).sum(1).double()
    den_micro = 2 * tp.sum(1) + fp.sum(1) + fn.sum(1)
    micro = torch.where(den_micro > 0, 2 * tp.sum(1) / den_micro.clamp(min=1), torch.zeros_like(den_micro))
    den = 2 * tp + fp + fn
    f1 = torch.where(den > 0, 2 * tp / den.clamp(min=1), torch.zeros_like(den))
    g = float(candidates[int(torch.argmax(micro))])
    per_t = candidates[torch.argmax(f1, dim=0).to(candidates.device)].clone()
    no_pos = ~targets.bool().any(0)
    per_t[no_pos.to(candidates.device)] = g
    return g, per_t
''',
            '''import numpy as np
import torch


def tune_thresholds(probs, targets, candidates):
    p = probs.detach().cpu().double().numpy()
    y = targets.detach().cpu().numpy() > 0.5
    cands = candidates.detach().cpu().double().numpy()
    micro = []
    label_f1 = []
    for t in cands:
        pred = p >= float(t)
        tp = np.logical_and(pred, y).sum(0)
        fp = np.logical_and(pred, ~y).sum(0)
        fn = np.logical_and(~pred, y).sum(0)
        d = 2 * tp.sum() + fp.sum() + fn.sum()
        micro.append(2 * tp.sum() / d if d > 0 else 0.0)
        dl = 2 * tp + fp + fn
        label_f1.append(np.where(dl > 0, 2 * tp / np.maximum(dl, 1), 0.0))
    best_global = int(np.argmax(micro))
    best_each = np.argmax(np.stack(label_f1), axis=0)
    chosen = np.where(y.sum(0) > 0, best_each, best_global)
    per_t = candidates[torch.as_tensor(chosen, device=candidates.device)].clone()
    return float(candidates[best_global]), per_t
''',
        ],
        "ex3_fixed_model": [
            '''import torch.nn.functional as F
from torch import nn
from transformers import BertModel


class DebtagsTagger(nn.Module):
    def __init__(self, config, num_labels):
        super().__init__()
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        pooled = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[1]
        logits = self.classifier(self.dropout(pooled))
        loss = None if labels is None else F.binary_cross_entropy_with_logits(logits, labels.float().to(logits.dtype))
        return {"loss": loss, "logits": logits}
''',
            '''import torch.nn.functional as F
from torch import nn
from transformers import BertModel


class DebtagsTagger(nn.Module):
    def __init__(self, config, num_labels):
        super().__init__()
        self.bert = BertModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(p=config.hidden_dropout_prob)
        self.classifier = nn.Linear(in_features=config.hidden_size, out_features=num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                        return_dict=True)
        logits = self.classifier(self.dropout(out.pooler_output))
        result = {"loss": None, "logits": logits}
        if labels is not None:
            y = labels.to(logits.dtype)
            result["loss"] = (y * F.softplus(-logits) + (1 - y) * F.softplus(logits)).mean()
        return result
''',
            '''from torch import nn
from transformers import BertModel


class DebtagsTagger(nn.Module):
    def __init__(self, config, num_labels):
        super().__init__()
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        self.loss_fn = nn.BCEWithLogitsLoss()          # no parameters: the state dict is unchanged

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids).pooler_output
        logits = self.classifier(self.dropout(hidden))
        return dict(loss=self.loss_fn(logits, labels.type_as(logits)) if labels is not None else None, logits=logits)
''',
        ],
    },
    "07_multi_task": {
        "build_heads": [
            '''from torch import nn


def build_heads(tasks, hidden_size):
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be unique, got {names}")
    heads = nn.ModuleDict({t.name: nn.Linear(hidden_size, len(t.labels)) for t in tasks})
    id2label = {t.name: {i: label for i, label in enumerate(t.labels)} for t in tasks}
    return heads, id2label
''',
            '''from collections import Counter

from torch import nn


def build_heads(tasks, hidden_size):
    twice = [name for name, n in Counter(t.name for t in tasks).items() if n > 1]
    if twice:
        raise ValueError(f"duplicate task names: {twice}")
    heads = nn.ModuleDict()
    for t in tasks:
        heads.add_module(t.name, nn.Linear(in_features=hidden_size, out_features=len(t.labels)))
    return heads, {t.name: dict(zip(range(len(t.labels)), t.labels)) for t in tasks}
''',
            '''import torch
from torch import nn


def build_heads(tasks, hidden_size):
    pairs, id2label = [], {}
    for t in tasks:
        if t.name in id2label:
            raise ValueError("two tasks share the name " + repr(t.name))
        id2label[t.name] = {}
        for i in range(len(t.labels)):
            id2label[t.name][i] = t.labels[i]
        pairs.append((t.name, torch.nn.Linear(hidden_size, len(t.labels))))
    heads = nn.ModuleDict()
    heads.update(pairs)
    return heads, id2label
''',
        ],
        "multitask_loss": [
            '''import torch
import torch.nn.functional as F


def _known(kind, y):
    return ~torch.isnan(y) if kind == "regression" else y != -100


def multitask_loss(logits, labels, tasks):
    terms, per_task = [], {}
    for task in tasks:
        if task.name not in labels or labels[task.name] is None:
            continue
        z, y = logits[task.name], labels[task.name]
        if task.kind == "regression":
            y = y.to(z.dtype).reshape(z.shape)
        elif task.kind == "multi_label":
            y = y.to(z.dtype)
        known = _known(task.kind, y)
        if not bool(known.any()):
            continue
        if task.kind == "multi_class":
            loss = F.cross_entropy(z[known], y[known])
        elif task.kind == "multi_label":
            loss = F.binary_cross_entropy_with_logits(z[known], y[known])
        else:
            loss = F.mse_loss(z[known], y[known])
        per_task[task.name] = loss
        terms.append(task.weight * loss)
    if not terms:
        return torch.stack([z.sum() for z in logits.values()]).sum() * 0.0, per_task
    return torch.stack(terms).sum(), per_task
''',
            '''import torch
import torch.nn.functional as F


def multitask_loss(logits, labels, tasks):
    total = 0.0
    per_task = {}
    for task in tasks:
        y = labels.get(task.name)
        if y is None:
            continue
        z = logits[task.name]
        if task.kind == "multi_class":
            known = y != -100
            n = int(known.sum())
            if n == 0:
                continue
            loss = (F.cross_entropy(z, y.clamp(min=0), reduction="none") * known).sum() / n
        elif task.kind == "multi_label":
            known = y != -100
            n = int(known.sum())
            if n == 0:
                continue
            target = torch.where(known, y, torch.zeros_like(y)).to(z.dtype)
            loss = (F.binary_cross_entropy_with_logits(z, target, reduction="none") * known).sum() / n
        else:
            y = y.to(z.dtype).reshape(z.shape)
            known = ~torch.isnan(y)
            n = int(known.sum())
            if n == 0:
                continue
            target = torch.where(known, y, z.detach())          # NaN targets replaced, then masked out
            loss = (((z - target) ** 2) * known).sum() / n
        per_task[task.name] = loss
        total = total + task.weight * loss
    if not per_task:
        total = sum(z.sum() for z in logits.values()) * 0.0
    return total, per_task
''',
            '''import torch
import torch.nn.functional as F


def multitask_loss(logits, labels, tasks):
    per_task = {}
    weights = {}
    for task in tasks:
        if labels.get(task.name) is None:
            continue
        z = logits[task.name]
        y = labels[task.name]
        if task.kind == "regression":
            y = y.to(z.dtype).view(z.shape)
            rows = (~torch.isnan(y)).nonzero(as_tuple=True)
            if rows[0].numel() == 0:
                continue
            per_task[task.name] = ((z[rows] - y[rows]) ** 2).mean()
        elif task.kind == "multi_class":
            rows = (y != -100).nonzero().flatten()
            if rows.numel() == 0:
                continue
            per_task[task.name] = F.nll_loss(F.log_softmax(z[rows], dim=-1), y[rows])
        else:
            cells = (y != -100).nonzero(as_tuple=True)
            if cells[0].numel() == 0:
                continue
            per_task[task.name] = F.binary_cross_entropy_with_logits(z[cells], y[cells].to(z.dtype))
        weights[task.name] = float(task.weight)
    if not per_task:
        anything = next(iter(logits.values()))
        return anything.sum() * 0.0 + sum(z.sum() for z in logits.values()) * 0.0, per_task
    total = sum(weights[name] * loss for name, loss in per_task.items())
    return total, per_task
''',
        ],
        "task_sampler": [
            '''import itertools

import numpy as np


class TaskSampler:
    def __init__(self, sizes, strategy="proportional", temperature=2.0, seed=0):
        if strategy not in {"proportional", "temperature", "round_robin"}:
            raise ValueError(f"strategy must be proportional, temperature or round_robin, not {strategy!r}")
        if strategy == "temperature" and not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.sizes, self.strategy, self.temperature = dict(sizes), strategy, temperature
        self.rng = np.random.default_rng(seed)

    def probabilities(self):
        # one formula for the three strategies: n ** a with a = 1, 1 / T, or 0 (round-robin: 1 per non-empty task)
        a = {"proportional": 1.0, "temperature": 1.0 / self.temperature}.get(self.strategy, 0.0)
        w = np.array([float(n) ** a if n > 0 else 0.0 for n in self.sizes.values()])
        return dict(zip(self.sizes, (w / w.sum()).tolist()))

    def __iter__(self):
        if self.strategy == "round_robin":
            return itertools.cycle([k for k, n in self.sizes.items() if n > 0])
        return self._draws()

    def _draws(self):
        names = list(self.sizes)
        p = np.array(list(self.probabilities().values()))
        while True:
            for i in self.rng.choice(len(names), size=256, p=p):   # draw in blocks
                yield names[int(i)]
''',
            '''import bisect
import math
import random


class TaskSampler:
    STRATEGIES = ("proportional", "temperature", "round_robin")

    def __init__(self, sizes, strategy="proportional", temperature=2.0, seed=0):
        if strategy not in self.STRATEGIES:
            raise ValueError("unknown strategy: " + str(strategy))
        if strategy == "temperature" and temperature <= 0:
            raise ValueError("the temperature must be > 0")
        self.sizes = dict(sizes)
        self.strategy = strategy
        self.temperature = temperature
        self.seed = seed
        self._random = random.Random(seed)

    def _weight(self, n):
        if n <= 0:
            return 0.0
        if self.strategy == "temperature":
            return math.exp(math.log(n) / self.temperature)
        return float(n) if self.strategy == "proportional" else 1.0

    def probabilities(self):
        w = {k: self._weight(n) for k, n in self.sizes.items()}
        s = sum(w.values())
        return {k: v / s for k, v in w.items()}

    def __iter__(self):
        names = [k for k, n in self.sizes.items() if n > 0]
        if self.strategy == "round_robin":
            i = 0
            while True:
                yield names[i % len(names)]
                i += 1
        probs = self.probabilities()
        cumulative, acc = [], 0.0
        for k in names:
            acc += probs[k]
            cumulative.append(acc)
        while True:                     # inverse-CDF sampling with the sampler's own generator
            u = self._random.random() * cumulative[-1]
            yield names[min(bisect.bisect_right(cumulative, u), len(names) - 1)]
''',
            '''import torch


class TaskSampler:
    def __init__(self, sizes, strategy="proportional", temperature=2.0, seed=0):
        if strategy == "temperature":
            if temperature <= 0:
                raise ValueError("temperature must be > 0")
        elif strategy not in ("proportional", "round_robin"):
            raise ValueError(f"unknown strategy {strategy!r}")
        self.sizes = dict(sizes)
        self.strategy = strategy
        self.temperature = float(temperature)
        self.generator = torch.Generator().manual_seed(seed)

    def probabilities(self):
        n = torch.tensor([float(v) for v in self.sizes.values()], dtype=torch.float64)
        if self.strategy == "proportional":
            w = n
        elif self.strategy == "temperature":
            w = torch.where(n > 0, n.clamp(min=1e-300) ** (1.0 / self.temperature), torch.zeros_like(n))
        else:
            w = (n > 0).double()
        p = w / w.sum()
        return dict(zip(self.sizes, p.tolist()))

    def __iter__(self):
        names = list(self.sizes)
        if self.strategy == "round_robin":
            live = [k for k in names if self.sizes[k] > 0]
            k = 0
            while True:
                yield live[k]
                k = (k + 1) % len(live)
        p = torch.tensor(list(self.probabilities().values()), dtype=torch.float64)
        while True:
            for i in torch.multinomial(p, 128, replacement=True, generator=self.generator).tolist():
                yield names[i]
''',
        ],
    },
}
