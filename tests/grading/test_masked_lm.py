"""Tests of mtbert_ref.grading.masked_lm: the reference passes, plausible mistakes fail."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN

from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grading.masked_lm import check_mask_tokens, check_mlm_head, check_mlm_loss
from mtbert_ref.modeling.mlm import MLMHead, mask_tokens, mlm_loss


# ------------------------------------------------------------------------------------------ checkers: heads
def test_check_mlm_head_accepts_the_reference():
    check_mlm_head(fresh_copy(MLMHead), hidden_tests=True)


def test_check_mlm_head_rejects_the_reference_object():
    with pytest.raises(GradingError, match="reference implementation"):
        check_mlm_head(MLMHead)


class _Transform(nn.Module):
    def __init__(self, config, act=None, order="act-ln", eps=None):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps if eps is None else eps)
        self.act = act or ACT2FN[config.hidden_act]
        self.order = order

    def forward(self, h):
        h = self.dense(h)
        if self.order == "no-ln":
            return self.act(h)
        return self.LayerNorm(self.act(h)) if self.order == "act-ln" else self.act(self.LayerNorm(h))


def _make_head(tie="tie", act=None, order="act-ln", add_bias=True, own_decoder_bias=False, select=True, eps=None,
               softmax=False):
    class Head(nn.Module):
        def __init__(self, config, word_embeddings):
            super().__init__()
            self.transform = _Transform(config, act, order, eps)
            self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=own_decoder_bias)
            if tie == "tie":
                self.decoder.weight = word_embeddings.weight
            elif tie == "copy":
                self.decoder.weight = nn.Parameter(word_embeddings.weight.detach().clone())
            self.bias = nn.Parameter(torch.zeros(config.vocab_size))

        def forward(self, sequence_output, masked_positions=None):
            if masked_positions is not None and select:
                sequence_output = sequence_output[masked_positions]
            out = self.decoder(self.transform(sequence_output))
            out = out + self.bias if add_bias else out
            return out.softmax(-1) if softmax else out
    return Head


def test_check_mlm_head_accepts_an_equivalent_student_head():
    check_mlm_head(_make_head(), hidden_tests=True)


@pytest.mark.parametrize("kwargs, message", [
    (dict(tie="copy"), "copied, not tied"),
    (dict(tie="none"), "not tied to the word embeddings"),
    (dict(add_bias=False), r"without `\+ self.bias`"),
    (dict(order="ln-act"), "LayerNorm applied before the activation"),
    (dict(act=nn.Identity()), "without the activation"),
    (dict(act=nn.GELU(approximate="tanh")), "tanh-approximated gelu as the activation"),
    (dict(act=nn.ReLU()), "relu as the activation"),
    (dict(order="no-ln"), "without the LayerNorm"),
    (dict(eps=1e-5), "eps=1e-05; the config's layer_norm_eps is 1e-12"),
    (dict(softmax=True), "applied a softmax"),
    (dict(own_decoder_bias=True), "its own bias"),
    (dict(select=False), "only the selected rows"),
])
def test_check_mlm_head_rejects_mistakes(kwargs, message):
    with pytest.raises(GradingError, match=message):
        check_mlm_head(_make_head(**kwargs), hidden_tests=True)


def test_check_mlm_head_hidden_tests_catch_hard_coded_gelu():
    head = _make_head(act=nn.GELU())
    check_mlm_head(head)                       # visible test: GELU config, passes
    with pytest.raises(GradingError, match="hidden_act"):
        check_mlm_head(head, hidden_tests=True)


def test_check_mlm_head_hidden_tests_catch_a_detached_decoder():
    base = _make_head()

    class Detached(base):
        def forward(self, sequence_output, masked_positions=None):
            if masked_positions is not None:
                sequence_output = sequence_output[masked_positions]
            h = self.transform(sequence_output)
            return F.linear(h, self.decoder.weight.detach()) + self.bias

    check_mlm_head(Detached)                   # same numbers: the visible test passes
    with pytest.raises(GradingError, match="No gradient reached the word-embedding matrix"):
        check_mlm_head(Detached, hidden_tests=True)


def test_check_mlm_head_names_missing_attributes():
    class NoTransform(nn.Module):
        def __init__(self, config, word_embeddings):
            super().__init__()
            self.net = nn.Linear(config.hidden_size, config.hidden_size)
            self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
            self.decoder.weight = word_embeddings.weight
            self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    with pytest.raises(GradingError, match="self.transform"):
        check_mlm_head(NoTransform)


# ------------------------------------------------------------------------------------------ checkers: masking
def test_check_mask_tokens_accepts_the_reference():
    check_mask_tokens(fresh_copy(mask_tokens), hidden_tests=True)


def _masker(mode):
    def masker(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability=0.15, generator=None):
        device = input_ids.device
        special = special_tokens_mask.bool()
        if mode == "no_generator":
            generator = None
        p = torch.rand(input_ids.shape, generator=generator, device=device)
        chosen = p > mlm_probability if mode == "flipped" else p < mlm_probability
        if mode != "special":
            chosen &= ~special
        labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
        if mode == "labels_everywhere":
            labels = input_ids.clone()
        if mode == "labels_masked":
            labels = torch.where(chosen, torch.full_like(input_ids, mask_token_id), labels)
        u = torch.rand(input_ids.shape, generator=generator, device=device)
        masked = input_ids if mode != "inplace" else input_ids
        if mode == "inplace":
            masked[chosen & (u < 0.8)] = mask_token_id
        else:
            masked = input_ids.clone()
            masked[chosen & (u < (1.0 if mode == "all_mask" else 0.8))] = mask_token_id
        rnd = torch.randint(vocab_size, input_ids.shape, generator=generator, device=device)
        r = chosen & (u >= 0.8) & (u < 0.9)
        if mode != "all_mask":
            masked[r] = rnd[r]
        if mode == "all_rate":
            return masked, labels
        return masked, labels
    return masker


@pytest.mark.parametrize("mode, message", [
    ("special", "must never be chosen"),
    ("labels_everywhere", "-100"),
    ("labels_masked", "ORIGINAL token id"),
    ("all_mask", "80% \\[MASK\\]"),
    ("inplace", "modified in place"),
    ("no_generator", "seeded the same"),
    ("flipped", "wrong way round"),
])
def test_check_mask_tokens_rejects_mistakes(mode, message):
    with pytest.raises(GradingError, match=message):
        check_mask_tokens(_masker(mode), hidden_tests=True)


def test_check_mask_tokens_hidden_tests_catch_a_hard_coded_probability():
    own = fresh_copy(mask_tokens)

    def fixed_rate(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability=0.15, generator=None):
        return own(input_ids, special_tokens_mask, mask_token_id, vocab_size, 0.15,
                                       generator=generator)

    check_mask_tokens(fixed_rate)                              # visible test uses 0.15: passes
    with pytest.raises(GradingError, match="mlm_probability=0.3"):
        check_mask_tokens(fixed_rate, hidden_tests=True)


def test_check_mask_tokens_rejects_wrong_return_type():
    with pytest.raises(GradingError, match="pair"):
        check_mask_tokens(lambda ids, special, m, v, p=0.15, generator=None: ids.clone())


# ------------------------------------------------------------------------------------------ checkers: loss
def test_check_mlm_loss_accepts_the_reference():
    check_mlm_loss(fresh_copy(mlm_loss), hidden_tests=True)


def _loss_all(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).clamp(min=0))


def _loss_sum(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum")


def _loss_full_only(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def _loss_item(logits, labels):
    if logits.dim() == 2 and labels.dim() == 2:
        labels = labels[labels != -100]
    return torch.tensor(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)).item(),
                        dtype=logits.dtype)


def _loss_nan_when_empty(logits, labels):
    if logits.dim() == 2 and labels.dim() == 2:
        labels = labels[labels != -100]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


@pytest.mark.parametrize("fn, message", [
    (_loss_all, "averages over every position"),
    (_loss_sum, "sum over positions"),
    (_loss_full_only, "raised ValueError"),
    (_loss_item, "no gradient"),
    (_loss_nan_when_empty, "no position is labelled"),
])
def test_check_mlm_loss_rejects_mistakes(fn, message):
    with pytest.raises(GradingError, match=message):
        check_mlm_loss(fn, hidden_tests=True)
