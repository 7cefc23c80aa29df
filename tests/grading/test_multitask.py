"""Tests of mtbert_ref.grading.multitask (notebook 07): the checkers accept right answers and name the bugs."""
from __future__ import annotations

import itertools
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grading.multitask import check_build_heads, check_multitask_loss, check_task_sampler
from mtbert_ref.lessons.multitask import TaskSampler
from mtbert_ref.modeling.multitask import build_heads, multitask_loss


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
