"""Checkers of notebook 00 (anatomy of BERT): masked mean pooling, parameter counting, head parameters."""
from __future__ import annotations

import torch
from torch import nn
from transformers import BertForMaskedLM, BertForSequenceClassification

from ..backbone import tiny_bert_config
from ..device import seed_everything
from ..lessons.anatomy import HEAD_CLASSES, count_parameters, head_parameters
from ..modeling.pooling import masked_mean_pool
from .core import guard_checkers, hidden_seed
from .core import GradingError, call_student, clone_inputs, expect_equal, expect_tensor, expect_unchanged, passed

__all__ = ["check_masked_mean_pool", "check_count_parameters", "check_head_parameters"]


# --------------------------------------------------------------------------------------------- checkers
def _pool_inputs(seed: int, device, dtype=torch.float32, batch=4, seq=7, hidden=5, mask_dtype=torch.long):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(batch, seq, hidden, generator=g).to(dtype)
    lengths = torch.randint(1, seq + 1, (batch,), generator=g)
    lengths[0] = seq          # one row without padding
    lengths[-1] = 1           # one row with a single real token
    mask = (torch.arange(seq)[None, :] < lengths[:, None]).to(mask_dtype)
    # padding positions hold large values: a pool that forgets the mask is far off
    h = h + (1 - mask.to(dtype)).unsqueeze(-1) * 100.0
    return h.to(device), mask.to(device)


def check_masked_mean_pool(student_fn, device="cpu", seed: int = 0, hidden_tests: bool = False) -> None:
    """Compare the student's ``masked_mean_pool`` with the reference on padded batches."""
    device = torch.device(device)
    cases = [dict(seed=seed)]
    if hidden_tests:
        cases += [
            dict(seed=hidden_seed("check_masked_mean_pool", 1), batch=1, seq=1, hidden=3),
            dict(seed=hidden_seed("check_masked_mean_pool", 2), batch=6, seq=11, hidden=8, mask_dtype=torch.bool),
            dict(seed=hidden_seed("check_masked_mean_pool", 3), batch=3, seq=5, hidden=4, dtype=torch.float64),
            dict(seed=hidden_seed("check_masked_mean_pool", 4), batch=2, seq=9, hidden=16, mask_dtype=torch.int32),
        ]
    for case in cases:
        h, mask = _pool_inputs(device=device, **case)
        before = clone_inputs((h, mask))
        got = call_student(student_fn, h, mask, name="masked_mean_pool", reference=masked_mean_pool)
        expect_unchanged(before, (h, mask), "An input of masked_mean_pool")
        want = masked_mean_pool(h, mask)
        desc = (f"masked_mean_pool on last_hidden_state of shape {tuple(h.shape)} ({h.dtype}) with an attention_mask "
                f"of dtype {mask.dtype}")
        expect_tensor(got, want, desc)
    # a fully padded row must not produce NaN
    if hidden_tests:
        h, mask = _pool_inputs(hidden_seed("check_masked_mean_pool", 5), device, batch=3)
        mask[1] = 0
        got = call_student(student_fn, h, mask, name="masked_mean_pool", reference=masked_mean_pool)
        if isinstance(got, torch.Tensor) and not torch.isfinite(got).all():
            raise GradingError("masked_mean_pool returned NaN/inf for a row whose attention_mask is all zeros; clamp "
                               "the token count to at least 1 (expected a row of zeros).")
        expect_tensor(got, masked_mean_pool(h, mask), "masked_mean_pool with a fully padded row")
    passed(f"masked_mean_pool matches the reference on {len(cases)} padded batch(es) on {device.type}")


def _count_cases(hidden_tests: bool):
    cases = []
    lin = nn.Linear(3, 4)
    cases.append(("nn.Linear(3, 4)", lin, False))
    seq = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.LayerNorm(20), nn.Linear(20, 2, bias=False))
    cases.append(("a small nn.Sequential", seq, False))
    frozen = nn.Sequential(nn.Linear(10, 20), nn.Linear(20, 2))
    for p in frozen[0].parameters():
        p.requires_grad_(False)
    cases.append(("a model whose first layer is frozen (trainable_only=False)", frozen, False))
    cases.append(("a model whose first layer is frozen (trainable_only=True)", frozen, True))
    if hidden_tests:
        seed_everything(0)
        mlm = BertForMaskedLM(tiny_bert_config())
        cases.append(("a tiny BertForMaskedLM (decoder weight tied to the word embeddings)", mlm, False))
        cls = BertForSequenceClassification(tiny_bert_config(num_labels=5))
        for p in cls.bert.parameters():
            p.requires_grad_(False)
        cases.append(("a tiny BertForSequenceClassification with a frozen encoder (trainable_only=True)", cls, True))
    return cases


