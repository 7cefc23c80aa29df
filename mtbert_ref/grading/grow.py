"""Notebook 08's checkers: :func:`check_grow_linear`, :func:`check_init_strategy`, :func:`check_replay_mix`.

Each runs the student's function and the reference (:mod:`mtbert_ref.modeling.grow`,
:mod:`mtbert_ref.modeling.grow_rows`, :mod:`mtbert_ref.lessons.grow`) on the same seeded cases.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..lessons.grow import replay_mix
from ..modeling.grow import grow_linear
from ..modeling.grow_rows import imprint_rows
from .core import guard_checkers, hidden_seed
from .core import GradingError, call_student, expect_equal, expect_tensor, expect_unchanged, passed

__all__ = ["check_grow_linear", "check_init_strategy", "check_replay_mix"]


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
        hs = [hidden_seed("check_grow_linear", i) for i in range(5)]
        cases += [dict(seed=hs[1], d=16, c=6, k=3), dict(seed=hs[2], d=5, c=3, k=2, bias=False),
                  dict(seed=hs[3], d=12, c=7, k=2, dtype=torch.float64), dict(seed=hs[4], d=32, c=12, k=1)]
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
        layer, id2label, _, w, b, _ = _linear_case(seed=hidden_seed("check_grow_linear", 9), d=6, c=3, k=1, device=device)
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
        hs = [hidden_seed("check_init_strategy", i) for i in range(5)]
        cases += [dict(seed=hs[1], c=10, d=16, k=3, n=30), dict(seed=hs[2], c=4, d=6, k=2, n=9, bias=False),
                  dict(seed=hs[3], c=6, d=12, k=1, n=5, dtype=torch.float64),
                  dict(seed=hs[4], c=7, d=10, k=3, n=11, single=True)]
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


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
