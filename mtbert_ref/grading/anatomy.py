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
from .i18n import say
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
        expect_unchanged(before, (h, mask), say("anatomy.pool_input"))
        want = masked_mean_pool(h, mask)
        desc = say("anatomy.pool_what", shape=tuple(h.shape), dtype=h.dtype, mask=mask.dtype)
        expect_tensor(got, want, desc)
    # a fully padded row must not produce NaN
    if hidden_tests:
        h, mask = _pool_inputs(hidden_seed("check_masked_mean_pool", 5), device, batch=3)
        mask[1] = 0
        got = call_student(student_fn, h, mask, name="masked_mean_pool", reference=masked_mean_pool)
        if isinstance(got, torch.Tensor) and not torch.isfinite(got).all():
            raise GradingError(say("anatomy.pool_nan"))
        expect_tensor(got, masked_mean_pool(h, mask), say("anatomy.pool_padded_row"))
    passed(say("anatomy.pool_passed", n=len(cases), device=device.type))


def _count_cases(hidden_tests: bool):
    cases = []
    lin = nn.Linear(3, 4)
    cases.append((say("anatomy.case_linear"), lin, False))
    seq = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.LayerNorm(20), nn.Linear(20, 2, bias=False))
    cases.append((say("anatomy.case_sequential"), seq, False))
    frozen = nn.Sequential(nn.Linear(10, 20), nn.Linear(20, 2))
    for p in frozen[0].parameters():
        p.requires_grad_(False)
    cases.append((say("anatomy.case_frozen_all"), frozen, False))
    cases.append((say("anatomy.case_frozen_trainable"), frozen, True))
    if hidden_tests:
        seed_everything(0)
        mlm = BertForMaskedLM(tiny_bert_config())
        cases.append((say("anatomy.case_tied_mlm"), mlm, False))
        cls = BertForSequenceClassification(tiny_bert_config(num_labels=5))
        for p in cls.bert.parameters():
            p.requires_grad_(False)
        cases.append((say("anatomy.case_frozen_encoder"), cls, True))
    return cases


def _count_hint(got, want, module, trainable: bool) -> str:
    """Name the mistake only when the count shows it: which parameters were added or left out."""
    if not isinstance(got, int) or isinstance(got, bool) or got == want:
        return ""
    every = sum(p.numel() for p in module.parameters())
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    shared = sum(p.numel() for _, p in module.named_parameters(remove_duplicate=False))  # tied tensors twice
    if trainable and got == every:
        return say("anatomy.count_frozen_too")
    if trainable and got == frozen:
        return say("anatomy.count_only_frozen")
    if got == shared and shared != every:
        return say("anatomy.count_shared_twice")
    if got < want:
        return say("anatomy.count_too_few", n=want - got)
    return say("anatomy.count_too_many", n=got - want)


def check_count_parameters(student_fn, hidden_tests: bool = False) -> None:
    """Compare the student's ``count_parameters(module, trainable_only=False)`` with the reference."""
    cases = _count_cases(hidden_tests)
    for desc, module, trainable in cases:
        got = call_student(student_fn, module, trainable_only=trainable, name="count_parameters",
                           reference=count_parameters)
        if isinstance(got, torch.Tensor):
            raise GradingError(say("anatomy.count_tensor", desc=desc))
        want = count_parameters(module, trainable)
        expect_equal(got, want, say("anatomy.count_what", desc=desc), _count_hint(got, want, module, trainable))
    passed(say("anatomy.count_passed", n=len(cases)))


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
            raise GradingError(say("anatomy.head_tensor"))
        want, hint = head_parameters(model), ""
        by_name = sum(p.numel() for n, p in model.named_parameters(remove_duplicate=False) if not n.startswith("bert."))
        tied = model.get_input_embeddings().weight.numel()
        if isinstance(got, int) and got in (by_name, want + tied) and got != want:
            hint = say("anatomy.head_tied")
        elif isinstance(got, int) and got == sum(p.numel() for p in model.parameters()):
            hint = say("anatomy.head_everything")
        elif isinstance(got, int) and got < want:
            hint = say("anatomy.head_too_few", n=want - got)
        elif isinstance(got, int) and got > want:
            hint = say("anatomy.head_too_many", n=got - want)
        expect_equal(got, want, say("anatomy.head_what", name=name), hint)
    passed(say("anatomy.head_passed", n=len(classes)))


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
