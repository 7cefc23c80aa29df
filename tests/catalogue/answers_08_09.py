"""Correct answers of notebooks 08-09, written differently from the reference and from each other (see
answers_00_01 for the rules every entry follows)."""

ANSWERS = {
    "08_growing_a_classifier": {
        "grow_linear": [
            '''import torch
from torch import nn


def grow_linear(layer, id2label, new_labels, new_weight, new_bias=None):
    new_labels = list(new_labels)
    if len(new_labels) == 0:
        raise ValueError("no new labels given")
    if len(set(new_labels)) < len(new_labels):
        raise ValueError(f"duplicate new labels: {new_labels}")
    if set(new_labels) & set(id2label.values()):
        raise ValueError(f"already known labels: {sorted(set(new_labels) & set(id2label.values()))}")
    w = layer.weight
    bigger = nn.Linear(layer.in_features, layer.out_features + len(new_labels), bias=layer.bias is not None)
    bigger = bigger.to(device=w.device, dtype=w.dtype)
    bigger.weight = nn.Parameter(torch.cat([w.detach(), new_weight.detach().to(w)]).clone())
    if layer.bias is not None:
        extra = torch.zeros(len(new_labels)) if new_bias is None else new_bias
        bigger.bias = nn.Parameter(torch.cat([layer.bias.detach(), extra.detach().to(layer.bias)]).clone())
    names = [id2label[i] for i in range(layer.out_features)] + new_labels
    return bigger, dict(enumerate(names)), {name: i for i, name in enumerate(names)}
''',
            '''import torch
from torch import nn


def grow_linear(layer, id2label, new_labels, new_weight, new_bias=None):
    new_labels = list(new_labels)
    known = set(id2label.values())
    if not new_labels or len(new_labels) != len(set(new_labels)) or any(n in known for n in new_labels):
        raise ValueError("new_labels must be a non-empty list of distinct labels that are not already in id2label")
    c = layer.out_features
    bigger = torch.nn.Linear(layer.in_features, c + len(new_labels), bias=layer.bias is not None,
                             device=layer.weight.device, dtype=layer.weight.dtype)
    with torch.no_grad():
        bigger.weight[:c] = layer.weight
        bigger.weight[c:] = new_weight
        if layer.bias is not None:
            bigger.bias[:c] = layer.bias
            bigger.bias[c:] = 0.0 if new_bias is None else new_bias
    id2 = {**id2label, **{c + j: name for j, name in enumerate(new_labels)}}
    return bigger, id2, {v: k for k, v in id2.items()}
''',
            '''import torch
from torch import nn


def grow_linear(layer, id2label, new_labels, new_weight, new_bias=None):
    new_labels = list(new_labels)
    if not new_labels:
        raise ValueError("new_labels is empty")
    for j, name in enumerate(new_labels):
        if name in new_labels[:j]:
            raise ValueError(f"{name!r} is listed twice")
        if name in id2label.values():
            raise ValueError(f"{name!r} is already a label")
    k = len(new_labels)
    has_bias = layer.bias is not None
    state = {"weight": torch.cat((layer.weight.detach(), new_weight.to(layer.weight.dtype).to(layer.weight.device)))}
    if has_bias:
        nb = torch.zeros(k) if new_bias is None else new_bias
        state["bias"] = torch.cat((layer.bias.detach(), nb.to(layer.bias.dtype).to(layer.bias.device)))
    bigger = nn.Linear(layer.in_features, layer.out_features + k, bias=has_bias)
    bigger.load_state_dict(state)
    bigger.to(device=layer.weight.device, dtype=layer.weight.dtype)
    id2 = dict(id2label)
    id2.update({layer.out_features + j: name for j, name in enumerate(new_labels)})
    return bigger, id2, dict((name, i) for i, name in id2.items())
''',
        ],
        "imprint_rows": [
            '''import torch
import torch.nn.functional as F


def imprint_rows(old_weight, old_bias, features, labels, k):
    x = F.normalize(features.to(old_weight.device, old_weight.dtype), dim=1)
    scale = old_weight.norm(dim=1).mean()
    rows = []
    for j in range(k):
        mean_dir = x[labels.to(x.device) == j].mean(dim=0)
        rows.append(F.normalize(mean_dir, dim=0) * scale)
    bias = None if old_bias is None else torch.full((k,), float(old_bias.mean()), dtype=old_bias.dtype,
                                                    device=old_bias.device)
    return torch.stack(rows).detach(), bias
''',
            '''import torch
import torch.nn.functional as F


def imprint_rows(old_weight, old_bias, features, labels, k):
    x = features.to(device=old_weight.device, dtype=old_weight.dtype)
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    onehot = F.one_hot(labels.to(x.device).long(), k).T.to(x.dtype)     # (k, n)
    sums = onehot @ x                # the sum points where the mean points: normalising removes the count
    rows = sums / sums.norm(dim=1, keepdim=True).clamp_min(1e-12)
    rows = rows * old_weight.norm(p=2, dim=1).mean()
    bias = None if old_bias is None else old_bias.mean().repeat(k)
    return rows.detach(), None if bias is None else bias.detach()
''',
            '''import torch


def imprint_rows(old_weight, old_bias, features, labels, k):
    x = features.to(old_weight)
    x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp_min(1e-12)
    sums = torch.zeros(k, x.shape[1], dtype=x.dtype, device=x.device)
    sums.index_add_(0, labels.to(x.device).long(), x)
    counts = torch.bincount(labels.to(x.device).long(), minlength=k).to(x.dtype).clamp_min(1)
    means = sums / counts[:, None]
    target_norm = torch.linalg.vector_norm(old_weight, dim=1).mean()
    rows = means * (target_norm / torch.linalg.vector_norm(means, dim=1, keepdim=True).clamp_min(1e-12))
    bias = None
    if old_bias is not None:
        bias = torch.ones(k, dtype=old_bias.dtype, device=old_bias.device) * old_bias.mean()
    return rows.detach(), None if bias is None else bias.detach()
''',
        ],
        "replay_mix": [
            '''import random


def replay_mix(new_examples, old_examples, ratio, seed):
    rng = random.Random(seed)
    n_old = min(len(old_examples), int(round(ratio * len(new_examples))))
    pool = list(old_examples)
    rng.shuffle(pool)
    mixed = list(new_examples) + pool[:n_old]
    rng.shuffle(mixed)
    return mixed
''',
            '''import numpy as np


def replay_mix(new_examples, old_examples, ratio, seed):
    rng = np.random.default_rng(seed)
    n_old = min(len(old_examples), int(round(ratio * len(new_examples))))
    picked = rng.choice(len(old_examples), size=n_old, replace=False) if n_old else []
    mixed = list(new_examples) + [old_examples[int(i)] for i in picked]
    return [mixed[int(i)] for i in rng.permutation(len(mixed))]
''',
            '''import random


def replay_mix(new_examples, old_examples, ratio, seed):
    rng = random.Random(seed)
    want = round(ratio * len(new_examples))
    replay = rng.sample(range(len(old_examples)), min(want, len(old_examples)))
    combined = [*new_examples, *(old_examples[i] for i in replay)]
    return rng.sample(combined, len(combined))            # a shuffled copy
''',
        ],
    },
    "09_making_it_fast": {
        "pad_batch": [
            '''import torch
from torch.nn.utils.rnn import pad_sequence


def pad_batch(examples, pad_token_id=0):
    ids = [torch.as_tensor(list(ex["input_ids"]), dtype=torch.long) for ex in examples]
    lengths = torch.tensor([len(x) for x in ids])
    width = int(lengths.max())
    out = {"input_ids": pad_sequence(ids, batch_first=True, padding_value=pad_token_id),
           "attention_mask": (torch.arange(width)[None, :] < lengths[:, None]).long()}
    if "token_type_ids" in examples[0]:
        types = [torch.as_tensor(list(ex["token_type_ids"]), dtype=torch.long) for ex in examples]
        out["token_type_ids"] = pad_sequence(types, batch_first=True, padding_value=0)
    return out
''',
            '''import torch


def pad_batch(examples, pad_token_id=0):
    width = max(len(ex["input_ids"]) for ex in examples)
    n = len(examples)
    ids = torch.full((n, width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    with_types = "token_type_ids" in examples[0]
    types = torch.zeros((n, width), dtype=torch.long)
    for row, ex in enumerate(examples):
        length = len(ex["input_ids"])
        ids[row, :length] = torch.as_tensor(list(ex["input_ids"]))
        mask[row, :length] = 1
        if with_types:
            types[row, :length] = torch.as_tensor(list(ex["token_type_ids"]))
    batch = {"input_ids": ids, "attention_mask": mask}
    if with_types:
        batch["token_type_ids"] = types
    return batch
''',
            '''import torch
import torch.nn.functional as F


def pad_batch(examples, pad_token_id=0):
    width = max(len(ex["input_ids"]) for ex in examples)

    def padded(seq, value):
        t = torch.tensor(list(seq), dtype=torch.long)
        return F.pad(t, (0, width - t.numel()), value=value)

    keys = ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in examples[0] else [])
    rows = {k: [] for k in keys}
    for ex in examples:
        rows["input_ids"].append(padded(ex["input_ids"], pad_token_id))
        rows["attention_mask"].append(padded([1] * len(ex["input_ids"]), 0))
        if "token_type_ids" in rows:
            rows["token_type_ids"].append(padded(ex["token_type_ids"], 0))
    return {k: torch.stack(v) for k, v in rows.items()}
''',
        ],
        "bucket_batches": [
            '''import random


def bucket_batches(lengths, batch_size, bucket_factor=50, seed=0):
    rng = random.Random(seed)
    order = rng.sample(range(len(lengths)), len(lengths))
    size = batch_size * bucket_factor
    chunks = [sorted(order[s:s + size], key=lengths.__getitem__) for s in range(0, len(order), size)]
    batches = [chunk[b:b + batch_size] for chunk in chunks for b in range(0, len(chunk), batch_size)]
    return rng.sample(batches, len(batches))
''',
            '''import numpy as np


def bucket_batches(lengths, batch_size, bucket_factor=50, seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    chunk = batch_size * bucket_factor
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [[int(i) for i in part[b:b + batch_size]] for b in range(0, len(part), batch_size)]
    return [batches[int(j)] for j in rng.permutation(len(batches))]
''',
            '''import torch


def bucket_batches(lengths, batch_size, bucket_factor=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    lens = torch.as_tensor(list(lengths))
    order = torch.randperm(len(lens), generator=g)
    batches = []
    for part in torch.split(order, batch_size * bucket_factor):
        part = part[torch.sort(lens[part], stable=True).indices]
        batches.extend(b.tolist() for b in torch.split(part, batch_size))
    shuffled = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i] for i in shuffled]
''',
        ],
    },
}
