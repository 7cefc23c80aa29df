"""Checkers of notebook 09 (making it fast): the dynamic-padding collator and length bucketing."""
from __future__ import annotations

import math
import random

import torch

from ..lessons.speed import bucket_batches, pad_batch, padding_fraction
from .core import guard_checkers
from .core import GradingError, call_student, expect_equal, expect_tensor, hidden_seed, passed

__all__ = ["check_pad_batch", "check_bucket_batches"]


# --------------------------------------------------------------------------------------------- checkers
def _pad_cases(seed: int, hidden_tests: bool):
    g = random.Random(seed)
    cases = [[{"input_ids": [101] + [g.randrange(1000, 2000) for _ in range(n)] + [102]} for n in (5, 1, 9, 3)]]
    if hidden_tests:
        g = random.Random(hidden_seed("check_pad_batch", 0))
        cases.append([{"input_ids": [101, 7, 102]}])  # one example: no padding at all
        # real tokens whose id equals the padding id (0 and 3), also as the last token of a shorter row: the mask
        # follows the lengths, not the ids
        cases.append([{"input_ids": [101, 0, 3, 3]}, {"input_ids": [101, 0, g.randrange(5, 90), 7, 102, 3, 0]},
                      {"input_ids": [3, 0]}])
        cases.append([{"input_ids": [101] + [g.randrange(5, 90) for _ in range(n)] + [102],
                       "token_type_ids": [0] * (n // 2 + 1) + [1] * (n - n // 2 + 1)} for n in (4, 12, 7)])
        cases.append([{"input_ids": [101] + [g.randrange(5, 90) for _ in range(n)] + [102]} for n in (6, 6, 6)])
    return cases


def check_pad_batch(student_fn, device="cpu", seed: int = 0, hidden_tests: bool = False) -> None:
    """Compare the student's ``pad_batch(examples, pad_token_id)`` with the reference."""
    cases = _pad_cases(seed, hidden_tests)
    pad_ids = [0] + ([3] if hidden_tests else [])
    for pad_id in pad_ids:
        for examples in cases:
            original = [{k: list(v) for k, v in ex.items()} for ex in examples]
            got = call_student(student_fn, examples, pad_token_id=pad_id, name="pad_batch", reference=pad_batch)
            if examples != original:
                raise GradingError("pad_batch changed the examples it was given (e.g. appended padding to the input "
                                   "lists in place); build new lists instead.")
            want = pad_batch(examples, pad_token_id=pad_id)
            if not isinstance(got, dict):
                raise GradingError(f"pad_batch should return a dict of tensors with keys {sorted(want)}, "
                                   f"got a {type(got).__name__}.")
            if set(got) != set(want):
                raise GradingError(f"pad_batch returned the keys {sorted(got)}, expected {sorted(want)} "
                                   "(token_type_ids only when the examples have them).")
            lengths = [len(ex["input_ids"]) for ex in examples]
            for key in want:
                desc = f"pad_batch(...)[{key!r}] for examples of lengths {lengths} with pad_token_id={pad_id}"
                if isinstance(got[key], torch.Tensor) and got[key].dim() == 2 and \
                        got[key].shape[0] == len(examples) and got[key].shape[1] > max(lengths):
                    raise GradingError(f"{desc} has {got[key].shape[1]} columns but the longest example has "
                                       f"{max(lengths)} tokens: dynamic padding pads to the longest in the batch, "
                                       "not to a fixed length.")
                if key == "attention_mask" and isinstance(got[key], torch.Tensor) and got[key].shape == \
                        want[key].shape and not torch.equal(got[key].cpu().long(), want[key]) and \
                        torch.equal(got[key].cpu().long(), (want["input_ids"] != pad_id).long()):
                    raise GradingError(f"{desc} is 0 on real tokens whose id equals pad_token_id: the mask was "
                                       "derived from the ids (`input_ids != pad_token_id`). Build it from each "
                                       "example's length: 1 for its len(input_ids) tokens, 0 for the padding added.")
                expect_tensor(got[key], want[key], desc, check_device=False)
    passed(f"pad_batch matches the reference on {len(cases) * len(pad_ids)} batches")


def _bucketed(lengths, batch_size: int, chunk: int, seed: int) -> list[list[int]]:
    """The notebook's four steps with a given chunk size (to recognise a wrong bucket size)."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s:s + chunk], key=lambda i: lengths[i])
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _chunk_diagnosis(got, lengths, bs: int, bf: int, seed: int) -> str:
    def profile(batches):
        return [sorted(lengths[i] for i in b) for b in batches]
    mine = profile(got)
    if mine == profile(_bucketed(lengths, bs, bs * bf, seed)):
        return ""
    for chunk, name in [(len(lengths), "the whole data set"), (bf, "bucket_factor"), (bs * (bf + 1), "batch_size * "
                        "(bucket_factor + 1)"), (2 * bs * bf, "2 * batch_size * bucket_factor")]:
        if chunk != bs * bf and mine == profile(_bucketed(lengths, bs, chunk, seed)):
            return (f"your batches are those of chunks of {chunk} indices ({name}); step 2 cuts the shuffled indices "
                    f"into chunks of batch_size * bucket_factor = {bs * bf}, so that batches are sorted only within "
                    "a chunk and stay random across the data set.")
    return ""


def check_bucket_batches(student_fn, seed: int = 0, hidden_tests: bool = False) -> None:
    """Check the properties of the student's ``bucket_batches(lengths, batch_size, bucket_factor, seed)``.

    Implementations may differ in detail, so the check is on properties: every index exactly once, no batch larger
    than batch_size, no more batches than needed per chunk, padding no worse than 1.25× the reference's plus 2
    points, the same seed gives the same batches, another seed other batches.
    """
    setups = [(dict(n=400, batch_size=16, bucket_factor=5), 64)]
    if hidden_tests:
        setups += [(dict(n=37, batch_size=8, bucket_factor=2), 30), (dict(n=1000, batch_size=32, bucket_factor=10), 120),
                   (dict(n=5, batch_size=8, bucket_factor=3), 20)]
    for case, (setup, max_len) in enumerate(setups):
        rng = random.Random(seed if case == 0 else hidden_seed("check_bucket_batches", case))
        n, bs, bf = setup["n"], setup["batch_size"], setup["bucket_factor"]
        lengths = [max(3, min(max_len, int(rng.lognormvariate(math.log(max_len / 4), 0.6)))) for _ in range(n)]
        kwargs = dict(batch_size=bs, bucket_factor=bf, seed=7)
        what = f"bucket_batches on {n} examples (batch_size={bs}, bucket_factor={bf})"
        got = call_student(student_fn, list(lengths), name="bucket_batches", reference=bucket_batches, **kwargs)
        if not isinstance(got, list) or not all(isinstance(b, list) for b in got):
            raise GradingError(f"{what} should return a list of lists of indices, got {type(got).__name__}.")
        flat = [i for b in got for i in b]
        if any(not isinstance(i, int) for i in flat):
            raise GradingError(f"{what}: batches must hold Python int indices (got {type(flat[0]).__name__}).")
        if sorted(flat) != list(range(n)):
            missing = sorted(set(range(n)) - set(flat))[:5]
            dup = sorted({i for i in flat if flat.count(i) > 1})[:5]
            raise GradingError(f"{what}: every index 0..{n - 1} must appear exactly once; missing {missing}, "
                               f"repeated {dup}, {len(flat)} indices in all.")
        if max(len(b) for b in got) > bs:
            raise GradingError(f"{what}: a batch has {max(len(b) for b in got)} examples, more than batch_size={bs}.")
        max_batches = sum(math.ceil(min(n - s, bs * bf) / bs) for s in range(0, n, bs * bf))
        if len(got) > max_batches:
            raise GradingError(f"{what}: {len(got)} batches, but {max_batches} suffice; fill every batch of a "
                               "chunk before starting the next.")
        ref = bucket_batches(lengths, **kwargs)
        got_pad, ref_pad = padding_fraction(lengths, got), padding_fraction(lengths, ref)
        if got_pad > 1.25 * ref_pad + 0.02:
            raise GradingError(f"{what}: {100 * got_pad:.1f}% of the padded slots are padding, the reference gets "
                               f"{100 * ref_pad:.1f}%: sort each chunk by length before cutting it into batches.")
        wrong_chunk = _chunk_diagnosis(got, lengths, bs, bf, kwargs["seed"])
        if wrong_chunk:
            raise GradingError(f"{what}: {wrong_chunk}")
        again = call_student(student_fn, list(lengths), name="bucket_batches", reference=bucket_batches, **kwargs)
        expect_equal(again, got, f"{what} called twice with seed=7", "Use random.Random(seed), not the global "
                     "random module, so that the same seed gives the same batches.")
        if n >= 100:
            other = call_student(student_fn, list(lengths), name="bucket_batches", reference=bucket_batches,
                                 batch_size=bs, bucket_factor=bf, seed=8)
            if other == got:
                raise GradingError(f"{what}: seeds 7 and 8 gave identical batches; shuffle the indices (and the batch "
                                   "order) with the seeded generator, so that each epoch sees other batches.")
            order = [max(lengths[i] for i in b) for b in got]
            if order == sorted(order) and len(got) > 4:
                raise GradingError(f"{what}: the batches come out sorted from shortest to longest; shuffle the batch "
                                   "order, otherwise training sees all short examples first.")
    passed(f"bucket_batches has the right properties on {len(setups)} data sets")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
