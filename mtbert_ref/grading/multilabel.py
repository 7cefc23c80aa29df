"""Notebook 06's checkers: :func:`check_multilabel_loss_and_predict`, :func:`check_tune_thresholds`,
:func:`check_fixed_model` (the find-the-bugs exercise), with their private case builders and diagnoses."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..backbone import tiny_bert_config
from ..device import seed_everything
from ..lessons.find_the_bugs import DebtagsTagger
from ..lessons.multilabel import f1_from_counts, tune_thresholds
from ..modeling.multilabel import multilabel_loss, predict_labels
from .core import guard_checkers
from .core import GradingError, call_student, clone_inputs, expect_tensor, expect_unchanged, hidden_seed, passed

__all__ = ["check_multilabel_loss_and_predict", "check_tune_thresholds", "check_fixed_model"]


def _ml_inputs(seed: int, device, batch=6, num_labels=5, scale=3.0, dtype=torch.float32, target_dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(batch, num_labels, generator=g, dtype=torch.float64) * scale).to(dtype)
    targets = (torch.rand(batch, num_labels, generator=g) < 0.35).to(target_dtype)
    targets[0] = 0          # a row without any label
    if batch > 1:
        targets[1] = 1      # a row with every label
    return logits.to(device), targets.to(device)


def _loss_diagnosis(got: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, pos_weight) -> str:
    """Name the likely bug when the student's loss equals a known wrong variant."""
    z, y = logits.detach().double(), targets.double()
    w = None if pos_weight is None else pos_weight.double().to(z.device)
    cands = {}
    cands["softmax"] = -(y * torch.log_softmax(z, -1)).sum(-1).mean()
    cands["softmax_ce"] = -(y * torch.log_softmax(z, -1)).mean()
    p = torch.sigmoid(z)
    cands["double_sigmoid"] = F.binary_cross_entropy_with_logits(p, y, pos_weight=w)
    cands["bce_on_logits"] = F.binary_cross_entropy(z.clamp(1e-7, 1 - 1e-7), y) if ((z > 0) & (z < 1)).all() else None
    cands["sum_over_labels"] = F.binary_cross_entropy_with_logits(z, y, pos_weight=w, reduction="none").sum(-1).mean()
    cands["sum_all"] = F.binary_cross_entropy_with_logits(z, y, pos_weight=w, reduction="sum")
    if w is not None:
        cands["no_pos_weight"] = F.binary_cross_entropy_with_logits(z, y)
        cands["weight_not_pos_weight"] = F.binary_cross_entropy_with_logits(z, y, weight=w)
    cands["naive_bce"] = F.binary_cross_entropy(p.float(), y.float(), weight=None if w is None else None).double() \
        if w is None else None
    g = float(got.detach().double())
    msgs = {
        "softmax": "it matches a softmax cross-entropy: softmax makes the labels compete for one unit of probability, "
                   "but in multi-label classification every label is an independent yes/no — use a sigmoid per label "
                   "(binary cross-entropy on each logit), not softmax.",
        "softmax_ce": "it matches a softmax cross-entropy averaged over entries: softmax is wrong for multi-label — "
                      "use a sigmoid (binary cross-entropy) per label.",
        "double_sigmoid": "it matches binary_cross_entropy_with_logits applied to sigmoid(logits): you passed "
                          "probabilities where logits are expected (the sigmoid was applied twice). Pass the raw logits.",
        "bce_on_logits": "it matches binary_cross_entropy on the raw logits: that function expects probabilities; "
                         "use binary_cross_entropy_with_logits on the logits.",
        "sum_over_labels": "it matches the loss summed over labels and averaged over examples: take the mean over "
                           "every (example, label) entry.",
        "sum_all": "it matches the sum over all entries: take the mean over every (example, label) entry.",
        "no_pos_weight": "it matches the loss without pos_weight: weight the positive term of label j by "
                         "pos_weight[j] (y * log σ(z) only, not the negative term).",
        "weight_not_pos_weight": "it matches the loss with every term of label j weighted by pos_weight[j] (`weight=`): "
                                 "pos_weight multiplies only the positive term y·log σ(z).",
        "naive_bce": "it matches sigmoid followed by binary_cross_entropy (BCELoss): on saturated logits σ(z) rounds "
                     "to 0 or 1, the log is clamped and the gradient vanishes — compute the loss from the logits "
                     "(log-sigmoid / binary_cross_entropy_with_logits).",
    }
    for name, val in cands.items():
        if val is not None and math.isclose(g, float(val), rel_tol=1e-4, abs_tol=1e-6):
            return " Likely bug: " + msgs[name]
    return ""


