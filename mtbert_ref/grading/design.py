"""Notebook 07's open design exercise: :func:`check_triage_heads` grades the student's heads and loss for a new task
mix by what they do, not by how they are built.

The task mix (bug-report triage, on frozen encoder vectors): ``tags``, one of 3 tags per token (-100 = unknown);
``severity``, one real number per report (NaN = unknown); ``flags``, 4 independent yes/no flags per report (a row of
-100 = unknown). The student's ``TriageHeads(hidden_size)`` returns per-task predictions and one scalar loss; the
checker tests the interface, padding, missing labels and gradients on fixed batches, then trains the module with a
fixed optimiser on a seeded synthetic problem whose labels are a learnable function of the vectors, and requires a
held-out quality per task that a sound design clears easily and a design with a wrong loss or a blind head does not.

:class:`TriageHeads` below is one reference design (masked mean pooling, one Linear per task, the sum of the
per-task means over known entries); any design that behaves correctly passes.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .core import GradingError, call_student, clone_inputs, expect_unchanged, guard_checkers, hidden_seed, passed
from .core import time_limit
from ..modeling.pooling import masked_mean_pool

__all__ = ["TriageHeads", "check_triage_heads", "N_TAGS", "N_FLAGS", "TRAIN_STEPS", "THRESHOLDS"]

N_TAGS, N_FLAGS = 3, 4
TRAIN_STEPS, BATCH, LR = 300, 32, 1e-2          # what the checker trains with (stated in the notebook)
THRESHOLDS = {"tags": 0.80, "severity": 0.60, "flags": 0.85}   # token accuracy, R², flag accuracy (held out)


# ============================================================================================== the reference design
class TriageHeads(nn.Module):
    """Masked mean pooling for the report-level tasks, one Linear per task, loss = sum of per-task means."""

    def __init__(self, hidden_size):
        super().__init__()
        self.tags = nn.Linear(hidden_size, N_TAGS)
        self.severity = nn.Linear(hidden_size, 1)
        self.flags = nn.Linear(hidden_size, N_FLAGS)

    def forward(self, hidden, attention_mask, labels=None):
        pooled = masked_mean_pool(hidden, attention_mask)
        out = {"tags": self.tags(hidden), "severity": self.severity(pooled).squeeze(-1),
               "flags": self.flags(pooled), "loss": None}
        if labels is None:
            return out
        terms = []
        known = labels["tags"] != -100
        if known.any():
            terms.append(F.cross_entropy(out["tags"][known], labels["tags"][known]))
        known = ~torch.isnan(labels["severity"])
        if known.any():
            terms.append(F.mse_loss(out["severity"][known], labels["severity"][known]))
        known = (labels["flags"] != -100).all(-1)
        if known.any():
            terms.append(F.binary_cross_entropy_with_logits(out["flags"][known], labels["flags"][known]))
        zero = sum(out[k].sum() for k in ("tags", "severity", "flags")) * 0.0
        out["loss"] = sum(terms) if terms else zero
        return out


# ============================================================================================== the synthetic problem
class _Problem:
    """A seeded triage problem on frozen "encoder" vectors of size ``hidden``.

    Every vector is a random rotation of [report context (shared by the report's tokens, small per-token noise) ;
    the token's own features]: the report-level labels are linear in the context (any pooling of the tokens sees
    it), a token's tag is the argmax of a linear map of its own features (only a per-token head sees it).
    Padding positions hold unrelated random vectors.
    """

    def __init__(self, seed: int, hidden: int):
        self.g = torch.Generator().manual_seed(seed)
        self.hidden, self.ctx = hidden, hidden // 2
        q, _ = torch.linalg.qr(torch.randn(hidden, hidden, generator=self.g))
        self.rotation = q
        self.w_tags = torch.randn(hidden - self.ctx, N_TAGS, generator=self.g)
        self.w_sev = torch.randn(self.ctx, generator=self.g) / math.sqrt(self.ctx)
        self.w_flags = torch.randn(self.ctx, N_FLAGS, generator=self.g)

    def batch(self, n: int, max_len: int = 10, min_len: int = 2, missing: float = 0.3, seed: int | None = None):
        """``n`` reports: (hidden, attention_mask, labels), about ``missing`` of each task's labels unknown; drawn
        from the problem's own generator, or from a new one seeded with ``seed``."""
        g = self.g if seed is None else torch.Generator().manual_seed(seed)
        lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
        seq = int(lengths.max())
        mask = (torch.arange(seq)[None, :] < lengths[:, None]).long()
        context = torch.randn(n, 1, self.ctx, generator=g)
        own = torch.randn(n, seq, self.hidden - self.ctx, generator=g)
        raw = torch.cat([context + 0.05 * torch.randn(n, seq, self.ctx, generator=g), own], -1)
        hidden = raw @ self.rotation
        hidden = torch.where(mask[..., None].bool(), hidden, 2.0 * torch.randn(hidden.shape, generator=g))
        tags = (own @ self.w_tags).argmax(-1)
        tags[mask == 0] = -100
        severity = context[:, 0] @ self.w_sev + 0.1 * torch.randn(n, generator=g)
        flags = (context[:, 0] @ self.w_flags > 0.5 * self.w_flags.norm(dim=0)).float()   # each flag on for ~31%
        if missing:
            tags[torch.rand(n, generator=g) < missing] = -100
            severity[torch.rand(n, generator=g) < missing] = float("nan")
            flags[torch.rand(n, generator=g) < missing] = -100.0
        return hidden, mask, {"tags": tags, "severity": severity, "flags": flags}


def _unlabelled_like(labels: dict) -> dict:
    return {"tags": torch.full_like(labels["tags"], -100),
            "severity": torch.full_like(labels["severity"], float("nan")),
            "flags": torch.full_like(labels["flags"], -100.0)}


def _to(obj, device):
    return {k: v.to(device) for k, v in obj.items()} if isinstance(obj, dict) else obj.to(device)


# ============================================================================================== the checks
def _forward(model, hidden, mask, labels, what: str, seconds: float | None = 60):
    return call_student(model, hidden, mask, labels, name=f"TriageHeads.forward ({what})", reference=TriageHeads,
                        seconds=seconds)


def _untouched(before: dict, after: dict, what: str) -> None:
    """GradingError if a label tensor was changed in place (NaN compares equal to NaN)."""
    for k, b in before.items():
        if not torch.equal(torch.nan_to_num(b, nan=12345.0), torch.nan_to_num(after[k], nan=12345.0)):
            raise GradingError(f"labels[{k!r}] was modified in place by your forward ({what}): select the known "
                               "entries with a boolean mask (e.g. `y[known]`) instead of writing into the labels.")


def _check_outputs(out, hidden, mask, what: str, with_labels: bool) -> None:
    batch, seq, _ = hidden.shape
    if not isinstance(out, dict):
        raise GradingError(f"forward ({what}) should return a dict with keys 'tags', 'severity', 'flags' and 'loss', "
                           f"got a {type(out).__name__}.")
    lacking = [k for k in ("tags", "severity", "flags", "loss") if k not in out]
    if lacking:
        raise GradingError(f"forward ({what}) returned a dict without {lacking}; it needs 'tags', 'severity', 'flags' "
                           "and 'loss'.")
    for key, shape in (("tags", (batch, seq, N_TAGS)), ("severity", (batch,)), ("flags", (batch, N_FLAGS))):
        z = out[key]
        if not isinstance(z, torch.Tensor):
            raise GradingError(f"forward ({what}): '{key}' should be a tensor of shape {shape}, got "
                               f"{type(z).__name__}.")
        if tuple(z.shape) != shape:
            raise GradingError(f"forward ({what}): '{key}' has shape {tuple(z.shape)}, expected {shape}.")
        if z.dtype != hidden.dtype:
            raise GradingError(f"forward ({what}): '{key}' has dtype {z.dtype}, expected {hidden.dtype} (the dtype of "
                               "`hidden`).")
        if z.device.type != hidden.device.type:
            raise GradingError(f"forward ({what}): '{key}' is on {z.device}, expected the device of `hidden` "
                               f"({hidden.device}).")
        if not bool(torch.isfinite(z.detach()[mask.bool()] if key == "tags" else z.detach()).all()):
            raise GradingError(f"forward ({what}): '{key}' contains NaN or inf.")
    if not with_labels and out["loss"] is not None:
        raise GradingError(f"forward ({what}) without labels should return 'loss': None, got "
                           f"{type(out['loss']).__name__}.")


def _loss(out, what: str) -> torch.Tensor:
    loss = out["loss"]
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        shape = f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""
        raise GradingError(f"forward ({what}): 'loss' should be a 0-dim tensor (a scalar), got "
                           f"{type(loss).__name__}{shape}.")
    if not torch.isfinite(loss.detach()):
        culprit = next((k for k, g in _output_grads(out).items() if not bool(torch.isfinite(g).all())), None)
        which = f" (it comes from {culprit!r})" if culprit else ""
        raise GradingError(f"forward ({what}): the loss is {loss.item()}{which}; a missing label (-100 or NaN) or a "
                           "task with no known label in the batch must not reach the loss: average each task over "
                           "its known entries only and skip a task that has none.")
    if not loss.requires_grad:
        raise GradingError(f"forward ({what}): the loss does not require grad: compute it from the outputs with "
                           "torch operations (no .item(), no torch.no_grad()), even when it is zero.")
    return loss


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.isclose(a.detach().double(), b.detach().double(), rtol=1e-5, atol=1e-6).all())


