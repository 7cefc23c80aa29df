"""Tests of mtbert_ref.grading.speed (notebook 09): the reference passes, plausible mistakes fail."""
import random

import pytest
import torch

from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grading.speed import check_bucket_batches, check_pad_batch
from mtbert_ref.lessons import speed


def test_checkers_accept_correct_solutions():
    check_pad_batch(fresh_copy(speed.pad_batch), hidden_tests=True)
    check_bucket_batches(fresh_copy(speed.bucket_batches), hidden_tests=True)




def pad_to_64(examples, pad_token_id=0):
    ids = [list(e["input_ids"]) + [pad_token_id] * (64 - len(e["input_ids"])) for e in examples]
    mask = [[1] * len(e["input_ids"]) + [0] * (64 - len(e["input_ids"])) for e in examples]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}


def mask_all_ones(examples, pad_token_id=0):
    w = max(len(e["input_ids"]) for e in examples)
    ids = [list(e["input_ids"]) + [pad_token_id] * (w - len(e["input_ids"])) for e in examples]
    out = {"input_ids": torch.tensor(ids), "attention_mask": torch.ones(len(ids), w, dtype=torch.long)}
    if "token_type_ids" in examples[0]:
        out["token_type_ids"] = torch.zeros(len(ids), w, dtype=torch.long)
    return out


def extends_inputs(examples, pad_token_id=0):
    w = max(len(e["input_ids"]) for e in examples)
    for e in examples:
        e["input_ids"].extend([pad_token_id] * (w - len(e["input_ids"])))
    return {"input_ids": torch.tensor([e["input_ids"] for e in examples])}


def float_mask(examples, pad_token_id=0):
    w = max(len(e["input_ids"]) for e in examples)
    ids = [list(e["input_ids"]) + [pad_token_id] * (w - len(e["input_ids"])) for e in examples]
    t = torch.tensor(ids)
    return {"input_ids": t, "attention_mask": (t != pad_token_id).float()}


def forgets_token_types(examples, pad_token_id=0):
    w = max(len(e["input_ids"]) for e in examples)
    ids = [list(e["input_ids"]) + [pad_token_id] * (w - len(e["input_ids"])) for e in examples]
    mask = [[1] * len(e["input_ids"]) + [0] * (w - len(e["input_ids"])) for e in examples]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}


@pytest.mark.parametrize("wrong, message", [
    (pad_to_64, "dynamic padding pads to the longest"),
    (mask_all_ones, "attention_mask.*values differ"),
    (extends_inputs, "changed the examples"),
    (float_mask, "dtype torch.float32, expected torch.int64"),
    (forgets_token_types, "returned the keys"),
])
def test_pad_batch_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_pad_batch(wrong, hidden_tests=True)


def sorted_globally(lengths, batch_size, bucket_factor=50, seed=0):
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def global_random(lengths, batch_size, bucket_factor=50, seed=0):
    order = list(range(len(lengths)))
    random.shuffle(order)  # unseeded global generator
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def no_bucketing(lengths, batch_size, bucket_factor=50, seed=0):
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def drops_last(lengths, batch_size, bucket_factor=50, seed=0):
    return [b for b in _ref_copy(lengths, batch_size, bucket_factor, seed) if len(b) == batch_size]


_ref_copy = fresh_copy(speed.bucket_batches)


def batches_in_length_order(lengths, batch_size, bucket_factor=50, seed=0):
    return sorted(_ref_copy(lengths, batch_size, bucket_factor, seed), key=lambda b: max(lengths[i] for i in b))


@pytest.mark.parametrize("wrong, message", [
    (sorted_globally, "identical batches"),
    (batches_in_length_order, "sorted from shortest to longest"),
    (global_random, "padding|called twice"),
    (no_bucketing, "padding"),
    (drops_last, "exactly once"),
])
def test_bucket_batches_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_bucket_batches(wrong, hidden_tests=True)