def _predict_diagnosis(got, logits, threshold) -> str:
    if not isinstance(got, torch.Tensor) or got.shape != logits.shape:
        return ""
    g = got.detach().bool() if got.dtype == torch.bool else got.detach() > 0.5
    thr = threshold.to(logits.device) if isinstance(threshold, torch.Tensor) else threshold
    one_hot = torch.zeros_like(g).scatter_(-1, logits.argmax(-1, keepdim=True), True)
    cands = {
        "argmax": one_hot,
        "softmax": torch.softmax(logits, -1) >= thr,
        "raw": logits >= thr,
        "strict": torch.sigmoid(logits) > thr,
    }
    if isinstance(threshold, torch.Tensor):
        cands["wrong_axis"] = torch.sigmoid(logits) >= thr.view(-1, 1)[: logits.shape[0]] \
            if thr.numel() >= logits.shape[0] else None
    msgs = {
        "argmax": "your predictions mark exactly one label per row, the argmax: multi-label decides every label on "
                  "its own, sigmoid(logits) >= threshold (a row may have zero or several labels).",
        "softmax": "your predictions match thresholding softmax(logits): multi-label needs a sigmoid per label.",
        "raw": "your predictions match comparing the raw logits with the threshold: the threshold is a probability, "
               "apply torch.sigmoid to the logits first.",
        "strict": "your predictions match `>`; the instructions ask for `>=` (probability equal to the threshold "
                  "counts as predicted).",
        "wrong_axis": "a per-label threshold must line up with the label axis (the last one): shape (num_labels,) "
                      "broadcasts over the batch as is.",
    }
    matches = [name for name, c in cands.items()
               if c is not None and c.shape == g.shape and torch.equal(c.to(g.device), g)]
    if {"argmax", "softmax"} <= set(matches):  # softmax >= 0.5 marks at most one label: both readings fit
        return (" Likely bug: your predictions mark one label per row, as an argmax or a softmax over the labels "
                "would: multi-label decides every label on its own, sigmoid(logits) >= threshold.")
    return " Likely bug: " + msgs[matches[0]] if matches else ""


