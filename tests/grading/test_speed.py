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


def mask_from_ids(examples, pad_token_id=0):
    w = max(len(e["input_ids"]) for e in examples)
    ids = torch.tensor([list(e["input_ids"]) + [pad_token_id] * (w - len(e["input_ids"])) for e in examples])
    out = {"input_ids": ids, "attention_mask": (ids != pad_token_id).long()}
    if "token_type_ids" in examples[0]:
        out["token_type_ids"] = torch.tensor([list(e["token_type_ids"]) + [0] * (w - len(e["token_type_ids"]))
                                              for e in examples])
    return out


def lists_not_tensors(examples, pad_token_id=0):
    w = max(len(e["input_ids"]) for e in examples)
    out = {"input_ids": [list(e["input_ids"]) + [pad_token_id] * (w - len(e["input_ids"])) for e in examples],
           "attention_mask": [[1] * len(e["input_ids"]) + [0] * (w - len(e["input_ids"])) for e in examples]}
    if "token_type_ids" in examples[0]:
        out["token_type_ids"] = [list(e["token_type_ids"]) + [0] * (w - len(e["token_type_ids"])) for e in examples]
    return out


def int32_tensors(examples, pad_token_id=0):
    return {k: v.int() for k, v in _pad_copy(examples, pad_token_id).items()}


_pad_copy = fresh_copy(speed.pad_batch)


@pytest.mark.parametrize("wrong, message", [
    (mask_from_ids, "derived from the ids"),
    (lists_not_tensors, "should be a torch.Tensor"),
    (int32_tensors, "dtype torch.int32, expected torch.int64"),
])
def test_pad_batch_checker_rejects_boundary_bugs(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_pad_batch(wrong, hidden_tests=True)


def pad_with_nn_utils(examples, pad_token_id=0):
    from torch.nn.utils.rnn import pad_sequence
    ids = [torch.tensor(e["input_ids"], dtype=torch.long) for e in examples]
    out = {"input_ids": pad_sequence(ids, batch_first=True, padding_value=pad_token_id),
           "attention_mask": pad_sequence([torch.ones_like(t) for t in ids], batch_first=True)}
    if "token_type_ids" in examples[0]:
        out["token_type_ids"] = pad_sequence([torch.tensor(e["token_type_ids"], dtype=torch.long) for e in examples],
                                             batch_first=True)
    return out


def pad_with_a_filled_tensor(examples, pad_token_id=0):
    n, w = len(examples), max(len(e["input_ids"]) for e in examples)
    ids = torch.full((n, w), pad_token_id, dtype=torch.long)
    mask = torch.zeros(n, w, dtype=torch.long)
    tt = torch.zeros(n, w, dtype=torch.long)
    for r, e in enumerate(examples):
        L = len(e["input_ids"])
        ids[r, :L] = torch.tensor(e["input_ids"])
        mask[r, :L] = 1
        if "token_type_ids" in e:
            tt[r, :L] = torch.tensor(e["token_type_ids"])
    return {"input_ids": ids, "attention_mask": mask, **({"token_type_ids": tt} if "token_type_ids" in examples[0]
                                                         else {})}


@pytest.mark.parametrize("right", [pad_with_nn_utils, pad_with_a_filled_tensor])
def test_pad_batch_checker_accepts_other_correct_ways(right):
    check_pad_batch(right, hidden_tests=True)


def _chunked(chunk_of):
    def fn(lengths, batch_size, bucket_factor=50, seed=0):
        rng = random.Random(seed)
        order = list(range(len(lengths)))
        rng.shuffle(order)
        chunk = chunk_of(len(lengths), batch_size, bucket_factor)
        batches = []
        for s in range(0, len(order), chunk):
            part = sorted(order[s:s + chunk], key=lambda i: lengths[i])
            batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
        rng.shuffle(batches)
        return batches
    return fn


@pytest.mark.parametrize("wrong, message", [
    (_chunked(lambda n, bs, bf: n), r"chunks of \d+ indices \(the whole data set\)"),
    (_chunked(lambda n, bs, bf: bf), r"suffice"),           # caught first by the batch count
    (_chunked(lambda n, bs, bf: 2 * bs * bf), "2 \\* batch_size"),
])
def test_bucket_batches_checker_names_a_wrong_bucket_size(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_bucket_batches(wrong, hidden_tests=True)


def bucket_with_numpy(lengths, batch_size, bucket_factor=50, seed=0):
    import numpy as np
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * bucket_factor
    batches = []
    for s in range(0, len(order), chunk):
        part = np.array(order[s:s + chunk])
        part = part[np.argsort(np.array(lengths)[part], kind="stable")]
        batches += [[int(i) for i in b] for b in np.array_split(part, range(batch_size, len(part), batch_size))]
    rng.shuffle(batches)
    return batches


@pytest.mark.parametrize("right", [_chunked(lambda n, bs, bf: bs * bf), bucket_with_numpy])
def test_bucket_batches_checker_accepts_other_correct_ways(right):
    check_bucket_batches(right, hidden_tests=True)