def _gradients(model, loss: torch.Tensor) -> torch.Tensor:
    """Every parameter's gradient of ``loss``, flattened into one vector (the graph is kept for the loss's value)."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1).detach().double().cpu()
                      for p, g in zip(params, grads)])


def _output_grads(out: dict) -> dict[str, torch.Tensor]:
    """{output name: gradient of out["loss"] with respect to it}, for the outputs the loss was computed from."""
    loss = out["loss"]
    keys = [k for k in ("tags", "severity", "flags") if isinstance(out[k], torch.Tensor) and out[k].requires_grad]
    if not keys or not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return {}
    grads = torch.autograd.grad(loss, [out[k] for k in keys], retain_graph=True, allow_unused=True)
    return {k: g for k, g in zip(keys, grads) if g is not None}


def _leaking_output(out: dict, rows: slice, mask: torch.Tensor) -> str | None:
    """The first output whose entries in the (unlabelled) ``rows`` receive a gradient from the loss, if the loss was
    computed from the returned outputs (else None)."""
    for key, g in _output_grads(out).items():
        g = g[rows][mask[rows].bool()] if key == "tags" else g[rows]
        if not bool(torch.isfinite(g).all()) or bool(g.abs().sum() > 0):
            return key
    return None


def _contract(model, problem: _Problem, device, hidden_tests: bool, trained: bool) -> None:
    """Interface, padding, missing labels, gradients — on fixed batches, the module in eval mode. That every
    parameter receives a gradient is asked of the trained module only (a head initialised to zero passes no gradient
    to the layers below it before its first step)."""
    model.eval()
    hidden, mask, labels = (_to(x, device) for x in problem.batch(6, missing=0.0))
    before = clone_inputs((hidden, mask, labels))
    with torch.no_grad():
        plain = _forward(model, hidden, mask, None, "a batch of 6 reports, no labels")
    _check_outputs(plain, hidden, mask, "a batch of 6 reports, no labels", with_labels=False)
    shapes = [(1, 4, 2), (3, 1, 1)] if hidden_tests else []   # a batch of one report; reports of one token
    for n, max_len, min_len in shapes:
        h1, m1, _ = (_to(x, device) for x in problem.batch(n, max_len=max_len, min_len=min_len, missing=0.0))
        with torch.no_grad():
            o1 = _forward(model, h1, m1, None, f"{n} report(s) of up to {max_len} token(s)")
        _check_outputs(o1, h1, m1, f"{n} report(s) of up to {max_len} token(s), no labels", with_labels=False)

    # padding: changing the vectors at padding positions changes no prediction of a real token or report
    noisy = torch.where(mask[..., None].bool(), hidden, hidden + 5.0 * torch.randn_like(hidden))
    with torch.no_grad():
        again = _forward(model, noisy, mask, None, "the same batch, other vectors at the padding positions")
    real = mask.bool()
    for key, a, b in (("tags", plain["tags"][real], again["tags"][real]), ("severity", plain["severity"],
                                                                              again["severity"]),
                      ("flags", plain["flags"], again["flags"])):
        if not _same(a, b):
            raise GradingError(f"changing the vectors at padding positions (attention_mask 0) changed '{key}' of the "
                               "real tokens/reports: use attention_mask wherever you pool or mix positions.")

    # the loss on a fully labelled batch: a finite scalar, every parameter receives a gradient
    full = _loss(_forward(model, hidden, mask, labels, "a fully labelled batch"), "a fully labelled batch")
    expect_unchanged(before, (hidden, mask, labels), "the inputs of forward")
    model.zero_grad(set_to_none=True)
    try:
        full.backward()
    except RuntimeError as exc:
        raise GradingError(f"loss.backward() on a fully labelled batch failed: {str(exc).splitlines()[0]}") from None
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise GradingError("your TriageHeads has no trainable parameter: the heads must be nn.Modules created in "
                           "__init__ (e.g. nn.Linear) so that the optimiser can train them.")
    dead = [n for n, p in params if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    if dead and trained:
        raise GradingError(f"after training, loss.backward() on a fully labelled batch gives the parameter(s) "
                           f"{dead[:3]} no gradient: every part of your module must be trained by the loss.")
    model.zero_grad(set_to_none=True)

    # each task alone: its labels move the loss; unlabelled reports change nothing
    n_lab = 3
    for task in ("tags", "severity", "flags"):
        only = _unlabelled_like(labels)
        only[task] = labels[task].clone()
        only[task][n_lab:] = -100 if task != "severity" else float("nan")
        what = f"a batch of 6 reports where only the first {n_lab} are labelled, for {task!r} only"
        kept_labels = clone_inputs(only)
        base = _loss(_forward(model, hidden, mask, only, what), what)
        _untouched(kept_labels, only, what)
        changed = {k: v.clone() for k, v in only.items()}
        if task == "tags":
            changed["tags"][:n_lab] = torch.where(mask[:n_lab].bool(), (changed["tags"][:n_lab] + 1) % N_TAGS, -100)
        elif task == "severity":
            changed["severity"][:n_lab] += 3.0
        else:
            changed["flags"][:n_lab] = 1.0 - changed["flags"][:n_lab]
        moved = _loss(_forward(model, hidden, mask, changed, what + ", other labels"), what)
        if _same(_gradients(model, base), _gradients(model, moved)):
            raise GradingError(f"on {what}, changing the {task!r} labels did not change the loss: the loss ignores the "
                               f"{task!r} task.")
        other = hidden.clone()
        other[n_lab:] = other[n_lab:] + torch.randn_like(other[n_lab:])
        shifted = _loss(_forward(model, other, mask, only, what + ", other vectors for the unlabelled reports"), what)
        if not _same(base, shifted):
            out = _forward(model, hidden, mask, only, what)
            culprit = _leaking_output(out, slice(n_lab, None), mask)
            marker = {"tags": "-100", "severity": "NaN", "flags": "a row of -100"}
            which = f"a missing {culprit!r} label ({marker[culprit]})" if culprit else "a missing label"
            raise GradingError(f"on {what}, changing the vectors of the unlabelled reports changed the loss: {which} "
                               "must contribute nothing.")
        kept = {k: v[:n_lab] for k, v in only.items()}
        dropped = _loss(_forward(model, hidden[:n_lab], mask[:n_lab], kept, what + ", unlabelled reports removed"),
                        what)
        if not _same(base, dropped):
            raise GradingError(f"on {what}, removing the unlabelled reports changed the loss from {base.item():.6g} to "
                               f"{dropped.item():.6g}: average each task over its known labels, not over the batch.")

    # nothing labelled: a zero that backward() accepts
    what = "a batch where nothing is labelled"
    zero = _loss(_forward(model, hidden, mask, _unlabelled_like(labels), what), what)
    if zero.item() != 0.0:
        raise GradingError(f"on {what}, the loss is {zero.item():.6g}, expected 0.")
    try:
        zero.backward()
    except RuntimeError as exc:
        raise GradingError(f"on {what}, loss.backward() failed ({str(exc).splitlines()[0]}).") from None
    model.zero_grad(set_to_none=True)


def _quality(model, problem: _Problem, device, seed: int) -> dict[str, float]:
    """Train with the fixed recipe, then held-out quality per task."""
    train_set = [_to(x, device) for x in problem.batch(1024, seed=seed + 1)]
    test_h, test_m, test_y = (_to(x, device) for x in problem.batch(512, missing=0.0, seed=seed + 2))
    torch.manual_seed(seed)
    try:
        opt = torch.optim.Adam(model.parameters(), lr=LR)
    except (ValueError, TypeError) as exc:
        raise GradingError(f"torch.optim.Adam(model.parameters()) failed: {exc}") from None
    model.train()
    n = train_set[0].shape[0]
    order = torch.Generator().manual_seed(seed)
    with time_limit(60, f"training your TriageHeads for {TRAIN_STEPS} steps"):
        for step in range(TRAIN_STEPS):
            idx = torch.randint(n, (BATCH,), generator=order).to(device)
            h, m = train_set[0][idx], train_set[1][idx]
            y = {k: v[idx] for k, v in train_set[2].items()}
            what = f"training step {step}"
            out = _forward(model, h, m, y, what, seconds=None)   # under the one limit above
            if step and isinstance(out, dict) and isinstance(out.get("loss"), torch.Tensor) \
                    and not bool(torch.isfinite(out["loss"].detach()).all()):
                raise GradingError(f"the loss became {out['loss'].item()} at training step {step} (it was finite "
                                   "before): look for a log of 0 or a value that explodes (e.g. exp of an unbounded "
                                   "output).")
            loss = _loss(out, what)
            opt.zero_grad()
            try:
                loss.backward()
            except RuntimeError as exc:
                raise GradingError(f"loss.backward() failed at training step {step}: "
                                   f"{str(exc).splitlines()[0]}") from None
            opt.step()
    model.eval()
    with torch.no_grad():
        out = _forward(model, test_h, test_m, None, "512 held-out reports, after training")
    _check_outputs(out, test_h, test_m, "512 held-out reports, after training", with_labels=False)
    real = test_m.bool()
    tags_acc = float((out["tags"].argmax(-1)[real] == test_y["tags"][real]).float().mean())
    sev, want = out["severity"].double(), test_y["severity"].double()
    r2 = float(1 - ((sev - want) ** 2).sum() / ((want - want.mean()) ** 2).sum())
    flags_acc = float(((out["flags"] > 0).float() == test_y["flags"]).float().mean())
    return {"tags": tags_acc, "severity": r2, "flags": flags_acc}


_HINTS = {
    "tags": "a token's tag depends on that token's own vector: give every token its own prediction from its vector "
            "(not from the pooled report vector) and train it with a cross-entropy over the 3 tags",
    "severity": "severity is a real number that depends on the report's vectors: predict it from the (pooled) "
                "report with an unbounded output (no sigmoid or softmax) and train it with a squared error",
    "flags": "the 4 flags are independent yes/no decisions: one logit per flag (> 0 means yes) trained with a binary "
             "cross-entropy per flag, not a softmax over the flags",
}
_METRIC = {"tags": "token accuracy", "severity": "R²", "flags": "flag accuracy"}


def check_triage_heads(student_cls, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``TriageHeads(hidden_size)``: interface, padding, missing labels, gradients, and the held-out
    quality of each task after the checker's fixed training recipe."""
    device = torch.device(device)
    if not isinstance(student_cls, type) or not issubclass(student_cls, nn.Module):
        raise GradingError(f"TriageHeads should be a class derived from torch.nn.Module, got {student_cls!r} "
                           f"({type(student_cls).__name__}).")
    cases = [(0, 32)]
    if hidden_tests:
        cases += [(hidden_seed("check_triage_heads", 1), 24), (hidden_seed("check_triage_heads", 2), 48)]
    scores = []
    for seed, hidden in cases:
        problem = _Problem(seed, hidden)
        torch.manual_seed(seed)
        model = call_student(student_cls, hidden, name=f"TriageHeads({hidden})", reference=TriageHeads)
        if not isinstance(model, nn.Module):
            raise GradingError(f"TriageHeads({hidden}) is not an nn.Module.")
        try:
            model = model.to(device)
        except Exception as exc:  # noqa: BLE001
            raise GradingError(f"TriageHeads({hidden}).to({device.type!r}) failed: {exc}") from None
        _contract(model, problem, device, hidden_tests, trained=False)
        got = _quality(model, problem, device, seed)
        _contract(model, problem, device, hidden_tests=False, trained=True)   # again: a zero init hides bugs
        for task, bar in THRESHOLDS.items():
            if not got[task] >= bar:
                raise GradingError(f"after {TRAIN_STEPS} training steps (hidden_size={hidden}), the held-out "
                                   f"{_METRIC[task]} of {task!r} is {got[task]:.3f}, below {bar}: {_HINTS[task]}.")
        scores.append(got)
    shown = ", ".join(f"{task}: {_METRIC[task]} {min(s[task] for s in scores):.3f} (needs {bar})"
                      for task, bar in THRESHOLDS.items())
    passed(f"TriageHeads keeps the contract and learns all three tasks on {len(cases)} problem(s): {shown}")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