def check_multilabel_loss_and_predict(loss_fn, predict_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Check ``multilabel_loss(logits, targets, pos_weight=None)`` and ``predict_labels(logits, threshold)``."""
    device = torch.device(device)
    cases = [dict(seed=0), dict(seed=1, batch=4, num_labels=3, scale=40.0)]
    if hidden_tests:
        hidden = [dict(batch=1, num_labels=7), dict(batch=9, num_labels=2, dtype=torch.float64),
                  dict(batch=5, num_labels=4, target_dtype=torch.long), dict(batch=8, num_labels=6, scale=200.0)]
        cases += [dict(c, seed=hidden_seed("check_multilabel_loss_and_predict", i)) for i, c in enumerate(hidden)]
    n = 0
    for case in cases:
        logits, targets = _ml_inputs(device=device, **case)
        pw_options = [None, torch.linspace(0.5, 4.0, logits.shape[1], dtype=logits.dtype, device=device)]
        for pw in pw_options:
            before = clone_inputs((logits, targets, pw))
            desc = (f"multilabel_loss on logits {tuple(logits.shape)} ({logits.dtype}, |max| "
                    f"{float(logits.abs().max()):.0f}), targets {targets.dtype}"
                    + (", with pos_weight" if pw is not None else ", pos_weight=None"))
            got = call_student(loss_fn, logits, targets, pos_weight=pw, name="multilabel_loss",
                               reference=multilabel_loss)
            expect_unchanged(before, (logits, targets, pw), "An input of multilabel_loss")
            want = multilabel_loss(logits, targets, pw)
            if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype:
                close = torch.isclose(got.detach().double().to(device), want.double(), rtol=1e-5, atol=1e-6)
                if not bool(close):
                    raise GradingError(f"{desc}: got {float(got):.6g}, expected {float(want):.6g}."
                                       + _loss_diagnosis(got, logits, targets, pw))
            expect_tensor(got, want, desc, rtol=1e-5, atol=1e-6)
            n += 1
        # the gradient must flow (and be the stable one) on saturated logits
        z = logits.detach().clone().requires_grad_(True)
        got = call_student(loss_fn, z, targets, pos_weight=None, name="multilabel_loss", reference=multilabel_loss)
        if not isinstance(got, torch.Tensor) or not got.requires_grad:
            raise GradingError("multilabel_loss returned a value that does not depend on the logits through autograd "
                               "(did you call .item(), .detach() or build a new tensor?); return a 0-d tensor the "
                               "optimiser can backpropagate through.")
        got.backward()
        zr = logits.detach().clone().requires_grad_(True)
        multilabel_loss(zr, targets).backward()
        gmsg = (f"The gradient of multilabel_loss with respect to the logits (shape {tuple(z.shape)}, |max| logit "
                f"{float(logits.abs().max()):.0f})")
        if z.grad is None:
            raise GradingError(f"{gmsg} is None: the loss is not connected to the logits.")
        if not torch.allclose(z.grad.double(), zr.grad.double(), rtol=1e-4, atol=1e-7):
            hint = ""
            if float(logits.abs().max()) > 20 and (z.grad.abs() < 1e-12).any():
                hint = (" Some entries are exactly 0 on saturated logits: the sigmoid rounded to 0 or 1 before the "
                        "log. Compute the loss from the logits (F.logsigmoid or binary_cross_entropy_with_logits).")
            raise GradingError(f"{gmsg} differs from the expected one (max abs diff "
                               f"{float((z.grad - zr.grad).abs().max()):.3g}).{hint}")
        # prediction: a global and a per-label threshold
        L = logits.shape[1]
        thr_options = [0.5, 0.3, torch.linspace(0.2, 0.8, L, dtype=logits.dtype, device=device)]
        for thr in thr_options:
            before = clone_inputs((logits,))
            tdesc = f"a per-label threshold tensor of shape ({L},)" if isinstance(thr, torch.Tensor) else f"threshold={thr}"
            _predict_case(predict_fn, logits, thr, tdesc)
            expect_unchanged(before, (logits,), "The logits given to predict_labels")
            n += 1
    if hidden_tests:
        n += _check_predict_at_threshold(predict_fn, device)
    passed(f"multilabel_loss and predict_labels match the reference on {n} cases on {device.type}")


def _check_predict_at_threshold(predict_fn, device) -> int:
    """Probabilities exactly equal to the threshold count as predicted (``>=``): logits 0 against 0.5, and a
    per-label threshold equal to the sigmoid of one row's logits."""
    g = torch.Generator().manual_seed(hidden_seed("check_multilabel_loss_and_predict", 50))
    logits = (torch.randn(4, 6, generator=g) * 2).to(device)
    logits[0, ::2] = 0.0
    at_row = torch.sigmoid(logits[2]).clone()
    for thr, tdesc in ((0.5, "threshold=0.5 and some logits exactly 0 (probability 0.5)"),
                       (at_row, "a per-label threshold equal to sigmoid(logits[2]) (row 2 exactly at the threshold)")):
        _predict_case(predict_fn, logits, thr, tdesc)
    return 2


def _predict_case(predict_fn, logits, thr, tdesc: str) -> None:
    """One call of the student's predict_labels against the reference, the bug named when the output shows it."""
    got = call_student(predict_fn, logits, thr, name="predict_labels", reference=predict_labels)
    want = predict_labels(logits, thr)
    desc = f"predict_labels on logits {tuple(logits.shape)} with {tdesc}"
    if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype and \
            not torch.equal(got, want):
        raise GradingError(f"{desc}: {int((got != want).sum())} of {want.numel()} decisions differ."
                           + _predict_diagnosis(got, logits, thr))
    expect_tensor(got, want, desc)


def _tune_inputs(seed, device, n=60, num_labels=5, empty_label=False, k=19, dtype=torch.float32, on_grid=False):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, num_labels, generator=g) < torch.linspace(0.08, 0.5, num_labels)).float()
    noise = torch.randn(n, num_labels, generator=g)
    probs = torch.sigmoid(2.0 * (y - 0.5) * torch.linspace(0.5, 2.5, num_labels) + noise).to(dtype)
    if empty_label:
        y[:, -1] = 0
    cand = torch.linspace(0.05, 0.95, k, dtype=dtype)
    if on_grid:  # every probability exactly equal to a candidate: `>=` and `>` choose differently
        probs = cand[((probs - cand[0]) / (cand[1] - cand[0])).round().clamp(0, k - 1).long()]
    return probs.to(device), y.to(device), cand.to(device)


