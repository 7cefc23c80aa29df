"""Correct answers of notebook 07, written differently from the reference and from each other (see
answers_00_01 for the rules every entry follows)."""

ANSWERS = {
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
        "triage_heads": [
            '''import torch.nn.functional as F
from torch import nn


class TriageHeads(nn.Module):
    """[CLS]-style design: the first token stands for the report, a shared MLP trunk, an MLP per token for tags."""

    WEIGHTS = {"tags": 1.0, "severity": 2.0, "flags": 1.0}

    def __init__(self, hidden_size):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(hidden_size, 64), nn.GELU(), nn.Dropout(0.1))
        self.severity_head = nn.Linear(64, 1)
        self.flag_head = nn.Linear(64, 4)
        self.tag_head = nn.Sequential(nn.Linear(hidden_size, 32), nn.ReLU(), nn.Linear(32, 3))

    def forward(self, hidden, attention_mask, labels=None):
        report = self.trunk(hidden[:, 0])          # position 0 is always a real token
        out = {"tags": self.tag_head(hidden), "severity": self.severity_head(report)[:, 0],
               "flags": self.flag_head(report)}
        if labels is None:
            out["loss"] = None
            return out
        losses = {}
        tag_mask = labels["tags"].ne(-100)
        if tag_mask.sum() > 0:
            losses["tags"] = F.cross_entropy(out["tags"][tag_mask], labels["tags"][tag_mask])
        sev_mask = labels["severity"].isnan().logical_not()
        if sev_mask.sum() > 0:
            losses["severity"] = ((out["severity"][sev_mask] - labels["severity"][sev_mask]) ** 2).mean()
        flag_rows = labels["flags"].ne(-100).all(dim=1)
        if flag_rows.sum() > 0:
            losses["flags"] = F.binary_cross_entropy_with_logits(out["flags"][flag_rows], labels["flags"][flag_rows])
        if losses:
            out["loss"] = sum(self.WEIGHTS[k] * v for k, v in losses.items())
        else:
            out["loss"] = 0.0 * (out["tags"].sum() + out["severity"].sum() + out["flags"].sum())
        return out
''',
            '''import torch
import torch.nn.functional as F
from torch import nn


class TriageHeads(nn.Module):
    """Attention pooling, zero-initialised output layers, and a learnt weight per task (uncertainty weighting)."""

    def __init__(self, hidden_size):
        super().__init__()
        self.attend = nn.Linear(hidden_size, 1)
        self.report_out = nn.Linear(hidden_size, 1 + 4)     # column 0: severity, columns 1-4: flags
        self.token_out = nn.Linear(hidden_size, 3)
        for layer in (self.report_out, self.token_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.log_var = nn.Parameter(torch.zeros(3))         # one learnt log-variance per task

    def forward(self, hidden, attention_mask, labels=None):
        scores = self.attend(hidden).squeeze(-1).masked_fill(attention_mask == 0, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        report = torch.einsum("bs,bsh->bh", weights, hidden)
        both = self.report_out(report)
        tags, severity, flags = self.token_out(hidden), both[:, 0], both[:, 1:]
        loss = None
        if labels is not None:
            parts = []
            y = labels["tags"]
            if (y != -100).any():
                parts.append((0, F.cross_entropy(tags.reshape(-1, 3), y.reshape(-1), ignore_index=-100)))
            y = labels["severity"]
            ok = ~torch.isnan(y)
            if ok.any():
                parts.append((1, F.mse_loss(severity[ok], y[ok])))
            y = labels["flags"]
            ok = (y != -100).all(-1)
            if ok.any():
                parts.append((2, F.binary_cross_entropy_with_logits(flags[ok], y[ok])))
            loss = 0.0 * (tags.sum() + severity.sum() + flags.sum())
            for i, task_loss in parts:
                loss = loss + torch.exp(-self.log_var[i]) * task_loss + self.log_var[i]
        return {"tags": tags, "severity": severity, "flags": flags, "loss": loss}
''',
            '''import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100


def mean_over_tokens(hidden, attention_mask):
    keep = attention_mask.unsqueeze(-1).type_as(hidden)
    return (hidden * keep).sum(dim=1) / keep.sum(dim=1)


class TriageHeads(nn.Module):
    """Mean pooling; the tag head reads each token next to its report's vector; Huber loss for severity."""

    def __init__(self, hidden_size, width=48):
        super().__init__()
        self.report = nn.Sequential(nn.Linear(hidden_size, width), nn.Tanh())
        self.severity = nn.Linear(width, 1)
        self.flags = nn.Linear(width, 4)
        self.tags = nn.Linear(2 * hidden_size, 3)

    def forward(self, hidden, attention_mask, labels=None):
        pooled = mean_over_tokens(hidden, attention_mask)
        r = self.report(pooled)
        context = pooled.unsqueeze(1).expand_as(hidden)
        result = dict(tags=self.tags(torch.cat([hidden, context], dim=-1)), severity=self.severity(r).flatten(),
                      flags=self.flags(r), loss=None)
        if labels is None:
            return result
        total = torch.zeros((), dtype=hidden.dtype, device=hidden.device)
        anything = False
        tok = labels["tags"].flatten()
        if bool((tok != IGNORE).any()):
            total = total + F.cross_entropy(result["tags"].flatten(0, 1), tok, ignore_index=IGNORE)
            anything = True
        sev = labels["severity"]
        if bool((~sev.isnan()).any()):
            total = total + F.smooth_l1_loss(result["severity"][~sev.isnan()], sev[~sev.isnan()])
            anything = True
        rows = [i for i in range(len(labels["flags"])) if bool((labels["flags"][i] != IGNORE).all())]
        if rows:
            idx = torch.tensor(rows, device=hidden.device)
            total = total + 0.5 * F.binary_cross_entropy_with_logits(result["flags"][idx], labels["flags"][idx])
            anything = True
        if not anything:
            total = total + 0.0 * sum(result[k].sum() for k in ("tags", "severity", "flags"))
        result["loss"] = total
        return result
''',
        ],
    },
}
