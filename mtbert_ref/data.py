"""Data helpers shared by the notebooks: datasets of tokenised examples, dynamic padding, length bucketing, splits."""
from __future__ import annotations

import json
import math
import random
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler

__all__ = [
    "data_path",
    "read_jsonl",
    "EncodedDataset",
    "PaddingCollator",
    "LengthBucketSampler",
    "train_val_test_split",
]


def data_path(*parts: str) -> Path:
    """Path of a file shipped in ``mtbert_ref/data`` (raises FileNotFoundError naming what is there)."""
    root = Path(str(resources.files("mtbert_ref") / "data"))
    p = root.joinpath(*parts)
    if not p.exists():
        have = sorted(x.name for x in root.iterdir()) if root.exists() else []
        raise FileNotFoundError(f"{p} is not part of the course data; mtbert_ref/data holds: {have}")
    return p


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class EncodedDataset(Dataset):
    """A list of examples, each a dict of equal-keyed Python lists/ints (``input_ids``, ``labels`` ...)."""

    def __init__(self, examples: Sequence[dict]):
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict:
        return self.examples[i]

    def lengths(self) -> list[int]:
        return [len(ex["input_ids"]) if not isinstance(ex["input_ids"][0], list) else max(map(len, ex["input_ids"]))
                for ex in self.examples]


class PaddingCollator:
    """Pad a list of examples to the longest one *in the batch* (dynamic padding) and stack into tensors.

    Sequence keys (``input_ids``, ``token_type_ids``, ``attention_mask`` and any ``sequence_keys``) are padded on the
    right: input_ids with ``pad_token_id``, attention_mask/token_type_ids with 0, label sequences with -100.
    Non-sequence values (a class id, a list of multi-label floats) are stacked as they are. Nested lists of sequences
    (multiple choice: ``(choices, length)``) are padded on their last dimension. ``pad_to`` pads to a fixed length
    instead (the slow baseline that dynamic padding replaces); ``pad_to_multiple_of`` rounds the length up.
    """

    PAD_VALUES = {"input_ids": None, "attention_mask": 0, "token_type_ids": 0, "labels": -100,
                  "special_tokens_mask": 1, "mlm_labels": -100}

    def __init__(self, pad_token_id: int = 0, sequence_keys: Sequence[str] = (), pad_to: int | None = None,
                 pad_to_multiple_of: int | None = None, label_is_sequence: bool = False):
        self.pad_token_id = pad_token_id
        self.sequence_keys = set(sequence_keys) | {"input_ids", "attention_mask", "token_type_ids",
                                                   "special_tokens_mask"}
        if label_is_sequence:
            self.sequence_keys.add("labels")
        self.pad_to = pad_to
        self.pad_to_multiple_of = pad_to_multiple_of

    def _pad_value(self, key: str) -> int:
        v = self.PAD_VALUES.get(key, 0)
        return self.pad_token_id if v is None else v

    def __call__(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        if not examples:
            raise ValueError("PaddingCollator got an empty batch")
        keys = list(examples[0].keys())
        for ex in examples:
            if set(ex) != set(keys):
                raise ValueError(f"examples in one batch must have the same keys; got {sorted(ex)} and {sorted(keys)}")
        seq_keys = [k for k in keys if k in self.sequence_keys]

        def longest(x) -> int:
            return max(len(s) for s in x) if x and isinstance(x[0], list) else len(x)

        width = max(longest(ex[k]) for ex in examples for k in seq_keys) if seq_keys else 0
        if self.pad_to is not None:
            if width > self.pad_to:
                raise ValueError(f"an example has {width} tokens, more than pad_to={self.pad_to}; truncate when "
                                 "tokenising (max_length=...)")
            width = self.pad_to
        if self.pad_to_multiple_of:
            width = int(math.ceil(width / self.pad_to_multiple_of) * self.pad_to_multiple_of)
        batch: dict[str, torch.Tensor] = {}
        for k in keys:
            vals = [ex[k] for ex in examples]
            if k in seq_keys:
                pv = self._pad_value(k)

                def pad(s):
                    return list(s) + [pv] * (width - len(s))

                if isinstance(vals[0], (list, tuple)) and vals[0] and isinstance(vals[0][0], (list, tuple)):
                    batch[k] = torch.tensor([[pad(s) for s in v] for v in vals], dtype=torch.long)
                else:
                    batch[k] = torch.tensor([pad(v) for v in vals], dtype=torch.long)
            else:
                batch[k] = torch.as_tensor(vals) if not isinstance(vals[0], torch.Tensor) else torch.stack(vals)
        if "input_ids" in batch and "attention_mask" not in batch:
            batch["attention_mask"] = (batch["input_ids"] != self.pad_token_id).long()
        return batch


class LengthBucketSampler(Sampler[list[int]]):
    """Yield batches of indices whose examples have similar lengths, so that dynamic padding adds little.

    Indices are shuffled, cut into chunks of ``batch_size * bucket_factor``, each chunk sorted by length and split into
    batches; the batches are shuffled again. Every index appears exactly once per epoch (the last batch may be short
    unless ``drop_last``).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, bucket_factor: int = 50, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.bucket_factor = max(1, bucket_factor)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        self.epoch += 1
        idx = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(idx)
        chunk = self.batch_size * self.bucket_factor
        batches = []
        for start in range(0, len(idx), chunk):
            part = sorted(idx[start:start + chunk], key=lambda i: self.lengths[i])
            for b in range(0, len(part), self.batch_size):
                batches.append(part[b:b + self.batch_size])
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        n = len(self.lengths)
        if self.drop_last:
            return sum((min(n - s, self.batch_size * self.bucket_factor)) // self.batch_size
                       for s in range(0, n, self.batch_size * self.bucket_factor))
        return sum(math.ceil(min(n - s, self.batch_size * self.bucket_factor) / self.batch_size)
                   for s in range(0, n, self.batch_size * self.bucket_factor))


def train_val_test_split(items: Sequence[Any], val: float = 0.1, test: float = 0.1, seed: int = 0):
    """Shuffle with ``seed`` and split into (train, val, test) lists."""
    items = list(items)
    rng = random.Random(seed)
    rng.shuffle(items)
    n_test = int(round(len(items) * test))
    n_val = int(round(len(items) * val))
    return items[n_test + n_val:], items[n_test:n_test + n_val], items[:n_test]
