"""Checkers of notebook 09 (making it fast): the dynamic-padding collator and length bucketing."""
from __future__ import annotations

import math
import random

import torch

from ..lessons.speed import bucket_batches, pad_batch, padding_fraction
from .core import guard_checkers
from .i18n import say
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
                raise GradingError(say("speed.pad_changed_input"))
            want = pad_batch(examples, pad_token_id=pad_id)
            if not isinstance(got, dict):
                raise GradingError(say("speed.pad_not_dict", keys=sorted(want), type=type(got).__name__))
            if set(got) != set(want):
                raise GradingError(say("speed.pad_keys", got=sorted(got), want=sorted(want)))
            lengths = [len(ex["input_ids"]) for ex in examples]
            for key in want:
                desc = say("speed.pad_what", key=repr(key), lengths=lengths, pad_id=pad_id)
                if isinstance(got[key], torch.Tensor) and got[key].dim() == 2 and \
                        got[key].shape[0] == len(examples) and got[key].shape[1] > max(lengths):
                    raise GradingError(say("speed.pad_fixed_length", what=desc, columns=got[key].shape[1],
                                           longest=max(lengths)))
                if key == "attention_mask" and isinstance(got[key], torch.Tensor) and got[key].shape == \
                        want[key].shape and not torch.equal(got[key].cpu().long(), want[key]) and \
                        torch.equal(got[key].cpu().long(), (want["input_ids"] != pad_id).long()):
                    raise GradingError(say("speed.pad_mask_from_ids", what=desc))
                expect_tensor(got[key], want[key], desc, check_device=False)
    passed(say("speed.pad_passed", n=len(cases) * len(pad_ids)))


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
    for chunk, name in [(len(lengths), say("speed.whole_data_set")), (bf, "bucket_factor"), (bs * (bf + 1), "batch_size * "
                        "(bucket_factor + 1)"), (2 * bs * bf, "2 * batch_size * bucket_factor")]:
        if chunk != bs * bf and mine == profile(_bucketed(lengths, bs, chunk, seed)):
            return say("speed.wrong_chunk", chunk=chunk, name=name, size=bs * bf)
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
        what = say("speed.bucket_what", n=n, bs=bs, bf=bf)
        got = call_student(student_fn, list(lengths), name="bucket_batches", reference=bucket_batches, **kwargs)
        if not isinstance(got, list) or not all(isinstance(b, list) for b in got):
            raise GradingError(say("speed.bucket_not_lists", what=what, type=type(got).__name__))
        flat = [i for b in got for i in b]
        if any(not isinstance(i, int) for i in flat):
            raise GradingError(say("speed.bucket_not_int", what=what, type=type(flat[0]).__name__))
        if sorted(flat) != list(range(n)):
            missing = sorted(set(range(n)) - set(flat))[:5]
            dup = sorted({i for i in flat if flat.count(i) > 1})[:5]
            raise GradingError(say("speed.bucket_indices", what=what, last=n - 1, missing=missing, dup=dup,
                                   total=len(flat)))
        if max(len(b) for b in got) > bs:
            raise GradingError(say("speed.bucket_too_big", what=what, size=max(len(b) for b in got), bs=bs))
        max_batches = sum(math.ceil(min(n - s, bs * bf) / bs) for s in range(0, n, bs * bf))
        if len(got) > max_batches:
            raise GradingError(say("speed.bucket_too_many", what=what, n=len(got), needed=max_batches))
        ref = bucket_batches(lengths, **kwargs)
        got_pad, ref_pad = padding_fraction(lengths, got), padding_fraction(lengths, ref)
        if got_pad > 1.25 * ref_pad + 0.02:
            raise GradingError(say("speed.bucket_padding", what=what, got=100 * got_pad, ref=100 * ref_pad))
        wrong_chunk = _chunk_diagnosis(got, lengths, bs, bf, kwargs["seed"])
        if wrong_chunk:
            raise GradingError(say("speed.bucket_detail", what=what, detail=wrong_chunk))
        again = call_student(student_fn, list(lengths), name="bucket_batches", reference=bucket_batches, **kwargs)
        expect_equal(again, got, say("speed.bucket_twice", what=what), say("speed.bucket_global_random"))
        if n >= 100:
            other = call_student(student_fn, list(lengths), name="bucket_batches", reference=bucket_batches,
                                 batch_size=bs, bucket_factor=bf, seed=8)
            if other == got:
                raise GradingError(say("speed.bucket_same_for_seeds", what=what))
            order = [max(lengths[i] for i in b) for b in got]
            if order == sorted(order) and len(got) > 4:
                raise GradingError(say("speed.bucket_sorted", what=what))
    passed(say("speed.bucket_passed", n=len(setups)))


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
