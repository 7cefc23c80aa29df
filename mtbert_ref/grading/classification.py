"""Notebook 05's checkers: :func:`check_classification_head`, :func:`check_classification_loss`,
:func:`check_training_step`, :func:`check_macro_f1` (with their private cases and hints)."""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertForSequenceClassification

from ..backbone import tiny_bert_config
from ..lessons.classification import as_class_ids, macro_f1, training_step
from ..modeling.classification import ClassificationHead, classification_loss
from .core import guard_checkers
from .core import (GradingError, call_student, clone_inputs, expect_equal, expect_tensor, expect_unchanged,
                   hidden_seed, passed)

__all__ = ["check_classification_head", "check_classification_loss", "check_training_step", "check_macro_f1"]


_HEAD_HINTS = ("Apply self.dropout to the pooled vector *before* self.classifier, once, and nothing else "
               "(no tanh or softmax: the pooler already applied tanh, the loss applies softmax/sigmoid).")


def check_classification_head(student_cls, device="cpu", seed: int = 0, hidden_tests: bool = False) -> None:
    """Build the student's ``ClassificationHead(hidden_size, num_labels, dropout_prob)``, give it the reference's
    weights, and compare logits in eval mode (no dropout) and in train mode (same seed → same dropout mask)."""
    device = torch.device(device)
    cases = [dict(hidden=16, labels=3, p=0.1, batch=4)]
    if hidden_tests:
        cases += [dict(hidden=32, labels=1, p=0.0, batch=5), dict(hidden=8, labels=7, p=0.5, batch=3),
                  dict(hidden=24, labels=2, p=0.3, batch=1, dtype=torch.float64)]
    for i, case in enumerate(cases):
        dtype = case.get("dtype", torch.float32)
        seed = seed if i == 0 else hidden_seed("check_classification_head", i)
        torch.manual_seed(seed)
        ref = ClassificationHead(case["hidden"], case["labels"], case["p"]).to(device, dtype)
        desc = f"ClassificationHead(hidden_size={case['hidden']}, num_labels={case['labels']}, dropout_prob={case['p']})"
        mine = call_student(student_cls, case["hidden"], case["labels"], dropout_prob=case["p"], name="ClassificationHead",
                            reference=ClassificationHead)
        if not isinstance(mine, nn.Module):
            raise GradingError(f"{desc} should build an nn.Module (subclass nn.Module and call super().__init__()), "
                               f"got a {type(mine).__name__}.")
        keys = sorted(mine.state_dict())
        want_keys = sorted(ref.state_dict())
        if keys != want_keys:
            raise GradingError(f"{desc} has parameters {keys}, expected {want_keys}: store the linear layer as "
                               "`self.classifier = nn.Linear(hidden_size, num_labels)` (with a bias) and the dropout "
                               "as `self.dropout`.")
        for name, p in mine.state_dict().items():
            if tuple(p.shape) != tuple(ref.state_dict()[name].shape):
                raise GradingError(f"{desc}: {name} has shape {tuple(p.shape)}, expected "
                                   f"{tuple(ref.state_dict()[name].shape)} (nn.Linear(hidden_size, num_labels)).")
        drop = [m for m in mine.modules() if isinstance(m, nn.Dropout)]
        if not drop:
            raise GradingError(f"{desc} has no nn.Dropout: create `self.dropout = nn.Dropout(dropout_prob)`.")
        if any(abs(m.p - case["p"]) > 1e-12 for m in drop):
            raise GradingError(f"{desc}: the dropout probability is {drop[0].p}, expected dropout_prob={case['p']}.")
        mine.load_state_dict(ref.state_dict())
        mine.to(device, dtype)
        g = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(case["batch"], case["hidden"], generator=g).to(device, dtype)
        before = clone_inputs(x)
        for mode in ("eval", "train"):
            ref.train(mode == "train")
            mine.train(mode == "train")
            torch.manual_seed(seed + 2)
            got = call_student(mine, x, name="ClassificationHead.forward")
            torch.manual_seed(seed + 2)
            want = ref(x)
            expect_unchanged(before, x, "The pooled_output given to ClassificationHead")
            hint = "" if mode == "eval" else " in train mode (dropout active, same seed)"
            try:
                expect_tensor(got, want, f"The logits of {desc}{hint}")
            except GradingError as err:
                if mode == "train":
                    raise GradingError(f"{err} {_HEAD_HINTS} In eval mode your logits were right, so look at how and "
                                       "where dropout is applied.") from None
                raise GradingError(f"{err} {_HEAD_HINTS}") from None
    passed(f"ClassificationHead matches the reference on {len(cases)} configuration(s), eval and train mode, "
           f"on {device.type}")