def _count_hint(got, want, module, trainable: bool) -> str:
    """Name the mistake only when the count shows it: which parameters were added or left out."""
    if not isinstance(got, int) or isinstance(got, bool) or got == want:
        return ""
    every = sum(p.numel() for p in module.parameters())
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    shared = sum(p.numel() for _, p in module.named_parameters(remove_duplicate=False))  # tied tensors twice
    if trainable and got == every:
        return "That counts the frozen parameters too: with trainable_only=True count only those with `p.requires_grad`."
    if trainable and got == frozen:
        return ("That is the number of FROZEN parameters: the condition is the wrong way round (count those with "
                "`p.requires_grad`).")
    if got == shared and shared != every:
        return ("A parameter shared by two layers (the tied decoder) is one tensor: count it once — "
                "`module.parameters()` yields it once, `named_parameters(remove_duplicate=False)` twice.")
    if got < want:
        return (f"That is {want - got} too few: count every element of every parameter tensor (`p.numel()`), biases "
                "included.")
    return f"That is {got - want} too many: count each parameter tensor once, by its number of elements (`p.numel()`)."


def check_count_parameters(student_fn, hidden_tests: bool = False) -> None:
    """Compare the student's ``count_parameters(module, trainable_only=False)`` with the reference."""
    cases = _count_cases(hidden_tests)
    for desc, module, trainable in cases:
        got = call_student(student_fn, module, trainable_only=trainable, name="count_parameters",
                           reference=count_parameters)
        if isinstance(got, torch.Tensor):
            raise GradingError(f"count_parameters returned a torch.Tensor for {desc}; return a Python int "
                               "(use `p.numel()`, which is an int, or `.item()`).")
        want = count_parameters(module, trainable)
        expect_equal(got, want, f"count_parameters on {desc}", _count_hint(got, want, module, trainable))
    passed(f"count_parameters is right on {len(cases)} modules")


def check_head_parameters(student_fn, hidden_tests: bool = False) -> None:
    """Compare the student's ``head_parameters(model)`` with the reference on tiny BertFor* models."""
    seed_everything(0)
    classes = ["BertForSequenceClassification", "BertForQuestionAnswering"]
    if hidden_tests:
        classes += ["BertForMaskedLM", "BertForPreTraining", "BertForMultipleChoice", "BertForTokenClassification"]
    for name in classes:
        model = HEAD_CLASSES[name](tiny_bert_config(num_labels=4))
        got = call_student(student_fn, model, name="head_parameters", reference=head_parameters)
        if isinstance(got, torch.Tensor):
            raise GradingError("head_parameters returned a torch.Tensor; return a Python int.")
        want, hint = head_parameters(model), ""
        by_name = sum(p.numel() for n, p in model.named_parameters(remove_duplicate=False) if not n.startswith("bert."))
        tied = model.get_input_embeddings().weight.numel()
        if isinstance(got, int) and got in (by_name, want + tied) and got != want:
            hint = ("That counts the tied decoder weight: the MLM decoder's weight *is* the word-embedding matrix, it "
                    "belongs to the encoder. Compare parameters by identity (`id(p)`), not by name.")
        elif isinstance(got, int) and got == sum(p.numel() for p in model.parameters()):
            hint = "That is every parameter of the model: leave out those of `model.bert`."
        elif isinstance(got, int) and got < want:
            hint = f"That is {want - got} too few: count every parameter of the model that is not one of model.bert's."
        elif isinstance(got, int) and got > want:
            hint = f"That is {got - want} too many: a parameter of model.bert (even when shared) is not a head parameter."
        expect_equal(got, want, f"head_parameters on a tiny {name}", hint)
    passed(f"head_parameters is right on {len(classes)} head classes")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
