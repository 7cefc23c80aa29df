"""Notebook 07's checkers: :func:`check_build_heads`, :func:`check_multitask_loss`, :func:`check_task_sampler`."""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

from ..lessons.multitask import TaskSampler
from ..modeling.multitask import IGNORE, TASK_KINDS, TaskSpec, build_heads, make_tasks, multitask_loss
from .core import guard_checkers, hidden_seed
from .core import GradingError, call_student, clone_inputs, expect_equal, expect_tensor, passed, time_limit

__all__ = ["check_build_heads", "check_multitask_loss", "check_task_sampler"]


def _expect_dict(value, what: str, shape: str, verb: str = "should be") -> None:
    """GradingError unless ``value`` is a dict (``shape`` says which one)."""
    if not isinstance(value, dict):
        raise GradingError(f"{what} {verb} a dict {shape}, got {type(value).__name__}.")


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
        _expect_dict(id2label, f"{desc}: id2label", "{task name: {id: label}}")
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
    g = torch.Generator().manual_seed(100 if case == 0 else hidden_seed("check_multitask_loss", case))
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
        _expect_dict(per, f"{desc}: per_task", "{task name: loss}")
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
            _expect_dict(probs, f"{what}.probabilities()", "{task: probability}", verb="should return")
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


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