def _loss_cases(hidden_tests: bool):
    g = torch.Generator().manual_seed(11)
    cases = [
        ("single-label: 3 classes, int64 labels", torch.randn(6, 3, generator=g), torch.tensor([0, 2, 1, 2, 2, 0]),
         None, None, "single_label_classification"),
        ("regression: num_labels=1, float labels of shape (batch,)", torch.randn(5, 1, generator=g),
         torch.randn(5, generator=g), None, None, "regression"),
        ("multi-label: 4 labels, float multi-hot labels", torch.randn(4, 4, generator=g),
         (torch.rand(4, 4, generator=g) > 0.5).float(), None, None, "multi_label_classification"),
        ("single-label with class_weights=[0.5, 1.0, 3.0]", torch.randn(6, 3, generator=g),
         torch.tensor([0, 0, 1, 2, 0, 1]), None, torch.tensor([0.5, 1.0, 3.0]), "single_label_classification"),
    ]
    if hidden_tests:
        g = torch.Generator().manual_seed(hidden_seed("check_classification_loss", 0))
        cases += [
            ("single-label: 2 classes, int32 labels", torch.randn(7, 2, generator=g),
             torch.tensor([1, 0, 1, 1, 0, 0, 1], dtype=torch.int32), None, None, "single_label_classification"),
            ("regression: num_labels=1, labels of shape (batch, 1)", torch.randn(4, 1, generator=g),
             torch.randn(4, 1, generator=g), None, None, "regression"),
            ("explicit problem_type='regression' with 3 float outputs (inference would say multi-label)",
             torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g), "regression", None, "regression"),
            ("explicit problem_type='single_label_classification', int64 labels", torch.randn(3, 5, generator=g),
             torch.tensor([4, 0, 3]), "single_label_classification", None, "single_label_classification"),
            ("single-label, class_weights, batch of one", torch.randn(1, 4, generator=g), torch.tensor([3]), None,
             torch.tensor([1.0, 2.0, 0.5, 4.0]), "single_label_classification"),
            ("single-label, float64 logits and class_weights", torch.randn(8, 3, generator=g).double(),
             torch.tensor([0, 1, 2, 2, 2, 1, 0, 2]), None, torch.tensor([2.0, 1.0, 0.25]),
             "single_label_classification"),
        ]
    return cases


def _loss_hint(kind: str, weights, got: float, logits, labels, ptype) -> str:
    if weights is not None:
        w = weights.to(logits.dtype)
        per = F.cross_entropy(logits, labels.long(), reduction="none")
        if abs(got - float(per.mean())) < 1e-5:
            return "You ignored class_weights: pass them as `weight=` to F.cross_entropy."
        if abs(got - float((per * w[labels.long()]).mean())) < 1e-5:
            return ("You divided the weighted sum by the batch size; the weighted mean divides by the sum of the "
                    "weights of the targets (what F.cross_entropy(weight=...) does).")
        return "With class_weights use F.cross_entropy(logits, labels, weight=class_weights)."
    if kind == "regression":
        return ("Regression uses F.mse_loss; with one output squeeze both logits (batch, 1) and labels, otherwise "
                "(batch, 1) - (batch,) broadcasts to (batch, batch).")
    if kind == "multi_label_classification":
        return ("Float multi-hot labels with num_labels > 1 mean multi-label: "
                "F.binary_cross_entropy_with_logits(logits, labels.float()).")
    return "Integer labels with num_labels > 1 mean single-label: F.cross_entropy(logits, labels)."


