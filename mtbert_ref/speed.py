"""Notebook 09 — making it fast: references, measurement helpers and checkers.

References:
* :func:`pad_batch` — dynamic padding: pad a list of tokenised examples to the longest one in the batch.
* :func:`bucket_batches` — length bucketing: batches of similar lengths, every example exactly once, seeded.
* :func:`padding_fraction` — how much of a set of batches is padding.
* :func:`time_it` — wall-clock timing that synchronises the GPU, with warm-up and the median of repeats.
* :func:`cache_features` — run a frozen encoder once and keep its pooled features for head-only training.
"""
from __future__ import annotations

import math
import random
import statistics
import time
from typing import Callable, Sequence

import torch

from .checking import GradingError, call_student, expect_equal, expect_tensor, passed

__all__ = [
    "pad_batch",
    "bucket_batches",
    "padding_fraction",
    "time_it",
    "cache_features",
    "check_pad_batch",
    "check_bucket_batches",
]


# --------------------------------------------------------------------------------------------- references
def pad_batch(examples: Sequence[dict], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad ``examples`` (dicts with ``input_ids`` and optionally ``token_type_ids``: lists of ints) to the longest.

    Returns ``input_ids`` (padded with ``pad_token_id``), ``attention_mask`` (1 for real tokens, 0 for padding) and,
    if the examples have them, ``token_type_ids`` (padded with 0) — all ``torch.long`` of shape (batch, longest).
    """
    if len(examples) == 0:
        raise ValueError("pad_batch needs at least one example")
    width = max(len(ex["input_ids"]) for ex in examples)
    out: dict[str, list] = {"input_ids": [], "attention_mask": []}
    with_types = "token_type_ids" in examples[0]
    if with_types:
        out["token_type_ids"] = []
    for ex in examples:
        n = len(ex["input_ids"])
        out["input_ids"].append(list(ex["input_ids"]) + [pad_token_id] * (width - n))
        out["attention_mask"].append([1] * n + [0] * (width - n))
        if with_types:
            out["token_type_ids"].append(list(ex["token_type_ids"]) + [0] * (width - n))
    return {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}


def bucket_batches(lengths: Sequence[int], batch_size: int, bucket_factor: int = 50, seed: int = 0) -> list[list[int]]:
    """Group example indices into batches of similar length.

    Shuffle the indices (``random.Random(seed)``), cut them into chunks of ``batch_size * bucket_factor``, sort each
    chunk by length, cut it into batches of ``batch_size`` (the last of a chunk may be shorter), then shuffle the
    order of the batches with the same generator. Every index appears exactly once.
    """
    rng = random.Random(seed)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * bucket_factor
    batches: list[list[int]] = []
    for start in range(0, len(idx), chunk):
        part = sorted(idx[start:start + chunk], key=lambda i: lengths[i])
        batches.extend(part[b:b + batch_size] for b in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]], pad_to: int | None = None) -> float:
    """Fraction of the token slots in ``batches`` that are padding (each batch padded to its longest, or ``pad_to``)."""
    slots = real = 0
    for b in batches:
        width = pad_to if pad_to is not None else max(lengths[i] for i in b)
        slots += width * len(b)
        real += sum(lengths[i] for i in b)
    return 1.0 - real / slots if slots else 0.0


def time_it(fn: Callable[[], object], repeat: int = 5, warmup: int = 1, device: str | torch.device = "cpu") -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs (synchronising CUDA)."""
    device = torch.device(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def cache_features(encoder, batches, device="cpu", pool: str = "mean") -> torch.Tensor:
    """Run a frozen ``encoder`` once over ``batches`` (dicts of tensors) and return pooled features on the CPU.

    ``pool`` is "mean" (masked mean of the last hidden states) or "cls" (the pooler output).
    """
    encoder.eval().to(device)
    feats = []
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        out = encoder(**batch)
        if pool == "cls":
            feats.append(out.pooler_output.float().cpu())
        else:
            m = batch["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            feats.append(((out.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1)).float().cpu())
    return torch.cat(feats)


# --------------------------------------------------------------------------------------------- checkers
def _pad_cases(seed: int, hidden_tests: bool):
    g = random.Random(seed)
    cases = [[{"input_ids": [101] + [g.randrange(1000, 2000) for _ in range(n)] + [102]} for n in (5, 1, 9, 3)]]
    if hidden_tests:
        cases.append([{"input_ids": [101, 7, 102]}])  # one example: no padding at all
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
                expect_tensor(got[key], want[key], desc, check_device=False)
    passed(f"pad_batch matches the reference on {len(cases) * len(pad_ids)} batches")


def check_bucket_batches(student_fn, seed: int = 0, hidden_tests: bool = False) -> None:
    """Check the properties of the student's ``bucket_batches(lengths, batch_size, bucket_factor, seed)``.

    Implementations may differ in detail, so the check is on properties: every index exactly once, no batch larger
    than batch_size, no more batches than needed per chunk, padding no worse than 1.25× the reference's plus 2
    points, the same seed gives the same batches, another seed other batches.
    """
    rng = random.Random(seed)
    setups = [(dict(n=400, batch_size=16, bucket_factor=5), 64)]
    if hidden_tests:
        setups += [(dict(n=37, batch_size=8, bucket_factor=2), 30), (dict(n=1000, batch_size=32, bucket_factor=10), 120),
                   (dict(n=5, batch_size=8, bucket_factor=3), 20)]
    for setup, max_len in setups:
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
