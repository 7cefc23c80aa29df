"""Tests of mtbert_ref.grading.multiple_choice (notebook 04's checkers)."""
from __future__ import annotations

import pytest
import torch

from mtbert_ref.backbone import load_tokenizer
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grading.multiple_choice import check_encode_choices, check_mc_accuracy, check_mc_head
from mtbert_ref.lessons.multiple_choice import encode_choices, mc_accuracy
from mtbert_ref.modeling.multiple_choice import multiple_choice_logits


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


# --------------------------------------------------------------------------------------------- check_mc_head
def test_check_mc_head_accepts_reference():
    check_mc_head(fresh_copy(multiple_choice_logits), hidden_tests=True)


def test_check_mc_head_accepts_consistent_transpose():
    def transposed(bert, head, input_ids, attention_mask=None, token_type_ids=None):
        b, c, n = input_ids.shape

        def flat(x):
            return None if x is None else x.transpose(0, 1).reshape(c * b, n)

        pooled = bert(input_ids=flat(input_ids), attention_mask=flat(attention_mask),
                      token_type_ids=flat(token_type_ids)).pooler_output
        return head(pooled).view(c, b).T            # un-flattened in the same order: correct

    check_mc_head(transposed, hidden_tests=True)


def _mixed(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape

    def flat(x):
        return None if x is None else x.transpose(0, 1).reshape(-1, n)      # choice-major flatten ...

    pooled = bert(input_ids=flat(input_ids), attention_mask=flat(attention_mask),
                  token_type_ids=flat(token_type_ids)).pooler_output
    return head(pooled).view(b, c)                                          # ... read back batch-major


def _choices_by_batch(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape
    pooled = bert(input_ids=input_ids.view(-1, n), attention_mask=attention_mask.view(-1, n),
                  token_type_ids=token_type_ids.view(-1, n)).pooler_output
    return head(pooled).view(c, b)


def _raw_cls(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape
    h = bert(input_ids=input_ids.view(-1, n), attention_mask=attention_mask.view(-1, n),
             token_type_ids=token_type_ids.view(-1, n)).last_hidden_state[:, 0]
    return head(h).view(b, c)


def _no_mask(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape
    pooled = bert(input_ids=input_ids.view(-1, n), token_type_ids=token_type_ids.view(-1, n)).pooler_output
    return head(pooled).view(b, c)


_STUDENT_COPY = fresh_copy(multiple_choice_logits)


def _softmaxed(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    return torch.softmax(_STUDENT_COPY(bert, head, input_ids.clone(), attention_mask, token_type_ids), -1)


def _flat_output(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape
    return head(bert(input_ids=input_ids.view(-1, n), attention_mask=attention_mask.view(-1, n),
                     token_type_ids=token_type_ids.view(-1, n)).pooler_output)


def _stub(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    raise NotImplementedError()


@pytest.mark.parametrize("fn, pattern", [
    (_mixed, "mixed the batch and choice dimensions"),
    (_choices_by_batch, r"shape \(4, 3\).*mixed the batch and choice dimensions"),
    (_raw_cls, "pooler_output"),
    (_no_mask, "attention_mask"),
    (_softmaxed, "probabilities"),
    (_flat_output, r"shape \(12, 1\).*view\(batch, num_choices\)"),
    (_stub, "not implemented yet"),
    (multiple_choice_logits, "reference implementation"),
])
def test_check_mc_head_rejects(fn, pattern):
    with pytest.raises(GradingError, match=pattern):
        check_mc_head(fn)


def test_check_mc_head_hidden_catches_ignored_token_types():
    def no_types(bert, head, input_ids, attention_mask=None, token_type_ids=None):
        b, c, n = input_ids.shape
        am = None if attention_mask is None else attention_mask.reshape(-1, n)
        return head(bert(input_ids=input_ids.reshape(-1, n), attention_mask=am).pooler_output).view(b, c)

    with pytest.raises(GradingError, match="token_type_ids"):
        check_mc_head(no_types, hidden_tests=True)


# --------------------------------------------------------------------------------------------- check_encode_choices
def test_check_encode_choices_accepts_reference_and_tokenizer_pairs(tokenizer):
    check_encode_choices(fresh_copy(encode_choices), tokenizer, hidden_tests=True)

    def with_pairs(tok, question, choices, max_length=64):
        return tok([question] * len(choices), list(choices), truncation="only_first", max_length=max_length)

    def padded_to_longest(tok, question, choices, max_length=64):
        return tok([question] * len(choices), list(choices), truncation="only_first", max_length=max_length,
                   padding="longest")

    check_encode_choices(with_pairs, tokenizer, hidden_tests=True)
    check_encode_choices(padded_to_longest, tokenizer, hidden_tests=True)


def _swapped(tok, question, choices, max_length=64):
    return tok(list(choices), [question] * len(choices), truncation="only_second", max_length=max_length)


def _no_types(tok, question, choices, max_length=64):
    enc = tok([question] * len(choices), list(choices), truncation="only_first", max_length=max_length)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
            "token_type_ids": [[0] * len(r) for r in enc["input_ids"]]}


def _cut_choice(tok, question, choices, max_length=64):
    return tok([question] * len(choices), list(choices), truncation="longest_first", max_length=max_length)


def _max_length_padding(tok, question, choices, max_length=64):
    return tok([question] * len(choices), list(choices), truncation="only_first", max_length=max_length,
               padding="max_length")


def _no_truncation(tok, question, choices, max_length=64):
    return tok([question] * len(choices), list(choices))


def _joined(tok, question, choices, max_length=64):
    return tok([f"{question} {c}" for c in choices], truncation=True, max_length=max_length)


@pytest.mark.parametrize("fn, pattern, hidden", [
    (_swapped, "choice comes first", False),
    (_no_types, "token_type_ids", False),
    (_max_length_padding, "Do not pad to max_length", False),
    (_cut_choice, "question first", True),
    (_no_truncation, "more than max_length", True),
    (_joined, "two \\[SEP\\]", False),
])
def test_check_encode_choices_rejects(tokenizer, fn, pattern, hidden):
    with pytest.raises(GradingError, match=pattern):
        check_encode_choices(fn, tokenizer, hidden_tests=hidden)


# --------------------------------------------------------------------------------------------- check_mc_accuracy
def test_check_mc_accuracy_accepts_reference():
    check_mc_accuracy(fresh_copy(mc_accuracy), hidden_tests=True)


@pytest.mark.parametrize("fn, pattern", [
    (lambda lg, lb: (lg.argmax(-1) == lb).float().mean(), "Python float"),
    (lambda lg, lb: float((lg.argmax(-1) == lb).sum()), "number of right answers"),
    (lambda lg, lb: 100.0 * float((lg.argmax(-1) == lb).float().mean()), "percentage"),
    (lambda lg, lb: float((lg.argmax(0) == lb).float().mean()), "argmax over the choices|dim=-1|raised"),
    (lambda lg, lb: float((lg.argmin(-1) == lb).float().mean()), "argmax\\(dim=-1\\)"),
    # ties go to the last best choice (a running best kept with >=): the hidden tie case
    (lambda lg, lb: float(((lg.shape[-1] - 1 - lg.flip(-1).argmax(-1)) == lb).float().mean()), "FIRST best choice"),
])
def test_check_mc_accuracy_rejects(fn, pattern):
    with pytest.raises(GradingError, match=pattern):
        check_mc_accuracy(fn, hidden_tests=True)