def check_classification_loss(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Compare the student's ``classification_loss(logits, labels, problem_type=None, class_weights=None)`` with the
    reference for each problem type (inferred and explicit) and with class weights."""
    device = torch.device(device)
    cases = _loss_cases(hidden_tests)
    for desc, logits, labels, ptype, weights, kind in cases:
        logits, labels = logits.to(device), labels.to(device)
        w = None if weights is None else weights.to(device)
        before = clone_inputs((logits, labels, w))
        kwargs = {"problem_type": ptype}
        if w is not None:
            kwargs["class_weights"] = w
        got = call_student(student_fn, logits, labels, name="classification_loss", reference=classification_loss,
                           **kwargs)
        expect_unchanged(before, (logits, labels, w), "An input of classification_loss")
        want = classification_loss(logits, labels, ptype, w)
        if isinstance(got, torch.Tensor) and got.dim() != 0:
            raise GradingError(f"classification_loss for {desc} returned a tensor of shape {tuple(got.shape)}; the "
                               "loss must be a single number (a 0-dim tensor: use the mean reduction).")
        if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype and \
                not torch.isclose(got.detach().to(want.device), want, atol=1e-5, rtol=1e-4):
            hint = _loss_hint(kind, w.cpu() if w is not None else None, float(got), logits.cpu(), labels.cpu(), ptype)
            raise GradingError(f"classification_loss for {desc} is {float(got):.6g}, expected {float(want):.6g} "
                               f"({kind}). {hint}")
        expect_tensor(got, want, f"classification_loss for {desc}")
    passed(f"classification_loss matches the reference on {len(cases)} cases on {device.type}")


def _tiny_classifier(seed: int, num_labels: int = 3, dropout: float = 0.1) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    cfg = tiny_bert_config(num_labels=num_labels, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(cfg)


def _batches(seed: int, n: int, batch: int = 4, seq: int = 9, num_labels: int = 3, vocab: int = 99):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(5, vocab, (batch, seq), generator=g)
        mask = torch.ones(batch, seq, dtype=torch.long)
        mask[0, seq // 2:] = 0
        ids = ids * mask
        out.append({"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, num_labels, (batch,), generator=g)})
    return out


def check_training_step(student_fn, device="cpu", seed: int = 0, hidden_tests: bool = False) -> None:
    """Run the student's ``training_step(model, batch, optimizer, device)`` and the reference on identical copies of
    a tiny BertForSequenceClassification (dropout on, same seeds), and compare losses and parameters after each step."""
    device = torch.device(device)
    settings = [dict(steps=2, opt="adamw", lr=1e-3, dropout=0.1)]
    if hidden_tests:
        settings += [dict(steps=3, opt="sgd", lr=0.5, dropout=0.0), dict(steps=2, opt="adamw", lr=5e-4, dropout=0.3)]
    for n_setting, st in enumerate(settings):
        seed = seed if n_setting == 0 else hidden_seed("check_training_step", n_setting)
        base = _tiny_classifier(seed, dropout=st["dropout"])
        models = {who: copy.deepcopy(base).to(device).eval() for who in ("ref", "you")}   # handed over in eval mode
        opts = {}
        for who, m in models.items():
            if st["opt"] == "adamw":
                opts[who] = torch.optim.AdamW(m.parameters(), lr=st["lr"])
            else:
                opts[who] = torch.optim.SGD(m.parameters(), lr=st["lr"])
        batches = _batches(seed + 7, st["steps"])
        what = f"training_step with {st['opt']} (lr={st['lr']}, dropout={st['dropout']})"
        for i, b in enumerate(batches):
            before = clone_inputs(b)
            torch.manual_seed(seed + 100 + i)
            got = call_student(student_fn, models["you"], b, opts["you"], device, name="training_step",
                               reference=training_step)
            expect_unchanged(before, b, "The batch given to training_step")
            torch.manual_seed(seed + 100 + i)
            want = training_step(models["ref"], clone_inputs(b), opts["ref"], device)
            if isinstance(got, torch.Tensor):
                raise GradingError(f"{what} returned a torch.Tensor at step {i + 1}; return a Python float "
                                   "(`loss.item()`), so that a list of losses does not keep every graph in memory.")
            if not isinstance(got, float):
                raise GradingError(f"{what} returned a {type(got).__name__} at step {i + 1}, expected the loss as a "
                                   "Python float (`loss.item()`).")
            if not models["you"].training:
                raise GradingError(f"{what}: the model is in eval mode after your step; call `model.train()` first "
                                   "(dropout must be on while training, and the model was handed to you in eval mode).")
            grads = [p.grad for p in models["you"].parameters() if p.grad is not None and p.grad.abs().sum() > 0]
            if grads:
                raise GradingError(f"{what}: after your step {len(grads)} parameters still hold gradients; call "
                                   "`optimizer.zero_grad()` after `optimizer.step()` so the next step starts from zero "
                                   "(gradients accumulate otherwise).")
            changed = any(not torch.equal(p, q) for p, q in zip(models["you"].parameters(), base.to(device).parameters()))
            if not changed:
                raise GradingError(f"{what}: no parameter changed during your step; call `loss.backward()` and then "
                                   "`optimizer.step()`.")
            if abs(got - want) > 1e-4 * max(1.0, abs(want)):
                raise GradingError(f"{what}: the loss returned at step {i + 1} is {got:.6g}, expected {want:.6g}. "
                                   "Return `model(**batch).loss.item()` of the batch moved to `device`, computed "
                                   "before the optimizer step, with the model in train mode.")
            for (name, p), q in zip(models["you"].named_parameters(), models["ref"].parameters()):
                try:
                    expect_tensor(p.detach(), q.detach(), f"after step {i + 1} of {what}, parameter {name}",
                                  atol=1e-5, rtol=1e-4)
                except GradingError as err:
                    raise GradingError(f"{err} Do exactly one forward, one `loss.backward()`, one `optimizer.step()` "
                                       "and one `optimizer.zero_grad()` per call.") from None
    passed(f"training_step matches the reference on {len(settings)} training run(s) on {device.type}")


def _f1_cases(hidden_tests: bool):
    rng = np.random.default_rng(5)
    t = rng.integers(0, 3, 40)
    p = np.where(rng.random(40) < 0.6, t, rng.integers(0, 3, 40))
    cases = [
        ("40 predictions over 3 classes (Python lists)", t.tolist(), p.tolist(), None),
        ("a class (2) that is never predicted", [0, 1, 2, 2, 1, 0, 2, 1], [0, 1, 1, 0, 1, 0, 1, 1], None),
        ("num_labels=4 where class 3 occurs in neither y_true nor y_pred", [0, 1, 2, 2, 1, 0], [0, 2, 2, 1, 1, 1], 4),
    ]
    if hidden_tests:
        rng = np.random.default_rng(hidden_seed("check_macro_f1", 0))
        t2 = rng.integers(0, 5, 200)
        p2 = np.where(rng.random(200) < 0.4, t2, rng.integers(0, 5, 200))
        cases += [
            ("200 predictions over 5 classes (torch tensors)", torch.tensor(t2), torch.tensor(p2), None),
            ("NumPy arrays with num_labels=5", t2[:50], p2[:50], 5),
            ("a predicted class (3) that never occurs in y_true", [0, 1, 1, 0], [0, 1, 3, 0], None),
            ("perfect predictions", [2, 0, 1, 1], [2, 0, 1, 1], None),
            ("a single class everywhere", [1, 1, 1], [1, 1, 1], None),
            ("imbalanced: everything predicted as the majority", [0] * 9 + [1, 2], [0] * 11, 3),
        ]
    return cases


def check_macro_f1(student_fn, hidden_tests: bool = False) -> None:
    """Compare the student's ``macro_f1(y_true, y_pred, num_labels=None)`` with the reference (itself checked
    against scikit-learn) on lists, arrays and tensors, with classes missing from the predictions."""
    cases = _f1_cases(hidden_tests)
    for desc, t, p, n in cases:
        got = call_student(student_fn, t, p, num_labels=n, name="macro_f1", reference=macro_f1)
        want = macro_f1(t, p, n)
        if isinstance(got, torch.Tensor) or isinstance(got, np.generic):
            got = got.item() if getattr(got, "ndim", 0) == 0 else got
        if isinstance(got, float) and got != got:
            raise GradingError(f"macro_f1 on {desc} returned NaN; a class with 2*TP + FP + FN = 0 has F1 = 0 (no "
                               "division by zero).")
        hint = ""
        if isinstance(got, (int, float)):
            tt, pp = as_class_ids(t), as_class_ids(p)
            acc = float((tt == pp).double().mean())
            if abs(got - acc) < 1e-9 and abs(acc - want) > 1e-9:
                hint = ("That is the accuracy (= micro-F1); macro-F1 averages the per-class F1 scores with equal "
                        "weight.")
            elif n is not None:
                hint = ("With num_labels given, average over all classes 0..num_labels-1 (a class absent from both "
                        "counts as 0).")
            elif "never" in desc:
                hint = ("Every class in y_true or y_pred counts, even one never predicted (F1 = 0) or never true.")
            else:
                hint = "F1 of class c is 2*TP / (2*TP + FP + FN); average the classes without weights."
        expect_equal(got, want, f"macro_f1 on {desc}", hint)
    passed(f"macro_f1 matches the reference on {len(cases)} cases")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