def check_tune_thresholds(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Check ``tune_thresholds(probs, targets, candidates) -> (global_threshold, per_label_thresholds)``.

    Any threshold that reaches the best F1 is accepted (ties need not be broken the same way), except for labels with
    no positive example, which must get the global threshold.
    """
    device = torch.device(device)
    cases = [dict(seed=0)]
    if hidden_tests:
        hidden = [dict(n=200, num_labels=8), dict(n=40, num_labels=4, empty_label=True), dict(n=25, num_labels=1, k=7),
                  dict(n=90, num_labels=6, dtype=torch.float64), dict(n=80, num_labels=6, on_grid=True)]
        cases += [dict(c, seed=hidden_seed("check_tune_thresholds", i)) for i, c in enumerate(hidden)]
    for case in cases:
        probs, y, cand = _tune_inputs(device=device, **case)
        before = clone_inputs((probs, y, cand))
        out = call_student(student_fn, probs, y, cand, name="tune_thresholds", reference=tune_thresholds)
        expect_unchanged(before, (probs, y, cand), "An input of tune_thresholds")
        where = f"tune_thresholds on probs {tuple(probs.shape)} with {cand.numel()} candidates"
        if not isinstance(out, tuple) or len(out) != 2:
            raise GradingError(f"{where} should return a tuple (global_threshold, per_label_thresholds), got "
                               f"{type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, tuple) else "") + ".")
        g_t, per_t = out
        if isinstance(g_t, torch.Tensor) and g_t.numel() == 1:
            g_t = g_t.item()
        if not isinstance(g_t, (float, int)):
            raise GradingError(f"{where}: the global threshold should be a Python float (one number), got "
                               f"{type(g_t).__name__}" + (f" of shape {tuple(g_t.shape)}" if hasattr(g_t, 'shape') else "") +
                               ". Did you return the per-label thresholds first?")
        ref_g, ref_per = tune_thresholds(probs, y, cand)
        yb = y.bool()

        def micro(t):
            p = probs >= t
            return float(f1_from_counts((p & yb).sum().double(), (p & ~yb).sum().double(), (~p & yb).sum().double()))

        if not torch.isclose(cand.double(), torch.tensor(float(g_t), dtype=torch.float64, device=device)).any():
            raise GradingError(f"{where}: the global threshold {g_t:.6g} is not one of the candidates.")
        if micro(g_t) < micro(ref_g) - 1e-9:
            hint = ""
            macro_best = max((float(f1_from_counts(((probs >= t) & yb).sum(0).double(), ((probs >= t) & ~yb).sum(0)
                                                   .double(), ((probs < t) & yb).sum(0).double()).mean()), float(t))
                             for t in cand)
            strict = max((float(f1_from_counts(((probs > t) & yb).sum().double(), ((probs > t) & ~yb).sum().double(),
                                               ((probs <= t) & yb).sum().double())), float(t)) for t in cand)
            if math.isclose(float(g_t), macro_best[1], abs_tol=1e-9):
                hint = (" It maximises the macro-F1 (mean of per-label F1s); the global threshold should maximise the "
                        "micro-F1: sum TP, FP and FN over all labels first, then compute one F1.")
            elif math.isclose(float(g_t), strict[1], abs_tol=1e-9):
                hint = (" It is the best threshold when a probability equal to it does NOT count as predicted (`>`); "
                        "predict where probs >= threshold (some probabilities here equal a candidate exactly).")
            raise GradingError(f"{where}: the global threshold {g_t:.3g} gives micro-F1 {micro(g_t):.4f}, but "
                               f"{ref_g:.3g} gives {micro(ref_g):.4f}.{hint}")
        if not isinstance(per_t, torch.Tensor) or per_t.shape != ref_per.shape:
            expect_tensor(per_t, ref_per, f"{where}: the per-label thresholds", check_dtype=False)
        if per_t.dtype != cand.dtype:
            raise GradingError(f"{where}: the per-label thresholds have dtype {per_t.dtype}, expected {cand.dtype} "
                               "(the dtype of candidates).")
        per_t = per_t.detach().to(device)
        for j in range(y.shape[1]):
            col_p, col_y = probs[:, j], yb[:, j]
            if not col_y.any():
                if not math.isclose(float(per_t[j]), float(ref_g), abs_tol=1e-7):
                    raise GradingError(f"{where}: label {j} has no positive example, so its threshold should be the "
                                       f"global threshold {ref_g:.3g}; got {float(per_t[j]):.3g}.")
                continue

            def f1(t):
                p = col_p >= t
                return float(f1_from_counts((p & col_y).sum().double(), (p & ~col_y).sum().double(),
                                            (~p & col_y).sum().double()))
            if f1(per_t[j]) < f1(ref_per[j]) - 1e-9:
                hint = ""
                if math.isclose(float(per_t[j]), float(g_t), abs_tol=1e-9):
                    hint = " It equals your global threshold: tune each label's column on its own."
                raise GradingError(f"{where}: label {j}'s threshold {float(per_t[j]):.3g} gives F1 {f1(per_t[j]):.4f} "
                                   f"on that label, but {float(ref_per[j]):.3g} gives {f1(ref_per[j]):.4f}.{hint}")
            if not torch.isclose(cand.double(), per_t[j].double()).any():
                raise GradingError(f"{where}: label {j}'s threshold {float(per_t[j]):.6g} is not one of the candidates.")
    passed(f"tune_thresholds finds the best global and per-label thresholds on {len(cases)} case(s) on {device.type}")


def _model_inputs(seed, device, batch=4, seq=9, num_labels=5, vocab=99):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, seq), generator=g)
    ids[:, 0] = 2                                   # a [CLS]-like first token
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1:, seq - 3:] = 0
    ids[mask == 0] = 0
    tt = torch.zeros(batch, seq, dtype=torch.long)
    labels = (torch.rand(batch, num_labels, generator=g) < 0.4).float()
    return ids.to(device), mask.to(device), tt.to(device), labels.to(device)


def check_fixed_model(student_cls, device="cpu", hidden_tests: bool = False) -> None:
    """Build the student's repaired ``DebtagsTagger(config, num_labels)`` on a tiny random config, give it the
    reference's weights, and compare ``forward(...)["logits"]`` and ``["loss"]`` with the reference."""
    device = torch.device(device)
    if not isinstance(student_cls, type) or not issubclass(student_cls, nn.Module):
        raise GradingError(f"DebtagsTagger should be a class derived from torch.nn.Module, got "
                           f"{student_cls!r} ({type(student_cls).__name__}).")
    cases = [dict(seed=0)]
    if hidden_tests:
        hidden = [dict(batch=1, seq=5, num_labels=1), dict(batch=7, seq=12, num_labels=9)]
        cases += [dict(c, seed=hidden_seed("check_fixed_model", i)) for i, c in enumerate(hidden)]
    for case in cases:
        cfg = tiny_bert_config()
        seed_everything(case["seed"])
        num_labels = case.get("num_labels", 5)
        ref = DebtagsTagger(cfg, num_labels).to(device).eval()
        seed_everything(case["seed"])
        model = call_student(student_cls, cfg, num_labels, name="DebtagsTagger", reference=DebtagsTagger)
        state = ref.state_dict()
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise GradingError("The reference weights do not fit your DebtagsTagger: "
                               f"{str(exc).splitlines()[0]} Keep the layer names `bert`, `dropout`, `classifier` "
                               "and their sizes.") from None
        if missing:
            raise GradingError(f"Your DebtagsTagger has parameters the intended model does not have: "
                               f"{sorted(missing)[:4]}. Keep exactly `bert` (a BertModel with its pooler), `dropout` "
                               "and `classifier`.")
        if unexpected:
            raise GradingError(f"Your DebtagsTagger lacks parameters the intended model has: {sorted(unexpected)[:4]}. "
                               "It should own `self.bert = BertModel(config)` (pooler included) and "
                               "`self.classifier = nn.Linear(config.hidden_size, num_labels)`.")
        model.to(device).eval()
        ids, mask, tt, labels = _model_inputs(case["seed"], device, batch=case.get("batch", 4),
                                              seq=case.get("seq", 9), num_labels=num_labels)
        where = f"DebtagsTagger on a batch of {ids.shape[0]} sequences of {ids.shape[1]} tokens, {num_labels} labels"
        with torch.no_grad():
            out = call_student(model, ids, attention_mask=mask, token_type_ids=tt, labels=labels, name="DebtagsTagger.forward")
            want = ref(ids, attention_mask=mask, token_type_ids=tt, labels=labels)
            out_nolab = call_student(model, ids, attention_mask=mask, token_type_ids=tt, name="DebtagsTagger.forward")
        if not isinstance(out, dict) or "logits" not in out or "loss" not in out:
            raise GradingError(f"{where}: forward should return a dict with keys 'loss' and 'logits', got "
                               f"{type(out).__name__}" + (f" with keys {sorted(out)}" if isinstance(out, dict) else "") + ".")
        logits, wl = out["logits"], want["logits"]
        if isinstance(logits, torch.Tensor) and logits.shape == wl.shape and not torch.allclose(logits, wl, atol=1e-5):
            msg = ""
            if torch.allclose(logits, torch.sigmoid(wl), atol=1e-5):
                msg = ("'logits' are probabilities (sigmoid applied): return the raw scores of the classifier; the "
                       "loss and predict_labels apply the sigmoid themselves.")
            elif torch.allclose(logits, torch.softmax(wl, -1), atol=1e-5):
                msg = "'logits' went through a softmax: return the raw scores (and softmax is wrong for multi-label)."
            else:
                hs = ref.bert(ids, attention_mask=mask, token_type_ids=tt, output_hidden_states=True)
                variants = {
                    "embeddings": ref.classifier(ref.bert.pooler.activation(ref.bert.pooler.dense(hs.hidden_states[0][:, 0]))),
                    "no_pooler": ref.classifier(hs.last_hidden_state[:, 0]),
                    "first_sequence": None,
                }
                notes = {
                    "embeddings": "the features come from hidden_states[0], the output of the embedding layer (the "
                                  "input of the first Transformer layer): use the last layer's [CLS] vector — "
                                  "`outputs.pooler_output` (or the pooler applied to `outputs.last_hidden_state`).",
                    "no_pooler": "the classifier reads last_hidden_state[:, 0] without the pooler; the intended model "
                                 "classifies `outputs.pooler_output` (dense + tanh on the [CLS] vector), as "
                                 "BertForSequenceClassification does.",
                }
                for k, v in variants.items():
                    if v is not None and v.shape == logits.shape and torch.allclose(logits, v, atol=1e-5):
                        msg = notes[k]
                        break
            if msg:
                raise GradingError(f"{where}: {msg}")
        expect_tensor(logits, wl, f"{where}: 'logits'", atol=1e-5, rtol=1e-4)
        loss = out["loss"]
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise GradingError(f"{where}: 'loss' should be a 0-d tensor when labels are given, got "
                               f"{type(loss).__name__}" + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else "") + ".")
        if not math.isclose(float(loss), float(want["loss"]), rel_tol=1e-4, abs_tol=1e-6):
            z, y = wl.double(), labels.double()
            msg = ""
            if math.isclose(float(loss), float(F.binary_cross_entropy_with_logits(torch.sigmoid(z), y)), rel_tol=1e-4):
                msg = ("it is BCEWithLogitsLoss applied to probabilities: the sigmoid was applied twice — give the loss "
                       "the raw logits.")
            elif math.isclose(float(loss), float(F.binary_cross_entropy(torch.sigmoid(z), y)), rel_tol=1e-4):
                msg = ("it is sigmoid + BCELoss: same value here, but it breaks on saturated logits (gradient 0); use "
                       "nn.BCEWithLogitsLoss on the raw logits.")
            elif math.isclose(float(loss), float(-(y * torch.log_softmax(torch.sigmoid(z), -1)).sum(-1).mean()), rel_tol=1e-4) \
                    or math.isclose(float(loss), float(-(y * torch.log_softmax(z, -1)).sum(-1).mean()), rel_tol=1e-4):
                msg = ("it is CrossEntropyLoss (a softmax over the labels, made for one class per example): use "
                       "nn.BCEWithLogitsLoss on the raw logits with float 0/1 targets.")
            raise GradingError(f"{where}: 'loss' is {float(loss):.6g}, expected {float(want['loss']):.6g} "
                               "(BCEWithLogitsLoss, mean over every example and label)" + (f"; {msg}" if msg else "."))
        if not isinstance(out_nolab, dict) or out_nolab.get("loss", 0) is not None:
            raise GradingError(f"{where}: without labels forward should return loss=None (got "
                               f"{type(out_nolab.get('loss') if isinstance(out_nolab, dict) else out_nolab).__name__}).")
        # the loss must train the model: gradient reaches the encoder
        model.train()
        model.zero_grad()
        out = call_student(model, ids, attention_mask=mask, token_type_ids=tt, labels=labels, name="DebtagsTagger.forward")
        out["loss"].backward()
        emb = model.bert.embeddings.word_embeddings.weight.grad
        if emb is None or float(emb.abs().sum()) == 0.0:
            raise GradingError(f"{where}: no gradient reaches the encoder's embeddings from the loss; the loss must be "
                               "computed from the classifier's logits (without .detach() or torch.no_grad()).")
        model.eval()
    passed(f"DebtagsTagger matches the reference model (logits and BCE-with-logits loss) on {len(cases)} case(s) "
           f"on {device.type}")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
